"""Grade suggestions (定级建议) from the rules in metadata_schemas/grading_rules.json.

Advisory only: `suggest_grade` reads a card and never writes it. The grade that counts is the one
a person stores in ``copy.grade`` with their name and the date (定级人, 定级日期).

The rules follow WH/T 20-2006《古籍定级标准》/ GB/T 31076.1-2014. They are checked in order and
the first rule whose conditions all hold gives the suggestion; the file lists rules from the
highest grade down, so the first match is the highest grade the card's facts support. Rules whose
wording could not be checked against the standard say so (`confirmed`, `note`), and the
suggestion repeats that warning.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from guji.metadata_schemas import SCHEMA_DIR, canonical_term

from .card import edition_type_of

__all__ = ["GradeSuggestion", "GradeAssessment", "grading_rules", "assess_grade", "suggest_grade"]

RULES_PATH = SCHEMA_DIR / "grading_rules.json"
ADVISORY = "此为定级建议，仅供定级人参考，不写入卡片。"


@dataclass(frozen=True)
class GradeSuggestion:
    """A suggested grade: 级别 (level), 等次 (grade_class, None for 四级 or where it is left open)."""

    level: str
    grade_class: str | None
    rule_id: str
    basis: str
    explanation: str
    confirmed: bool = True  # False when the rule's level or 等次 could not be checked against the standard
    note: str | None = None

    @property
    def label(self) -> str:
        """「二级乙等」, or 「四级」 where there is no 等次."""
        return f"{self.level}{self.grade_class}等" if self.grade_class else self.level


@dataclass(frozen=True)
class GradeAssessment:
    """The outcome of looking at a card: a suggestion, or None and the reason why not."""

    suggestion: GradeSuggestion | None
    reason: str


@cache
def _rules_document() -> dict:
    with RULES_PATH.open(encoding="utf-8") as handle:
        return json.load(handle)


def grading_rules() -> list[dict]:
    """The ordered rules (a copy of grading_rules.json ``rules``)."""
    return json.loads(json.dumps(_rules_document()["rules"]))


@dataclass(frozen=True)
class _Facts:
    edition_type: str | None
    edition_type_derived: bool
    distinctions: frozenset[str]
    start: int | None
    end: int | None
    dynasty: str | None
    date_raw: str | None


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _year(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# The save path (repository.card.normalise_card) keeps only start/end of a parsed date, so the
# dynasty that decides boundary years (1368 元至正二十八年 / 明洪武元年, 1644 明崇禎十七年 / 清順治元年)
# is read from the start of the raw string when it is not stored.
_DYNASTY_PREFIXES = ("北宋", "南宋", "西夏", "蒙古", "南明", "宋", "遼", "辽", "金", "元", "明", "清")


def _dynasty_from_raw(raw: str | None) -> str | None:
    text = (raw or "").lstrip(" 　（(〔[")
    return next((name for name in _DYNASTY_PREFIXES if text.startswith(name)), None)


def _facts(card: dict) -> _Facts:
    date = _get(card, "edition", "publication", "date") or {}
    start, end = _year(_get(date, "start")), _year(_get(date, "end"))
    if start is None:
        start = end
    if end is None:
        end = start
    edition = _get(card, "edition")
    # the 版本类型 typed, else the one read from the 版本 statement (明崇禎毛氏汲古閣刻本 → 刻本)
    edition_type, edition_type_derived = edition_type_of(card) if isinstance(edition, dict) else (None, False)
    distinctions = set()
    for flag in _get(card, "copy", "distinctions") or []:
        if isinstance(flag, str):
            distinctions.add(canonical_term("distinction", flag) or flag)
    raw = _get(date, "raw")
    dynasty = _get(date, "dynasty")
    if not (isinstance(dynasty, str) and dynasty):
        dynasty = _dynasty_from_raw(raw if isinstance(raw, str) else None)
    return _Facts(
        edition_type=edition_type,
        edition_type_derived=edition_type_derived,
        distinctions=frozenset(distinctions),
        start=start,
        end=end,
        dynasty=dynasty if isinstance(dynasty, str) and dynasty else None,
        date_raw=raw if isinstance(raw, str) and raw.strip() else None,
    )


def _matches(conditions: dict, facts: _Facts) -> bool:
    if "date_start_min" in conditions and (facts.start is None or facts.start < conditions["date_start_min"]):
        return False
    if "date_end_max" in conditions and (facts.end is None or facts.end > conditions["date_end_max"]):
        return False
    if "dynasties_any" in conditions and facts.dynasty not in conditions["dynasties_any"]:
        return False
    if "dynasties_none" in conditions and facts.dynasty in conditions["dynasties_none"]:
        return False
    if "edition_types" in conditions and facts.edition_type not in conditions["edition_types"]:
        return False
    if "distinctions_any" in conditions and not facts.distinctions & set(conditions["distinctions_any"]):
        return False
    return True


def _date_text(facts: _Facts) -> str:
    if facts.start is None:
        return facts.date_raw or "未详"
    years = str(facts.start) if facts.start == facts.end else f"{facts.start}–{facts.end}"
    return f"{facts.date_raw}（{years}）" if facts.date_raw else years


def _suggestion(rule: dict, facts: _Facts, preface: str = "") -> GradeSuggestion:
    used = set(rule["conditions"].get("distinctions_any", []))
    values = {
        "date": _date_text(facts),
        "edition_type": (f"{facts.edition_type}（据版本推定）" if facts.edition_type_derived else facts.edition_type)
        or "未详",
        "distinctions": "、".join(sorted(facts.distinctions & used)) or "、".join(sorted(facts.distinctions)),
    }
    parts = [preface + rule["explanation"].format_map(values)]
    if rule.get("caution"):
        parts.append(rule["caution"])
    unused = sorted(facts.distinctions - used)
    if unused:
        parts.append(f"另有特征标记「{'、'.join(unused)}」，可能支持更高的级别，请定级人斟酌。")
    confirmed = rule["confirmed"]["level"] is not False and rule["confirmed"].get("class") is not False
    if not confirmed:
        parts.append(f"注意：{rule.get('note', '')}")  # the note says 未经核对 and what the rule was inferred from
    elif rule.get("class") is None and rule["level"] != "四级":
        parts.append("等次由定级人确定。")
    parts.append(ADVISORY)
    return GradeSuggestion(
        level=rule["level"],
        grade_class=rule.get("class"),
        rule_id=rule["id"],
        basis=rule["basis"],
        explanation="".join(parts),
        confirmed=confirmed,
        note=rule.get("note"),
    )


def assess_grade(card: dict) -> GradeAssessment:
    """A grade suggestion for `card` with the reason, or no suggestion and the reason why not."""
    if not isinstance(card, dict):
        return GradeAssessment(None, "不是一张卡片（应为 JSON 对象）。")
    facts = _facts(card)
    limit = _rules_document().get("guji_before_year", 1912)
    if facts.start is not None and facts.start >= limit:
        return GradeAssessment(
            None,
            f"出版时间 {_date_text(facts)} 在 {limit} 年以后，不属于古籍定级标准的范围"
            f"（古籍指 {limit} 年以前的书籍）。",
        )
    rules = _rules_document()["rules"]
    for rule in rules:
        if _matches(rule["conditions"], facts):
            suggestion = _suggestion(rule, facts)
            return GradeAssessment(suggestion, f"适用规则 {rule['id']}：{suggestion.label}。")
    if facts.start is not None and facts.start != facts.end:
        # a range spanning several bands (「明刻本」): suggest by its latest year, the cautious choice
        latest = dataclasses.replace(facts, start=facts.end)
        for rule in rules:
            if _matches(rule["conditions"], latest):
                preface = (
                    f"出版时间 {_date_text(facts)} 跨越几个定级时段，按其中最晚的 {facts.end} 年从低建议；"
                    "能考定具体年份时级别可能更高。"
                )
                suggestion = _suggestion(rule, latest, preface)
                return GradeAssessment(suggestion, f"适用规则 {rule['id']}（按 {facts.end} 年）：{suggestion.label}。")
    if facts.start is None:
        raw = f"「{facts.date_raw}」" if facts.date_raw else ""
        return GradeAssessment(
            None,
            f"出版时间{raw}没有解析出公元年份，"
            "也没有可单独据以定级的版本类型或特征标记；请先著录出版时间，如「明嘉靖」「清光緒三年」。",
        )
    return GradeAssessment(None, f"出版时间 {_date_text(facts)} 与版本特征没有适用的定级规则，请定级人直接判断。")


def suggest_grade(card: dict) -> GradeSuggestion | None:
    """The suggested grade for `card`, or None (see `assess_grade` for the reason). Never changes the card."""
    return assess_grade(card).suggestion
