"""The reading view: a book's text beside its scan, leaf by leaf, with a search's matches marked.

The text of a leaf is its entry in ``text/pages.json`` — whose authority (corrected, imported,
machine) decided what is shown — found by its scan (``?page=0003``; a whole-leaf text stored on its
a-half also answers for the b-half it ``covers``) or, for a leaf that was never scanned, by its
place in the book (``?text=12``: the entry's index, as search hits link it). Lines are columns
read right to left (CSS ``writing-mode: vertical-rl``); a 夹注 is a small double column, right
sub-column first, as the pieces of a line store it (``右/左``).

:func:`line_runs` turns a line into runs of text with a mark each (a search match here, a doubtful
character on the staff's 校对 page), so both pages draw lines the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from urllib.parse import urlencode

from lxml import etree

from guji.ingest import MACHINE_LABEL, PAGES_FILE, PageText, page_text
from guji.repository import Catalogue
from guji.search.query import QueryError
from guji.search.service import text_matches

log = logging.getLogger("guji.reading")
LAYOUTS = ("vertical", "horizontal")
MAX_PAGES_SHOWN = 2  # a book view shows two pages side by side


@dataclass
class Run:
    text: str
    mark: str | None = None  # "hit" (a search match) | "low" (a doubtful character) | None
    detail: str | None = None  # shown on hover (a character's confidence)


@dataclass
class Piece:
    kind: str  # text (正文) | note (夹注)
    columns: list[list[Run]]  # 正文: one; 夹注: its right and left sub-columns


@dataclass
class Line:
    role: str | None  # heading, margin (版心), annotation (眉批) or None (正文)
    pieces: list[Piece]
    number: int = 0

    @property
    def text(self) -> str:
        return "".join(run.text for piece in self.pieces for column in piece.columns for run in column)


@dataclass
class Leaf:
    book_id: str
    seq: int  # index in text/pages.json
    page: str | None  # its scan, or None: a leaf that was never scanned
    label: str
    authority: str
    lines: list[Line]
    covers: list[str] = field(default_factory=list)
    marks: int = 0  # how many search matches are marked

    @property
    def machine_label(self) -> str | None:
        return MACHINE_LABEL if self.authority == "machine" else None

    @property
    def empty(self) -> bool:
        """No character to read (a blank page, a table the transcription left out)."""
        return not any(line.text.strip("\u3000 ") for line in self.lines)


@dataclass
class Reading:
    book_id: str
    leaves: list[Leaf]
    query: str = ""
    query_error: str | None = None
    layout: str = "vertical"
    previous: str | None = None  # links to the leaves before and after the ones shown
    next: str | None = None
    has_text: bool = False  # whether the book has any text at all
    pages: list[str] = field(default_factory=list)  # the scans asked for (the viewer's pages)
    text_only: bool = False  # opened at a leaf's text (?text=), not at a scan

    @property
    def other_layout(self) -> str:
        return "horizontal" if self.layout == "vertical" else "vertical"

    def layout_link(self) -> str:
        """This record page with the other layout (the toggle without script)."""
        params: dict = {}
        if self.leaves:
            leaf = self.leaves[0]
            params = {"page": leaf.page} if leaf.page else {"text": leaf.seq}
        if self.query:
            params["q"] = self.query
        params["layout"] = self.other_layout
        return f"/books/{self.book_id}?{urlencode(params)}#reading"


def line_runs(line: dict, number: int, mark_of: Callable[[int], str | None],
              detail_of: Callable[[int], str | None] = lambda index: None) -> Line:
    """One stored line as pieces of runs; `mark_of(index)` marks the character at `index` of the
    line's pieces joined (``/`` counted, as search places and page_text count), `detail_of(index)`
    gives a marked character's hover text."""
    pieces = []
    position = 0
    for kind, text in line.get("pieces") or []:
        columns: list[list[Run]] = [[]]
        for char in text:
            if kind == "note" and char == "/":
                columns.append([])
            else:
                mark = mark_of(position)
                detail = detail_of(position) if mark else None
                column = columns[-1]
                if column and column[-1].mark == mark and not detail and not column[-1].detail:
                    column[-1].text += char
                else:
                    column.append(Run(char, mark, detail))
            position += 1
        pieces.append(Piece(kind, [column for column in columns if column] or [[]]))
    return Line(line.get("role"), pieces, number)


