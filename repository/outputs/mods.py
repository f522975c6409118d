"""Card → MODS 3.6 (valid against the Library of Congress schema, ``metadata_schemas/xsd/``).

The mapping is in docs/exports.md. MODS can say more than Dublin Core: names with dynasty and
role, the 版本 as ``originInfo/edition``, 行款版式 / 版框 / 破损 as physical-description notes,
钤印 as ownership notes, 索书号 as ``location/shelfLocator``.
"""

from __future__ import annotations

from lxml import etree

from guji import metadata_schemas
from guji.repository.card import edition_type_of, grade_label

from . import card_text
from .dublin_core import XSI_NS, classification_path, language_code, permalink
from .safe_xml import MODS_NS, SCHEMA_LOCATIONS, xml_text
from .selection import CurrentCard

XLINK_NS = "http://www.w3.org/1999/xlink"
NAMESPACES = {None: MODS_NS, "xlink": XLINK_NS, "xsi": XSI_NS}
MANUSCRIPT_TYPES = {"写本", "稿本", "抄本", "影抄本", "彩绘本"}  # 版本类型 written by hand


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{MODS_NS}}}{name}", {k: xml_text(v) for k, v in attributes.items() if v})
    if text:
        element.text = xml_text(text)
    return element


def _note(parent: etree._Element, text: str | None, note_type: str, label: str) -> None:
    if text:
        _sub(parent, "note", text, type=note_type, displayLabel=label)


def _names(root: etree._Element, card: dict) -> None:
    edition = card.get("edition") or {}
    people = edition.get("responsibilities") or []
    for index, person in enumerate(people):
        name = _sub(root, "name", type="personal", usage="primary" if index == 0 else None)
        _sub(name, "namePart", person.get("name"))
        if person.get("dynasty"):
            _sub(name, "namePart", person["dynasty"], type="date")  # 朝代: the period the person belongs to
        dynasty = f"（{person['dynasty']}）" if person.get("dynasty") else ""
        _sub(name, "displayForm", f"{dynasty}{person.get('name', '')}{person.get('role') or ''}")
        if person.get("role"):
            role = _sub(name, "role")
            _sub(role, "roleTerm", person["role"], type="text")  # 著作方式: 撰, 編, 傳, 箋, 疏 …
    if not people and edition.get("responsibility_raw"):
        name = _sub(root, "name")
        _sub(name, "displayForm", edition["responsibility_raw"])


def _origin(root: etree._Element, card: dict) -> None:
    edition = card.get("edition") or {}
    publication = edition.get("publication") or {}
    date = publication.get("date") or {}
    origin = _sub(root, "originInfo", eventType="publication")
    if publication.get("place"):
        place = _sub(origin, "place")
        _sub(place, "placeTerm", publication["place"], type="text")
    _sub(origin, "publisher", publication.get("publisher"))
    if date.get("raw"):
        _sub(origin, "dateIssued", date["raw"])
    start, end = date.get("start"), date.get("end")
    if start is not None and end not in (None, start):
        _sub(origin, "dateIssued", f"{start:04d}", encoding="w3cdtf", point="start", keyDate="yes")
        _sub(origin, "dateIssued", f"{end:04d}", encoding="w3cdtf", point="end")
    elif start is not None:
        _sub(origin, "dateIssued", f"{start:04d}", encoding="w3cdtf", keyDate="yes")
    _sub(origin, "edition", edition.get("edition_statement"))
    _sub(origin, "issuance", "monographic")


def _physical(root: etree._Element, card: dict) -> None:
    edition = card.get("edition") or {}
    copy_part = card.get("copy") or {}
    physical = _sub(root, "physicalDescription")
    _sub(physical, "form", copy_part.get("binding"), authority="local", type="binding")
    for extent in ((edition.get("juan") or {}).get("raw"), card_text.volumes_text(card),
                   (copy_part.get("page_size") or {}).get("raw")):
        _sub(physical, "extent", extent)
    _note(physical, (edition.get("layout") or {}).get("raw"), "layout", "行款版式")
    _note(physical, (edition.get("frame_size") or {}).get("raw"), "dimensions", "版框")
    for damage in copy_part.get("damage") or []:
        _note(physical, card_text.damage_text(damage), "condition", "破损")
    if not len(physical):
        root.remove(physical)


