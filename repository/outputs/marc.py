"""Card → a CNMARC-style (UNIMARC-based) record with pymarc, written as MARCXML or ISO 2709.

The field mapping (001/005/100/101/200/205/210/215/225/300/305/316/317/327/517/686/701/702/905)
is documented with examples in docs/exports.md. It follows the UNIMARC/CNMARC field meanings
(200 title and responsibility, 205 edition, 210 publication, 215 physical description, 305 edition
notes, 316 copy-in-hand notes, 317 provenance, 7XX names, 905 local holdings); which subfield
gets what for 古籍 (卷数 in 200 $e, 钤印 in 317, 普查编号 in 905 $z …) is this project's choice,
not checked against GB/T 33286 or a union catalogue's profile — check it against yours.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymarc import Field, Indicators, Leader, Record, Subfield

from guji.repository.card import edition_type_of

from . import card_text
from .mods import MANUSCRIPT_TYPES
from .safe_xml import xml_text
from .selection import CurrentCard

# 著作方式 that make a person primarily responsible (701); every other role (注, 疏, 箋, 校 …) → 702
PRIMARY_ROLES = {"撰", "著", "編", "编", "纂", "輯", "辑", "修", "纂修", "述", "作", "譔", "撰述", "編纂", "编纂"}


def _field(tag: str, indicators: str, *subfields: tuple[str, str | None]) -> Field | None:
    parts = [Subfield(code, xml_text(value)) for code, value in subfields if value]
    if not parts:
        return None
    return Field(tag=tag, indicators=Indicators(indicators[0], indicators[1]), subfields=parts)


def leader(card: dict) -> str:
    """UNIMARC leader: new record, language material (b = manuscript), monograph, full level."""
    record_type = "b" if edition_type_of(card)[0] in MANUSCRIPT_TYPES else "a"
    return "00000" + "n" + record_type + "m" + "0" + " " + "22" + "00000" + " " + " " + " " + "450 "


def general_processing_data(card: dict, entered: str) -> str:
    """100 $a, 36 positions: date entered, date type and years, language chi, Unicode, Han script."""
    date = ((card.get("edition") or {}).get("publication") or {}).get("date") or {}
    start, end = date.get("start"), date.get("end")
    if start is None:
        kind, first, second = "u", "    ", "    "
    elif end in (None, start):
        kind, first, second = "d", f"{start:04d}", "    "
    else:
        kind, first, second = "f", f"{start:04d}", f"{end:04d}"  # f: date uncertain, within a range
    value = entered + kind + first + second + "   " + "y" + "0" + "chi" + "y" + "50  " + "    " + "ea"
    assert len(value) == 36
    return value


def _people_fields(card: dict) -> list[Field]:
    fields = []
    for person in (card.get("edition") or {}).get("responsibilities") or []:
        tag = "701" if (person.get("role") or "") in PRIMARY_ROLES or not fields else "702"
        field = _field(tag, " 0", ("a", person.get("name")), ("c", person.get("dynasty")), ("4", person.get("role")))
        if field:
            fields.append(field)
    return fields


def marc_record(record: CurrentCard) -> Record:
    card = record.card
    edition = card.get("edition") or {}
    copy_part = card.get("copy") or {}
    publication = edition.get("publication") or {}
    date = publication.get("date") or {}
    changed = datetime.strptime(record.updated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    marc = Record(force_utf8=True)  # UTF-8 in ISO 2709; pymarc then also sets leader/09 to "a" there
    marc.leader = Leader(leader(card))  # pymarc's constructor would force MARC 21's "4500" into 20–23
    marc.add_field(Field(tag="001", data=record.id))
    marc.add_field(Field(tag="005", data=changed.strftime("%Y%m%d%H%M%S.0")))
    holding = f"{copy_part.get('holding_institution') or ''}:{copy_part.get('call_number') or ''}".strip(":")
    people = edition.get("responsibilities") or []
    others = [f"（{p['dynasty']}）{p['name']}{p.get('role') or ''}" if p.get("dynasty")
              else f"{p['name']}{p.get('role') or ''}" for p in people]
    date_text = date.get("raw") or ""
    if date.get("start") is not None:
        years = str(date["start"]) if date.get("end") in (None, date["start"]) else f"{date['start']}-{date['end']}"
        date_text = f"{date_text}[{years}]"
    layout = (edition.get("layout") or {}).get("raw")
    frame = (edition.get("frame_size") or {}).get("raw")
    fields = [
        _field("100", "  ", ("a", general_processing_data(card, changed.strftime("%Y%m%d")))),
        _field("101", "0 ", ("a", "chi")),
        _field("200", "1 ", ("a", edition.get("title")), ("e", (edition.get("juan") or {}).get("raw")),
               ("f", others[0] if others else edition.get("responsibility_raw")),
               *(("g", other) for other in others[1:])),
        _field("205", "  ", ("a", edition.get("edition_statement"))),
        _field("210", "  ", ("a", publication.get("place")), ("c", publication.get("publisher")), ("d", date_text)),
        _field("215", "  ", ("a", f"{copy_part['volumes']}册" if copy_part.get("volumes") else None),
               ("a", f"{copy_part['cases']}函" if copy_part.get("cases") else None),
               ("c", copy_part.get("binding")), ("d", (copy_part.get("page_size") or {}).get("raw"))),
        _field("225", "2 ", ("a", edition.get("series"))),
        _field("300", "  ", ("a", edition.get("notes"))),
        _field("305", "  ", ("a", "。".join(part for part in (edition_type_of(card)[0], layout, frame) if part))),
    ]
    copy_notes = [("a", card_text.extant_juan_text(card))]
    copy_notes += [("a", card_text.annotation_text(a)) for a in copy_part.get("annotations") or []]
    copy_notes += [("a", card_text.damage_text(d)) for d in copy_part.get("damage") or []]
    if any(value for _, value in copy_notes):
        fields.append(_field("316", "  ", *copy_notes, ("5", holding)))
    provenance = [("a", card_text.seals_text(card)), ("a", copy_part.get("provenance"))]
    if any(value for _, value in provenance):
        fields.append(_field("317", "  ", *provenance, ("5", holding)))
    for part in edition.get("contents") or []:
        by = f" / {part['responsibility']}" if part.get("responsibility") else ""
        fields.append(_field("327", "1 ", ("a", f"{part.get('title', '')}{part.get('juan') or ''}{by}")))
    for other in edition.get("other_titles") or []:
        fields.append(_field("517", "1 ", ("a", other.get("title"))))
    code = (edition.get("classification") or {}).get("code")
    fields.append(_field("686", "  ", ("a", code), ("2", "sibu") if code else ("2", None)))
    fields.extend(_people_fields(card))
    fields.append(_field("905", "  ", ("a", copy_part.get("holding_institution")), ("d", copy_part.get("call_number")),
                         ("f", card_text.volumes_text(card)), ("z", copy_part.get("census_number"))))
    for field in fields:
        if field is not None:
            marc.add_field(field)
    return marc
