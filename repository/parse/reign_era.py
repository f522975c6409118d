"""Dates by reign era (年号纪年) → Gregorian years.

    明萬曆二十四年              → 1596          (dynasty 明, era 萬曆, year 24 of the era)
    清道光 / 清道光間 / 道光年間 → 1821–1850     (the whole era)
    清光緒甲午                  → 1894          (甲午: a year of the sixty-year cycle, 干支)
    清康熙至乾隆間 / 明嘉靖隆慶間 → 1662–1795 / 1522–1572
    清嘉慶二十年(1816)          → 1815, with a warning: the bracketed year disagrees
    宋 / 明 / 宋刻元修           → the dynasty's span (宋刻元修: 宋 only, with a warning)
    民國十年                    → 1921

The table of dynasties and eras is data: metadata_schemas/vocabularies/reign_eras.json. Traditional,
simplified and common variant characters (萬歷, 天啓, 光緖, 景泰閒) are all read. When an era name was
used by several dynasties and no dynasty is written, the latest use is chosen and a warning names the
others. Negative years are years BC (no year 0).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .numerals import NUMERAL_CHARACTERS, ParseError, chinese_to_int, unify_ideographs

__all__ = ["parse_reign_date", "find_reign_date", "REIGN_ERAS_PATH"]

REIGN_ERAS_PATH = (
    Path(__file__).resolve().parents[2] / "metadata_schemas" / "vocabularies" / "reign_eras.json"
)

_STEMS = "甲乙丙丁戊己庚辛壬癸"  # 天干
_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"  # 地支


@dataclass(frozen=True)
class _Era:
    name: str
    dynasty: str
    start: int
    end: int

    @property
    def length(self) -> int:
        return _years_between(self.start, self.end)

    def year(self, number: int) -> int:
        """Gregorian year of year `number` of the era (元年 = 1)."""
        year = self.start + number - 1
        if self.start < 0 <= year:
            year += 1  # there is no year 0 between 1 BC and 1 AD
        return year

    def label(self) -> str:
        return f"{self.dynasty}{self.name}（{self.start}–{self.end}）"


@dataclass(frozen=True)
class _Table:
    dynasties: dict[str, dict]  # canonical name → {"start", "end", "includes", "part_of"}
    dynasty_forms: dict[str, str]  # folded written form → canonical name
    era_forms: dict[str, tuple[_Era, ...]]  # folded written form → every era of that name
    fold: dict[int, str]
    longest: int

    def scope(self, dynasty: str) -> set[str]:
        """The dynasty and all it includes: 宋 → {宋, 北宋, 南宋}."""
        found = {dynasty}
        for part in self.dynasties[dynasty].get("includes", []):
            found |= self.scope(part)
        return found


def _years_between(start: int, end: int) -> int:
    return end - start + 1 - (1 if start < 0 < end else 0)


@cache
def _table() -> _Table:
    data = json.loads(REIGN_ERAS_PATH.read_text(encoding="utf-8"))
    traditional_characters = {ch for d in data["dynasties"] for e in d["eras"] for ch in e["name"]}
    traditional_characters |= {ch for d in data["dynasties"] for ch in d["name"]}
    # Fold simplified and variant characters onto the traditional ones, one character for one, but
    # never a character that itself occurs in a traditional name (升 of 升平 stays 升).
    fold: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for dynasty in data["dynasties"]:
        pairs.append((dynasty["name"], dynasty.get("simplified", dynasty["name"])))
        for era in dynasty["eras"]:
            pairs.append((era["name"], era.get("simplified", era["name"])))
    for traditional, simplified in pairs:
        if len(traditional) != len(simplified):
            continue
        for t_ch, s_ch in zip(traditional, simplified, strict=True):
            if t_ch != s_ch and s_ch not in traditional_characters:
                fold.setdefault(s_ch, t_ch)
    for variant, standard in data.get("variant_characters", {}).items():
        if variant not in traditional_characters:
            fold.setdefault(variant, standard)
    fold_table = str.maketrans(fold)

    def folded(text: str) -> str:
        return text.translate(fold_table)

    dynasties: dict[str, dict] = {}
    dynasty_forms: dict[str, str] = {}
    era_forms: dict[str, list[_Era]] = {}
    for dynasty in data["dynasties"]:
        name = dynasty["name"]
        dynasties[name] = dynasty
        for form in [name, dynasty.get("simplified"), *dynasty.get("aliases", [])]:
            if form:
                dynasty_forms.setdefault(folded(form), name)
        for era_data in dynasty["eras"]:
            era = _Era(era_data["name"], name, era_data["start"], era_data["end"])
            forms = {era.name, era_data.get("simplified"), *era_data.get("aliases", [])} - {None}
            for form in {folded(form) for form in forms}:
                era_forms.setdefault(form, []).append(era)
    longest = max(len(form) for form in [*dynasty_forms, *era_forms])
    return _Table(dynasties, dynasty_forms, {k: tuple(v) for k, v in era_forms.items()}, fold_table, longest)


# ---- the grammar --------------------------------------------------------------------------------

_NUM = rf"[{NUMERAL_CHARACTERS}]+"
_SPACE = re.compile(r"[\s\u3000]*")
_YEAR = re.compile(rf"[\s\u3000]*(?P<number>元|{_NUM})[\s\u3000]*(?:年|載|载)")
_CYCLE = re.compile(rf"[\s\u3000]*(?P<cycle>[{_STEMS}][{_BRANCHES}])(?:[\s\u3000]*(?:年|歲|岁))?")
_PERIOD = re.compile(
    r"[\s\u3000]*(?:年間|年间|之間|之间|初年|初期|初葉|初叶|中葉|中叶|中期|末年|末期|末葉|末叶|間|间|初|中|末|時|时)"
)
_MONTH_DAY = re.compile(
    r"[\s\u3000]*(?:(?:閏|闰)?(?:正|臘|腊|冬|[一二三四五六七八九十]+|\d+)月"
    r"(?:(?:初)?(?:[一二三四五六七八九十廿卅]+|\d+)日|朔|望|晦|吉日)?"
    r"|(?:孟|仲|季)?(?:春|夏|秋|冬)(?:月)?)"
)
_CONNECTOR = re.compile(r"[\s\u3000]*(?:至|到|迄|—|－|-|~|～|〜|、)?[\s\u3000]*")
_GREGORIAN = re.compile(
    r"[\s\u3000]*[（(\[［【〔][\s\u3000]*(?:公元|西元)?[\s\u3000]*(?P<first>\d{1,4})[\s\u3000]*年?"
    r"(?:[\s\u3000]*(?:-|—|–|－|~|～|至)[\s\u3000]*(?P<last>\d{1,4})[\s\u3000]*年?)?[\s\u3000]*[）)\]］】〕]"
)
_PLAIN_YEAR = re.compile(r"[\s\u3000]*(?:公元|西元)?[\s\u3000]*(?P<year>\d{3,4})[\s\u3000]*年?[\s\u3000]*")
# Words that say a dynasty name stands for an edition (明刻本, 清抄本, 民國石印本), and words
# before a dynasty that say the edition only copies one (覆宋, 翻宋, 影宋: not a Song edition).
_EDITION_WORDS = "刻刊槧抄鈔钞寫写印本修補补翻覆仿影活鉛铅石排拓遞递木銅铜泥套朱稿"
_COPYING_WORDS = "覆翻仿影景摹據据依"
_TRAILING_PUNCTUATION = set(" \u3000，,。.、；;：:")


@dataclass
class _Reading:
    """What was read from one place in the text."""

    begin: int
    end: int
    start: int
    last: int
    dynasty: str | None
    reign: str | None = None
    year_in_reign: int | None = None
    end_reign: str | None = None
    warnings: list[str] = field(default_factory=list)
    dynasty_written: bool = False  # the era came after a written dynasty (明萬曆)
    date_word: bool = False  # a year, 干支, 間/中/初 … or a second era followed the era

    def as_dict(self) -> dict:
        return {
            "start": self.start,
            "end": self.last,
            "dynasty": self.dynasty,
            "reign": self.reign,
            "year_in_reign": self.year_in_reign,
            "end_reign": self.end_reign,
            "warnings": list(self.warnings),
        }


@dataclass
class _EraPart:
    """An era name and the year words after it."""

    era: _Era
    number: int | None
    first: int
    last: int
    end: int
    warnings: list[str]
    date_word: bool


def _cycle_years(era: _Era, cycle: str) -> list[int]:
    """The years of `era` that carry the cyclical name `cycle` (甲子 …)."""
    years = []
    for number in range(1, era.length + 1):
        year = era.year(number)
        astronomical = year if year > 0 else year + 1
        index = (astronomical - 4) % 60  # 4 AD was a 甲子 year
        if _STEMS[index % 10] + _BRANCHES[index % 12] == cycle:
            years.append(year)
    return years


def _read_number(text: str) -> int | None:
    try:
        return 1 if text == "元" else chinese_to_int(text)
    except ParseError:
        return None


def _choose_era(
    candidates: tuple[_Era, ...], dynasty: str | None, number: int | None, cycle: str | None, written: str
) -> tuple[_Era | None, list[str]]:
    """Pick the era meant among all eras of one name; None if the written dynasty has no such era."""
    table = _table()
    warnings: list[str] = []
    pool = list(candidates)
    if dynasty is not None:
        pool = [era for era in pool if era.dynasty in table.scope(dynasty)]
        if not pool:
            return None, warnings
    fitting = [era for era in pool if (number is None or number <= era.length)
               and (cycle is None or _cycle_years(era, cycle))]
    if fitting:
        pool = fitting
    pool.sort(key=lambda era: era.start)
    chosen = pool[-1]
    if len(pool) > 1:
        others = "、".join(era.label() for era in pool[:-1])
        if dynasty is None:
            warnings.append(
                f"年号「{written}」有多个朝代用过，未写朝代，按最晚的{chosen.label()}计；"
                f"另有：{others}（era name used by several dynasties; the latest was taken）"
            )
        else:
            warnings.append(
                f"{dynasty}有不止一个「{written}」年号，按较晚的{chosen.label()}计；另有：{others}"
                f"（the dynasty used this era name more than once; the later was taken）"
            )
    return chosen, warnings


class _Reader:
    """Reads dates out of one text; positions are positions in the text as typed."""

    def __init__(self, text: str) -> None:
        self.table = _table()
        self.raw = text
        self.text = unify_ideographs(text).translate(self.table.fold)  # one character for one

    def skip_space(self, position: int) -> int:
        return _SPACE.match(self.text, position).end()

    def dynasty_at(self, position: int) -> tuple[str, int] | None:
        """(canonical dynasty, end position) of the longest dynasty name starting at `position`."""
        forms = self.table.dynasty_forms
        for length in range(min(self.table.longest, len(self.text) - position), 0, -1):
            piece = self.text[position:position + length]
            if piece in forms:
                return forms[piece], position + length
        return None

    def era_at(self, position: int) -> tuple[str, int] | None:
        """(written era form, end position) of the longest era name starting at `position`."""
        forms = self.table.era_forms
        for length in range(min(self.table.longest, len(self.text) - position), 0, -1):
            piece = self.text[position:position + length]
            if piece in forms:
                return piece, position + length
        return None

    def era_part(self, position: int, dynasty: str | None) -> _EraPart | None:
        """An era name at `position` and what follows it: a year, a 干支 year, 間 / 中 / 初 …

        None if no era (of `dynasty`, when given) starts here.
        """
        found = self.era_at(position)
        if not found:
            return None
        written, position = found
        warnings: list[str] = []
        number: int | None = None
        number_text = ""
        cycle: str | None = None
        year_match = _YEAR.match(self.text, position)
        if year_match and (number := _read_number(year_match.group("number"))) is not None:
            number_text = year_match.group("number")
            position = year_match.end()
        cycle_match = _CYCLE.match(self.text, position)
        if cycle_match:
            cycle = cycle_match.group("cycle")
            position = cycle_match.end()
        era, choice_warnings = _choose_era(self.table.era_forms[written], dynasty, number, cycle, written)
        if era is None:
            return None
        warnings += choice_warnings
        first, last = era.start, era.end
        if number is not None:
            first = last = era.year(number)
            if number > era.length:
                warnings.append(
                    f"{era.dynasty}{era.name}只有{era.length}年，「{era.name}{number_text}年」超出，"
                    f"按公元{first}年计（year {number} is past the end of the era）"
                )
        if cycle is not None:
            years = _cycle_years(era, cycle)
            if number is not None:
                if first not in years:
                    warnings.append(
                        f"{era.name}{number_text}年是公元{first}年，不是{cycle}年，请核对"
                        f"（the cyclical year {cycle} does not match year {number} of the era）"
                    )
            elif not years:
                warnings.append(f"{era.label()}没有{cycle}年，按整个年号计（no {cycle} year in this era）")
            else:
                first = last = years[0]
                number = _years_between(era.start, first)
                if len(years) > 1:
                    warnings.append(
                        f"{era.name}有两个{cycle}年（{'、'.join(map(str, years))}），按前一个计"
                        f"（the era has two {cycle} years; the first was taken）"
                    )
        date_word = number is not None or cycle is not None
        if date_word:
            month = _MONTH_DAY.match(self.text, position)
            if month:
                position = month.end()
        else:
            period = _PERIOD.match(self.text, position)
            if period:
                position = period.end()
                date_word = True
        return _EraPart(era, number, first, last, position, warnings, date_word)

    def read(self, position: int) -> _Reading | None:
        """A date starting exactly at `position`: dynasty + era, era, or dynasty alone."""
        begin = position = self.skip_space(position)
        dynasty_found = self.dynasty_at(position)
        part = None
        warnings: list[str] = []
        if dynasty_found:
            after = self.skip_space(dynasty_found[1])
            part = self.era_part(after, dynasty_found[0])
            if part is None and (other := self.era_at(after)) and self.era_at(begin) is None:
                eras = "、".join(era.label() for era in self.table.era_forms[other[0]])
                warnings.append(
                    f"「{self.raw[after:other[1]]}」不是{dynasty_found[0]}的年号（见于{eras}），只按朝代计"
                    f"（not an era of that dynasty; only the dynasty was used）"
                )
        if part is None:
            part = self.era_part(position, None)  # 民國十年, 清泰三年: an era that starts like a dynasty
            if part is not None:
                dynasty_found = None
                warnings = []
        if part is None:
            if not dynasty_found:
                return None
            name, end = dynasty_found
            info = self.table.dynasties[name]
            reading = _Reading(begin, end, info["start"], info["end"], name, warnings=warnings)
            self.gregorian(reading)
            return reading
        reading = _Reading(
            begin, part.end, part.first, part.last, part.era.dynasty, part.era.name, part.number,
            warnings=part.warnings, dynasty_written=dynasty_found is not None, date_word=part.date_word,
        )
        self.gregorian(reading)
        self.extend_range(reading, part.era)
        self.gregorian(reading)
        return reading

    def extend_range(self, reading: _Reading, era: _Era) -> None:
        """…至乾隆間 / …隆慶間 / …至三十年: extend the reading to a second era or a second year."""
        connector = _CONNECTOR.match(self.text, reading.end)
        position = connector.end()
        part = None
        dynasty_found = self.dynasty_at(position)
        if dynasty_found:
            part = self.era_part(self.skip_space(dynasty_found[1]), dynasty_found[0])
        if part is None:
            part = self.era_part(position, None)
        # The second era must come after the first and not long after it (大明萬曆 is not 457–1620).
        if part is not None and era.start <= part.era.start <= era.end + 150:
            reading.last = max(part.last, reading.last)
            reading.end_reign = part.era.name
            reading.year_in_reign = None
            reading.warnings += part.warnings
            reading.end = part.end
            reading.date_word = True
            return
        if connector.end() == reading.end or reading.year_in_reign is None:
            return
        # 康熙二十年至三十年: a second year of the same era.
        year_match = _YEAR.match(self.text, position)
        number = _read_number(year_match.group("number")) if year_match else None
        if number is None:
            return
        last = era.year(number)
        if last < reading.start:
            reading.warnings.append("年代范围起讫颠倒，请核对（the range runs backwards）")
            reading.start, last = last, reading.start
        reading.last = last
        reading.year_in_reign = None
        reading.end = year_match.end()
        for pattern in (_MONTH_DAY, _PERIOD):
            match = pattern.match(self.text, reading.end)
            if match:
                reading.end = match.end()

    def gregorian(self, reading: _Reading) -> None:
        """A Gregorian year in brackets after the date is read and checked against it."""
        match = _GREGORIAN.match(self.text, reading.end)
        if not match:
            return
        first = int(match.group("first"))
        last = int(match.group("last")) if match.group("last") else None
        if last is None:
            agrees = reading.start <= first <= reading.last
        else:
            agrees = (first, last) == (reading.start, reading.last)
        if not agrees:
            given = f"{first}" if last is None else f"{first}–{last}"
            computed = f"{reading.start}"
            if reading.last != reading.start:
                computed += f"–{reading.last}"
            written = self.raw[reading.begin:reading.end].strip()
            reading.warnings.append(
                f"括注的公元{given}年与「{written}」（{computed}年）不符，按年号计为{computed}年，请核对"
                f"（the bracketed year {given} disagrees with the era date {computed}）"
            )
        reading.end = match.end()

    def find(self) -> _Reading | None:
        """The first date inside a longer text."""
        text = self.text
        # First choice: a reign era (明萬曆二十四年, 洪武中, 景泰閒). An era name with no dynasty
        # before it must be followed by a date word, an edition word or the end, so that 建安余氏
        # (建安, a place) is not read as the era 建安.
        for position in range(len(text)):
            if text[position] in " \u3000":
                continue
            reading = self.read(position)
            if reading is None or reading.reign is None:
                continue
            following = text[reading.end:reading.end + 1]
            if reading.dynasty_written or reading.date_word or following in ("", *_EDITION_WORDS) \
                    or following in _TRAILING_PUNCTUATION:
                return reading
        # Second choice: a dynasty naming the edition (明刻本, 清抄本, 宋刻元修本), not after a word
        # saying the edition copies it (覆宋); at the very start a dynasty followed by any era name
        # also counts (宋建安余仁仲刻本: 建安 is a place there).
        for position in range(len(text)):
            found = self.dynasty_at(position)
            if not found:
                continue
            name, end = found
            if self.table.dynasties[name].get("ordinary_word"):
                continue  # 新 of 新刻, 新刊
            if position and text[position - 1] in _COPYING_WORDS:
                continue
            if text[end:end + 1] in tuple(_EDITION_WORDS) or (position == 0 and self.era_at(end)):
                info = self.table.dynasties[name]
                return _Reading(position, end, info["start"], info["end"], name)
        return None


def parse_reign_date(raw: str) -> dict:
    """Read a 出版时间 (date) statement; see the module docstring.

    Returns ``{"start", "end", "dynasty", "reign", "year_in_reign", "end_reign", "warnings"}``:
    first and last Gregorian years; the dynasty (the era's own, e.g. 南宋 for 紹興, when an era
    was read); the era and the year in it when one year is meant; for a range of eras
    (康熙至乾隆) the last era in `end_reign`. ParseError if no date can be read at all.
    """
    text = (raw or "").strip()
    if not text:
        raise ParseError("出版时间为空：请写成 明萬曆二十四年 或 清道光間（empty date）", raw)
    plain = _PLAIN_YEAR.fullmatch(text)
    if plain:
        year = int(plain.group("year"))
        return _Reading(0, len(text), year, year, None).as_dict()
    reader = _Reader(text)
    reading = reader.read(0)
    if reading is None:
        reading = reader.find()
        if reading is None:
            raise ParseError(
                f"未能识别年代「{text}」：请写成 明萬曆二十四年、清道光間、清光緒甲午、民國十年 或 1596"
                "（could not read a reign-era date）",
                raw,
            )
        skipped = text[:reading.begin]
        reading.warnings.insert(0, f"年代前的「{skipped}」未计入（text before the date ignored）")
    rest = text[reading.end:]
    if not set(rest) <= _TRAILING_PUNCTUATION:
        read_part = text[reading.begin:reading.end]
        later_dynasty = any(reader.dynasty_at(index) for index in range(reading.end, len(text)))
        if reading.reign is None and later_dynasty:
            reading.warnings.append(
                f"只按第一个朝代「{read_part}」计，其后「{rest.strip()}」中的朝代未计入"
                "（only the first dynasty is used）"
            )
        else:
            reading.warnings.append(
                f"只读了「{read_part}」，其后「{rest.strip()}」未计入年代（the rest was not read）"
            )
    return reading.as_dict()


def find_reign_date(text: str) -> dict | None:
    """The first reign-era date inside a longer statement, or None.

    `正文據清嘉慶二十年(1816)江西南昌府學重刊之宋本《儀禮注疏》` → 1815 (with the bracket warning);
    `明萬曆二十四年金陵書林刻本` → 1596. The result is shaped like :func:`parse_reign_date`'s, plus
    `raw`: the part of `text` that was read, which parses to the same result on its own.
    """
    if not (text or "").strip():
        return None
    reading = _Reader(text).find()
    if reading is None:
        return None
    result = reading.as_dict()
    result["raw"] = text[reading.begin:reading.end].strip()
    return result
