"""The card schema, the controlled vocabularies and the 四部 classification, as data."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from guji import metadata_schemas
from guji.metadata_schemas import (
    canonical_term,
    card_schema,
    card_validator,
    classification_by_code,
    classification_lookup,
    classification_tree,
    validate_card,
    vocabulary,
    vocabulary_names,
)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples" / "cards.json"
KANRIPO_CATALOGUE_README = ROOT.parent / "shared" / "corpus" / "kanripo" / "catalog" / "README.org"
CJK = re.compile(r"[\u4e00-\u9fff]")


def load_samples() -> list[dict]:
    return json.loads(SAMPLES.read_text(encoding="utf-8"))


def good_card() -> dict:
    return {
        "id": "test-card",
        "record_type": "guji",
        "edition": {"title": "毛詩注疏", "edition_type": "刻本"},
        "copy": {"call_number": "善000123", "census_number": "320000-0101-0000001"},
        "rights": "http://rightsstatements.org/vocab/NoC-NC/1.0/",
    }


def problems_by_path(card: dict) -> dict[str, str]:
    problems = validate_card(card)
    for problem in problems:
        assert set(problem) == {"path", "message"}
        assert CJK.search(problem["message"]), problem
    return {problem["path"]: problem["message"] for problem in problems}


# ---- samples -------------------------------------------------------------------------------


def test_sample_cards_validate():
    cards = load_samples()
    assert 4 <= len(cards) <= 6
    for card in cards:
        assert validate_card(card) == [], card["id"]


def test_sample_cards_have_readable_unique_ids_and_say_holdings_are_fictitious():
    cards = load_samples()
    ids = [card["id"] for card in cards]
    assert len(ids) == len(set(ids))
    assert "maoshi-zhushu" in ids
    for card in cards:
        assert card["copy"]["holding_institution"] == "Guji 示例馆藏（演示数据）"
        assert "演示数据" in card["copy"]["provenance"]


def test_samples_show_every_raw_field_and_the_copy_level_parts():
    cards = {card["id"]: card for card in load_samples()}
    rich = cards["jingchuan-wenji"]
    assert rich["edition"]["layout"]["raw"].startswith("半葉")
    assert rich["edition"]["frame_size"]["raw"]
    assert rich["copy"]["extant_juan"]["raw"].startswith("存")
    assert rich["copy"]["seals"] and "/" in rich["copy"]["seals"][0]["text"]
    assert {"level", "graded_by", "date"} <= set(rich["copy"]["grade"])
    assert rich["copy"]["lists"]
    local = [card for card in cards.values() if card["record_type"] == "local_document"]
    assert {card["local_document"]["type"] for card in local} == {"地方著述", "地方志"}


# ---- the schema itself -----------------------------------------------------------------------


def test_card_schema_is_valid_draft_2020_12_with_the_agreed_id():
    schema = card_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "urn:guji:schema:card"
    assert schema["required"] == ["id", "record_type", "edition"]
    assert schema["properties"]["edition"]["required"] == ["title"]


def _fields(node: dict, path: str = ""):
    """Every field of the card schema (properties and list items), with its data path."""
    yield path, node
    for name, child in (node.get("properties") or {}).items():
        yield from _fields(child, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        yield from _fields(node["items"], f"{path}[]")


def test_every_field_has_a_chinese_title_and_a_description_with_what_to_type():
    for path, node in _fields(card_schema()):
        assert CJK.search(node.get("title", "")), f"{path or 'card'} has no Chinese title"
        assert node.get("description"), f"{path or 'card'} has no description"


def test_every_object_refuses_unknown_fields():
    for path, node in _fields(card_schema()):
        types = node.get("type")
        if types == "object" or (isinstance(types, list) and "object" in types):
            assert node.get("additionalProperties") is False, path


def test_validator_is_cached_and_knows_every_vocabulary():
    assert card_validator() is card_validator()
    for name in vocabulary_names():
        by_reference = card_validator().evolve(schema={"$ref": f"urn:guji:vocab:{name}"})
        sample = vocabulary(name).get("enum", ["1.03"])[0]
        assert by_reference.is_valid(sample), name
        assert not by_reference.is_valid("not a term"), name


# ---- vocabularies -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", vocabulary_names())
def test_each_vocabulary_loads_and_every_alias_maps_to_a_term(name):
    vocab = vocabulary(name)
    Draft202012Validator.check_schema(vocab)
    assert vocab["$id"] == f"urn:guji:vocab:{name}"
    assert vocab["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert vocab["title"]
    if "enum" not in vocab:
        assert name == "sibu_classification"
        return
    terms = vocab["enum"]
    assert len(terms) == len(set(terms))
    for alias, term in (vocab.get("x-aliases") or {}).items():
        assert term in terms, f"{name}: alias {alias} → {term} is not a term"
        assert alias not in terms, f"{name}: {alias} is both a term and an alias"
        assert canonical_term(name, alias) == term
    for term in terms:
        assert canonical_term(name, term) == term
    for key in (vocab.get("x-descriptions") or {}):
        assert key in terms


def test_vocabularies_the_brief_asked_for_exist():
    expected = {
        "record_type", "edition_type", "binding", "seal_style", "seal_shape", "annotation_type", "grade_level",
        "grade_class", "damage_level", "damage_type", "list_scope", "local_document_type", "distinction", "rights",
        "sibu_classification",
    }
    assert expected <= set(vocabulary_names())
    assert vocabulary("record_type")["x-labels"] == {"guji": "古籍", "local_document": "地方文献"}
    assert vocabulary("grade_level")["enum"] == ["一级", "二级", "三级", "四级"]
    assert vocabulary("grade_class")["enum"] == ["甲", "乙", "丙"]
    assert {"刻本", "写本", "抄本", "稿本", "木活字本", "套印本"} <= set(vocabulary("edition_type")["enum"])


def test_canonical_term_maps_traditional_and_variant_spellings():
    assert canonical_term("edition_type", "刊本") == "刻本"
    assert canonical_term("edition_type", "寫本") == "写本"
    assert canonical_term("edition_type", "鈔本") == "抄本"
    assert canonical_term("edition_type", " 刻本 ") == "刻本"
    assert canonical_term("binding", "綫裝") == "线装"
    assert canonical_term("seal_style", "朱白文相間") == "朱白文相间"
    assert canonical_term("seal_shape", "長方") == "长方形"
    assert canonical_term("record_type", "地方文獻") == "local_document"
    assert canonical_term("edition_type", "木板本") is None
    assert canonical_term("edition_type", None) is None
    with pytest.raises(KeyError):
        canonical_term("no_such_vocabulary", "刻本")


def test_rights_are_http_uris_with_a_trailing_slash_and_labels():
    vocab = vocabulary("rights")
    for uri in vocab["enum"]:
        assert re.match(r"^http://(creativecommons\.org|rightsstatements\.org)/.+/$", uri), uri
        assert vocab["x-labels"][uri]
    assert "http://rightsstatements.org/vocab/NoC-NC/1.0/" in vocab["enum"]
    assert "http://creativecommons.org/publicdomain/mark/1.0/" in vocab["enum"]
    assert canonical_term("rights", "https://creativecommons.org/licenses/by/4.0/") == (
        "http://creativecommons.org/licenses/by/4.0/"
    )


# ---- refusing bad cards -------------------------------------------------------------------------


def test_a_good_card_has_no_problems():
    assert validate_card(good_card()) == []


def test_wrong_census_number_is_refused_in_chinese():
    card = good_card()
    card["copy"]["census_number"] = "320000-101-1"
    problems = problems_by_path(card)
    assert problems == {"copy.census_number": "古籍普查编号 应为 6位-4位-7位 数字，如 320000-0101-0000001"}


def test_grade_needs_who_graded_it_and_when():
    card = good_card()
    card["copy"]["grade"] = {"level": "二级", "class": "乙"}
    problems = problems_by_path(card)
    assert set(problems) == {"copy.grade.graded_by", "copy.grade.date"}
    assert "定级人" in problems["copy.grade.graded_by"]
    assert "定级日期" in problems["copy.grade.date"]


def test_grade_date_must_be_a_real_iso_date():
    card = good_card()
    card["copy"]["grade"] = {"level": "二级", "graded_by": "张三", "date": "2024年5月10日"}
    assert "年-月-日" in problems_by_path(card)["copy.grade.date"]
    card["copy"]["grade"]["date"] = "2024-13-45"
    assert "copy.grade.date" in problems_by_path(card)
    card["copy"]["grade"]["date"] = "2024-05-10"
    assert validate_card(card) == []


def test_class_is_only_for_levels_one_to_three():
    card = good_card()
    card["copy"]["grade"] = {"level": "四级", "class": "甲", "graded_by": "张三", "date": "2024-05-10"}
    problems = problems_by_path(card)
    assert list(problems) == ["copy.grade.class"]
    assert "四级" in problems["copy.grade.class"]
    del card["copy"]["grade"]["class"]
    assert validate_card(card) == []
    card["copy"]["grade"].update(level="一级", **{"class": "丙"})
    assert validate_card(card) == []


def test_unknown_edition_type_is_refused_and_an_alias_gets_the_canonical_term():
    card = good_card()
    card["edition"]["edition_type"] = "木板本"
    message = problems_by_path(card)["edition.edition_type"]
    assert "版本类型" in message and "木板本" in message and "刻本" in message
    card["edition"]["edition_type"] = "刊本"
    assert "刻本" in problems_by_path(card)["edition.edition_type"]


def test_https_rights_uri_is_refused():
    card = good_card()
    card["rights"] = "https://rightsstatements.org/vocab/NoC-NC/1.0/"
    problems = problems_by_path(card)
    assert list(problems) == ["rights"]
    assert "http://" in problems["rights"] and "https" in problems["rights"]
    card["rights"] = "http://example.org/licence/"
    assert "rights" in problems_by_path(card)


def test_a_typo_in_a_field_name_is_caught_and_the_right_name_suggested():
    card = good_card()
    card["copy"]["census_numbr"] = card["copy"].pop("census_number")
    message = problems_by_path(card)["copy.census_numbr"]
    assert "census_number" in message and "古籍普查编号" in message
    card = good_card()
    card["edition"]["layout"] = {"raw": "半葉十行", "parsd": {}}
    assert "edition.layout.parsd" in problems_by_path(card)


def test_local_document_record_needs_local_document_facts():
    card = good_card()
    card["record_type"] = "local_document"
    problems = problems_by_path(card)
    assert list(problems) == ["local_document"]
    assert "地方文献" in problems["local_document"]
    card["local_document"] = {"type": "地方志", "place": "如皋"}
    assert validate_card(card) == []
    card["local_document"]["type"] = "方志"
    assert "地方志" in problems_by_path(card)["local_document.type"]


def test_other_bad_values_are_named_by_their_chinese_titles():
    card = good_card()
    card["id"] = "毛詩 注疏"
    del card["edition"]["title"]
    card["edition"]["classification"] = {"code": "1.99"}
    card["copy"]["seals"] = [{"text": "鐵琴銅/劍樓", "style": "红文"}]
    card["copy"]["volumes"] = "二十二"
    problems = problems_by_path(card)
    assert "标识符" in problems["id"]
    assert "题名" in problems["edition.title"]
    assert "1.99" in problems["edition.classification.code"]
    assert "印文样式" in problems["copy.seals[0].style"]
    assert "册数" in problems["copy.volumes"] and "整数" in problems["copy.volumes"]


def test_raw_is_required_but_parsed_parts_may_be_empty():
    card = good_card()
    card["edition"]["juan"] = {"count": 20}
    assert "卷数" in problems_by_path(card)["edition.juan.raw"]
    card["edition"]["juan"] = {"raw": "□卷", "count": None, "unknown": True, "supplements": []}
    card["edition"]["layout"] = {"raw": "版式待考", "parsed": None}
    card["edition"]["publication"] = {"date": {"raw": "待考", "start": None, "end": None, "warnings": ["未能识别"]}}
    card["copy"]["extant_juan"] = {"raw": "存卷首", "count": None,
                                   "ranges": [{"section": None, "start": None, "end": None, "label": "卷首"}]}
    assert validate_card(card) == []


def test_validate_card_does_not_change_the_card():
    card = good_card()
    card["copy"]["census_number"] = "bad"
    before = copy.deepcopy(card)
    validate_card(card)
    assert card == before


def test_not_a_card_at_all():
    assert validate_card(["not", "a", "card"])[0]["path"] == ""


# ---- 四部 classification -----------------------------------------------------------------------


def test_classification_by_code():
    node = classification_by_code("1.03")
    assert (node["name"], node["name_hant"]) == ("诗类", "詩類")
    assert (node["bu"], node["lei"], node["shu"]) == ("经部", "诗类", None)
    assert node["kanripo"] == "KR1c"
    assert node["path"] == ["经部", "诗类"]
    assert classification_by_code("2.11.03")["shu"] == "都会郡县之属"
    assert classification_by_code("9.99") is None


def test_classification_lookup_by_simplified_and_traditional_name_path_and_kanripo_id():
    assert classification_lookup("诗类")["code"] == "1.03"
    assert classification_lookup("詩類")["code"] == "1.03"
    assert classification_lookup("經部/詩類")["code"] == "1.03"
    assert classification_lookup("经部 / 诗类")["code"] == "1.03"
    assert classification_lookup("史部/地理類/都會郡縣之屬")["code"] == "2.11.03"
    assert classification_lookup("史部/都会郡县之属")["code"] == "2.11.03"
    assert classification_lookup("集部/別集類/明別集之屬")["code"] == "4.02.05"
    assert classification_lookup("KR4e")["name"] == "明别集之属"
    assert classification_lookup("群经总义类")["code"] == "1.07"
    assert classification_lookup("1.03")["name"] == "诗类"
    assert classification_lookup("史部/詩類") is None
    assert classification_lookup("不存在的类") is None
    assert classification_lookup("") is None


def test_classification_codes_are_stable_ascii_nested_under_their_parents():
    pattern = re.compile(vocabulary("sibu_classification")["pattern"])
    seen = set()

    def walk(nodes, parent):
        for node in nodes:
            code = node["code"]
            assert pattern.match(code) and code not in seen
            seen.add(code)
            if parent:
                assert code.rsplit(".", 1)[0] == parent
            assert node["level"] == {1: "部", 2: "类", 3: "属"}[code.count(".") + 1]
            assert node["name"] and node["name_hant"]
            walk(node["children"], code)

    walk(classification_tree(), None)
    assert [node["name"] for node in classification_tree()] == ["经部", "史部", "子部", "集部", "丛部"]


def test_kanripo_cross_references_exist_in_the_kanripo_catalogue():
    if not KANRIPO_CATALOGUE_README.is_file():
        pytest.skip("shared corpus not present")
    text = KANRIPO_CATALOGUE_README.read_text(encoding="utf-8")
    listed = dict(re.findall(r"\[(KR\d[a-z]) ([^\]]+)\]", text))  # [[file:KR/KR1a.txt][KR1a 易類]]
    listed.update(re.findall(r"^\*\* (KR\d) (\S+)", text, re.M))  # ** KR1 經部
    assert listed["KR4e"] == "別集類-明" and listed["KR1"] == "經部"
    crossrefs = []

    def walk(nodes):
        for node in nodes:
            if node.get("kanripo"):
                crossrefs.append(node)
            walk(node["children"])

    walk(classification_tree())
    assert len(crossrefs) >= 40
    for node in crossrefs:
        assert node["kanripo"] in listed, node
        kanripo_name = listed[node["kanripo"]].split("-")[0]  # 別集類-明 → 別集類
        assert kanripo_name in (node["name_hant"], "別集類") or node["name_hant"].startswith(kanripo_name), (
            node, kanripo_name
        )


def test_package_data_is_read_relative_to_the_module():
    assert metadata_schemas.SCHEMA_DIR == Path(metadata_schemas.__file__).parent
    assert (metadata_schemas.SCHEMA_DIR / "card.schema.json").is_file()
