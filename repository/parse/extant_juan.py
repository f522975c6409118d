"""存卷: which juan (卷) of an incomplete copy survive.

    存十卷（卷一至十）                    → count 10, juan 1–10
    存卷一至五、卷八                      → count 6 (worked out from the list)
    存四十卷（卷一至三十、四十一至五十）    → count 40
    存卷首、卷一至三                      → 卷首 (front matter) as a labelled entry, juan 1–3
    存十卷（卷上一至十）                  → juan 1–10 of section 上
    前集卷一至十、後集卷一至五            → sections 前集 and 後集
    存63 卷                               → count 63 (Kanripo `:EXTENT:`), no list

A range is ``{"section", "start", "end", "label"}``: numbered juan have start/end (section is the
part they belong to, or None); named pieces such as 卷首, 卷末, 目錄, 附錄 have only a label. The
count, when not stated, is the number of numbered juan in the list (labelled pieces are not
counted). A stated count that disagrees with the list is kept, with a warning.
"""

from __future__ import annotations

import re

from .numerals import NUMERAL_CHARACTERS, ParseError, chinese_to_int, unify_ideographs

__all__ = ["parse_extant_juan", "juan_set"]

_NUMBER = rf"[{NUMERAL_CHARACTERS}]+"
_FOLD = str.maketrans({
    "（": "(", "）": ")", "［": "(", "］": ")", "[": "(", "]": ")",
    "〔": "(", "〕": ")", "【": "(", "】": ")",
    "，": ",", "、": ",", "；": ",", ";": ",", "及": ",", "和": ",", "又": ",",
    "～": "至", "~": "至", "〜": "至", "-": "至", "－": "至", "—": "至", "–": "至", "到": "至",
})
# 存 / 殘存 / 僅存, then an optional count "十卷" / "63 卷", then an optional list.
_HEAD = re.compile(rf"^\s*(?:殘|残|僅|仅)?存?\s*(?:(?P<count>{_NUMBER})\s*卷)?\s*")
# Sections written before the numbers: 上中下 (卷上一), 前集/後集/續集 …
_SECTION_WORD = r"(?:[^\s,()至卷\d{nums}]{1,3}?(?:集|編|编|部|函|册|冊)|[上中下前後后])"
_SECTION_WORD = _SECTION_WORD.replace("{nums}", NUMERAL_CHARACTERS)
_ENTRY = re.compile(
    rf"^(?P<section1>{_SECTION_WORD})?卷?(?P<section2>[上中下])?(?P<start>{_NUMBER})"
    rf"(?:至(?:(?P=section1)|(?P=section2))?卷?(?:[上中下])?(?P<end>{_NUMBER}))?"
    rf"(?P<part>[上中下])?$"
)
# A named piece (Chinese characters only): anything written with 卷 in front (卷首, 卷末), or one
# of these words (目錄, 附錄 …) without it.
_LABEL_WORDS = (
    "首", "末", "目錄", "目录", "總目", "总目", "附錄", "附录", "序", "跋", "凡例",
    "補遺", "补遗", "拾遺", "拾遗", "年譜", "年谱", "圖", "图", "考證", "考证",
    "校勘記", "校勘记", "札記", "札记", "提要", "外集", "別集", "别集",
)
_LABEL = re.compile(r"^卷?(?P<label>[\u3400-\u9fff\U00020000-\U0002ffff]{1,6})$")  # CJK blocks


def _entry(piece: str, section_before: str | None) -> dict:
    """One item of the list: 卷一至五 / 八 / 卷首 / 前集卷一至十 / 卷上一至十."""
    match = _ENTRY.match(piece)
    if match:
        section = match.group("section1") or match.group("section2") or section_before
        start = chinese_to_int(match.group("start"))
        end = chinese_to_int(match.group("end")) if match.group("end") else start
        if end < start:
            raise ParseError(f"存卷范围「{piece}」起讫颠倒：请写成 卷一至十（range runs backwards）", piece)
        label = match.group("part")  # 卷一上: the upper half of juan 1
        return {"section": section, "start": start, "end": end, "label": label}
    label = _LABEL.match(piece)
    if label and not re.search(rf"[{NUMERAL_CHARACTERS}]", label.group("label")) \
            and (piece.startswith("卷") or label.group("label").startswith(_LABEL_WORDS)):
        return {"section": None, "start": None, "end": None, "label": label.group("label")}
    raise ParseError(f"未能识别存卷中的「{piece}」", piece)


def parse_extant_juan(raw: str) -> dict:
    """Read a 存卷 statement: ``{"count", "ranges": [{section, start, end, label}], "warnings"}``."""
    original = unify_ideographs((raw or "").strip())
    if not original:
        raise ParseError(
            "存卷为空：请写成 存十卷（卷一至十） 或 存卷一至五、卷八（empty extant-juan statement）", raw
        )
    text = original.translate(_FOLD)
    head = _HEAD.match(text)
    assert head is not None  # every part of _HEAD is optional
    warnings: list[str] = []
    stated: int | None = None
    if head.group("count"):
        try:
            stated = chinese_to_int(head.group("count"))
        except ParseError:
            warnings.append(f"存卷数「{head.group('count')}」未能识别")
    rest = text[head.end():].strip()
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    elif rest.startswith("(") and ")" in rest:
        closing = rest.index(")")
        warnings.append(f"存卷中未能识别：「{rest[closing + 1:].strip()}」")
        rest = rest[1:closing]

    ranges: list[dict] = []
    section: str | None = None
    for piece in (p.strip().replace(" ", "").replace("\u3000", "") for p in rest.split(",")):
        if not piece:
            continue
        try:
            entry = _entry(piece, section)
        except ParseError as error:
            warnings.append(str(error) if "颠倒" in str(error) else f"存卷中未能识别：「{piece}」")
            continue
        # A section carries on to the numbers after it: 前集卷一至十、十二 → both in 前集.
        if entry["start"] is not None:
            section = entry["section"]
        ranges.append(entry)

    if stated is None and not ranges:
        details = "；".join(warnings) + "。" if warnings else ""
        raise ParseError(
            f"未能识别存卷「{original}」：{details}请写成 存十卷（卷一至十）、存卷一至五、卷八 或 存63卷"
            "（could not read which juan survive）",
            raw,
        )
    numbered = sum(r["end"] - r["start"] + 1 for r in ranges if r["start"] is not None)
    has_numbers = any(r["start"] is not None for r in ranges)
    count = stated if stated is not None else (numbered if has_numbers else None)
    if stated is not None and has_numbers and stated != numbered:
        labelled = sum(1 for r in ranges if r["start"] is None)
        if stated != numbered + labelled:
            warnings.append(
                f"存卷写作{stated}卷，但所列卷次合计{numbered}卷，请核对"
                f"（stated count {stated} differs from the {numbered} juan listed）"
            )
    return {"count": count, "ranges": ranges, "warnings": warnings}


def juan_set(parsed: dict) -> set[tuple[str | None, int]]:
    """Every numbered extant juan as (section, number); labelled pieces (卷首 …) are left out."""
    extant: set[tuple[str | None, int]] = set()
    for entry in parsed.get("ranges") or []:
        if entry.get("start") is None:
            continue
        end = entry.get("end") if entry.get("end") is not None else entry["start"]
        extant.update((entry.get("section"), number) for number in range(entry["start"], end + 1))
    return extant
