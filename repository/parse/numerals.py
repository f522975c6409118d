"""Chinese numerals as cataloguers type them: 二十四, 一百四十二, 廿四, 一〇八, 貳拾, 24, ２４.

`ParseError` lives here because every parser in this package reads numbers; import it from
`repository.parse`.
"""

from __future__ import annotations

import re
import unicodedata

from ..errors import InvalidInput

__all__ = ["ParseError", "chinese_to_int", "in_language", "int_to_chinese", "unify_ideographs", "NUMERAL_CHARACTERS"]


class ParseError(InvalidInput, ValueError):
    """A cataloguer's string that could not be read at all.

    The message says what was not understood and what to type instead (in Chinese, with a short
    English gloss), so it can be shown to the cataloguer as it is.
    """

    def __init__(self, message: str, raw: str | None = None) -> None:
        super().__init__(message)
        self.raw = raw


_GLOSS = re.compile(r"（[\x20-\x7e]*[A-Za-z]{2}[\x20-\x7e]*）")  # （range runs backwards）


def in_language(message: str, language: str = "zh") -> str:
    """A parser's message as shown to a reader of `language`: Chinese without the English gloss in
    （…）; English (en) with it, as written."""
    return message if language == "en" else _GLOSS.sub("", message)


def unify_ideographs(text: str) -> str:
    """CJK compatibility ideographs → the unified ones they stand for (NFC), one for one.

    Real catalogues carry them: Kanripo writes 乾隆 with 隆 U+F9DC and 余祐 with 祐 U+FA4F. Each maps
    to a single character, so positions in the result are positions in `text`.
    """
    return "".join(
        unicodedata.normalize("NFC", ch) if "\uf900" <= ch <= "\ufaff" or "\U0002f800" <= ch <= "\U0002fa1f"
        else ch
        for ch in text
    )


_DIGITS = {
    "〇": 0, "零": 0, "○": 0, "０": 0,
    "一": 1, "壹": 1, "弌": 1,
    "二": 2, "貳": 2, "贰": 2, "弍": 2, "兩": 2, "两": 2,
    "三": 3, "叁": 3, "參": 3, "参": 3, "弎": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陸": 6, "陆": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_DIGITS.update({str(d): d for d in range(10)})
_DIGITS.update({chr(0xFF10 + d): d for d in range(10)})  # full-width ０-９

_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_MYRIADS = {"萬": 10_000, "万": 10_000, "億": 100_000_000, "亿": 100_000_000}
# 廿 = 二十, 卅 = 三十, 卌 = 四十 (old contracted forms, common in dates: 廿四年)
_CONTRACTED_TENS = {"廿": 20, "卅": 30, "卌": 40}

#: Every character `chinese_to_int` reads; other parsers build their number patterns from it.
NUMERAL_CHARACTERS = "".join(sorted(set(_DIGITS) | set(_UNITS) | set(_MYRIADS) | set(_CONTRACTED_TENS)))


def _fail(text: str) -> ParseError:
    return ParseError(
        f"「{text}」不是可识别的数目：请写成 二十四、一百四十二、廿四、一〇八 或 24"
        f"（not a number we can read）",
        text,
    )


def chinese_to_int(text: str) -> int:
    """The value of a Chinese (or Arabic, or full-width) numeral: 二十四 → 24, 一〇八 → 108."""
    if not isinstance(text, str):
        raise _fail(str(text))
    stripped = unify_ideographs(text.strip())
    if not stripped:
        raise _fail(text)
    if any(ch not in _DIGITS and ch not in _UNITS and ch not in _MYRIADS and ch not in _CONTRACTED_TENS
           for ch in stripped):
        raise _fail(text)

    # Positional form: digits only (一〇八, 二〇二四, 1816, １８１６).
    if all(ch in _DIGITS for ch in stripped):
        if len(stripped) > 1 and any(ch in "兩两" for ch in stripped):
            raise _fail(text)  # 兩 counts things (兩百); it is never a place digit
        value = 0
        for ch in stripped:
            value = value * 10 + _DIGITS[ch]
        return value

    total = 0  # completed 億 / 萬 groups
    section = 0  # value below the current myriad
    digit: int | None = None  # a digit waiting for its unit
    last_unit = 10**9  # units inside a section must decrease: 千 > 百 > 十
    last_myriad = 10**12
    for ch in stripped:
        if ch in _DIGITS:
            if _DIGITS[ch] == 0:
                continue  # 一百零八: 零 only marks a skipped place
            if digit is not None:
                raise _fail(text)  # two digits in a row in a unit numeral (二三十)
            digit = _DIGITS[ch]
        elif ch in _CONTRACTED_TENS:
            if digit is not None or last_unit <= 10:
                raise _fail(text)
            section += _CONTRACTED_TENS[ch]
            last_unit = 10
        elif ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                raise _fail(text)  # 十百, 百百
            section += (1 if digit is None else digit) * unit  # 十 = 一十, 一百十 = 一百一十
            digit = None
            last_unit = unit
        else:  # 萬 / 億
            myriad = _MYRIADS[ch]
            if myriad >= last_myriad:
                raise _fail(text)
            section += digit or 0
            digit = None
            if section == 0:
                raise _fail(text)  # 萬 with nothing before it
            total += section * myriad
            section = 0
            last_unit = 10**9
            last_myriad = myriad
    if digit is not None:
        section += digit
    return total + section


_DISPLAY_DIGITS = "〇一二三四五六七八九"


def _below_myriad(n: int, leading: bool) -> str:
    """0 < n < 10000 in words; `leading` drops the 一 of 一十 (十五, not 一十五)."""
    parts: list[str] = []
    pending_zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // unit % 10
        if digit == 0:
            if parts:
                pending_zero = True
            continue
        if pending_zero:
            parts.append("零")
            pending_zero = False
        if unit == 10 and digit == 1 and not parts and leading:
            parts.append("十")
        else:
            parts.append(_DISPLAY_DIGITS[digit] + name)
    return "".join(parts)


def int_to_chinese(n: int) -> str:
    """Display form of a whole number: 142 → 一百四十二, 10 → 十, 108 → 一百零八, 0 → 〇."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"int_to_chinese needs an int, not {type(n).__name__}")
    if n < 0:
        raise ValueError(f"int_to_chinese needs a number ≥ 0, not {n}")
    if n == 0:
        return "〇"
    if n >= 10**12:
        raise ValueError(f"int_to_chinese handles numbers below 10¹², not {n}")
    groups = [(n // 10**8, "億"), (n // 10**4 % 10**4, "萬"), (n % 10**4, "")]
    out: list[str] = []
    for value, name in groups:
        if value == 0:
            if out and not out[-1].endswith("零"):
                out.append("零")
            continue
        if out and value < 1000 and not out[-1].endswith("零"):
            out.append("零")  # 一萬零五百
        out.append(_below_myriad(value, leading=not out) + name)
    return "".join(out).rstrip("零")
