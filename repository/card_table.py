"""Cards as spreadsheet rows: the columns cataloguers keep in Excel, both ways.

The columns, their Chinese headers (simplified and traditional) and the card field each one
fills are data: `metadata_schemas/crosswalks/columns.json`. This module reads and writes the
cell formats (`二级乙等`, `"鐵琴銅劍樓"朱文長方印；…`, `国家第2批04527`, lists separated by
`；`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

from guji import metadata_schemas

from .errors import Refused
from .parse import ParseError, chinese_to_int
from .parse.seals import format_seals

LIST_SEPARATOR = re.compile(r"[；;\n]+")
CLEAR_MARK = "<清空>"  # a cell holding exactly this clears the field in a batch revision


@dataclass(frozen=True)
class Column:
    key: str
    path: str | None
    type: str
    labels: tuple[str, ...]

    @property
    def header(self) -> str:
        return self.labels[0]


@cache
def columns() -> tuple[Column, ...]:
    data = json.loads((metadata_schemas.SCHEMA_DIR / "crosswalks" / "columns.json").read_text("utf-8"))
    return tuple(
        Column(c["key"], c["path"], c["type"], tuple(c["labels"])) for c in data["columns"]
    )


@cache
def _by_header() -> dict[str, Column]:
    found = {}
    for column in columns():
        for label in (column.key, *column.labels):
            found[_header_key(label)] = column
    return found


def _header_key(header: str) -> str:
    return re.sub(r"\s+", "", str(header)).lower()


def column_for_header(header: Any) -> Column | None:
    if header is None:
        return None
    return _by_header().get(_header_key(str(header)))


def column_for_path(path: str) -> Column | None:
    """The column that fills a card field path (for naming a column in an error)."""
    best = None
    for column in columns():
        if column.path and (path == column.path or path.startswith(column.path + ".")
                            or path.startswith(column.path + "[")):
            if best is None or len(column.path) > len(best.path or ""):
                best = column
    return best


class CellError(Refused):
    """A cell that cannot be read; the message says what to type instead."""


# ---- reading cells -----------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    return str(value).strip()


def read_cell(column: Column, value: Any) -> Any:
    """The card value for one cell. Raises CellError with a reason a cataloguer understands."""
    if isinstance(value, (date, datetime)) and column.type == "date":
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = cell_text(value)
    reader = _READERS.get(column.type)
    if reader is None:
        return text
    return reader(text)


def _read_int(text: str) -> int:
    number = re.sub(r"[册冊函卷\s]", "", text)
    try:
        return int(number) if number.isdigit() else chinese_to_int(number)
    except (ParseError, ValueError):
        raise CellError(f"「{text}」不是数目：请填写数字，如 4 或 四") from None


def _read_list(text: str) -> list[str]:
    return [part.strip() for part in LIST_SEPARATOR.split(text) if part.strip()]


def _read_date(text: str) -> str:
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    if not match:
        raise CellError(f"「{text}」不是日期：请写成 2024-05-10")
    try:
        return date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        raise CellError(f"「{text}」不是有效日期") from None


_GRADE = re.compile(r"^([一二三四1-4])[级級]\s*([甲乙丙])?\s*等?$")


def _read_grade(text: str) -> dict:
    match = _GRADE.match(text.replace(" ", ""))
    if not match:
        raise CellError(f"「{text}」不是定级：请写成 一级甲等、二级乙等、三级 或 四级")
    level = "一二三四"["一二三四1234".index(match.group(1)) % 4] + "级"
    grade = {"level": level}
    if match.group(2):
        grade["class"] = match.group(2)
    return grade


def _read_classification(text: str) -> dict:
    node = metadata_schemas.classification_by_code(text) or metadata_schemas.classification_lookup(text)
    if not node:
        raise CellError(f"「{text}」不在四部分类表中：请写 部/类（如 经部/诗类）或分类代码（如 1.03）")
    return _classification_value(node)


def _classification_value(node: dict) -> dict:
    """Keep only what a card stores about a classification node."""
    return {key: node[key] for key in ("code", "bu", "lei", "shu") if node.get(key)}


def _read_record_type(text: str) -> str:
    value = metadata_schemas.canonical_term("record_type", text)
    if value is None:
        raise CellError(f"「{text}」不是文献类型：请写 古籍 或 地方文献")
    return value


_LIST_ENTRY = re.compile(
    r"^(?P<scope>国家|國家|全国|全國|.{1,4}?省|省)?\s*(?:珍贵古籍名录|珍貴古籍名錄)?\s*/?\s*"
    r"第?\s*(?P<batch>[0-9一二三四五六七八九十]+)\s*批\s*(?:珍贵古籍名录|珍貴古籍名錄)?\s*[/：:，,]?\s*"
    r"(?:名录号|名錄號|编号|編號)?\s*[：:]?\s*(?P<number>\S+)$"
)


def _read_lists(text: str) -> list[dict]:
    entries = []
    for part in _read_list(text):
        match = _LIST_ENTRY.match(part)
        if not match:
            raise CellError(f"名录「{part}」读不懂：请写成 国家第2批04527 或 省第3批0123，多个以；分隔")
        scope = match.group("scope") or "国家"
        scope = "国家" if scope in ("国家", "國家", "全国", "全國") else "省"
        batch = match.group("batch")
        entries.append({
            "scope": scope,
            "batch": int(batch) if batch.isdigit() else chinese_to_int(batch),
            "number": match.group("number"),
        })
    return entries


def _read_annotations(text: str) -> list[dict]:
    found = []
    for part in _read_list(text):
        kind = "批校" if ("批" in part or "校" in part) and "跋" not in part else "题跋"
        found.append({"type": kind, "text": part})
    return found


_DAMAGE = re.compile(r"^(?:(?P<volume>[^：:]{1,12})[：:])?\s*(?P<rest>.+)$")
_DAMAGE_LEVEL = re.compile(r"([一二三四五])[级級]破[损損]")


def _read_damage(text: str) -> list[dict]:
    entries = []
    types = metadata_schemas.vocabulary("damage_type").get("enum", [])
    for part in _read_list(text):
        match = _DAMAGE.match(part)
        entry: dict[str, Any] = {"description": match.group("rest").strip()}
        if match.group("volume"):
            entry["volume"] = match.group("volume").strip()
        level = _DAMAGE_LEVEL.search(part)
        if level:
            entry["level"] = f"{level.group(1)}级破损"
        found_types = [t for t in types if t in part]
        if found_types:
            entry["types"] = found_types
        entries.append(entry)
    return entries


_READERS = {
    "int": _read_int,
    "list": _read_list,
    "date": _read_date,
    "grade": _read_grade,
    "classification": _read_classification,
    "record_type": _read_record_type,
    "lists": _read_lists,
    "annotations": _read_annotations,
    "damage": _read_damage,
}

_TITLE_WITH_JUAN = re.compile(r"^(?P<title>.+?)(?P<juan>(?:[0-9一二三四五六七八九十百千〇零□]+|不分)\s*卷.*)$")


def split_title_with_juan(text: str) -> tuple[str, str | None]:
    """`毛詩注疏二十卷` → (`毛詩注疏`, `二十卷`); a title without 卷 stays whole."""
    match = _TITLE_WITH_JUAN.match(text.strip())
    if not match:
        return text.strip(), None
    return match.group("title"), match.group("juan")


# ---- writing values into a card ----------------------------------------------------------------


def set_path(card: dict, path: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts; `None` removes the key (and empty parents stay)."""
    keys = path.split(".")
    node = card
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


