"""Grade suggestions (定级建议) from metadata_schemas/grading_rules.json: advisory, never stored."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from guji.metadata_schemas import vocabulary
from guji.repository.grading import GradeSuggestion, assess_grade, grading_rules, suggest_grade

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "cards.json"


def card(edition_type="刻本", raw=None, start=None, end=None, distinctions=None, **date_parts) -> dict:
    """A card with just the facts the suggester reads."""
    edition = {"title": "測試書", "edition_type": edition_type}
    if raw is not None or start is not None:
        date = {"raw": raw} if raw is not None else {}
        if start is not None:
            date.update(start=start, end=end if end is not None else start)
        date.update(date_parts)
        edition["publication"] = {"date": date}
    result = {"id": "t", "record_type": "guji", "edition": edition}
    if distinctions is not None:
        result["copy"] = {"distinctions": distinctions}
    return result


def test_a_song_edition_is_grade_one():
    suggestion = suggest_grade(card(raw="宋", start=960, end=1279))
    assert suggestion.level == "一级"
    assert suggestion.label == "一级乙等"  # 北宋 or 南宋 is not known: the cautious 等次
    assert suggestion.rule_id == "yiji-yi-yuan"
    assert "3.1.2" in suggestion.basis
    assert suggestion.confirmed


def test_a_northern_song_edition_is_grade_one_class_jia():
    suggestion = suggest_grade(card(raw="宋元祐間", start=1086, end=1094))
    assert suggestion.label == "一级甲等"
    assert suggestion.confirmed


def test_the_year_1368_is_decided_by_the_dynasty_in_the_raw_date():
    assert suggest_grade(card(raw="元至正二十八年", start=1368)).label == "一级乙等"
    assert suggest_grade(card(raw="明洪武元年", start=1368)).level == "二级"


def test_a_jiajing_edition_is_grade_two_with_an_unconfirmed_class():
    suggestion = suggest_grade(card(raw="明嘉靖", start=1522, end=1566))
    assert suggestion.level == "二级"
    assert suggestion.grade_class == "乙"
    assert suggestion.label == "二级乙等"
    assert suggestion.rule_id == "erji-yi-jiajing-longqing"
    assert not suggestion.confirmed  # the 甲/乙 split inside 二级 could not be checked against the standard
    assert "未经核对" in suggestion.explanation
    assert "1522" in suggestion.explanation


def test_an_unconfirmed_rule_says_so_plainly_and_names_what_it_rests_on():
    """Staff read the note: it says 未经核对 and what the rule was inferred from, never "from memory"."""
    for rule in grading_rules():
        text = json.dumps(rule, ensure_ascii=False)
        assert "记忆" not in text, rule["id"]
        if rule["confirmed"]["level"] is False or rule["confirmed"].get("class") is False:
            assert rule["note"].count("未经核对") == 1 and "推定" in rule["note"], rule["id"]
    suggestion = suggest_grade(card(raw="明萬曆元年", start=1573, end=1573))
    assert suggestion.rule_id == "sanji-jia-wanli-chongzhen"
    assert "未经核对" in suggestion.explanation and "三性九条" in suggestion.explanation


def test_a_qianlong_edition_is_grade_three_without_a_class():
    suggestion = suggest_grade(card(raw="清乾隆", start=1736, end=1795))
    assert suggestion.level == "三级"
    assert suggestion.grade_class is None
    assert suggestion.label == "三级"
    assert "流传较少" in suggestion.explanation  # the condition a person has to judge


def test_a_guangxu_edition_is_grade_four():
    suggestion = suggest_grade(card(raw="清光緒三年", start=1877))
    assert suggestion.level == "四级"
    assert suggestion.grade_class is None
    assert suggestion.label == "四级"
    assert suggestion.rule_id == "siji-jiaqing-xuantong"


def test_a_manuscript_by_a_famous_author_is_graded_by_its_distinction():
    representative = card("稿本", raw="清道光", start=1821, end=1850, distinctions=["名家名著代表性稿本"])
    assert suggest_grade(representative).label == "一级丙等"
    important = card("稿本", raw="清道光", start=1821, end=1850, distinctions=["名家稿本"])
    suggestion = suggest_grade(important)
    assert suggestion.level == "二级" and suggestion.grade_class is None
    assert suggestion.rule_id == "erji-mingjia-gaoben"
    assert "等次由定级人确定" in suggestion.explanation


def test_aliases_in_edition_type_and_distinctions_are_understood():
    suggestion = suggest_grade(card("手稿本", raw="清", start=1644, end=1911, distinctions=["名家名著的代表性稿本"]))
    assert suggestion.label == "一级丙等"
    assert suggest_grade(card("刊本", raw="明嘉靖", start=1522, end=1566)).label == "二级乙等"


def test_a_ming_movable_type_edition_is_grade_one_class_bing_with_a_caution():
    suggestion = suggest_grade(card("木活字本", raw="明萬曆", start=1573, end=1620))
    assert suggestion.label == "一级丙等"
    assert "代表性" in suggestion.explanation


def test_a_date_range_across_bands_is_graded_by_its_latest_year():
    suggestion = suggest_grade(card(raw="明", start=1368, end=1644))
    assert suggestion.level == "三级"
    assert "跨越" in suggestion.explanation


def test_unused_distinctions_are_mentioned():
    suggestion = suggest_grade(card(raw="清光緒", start=1875, end=1908, distinctions=["孤本"]))
    assert suggestion.level == "四级"
    assert "孤本" in suggestion.explanation


def test_a_card_with_no_date_gets_no_suggestion_and_a_reason():
    undated = card(raw="待考")
    assert suggest_grade(undated) is None
    assessment = assess_grade(undated)
    assert assessment.suggestion is None
    assert "出版时间" in assessment.reason and "待考" in assessment.reason
    assert suggest_grade(card()) is None


def test_a_republican_book_is_not_graded_as_guji():
    assessment = assess_grade(card("铅印本", raw="民國十年", start=1921))
    assert assessment.suggestion is None
    assert "1912" in assessment.reason


def test_suggesting_never_changes_the_card():
    graded = card(raw="明嘉靖", start=1522, end=1566, distinctions=["名家批校题跋"])
    before = copy.deepcopy(graded)
    suggest_grade(graded)
    assess_grade(graded)
    assert graded == before


def test_suggestion_is_a_plain_dataclass():
    suggestion = suggest_grade(card(raw="元", start=1271, end=1368))
    assert isinstance(suggestion, GradeSuggestion)
    assert suggestion.basis and suggestion.explanation and suggestion.rule_id


def test_sample_cards_get_the_grades_their_dates_support():
    cards = {item["id"]: item for item in json.loads(SAMPLES.read_text(encoding="utf-8"))}
    jingchuan = suggest_grade(cards["jingchuan-wenji"])
    stored = cards["jingchuan-wenji"]["copy"]["grade"]
    assert (jingchuan.level, jingchuan.grade_class) == (stored["level"], stored["class"])
    assert suggest_grade(cards["lidai-shizuan-zuobian"]).label == "二级乙等"
    assert suggest_grade(cards["pingyang-xianzhi-longqing"]).label == "二级乙等"
    assert suggest_grade(cards["maoshi-zhushu"]).level == "二级"  # 四库零帙
    assert suggest_grade(cards["yingmeian-yiyu"]) is None  # no date on that card


# ---- the rules file -----------------------------------------------------------------------------


def test_rules_are_well_formed_and_use_the_vocabularies():
    rules = grading_rules()
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    levels = vocabulary("grade_level")["enum"]
    classes = vocabulary("grade_class")["enum"]
    edition_types = set(vocabulary("edition_type")["enum"])
    distinctions = set(vocabulary("distinction")["enum"])
    known_conditions = {"date_start_min", "date_end_max", "dynasties_any", "dynasties_none", "edition_types",
                        "distinctions_any"}
    for rule in rules:
        assert rule["level"] in levels
        assert rule["class"] is None or rule["class"] in classes
        if rule["level"] == "四级":
            assert rule["class"] is None
        assert rule["conditions"] and set(rule["conditions"]) <= known_conditions, rule["id"]
        assert set(rule["conditions"].get("edition_types", [])) <= edition_types, rule["id"]
        assert set(rule["conditions"].get("distinctions_any", [])) <= distinctions, rule["id"]
        assert rule["basis"] and rule["explanation"]
        rule["explanation"].format_map({"date": "x", "edition_type": "x", "distinctions": "x"})
        if False in rule["confirmed"].values():
            assert rule.get("note"), f"{rule['id']} is unconfirmed but says nothing about why"


def test_rules_run_from_the_highest_grade_down():
    order = {"一级": 1, "二级": 2, "三级": 3, "四级": 4}
    ranks = [order[rule["level"]] for rule in grading_rules()]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize("year", [1100, 1300, 1400, 1550, 1600, 1700, 1800, 1900])
def test_every_year_before_1912_gets_a_suggestion(year):
    assert suggest_grade(card(start=year)) is not None
