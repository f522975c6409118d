"""IIIF language maps for Chinese text, and the card's fields as bilingual metadata pairs.

A catalogue card keeps text as the cataloguer typed it — titles, 著者 and 版本 copied from the
book (照录), so usually in traditional characters. A language map gives that text under
``zh-Hant`` and a simplified form made with OpenCC under ``zh-Hans``. OpenCC is many-to-one
(髮/發 → 发), so the simplified form is for reading and searching only; the catalogued text
stays the first value and is never changed.
"""

from __future__ import annotations

import re
from functools import cache

from guji import metadata_schemas
from guji.repository.card import grade_label, responsibility_text, title_with_juan

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@cache
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def simplified(text: str) -> str:
    return _t2s().convert(text)


def chinese(text: str) -> dict[str, list[str]]:
    """`{"zh-Hant": [as catalogued], "zh-Hans": [OpenCC t2s]}`; `{"none": [text]}` for text
    without Chinese characters (leaf numbers such as 1a)."""
    if not CJK.search(text):
        return {"none": [text]}
    return {"zh-Hant": [text], "zh-Hans": [simplified(text)]}


def bilingual(traditional: str, english: str) -> dict[str, list[str]]:
    """A field name in both scripts and in English."""
    return {"zh-Hant": [traditional], "zh-Hans": [simplified(traditional)], "en": [english]}


def english_title(card: dict) -> str | None:
    """An English title, where the card has one: a 并列题名 / 英文题名 among the other titles, or
    any other title written in Latin letters only."""
    for other in (card.get("edition") or {}).get("other_titles") or []:
        title = str(other.get("title") or "").strip()
        kind = str(other.get("type") or "")
        if title and not CJK.search(title) and (any(k in kind for k in ("英文", "并列", "並列")) or title.isascii()):
            return title
    return None


def book_label(card: dict) -> dict[str, list[str]]:
    """The manifest label: 题名卷数 as catalogued (zh-Hant), simplified (zh-Hans), English if any."""
    title = title_with_juan(card) or card.get("id", "")
    label = chinese(title)
    english = english_title(card)
    if english:
        label["en"] = [english]
    return label


# (label in traditional characters, English label, how to read the value from a card)
def _extant(card: dict) -> str:
    return ((card.get("copy") or {}).get("extant_juan") or {}).get("raw") or ""


def _layout(card: dict) -> str:
    return ((card.get("edition") or {}).get("layout") or {}).get("raw") or ""


def _lists(card: dict) -> str:
    # 名录: 《国家珍贵古籍名录》第2批 04527
    parts = []
    for listing in (card.get("copy") or {}).get("lists") or []:
        scope = listing.get("scope") or ""
        name = "《國家珍貴古籍名錄》" if scope == "国家" else f"{scope}級珍貴古籍名錄" if scope else "珍貴古籍名錄"
        batch = f"第{listing['batch']}批" if listing.get("batch") else ""
        parts.append(" ".join(p for p in (name + batch, str(listing.get("number") or "")) if p))
    return "；".join(parts)


def _classification(card: dict) -> str:
    code = ((card.get("edition") or {}).get("classification") or {}).get("code")
    node = metadata_schemas.classification_by_code(code) if code else None
    return "·".join(node["path_hant"]) if node else ""


METADATA_FIELDS = [
    ("題名卷數", "Title", title_with_juan),
    ("著者", "Author", responsibility_text),
    ("版本", "Edition", lambda c: (c.get("edition") or {}).get("edition_statement") or ""),
    ("存卷", "Extant juan", _extant),
    ("行款版式", "Layout", _layout),
    ("四部分類", "Classification (Four Branches)", _classification),
    ("索書號", "Call number", lambda c: (c.get("copy") or {}).get("call_number") or ""),
    ("普查編號", "National census number", lambda c: (c.get("copy") or {}).get("census_number") or ""),
    ("定級", "Grade", lambda c: grade_label(c) or ""),
    ("名錄", "Precious books list", _lists),
]


def metadata_pairs(card: dict) -> list[dict]:
    """The card's main fields as IIIF `metadata`: bilingual labels, Chinese values; empty fields
    are left out."""
    pairs = []
    for traditional, english, read in METADATA_FIELDS:
        value = str(read(card) or "").strip()
        if value:
            pairs.append({"label": bilingual(traditional, english), "value": chinese(value)})
    return pairs


def holding_statement(card: dict) -> dict | None:
    """requiredStatement: 收藏單位 (the holding institution), when the card names one."""
    institution = str((card.get("copy") or {}).get("holding_institution") or "").strip()
    if not institution:
        return None
    return {"label": bilingual("收藏單位", "Holding institution"), "value": chinese(institution)}


RIGHTS_PATTERN = re.compile(r"^http://(creativecommons\.org/(licenses|publicdomain)/|rightsstatements\.org/vocab/)")


def rights(card: dict) -> str | None:
    """The card's rights URI when it is one the Presentation 3 schema accepts (http://, CC or
    rightsstatements.org); the card schema's vocabulary only holds such URIs."""
    value = str(card.get("rights") or "").strip()
    return value if RIGHTS_PATTERN.match(value) else None
