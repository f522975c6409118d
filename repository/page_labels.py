"""Page labels as the library writes them: 叶一a, 叶一b … or 葉一上, 葉一下 in a traditional-script catalogue.

A page (one scan) of a 古籍 is one side of a leaf (叶/葉): the a side (前半叶, 上) and the b side
(后半叶, 下). Ingest gives every page a default label from its position (``1a``, ``1b``, ``2a`` …,
stored as both ``leaf`` and ``label`` in structure.json); a label the book folder's structure.json
gave (卷二 葉一a, 封面, 書衣) or one OCR read from the 版心 (``"label_source": "ocr"``, see docs/ocr.md)
is kept. Only for display, where a label is still the default — or a Kanripo page marker such as
``002-1a`` on a text page without a scan — it is written out in the card's script:

    simplified card:  1a → 叶一a        002-1a → 卷二 叶一a
    traditional card: 1a → 葉一上       002-1a → 卷二 葉一上

The script is the one the card is catalogued in (:func:`card_script`): 题名 first, then 版本 and
责任说明, read with OpenCC (a character OpenCC t2s changes is traditional, one s2t changes is
simplified, asked only when t2s changes nothing); a card whose fields are the same in both scripts
gets the site's own, simplified.
Nothing stored changes.
"""

from __future__ import annotations

import re
from functools import cache

from .parse.numerals import int_to_chinese

SIMPLIFIED = "simplified"
TRADITIONAL = "traditional"
_LEAF = re.compile(r"(?:(\d{1,4})-)?(\d{1,4})([ab])")  # 1a, 12b, 002-1a (Kanripo 卷-叶)
_OCR_LEAF = re.compile(r"([叶葉])([〇零一二三四五六七八九十百千–]+)([ab上下]?)$")


@cache
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def _changed(text: str, config: str) -> int:
    converted = _converter(config).convert(text)
    return sum(1 for a, b in zip(text, converted, strict=False) if a != b)


def text_script(text: str) -> str | None:
    """TRADITIONAL or SIMPLIFIED when `text` leans one way, None when it reads the same in both."""
    if _changed(text, "t2s"):  # 詩, 淵, 縣: only traditional text has characters t2s changes
        return TRADITIONAL
    if _changed(text, "s2t"):  # 忆, 历 (s2t also turns a few shared characters, 注 → 註, so this comes second)
        return SIMPLIFIED
    return None


def script_of_texts(*texts: str | None) -> str:
    """The script of the first of `texts` that leans one way; SIMPLIFIED when none does."""
    for text in texts:
        script = text_script(str(text or ""))
        if script:
            return script
    return SIMPLIFIED


def card_script(card: dict) -> str:
    """The script the card is catalogued in (see the module's docstring)."""
    edition = card.get("edition") or {}
    return script_of_texts(edition.get("title"), edition.get("edition_statement"), edition.get("responsibility_raw"))


def leaf_label(leaf: int, side: str, script: str, juan: int | None = None) -> str:
    """叶十二b / 葉十二下, with 卷 when given (卷二 叶一a)."""
    word, sides = ("葉", {"a": "上", "b": "下"}) if script == TRADITIONAL else ("叶", {"a": "a", "b": "b"})
    text = f"{word}{int_to_chinese(leaf)}{sides.get(side, side)}"
    return f"卷{int_to_chinese(juan)} {text}" if juan else text


def display_label(label: str | None, script: str = SIMPLIFIED, source: str | None = None) -> str:
    """A page's label for readers: a default or Kanripo label written out in `script`; an OCR'd one
    in `script`'s word for leaf and sides; any other (given by the library) as it is."""
    label = str(label or "").strip()
    match = _LEAF.fullmatch(label)
    if match:
        juan = int(match.group(1)) if match.group(1) else None
        return leaf_label(int(match.group(2)), match.group(3), script, juan or None)
    if source == "ocr":
        found = _OCR_LEAF.search(label)
        if found:
            word = "葉" if script == TRADITIONAL else "叶"
            side = found.group(3)
            side = {"a": "上", "b": "下"}.get(side, side) if script == TRADITIONAL else \
                {"上": "a", "下": "b"}.get(side, side)
            return label[:found.start()] + word + found.group(2) + side
    return label


def page_entry_label(entry: dict, script: str) -> str:
    """The display label of one structure.json page entry."""
    label = entry.get("label") or entry.get("leaf")
    return display_label(label, script, source=entry.get("label_source")) or str(entry.get("page") or "")
