"""The analyzer: search keys, variant folding, offsets back to the original text."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest
from search_support import TEXTS

from guji.search.analyzer import (
    PARAGRAPH_BREAK,
    TABLE_FILE,
    VARIANTS_FILE,
    analyze,
    bigrams,
    fold,
    merge_spans,
    phrase_bigrams,
    unigrams,
    variant_table,
)

VARIANTS = json.loads(VARIANTS_FILE.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("written", "read_as"), [
    ("后妃之徳", "后妃之德"),  # 四庫 variant
    ("影梅庵憶語", "影梅庵忆语"),  # traditional → simplified
    ("左𫝊", "左傳"),  # non-BMP variant
    ("荆川", "荊川"),
    ("眞爲敎", "真為教"),
    ("《關雎》、后妃¶", "关雎后妃"),  # punctuation and line-end marks dropped
    ("國　風 周南\n", "国风周南"),  # full-width and ordinary spaces, newlines
    ("ＡＢＣ１２", "abc12"),  # full-width ASCII
    ("\uf900", "\u8c48"),  # CJK compatibility ideograph → unified (NFC)
    ("豈\ufe00", "岂"),  # variation selector dropped
])
def test_fold_reads_variants_and_simplified_forms_alike(written, read_as):
    assert fold(written) == fold(read_as)


def test_every_variant_in_the_table_folds_to_its_standard_form():
    for variant, standard in VARIANTS["fold"].items():
        assert variant != standard
        assert fold(variant) == fold(standard), (variant, standard)
        assert standard not in VARIANTS["fold"], f"{standard} is itself a variant: the table must not chain"


def test_distinct_words_are_not_folded_together():
    for entry in VARIANTS["kept_apart"]:
        first, second = entry["pair"]
        assert fold(first) != fold(second), entry


def test_gaiji_and_described_characters_are_one_key_character_each():
    key = fold("面&KR1005;嵲[危*臬]")
    assert len(key) == 4
    assert fold("&KR1005;") == key[1]
    assert fold("[危*臬]") == key[3]
    assert fold("&KR1005;") != fold("&KR1006;")
    assert fold("<pb:KR1c0004_WYG_001-1a>") == ""
    assert fold("[考證跋語]") == fold("考證跋語")  # bracketed words stay words


def test_the_key_of_a_substring_is_the_substring_of_the_key():
    # (markup aside: a cut through <pb:…> or &KR…; is no substring of the text's characters)
    text = re.sub(r"<pb:[^>]*>", "", (TEXTS / "KR1c0004_001.txt").read_text(encoding="utf-8"))
    text += (TEXTS / "影梅庵忆语.txt").read_text(encoding="utf-8")
    rng = random.Random(5)
    for _ in range(300):
        start = rng.randrange(len(text) - 40)
        cut = rng.randrange(start, start + 40)
        assert fold(text[start:cut]) + fold(text[cut:start + 40]) == fold(text[start:start + 40])


def test_offsets_point_back_to_the_original_characters():
    text = "序關雎(后妃/之徳)&KR0518;也。"
    folded = analyze(text)
    assert folded.key == fold(text)
    begin, end = folded.original_span(3, 7)  # 后妃之德
    assert text[begin:end] == "后妃/之徳"
    begin, end = folded.original_span(7, 8)
    assert text[begin:end] == "&KR0518;"


def test_grams_never_cross_a_paragraph_break():
    key = "ab" + PARAGRAPH_BREAK + "cd"
    assert unigrams(key) == ["a", "b", "c", "d"]
    assert bigrams(key) == ["ab", "cd"]
    assert phrase_bigrams("abcde") == [(0, "ab"), (2, "cd"), (3, "de")]
    assert phrase_bigrams("abcd") == [(0, "ab"), (2, "cd")]


def test_overlapping_and_touching_spans_merge():
    assert merge_spans([(4, 6), (0, 2), (1, 3), (6, 7)]) == [(0, 3), (4, 7)]


# ---- the table generated from Unihan (search/build_variants.py) --------------------------------------

EXCERPT = Path(__file__).parent / "fixtures" / "unihan_variants_excerpt.txt"


def test_a_traditional_query_finds_the_simplified_text_of_yingmeian_where_opencc_does_not():
    """影梅庵忆语 opens 「爱生于昵」; a reader of a traditional edition types 愛生於暱 — 暱 is a variant
    OpenCC's t2s leaves as it is, Unihan links it to 昵."""
    assert fold("愛生於暱") == fold("爱生于昵")
    assert fold("啖名") == fold("噉名")  # 「啖名之恶习」 of the same text


def test_the_committed_table_follows_the_generators_rules_on_a_unihan_excerpt():
    from guji.search import build_variants

    with EXCERPT.open(encoding="utf-8") as handle:
        unihan = build_variants.read_unihan(handle)
    assert unihan.version == "15.0.0" and unihan.date == "2022-08-01"
    curated = json.loads(VARIANTS_FILE.read_text(encoding="utf-8"))
    small, refused = build_variants.build_table(unihan, curated, build_variants.opencc_edges())
    for character, key in small.items():  # what the excerpt joins, the committed table joins
        assert fold(character) == fold(key), (character, key)
    for edge, why in refused:  # what the rules refuse on the excerpt stays apart in the committed table
        assert fold(edge.first) != fold(edge.second), (edge, why)
    reasons = {(edge.first, edge.second): why for edge, why in refused}
    assert reasons[("只", "子")].startswith("two standard characters")  # Unihan: kSemanticVariant <kLau
    assert reasons[("沈", "沉")] == "kept apart: 沈/沉"
    document = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    assert document["version"] == build_variants.table_version(document["fold"])
    assert "Unicode 15.0.0" in document["sources"]["unihan"] and document["generated"]


def test_folding_is_one_step_and_never_joins_a_kept_apart_pair_through_a_chain():
    table = variant_table()
    assert not set(table.values()) & set(table)  # every key is its own key: nothing chains
    for entry in VARIANTS["kept_apart"]:
        first, second = entry["pair"]
        assert fold(first) != fold(second), entry
    # chains in Unihan that would join distinct words: 子~只~隻, 予~余~餘, 於~亏~虧, 沈~瀋~渖
    assert len({fold(c) for c in "子只"}) == 2 and fold("隻") == fold("只")
    assert len({fold(c) for c in "予餘"}) == 2 and fold("餘") == fold("余")
    assert fold("於") == fold("于") != fold("虧")
    assert fold("瀋") == fold("沈") != fold("沉")
