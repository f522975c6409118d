"""Live preview of how a raw string will be read on save: 行款 → structure, 存卷 → juan ranges,
reign-era date → Gregorian years, and the rest of the card's formatted fields.

Each preview calls the very parser the save uses (`repository.parse`) and says in a line of
Chinese what it understood, so a cataloguer sees a misreading before saving.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from guji.repository.card import PARSERS
from guji.repository.parse import ParseError


@dataclass
class Preview:
    kind: str
    text: str
    ok: bool
    summary: str = ""
    parsed: Any = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def _span(value: dict | None, unit: str) -> str:
    if not value:
        return ""
    low, high = value.get("min"), value.get("max")
    if low is None and high is None:
        return ""
    return f"{low}{unit}" if low == high or high is None else f"{low}–{high}{unit}"


def _layout(parsed: dict) -> str:
    parts = []
    lines = _span(parsed.get("lines_per_half_leaf"), " 行")
    if lines:
        parts.append(f"半叶 {lines}")
    chars = parsed.get("chars_per_line") or {}
    if chars.get("irregular"):
        parts.append("每行字数不等" + (f"（{_span(chars, ' 字')}）" if _span(chars, "") else ""))
    elif _span(chars, ""):
        parts.append(f"每行 {_span(chars, ' 字')}")
    small = parsed.get("small_chars") or {}
    if small:
        text = "小字" + ("双行" if small.get("double_column") else "")
        if small.get("same_as_main"):
            text += "，字数同"
        elif _span(small.get("chars_per_line"), ""):
            text += f"，每行 {_span(small.get('chars_per_line'), ' 字')}"
        parts.append(text)
    parts.extend(parsed[key] for key in ("mouth", "borders", "fish_tail") if parsed.get(key))
    return " · ".join(parts)


def _range(item: dict) -> str:
    section = item.get("section") or ""
    if item.get("label"):
        return f"{section}{item['label']}"
    start, end = item.get("start"), item.get("end")
    if start is None:
        return section or "?"
    return f"卷{section}{start}" + (f"–{end}" if end not in (None, start) else "")


def _extant(parsed: dict) -> str:
    ranges = "、".join(_range(item) for item in parsed.get("ranges") or [])
    count = parsed.get("count")
    head = f"存 {count} 卷" if count is not None else "存卷"
    return f"{head}：{ranges}" if ranges else head


def _year(year: int) -> str:
    return f"公元前 {-year} 年" if year < 0 else f"{year} 年"


def _date(parsed: dict) -> str:
    start, end = parsed.get("start"), parsed.get("end")
    era = "".join(filter(None, [parsed.get("dynasty"), parsed.get("reign")]))
    if parsed.get("year_in_reign"):
        era += f" {parsed['year_in_reign']} 年"
    if start is None:
        return era
    years = _year(start) if end in (None, start) else f"{_year(start)}–{_year(end)}"
    return f"{years}（{era}）" if era else years


def _juan(parsed: dict) -> str:
    if parsed.get("unknown"):
        text = "卷数不明"
    elif parsed.get("undivided"):
        text = "不分卷"
    else:
        text = f"正文 {parsed.get('count')} 卷" if parsed.get("count") is not None else ""
    extra = "、".join(f"{item['label']} {item.get('count') or '?'} 卷" for item in parsed.get("supplements") or [])
    return "，".join(filter(None, [text, extra and f"另有 {extra}"]))


def _dimensions(parsed: dict) -> str:
    parts = []
    if parsed.get("height_cm") is not None:
        parts.append(f"高 {parsed['height_cm']} 厘米")
    if parsed.get("width_cm") is not None:
        parts.append(f"宽 {parsed['width_cm']} 厘米")
    return "，".join(parts)


def _responsibility(people: list[dict]) -> str:
    return "；".join(
        "".join(filter(None, [person.get("dynasty") and f"（{person['dynasty']}）", person.get("name"),
                              person.get("role") and f" {person['role']}"]))
        for person in people
    ) + f"（{len(people)} 人）"


def _seals(seals: list[dict]) -> str:
    return "；".join(
        f"「{seal.get('text', '')}」" + "".join(filter(None, [seal.get("style"), seal.get("shape")]))
        + (f"，{seal['position']}" if seal.get("position") else "")
        for seal in seals
    ) + f"（{len(seals)} 方）"


# what each kind of string reads as, in a line of Chinese (the parsers: repository/card.py PARSERS)
PREVIEWS: dict[str, Callable[[Any], str]] = {
    "layout": _layout, "extant_juan": _extant, "date": _date, "juan": _juan, "dimensions": _dimensions,
    "responsibility": _responsibility, "seals": _seals,
}


def preview(kind: str, text: str) -> Preview:
    """What the save will read from `text`; an unknown `kind` raises KeyError."""
    parser, describe = PARSERS[kind], PREVIEWS[kind]
    text = text.strip()
    if not text:
        return Preview(kind, text, True, "")
    try:
        parsed = parser(text)
    except ParseError as error:
        return Preview(kind, text, False, error=str(error))
    warnings = list(parsed.pop("warnings", None) or []) if isinstance(parsed, dict) else []
    return Preview(kind, text, True, describe(parsed), parsed, warnings)
