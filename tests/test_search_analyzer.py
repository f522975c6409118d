"""The analyzer: search keys, variant folding, offsets back to the original text."""

from __future__ import annotations

import json
import random
import re

import pytest
from search_support import TEXTS

from search.analyzer import (
    PARAGRAPH_BREAK,
    VARIANTS_FILE,
    analyze,
    bigrams,
    fold,
    merge_spans,
    phrase_bigrams,
    unigrams,
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
