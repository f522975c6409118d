"""Catalogue cards: fill parsed parts from raw strings, summarise, compare versions.

A card is a plain dict validated by `metadata_schemas/card.schema.json`. The cataloguer's raw
strings are never changed here; parsing only fills the structured parts next to them, and a
parse failure becomes a :class:`CardWarning` instead of an error.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from guji import metadata_schemas

from .card_table import get_path
from .parse import (
    ParseError,
    find_reign_date,
    format_responsibility,
    parse_dimensions,
    parse_edition_type,
    parse_extant_juan,
    parse_juan_count,
    parse_page_layout,
    parse_reign_date,
    parse_responsibility,
)
from .parse.seals import parse_seals


@dataclass(frozen=True)
class CardWarning:
    """Something on a card that could not be read; the card is saved anyway."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{field_label(self.field)} ({self.field}): {self.message}"


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two versions of a card."""

    path: str
    old: Any
    new: Any

    @property
    def label(self) -> str:
        return field_label(self.path)


def card_json_bytes(card: dict) -> bytes:
    """The stored form of a card: stable key order, real Chinese characters, final newline."""
    return (json.dumps(card, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")


# ---- normalisation ---------------------------------------------------------------------------

# The fields a cataloguer types as a raw string that is parsed on save: the field's path → (the kind
# of string, its parser). normalise_card reads them with these parsers; the staff form previews the
# same kinds with the same parsers while one types (web/staff/parse_preview.py, card_form.py).
FIELD_PARSERS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "edition.juan": ("juan", parse_juan_count),
    "edition.publication.date": ("date", parse_reign_date),
    "edition.layout": ("layout", parse_page_layout),
    "edition.frame_size": ("dimensions", parse_dimensions),
    "copy.page_size": ("dimensions", parse_dimensions),
    "copy.extant_juan": ("extant_juan", parse_extant_juan),
    "edition.responsibility_raw": ("responsibility", parse_responsibility),
    "copy.seals_raw": ("seals", parse_seals),
}
PARSERS = {kind: parser for kind, parser in FIELD_PARSERS.values()}  # kind → parser


def _fill(
    card: dict,
    path: str,
    place: Callable[[dict, Any], None],
    warnings: list[CardWarning],
) -> None:
    """Parse `<path>.raw` with the field's parser and let `place` put the result into the field."""
    parser = FIELD_PARSERS[path][1]
    field = get_path(card, path)
    if not isinstance(field, dict) or not str(field.get("raw") or "").strip():
        return
    try:
        parsed = parser(field["raw"])
    except ParseError as error:
        warnings.append(CardWarning(path, str(error)))
        return
    if isinstance(parsed, dict):
        for message in parsed.pop("warnings", None) or []:
            warnings.append(CardWarning(path, message))
    place(field, parsed)


def _place_keys(*keys: str) -> Callable[[dict, Any], None]:
    def place(field: dict, parsed: dict) -> None:
        for key in keys:
            if parsed.get(key) is not None:
                field[key] = parsed[key]
            else:
                field.pop(key, None)

    return place


def _place_layout(field: dict, parsed: dict) -> None:
    field["parsed"] = parsed