def get_path(card: dict, path: str) -> Any:
    node: Any = card
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def apply_row(card: dict, values: dict[Column, Any]) -> dict:
    """Apply read cell values to a card (a new dict). `CLEAR_MARK` cells clear their field."""
    card = json.loads(json.dumps(card))
    for column, value in values.items():
        if column.key == "title_with_juan":
            title, juan = value
            set_path(card, "edition.title", title)
            if juan is not None:
                card.setdefault("edition", {}).pop("juan", None)
                set_path(card, "edition.juan.raw", juan)
            continue
        if column.path is None:
            continue
        if value is CLEAR:
            set_path(card, column.path, None)
            continue
        if column.type == "grade":
            # 级别 and 等次 come from this cell; 定级人, 日期, 依据 from their own columns.
            set_path(card, "copy.grade.level", value["level"])
            set_path(card, "copy.grade.class", value.get("class"))
            continue
        if column.path.endswith(".raw") and get_path(card, column.path) != value:
            # A new raw string: drop the old parsed parts so they are recomputed from it.
            parent = column.path.rsplit(".", 1)[0]
            set_path(card, parent, None)
        set_path(card, column.path, value)
    return card


class _Clear:
    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = _Clear()


# ---- writing cells --------------------------------------------------------------------------


def format_cell(column: Column, card: dict, version: int | None = None) -> Any:
    if column.key == "version":
        return version
    if column.key == "title_with_juan":
        edition = card.get("edition") or {}
        return f"{edition.get('title', '')}{(edition.get('juan') or {}).get('raw', '')}"
    if column.path is None:
        return None
    value = get_path(card, column.path)
    if value is None and column.type == "seals" and get_path(card, "copy.seals"):
        return format_seals(get_path(card, "copy.seals"))  # seals entered as structure, not typed
    if value is None:
        return None
    if column.type == "list":
        return "；".join(value)
    if column.type == "grade":
        return value.get("level", "") + (f"{value['class']}等" if value.get("class") else "")
    if column.type == "classification":
        return "/".join(value[key] for key in ("bu", "lei", "shu") if value.get(key)) or value.get("code")
    if column.type == "record_type":
        labels = metadata_schemas.vocabulary("record_type").get("x-labels", {})
        return labels.get(value, value)
    if column.type == "lists":
        return "；".join(f"{v.get('scope', '')}第{v.get('batch', '')}批{v.get('number', '')}" for v in value)
    if column.type == "annotations":
        return "；".join(v.get("text", "") for v in value)
    if column.type == "damage":
        return "；".join((f"{v['volume']}：" if v.get("volume") else "") + v.get("description", "")
                        for v in value)
    return value


EXPORT_SKIP = {"title_with_juan", "reason"}


def export_columns() -> list[Column]:
    return [c for c in columns() if c.key not in EXPORT_SKIP]
