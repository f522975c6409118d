"""钤印 (seal impressions) as cataloguers list them in one spreadsheet cell.

`"鐵琴銅劍樓"朱文長方印；"瞿氏秘笈"白文方印（卷端）` → two seals. The seal text keeps `/`
for line breaks inside the seal (`鐵琴銅/劍樓`). Style is 朱文 (red characters) or 白文 (white
characters on red); the shape comes from the word before 印 (方印, 長方印, 圓印 …).
"""

from __future__ import annotations

import re

from . import ParseError

_SEPARATORS = re.compile(r"[；;\n]+")
_QUOTED = re.compile(r"^[\"“「『'‘]([^\"”」』'’]+)[\"”」』'’]")
_STYLE = re.compile(r"(朱白文相間|朱白文相间|朱白文|朱文|白文)")
_SHAPE_WORDS = {
    "長方": "长方形", "长方": "长方形", "方": "方形", "圓": "圆形", "圆": "圆形",
    "橢圓": "椭圆形", "椭圆": "椭圆形", "葫蘆": "葫芦形", "葫芦": "葫芦形", "連珠": "连珠", "连珠": "连珠",
}
_SHAPE = re.compile(r"(長方|长方|橢圓|椭圆|葫蘆|葫芦|連珠|连珠|方|圓|圆)印")
_POSITION = re.compile(r"[（(]([^）)]+)[）)]\s*$|(?:鈐|钤)(?:於|于)(.+)$")


def parse_seals(raw: str) -> list[dict]:
    """Each seal as {text, style, shape, position}; unknown parts are left out."""
    seals = []
    for part in (p.strip() for p in _SEPARATORS.split(raw or "")):
        if not part:
            continue
        seal: dict[str, str] = {}
        quoted = _QUOTED.match(part)
        rest = part[quoted.end():] if quoted else part
        position = _POSITION.search(rest)
        if position:
            seal_position = (position.group(1) or position.group(2)).strip()
            rest = rest[: position.start()]
        else:
            seal_position = ""
        style = _STYLE.search(rest)
        shape = _SHAPE.search(rest)
        if quoted:
            text = quoted.group(1)
        else:
            cut = min(m.start() for m in (style, shape) if m) if (style or shape) else len(rest)
            text = rest[:cut]
        text = text.strip(" ：:，,")
        if not text:
            raise ParseError(f"钤印「{part}」没有印文：请写成 \"印文\"朱文方印（位置），多方印以；分隔")
        seal["text"] = text
        if style:
            seal["style"] = {"朱白文": "朱白文相间", "朱白文相間": "朱白文相间"}.get(style.group(1), style.group(1))
        if shape:
            seal["shape"] = _SHAPE_WORDS[shape.group(1)]
        if seal_position:
            seal["position"] = seal_position
        seals.append(seal)
    return seals


# 长方形 → 长方印, 方形 → 方印: the word parse_seals reads back (_SHAPE)
_SHAPE_IN_TEXT = {"长方形": "长方", "方形": "方", "圆形": "圆", "椭圆形": "椭圆", "葫芦形": "葫芦"}


def format_seal(seal: dict) -> str:
    """One seal as cataloguers write it and :func:`parse_seals` reads it: “鐵琴銅/劍樓”朱文长方印（卷端）.

    The one formatter of a parsed seal: the record page, guide cards, dossiers, exports and the
    spreadsheet column all use it."""
    shape = seal.get("shape") or ""
    shape = _SHAPE_IN_TEXT.get(shape, shape)
    kind = f"{seal.get('style') or ''}{shape}印" if (seal.get("style") or shape) else ""
    position = f"（{seal['position']}）" if seal.get("position") else ""
    return f"\u201c{seal.get('text', '')}\u201d{kind}{position}"


def format_seals(seals: list[dict]) -> str:
    """The one-cell form read by :func:`parse_seals`: seals joined by ；."""
    return "；".join(format_seal(seal) for seal in seals or [])