def normalise_card(card: dict) -> tuple[dict, list[CardWarning]]:
    """Return a copy of `card` with every parsed part recomputed from its raw string, plus the
    warnings for raw strings that could not be (fully) read. Vocabulary aliases (刊本, 寫本 …)
    are mapped to their canonical terms."""
    card = copy.deepcopy(card)
    warnings: list[CardWarning] = []
    edition = card.setdefault("edition", {})
    copy_part = card.get("copy")

    _fill(card, "edition.juan", _place_keys("count", "unknown", "undivided", "supplements"), warnings)
    _fill(card, "edition.layout", _place_layout, warnings)
    _fill(card, "edition.frame_size", _place_keys("height_cm", "width_cm"), warnings)
    _fill(card, "copy.page_size", _place_keys("height_cm", "width_cm"), warnings)
    _fill(card, "copy.extant_juan", _place_keys("count", "ranges"), warnings)

    typed_date = ((edition.get("publication") or {}).get("date") or {}).get("raw")
    if not typed_date and edition.get("edition_statement"):
        # No 出版时间 typed: take it from the 版本 statement (明萬曆二十四年刻本 → 1596).
        found = find_reign_date(edition["edition_statement"])
        if found and found.get("raw"):
            edition.setdefault("publication", {})["date"] = {"raw": found["raw"]}
    _fill(card, "edition.publication.date", _place_keys("start", "end"), warnings)

    raw_people = str(edition.get("responsibility_raw") or "").strip()
    if raw_people:
        try:
            edition["responsibilities"] = parse_responsibility(raw_people)
        except ParseError as error:
            warnings.append(CardWarning("edition.responsibility_raw", str(error)))
    elif edition.get("responsibilities"):
        edition["responsibility_raw"] = format_responsibility(edition["responsibilities"])

    if isinstance(copy_part, dict) and str(copy_part.get("seals_raw") or "").strip():
        try:
            copy_part["seals"] = parse_seals(copy_part["seals_raw"])
        except ParseError as error:
            warnings.append(CardWarning("copy.seals_raw", str(error)))

    _canonicalise(card, "status", "record_status")
    _canonicalise(edition, "edition_type", "edition_type")
    derived = None if edition.get("edition_type") else derived_edition_type(card)
    if derived:
        edition["edition_type_derived"] = derived
    else:
        edition.pop("edition_type_derived", None)
    if isinstance(copy_part, dict):
        _canonicalise(copy_part, "binding", "binding")
        for seal in copy_part.get("seals") or []:
            _canonicalise(seal, "style", "seal_style")
            _canonicalise(seal, "shape", "seal_shape")
    return card, warnings


def _canonicalise(node: dict, key: str, vocabulary: str) -> None:
    """Map an alias (刊本, 寫本 …) to its canonical term; unknown terms are left for the schema to refuse."""
    value = node.get(key)
    if not value:
        return
    term = metadata_schemas.canonical_term(vocabulary, value)
    if term is not None:
        node[key] = term


# ---- summary -------------------------------------------------------------------------------


def title_with_juan(card: dict) -> str:
    """题名卷数 as printed on a card: 毛詩注疏二十卷."""
    edition = card.get("edition") or {}
    juan = (edition.get("juan") or {}).get("raw") or ""
    juan = juan.replace(" ", "")
    return f"{edition.get('title', '')}{juan}"


def responsibility_text(card: dict) -> str:
    edition = card.get("edition") or {}
    if edition.get("responsibility_raw"):
        return edition["responsibility_raw"]
    if edition.get("responsibilities"):
        return format_responsibility(edition["responsibilities"])
    return ""


def derived_edition_type(card: dict) -> str | None:
    """版本类型 read from the 版本 statement (明崇禎毛氏汲古閣刻本 → 刻本), or None."""
    statement = (card.get("edition") or {}).get("edition_statement")
    found = parse_edition_type(statement) if isinstance(statement, str) else None
    return found["edition_type"] if found else None


def edition_type_of(card: dict) -> tuple[str | None, bool]:
    """(版本类型, derived): the cataloguer's 版本类型 when typed (it always wins), else the one
    read from the 版本 statement — computed afresh, so cards stored before the statement parser
    existed get it too (the catalogue DB and the browse facet use this)."""
    edition = card.get("edition") or {}
    typed = edition.get("edition_type")
    if isinstance(typed, str) and typed.strip():
        return metadata_schemas.canonical_term("edition_type", typed) or typed, False
    derived = derived_edition_type(card)
    return derived, derived is not None


def edition_type_text(card: dict) -> str:
    """版本类型 as shown to people: 刻本, or 刻本（据版本推定） when read from the 版本 statement."""
    term, derived = edition_type_of(card)
    if not term:
        return ""
    return f"{term}（据版本推定）" if derived else term


def edition_dynasty(card: dict) -> str | None:
    """版本朝代: the dynasty the edition was made in (明萬曆元年 → 明), from the 出版时间 raw string."""
    date = ((card.get("edition") or {}).get("publication") or {}).get("date") or {}
    if date.get("dynasty"):
        return date["dynasty"]
    if not str(date.get("raw") or "").strip():
        return None
    try:
        return parse_reign_date(date["raw"]).get("dynasty")
    except ParseError:
        return None


def grade_label(card: dict) -> str | None:
    grade = (card.get("copy") or {}).get("grade")
    if not grade or not grade.get("level"):
        return None
    return grade["level"] + (f"{grade['class']}等" if grade.get("class") else "")


