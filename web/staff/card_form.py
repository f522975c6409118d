"""The card editing form, generated from `metadata_schemas/card.schema.json`.

Each schema property becomes a form field with the property's Chinese ``title`` as its label and
its ``description`` as the hint:

* a field with a ``raw`` string (卷数, 出版时间, 行款版式, 版框, 开本, 存卷) is one input for the raw
  string — its parsed parts are recomputed by :func:`repository.card.normalise_card` on save and
  shown live while typing;
* a vocabulary (``$ref urn:guji:vocab:…``) is a select, or check boxes for a list of terms;
* a list of objects (附属题名, 批校题跋, 破损, 名录 …) is a repeatable group of fields;
* integers are number inputs, lists of strings (原索书号) one line per entry.

Parsed parts (``warnings``, 著者（解析）, 钤印 split from 钤印（原文）, 版本类型 read from 版本, 部/类/属 of
the 分类号) are not form fields. A save starts from the stored card and replaces, field by field, what the form
holds; a raw string left as it was keeps its parsed parts untouched.

Each top-level form field is also a *unit* of the three-way merge on the conflict page
(:func:`merge`): base (where the edit started), theirs (saved meanwhile), mine.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from guji import metadata_schemas
from guji.repository.card import FIELD_PARSERS
from guji.repository.card_table import get_path, set_path

# which live preview each raw string gets (see parse_preview.py)
PARSE_KIND = {path: kind for path, (kind, _) in FIELD_PARSERS.items()}  # previewed while typing
# parsed from another field on save; changing that field drops them so they are parsed afresh
COMPANIONS = {
    "edition.responsibility_raw": ("edition.responsibilities",),
    "copy.seals_raw": ("copy.seals",),
}
DERIVED = {"edition.responsibilities", "copy.seals", "edition.edition_type_derived"}
# The form follows the order a cataloguer works in (题名 → 责任 → 版本 → 行款 → 复本 …, the schema's own
# order); these headings mark the steps inside 版本层 and 复本层.
SECTIONS = {
    "edition.title": "题名与卷数", "edition.responsibility_raw": "著者", "edition.edition_type": "版本",
    "edition.layout": "行款版式与版框", "edition.series": "丛编、子目、附注与分类",
    "copy.call_number": "索书号与编号", "copy.volumes": "册数、装帧与开本", "copy.extant_juan": "存卷、批校题跋与钤印",
    "copy.grade": "定级与特征", "copy.damage": "破损与名录", "copy.holding_institution": "收藏与来源",
}
# Groups folded while empty (a 古籍 card rarely has 地方文献 fields; 定级 comes after an expert review).
FOLDED_WHEN_EMPTY = {"copy.grade", "local_document"}
# Hints for the form where the schema's description shows the JSON shape (read by API users) rather than
# what to type; a list item's fields are keyed by their own name.
FORM_HINTS = {
    "record_type": "古籍，或地方文献（地方志、地方著述、家谱等）。",
    "edition.classification": "按四部分类法归类：从列表中选分类号，部、类、属随分类号带出，如「1.03 经部 · 诗类」。",
    "copy.former_call_numbers": "以前用过的索书号，保留以便查找；每行一个，如 普1234。",
    "copy.distinctions": "本复本值得注意的特征，供定级建议参考；可多选，如 名家批校题跋、稀见。",
    "types": "破损类型，可多选，如 虫蛀、水渍。",
    "rights": "数字化对象的权利声明：从列表中选择，如「公有领域标识」。",
}
LONG_TEXT = re.compile(r"(^|\.)(notes|provenance|cataloguing_basis|seals_raw|basis|description|text)$")
VOCABULARY_PREFIX = "urn:guji:vocab:"


@dataclass
class FormField:
    path: str  # the card path this field replaces as a whole (list items: relative to the item)
    title: str
    description: str
    widget: str  # raw text textarea select number date checkboxes lines list group classification
    options: list[tuple[str, str]] = field(default_factory=list)
    parse: str | None = None
    required: bool = False
    children: list[FormField] = field(default_factory=list)  # group members, or a list item's fields

    @property
    def section(self) -> str | None:
        """The heading of the step of cataloguing this field starts (SECTIONS), if any."""
        return SECTIONS.get(self.path)

    @property
    def input_suffix(self) -> str:
        """What the input's name adds to the path: raw strings and 分类号 are one key inside."""
        return {"raw": ".raw", "classification": ".code"}.get(self.widget, "")

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


# ---- building the form from the schema -----------------------------------------------------------


def _vocabulary_name(node: dict) -> str | None:
    reference = node.get("$ref", "")
    return reference[len(VOCABULARY_PREFIX):] if reference.startswith(VOCABULARY_PREFIX) else None


