"""版框 (the printed frame of a leaf) and 开本 (the leaf itself): height × width.

    框高19.4、宽13.2厘米 · 框高19.4釐米，寬13.2釐米 · 版框19.4×13.2厘米 · 19.4x13.2cm
    半框高20.1厘米，寬14.3厘米 · 开本高26.5、宽16.8厘米 · 框高194毫米，宽132毫米

Height comes first in the × form (Chinese practice). 廣/广 is an older word for width. Values are
returned in centimetres; millimetres are converted.
"""

from __future__ import annotations

import re

from .numerals import ParseError, unify_ideographs

__all__ = ["parse_dimensions"]

_FOLD = str.maketrans({
    "寬": "宽", "廣": "宽", "广": "宽", "釐": "厘", "×": "x", "X": "x", "＊": "x", "*": "x", "✕": "x",
    "乘": "x", "．": ".", "，": ",", "、": ",", "；": ";", "（": "(", "）": ")", "開": "开",
    **{chr(0xFF10 + d): str(d) for d in range(10)},
})
_NUMBER = r"\d+(?:\.\d+)?"
_UNIT = r"(?P<{name}>厘米|公分|cm|CM|Cm|毫米|mm|MM)"


def _unit(name: str) -> str:
    return _UNIT.replace("{name}", name)


_HEIGHT = re.compile(rf"高\s*(?P<height>{_NUMBER})\s*{_unit('height_unit')}?")
_WIDTH = re.compile(rf"宽\s*(?P<width>{_NUMBER})\s*{_unit('width_unit')}?")
_PAIR = re.compile(
    rf"(?P<height>{_NUMBER})\s*{_unit('height_unit')}?\s*x\s*(?P<width>{_NUMBER})\s*{_unit('width_unit')}?"
)
# Words that only say what is measured: 版框, 半框, 框, 开本, 书高 …
_LABELS = re.compile(r"半?版?框|开本|书|约|各|为|是|均|:|：")


def _to_cm(value: str, unit: str | None) -> float:
    number = float(value)
    if unit in ("毫米", "mm", "MM"):
        number /= 10
    return round(number, 2)


def parse_dimensions(raw: str) -> dict:
    """Height and width in cm: ``{"height_cm", "width_cm", "warnings"}``; see module docstring.

    A missing width (or height) is kept as None with a warning; ParseError if neither is found.
    """
    text = unify_ideographs(raw or "").translate(_FOLD)
    warnings: list[str] = []
    height = width = None
    height_unit = width_unit = None
    used: list[tuple[int, int]] = []

    pair = _PAIR.search(text)
    if pair:
        height, width = pair.group("height"), pair.group("width")
        height_unit, width_unit = pair.group("height_unit"), pair.group("width_unit")
        used.append(pair.span())
    else:
        height_match = _HEIGHT.search(text)
        width_match = _WIDTH.search(text)
        if height_match:
            height, height_unit = height_match.group("height"), height_match.group("height_unit")
            used.append(height_match.span())
        if width_match:
            width, width_unit = width_match.group("width"), width_match.group("width_unit")
            used.append(width_match.span())
    if height is None and width is None:
        raise ParseError(
            f"未能识别尺寸「{raw}」：请写成 框高19.4、宽13.2厘米 或 19.4×13.2厘米"
            "（could not read height and width）",
            raw,
        )
    # 框高19.4、宽13.2厘米: one unit written once, after the last number, serves both.
    unit = height_unit or width_unit
    if unit is None:
        warnings.append(f"尺寸「{raw}」未写单位，按厘米计（no unit given, read as cm）")
    height_unit = height_unit or unit
    width_unit = width_unit or unit

    result: dict = {
        "height_cm": _to_cm(height, height_unit) if height is not None else None,
        "width_cm": _to_cm(width, width_unit) if width is not None else None,
        "warnings": warnings,
    }
    if width is None:
        warnings.append(f"尺寸「{raw}」未见宽度，只记高度：宽度请写成 宽13.2厘米（width missing）")
    if height is None:
        warnings.append(f"尺寸「{raw}」未见高度，只记宽度：高度请写成 高19.4厘米（height missing）")

    # Report what else was written (a second measurement, a note …), quoted from the raw string.
    remaining = list(raw or "")
    for start, end in used:
        remaining[start:end] = [","] * (end - start)
    for piece in re.split(r"[\s,;，；、。]+", "".join(remaining)):
        bare = _LABELS.sub("", piece.translate(_FOLD))
        if bare and not re.fullmatch(_unit("u"), bare):
            warnings.append(f"尺寸中另有「{piece}」未计入（not read）")
    return result
