"""Aligning a curated text (imported or corrected) to the OCR of its scan, character by character.

The alignment is rapidfuzz's (Levenshtein edit operations, computed in C++), never a hand-written
dynamic programme. Characters are compared by a *key*: NFC, then OpenCC traditional→simplified one
character at a time (so 傳/传 and 歷/历 match and the key keeps one key character per character).

Two cases:

- the text covers the page (a transcription of it): one global alignment of the whole page;
- the text covers a small part of what the OCR read (a table page whose transcription has only its
  headings — book7 of the samples): each text line is placed on its best-matching stretch of the
  OCR (``partial_ratio_alignment``), then aligned within it. Table cells nobody transcribed are
  not counted as errors.

The agreement is the CER of the OCR against the text: edit operations / characters of the text,
Han characters only, with and without the traditional→simplified key ("raw").
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")
SPARSE = 2.0  # OCR more than this many times longer than the text: align line by line
LINE_MATCH = 60  # the least partial_ratio score for a line placed on the OCR


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def char_key(char: str) -> str:
    """One key character per character: NFC, then traditional → simplified."""
    normal = unicodedata.normalize("NFC", char)
    converted = _t2s().convert(normal) if len(normal) == 1 else normal
    return converted[:1] if converted else char


def key(text: str) -> str:
    return "".join(char_key(char) for char in text)


def is_han(char: str) -> bool:
    return bool(_HAN.match(char))


def han_only(text: str) -> str:
    return "".join(char for char in text if is_han(char))


def cer(reference: str, hypothesis: str, *, simplified: bool = True) -> float | None:
    """Character error rate of `hypothesis` against `reference`, Han characters only; None without any."""
    reference, hypothesis = han_only(reference), han_only(hypothesis)
    if not reference:
        return None
    if simplified:
        reference, hypothesis = key(reference), key(hypothesis)
    return Levenshtein.distance(reference, hypothesis) / len(reference)


@dataclass
class Alignment:
    mapping: list[int | None]  # per reference character: the OCR character it stands on, or None
    errors: int  # edit operations within the aligned stretches
    compared: int  # reference characters compared
    sparse: bool  # aligned line by line (the text covers a small part of the OCR)

    @property
    def cer(self) -> float | None:
        return self.errors / self.compared if self.compared else None


def _map(reference: str, hypothesis: str, offset: int, mapping: list[int | None], start: int) -> None:
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(reference, hypothesis):
        if tag == "equal" or (tag == "replace" and i2 - i1 == j2 - j1):
            for k in range(i2 - i1):
                mapping[start + i1 + k] = offset + j1 + k
        elif tag == "replace":  # unequal stretches: spread the text's characters over the OCR's
            for k in range(i2 - i1):
                mapping[start + i1 + k] = offset + j1 + min(j2 - j1 - 1, k * (j2 - j1) // (i2 - i1))


def align(reference_lines: list[str], hypothesis: str) -> Alignment:
    """Align the text (its lines in reading order) to the OCR text of the page (reading order)."""
    reference = "".join(reference_lines)
    mapping: list[int | None] = [None] * len(reference)
    ref_key, hyp_key = key(reference), key(hypothesis)
    if not reference or not hypothesis:
        return Alignment(mapping, len(han_only(reference)), len(han_only(reference)), False)
    if len(hyp_key) <= SPARSE * len(ref_key) + 20:
        _map(ref_key, hyp_key, 0, mapping, 0)
        return Alignment(mapping, _han_errors(reference, hypothesis), len(han_only(reference)), False)
    errors = compared = 0
    start = 0
    for line in reference_lines:
        positions = [index for index, char in enumerate(line) if is_han(char)]  # spaces, marks: not placed
        needle = "".join(char_key(line[index]) for index in positions)
        if needle:
            compared += len(needle)
            found = fuzz.partial_ratio_alignment(needle, hyp_key, score_cutoff=LINE_MATCH) if len(needle) > 1 \
                else None
            if found is None:
                errors += len(needle)
            else:
                stretch = hyp_key[found.dest_start:found.dest_end]
                placed: list[int | None] = [None] * len(needle)
                _map(needle, stretch, found.dest_start, placed, 0)
                for index, target in zip(positions, placed, strict=True):
                    mapping[start + index] = target
                errors += Levenshtein.distance(needle, stretch)
        start += len(line)
    return Alignment(mapping, errors, compared, True)


def _han_errors(reference: str, hypothesis: str) -> int:
    return Levenshtein.distance(key(han_only(reference)), key(han_only(hypothesis)))
