"""版本类型 (edition type) from the 版本 statement cataloguers type.

    明崇禎毛氏汲古閣刻本          → 刻本      清刻後印本 / 宋刻元明遞修本 → 刻本
    明閔齊伋刻朱墨套印本          → 套印本    影宋鈔本                  → 影抄本
    清乾隆武英殿聚珍版印本        → 木活字本  民國上海商務印書館影印明刻本 → 影印本
    清乾隆文淵閣四庫全書本        → None      (the statement does not name a type)

The rules are data: ``x-derive`` of ``metadata_schemas/vocabularies/edition_type.json``, an
ordered list of regular expressions over the statement in simplified characters (OpenCC t2s),
each naming a term of the vocabulary; the first that matches wins. Bracketed remarks
(「（卷三抄配）」) are not read: they describe a part of the copy, not the edition. A statement no
rule reads gives None — many statements (「四庫全書本」「批校本」) rightly name no type, so this is
not an error.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache
from pathlib import Path

import opencc

__all__ = ["parse_edition_type", "EDITION_TYPE_PATH"]

EDITION_TYPE_PATH = Path(__file__).resolve().parents[2] / "metadata_schemas" / "vocabularies" / "edition_type.json"

# （卷三抄配） (有抄補) 〔殘〕 [存卷一]: remarks on part of the copy
_REMARKS = re.compile(r"[（(〔\[【][^）)〕\]】]*[）)〕\]】]")


@cache
def _rules() -> tuple[tuple[re.Pattern, str], ...]:
    vocabulary = json.loads(EDITION_TYPE_PATH.read_text(encoding="utf-8"))
    terms = set(vocabulary["enum"])
    rules = []
    for rule in vocabulary.get("x-derive") or []:
        if rule["term"] not in terms:
            raise ValueError(f"edition_type.json x-derive: 「{rule['term']}」 is not a term of the vocabulary")
        rules.append((re.compile(rule["pattern"]), rule["term"]))
    return tuple(rules)


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def parse_edition_type(statement: str) -> dict | None:
    """``{"edition_type": "刻本", "matched": "刻"}`` for a 版本 statement, or None when it names no type."""
    text = unicodedata.normalize("NFC", statement or "").strip()
    if not text:
        return None
    main = _REMARKS.sub("", _t2s().convert(text))
    for pattern, term in _rules():
        found = pattern.search(main)
        if found:
            word = found.group("word") if "word" in pattern.groupindex else found.group(0)
            return {"edition_type": term, "matched": word}
    return None
