"""The `SearchBackend` protocol and what every backend shares: index layout, query compilation
(search/backends.py chooses and opens a backend; the backends import this module, never it them).

A backend stores two kinds of documents (see `search.documents`): ``book`` (a catalogue record)
and ``page`` (one page of text). Each searchable text is indexed twice from its search key: as
unigrams (``<field>_1``, for one-character queries) and as bigrams with positions (``<field>_2``);
a phrase of n ≥ 3 characters is a phrase query over its bigrams, so 后妃之德 only matches where
the four characters stand together (never 后妃 … 之德 apart). A page whose text runs on to the
next page also has a *bridge* field (``<field>_x``: the last and first characters around the page
break, with the one bigram across the break written ``a|b``), so a phrase that starts on this page
and ends on the next is found on this page.

Writers: only one process writes an index (the indexer, or `guji reindex`); web processes read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

from guji.repository import Home, Unavailable

from .analyzer import PARAGRAPH_BREAK, crossing_bigram, fold, key_version, phrase_bigrams
from .documents import BookDocument, PageDocument
from .fields import BOOK_FIELDS, BY_NAME, FACETS, PAGE_FIELDS
from .query import Query, QueryError, Term

Kind = Literal["book", "page"]
BookEntry = tuple[BookDocument, list[PageDocument]]
SCHEMA_VERSION = 3  # 3: page documents store their authority and where each part starts in its line
META = "meta"  # catch-all of every book field (a word typed without a field name)
PAGE_BOOK = "page_book"  # the book of a page document (book documents do not have it)


class SearchError(Unavailable):
    """The index cannot be used now (missing, built by another version, being written by another process …)."""


@dataclass
class Hit:
    book_id: str
    page: str | None  # None for a book (catalogue record) hit
    score: float
    stored: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hits:
    total: int
    hits: list[Hit]


@runtime_checkable
class SearchBackend(Protocol):
    name: str

    def index(self, entries: Iterable[BookEntry]) -> int:
        """Add or replace books and all their pages (a book's old pages go); returns books written."""

    def delete(self, book_ids: Iterable[str]) -> None:
        """Remove books and their pages."""

    def search(self, query: Query, *, kind: Kind, book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None, limit: int | None = 10, offset: int = 0) -> Hits:
        """Matching books (best first) or pages (in reading order within a book)."""

    def facets(self, query: Query, *, kind: Kind, fields: Sequence[str], book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None) -> dict[str, dict[str, int]]:
        """For each field (``book_id`` or a facet), how many matching documents have each value."""

    def rebuild(self, entries: Iterable[BookEntry]) -> int:
        """Replace the whole index with these books (readers see the old index until it is done)."""

    def books(self) -> dict[str, dict]:
        """Every indexed book's display record (``BookDocument.display()``), by id."""

    def close(self) -> None: ...


def index_dir(home: Home, name: str) -> Path:
    return home.index / name


def writer_lock(home: Home, name: str) -> Path:
    """The file the one indexer of an index holds locked: beside the index, so that web nodes sharing a
    data home each run the indexer of their own index (GUJI_INDEX_DIR)."""
    return home.index / f"{name}.indexer.lock"


# ---- index state (last event seen by the indexer) -------------------------------------------------

STATE_FILE = "guji-index.json"


def read_state(directory: Path) -> dict:
    try:
        return json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def check_schema(directory: Path) -> None:
    """Refuse an index written by another version of Guji's index layout (it must be rebuilt)."""
    built = read_state(directory).get("schema")
    if built is not None and built != SCHEMA_VERSION:
        raise SearchError(f"the search index in {directory} has layout {built}, this Guji needs layout "
                          f"{SCHEMA_VERSION}: run `guji reindex`")


def stale_key(directory: Path) -> str | None:
    """Why the index's search keys are out of date, or None: an index built with another 異體字
    table (search/variant_table.json) folds characters differently, so its keys must be rebuilt —
    the indexer does that by itself, `guji reindex` does it at once."""
    state = read_state(directory)
    if not state:
        return None  # no index yet
    built, current = state.get("key"), key_version()
    if built == current:
        return None
    return (f"检索索引是用{'异体字表 ' + built + ' ' if built else '更早的检索键'}建的，本版用异体字表 {current}："
            "异体字的检索结果在索引重建之前可能不全；guji indexer（guji serve 会启动它）会自动重建，"
            "也可以运行 guji reindex")


def write_state(directory: Path, **state) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    merged = {**read_state(directory), **state, "schema": SCHEMA_VERSION}
    temporary = directory / (STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(merged, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, directory / STATE_FILE)


# ---- what gets indexed --------------------------------------------------------------------------


def bridge_tokens(sides: tuple[str, str]) -> list[str]:
    """Bigram tokens around a page break; the one across the break is `crossing_bigram`."""
    left, right = sides
    joined = left + right
    tokens = [joined[i:i + 2] for i in range(len(joined) - 1)]
    tokens[len(left) - 1] = crossing_bigram(left[-1], right[0])
    return tokens


def book_field_keys(book: BookDocument) -> dict[str, str]:
    """Search key of every book field, plus the catch-all `meta` (runs joined by paragraph breaks)."""
    keys = {name: PARAGRAPH_BREAK.join(fold(text) for text in book.fields.get(name, [])) for name in BOOK_FIELDS}
    keys[META] = PARAGRAPH_BREAK.join(key for key in keys.values() if key)
    return keys


def page_stored(page: PageDocument) -> dict:
    return {"label": page.label, "seq": page.seq,
            "texts": {name: {"text": t.text, "offsets": t.line_offsets, "lines": t.line_numbers,
                             "starts": t.line_starts} for name, t in page.texts.items() if t.text},
            "boxes": page.boxes, "following": page.following, "authority": page.authority}


# ---- query compilation, shared by the backends -----------------------------------------------------

Q = TypeVar("Q")


class QueryBuilder(Protocol[Q]):
    def term(self, field: str, token: str) -> Q: ...
    def phrase(self, field: str, tokens: list[tuple[int, str]]) -> Q: ...
    def any_of(self, queries: list[Q]) -> Q: ...
    def all_of(self, must: list[Q], must_not: list[Q]) -> Q: ...
    def nothing(self) -> Q: ...
    def book_in(self, field: str, book_ids: Collection[str]) -> Q: ...


class Compiler(Generic[Q]):
    """Turns a parsed :class:`Query` into a backend query through its `QueryBuilder`."""

    def __init__(self, builder: QueryBuilder[Q], books_matching):
        self.builder = builder
        self.books_matching = books_matching  # Term → set of book ids whose record matches it

    def phrase(self, field: str, key: str) -> Q:
        if len(key) == 1:
            return self.builder.term(f"{field}_1", key)
        if len(key) == 2:
            return self.builder.term(f"{field}_2", key)
        return self.builder.phrase(f"{field}_2", phrase_bigrams(key))

    def bridge(self, field: str, key: str) -> Q | None:
        """Pages where `key` starts before the page break and ends after it."""
        if len(key) < 2:
            return None
        alternatives = []
        for split in range(1, len(key)):
            tokens = [key[i:i + 2] for i in range(len(key) - 1)]
            tokens[split - 1] = crossing_bigram(key[split - 1], key[split])
            if len(tokens) == 1:
                alternatives.append(self.builder.term(f"{field}_x", tokens[0]))
            else:
                alternatives.append(self.builder.phrase(f"{field}_x", list(enumerate(tokens))))
        return self.builder.any_of(alternatives)

    def term(self, term: Term, kind: Kind) -> Q:
        if kind == "book":
            if term.field is None:
                return self.phrase(META, term.key)
            if BY_NAME[term.field].kind == "book":
                return self.phrase(term.field, term.key)
            return self.builder.nothing()
        if term.field is not None and BY_NAME[term.field].kind == "book":
            return self.builder.book_in(PAGE_BOOK, self.books_matching(term))
        names = PAGE_FIELDS if term.field is None else (term.field,)
        alternatives = [self.phrase(name, term.key) for name in names]
        alternatives += [q for q in (self.bridge(name, term.key) for name in names) if q is not None]
        return self.builder.any_of(alternatives)

    def compile(self, query: Query, kind: Kind, book_ids: Collection[str] | None,
                filters: Mapping[str, str] | None) -> Q:
        # Every field a query touches belongs to one kind of document (a page's book is `page_book`,
        # which book documents lack), so no clause on `kind` is needed: it would make every query walk
        # the posting list of all pages.
        must = []
        for group in query.required:
            must.append(self.builder.any_of([self.term(term, kind) for term in group]))
        must_not = []
        for term in query.excluded:
            if kind == "book" and term.field is not None and BY_NAME[term.field].kind == "page":
                continue
            must_not.append(self.term(term, kind))
        for name, value in (filters or {}).items():
            if name not in FACETS:
                raise QueryError(f"cannot filter by {name!r}: filters are {', '.join(FACETS)}")
            must.append(self.builder.term(f"facet_{name}", value))
        if book_ids is not None:
            must.append(self.builder.book_in(PAGE_BOOK if kind == "page" else "book_id", book_ids))
        return self.builder.all_of(must, must_not)