def _options(name: str) -> list[tuple[str, str]]:
    vocab = metadata_schemas.vocabulary(name)
    labels = vocab.get("x-labels") or {}
    return [(term, labels.get(term, term)) for term in vocab.get("enum") or []]


@cache
def classification_options() -> tuple[tuple[str, str], ...]:
    found = []

    def walk(nodes: list[dict], path: tuple[str, ...]) -> None:
        for node in nodes:
            names = (*path, node["name"])
            found.append((node["code"], f"{node['code']}　{' · '.join(names)}"))
            walk(node.get("children", []), names)

    walk(metadata_schemas.classification_tree(), ())
    return tuple(found)


def _field(path: str, node: dict, required: bool) -> FormField | None:
    title = node.get("title") or path.rsplit(".", 1)[-1]
    description = FORM_HINTS.get(path, node.get("description", ""))
    key = path.rsplit(".", 1)[-1]
    if key == "warnings" or path in DERIVED:
        return None
    vocabulary = _vocabulary_name(node)
    if vocabulary == "sibu_classification":
        return None  # handled by its parent (see below)
    if vocabulary:
        return FormField(path, title, description, "select", _options(vocabulary), required=required)
    kind = node.get("type")
    properties = node.get("properties") or {}
    if kind == "object" and path.endswith("classification"):
        options = list(classification_options())
        return FormField(path, title, description, "classification", options, required=required)
    if kind == "object" and "raw" in properties:
        return FormField(path, title, description, "raw", parse=PARSE_KIND.get(path), required=required)
    if kind == "object":
        needed = set(node.get("required") or [])
        children = [child for name, sub in properties.items()
                    if (child := _field(f"{path}.{name}", sub, required and name in needed))]
        return FormField(path, title, description, "group", required=required, children=children)
    if kind == "array":
        items = node.get("items") or {}
        item_vocabulary = _vocabulary_name(items)
        if item_vocabulary:
            return FormField(path, title, description, "checkboxes", _options(item_vocabulary))
        if items.get("type") == "object":
            needed = set(items.get("required") or [])
            children = [child for name, sub in (items.get("properties") or {}).items()
                        if (child := _field(name, sub, name in needed))]
            return FormField(path, title, description, "list", children=children)
        return FormField(path, title, description, "lines")
    if kind == "integer":
        return FormField(path, title, description, "number", required=required)
    if node.get("format") == "date":
        return FormField(path, title, description, "date", required=required)
    widget = "textarea" if LONG_TEXT.search(path) else "text"
    return FormField(path, title, description, widget, parse=PARSE_KIND.get(path), required=required)


@cache
def card_form() -> tuple[FormField, ...]:
    """The form's top-level fields: 记录类型, 版本层, 复本层, 地方文献, 权利声明. The id is not editable,
    and 记录状态 changes only through withdraw/reinstate (repository.withdrawal), never the form."""
    schema = metadata_schemas.card_schema()
    required = set(schema.get("required") or [])
    return tuple(
        built for name, node in schema["properties"].items()
        if name not in ("id", "status") and (built := _field(name, node, name in required))
    )


def leaves(fields: tuple[FormField, ...] | list[FormField]) -> list[FormField]:
    """Every field that is a merge unit (groups opened up; lists are one unit)."""
    found = []
    for item in fields:
        if item.widget == "group":
            found.extend(leaves(item.children))
        else:
            found.append(item)
    return found


def groups(fields) -> list[FormField]:
    found = []
    for item in fields:
        if item.widget == "group":
            found.extend(groups(item.children))
            found.append(item)  # deepest first
    return found


def in_form_order(changes: list) -> list:
    """Field changes (anything with a `.path`) in the order of the form, each raw string before
    the parts parsed from it."""
    units = [item.path for item in leaves(card_form())]

    def key(indexed):
        index, change = indexed
        owners = [position for position, unit in enumerate(units)
                  if change.path == unit or change.path.startswith((unit + ".", unit + "["))]
        position = max(owners, key=lambda p: len(units[p])) if owners else len(units)
        own = change.path == units[position] + ".raw" if position < len(units) else False
        return (position, not (own or change.path in units), index)

    return [change for _, change in sorted(enumerate(changes), key=key)]


# ---- reading a submitted form ---------------------------------------------------------------


class FormValues:
    """A submitted form: name → all its values (works for Starlette FormData and plain dicts)."""

    def __init__(self, form: Mapping):
        self.form = form

    def get(self, name: str) -> str:
        value = self.form.get(name)
        # browsers send a textarea's line breaks as CRLF
        return value.replace("\r\n", "\n").strip() if isinstance(value, str) else ""

    def getlist(self, name: str) -> list[str]:
        if hasattr(self.form, "getlist"):
            return [v for v in self.form.getlist(name) if isinstance(v, str)]
        value = self.form.get(name)
        return value if isinstance(value, list) else ([value] if isinstance(value, str) else [])

    def names(self) -> list[str]:
        return list(self.form.keys())


