"""行款版式: how a printed leaf is laid out, as cataloguers describe it.

    半葉十行行二十字小字雙行同白口左右雙邊單黑魚尾

reads as: per half leaf (半葉, one side of a folded leaf) ten lines (行) of twenty characters (字);
small characters (小字, commentary) in double columns (雙行) of the same count (同); white mouth
(白口, the fold in the middle of the leaf is plain); double borders on left and right (左右雙邊);
a single black fish tail (單黑魚尾, the ornament in the fold).

Input may be traditional or simplified, with Arabic numerals, ranges (二十一至二十二, 21～22) and
any punctuation. Term values come back in simplified form (双, 边, 单, 鱼 …). Whatever is not
understood is named in `warnings`; `ParseError` is raised only if nothing is recognised.
"""

from __future__ import annotations

import re

from .numerals import NUMERAL_CHARACTERS, ParseError, chinese_to_int, unify_ideographs

__all__ = ["parse_page_layout"]

# Traditional → simplified, one character for one, so positions in the folded text are positions in
# the raw text (warnings quote the raw text).
_FOLD = str.maketrans({
    "葉": "叶", "頁": "页", "雙": "双", "邊": "边", "單": "单", "魚": "鱼", "細": "细", "線": "线",
    "綫": "线", "順": "顺", "對": "对", "無": "无", "數": "数", "欄": "栏", "闌": "栏", "間": "间",
    "與": "与", "於": "于", "黒": "黑", "計": "计", "為": "为", "書": "书", "鐫": "镌", "節": "节",
    "～": "~", "〜": "~", "－": "-", "—": "-", "–": "-",
    **{chr(0xFF10 + d): str(d) for d in range(10)},
})

_NUM = rf"[{NUMERAL_CHARACTERS}]+"
_RANGE = rf"(?P<{{name}}_min>{_NUM})(?:\s*(?:至|到|~|-)\s*(?P<{{name}}_max>{_NUM}))?"


def _range(name: str) -> str:
    return _RANGE.replace("{name}", name)


# 小字 (commentary): 小字雙行同, 小字雙行28字, 小字雙行，行二十八字, 注文小字雙行字數同, 小字單行.
_SMALL = re.compile(
    r"(?:注文?|夹注)?小(?:字|注)\s*(?P<columns>双行|单行)?[，,、\s]*"
    rf"(?:(?:每?行)?\s*{_range('small')}\s*字\s*(?:不等)?"
    r"|(?P<same>(?:字数|行款)?(?:相?同|同正文|与正文同|与大字同)))?"
)
# Lines per half leaf: 半葉十行, 每半叶八行, 十行, 12行, 九至十行.
_LINES = re.compile(rf"(?:每?半(?:叶|页)|每(?:叶|页))?\s*{_range('lines')}\s*行(?!字)")
# Characters per line: 行二十字, 二十字, 21~22字, 行二十六至二十八字不等.
_CHARS = re.compile(rf"(?:每?行)?\s*{_range('chars')}\s*字\s*(?P<chars_irregular>不等)?")
# 行字不等 / 字数不等: counts vary and are not given.
_IRREGULAR = re.compile(r"(?:每?行)?(?:行字|字数|行款)(?:均)?不等|行字数不等")
_MOUTH = re.compile(
    r"(?:版心)?(?P<mouth>上黑口下白口|上白口下黑口|(?:细|大|小|粗|线)?黑口|白口|花口)"
)
_BORDERS = re.compile(r"(?P<where>四周|左右|上下)(?P<kind>单|双|花|文武|竹节)(?:边|栏)(?:栏)?")
_FISH_TAIL = re.compile(
    r"(?P<fish>无鱼尾|(?:双顺|双对|上下|单|双|三|顺|对)?(?:黑|白|花|线)?鱼尾)"
)
_SEPARATOR_CHARACTERS = set("，,、；;。.：:　 \t\n()（）[]【】")


def _value_range(match: re.Match, name: str) -> dict | None:
    low_text = match.group(f"{name}_min")
    high_text = match.group(f"{name}_max")
    low, high = _read_pair(low_text, high_text)
    return {"min": low, "max": high}


