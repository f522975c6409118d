"""The parsers of repository.parse, on the examples cataloguers type and on real Kanripo catalogue lines.

Expected values were worked out by hand (e.g. 明萬曆二十四年: 萬曆元年 = 1573, so year 24 = 1596).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from guji.repository.parse import (
    ParseError,
    chinese_to_int,
    find_reign_date,
    format_responsibility,
    int_to_chinese,
    juan_set,
    parse_dimensions,
    parse_edition_type,
    parse_extant_juan,
    parse_juan_count,
    parse_page_layout,
    parse_reign_date,
    parse_responsibility,
)
from guji.repository.parse.edition_type import EDITION_TYPE_PATH
from guji.repository.parse.reign_era import REIGN_ERAS_PATH

FIXTURE = Path(__file__).parent / "fixtures" / "kanripo_catalog_excerpt.txt"
CATALOGUE = FIXTURE.read_text(encoding="utf-8")


def catalogue_values(key: str) -> list[str]:
    """Every value of an org property (`:_RESP:`, `:EXTENT:` …) in the excerpt, in order."""
    return [m.group(1).strip() for m in re.finditer(rf"^[ \t]*:{key}:[ \t]*(.*)$", CATALOGUE, re.M)]


# ---- numerals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("二十四", 24), ("一百四十二", 142), ("三十", 30), ("廿四", 24), ("一〇八", 108), ("十", 10),
        ("十五", 15), ("一百零八", 108), ("一千零一十", 1010), ("兩", 2), ("兩百", 200), ("卅", 30),
        ("卌五", 45), ("壹佰零捌", 108), ("貳拾", 20), ("叁拾陸", 36), ("〇", 0), ("零", 0),
        ("24", 24), ("２４", 24), ("一萬二千", 12000), ("十萬", 100000), ("二〇二四", 2024),
        (" 二十 ", 20),
    ],
)
def test_chinese_to_int(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


@pytest.mark.parametrize("text", ["", "abc", "二三十", "十百", "百十百", "萬", "卷", "二十卷", "一兩"])
def test_chinese_to_int_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(ParseError) as error:
        chinese_to_int(text)
    assert f"「{text}」" in str(error.value)
    assert "请写成" in str(error.value)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "〇"), (1, "一"), (10, "十"), (15, "十五"), (20, "二十"), (24, "二十四"), (101, "一百零一"),
     (108, "一百零八"), (110, "一百一十"), (142, "一百四十二"), (1000, "一千"), (1010, "一千零一十"),
     (10000, "一萬"), (10500, "一萬零五百"), (100000, "十萬"), (1816, "一千八百一十六")],
)
def test_int_to_chinese(value: int, text: str) -> None:
    assert int_to_chinese(value) == text


def test_int_to_chinese_reads_back() -> None:
    for value in range(0, 3000):
        assert chinese_to_int(int_to_chinese(value)) == value
    with pytest.raises(ValueError):
        int_to_chinese(-1)


# ---- 卷数 ---------------------------------------------------------------------------------------


def juan(count=None, unknown=False, undivided=False, supplements=()) -> dict:
    return {"count": count, "unknown": unknown, "undivided": undivided,
            "supplements": [{"label": label, "count": n} for label, n in supplements], "warnings": []}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("二十卷", juan(20)),
        ("30 卷", juan(30)),
        ("一百四十二卷", juan(142)),
        ("□卷", juan(None, unknown=True)),
        ("□□卷", juan(None, unknown=True)),
        ("不分卷", juan(None, undivided=True)),
        ("二十卷首一卷", juan(20, supplements=[("首", 1)])),
        ("四卷附錄一卷", juan(4, supplements=[("附錄", 1)])),
        ("卷首一卷", juan(None, supplements=[("首", 1)])),
        ("二十卷補遺二卷", juan(20, supplements=[("補遺", 2)])),
        ("二十卷首一卷末一卷", juan(20, supplements=[("首", 1), ("末", 1)])),
        ("十卷，附錄二卷", juan(10, supplements=[("附錄", 2)])),
        ("(5) 卷", juan(5)),
        ("# 卷", juan(None, unknown=True)),
    ],
)
def test_parse_juan_count(raw: str, expected: dict) -> None:
    assert parse_juan_count(raw) == expected


def test_juan_count_names_what_it_could_not_read() -> None:
    result = parse_juan_count("二十卷又若干")
    assert result["count"] == 20
    assert result["warnings"] == ["卷数中未能识别：「又若干」（not understood, ignored）"]


@pytest.mark.parametrize("raw", ["", "卷", "若干", "abc"])
def test_juan_count_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="二十卷"):
        parse_juan_count(raw)


def test_juan_count_sends_extant_statements_to_the_extant_field() -> None:
    with pytest.raises(ParseError, match="存卷字段"):
        parse_juan_count("存63 卷")


# ---- 行款版式 -----------------------------------------------------------------------------------


def layout(lines=None, chars=None, irregular=False, small=None, mouth=None, borders=None, fish=None,
           warnings=()) -> dict:
    return {
        "lines_per_half_leaf": None if lines is None else {"min": lines[0], "max": lines[1]},
        "chars_per_line": (None if chars is None
                           else {"min": chars[0], "max": chars[1], "irregular": irregular}),
        "small_chars": small,
        "mouth": mouth,
        "borders": borders,
        "fish_tail": fish,
        "warnings": list(warnings),
    }


SAME_DOUBLE = {"double_column": True, "same_as_main": True, "chars_per_line": None}


def small_double(low: int, high: int) -> dict:
    return {"double_column": True, "same_as_main": False, "chars_per_line": {"min": low, "max": high}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("半葉十行行二十字小字雙行同白口左右雙邊單黑魚尾",
         layout((10, 10), (20, 20), small=SAME_DOUBLE, mouth="白口", borders="左右双边", fish="单黑鱼尾")),
        ("12行21～22字，小字雙行28字，白口，左右雙邊",
         layout((12, 12), (21, 22), mouth="白口", borders="左右双边", small=small_double(28, 28))),
        ("12行21~22字", layout((12, 12), (21, 22))),
        ("12行21-22字", layout((12, 12), (21, 22))),
        ("行二十六至二十八字不等", layout(None, (26, 28), irregular=True)),
        ("半叶九行，行十八字，黑口，四周双边，双鱼尾",
         layout((9, 9), (18, 18), mouth="黑口", borders="四周双边", fish="双鱼尾")),
        ("九行二十字", layout((9, 9), (20, 20))),
        ("每半葉八行行十七字", layout((8, 8), (17, 17))),
        ("十行十九至二十一字", layout((10, 10), (19, 21))),
        ("白口四周單邊", layout(mouth="白口", borders="四周单边")),
        ("半葉 十行 行二十字 , 白口 左右雙邊", layout((10, 10), (20, 20), mouth="白口", borders="左右双边")),
        ("半葉十行、行二十字、細黑口、四周雙邊、雙順黑魚尾",
         layout((10, 10), (20, 20), mouth="细黑口", borders="四周双边", fish="双顺黑鱼尾")),
        ("大黑口四周雙欄對黑魚尾", layout(mouth="大黑口", borders="四周双边", fish="对黑鱼尾")),
        ("花口四周花邊三魚尾", layout(mouth="花口", borders="四周花边", fish="三鱼尾")),
        ("上下雙邊單白魚尾", layout(borders="上下双边", fish="单白鱼尾")),
        ("行十九二十字不等", layout(None, (19, 20), irregular=True)),
        ("十行行二十字小字雙行二十七八字",
         layout((10, 10), (20, 20), small=small_double(27, 28))),
        ("行字不等", {**layout(), "chars_per_line": {"min": None, "max": None, "irregular": True}}),
    ],
)
def test_parse_page_layout(raw: str, expected: dict) -> None:
    assert parse_page_layout(raw) == expected


def test_page_layout_names_what_it_could_not_read() -> None:
    result = parse_page_layout("半葉十行行二十字白口左右雙邊版心下鐫刻工")
    assert result["lines_per_half_leaf"] == {"min": 10, "max": 10}
    assert result["borders"] == "左右双边"
    assert result["warnings"] == ["未能识别：「版心下鐫刻工」"]  # quoted as typed, traditional


@pytest.mark.parametrize("raw", ["", "hello", "钤有藏印", "12345"])
def test_page_layout_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="半葉十行行二十字"):
        parse_page_layout(raw)


# ---- 年号 → 公元 --------------------------------------------------------------------------------


def test_reign_era_table_is_data_with_source_and_note() -> None:
    data = json.loads(REIGN_ERAS_PATH.read_text(encoding="utf-8"))
    assert data["source"] and data["note"]
    assert REIGN_ERAS_PATH == Path(__file__).resolve().parents[1] / "metadata_schemas" / "vocabularies" / \
        "reign_eras.json"
    names = {d["name"] for d in data["dynasties"]}
    assert {"西漢", "東漢", "魏", "蜀", "吳", "西晉", "東晉", "南朝宋", "北魏", "隋", "唐", "後梁", "北宋",
            "南宋", "遼", "金", "元", "明", "清", "民國"} <= names
    for dynasty in data["dynasties"]:
        for era in dynasty["eras"]:
            assert era["start"] <= era["end"], era


MING_QING = [
    ("洪武", 1368, 1398), ("建文", 1399, 1402), ("永樂", 1403, 1424), ("洪熙", 1425, 1425),
    ("宣德", 1426, 1435), ("正統", 1436, 1449), ("景泰", 1450, 1456), ("天順", 1457, 1464),
    ("成化", 1465, 1487), ("弘治", 1488, 1505), ("正德", 1506, 1521), ("嘉靖", 1522, 1566),
    ("隆慶", 1567, 1572), ("萬曆", 1573, 1620), ("泰昌", 1620, 1620), ("天啟", 1621, 1627),
    ("崇禎", 1628, 1644), ("順治", 1644, 1661), ("康熙", 1662, 1722), ("雍正", 1723, 1735),
    ("乾隆", 1736, 1795), ("嘉慶", 1796, 1820), ("道光", 1821, 1850), ("咸豐", 1851, 1861),
    ("同治", 1862, 1874), ("光緒", 1875, 1908), ("宣統", 1909, 1911),
]


@pytest.mark.parametrize(("era", "start", "end"), MING_QING)
def test_ming_and_qing_eras_are_exact(era: str, start: int, end: int) -> None:
    dynasty = "明" if start < 1644 or era == "崇禎" else "清"
    assert parse_reign_date(f"{dynasty}{era}") == {
        "start": start, "end": end, "dynasty": dynasty, "reign": era, "year_in_reign": None,
        "end_reign": None, "warnings": []}
    assert parse_reign_date(f"{era}元年")["start"] == start


@pytest.mark.parametrize(
    ("simplified", "traditional"),
    [("万历", "萬曆"), ("嘉庆", "嘉慶"), ("光绪", "光緒"), ("宣统", "宣統"), ("顺治", "順治"),
     ("开元", "開元"), ("贞观", "貞觀"), ("绍兴", "紹興"), ("永乐", "永樂"), ("崇祯", "崇禎"),
     ("咸丰", "咸豐")],
)
def test_simplified_era_names(simplified: str, traditional: str) -> None:
    assert parse_reign_date(f"{simplified}二年")["reign"] == traditional


def date(start, end, dynasty, reign=None, year=None, end_reign=None, warnings=()) -> dict:
    return {"start": start, "end": end, "dynasty": dynasty, "reign": reign, "year_in_reign": year,
            "end_reign": end_reign, "warnings": list(warnings)}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("明萬曆二十四年", date(1596, 1596, "明", "萬曆", 24)),
        ("萬曆二十四年", date(1596, 1596, "明", "萬曆", 24)),
        ("明万历二十四年", date(1596, 1596, "明", "萬曆", 24)),
        ("明萬歷二十四年", date(1596, 1596, "明", "萬曆", 24)),  # 歷 for 曆, as Qing printers wrote it
        ("清道光", date(1821, 1850, "清", "道光")),
        ("清道光間", date(1821, 1850, "清", "道光")),
        ("清道光年間", date(1821, 1850, "清", "道光")),
        ("清光绪", date(1875, 1908, "清", "光緒")),
        ("清光緒甲午", date(1894, 1894, "清", "光緒", 20)),
        ("康熙辛未", date(1691, 1691, "清", "康熙", 30)),
        ("清康熙至乾隆間", date(1662, 1795, "清", "康熙", end_reign="乾隆")),
        ("明嘉靖隆慶間", date(1522, 1572, "明", "嘉靖", end_reign="隆慶")),
        ("康熙二十年至三十年", date(1681, 1691, "清", "康熙")),
        ("萬曆元年正月", date(1573, 1573, "明", "萬曆", 1)),
        ("明萬曆二十四年三月十五日", date(1596, 1596, "明", "萬曆", 24)),
        ("清乾隆五十八年春", date(1793, 1793, "清", "乾隆", 58)),
        ("民國十年", date(1921, 1921, "民國", "民國", 10)),
        ("民國", date(1912, 1949, "民國", "民國")),
        ("宋", date(960, 1279, "宋")),
        ("明", date(1368, 1644, "明")),
        ("清", date(1644, 1911, "清")),
        ("宋紹興十年", date(1140, 1140, "南宋", "紹興", 10)),
        ("唐開元十年", date(722, 722, "唐", "開元", 10)),
        ("天寶三載", date(744, 744, "唐", "天寶", 3)),
        ("元至元二十年", date(1283, 1283, "元", "至元", 20)),
        ("後至元三年", date(1337, 1337, "元", "至元", 3)),
        ("景泰閒", date(1450, 1456, "明", "景泰")),
        ("宏治三年", date(1490, 1490, "明", "弘治", 3)),  # 宏 for 弘, avoiding the Qianlong emperor's name
        ("清泰二年", date(935, 935, "後唐", "清泰", 2)),  # an era that starts like a dynasty name
        ("西漢建元元年", date(-140, -140, "西漢", "建元", 1)),
        ("元壽二年", date(-1, -1, "西漢", "元壽", 2)),
        ("元始元年", date(1, 1, "西漢", "元始", 1)),
        ("清光緒二十年（1894）", date(1894, 1894, "清", "光緒", 20)),
        ("1816", date(1816, 1816, None)),
        ("1816年", date(1816, 1816, None)),
    ],
)
def test_parse_reign_date(raw: str, expected: dict) -> None:
    assert parse_reign_date(raw) == expected


def test_bracketed_year_that_disagrees_is_a_warning() -> None:
    # 嘉慶元年 = 1796, so 嘉慶二十年 = 1815; the Kanripo catalogue says (1816).
    for raw in ("清嘉慶二十年(1816)", "清嘉慶二十年（1816）"):
        result = parse_reign_date(raw)
        read = (result["start"], result["end"], result["reign"], result["year_in_reign"])
        assert read == (1815, 1815, "嘉慶", 20)
        assert len(result["warnings"]) == 1
        assert "1816" in result["warnings"][0] and "1815" in result["warnings"][0]


def test_year_past_the_end_of_an_era_is_a_warning() -> None:
    result = parse_reign_date("萬曆五十年")  # 萬曆 has 48 years; year 50 would be 1622
    assert (result["start"], result["end"], result["year_in_reign"]) == (1622, 1622, 50)
    assert result["warnings"] == [
        "明萬曆只有48年，「萬曆五十年」超出，按公元1622年计（year 50 is past the end of the era）"]


def test_first_dynasty_of_a_mixed_edition() -> None:
    result = parse_reign_date("宋刻元修")
    assert (result["start"], result["end"], result["dynasty"], result["reign"]) == (960, 1279, "宋", None)
    assert len(result["warnings"]) == 1 and "刻元修" in result["warnings"][0]


def test_ambiguous_era_without_dynasty_takes_the_latest_and_names_the_others() -> None:
    result = parse_reign_date("天順元年")  # 元 天順 (1328) and 明 天順 (1457–1464)
    assert (result["start"], result["dynasty"]) == (1457, "明")
    assert "元天順" in result["warnings"][0]
    result = parse_reign_date("建元二年")  # 西漢 -139, 東晉 344, 南朝齊 480
    assert (result["start"], result["dynasty"]) == (480, "南朝齊")
    assert "西漢建元" in result["warnings"][0] and "東晉建元" in result["warnings"][0]
    # 建元四年 exists in all three; 建元五年 only in 西漢 (-140 … -135): no choice to make.
    assert parse_reign_date("建元五年") == date(-136, -136, "西漢", "建元", 5)


def test_ambiguous_era_is_settled_by_the_written_dynasty() -> None:
    assert parse_reign_date("齊建元二年") == date(480, 480, "南朝齊", "建元", 2)
    assert parse_reign_date("東晉太和三年") == date(368, 368, "東晉", "太和", 3)


def test_cyclical_year_that_disagrees_with_the_number_is_a_warning() -> None:
    result = parse_reign_date("康熙二十年辛未")  # 康熙二十年 is 1681, a 辛酉 year
    assert result["start"] == 1681
    assert "辛未" in result["warnings"][0]


def test_era_of_another_dynasty_is_not_taken() -> None:
    result = parse_reign_date("清萬曆")
    assert (result["start"], result["end"], result["reign"]) == (1644, 1911, None)
    assert "不是清的年号" in result["warnings"][0]


@pytest.mark.parametrize("raw", ["", "garbage", "二十年", "某年"])
def test_reign_date_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="明萬曆二十四年"):
        parse_reign_date(raw)


@pytest.mark.parametrize(
    ("text", "raw", "start", "end"),
    [
        ("明萬曆二十四年金陵書林刻本", "明萬曆二十四年", 1596, 1596),
        ("正文據清嘉慶二十年(1816)江西南昌府學重刊之宋本《儀禮注疏》", "清嘉慶二十年(1816)", 1815, 1815),
        ("清光緒十年江蘇書局刻本", "清光緒十年", 1884, 1884),
        ("明刻本", "明", 1368, 1644),
        ("清抄本", "清", 1644, 1911),
        ("元刻明修本", "元", 1271, 1368),
        ("宋建安余仁仲萬卷堂刻本", "宋", 960, 1279),  # 建安 is a place here, not the era 建安
        ("大明萬曆二十年刊", "大明萬曆二十年", 1592, 1592),
    ],
)
def test_find_reign_date(text: str, raw: str, start: int, end: int) -> None:
    found = find_reign_date(text)
    assert (found["raw"], found["start"], found["end"]) == (raw, start, end)
    again = parse_reign_date(found["raw"])  # what was found reads the same on its own
    assert {k: again[k] for k in ("start", "end", "dynasty", "reign")} == \
        {k: found[k] for k in ("start", "end", "dynasty", "reign")}


@pytest.mark.parametrize(
    "text", ["金陵書林刻本", "新刻繡像本", "建安余氏勤有堂刻本", "四庫全書 文淵閣版, V69.1, p1", ""]
)
def test_find_reign_date_finds_nothing_where_there_is_no_date(text: str) -> None:
    assert find_reign_date(text) is None


# ---- 版框 / 开本 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "height", "width"),
    [
        ("框高19.4、宽13.2厘米", 19.4, 13.2),
        ("框高19.4釐米，寬13.2釐米", 19.4, 13.2),
        ("版框19.4×13.2厘米", 19.4, 13.2),
        ("19.4x13.2cm", 19.4, 13.2),
        ("19.4 × 13.2 cm", 19.4, 13.2),
        ("半框高20.1厘米，寬14.3厘米", 20.1, 14.3),
        ("开本高26.5、宽16.8厘米", 26.5, 16.8),
        ("開本高26.5釐米，寬16.8釐米", 26.5, 16.8),
        ("框高194毫米，宽132毫米", 19.4, 13.2),
        ("框高19.4厘米，廣13.2厘米", 19.4, 13.2),
    ],
)
def test_parse_dimensions(raw: str, height: float, width: float) -> None:
    assert parse_dimensions(raw) == {"height_cm": height, "width_cm": width, "warnings": []}


def test_missing_width_keeps_the_height_with_a_warning() -> None:
    result = parse_dimensions("框高19.4厘米")
    assert (result["height_cm"], result["width_cm"]) == (19.4, None)
    assert len(result["warnings"]) == 1 and "宽" in result["warnings"][0]


def test_dimensions_warn_about_a_missing_unit_and_extra_text() -> None:
    assert parse_dimensions("框高19.4、宽13.2")["warnings"] == [
        "尺寸「框高19.4、宽13.2」未写单位，按厘米计（no unit given, read as cm）"]
    result = parse_dimensions("框高19.4厘米，宽13.2厘米；开本高26.5厘米")
    assert (result["height_cm"], result["width_cm"]) == (19.4, 13.2)
    assert result["warnings"] == ["尺寸中另有「开本高26.5厘米」未计入（not read）"]


@pytest.mark.parametrize("raw", ["", "大小不一", "框高厘米"])
def test_dimensions_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="框高19.4"):
        parse_dimensions(raw)


# ---- 存卷 ---------------------------------------------------------------------------------------


def span(start, end, section=None, label=None) -> dict:
    return {"section": section, "start": start, "end": end, "label": label}


@pytest.mark.parametrize(
    ("raw", "count", "ranges"),
    [
        ("存十卷（卷一至十）", 10, [span(1, 10)]),
        ("存卷一至五、卷八", 6, [span(1, 5), span(8, 8)]),
        ("存十卷（卷上一至十）", 10, [span(1, 10, "上")]),
        ("存63 卷", 63, []),
        ("存四十卷（卷一至三十、四十一至五十）", 40, [span(1, 30), span(41, 50)]),
        ("存卷三、五至七", 4, [span(3, 3), span(5, 7)]),
        ("存卷首、卷一至三", 3, [span(None, None, label="首"), span(1, 3)]),
        ("存二卷（卷一、卷三）", 2, [span(1, 1), span(3, 3)]),
        ("存卷一至十，卷二十一至三十", 20, [span(1, 10), span(21, 30)]),
        ("存卷一至十,卷二十一至三十", 20, [span(1, 10), span(21, 30)]),
        ("存卷1-5", 5, [span(1, 5)]),
        ("存前集卷一至十、十二，後集卷一至五", 16,
         [span(1, 10, "前集"), span(12, 12, "前集"), span(1, 5, "後集")]),
    ],
)
def test_parse_extant_juan(raw: str, count: int, ranges: list[dict]) -> None:
    assert parse_extant_juan(raw) == {"count": count, "ranges": ranges, "warnings": []}


def test_stated_count_that_disagrees_with_the_list_is_kept_with_a_warning() -> None:
    result = parse_extant_juan("存十卷（卷一至九）")
    assert result["count"] == 10
    assert result["ranges"] == [span(1, 9)]
    assert result["warnings"] == [
        "存卷写作10卷，但所列卷次合计9卷，请核对（stated count 10 differs from the 9 juan listed）"]


def test_extant_juan_names_the_item_it_could_not_read() -> None:
    result = parse_extant_juan("存卷一至五、xyz")
    assert result["ranges"] == [span(1, 5)]
    assert result["warnings"] == ["存卷中未能识别：「xyz」"]


@pytest.mark.parametrize("raw", ["", "存", "若干", "存卷十至一"])
def test_extant_juan_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="存十卷"):
        parse_extant_juan(raw)


def test_juan_set() -> None:
    assert juan_set(parse_extant_juan("存卷首、卷一至三、卷八")) == {(None, n) for n in (1, 2, 3, 8)}
    assert juan_set(parse_extant_juan("存十卷（卷上一至十）")) == {("上", n) for n in range(1, 11)}
    assert juan_set(parse_extant_juan("存63 卷")) == set()


# ---- 责任说明 -----------------------------------------------------------------------------------


def people(*triples) -> list[dict]:
    return [{"dynasty": d, "name": n, "role": r} for d, n, r in triples]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("（清）冒襄撰", people(("清", "冒襄", "撰"))),
        ("（漢）毛亨傳（漢）鄭玄箋（唐）孔穎達疏",
         people(("漢", "毛亨", "傳"), ("漢", "鄭玄", "箋"), ("唐", "孔穎達", "疏"))),
        ("（漢）毛亨,（漢）鄭玄,（唐）陸德明",
         people(("漢", "毛亨", None), ("漢", "鄭玄", None), ("唐", "陸德明", None))),
        ("（明）唐順之編", people(("明", "唐順之", "編"))),
        ("（明）王世貞撰；（明）陳繼儒校", people(("明", "王世貞", "撰"), ("明", "陳繼儒", "校"))),
        ("(清)冒襄撰", people(("清", "冒襄", "撰"))),
        ("[清]冒襄撰", people(("清", "冒襄", "撰"))),
        ("〔清〕冒襄撰", people(("清", "冒襄", "撰"))),
        ("冒襄撰", people((None, "冒襄", "撰"))),
        ("冒襄", people((None, "冒襄", None))),
        ("（清）楊受廷等修（清）馮汝楫等纂", people(("清", "楊受廷等", "修"), ("清", "馮汝楫等", "纂"))),
        ("（唐）李白撰（宋）楊齊賢集注（元）蕭士贇補注",
         people(("唐", "李白", "撰"), ("宋", "楊齊賢", "集注"), ("元", "蕭士贇", "補注"))),
        ("（漢）鄭玄注（唐）陸德明音義", people(("漢", "鄭玄", "注"), ("唐", "陸德明", "音義"))),
        ("（清）王念孫、王引之撰", people(("清", "王念孫", "撰"), ("清", "王引之", "撰"))),
        ("（明）李贄批點", people(("明", "李贄", "批點"))),
        ("（宋）歐陽修", people(("宋", "歐陽修", None))),  # 修 is part of the name
        ("（宋）歐陽修撰", people(("宋", "歐陽修", "撰"))),
        ("（明）魏校", people(("明", "魏校", None))),  # 校 is part of the name
        ("（明）周是修", people(("明", "周是修", None))),
    ],
)
def test_parse_responsibility(raw: str, expected: list[dict]) -> None:
    assert parse_responsibility(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["（清）冒襄撰", "（漢）毛亨傳（漢）鄭玄箋（唐）孔穎達疏", "（明）唐順之編", "冒襄撰",
     "（清）楊受廷等修（清）馮汝楫等纂", "（唐）李白撰（宋）楊齊賢集注（元）蕭士贇補注"],
)
def test_format_responsibility_round_trips(raw: str) -> None:
    assert format_responsibility(parse_responsibility(raw)) == raw


def test_format_responsibility_with_a_separator_and_without_roles() -> None:
    raw = "（明）王世貞撰；（明）陳繼儒校"
    assert format_responsibility(parse_responsibility(raw), separator="；") == raw
    assert format_responsibility(parse_responsibility(raw)) == "（明）王世貞撰（明）陳繼儒校"
    # Names without roles are kept apart, so that the text reads back the same.
    kanripo = parse_responsibility("（漢）毛亨,（漢）鄭玄")
    assert format_responsibility(kanripo) == "（漢）毛亨，（漢）鄭玄"
    assert parse_responsibility(format_responsibility(kanripo)) == kanripo


def test_roles_can_be_switched_off_or_forced() -> None:
    assert parse_responsibility("（清）冒襄撰", roles=False) == people(("清", "冒襄撰", None))
    assert parse_responsibility("（明）周是修", roles=True) == people(("明", "周是", "修"))


@pytest.mark.parametrize("raw", ["", "（清）", "（清", "，；"])
def test_responsibility_garbage(raw: str) -> None:
    with pytest.raises(ParseError, match="（清）冒襄撰"):
        parse_responsibility(raw)


# ---- real lines of the Kanripo catalogue (tests/fixtures/kanripo_catalog_excerpt.txt) ----------

KANRIPO_RESP = {
    "（漢）毛亨,（漢）鄭玄,（唐）陸德明": [("漢", "毛亨"), ("漢", "鄭玄"), ("唐", "陸德明")],
    "（周）卜商,（宋）朱熹": [("周", "卜商"), ("宋", "朱熹")],
    "（漢）毛亨,（漢）鄭玄,（唐）孔穎達,（唐）陸德明":
        [("漢", "毛亨"), ("漢", "鄭玄"), ("唐", "孔穎達"), ("唐", "陸德明")],
    "（宋）歐陽修": [("宋", "歐陽修")],
    "（宋）段昌武": [("宋", "段昌武")],
    "（）闕名,（宋）陳友仁": [(None, "闕名"), ("宋", "陳友仁")],  # 闕名 = author unknown
    "（清）高宗弘曆": [("清", "高宗弘曆")],
    "（漢）鄭玄": [("漢", "鄭玄")],
    "（唐）賈公彥": [("唐", "賈公彥")],
    "（漢）鄭玄,（唐）孔穎達,（唐）陸德明": [("漢", "鄭玄"), ("唐", "孔穎達"), ("唐", "陸德明")],
    "（明）鄭眞": [("明", "鄭眞")],
    "（明）周是修": [("明", "周是修")],
    # The catalogue writes 祐 as U+FA4F (a compatibility ideograph); the parsed name uses U+7950.
    "（明）胡居仁,（明）余\ufa4f": [("明", "胡居仁"), ("明", "余\u7950")],
    "（明）魏校": [("明", "魏校")],
}


def test_every_kanripo_resp_line_parses_to_its_people() -> None:
    lines = [value for value in catalogue_values("_RESP") if value]
    assert len(lines) == 14 and set(lines) == set(KANRIPO_RESP)
    for line in lines:
        expected = [{"dynasty": d, "name": n, "role": None} for d, n in KANRIPO_RESP[line]]
        assert parse_responsibility(line) == expected, line
        assert parse_responsibility(line, roles=False) == expected, line


def kanripo_works() -> list[tuple[str, str, list[tuple[str | None, str, str]]]]:
    """(KR id, _RESP, [(dynasty, name, function)] from the 人物 headings) for each work in the excerpt."""
    works = []
    for block in re.split(r"\n(?=\*\*\* KR)", CATALOGUE)[1:]:
        kr_id = block.split()[1]
        resp = re.search(r"^[ \t]*:_RESP:[ \t]*(.*)$", block, re.M)
        section = re.search(r"^\*\*\*\* 人物\n(.*?)(?=^\*\*\*\* |\Z)", block, re.M | re.S)
        found = []
        for name, props in re.findall(r"^\*\*\*\*\* (\S+)\n\s*:PROPERTIES:\n(.*?)^\s*:END:",
                                      section.group(1) if section else "", re.M | re.S):
            dynasty = re.search(r":DYNASTY:\s*(\S+)", props)
            function = re.search(r":FUNCTION:\s*(\S+)", props)
            found.append((dynasty and dynasty.group(1), name, function and function.group(1)))
        works.append((kr_id, resp.group(1).strip() if resp else "", found))
    return works


def test_kanripo_resp_names_match_the_people_listed_under_each_work() -> None:
    checked = 0
    for kr_id, resp, listed in kanripo_works():
        if not resp or not listed:
            continue
        parsed = [(p["dynasty"], p["name"]) for p in parse_responsibility(resp)]
        expected = [(d, parse_responsibility(n)[0]["name"]) for d, n, _ in listed]  # same NFC folding
        assert parsed == expected, kr_id
        checked += 1
    assert checked == 12


def test_kanripo_people_with_their_functions_read_back_as_roles() -> None:
    # Each work's 人物 written the way a cataloguer writes a 责任说明: （漢）毛亨傳（漢）鄭玄箋…
    statements = {}
    for kr_id, _resp, listed in kanripo_works():
        if listed and all(f for _, _, f in listed):
            statements[kr_id] = "".join(f"（{d}）{n}{f}" if d else f"{n}{f}" for d, n, f in listed)
    assert parse_responsibility(statements["KR1c0004"]) == people(
        ("漢", "毛亨", "傳"), ("漢", "鄭玄", "箋"), ("唐", "孔穎達", "疏"), ("唐", "陸德明", "音義"))
    assert parse_responsibility(statements["KR1c0003"]) == people(
        ("周", "卜商", "撰"), ("宋", "朱熹", "辨說"))
    assert parse_responsibility(statements["KR1d0013"]) == people(
        (None, "闕名", "撰"), ("宋", "陳友仁", "增修"))
    assert parse_responsibility(statements["KR1d0018"]) == people(("清", "高宗弘曆", "敕撰"))
    assert parse_responsibility(statements["KR1d0027"]) == people(("唐", "賈公彥等", "撰"))  # FUNCTION 等撰
    assert parse_responsibility(statements["KR1c0008"]) == people(("宋", "歐陽修", "撰"))
    assert parse_responsibility(statements["KR4e0077"]) == people(("明", "周是修", "撰"))
    assert parse_responsibility(statements["KR4e0164"]) == people(("明", "魏校", "撰"))
    assert parse_responsibility(statements["KR4e0144"]) == people(
        ("明", "胡居仁", "撰"), ("明", "余\u7950", "編"))
    for kr_id, statement in statements.items():  # and every one of them reads back the same way
        assert format_responsibility(parse_responsibility(statement)) == \
            "".join(ch if ch != "\ufa4f" else "\u7950" for ch in statement), kr_id


KANRIPO_EXTENT = [  # (value, count, unknown) in the order they appear in the excerpt
    ("二十卷", 20, False), ("2 卷", 2, False), ("30 卷", 30, False), ("1 卷", 1, False),
    ("# 卷", None, True), ("15 卷", 15, False), ("存25 卷", 25, False), ("10 卷", 10, False),
    ("2 卷", 2, False), ("48 卷", 48, False), ("十七卷", 17, False), ("五十卷", 50, False),
    ("63 卷", 63, False), ("(5) 卷", 5, False), ("(5) 卷", 5, False), ("存63 卷", 63, False),
    ("6 卷", 6, False), ("3 卷", 3, False), ("16 卷", 16, False),
]


def test_every_kanripo_extent_parses() -> None:
    assert catalogue_values("EXTENT") == [value for value, _, _ in KANRIPO_EXTENT]
    for value, count, unknown in KANRIPO_EXTENT:
        if value.startswith("存"):  # 存 = only part survives: an extant-juan statement
            assert parse_extant_juan(value) == {"count": count, "ranges": [], "warnings": []}
        else:
            result = parse_juan_count(value)
            assert (result["count"], result["unknown"], result["warnings"]) == (count, unknown, []), value


def test_kanripo_source_lines_give_the_right_years() -> None:
    sources = catalogue_values("SOURCE")
    siku = [s for s in sources if s.startswith("四庫全書")]
    assert len(siku) == 11 and all(find_reign_date(s) is None for s in siku)
    dated = [s for s in sources if not s.startswith("四庫全書")]
    assert dated == ["正文據清嘉慶二十年(1816)江西南昌府學重刊之宋本《儀禮注疏》。",
                     "正文據清嘉慶二十年（1816）江西南昌府學重刊之宋本《禮記注疏》。"]
    for source in dated:
        found = find_reign_date(source)
        assert (found["start"], found["end"], found["dynasty"], found["reign"], found["year_in_reign"]) == \
            (1815, 1815, "清", "嘉慶", 20)
        assert found["raw"] == source[3:source.index("江西")]
        assert len(found["warnings"]) == 1 and "1816" in found["warnings"][0]


def test_kanripo_date_lines() -> None:
    dates = catalogue_values("DATE")
    assert dates == ["乾\uf9dc十三年"]  # 隆 as a compatibility ideograph, as in the catalogue
    assert parse_reign_date(dates[0]) == date(1748, 1748, "清", "乾隆", 13)


KANRIPO_EDITIONS = {  # the date of the edition each 版本 statement names; None where it gives none
    "常熟瞿氏鐵琴銅劍樓藏宋刊巾箱本": (960, 1279),
    "長沙葉氏觀古堂藏明徐氏翻宋刊本": None,  # a Ming re-cut of a Song edition, Ming not marked as a date
    "汪閬原覆宋景刊本": None,  # 覆宋 = re-cut of a Song edition: not itself Song
    "侯官李氏觀槿齋藏正德中刊本": (1506, 1521),
    "烏程許氏藏洪武中刊本": (1368, 1398),
    "江南圖書館藏景泰閒徐庸刊本": (1450, 1456),
    "江南圖書館藏正統九年長洲刊本": (1444, 1444),
    "江安傅氏雙鑑樓藏成化中刊本": (1465, 1487),
}


def test_kanripo_edition_lines_give_the_right_years() -> None:
    editions = catalogue_values("EDITION")
    assert set(editions) == set(KANRIPO_EDITIONS)
    for edition in editions:
        found = find_reign_date(edition)
        expected = KANRIPO_EDITIONS[edition]
        assert (None if found is None else (found["start"], found["end"])) == expected, edition


# ---- 版本类型 from the 版本 statement ----------------------------------------------------------------


@pytest.mark.parametrize("statement, expected", [
    ("明崇禎毛氏汲古閣刻本", "刻本"),
    ("清刻本", "刻本"),
    ("清刻後印本", "刻本"),
    ("宋刻元明遞修本", "刻本"),  # 递修: still a 刻本, the 修 goes into 版本
    ("明萬曆刻清修補本", "刻本"),
    ("寫刻本", "刻本"),  # a 刻本 cut in a calligraphic hand, not a 写本
    ("明閔齊伋刻朱墨套印本", "套印本"),  # 套印 before 刻
    ("清乾隆武英殿聚珍版印本", "木活字本"),
    ("清同治福建重刻武英殿聚珍版書", "刻本"),  # a block-printed copy of the 聚珍 books
    ("民國上海中華書局聚珍仿宋版印本", "铅印本"),
    ("清木活字印本", "木活字本"),
    ("明弘治華氏會通館銅活字印本", "铜活字本"),
    ("清道光翟氏泥活字印本", "泥活字本"),
    ("朝鮮活字本", "活字本"),
    ("影宋鈔本", "影抄本"),
    ("精鈔本", "抄本"),
    ("清抄本（據明刻本）", "抄本"),  # the bracketed remark is not the edition
    ("明刻本（卷一至三配清抄本）", "刻本"),
    ("清稿本", "稿本"),
    ("唐寫本", "写本"),
    ("宋拓本", "拓本"),
    ("清光緒上海點石齋石印本", "石印本"),
    ("民國鉛印本", "铅印本"),
    ("民國十八年上海商務印書館影印明嘉靖刻本", "影印本"),  # a photographic reprint of a 刻本
    ("明崇禎胡氏十竹齋餖版印本", "饾版印本"),
])
def test_edition_type_from_the_statement(statement, expected):
    assert parse_edition_type(statement)["edition_type"] == expected


@pytest.mark.parametrize("statement", ["清乾隆文淵閣四庫全書本", "四部叢刊本", "批校本", "油印本", "", "   "])
def test_a_statement_that_names_no_type_gives_none(statement):
    assert parse_edition_type(statement) is None


def test_edition_type_from_kanripo_edition_lines():
    """The :EDITION: lines of the real catalogue excerpt (四部叢刊 base editions)."""
    lines = catalogue_values("EDITION")
    assert len(lines) == 8 and "汪閬原覆宋景刊本" in lines  # 景刊 = a facsimile block cutting, still 刊
    assert {line: parse_edition_type(line)["edition_type"] for line in lines} == dict.fromkeys(lines, "刻本")
    # other lines of the Kanripo catalogue: 景印 is photographic; 宋本 alone names no type
    assert parse_edition_type("日本景印舊鈔本及宋刊本")["edition_type"] == "影印本"
    assert parse_edition_type("中華學藝社借照東京靜嘉堂文庫藏宋本") is None


def test_every_derivation_rule_names_a_term_of_the_vocabulary():
    vocabulary = json.loads(EDITION_TYPE_PATH.read_text(encoding="utf-8"))
    assert {rule["term"] for rule in vocabulary["x-derive"]} <= set(vocabulary["enum"])
    for rule in vocabulary["x-derive"]:  # each rule's own example is read by that rule (or an earlier one)
        example = re.split(r"[、（]", rule["example"])[0]
        assert parse_edition_type(example)["edition_type"] == rule["term"], example
