"""Highlighted snippets and match locations, computed from a page's stored text.

The index says *which* pages match; here the page's own text is folded again with its offset
map (`analyzer.analyze`) to find *where*: every occurrence of every wanted phrase is mapped back
to the original characters, overlapping or touching marks are merged, so a whole phrase is one
mark however many bigrams matched it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache

from .analyzer import PARAGRAPH_BREAK, analyze, find_all, fold, merge_spans

_cached_fold = lru_cache(maxsize=4096)(fold)
CONTEXT_BEFORE = 18
CONTEXT_AFTER = 36
MAX_SNIPPETS = 3


@dataclass
class Match:
    """One highlighted stretch of a page: field, original [start, end) and the page lines it covers."""

    field: str  # text (正文) | note (夹注)
    start: int
    end: int
    text: str
    lines: list[int]
    runs_on: str = ""  # the part on the next page, for a phrase across the page break
    places: list[tuple[int, int]] = field(default_factory=list)  # per matched character: (page line, index
    # in that line's pieces joined) — with ingest's page_text(...).chars[line][index], its box on the scan


@dataclass
class Snippet:
    field: str
    parts: list[tuple[str, bool]] = field(default_factory=list)  # (text, highlighted)

    def html(self) -> str:
        return "".join(f"<mark>{html.escape(text)}</mark>" if marked else html.escape(text)
                       for text, marked in self.parts)

    def to_json(self) -> dict:
        return {"field": self.field, "html": self.html(), "text": "".join(t for t, _ in self.parts),
                "marks": [t for t, marked in self.parts if marked]}


def _display(text: str) -> str:
    return text.replace(PARAGRAPH_BREAK, " ").replace("\n", " ")


def page_matches(stored: dict, keys: dict[str, list[str]]) -> list[Match]:
    """Every highlighted stretch on a page for the wanted keys of each field ({"text": [...], …})."""
    found: list[Match] = []
    texts = stored.get("texts") or {}
    following = stored.get("following") or {}
    for name, wanted in keys.items():
        entry = texts.get(name)
        if not entry or not wanted:
            continue
        own = entry["text"]
        combined = own + following.get(name, "")
        quick = _cached_fold(combined)  # a quick look before the offset map is built
        if not any(key in quick for key in wanted):
            continue
        folded = analyze(combined)
        own_length = len(own)
        spans = []
        for key in wanted:
            for start in find_all(folded.key, key):
                begin, end = folded.original_span(start, start + len(key))
                if begin < own_length:
                    spans.append((begin, end))
        offsets, numbers = entry["offsets"], entry["lines"]
        starts = entry.get("starts") or [0] * len(offsets)
        for begin, end in merge_spans(spans):
            clipped = min(end, own_length)
            places = [_place(offsets, numbers, starts, position) for position in range(begin, clipped)]
            lines = sorted({line for line, _ in places})
            places = [place for position, place in zip(range(begin, clipped), places, strict=True)
                      if own[position] not in "\n\u2029"]
            found.append(Match(name, begin, clipped, own[begin:clipped], lines,
                               runs_on=combined[own_length:end] if end > own_length else "", places=places))
    return found


def _place(offsets: list[int], numbers: list[int], starts: list[int], position: int) -> tuple[int, int]:
    """(page line, position in that line) of `position` in a field's text."""
    import bisect

    part = max(0, bisect.bisect_right(offsets, position) - 1)
    return numbers[part], starts[part] + position - offsets[part]


def snippets(stored: dict, matches: list[Match], limit: int = MAX_SNIPPETS) -> list[Snippet]:
    """Short passages around the matches, marks included (at most `limit`)."""
    texts = stored.get("texts") or {}
    result: list[Snippet] = []
    by_field: dict[str, list[Match]] = {}
    for match in matches:
        by_field.setdefault(match.field, []).append(match)
    for name, field_matches in by_field.items():
        text = texts[name]["text"]
        windows: list[list[Match]] = []
        for match in field_matches:
            if windows and match.start - windows[-1][-1].end <= CONTEXT_AFTER:
                windows[-1].append(match)
            else:
                windows.append([match])
        for window in windows:
            if len(result) >= limit:
                return result
            start = max(0, window[0].start - CONTEXT_BEFORE)
            end = min(len(text), window[-1].end + CONTEXT_AFTER)
            snippet = Snippet(name)
            if start > 0:
                snippet.parts.append(("…", False))
            position = start
            for match in window:
                if match.start > position:
                    snippet.parts.append((_display(text[position:match.start]), False))
                snippet.parts.append((_display(text[match.start:match.end]), True))
                position = match.end
                if match.runs_on:
                    snippet.parts.append(("｜", False))  # the page break
                    snippet.parts.append((_display(match.runs_on), True))
            if position < end:
                snippet.parts.append((_display(text[position:end]), False))
            if end < len(text):
                snippet.parts.append(("…", False))
            result.append(snippet)
    return result


def highlight(text: str, wanted: list[str]) -> Snippet:
    """A short text (a title) with the wanted keys marked."""
    folded = analyze(text)
    spans = [folded.original_span(start, start + len(key)) for key in wanted for start in find_all(folded.key, key)]
    snippet = Snippet("title")
    position = 0
    for begin, end in merge_spans(spans):
        if begin > position:
            snippet.parts.append((text[position:begin], False))
        snippet.parts.append((text[begin:end], True))
        position = end
    if position < len(text):
        snippet.parts.append((text[position:], False))
    return snippet