@dataclass
class FormReading:
    card: dict
    problems: dict[str, str]  # input name → message, for what could not be read (e.g. 册数 = abc)
    typed: dict[str, str]  # input name → what was typed, to show again next to that message


def _scalar(item: FormField, name: str, values: FormValues, reading: FormReading) -> Any:
    if item.widget == "checkboxes":
        allowed = {value for value, _ in item.options}
        chosen = [value for value in values.getlist(name) if value in allowed]
        return chosen or None
    text = values.get(name)
    if item.widget == "lines":
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines or None
    if not text:
        return None
    if item.widget == "number":
        if not re.fullmatch(r"\d{1,9}", text):
            reading.problems[name] = f"{item.title} 应为整数（阿拉伯数字），如 4"
            reading.typed[name] = text
            return None
        return int(text)
    if item.widget == "select" and text not in {value for value, _ in item.options}:
        reading.problems[name] = f"{item.title}「{text}」不是可选的值"
        reading.typed[name] = text
        return None
    return text


def _list_indices(path: str, values: FormValues) -> list[int]:
    pattern = re.compile(rf"^{re.escape(path)}\[(\d+)\]\.")
    found = {int(match.group(1)) for name in values.names() if (match := pattern.match(name))}
    return sorted(found)


def _read_list(item: FormField, values: FormValues, reading: FormReading) -> list[dict] | None:
    entries = []
    for index in _list_indices(item.path, values):
        prefix = f"{item.path}[{index}]"
        if values.get(f"{prefix}._delete"):
            continue
        entry = {}
        for child in item.children:
            value = _scalar(child, f"{prefix}.{child.path}", values, reading)
            if value is not None:
                entry[child.path] = value
        if entry or any(name.startswith(prefix + ".") for name in reading.problems):
            entries.append(entry)
    return entries or None


def read_form(form: Mapping, stored: dict | None) -> FormReading:
    """The card the form describes, built on the stored card (None for a new card)."""
    values = FormValues(form)
    card = copy.deepcopy(stored) if stored else {}
    reading = FormReading(card, {}, {})
    for item in leaves(card_form()):
        before = get_path(stored or {}, item.path)
        name = item.path + item.input_suffix
        if item.widget == "raw":
            text = values.get(name)
            if text != (before.get("raw", "") if isinstance(before, dict) else ""):
                set_path(card, item.path, {"raw": text} if text else None)
        elif item.widget == "classification":
            code = values.get(name)
            if code != (before.get("code", "") if isinstance(before, dict) else ""):
                node = metadata_schemas.classification_by_code(code) if code else None
                if code and node is None:
                    reading.problems[name] = f"分类号「{code}」不在四部分类表中"
                    reading.typed[name] = code
                else:
                    set_path(card, item.path, {k: node[k] for k in ("code", "bu", "lei", "shu") if node.get(k)}
                             if node else None)
        elif item.widget == "list":
            set_path(card, item.path, _read_list(item, values, reading))
        else:
            value = _scalar(item, name, values, reading)
            if name in reading.problems:
                continue
            set_path(card, item.path, value)
            if value != before:
                for companion in COMPANIONS.get(item.path, ()):
                    set_path(card, companion, None)
    for group in groups(card_form()):
        if get_path(card, group.path) == {}:
            set_path(card, group.path, None)
    return reading


# ---- showing a card in the form -----------------------------------------------------------


@dataclass
class Bound:
    """A form field with its value and messages, ready for the template."""

    field: FormField
    name: str  # the input's name
    path: str  # the card path of this very field (with list positions)
    value: Any = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    children: list[Bound] | None = None  # a group's members
    items: list[list[Bound]] | None = None  # a list's entries (existing + one blank)
    blank: list[Bound] | None = None  # the blank entry, index __i__, for "add another"

    @property
    def filled(self) -> bool:
        """Something is entered here (a value, a group member, a list entry)."""
        if self.children is not None:
            return any(child.filled for child in self.children)
        if self.items is not None:
            return len(self.items) > 1
        return bool(self.value)

    @property
    def folded(self) -> bool:
        """A group shown folded: one of FOLDED_WHEN_EMPTY with nothing entered and nothing to say."""
        return self.field.path in FOLDED_WHEN_EMPTY and not self.filled and not self.has_messages

    @property
    def has_messages(self) -> bool:
        """This field or one inside it has an error or a warning (so it is shown open)."""
        inner = [*(self.children or []), *(entry for item in self.items or [] for entry in item)]
        return bool(self.error or self.warnings) or any(item.has_messages for item in inner)