def _copy_notes(root: etree._Element, card: dict) -> None:
    copy_part = card.get("copy") or {}
    _note(root, card_text.extant_juan_text(card), "extent", "存卷")
    for annotation in copy_part.get("annotations") or []:
        _note(root, card_text.annotation_text(annotation), "annotation", "批校题跋")
    if copy_part.get("seals_raw"):
        _note(root, copy_part["seals_raw"], "ownership", "钤印")
    else:
        for seal in copy_part.get("seals") or []:
            _note(root, card_text.seal_text(seal), "ownership", "钤印")
    _note(root, copy_part.get("provenance"), "acquisition", "入藏来源")
    _note(root, copy_part.get("cataloguing_basis"), "source note", "著录依据")
    grade = copy_part.get("grade") or {}
    label = grade_label(card)
    if label:
        _note(root, f"{label}（{grade['basis']}）" if grade.get("basis") else label, "grade", "定级")
    for listing in copy_part.get("lists") or []:
        scope = "国家珍贵古籍名录" if listing.get("scope") == "国家" else "省级珍贵古籍名录"
        batch = f"第{listing['batch']}批" if listing.get("batch") else ""
        _note(root, f"{scope}{batch} {listing.get('number', '')}".strip(), "listing", "名录")


def _subjects(root: etree._Element, card: dict) -> None:
    classification = (card.get("edition") or {}).get("classification") or {}
    if classification.get("code") and metadata_schemas.classification_by_code(classification["code"]):
        _sub(root, "classification", classification_path(card), authority="local", displayLabel="四部分类")
        _sub(root, "classification", classification["code"], authority="local", displayLabel="四部分类号")
    local = card.get("local_document") or {}
    if local.get("place"):
        subject = _sub(root, "subject")
        _sub(subject, "geographic", local["place"])
    if local.get("type"):
        _sub(root, "genre", local["type"], authority="local")
    if local.get("author"):
        subject = _sub(root, "subject", displayLabel="地方人士")
        name = _sub(subject, "name", type="personal")
        _sub(name, "namePart", local["author"])


def _related(root: etree._Element, card: dict) -> None:
    edition = card.get("edition") or {}
    if edition.get("series"):
        series = _sub(root, "relatedItem", type="series")
        _sub(_sub(series, "titleInfo"), "title", edition["series"])
    for part in edition.get("contents") or []:
        constituent = _sub(root, "relatedItem", type="constituent")
        title = _sub(constituent, "titleInfo")
        _sub(title, "title", part.get("title"))
        _sub(title, "partNumber", part.get("juan"))
        if part.get("responsibility"):
            _sub(_sub(constituent, "name"), "displayForm", part["responsibility"])


def mods_element(record: CurrentCard, *, root_attributes: bool = True) -> etree._Element:
    """``<mods version="3.6">`` for one card (``root_attributes=False`` inside a ``modsCollection``)."""
    card = record.card
    edition = card.get("edition") or {}
    copy_part = card.get("copy") or {}
    root = etree.Element(f"{{{MODS_NS}}}mods", nsmap=NAMESPACES, version="3.6")
    if root_attributes:
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{MODS_NS} {SCHEMA_LOCATIONS[MODS_NS]}")
    title_info = _sub(root, "titleInfo", lang="lzh" if language_code(card) == "lzh" else None)
    _sub(title_info, "title", edition.get("title"))
    for other in edition.get("other_titles") or []:
        alternative = _sub(root, "titleInfo", type="alternative", displayLabel=other.get("type"))
        _sub(alternative, "title", other.get("title"))
    _names(root, card)
    edition_type, derived = edition_type_of(card)
    _sub(root, "typeOfResource", "text", manuscript="yes" if edition_type in MANUSCRIPT_TYPES else None)
    _sub(root, "genre", edition_type, authority="local",
         displayLabel="版本类型（据版本推定）" if derived else "版本类型")
    _origin(root, card)
    language = _sub(root, "language")
    _sub(language, "languageTerm", language_code(card), type="code", authority="iso639-3")
    _physical(root, card)
    _note(root, edition.get("notes"), "general", "附注")
    _copy_notes(root, card)
    _subjects(root, card)
    _related(root, card)
    _sub(root, "identifier", permalink(record.id), type="uri")
    _sub(root, "identifier", copy_part.get("census_number"), type="local", displayLabel="古籍普查编号")
    location = _sub(root, "location")
    _sub(location, "physicalLocation", copy_part.get("holding_institution"))
    _sub(location, "shelfLocator", copy_part.get("call_number"))
    _sub(location, "url", permalink(record.id), usage="primary display")
    if card.get("rights"):
        _sub(root, "accessCondition", type="use and reproduction").set(f"{{{XLINK_NS}}}href", card["rights"])
    info = _sub(root, "recordInfo")
    _sub(info, "recordContentSource", copy_part.get("holding_institution"))
    _sub(info, "recordChangeDate", record.updated, encoding="iso8601")
    _sub(info, "recordIdentifier", record.id)
    _sub(info, "recordOrigin", f"Guji card {record.id} v{record.version}")
    cataloguing = _sub(info, "languageOfCataloging")
    _sub(cataloguing, "languageTerm", "chi", type="code", authority="iso639-2b")
    return root