def _entries(catalogue: Catalogue, book_id: str) -> list[dict]:
    if PAGES_FILE not in catalogue.store.digests(book_id):
        return []
    return json.loads(catalogue.store.read_bytes(book_id, PAGES_FILE)).get("pages") or []


def _entry_of_scan(entries: list[dict], page: str) -> int | None:
    for index, entry in enumerate(entries):
        if entry.get("page") == page:
            return index
    for index, entry in enumerate(entries):
        if page in (entry.get("covers") or []):
            return index
    return None


def _leaf(book_id: str, seq: int, entry: dict, query: str, labels: dict[str, str]) -> Leaf:
    marked: set[tuple[int, int]] = set()
    matches = text_matches(entry, query) if query else []
    for match in matches:
        marked.update(match.places)
    lines = [line_runs(line, number, lambda index, n=number: "hit" if (n, index) in marked else None)
             for number, line in enumerate(entry.get("lines") or [])]
    scan = entry.get("page") if entry.get("page") in labels else None  # (a book without scans numbers its text)
    label = labels.get(scan or "") or entry.get("label") or entry.get("page") or str(seq + 1)
    return Leaf(book_id, seq, scan, label,
                entry.get("authority") or "imported", lines, list(entry.get("covers") or []), len(matches))


def leaf_link(book_id: str, entry: dict, seq: int, scans: Collection[str], query: str = "") -> str:
    """The record page at this leaf: at its scan, or its text alone (a leaf without a scan)."""
    params = {"page": entry["page"]} if entry.get("page") in scans else {"text": seq}
    if query:
        params["q"] = query
    return f"/books/{book_id}?{urlencode(params)}#reading"


def reading(catalogue: Catalogue, book_id: str, *, pages: list[str] | None = None, text: int | None = None,
            query: str = "", layout: str = "vertical") -> Reading:
    """What the reading view shows: the leaves of the scans `pages` (the viewer's visible pages), or
    the leaf at `text` (its index in the book's text), with `query`'s matches marked."""
    entries = _entries(catalogue, book_id)
    shown = Reading(book_id, [], query.strip(), layout=layout if layout in LAYOUTS else "vertical",
                    has_text=bool(entries), pages=list(pages or [])[:MAX_PAGES_SHOWN], text_only=text is not None)
    chosen: list[int] = []
    if text is not None and 0 <= text < len(entries):
        chosen = [text]
    for page in (pages or [])[:MAX_PAGES_SHOWN]:
        index = _entry_of_scan(entries, page)
        if index is not None and index not in chosen:
            chosen.append(index)
    if not chosen and not pages and text is None and entries:  # a book with text and no scans: from the start
        chosen = [0]
    labels = {str(entry.get("page")): str(entry.get("label") or "")  # the scans, labelled as the viewer shows them
              for entry in (catalogue.structure(book_id) or {}).get("pages") or []} if chosen else {}
    try:
        shown.leaves = [_leaf(book_id, index, entries[index], shown.query, labels) for index in chosen]
    except QueryError as error:
        shown.query_error = str(error)
        shown.leaves = [_leaf(book_id, index, entries[index], "", labels) for index in chosen]
    if chosen:
        first, last = min(chosen), max(chosen)
        if first > 0:
            shown.previous = leaf_link(book_id, entries[first - 1], first - 1, labels, shown.query)
        if last + 1 < len(entries):
            shown.next = leaf_link(book_id, entries[last + 1], last + 1, labels, shown.query)
    return shown


def text_of_scan(catalogue: Catalogue, book_id: str, page: str) -> PageText | None:
    """The located text standing on scan `page`: its own, or the whole leaf's text that covers it."""
    entries = _entries(catalogue, book_id)
    index = _entry_of_scan(entries, page)
    if index is None:
        return None
    return page_text(catalogue, book_id, entries[index]["page"])


def locator(catalogue: Catalogue, book_id: str) -> Callable[[str], list[list] | None]:
    """`locate(page)`: the characters of the text of scan `page`, each with its place on a scan
    (ingest.page_text), read once per page — for Content Search's boxes."""
    found: dict[str, list[list] | None] = {}

    def locate(page: str) -> list[list] | None:
        if page not in found:
            try:
                located = page_text(catalogue, book_id, page)
            except (OSError, ValueError, etree.LxmlError) as error:  # a damaged file: boxes by line, as before
                log.warning("%s page %s: no character boxes (%s); run guji fixity", book_id, page, error)
                located = None
            found[page] = located.chars if located else None
        return found[page]

    return locate
