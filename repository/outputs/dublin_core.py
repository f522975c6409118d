"""Card → unqualified Dublin Core (``oai_dc``), the format every OAI-PMH harvester reads.

The mapping is in docs/exports.md. Strings are the cataloguer's own; composite elements say
what they are in Chinese (``版本：…``), as union catalogues display them unchanged.
"""

from __future__ import annotations

from lxml import etree

from guji import metadata_schemas
from guji.repository import public_url
from guji.repository.card import edition_type_of

from . import card_text
from .safe_xml import DC_NS, OAI_DC_NS, SCHEMA_LOCATIONS, xml_text
from .selection import CurrentCard

XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
NAMESPACES = {"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS}


def permalink(card_id: str) -> str:
    """The record page, citable for as long as the site lives (DESIGN: /books/{id})."""
    return f"{public_url()}/books/{card_id}"


def language_code(card: dict) -> str:
    """ISO 639-3: ``lzh`` (Literary Chinese) for 古籍 and pre-1912 local documents, else ``zho``."""
    if card.get("record_type", "guji") == "guji":
        return "lzh"
    end = (((card.get("edition") or {}).get("publication") or {}).get("date") or {}).get("end")
    return "lzh" if end is not None and end < 1912 else "zho"


def date_values(card: dict) -> list[str]:
    """出版时间 as typed, then as ISO 8601 years: ``1573`` or the interval ``1736/1795``."""
    date = ((card.get("edition") or {}).get("publication") or {}).get("date") or {}
    values = [date["raw"]] if date.get("raw") else []
    start, end = date.get("start"), date.get("end")
    if start is not None:
        values.append(f"{start:04d}" if end in (None, start) else f"{start:04d}/{end:04d}")
    return values


def people(card: dict) -> list[str]:
    """Each person of the 责任说明 as （朝代）姓名著作方式."""
    edition = card.get("edition") or {}
    found = []
    for person in edition.get("responsibilities") or []:
        dynasty = f"（{person['dynasty']}）" if person.get("dynasty") else ""
        found.append(f"{dynasty}{person.get('name', '')}{person.get('role') or ''}")
    if not found and edition.get("responsibility_raw"):
        found.append(edition["responsibility_raw"])
    return found


def classification_path(card: dict) -> str:
    """四部分类 as 经部/诗类 (from the class tree, so codes and names agree)."""
    code = ((card.get("edition") or {}).get("classification") or {}).get("code")
    node = metadata_schemas.classification_by_code(code) if code else None
    return "/".join(node["path"]) if node else ""


def physical_description(card: dict) -> str:
    """装帧, 册数/函数 and 开本: 线装 8册 1函 开本27.3×17.1厘米."""
    copy_part = card.get("copy") or {}
    parts = [copy_part.get("binding") or "", card_text.volumes_text(card)]
    page_size = copy_part.get("page_size") or {}
    if page_size.get("raw"):
        parts.append(page_size["raw"])
    return " ".join(part for part in parts if part)


def _add(parent: etree._Element, name: str, value: str | None) -> None:
    if value:
        etree.SubElement(parent, f"{{{DC_NS}}}{name}").text = xml_text(value)


def dc_element(record: CurrentCard) -> etree._Element:
    """``<oai_dc:dc>`` for one card."""
    card = record.card
    edition = card.get("edition") or {}
    copy_part = card.get("copy") or {}
    local = card.get("local_document") or {}
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap=NAMESPACES)
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {SCHEMA_LOCATIONS[OAI_DC_NS]}")
    _add(root, "title", card_text.title_with_juan(card))
    for other in edition.get("other_titles") or []:
        _add(root, "title", other.get("title"))
    for person in people(card):
        _add(root, "creator", person)
    _add(root, "subject", classification_path(card))
    _add(root, "subject", local.get("type"))
    _add(root, "description", f"版本：{edition['edition_statement']}" if edition.get("edition_statement") else None)
    _add(root, "description", f"行款版式：{edition['layout']['raw']}" if (edition.get("layout") or {}).get("raw")
         else None)
    _add(root, "description", f"存卷：{card_text.extant_juan_text(card)}" if card_text.extant_juan_text(card) else None)
    _add(root, "description", edition.get("notes"))
    _add(root, "publisher", (edition.get("publication") or {}).get("publisher"))
    for value in date_values(card):
        _add(root, "date", value)
    _add(root, "type", "Text")
    _add(root, "type", edition_type_of(card)[0])
    _add(root, "format", physical_description(card))
    _add(root, "identifier", permalink(record.id))
    _add(root, "identifier", f"索书号：{copy_part['call_number']}" if copy_part.get("call_number") else None)
    _add(root, "identifier", f"普查编号：{copy_part['census_number']}" if copy_part.get("census_number") else None)
    _add(root, "source", copy_part.get("holding_institution"))
    _add(root, "language", language_code(card))
    _add(root, "relation", f"丛编：{edition['series']}" if edition.get("series") else None)
    _add(root, "coverage", local.get("place"))
    _add(root, "rights", card.get("rights"))
    return root