def _display(item: FormField, value: Any) -> Any:
    if item.widget == "raw":
        return (value or {}).get("raw", "") if isinstance(value, dict) else ""
    if item.widget == "classification":
        return (value or {}).get("code", "") if isinstance(value, dict) else ""
    if item.widget == "checkboxes":
        return list(value or [])
    if item.widget == "lines":
        return "\n".join(value or [])
    return "" if value is None else str(value)


def _bind(item: FormField, data: dict, path: str, name_prefix: str, typed: dict[str, str]) -> Bound:
    value = data.get(item.key) if isinstance(data, dict) else None
    name = name_prefix + item.key + item.input_suffix
    bound = Bound(item, name, path)
    if item.widget == "group":
        bound.children = [_bind(child, value or {}, f"{path}.{child.key}", f"{name}.", typed)
                          for child in item.children]
        return bound
    if item.widget == "list":
        entries = value if isinstance(value, list) else []
        bound.items = [
            [_bind(child, entry, f"{path}[{index}].{child.key}", f"{name}[{index}].", typed)
             for child in item.children]
            for index, entry in enumerate([*entries, {}])
        ]
        bound.blank = [_bind(child, {}, f"{path}[__i__].{child.key}", f"{name}[__i__].", typed)
                       for child in item.children]
        return bound
    bound.value = typed.get(name, _display(item, value))
    return bound


def _all_leaves(bound: list[Bound]) -> list[Bound]:
    found = []
    for item in bound:
        if item.children is not None:
            found.extend(_all_leaves(item.children))
        elif item.items is not None:
            found.append(item)
            for entry in item.items:
                found.extend(entry)
        else:
            found.append(item)
    return found


def bind(card: dict, problems: list[dict] | None = None, warnings: list[tuple[str, str]] | None = None,
         typed: dict[str, str] | None = None, read_problems: dict[str, str] | None = None
         ) -> tuple[list[Bound], list[str]]:
    """The form filled from `card`, with each problem ({path, message}) and warning (path, message)
    placed on the field it belongs to. Returns the fields and the messages no field took."""
    bound = [_bind(item, card, item.path, "", typed or {}) for item in card_form()]
    flat = _all_leaves(bound)
    by_name = {item.name: item for item in flat}
    unplaced = []

    def owner(path: str) -> Bound | None:
        best = None
        for item in flat:
            if path == item.path or path.startswith(item.path + ".") or path.startswith(item.path + "["):
                if best is None or len(item.path) > len(best.path):
                    best = item
        return best

    for name, message in (read_problems or {}).items():
        if name in by_name:
            by_name[name].error = message
        else:
            unplaced.append(message)
    for problem in problems or []:
        item = owner(problem["path"])
        if item is None:
            unplaced.append(problem["message"])
        elif not item.error:
            item.error = problem["message"]
    for path, message in warnings or []:
        item = owner(path)
        if item is None:
            unplaced.append(message)
        else:
            item.warnings.append(message)
    return bound, unplaced


# ---- three-way merge (the conflict page) ------------------------------------------------------


@dataclass
class MergeUnit:
    field: FormField
    base: Any
    theirs: Any
    mine: Any

    @property
    def path(self) -> str:
        return self.field.path

    @property
    def theirs_changed(self) -> bool:
        return self.theirs != self.base

    @property
    def mine_changed(self) -> bool:
        return self.mine != self.base

    @property
    def conflict(self) -> bool:
        return self.theirs_changed and self.mine_changed and self.theirs != self.mine


def _unit_value(card: dict, item: FormField) -> Any:
    value = {"main": get_path(card, item.path)}
    for companion in COMPANIONS.get(item.path, ()):
        value[companion] = get_path(card, companion)
    return value


def merge_units(base: dict, theirs: dict, mine: dict) -> list[MergeUnit]:
    """The fields either side changed since `base` (unchanged fields are left out)."""
    units = []
    for item in leaves(card_form()):
        unit = MergeUnit(item, _unit_value(base, item), _unit_value(theirs, item), _unit_value(mine, item))
        if unit.theirs_changed or unit.mine_changed:
            units.append(unit)
    return units


def merge(base: dict, theirs: dict, mine: dict, choices: Mapping[str, str]) -> dict:
    """`theirs` with my changes applied: fields only I changed take my value, fields only they
    changed keep theirs, and where both changed, `choices[path]` ("mine" or "theirs") decides
    (default: mine). Fields outside the form (the id) are theirs."""
    merged = copy.deepcopy(theirs)
    for unit in merge_units(base, theirs, mine):
        take_mine = unit.mine_changed and (not unit.conflict or choices.get(unit.path, "mine") == "mine")
        if take_mine:
            for path, value in unit.mine.items():
                set_path(merged, unit.path if path == "main" else path, copy.deepcopy(value))
    for group in groups(card_form()):
        if get_path(merged, group.path) == {}:
            set_path(merged, group.path, None)
    return merged
