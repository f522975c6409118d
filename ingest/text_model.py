"""The transcription of a book as stored in its OCFL object (``text/pages.json``).

One entry per page of the text, in its reading order, aligned to the pages of ``structure.json``::

    {"format": "kanripo", "sources": ["KR1c0004_001.txt"], "pages": [
      {"page": "0001", "label": "001-1a", "marker": "KR1c0004_WYG_001-1a", "juan": "001", "leaf": "1a",
       "source": "KR1c0004_001.txt", "source_line": 7,
       "lines": [{"pieces": [["text", "序關雎后妃之徳也音義"], ["note", "關雎舊解云三百一十一/篇詩並是作者自為名妃"]],
                  "indent": 1}],
       "continues": {"text": true, "note": false}}]}

A line is a list of *pieces*: ``text`` (正文, large characters) and ``note`` (夹注, the small
double-column characters; ``/`` divides the right column from the left). A line may carry
``indent`` (full-width spaces at its start), ``role`` (``heading`` — an editor's section title; or
``margin`` — 版心, page numbers: shown, not searched) and ``box`` ([x, y, w, h] on the scan, from
PAGE-XML or hOCR). ``continues`` says whether the page's 正文 / 夹注 runs on onto the next page.

``page`` is null for text whose leaf has no scan (see :mod:`ingest.text_leaves`): it is kept,
searchable within the book and shown as having no scan. ``covers`` (e.g. ``["0001", "0002"]``)
says that the text of a whole leaf, stored on its a-half scan, runs over the b-half scan too.
Characters are stored as written: gaiji (``&KR0518;``), described characters (``[門@里]``) and
characters outside the BMP are kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from guji.repository.errors import Refused

TEXT_DIR = "text"
PAGES_FILE = "text/pages.json"
SOURCE_DIR = "text/source"


class TextRefused(Refused):
    """A text file that cannot be imported; `problems` name the file and line. Nothing was stored."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))

    @property
    def notes(self) -> list[str]:
        return self.problems if len(self.problems) > 1 else []


@dataclass
class TextLine:
    pieces: list[list[str]] = field(default_factory=list)  # [["text"|"note", string], …]
    indent: int = 0
    role: str | None = None  # heading | margin
    box: list[int] | None = None  # [x, y, w, h]

    def add(self, kind: str, text: str) -> None:
        if not text:
            return
        if self.pieces and self.pieces[-1][0] == kind:
            self.pieces[-1][1] += text
        else:
            self.pieces.append([kind, text])

    def to_json(self) -> dict:
        out: dict = {"pieces": self.pieces}
        if self.indent:
            out["indent"] = self.indent
        if self.role:
            out["role"] = self.role
        if self.box:
            out["box"] = self.box
        return out


@dataclass
class TextPage:
    source: str
    source_line: int
    lines: list[TextLine] = field(default_factory=list)
    marker: str | None = None  # Kanripo <pb:…> id, as written
    label: str | None = None
    juan: str | None = None
    leaf: str | None = None
    image: str | None = None  # the scan a PAGE-XML / hOCR page describes
    page: str | None = None  # "0001": set when aligned to structure.json; None: no scan
    covers: list[str] | None = None  # the scans a whole leaf's text runs over (a-half, b-half)

    def is_empty(self) -> bool:
        return not any(piece[1].strip() for line in self.lines for piece in line.pieces)

    def first_kind(self) -> str | None:
        for line in self.lines:
            if line.role != "margin" and line.pieces:
                return line.pieces[0][0]
        return None

    def last_kind(self) -> str | None:
        for line in reversed(self.lines):
            if line.role != "margin" and line.pieces:
                return line.pieces[-1][0]
        return None

    def to_json(self, continues: dict[str, bool]) -> dict:
        out: dict = {"page": self.page}
        for key in ("label", "marker", "juan", "leaf", "image", "covers"):
            value = getattr(self, key)
            if value:
                out[key] = value
        out["source"] = self.source
        out["source_line"] = self.source_line
        out["lines"] = [line.to_json() for line in self.lines]
        out["continues"] = continues
        return out


def pages_json_bytes(text_format: str, sources: list[str], pages: list[dict]) -> bytes:
    document = {"format": text_format, "sources": sources, "pages": pages}
    return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
