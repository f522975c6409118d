"""Card fields as they are shown to people: the record page, guide cards, dossiers, the 登记目录
(census register) and the MODS / Dublin Core / MARC exports all format through this module, so a
field reads the same everywhere and sits under the right label.

Stored strings are printed as the cataloguer typed them; only counts (册数, 函数, missing juan),
seals and annotations entered as structure are composed here.
"""

from __future__ import annotations

from guji.repository.card import edition_type_text, responsibility_text, title_with_juan
from guji.repository.parse import int_to_chinese
from guji.repository.parse.seals import format_seal, format_seals

__all__ = [
    "annotation_text",
    "annotations_text",
    "binding_text",
    "call_number",
    "card_lines",
    "census_number",
    "damage_text",
    "damages_text",
    "edition_text",
    "edition_type_text",
    "layout_label",
    "layout_text",
    "extant_juan_text",
    "extant_and_missing_text",
    "missing_juan_count",
    "responsibility_text",
    "seal_text",
    "seals_text",
    "title_with_juan",
    "volumes_label",
    "volumes_text",
]


def _copy(card: dict) -> dict:
    return card.get("copy") or {}


def call_number(card: dict) -> str:
    """索书号."""
    return _copy(card).get("call_number") or ""


def census_number(card: dict) -> str:
    """古籍普查编号."""
    return _copy(card).get("census_number") or ""


def edition_text(card: dict) -> str:
    """版本: the full statement, else the 版本类型 with the date."""
    edition = card.get("edition") or {}
    if edition.get("edition_statement"):
        return edition["edition_statement"]
    date = ((edition.get("publication") or {}).get("date") or {}).get("raw") or ""
    return f"{date}{edition.get('edition_type') or ''}"


def extant_juan_text(card: dict) -> str:
    """存卷 as typed, e.g. 存十七卷（卷一至十七）; empty when the copy is complete."""
    return (_copy(card).get("extant_juan") or {}).get("raw") or ""


def missing_juan_count(card: dict) -> int | None:
    """卷数 − 存卷数, when both are known."""
    total = ((card.get("edition") or {}).get("juan") or {}).get("count")
    extant = (_copy(card).get("extant_juan") or {}).get("count")
    if total is None or extant is None:
        return None
    return max(total - extant, 0)


def extant_and_missing_text(card: dict) -> str:
    """存缺卷数 for the 登记目录: 存十七卷（卷一至十七），缺三卷."""
    extant = extant_juan_text(card)
    missing = missing_juan_count(card)
    if missing:
        return f"{extant}，缺{int_to_chinese(missing)}卷" if extant else f"缺{int_to_chinese(missing)}卷"
    return extant


def volumes_text(card: dict) -> str:
    """册数/函数: 8册 1函 (装帧 is a field of its own: :func:`binding_text`)."""
    copy_part = _copy(card)
    parts = []
    if copy_part.get("volumes"):
        parts.append(f"{copy_part['volumes']}册")
    if copy_part.get("cases"):
        parts.append(f"{copy_part['cases']}函")
    return " ".join(parts)


def volumes_label(card: dict) -> str:
    """The label that fits :func:`volumes_text`: 册数, 函数 or 册数/函数."""
    copy_part = _copy(card)
    return "/".join(label for key, label in (("volumes", "册数"), ("cases", "函数")) if copy_part.get(key)) or "册数"


def binding_text(card: dict) -> str:
    """装帧: 线装, 包背装 …"""
    return _copy(card).get("binding") or ""


def annotation_text(annotation: dict) -> str:
    """One 批校题跋: （清）黃丕烈跋：… （卷末）."""
    dynasty = f"（{annotation['dynasty']}）" if annotation.get("dynasty") else ""
    text = f"：{annotation['text']}" if annotation.get("text") else ""
    location = f"（{annotation['location']}）" if annotation.get("location") else ""
    return f"{dynasty}{annotation.get('person') or ''}{annotation.get('type') or ''}{text}{location}"


def annotations_text(card: dict) -> str:
    return "；".join(annotation_text(a) for a in _copy(card).get("annotations") or [])


def seal_text(seal: dict) -> str:
    """One 钤印 from its parts: “示例圖書/館藏書印”朱文方印（卷一卷端）."""
    return format_seal(seal)


def seals_text(card: dict) -> str:
    """钤印 as the cataloguer typed them, else composed from the parsed seals."""
    copy_part = _copy(card)
    if copy_part.get("seals_raw"):
        return copy_part["seals_raw"]
    return format_seals(copy_part.get("seals") or [])


def damage_text(damage: dict) -> str:
    """One 破损 entry: 第1册 四级破损 虫蛀、水渍 书口下端虫蛀."""
    parts = (damage.get("volume"), damage.get("level"), "、".join(damage.get("types") or []), damage.get("description"))
    return " ".join(part for part in parts if part)


def damages_text(card: dict) -> str:
    return "；".join(damage_text(d) for d in _copy(card).get("damage") or [])


def layout_text(card: dict) -> str:
    """行款版式 and 版框 as one line of a card: 半葉十行行二十字 框高20.1、宽14.2厘米."""
    edition = card.get("edition") or {}
    return " ".join(filter(None, [(edition.get(key) or {}).get("raw") for key in ("layout", "frame_size")]))


def layout_label(card: dict) -> str:
    """行款版式, 版框, or 行款版式 · 版框 — whichever :func:`layout_text` holds."""
    edition = card.get("edition") or {}
    parts = [label for label, key in (("行款版式", "layout"), ("版框", "frame_size"))
             if (edition.get(key) or {}).get("raw")]
    return " · ".join(parts) or "行款版式"


def card_lines(card: dict) -> list[tuple[str, str, str]]:
    """The card as a Chinese catalogue prints it, line by line: (key, label, text); empty lines left out.

    The label always names what the line holds (册数 only when there are 册; 装帧 on its own line)."""
    edition = card.get("edition") or {}
    local = card.get("local_document") or {}
    lines = [
        ("title", "题名卷数", title_with_juan(card)),
        ("responsibility", "著者", responsibility_text(card)),
        ("edition", "版本", edition.get("edition_statement") or ""),
        ("edition_type", "版本类型", edition_type_text(card)),
        ("layout", layout_label(card), layout_text(card)),
        ("volumes", volumes_label(card), volumes_text(card)),
        ("binding", "装帧", binding_text(card)),
        ("extant_juan", "存卷", extant_juan_text(card)),
        ("seals", "钤印", seals_text(card)),
        ("annotations", "批校题跋", annotations_text(card)),
        ("series", "丛编", edition.get("series") or ""),
        ("notes", "附注", edition.get("notes") or ""),
        ("local", "地方文献", " · ".join(filter(None, [local.get("type"), local.get("place"), local.get("author")]))),
    ]
    return [line for line in lines if line[2]]
