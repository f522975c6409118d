"""卷数 (number of juan, the "chapters" of a Chinese book) as written after a title.

    二十卷               → count 20
    30 卷 / (5) 卷       → count 30 / 5 (Kanripo `:EXTENT:`; the bracketed form counts one part of
                            a larger work, e.g. the 詩集 of a 集)
    □卷 / □□卷 / # 卷    → count unknown (□ is the catalogue mark for an unreadable character;
                            Kanripo writes #)
    不分卷               → the book is not divided into juan
    二十卷首一卷         → count 20 and a supplement 首 (卷首, front matter counted apart) of 1 juan
    四卷附錄一卷         → count 4, supplement 附錄 1
    卷首一卷             → no main count, supplement 首 1
"""

from __future__ import annotations

import re

from .numerals import NUMERAL_CHARACTERS, ParseError, chinese_to_int, unify_ideographs

__all__ = ["parse_juan_count"]

_NUMBER = rf"[{NUMERAL_CHARACTERS}]+"
_UNKNOWN = r"[□口#＃?？]+"  # 口 is the usual mistyping of □
_COUNT = rf"(?:[(（]\s*(?:{_NUMBER})\s*[)）]|{_NUMBER}|{_UNKNOWN})"
_SEPARATORS = "，,、；;+＋ \u3000"
# One part: an optional label (首, 附錄, 補遺 …), then "N卷" or 不分卷.
_PART = re.compile(
    rf"(?P<label>[^{NUMERAL_CHARACTERS}□#＃?？(（\s{_SEPARATORS}]*?)\s*"
    rf"(?:(?P<count>{_COUNT})\s*卷|(?P<undivided>不分卷))"
)
# Front/back matter labels written with 卷 in front: 卷首 → 首, 卷末 → 末.
_LABEL_PREFIX = re.compile(r"^卷(?=[首末])")


def _count_value(text: str) -> tuple[int | None, bool]:
    """(count, unknown) for one count token."""
    inner = text.strip("()（） ")
    if re.fullmatch(_UNKNOWN, inner):
        return None, True
    if any(ch in "□口#＃?？" for ch in inner):
        return None, True
    return chinese_to_int(inner), False


def parse_juan_count(raw: str) -> dict:
    """Read a 卷数 statement; see the module docstring for the forms understood.

    Returns ``{"count", "unknown", "undivided", "supplements": [{"label", "count"}], "warnings"}``.
    """
    text = unify_ideographs((raw or "").strip())
    if not text:
        raise ParseError("卷数为空：请写成 二十卷、不分卷 或 □卷（empty juan count）", raw)
    if text.startswith("存") or text.startswith("殘存") or text.startswith("残存"):
        raise ParseError(
            f"「{text}」是存卷，不是全书卷数：请把它填入存卷字段，卷数写全书卷数如 二十卷"
            "（this is an extant-juan statement; put it in 存卷）",
            raw,
        )
    result: dict = {"count": None, "unknown": False, "undivided": False, "supplements": [], "warnings": []}
    position = 0
    first = True
    unread: list[str] = []
    while position < len(text):
        if text[position] in _SEPARATORS:
            position += 1
            continue
        match = _PART.match(text, position)
        if not match:
            unread.append(text[position:])
            break
        label = _LABEL_PREFIX.sub("", match.group("label"))
        if match.group("undivided"):
            count, unknown, undivided = None, False, True
        else:
            count, unknown = _count_value(match.group("count"))
            undivided = False
        if first and not label:
            result.update(count=count, unknown=unknown, undivided=undivided)
        elif label:
            result["supplements"].append({"label": label, "count": count})
        else:  # a second unlabelled "N卷"
            unread.append(match.group(0))
        first = False
        position = match.end()
    if first:  # nothing read at all
        raise ParseError(
            f"未能识别卷数「{text}」：请写成 二十卷、30卷、不分卷、□卷 或 二十卷首一卷"
            "（could not read the juan count）",
            raw,
        )
    for piece in unread:
        result["warnings"].append(f"卷数中未能识别：「{piece}」（not understood, ignored）")
    return result