def identifiers(card: dict) -> set[tuple[str, str]]:
    """(kind, value) pairs a card can be found by."""
    copy_part = card.get("copy") or {}
    found: set[tuple[str, str]] = set()
    if copy_part.get("call_number"):
        found.add(("call_number", copy_part["call_number"]))
    for former in copy_part.get("former_call_numbers") or []:
        found.add(("former_call_number", former))
    if copy_part.get("census_number"):
        found.add(("census_number", copy_part["census_number"]))
    for listing in copy_part.get("lists") or []:
        if listing.get("number"):
            found.add(("list_number", str(listing["number"])))
    return found


# ---- comparing versions ----------------------------------------------------------------------


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """`{"copy": {"seals": [{"text": "x"}]}}` → `{"copy.seals[0].text": "x"}`."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else key))
        return flat
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def card_diff(old: dict, new: dict) -> list[FieldChange]:
    """Field-level differences, in card order (题名 before 卷数 … before 复本层; see :func:`card_order`)."""
    before, after = flatten(old), flatten(new)
    order = sorted(dict.fromkeys([*after, *before]), key=card_order)
    return [
        FieldChange(path, before.get(path), after.get(path))
        for path in order
        if before.get(path) != after.get(path)
    ]


def card_order(path: str) -> tuple:
    """Sort key putting field paths in the order of the card (the schema's property order, which is
    the order a Chinese catalogue card reads: 题名, 卷数, 著者, 版本 … 起始年 before 终止年), list
    entries by position; fields the schema does not know go last, by name."""
    node = _schema()
    key: list[tuple[int, int | str]] = []
    for part in path.replace("]", "").replace("[", ".").split("."):
        node = _resolve(node) if isinstance(node, dict) else {}
        if part.isdigit():
            key.append((0, int(part)))
            node = node.get("items", {})
            continue
        properties = list(node.get("properties") or {})
        key.append((properties.index(part), "") if part in properties else (len(properties), part))
        node = (node.get("properties") or {}).get(part, {})
    return tuple(key)


# fields whose stored value is a code: shown with the vocabulary's label, 古籍（guji）
_LABELLED = {"record_type": "record_type", "status": "record_status"}


def display_value(value: Any, path: str = "") -> str:
    """A stored value as staff read it: 是/否 for booleans, lists joined with 、, codes with their
    label (古籍（guji）), text as typed."""
    if path in _LABELLED and isinstance(value, str):
        label = (metadata_schemas.vocabulary(_LABELLED[path]).get("x-labels") or {}).get(value)
        return f"{label}（{value}）" if label else value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return "、".join(str(item) for item in value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def card_entries(card: dict) -> list[tuple[str, str, str]]:
    """Every filled field of a card as (Chinese label, path, value shown), in card order."""
    flat = flatten(card)
    return [(field_label(path), path, display_value(flat[path], path)) for path in sorted(flat, key=card_order)
            if flat[path] not in (None, "", [], {})]


@cache
def _schema() -> dict:
    return metadata_schemas.card_schema()


def _resolve(node: dict) -> dict:
    reference = node.get("$ref", "")
    if reference.startswith("#/"):
        target: Any = _schema()
        for part in reference[2:].split("/"):
            target = target[part]
        return _resolve(target)
    return node


def field_label(path: str) -> str:
    """The Chinese title of a field path (`copy.extant_juan.raw` → 存卷), from the schema."""
    node = _schema()
    titles: list[str] = []
    parts = path.replace("]", "").replace("[", ".").split(".")
    for depth, part in enumerate(parts):
        node = _resolve(node)
        if part.isdigit():
            node = node.get("items", {})
            number = str(int(part) + 1)
            titles[-1:] = [f"{titles[-1]} {number}" if titles else number]
            continue
        node = (node.get("properties") or {}).get(part)
        if node is None:
            break
        title = _resolve(node).get("title") or node.get("title")
        # The 版本层/复本层 group names add nothing to a field's own name.
        if title and part != "raw" and not (depth == 0 and len(parts) > 1):
            titles.append(title)
    shown = titles[-2:]
    if len(shown) == 2 and shown[0] == shown[1]:  # 卷数 · 卷数: the parsed count of the 卷数 field
        shown = [f"{shown[0]}（解析）"]
    return " · ".join(shown) if shown else path
