"""Collection search and search inside one book: the one code path behind `guji search`,
``/api/search``, the ``/search`` page and IIIF Content Search.

A hit is either a book's catalogue record or a page of its text; every wanted word must occur
in the same record or the same page (a field word such as 著者:冒襄 narrows pages to that
author's books). Books are ranked: matching records first, then by how many pages match.
Facets count matching books.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from guji.repository import Home
from guji.repository.page_labels import display_label, script_of_texts
from guji.repository.settings import Settings

from .backend import SearchBackend, check_schema, index_dir, page_stored, read_state
from .backends import backend_name, open_backend
from .documents import page_documents
from .fields import BY_NAME, FACETS
from .query import Query, QueryError, parse_query
from .snippets import Match, Snippet, highlight, page_matches, snippets

MACHINE_NOTE = "机器识别，未校对"  # said of a hit in OCR text no person has checked
SORTS = ("relevance", "title", "date", "call_number")
MAX_PER_PAGE = 100
MAX_PAGE = 1000


def _page_label(hit, book: dict) -> str:
    """叶一a / 卷二 葉一上 for a default or Kanripo label, in the script of the book's card (its title, else
    版本, else 著者: repository.page_labels)."""
    script = script_of_texts(book.get("title"), book.get("edition"), book.get("responsibility"))
    return display_label(hit.stored.get("label") or hit.page, script) or hit.page


@dataclass
class PageHit:
    book_id: str
    page: str | None  # None: text whose leaf has no scan (found in the book, no page to open)
    label: str
    snippets: list[Snippet]
    matches: list[Match]
    boxes: list = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # field → the page's stored text
    authority: str = "imported"  # imported, corrected (校对) or machine (OCR no person has checked)
    seq: int | None = None  # the text's place in the book (text/pages.json): opens a leaf without a scan

    @property
    def url(self) -> str:
        """The record page showing this text: at its scan, or — a leaf without a scan — its text alone."""
        if self.page:
            return f"/books/{self.book_id}?page={self.page}"
        return f"/books/{self.book_id}?text={self.seq}" if self.seq is not None else f"/books/{self.book_id}"

    def link(self, query: str = "") -> str:
        """`url` carrying the search, so the record page marks its matches (in the text and on the scan)."""
        if not query:
            return self.url
        return f"{self.url}{'&' if '?' in self.url else '?'}{urlencode({'q': query})}#reading"

    def to_json(self) -> dict:
        return {"page": self.page, "label": self.label, "scan": bool(self.page), "url": self.url,
                "snippets": [s.to_json() for s in self.snippets], "authority": self.authority,
                "authority_note": MACHINE_NOTE if self.authority == "machine" else None}


@dataclass
class BookHit:
    book: dict  # BookDocument.display()
    record_match: bool
    page_count: int
    pages: list[PageHit]
    title: Snippet | None = None

    @property
    def book_id(self) -> str:
        return self.book["id"]

    def to_json(self) -> dict:
        return {**self.book, "url": f"/books/{self.book_id}", "record_match": self.record_match,
                "title_html": self.title.html() if self.title else None,
                "page_count": self.page_count, "pages": [page.to_json() for page in self.pages]}


@dataclass
class SearchResults:
    query: str
    books: list[BookHit]
    total_books: int
    total_pages: int
    facets: dict[str, list[tuple[str, int]]]
    filters: dict[str, str]
    sort: str
    page: int
    per_page: int
    backend: str
    milliseconds: float

    def to_json(self) -> dict:
        return {
            "query": self.query, "backend": self.backend, "sort": self.sort, "page": self.page,
            "per_page": self.per_page, "total_books": self.total_books, "total_pages": self.total_pages,
            "filters": self.filters, "milliseconds": round(self.milliseconds, 2),
            "facets": {name: {"label": BY_NAME[name].label, "values": [{"value": v, "count": c} for v, c in values]}
                       for name, values in self.facets.items()},
            "books": [book.to_json() for book in self.books],
        }


def has_page_terms(query: Query) -> bool:
    """Whether the query asks for text at all (著者:冒襄 alone finds records, not pages)."""
    return any(term.kind in (None, "page") for group in query.required for term in group)


def _page_keys(query: Query) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {"text": [], "note": []}
    for group in query.required:
        for term in group:
            for name in ("text", "note"):
                if term.field in (None, name) and term.key not in keys[name]:
                    keys[name].append(term.key)
    return {name: sorted(values, key=len, reverse=True) for name, values in keys.items()}


def text_matches(entry: dict, text: str) -> list[Match]:
    """Where a query matches one page of ``text/pages.json`` (an entry with its lines), found as the
    index finds it — the same key, phrases and fields — but without the index: the marks on the text a
    reader is shown. Each match's ``places`` are (line, index in the line's pieces joined). Raises
    QueryError for a bad query."""
    query = parse_query(text)
    if not has_page_terms(query):
        return []
    (document,) = page_documents("", {"pages": [dict(entry, continues={})]})
    return page_matches(page_stored(document), _page_keys(query))


class Searcher:
    """Read-only searching over one data home's index, safe to share between threads (the web
    requests of a process share one).

    tantivy's searchers are thread-safe: one backend serves every thread at once. A whoosh reader
    is not (its searcher reads files through one shared position), so each search takes a whoosh
    backend of its own from a small pool — up to `READERS` searches run at once, each with its own
    reader and caches — instead of all searches of a process waiting for one lock."""

    READERS = max(2, os.cpu_count() or 1)

    def __init__(self, home: Home, backend: str | None = None, settings: Settings | None = None):
        self.home = home
        self.backend_name = backend_name(backend, settings)
        self.backend: SearchBackend = open_backend(home, self.backend_name)
        self._shared = self.backend_name == "tantivy"
        self._idle: queue.LifoQueue[SearchBackend] = queue.LifoQueue()  # the most recently used (warm) first
        self._idle.put(self.backend)
        self._opened = [self.backend]
        self._opening = threading.Lock()

    def close(self) -> None:
        for backend in self._opened:
            backend.close()

    @contextlib.contextmanager
    def _reader(self) -> Iterator[SearchBackend]:
        if self._shared:
            yield self.backend
            return
        try:
            backend = self._idle.get_nowait()
        except queue.Empty:
            with self._opening:
                fresh = len(self._opened) < self.READERS
                if fresh:
                    backend = open_backend(self.home, self.backend_name)
                    self._opened.append(backend)
            if not fresh:
                backend = self._idle.get()
        try:
            yield backend
        finally:
            self._idle.put(backend)

    def state(self) -> dict:
        return read_state(index_dir(self.home, self.backend_name))

    def _check_filters(self, filters: dict[str, str] | None) -> dict[str, str]:
        checked = {}
        for name, value in (filters or {}).items():
            if name not in FACETS:
                raise QueryError(f"不能按「{name}」筛选：可用 {'、'.join(FACETS)}", parameter="f")
            if not isinstance(value, str) or not value.strip() or len(value) > 64:
                raise QueryError(f"筛选条件 {name} 的值应为 1–64 个字符", parameter="f")
            checked[name] = value.strip()
        return checked

    def search(self, text: str, *, filters: dict[str, str] | None = None, sort: str = "relevance", page: int = 1,
               per_page: int = 10, pages_per_book: int = 3) -> SearchResults:
        """Search the whole collection; raises QueryError for a bad query or parameter."""
        check_schema(index_dir(self.home, self.backend_name))
        with self._reader() as backend:
            return self._search(backend, text, filters, sort, page, per_page, pages_per_book)

    def _search(self, backend, text, filters, sort, page, per_page, pages_per_book) -> SearchResults:
        started = time.perf_counter()
        if sort not in SORTS:
            raise QueryError(f"没有「{sort}」这种排序：可用 {'、'.join(SORTS)}", parameter="sort")
        if not 1 <= page <= MAX_PAGE:
            raise QueryError(f"页码应在 1 到 {MAX_PAGE} 之间", parameter="page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise QueryError(f"每页条数应在 1 到 {MAX_PER_PAGE} 之间", parameter="per_page")
        query = parse_query(text)
        filters = self._check_filters(filters)
        record_hits = {hit.book_id: hit.score for hit in
                       backend.search(query, kind="book", filters=filters, limit=None).hits}
        page_counts = {}
        if has_page_terms(query):
            page_counts = backend.facets(query, kind="page", fields=["book_id"], filters=filters)["book_id"]
        books = backend.books()
        matched = [book_id for book_id in set(record_hits) | set(page_counts) if book_id in books]
        facet_counts = {name: Counter() for name in FACETS}
        for book_id in matched:
            for name, value in (books[book_id].get("facets") or {}).items():
                if name in facet_counts:
                    facet_counts[name][value] += 1
        ordered = self._order(matched, books, record_hits, page_counts, sort)
        shown = ordered[(page - 1) * per_page: page * per_page]
        keys = _page_keys(query)
        title_keys = sorted({t.key for g in query.required for t in g if t.field in (None, "title")}, key=len,
                            reverse=True)
        hits = []
        for book_id in shown:
            pages = []
            if page_counts.get(book_id) and pages_per_book:
                found = backend.search(query, kind="page", book_ids=[book_id], filters=filters, limit=pages_per_book)
                for hit in found.hits:
                    matches = page_matches(hit.stored, keys)
                    pages.append(PageHit(book_id, hit.page or None, _page_label(hit, books[book_id]),
                                         snippets(hit.stored, matches), matches, hit.stored.get("boxes") or [],
                                         authority=hit.stored.get("authority") or "imported",
                                         seq=hit.stored.get("seq")))
            book = books[book_id]
            hits.append(BookHit(book, book_id in record_hits, page_counts.get(book_id, 0), pages,
                                highlight(book["title"], title_keys) if title_keys else None))
        facets = {name: sorted(counts.items(), key=lambda item: (-item[1], item[0]))
                  for name, counts in facet_counts.items() if counts}
        return SearchResults(text, hits, len(ordered), sum(page_counts.get(b, 0) for b in matched), facets, filters,
                             sort, page, per_page, self.backend_name, (time.perf_counter() - started) * 1000)

    @staticmethod
    def _order(matched, books, record_hits, page_counts, sort) -> list[str]:
        if sort == "title":
            return sorted(matched, key=lambda b: (books[b]["title"], b))
        if sort == "date":
            return sorted(matched, key=lambda b: (books[b].get("year") is None, books[b].get("year") or 0,
                                                  books[b]["title"], b))
        if sort == "call_number":
            return sorted(matched, key=lambda b: (not books[b].get("call_number"), books[b].get("call_number") or "",
                                                  b))
        return sorted(matched, key=lambda b: (b not in record_hits, -page_counts.get(b, 0),
                                              -record_hits.get(b, 0.0), books[b]["title"], b))

    def search_book(self, book_id: str, text: str, limit: int | None = None) -> tuple[Query, list[PageHit]]:
        """Every matching page of one book, with every match located (for IIIF Content Search);
        text without a scan comes with ``page`` None."""
        query = parse_query(text)
        check_schema(index_dir(self.home, self.backend_name))
        if not has_page_terms(query):
            return query, []
        with self._reader() as backend:
            hits = backend.search(query, kind="page", book_ids=[book_id], limit=limit)
            book = backend.books().get(book_id) or {}
        keys = _page_keys(query)
        pages = []
        for hit in hits.hits:
            matches = page_matches(hit.stored, keys)
            pages.append(PageHit(book_id, hit.page or None, _page_label(hit, book),
                                 snippets(hit.stored, matches, limit=len(matches) or 1), matches,
                                 hit.stored.get("boxes") or [],
                                 {name: t["text"] for name, t in (hit.stored.get("texts") or {}).items()},
                                 hit.stored.get("authority") or "imported", hit.stored.get("seq")))
        return query, pages
