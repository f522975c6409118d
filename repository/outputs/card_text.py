"""Card fields as they are printed on guide cards, dossiers and the 登记目录 (census register).

Stored strings are printed as the cataloguer typed them; only counts (册数, 函数, missing juan)
are composed here.
"""

from __future__ import annotations

from repository.card import responsibility_text, title_with_juan
from repository.parse import int_to_chinese

__all__ = [
    "annotation_text",
    "annotations_text",
    "call_number",
    "census_number",
    "damage_text",
    "damages_text",
    "edition_text",
    "extant_juan_text",
    "extant_and_missing_text",
    "missing_juan_count",
    "responsibility_text",
    "seal_text",
    "seals_text",
    "title_with_juan",
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
    """册数/函数: 8册 1函."""
    copy_part = _copy(card)
    parts = []
    if copy_part.get("volumes"):
        parts.append(f"{copy_part['volumes']}册")
    if copy_part.get("cases"):
        parts.append(f"{copy_part['cases']}函")
    return " ".join(parts)


def annotation_text(annotation: dict) -> str:
    """One 批校题跋: （清）黃丕烈跋：… （卷末）."""
    dynasty = f"（{annotation['dynasty']}）" if annotation.get("dynasty") else ""
    text = f"：{annotation['text']}" if annotation.get("text") else ""
    location = f"（{annotation['location']}）" if annotation.get("location") else ""
    return f"{dynasty}{annotation.get('person') or ''}{annotation.get('type') or ''}{text}{location}"


def annotations_text(card: dict) -> str:
    return "；".join(annotation_text(a) for a in _copy(card).get("annotations") or [])


def seal_text(seal: dict) -> str:
    """One 钤印 from its parts: 「示例圖書/館藏書印」朱文方形印（卷一卷端）."""
    position = f"（{seal['position']}）" if seal.get("position") else ""
    return f"「{seal.get('text', '')}」{seal.get('style') or ''}{seal.get('shape') or ''}印{position}"


def seals_text(card: dict) -> str:
    """钤印 as the cataloguer typed them, else composed from the parsed seals."""
    copy_part = _copy(card)
    if copy_part.get("seals_raw"):
        return copy_part["seals_raw"]
    return "；".join(seal_text(s) for s in copy_part.get("seals") or [])


def damage_text(damage: dict) -> str:
    """One 破损 entry: 第1册 四级破损 虫蛀、水渍 书口下端虫蛀."""
    parts = (damage.get("volume"), damage.get("level"), "、".join(damage.get("types") or []), damage.get("description"))
    return " ".join(part for part in parts if part)


def damages_text(card: dict) -> str:
    return "；".join(damage_text(d) for d in _copy(card).get("damage") or [])