def _read_pair(low_text: str, high_text: str | None) -> tuple[int, int]:
    """Two numbers of a range; 十九二十 (no 至 between them) is also a range."""
    if high_text is not None:
        low, high = chinese_to_int(low_text), chinese_to_int(high_text)
        return (low, high) if low <= high else (high, low)
    digits = "一二三四五六七八九"
    # 二十七八 = 27 or 28: the last digit is shared out (before 二十七 + 八 is read as 二十 + 七八).
    if len(low_text) >= 3 and low_text[-1] in digits and low_text[-2] in digits \
            and digits.index(low_text[-1]) == digits.index(low_text[-2]) + 1:
        try:
            return chinese_to_int(low_text[:-1]), chinese_to_int(low_text[:-2] + low_text[-1])
        except ParseError:
            pass
    try:
        value = chinese_to_int(low_text)
        return value, value
    except ParseError:
        pass
    # 十九二十 = 19 to 20: two numbers written one after the other.
    for cut in range(1, len(low_text)):
        try:
            low, high = chinese_to_int(low_text[:cut]), chinese_to_int(low_text[cut:])
        except ParseError:
            continue
        if low < high <= low + 10:
            return low, high
    raise ParseError(f"「{low_text}」不是数目", low_text)


def parse_page_layout(raw: str) -> dict:
    """Read a 行款版式 statement into its parts; see the module docstring.

    Returns ``{"lines_per_half_leaf": {min, max} | None, "chars_per_line": {min, max, irregular} |
    None, "small_chars": {double_column, same_as_main, chars_per_line} | None, "mouth", "borders",
    "fish_tail", "warnings"}``.
    """
    text = unify_ideographs(raw or "").translate(_FOLD)  # one character for one: positions hold
    result: dict = {
        "lines_per_half_leaf": None,
        "chars_per_line": None,
        "small_chars": None,
        "mouth": None,
        "borders": None,
        "fish_tail": None,
        "warnings": [],
    }
    consumed = [False] * len(text)
    work = text

    def take(pattern: re.Pattern) -> re.Match | None:
        """The first match that lies in text not yet read; mark it as read."""
        nonlocal work
        for match in pattern.finditer(work):
            if match.end() == match.start():
                continue
            if any(consumed[match.start():match.end()]):
                continue
            for index in range(match.start(), match.end()):
                consumed[index] = True
            # Blank out what was read so later patterns cannot straddle it.
            work = work[: match.start()] + "\0" * (match.end() - match.start()) + work[match.end():]
            return match
        return None

    def safe(read, piece: str):
        try:
            return read()
        except ParseError:
            result["warnings"].append(f"行款中的数目未能识别：「{piece}」")
            return None

    small = take(_SMALL)
    if small:
        small_chars = None
        if small.group("small_min"):
            small_chars = safe(lambda: _value_range(small, "small"), small.group(0))
        result["small_chars"] = {
            "double_column": small.group("columns") == "双行",
            "same_as_main": bool(small.group("same")),
            "chars_per_line": small_chars,
        }
        if small.group("columns") is None and small.group("same") is None and small_chars is None:
            result["warnings"].append(f"小字的行款未写明：「{raw[small.start():small.end()]}」")

    lines = take(_LINES)
    if lines:
        result["lines_per_half_leaf"] = safe(lambda: _value_range(lines, "lines"), lines.group(0))

    irregular = take(_IRREGULAR)
    chars = take(_CHARS)
    if chars:
        value = safe(lambda: _value_range(chars, "chars"), chars.group(0))
        if value is not None:
            irregular_count = bool(chars.group("chars_irregular") or irregular)
            result["chars_per_line"] = {**value, "irregular": irregular_count}
    elif irregular:
        result["chars_per_line"] = {"min": None, "max": None, "irregular": True}

    mouth = take(_MOUTH)
    if mouth:
        result["mouth"] = mouth.group("mouth")
    borders = take(_BORDERS)
    if borders:
        result["borders"] = f"{borders.group('where')}{borders.group('kind')}边"
    fish = take(_FISH_TAIL)
    if fish:
        result["fish_tail"] = fish.group("fish")

    # Everything else that is not punctuation is reported, quoted from the raw string.
    pieces: list[str] = []
    start = None
    for index, ch in enumerate(text):
        unread = not consumed[index] and ch not in _SEPARATOR_CHARACTERS
        if unread and start is None:
            start = index
        elif not unread and start is not None:
            pieces.append(raw[start:index])
            start = None
    if start is not None:
        pieces.append(raw[start:])

    recognised = any(result[key] is not None for key in (
        "lines_per_half_leaf", "chars_per_line", "small_chars", "mouth", "borders", "fish_tail"))
    if not recognised:
        raise ParseError(
            f"未能识别行款版式「{raw}」：请写成 半葉十行行二十字小字雙行同白口左右雙邊單黑魚尾 这样的形式"
            "（could not read the page layout）",
            raw,
        )
    for piece in pieces:
        result["warnings"].append(f"未能识别：「{piece}」")
    return result
