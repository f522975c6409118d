"""The one Chinese analyzer every search backend uses: text → search *key* → unigrams + bigrams.

Stored and displayed text is never changed; search compares *keys*. The key of a text is made
character by character, so the key of a substring is the substring of the key (a query cut out of
a text always finds it):

1. markup: a Kanripo gaiji entity ``&KR0518;`` or a described character ``[門@里]`` is one
   character of the text; it becomes one Private Use character of the key. ``<…>`` tags are dropped.
2. NFC per character (CJK compatibility ideographs such as U+F9xx become the unified character;
   a precomposed Latin letter loses its accent, as the decomposed form does).
3. punctuation, whitespace, controls, combining marks and variation selectors are dropped
   (□ for a lost character and 〇 are kept: they hold a character's place).
4. variant folding (異體字) from ``variants.json``: 徳→德, 𫝊→傳, 眞→真 …
5. OpenCC traditional→simplified, one character at a time (傳→传, 憶→忆). Done per character,
   so it never depends on the neighbours: 乾 is 干 in every context, in texts and queries alike.

`PARAGRAPH_BREAK` (U+2029) in a text ends a run: it stays in the key, and no phrase crosses it
(it separates two 夹注 notes that main text stands between).
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import compress
from pathlib import Path

import opencc

PARAGRAPH_BREAK = "\u2029"
VARIANTS_FILE = Path(__file__).with_name("variants.json")

# Characters the key keeps although their Unicode category would drop them: none so far. Categories
# dropped: punctuation (P*), separators (Z*), controls/format (Cc, Cf), marks (Mn, Me: combining
# accents, variation selectors), modifier and math symbols (Sk, Sm: ^ ` | + < > =).
_DROPPED_CATEGORIES = ("P", "Z", "Cc", "Cf", "Cs", "Mn", "Me", "Sk", "Sm")

# &KR0518; — a Kanripo gaiji; [門@里] or [孑*(焉-正+?)] — a character described by its parts
# (only CJK parts and the operators * - + @ ? ( ), so that ordinary [bracketed words] stay text).
_MARKUP = re.compile(
    r"&KR(\d{1,6});"
    r"|\[((?=[^\]]*[*+@?\-])[\u2e80-\u9fff\U00020000-\U0003ffff*+@?()\-]{3,24})\]"
    r"|<[^<>\n]{0,200}>"
)
_GAIJI_BASE = 0xF0000  # Supplementary Private Use Area-A: one code point per KR gaiji number
_DESCRIBED_BASE = 0x100000  # Supplementary Private Use Area-B: described characters, by checksum


@cache
def variant_table() -> dict[str, str]:
    """variant → standard form, from variants.json."""
    data = json.loads(VARIANTS_FILE.read_text(encoding="utf-8"))
    return dict(data["fold"])


@cache
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


class _CharFold(dict):
    """Per-character key table for str.translate: filled lazily, one character at a time."""

    def __missing__(self, code: int) -> str | None:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


def _fold_char(char: str) -> str | None:
    if char == PARAGRAPH_BREAK:
        return char
    char = unicodedata.normalize("NFC", char)
    if len(char) != 1:
        return None
    decomposed = unicodedata.normalize("NFD", char)
    if len(decomposed) > 1 and all(unicodedata.combining(c) for c in decomposed[1:]):
        char = decomposed[0]  # é → e, the same as e + U+0301 with the accent dropped
    if unicodedata.category(char).startswith(_DROPPED_CATEGORIES) or char in "¶":
        return None
    code = ord(char)
    if 0xFF01 <= code <= 0xFF5E:  # full-width ASCII → ASCII
        char = chr(code - 0xFEE0)
        if unicodedata.category(char).startswith(_DROPPED_CATEGORIES):
            return None
    char = char.lower()
    variants = variant_table()
    for _ in range(3):  # variant → standard → simplified, until nothing changes
        before = char
        char = variants.get(char, char)
        converted = _t2s().convert(char)
        if len(converted) == 1:
            char = converted
        if char == before:
            break
    return char


_TABLE = _CharFold()


def markup_char(match: re.Match) -> str:
    """The one key character standing for a gaiji entity or a described character ('' for a tag)."""
    if match.group(1) is not None:
        return chr(_GAIJI_BASE + int(match.group(1)) % 0xFFFE)
    if match.group(2) is not None:
        return chr(_DESCRIBED_BASE + zlib.crc32(match.group(2).encode()) % 0xFFFE)
    return ""


def fold(text: str) -> str:
    """The search key of `text` (no offsets: the fast path used when indexing)."""
    if "&" in text or "[" in text or "<" in text:
        text = _MARKUP.sub(markup_char, text)
    return text.translate(_TABLE)


class _KeepMask(dict):
    """str.translate table: "\x01" for a character that has a key character, "\x00" for one dropped."""

    def __missing__(self, code: int) -> str:
        mark = "\x01" if _TABLE[code] else "\x00"
        self[code] = mark
        return mark


_MASK = _KeepMask()


@dataclass(frozen=True)
class Key:
    """A text's key with, for every key character, the span of the original text it came from."""

    text: str  # the original
    key: str
    starts: list[int]
    ends: list[int] | None  # None: every key character came from one original character

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) covering key characters [start, end)."""
        last = self.ends[end - 1] if self.ends is not None else self.starts[end - 1] + 1
        return self.starts[start], last


def _kept_positions(text: str, start: int, end: int) -> list[int]:
    mask = text[start:end].translate(_MASK).encode("latin-1")
    return list(compress(range(start, end), mask))


@lru_cache(maxsize=4096)
def analyze(text: str) -> Key:
    """The key of `text` with its offset map back to the original (cached: pages are shown often)."""
    if not ("&" in text or "[" in text or "<" in text) or not _MARKUP.search(text):
        return Key(text, text.translate(_TABLE), _kept_positions(text, 0, len(text)), None)
    key_parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in _MARKUP.finditer(text):
        if match.start() > position:
            kept = _kept_positions(text, position, match.start())
            key_parts.append(text[position:match.start()].translate(_TABLE))
            starts.extend(kept)
            ends.extend(index + 1 for index in kept)
        replacement = markup_char(match)
        if replacement:
            key_parts.append(replacement)
            starts.append(match.start())
            ends.append(match.end())
        position = match.end()
    kept = _kept_positions(text, position, len(text))
    key_parts.append(text[position:].translate(_TABLE))
    starts.extend(kept)
    ends.extend(index + 1 for index in kept)
    return Key(text, "".join(key_parts), starts, ends)


def runs(key: str) -> list[str]:
    """The runs of a key between paragraph breaks (empty runs dropped)."""
    return [run for run in key.split(PARAGRAPH_BREAK) if run]


def unigrams(key: str) -> list[str]:
    return [char for char in key if char != PARAGRAPH_BREAK]


def bigrams(key: str) -> list[str]:
    """Overlapping character pairs, never across a paragraph break."""
    pairs: list[str] = []
    for run in runs(key):
        pairs.extend(map(str.__add__, run, run[1:]))
    return pairs


def phrase_bigrams(key: str) -> list[tuple[int, str]]:
    """The fewest bigrams (with positions) that pin a phrase of ≥ 2 characters: AB CD DE for ABCDE."""
    positions = list(range(0, len(key) - 1, 2))
    if positions[-1] != len(key) - 2:
        positions.append(len(key) - 2)
    return [(position, key[position:position + 2]) for position in positions]


def crossing_bigram(left: str, right: str) -> str:
    """The token of the one bigram that runs across a page break (see `bridge`); '|' never
    occurs in a key, so no ordinary bigram can be mistaken for it."""
    return f"{left}|{right}"


def find_all(key: str, needle: str) -> Iterator[int]:
    """Start offsets of every (overlapping) occurrence of `needle` in `key`."""
    start = key.find(needle)
    while start != -1:
        yield start
        start = key.find(needle, start + 1)


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping or touching [start, end) spans (two hits of 之德 in 之德之德 → one mark)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
