"""The whoosh backend (package whoosh-reloaded): the default, pure Python."""

from __future__ import annotations

import heapq
import itertools
import json
import os
import shutil
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from whoosh import fields as wf
from whoosh import index as windex
from whoosh import query as wq
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec.whoosh3 import W3Codec
from whoosh.writing import CLEAR, LockError

from guji.repository.process_tree import die_with_parent
from guji.repository.settings import current

from .backend import (
    META,
    PAGE_BOOK,
    BookEntry,
    Compiler,
    Hit,
    Hits,
    Kind,
    SearchError,
    book_field_keys,
    bridge_tokens,
    page_stored,
)
from .fields import BOOK_FIELDS, FACETS, PAGE_FIELDS
from .query import Query, Term
from .whoosh_tokens import BigramTokenizer, UnigramTokenizer

WRITER_MEMORY_MB = 256
# A rebuild writes with one process per core (each its own segment, kept as it is: no merge pass).
REFRESH_SECONDS = 0.5  # readers look for a newer index at most this often
_forking_pid = 0  # 0: forks are not tied to this process yet


def _remember_forking_process() -> None:
    global _forking_pid
    _forking_pid = os.getpid()


def _forks_end_with_this_process() -> None:
    """whoosh's multi-process writer forks sub-writers that wait on their job queue for ever once
    this process is gone (killed during a rebuild): have every fork of this process end with it."""
    if not _forking_pid:
        _remember_forking_process()
        os.register_at_fork(before=_remember_forking_process, after_in_child=lambda: die_with_parent(_forking_pid))


def schema() -> wf.Schema:
    unigrams = wf.TEXT(analyzer=UnigramTokenizer(), phrase=False)
    bigrams = wf.TEXT(analyzer=BigramTokenizer(), phrase=True)
    spec: dict[str, wf.FieldType] = {
        "doc_id": wf.ID(unique=True),
        "kind": wf.ID(),
        "book_id": wf.ID(stored=True, sortable=True),
        PAGE_BOOK: wf.ID(),
        "page": wf.STORED(),
        "seq": wf.NUMERIC(sortable=True, stored=True),
        "stored_json": wf.STORED(),
    }
    for name in (*BOOK_FIELDS, META, *PAGE_FIELDS):
        spec[f"{name}_1"] = unigrams
        spec[f"{name}_2"] = bigrams
    for name in PAGE_FIELDS:
        spec[f"{name}_x"] = wf.TEXT(analyzer=SpaceSeparatedTokenizer(), phrase=True)
    for name in FACETS:
        spec[f"facet_{name}"] = wf.ID(sortable=True)
    return wf.Schema(**spec)


class _Union(wq.Or):
    """An OR that walks its parts as a tree of unions (whoosh's array union allocates per query)."""

    matcher_type = wq.Or.DEFAULT_MATCHER


class _Builder:
    def term(self, field, token):
        return wq.Term(field, token)

    def phrase(self, field, tokens):
        words = [token for _, token in tokens]
        return wq.Phrase(field, words)

    def any_of(self, queries):
        return queries[0] if len(queries) == 1 else _Union(queries)

    def all_of(self, must, must_not):
        query = wq.And(must) if len(must) > 1 else must[0]
        if must_not:
            query = wq.AndNot(query, _Union(must_not))
        return query

    def nothing(self):
        return wq.NullQuery

    def book_in(self, field, book_ids):
        ids = sorted(book_ids)
        if not ids:
            return wq.NullQuery
        return _Union([wq.Term(field, book_id) for book_id in ids])


def _signature(fields: wf.Schema) -> list[tuple]:
    """What makes two schemas the same index layout: each field's name, type and options. (whoosh's
    own `==` is False for equal fields with sortable columns, whose column objects differ.)"""
    return [(name, type(field).__name__, field.stored, field.unique, field.column_type is not None,
             type(getattr(field, "analyzer", None)).__name__, type(field.format).__name__)
            for name, field in sorted(fields.items())]


def _all_tokens_phrase(compiler: Compiler) -> Compiler:
    """whoosh's Phrase needs consecutive positions: give it every overlapping bigram."""
    original = compiler.phrase

    def phrase(field: str, key: str):
        if len(key) <= 2:
            return original(field, key)
        return wq.Phrase(f"{field}_2", [key[i:i + 2] for i in range(len(key) - 1)])

    compiler.phrase = phrase  # type: ignore[method-assign]
    return compiler


class WhooshBackend:
    name = "whoosh"

    def __init__(self, directory: Path, writable: bool = False, processes: int | None = None):
        self.directory = Path(directory)
        self.writable = writable
        # writer processes of a rebuild (GUJI_WHOOSH_PROCS; default one per core, at most 4)
        self.processes = processes or current().whoosh_processes or max(1, min(os.cpu_count() or 1, 4))
        self._index = None
        self._searcher = None
        self._checked = 0.0
        self._readers = itertools.count(1)  # numbers every searcher opened: the caches' key
        self._books: tuple[int, dict[str, dict]] | None = None
        self._column_cache: tuple[int, dict[str, list]] | None = None
        self._page_cache: dict[tuple, tuple[list[int], dict[str, list[int]]]] = {}
        self._lock = threading.Lock()
        self.compiler = _all_tokens_phrase(Compiler(_Builder(), self._books_matching))
        if writable:
            self.directory.mkdir(parents=True, exist_ok=True)
            if not windex.exists_in(self.directory):
                windex.create_in(self.directory, schema())

    # ---- reading ---------------------------------------------------------------------------------

    def _open(self):
        if self._index is None:
            if not windex.exists_in(self.directory):
                return None
            self._index = windex.open_dir(self.directory)
        return self._index

    def searcher(self):
        with self._lock:
            index = self._open()
            if index is None:
                return None
            now = time.monotonic()
            if self._searcher is None:
                self._searcher = self._new_searcher(index)
                self._checked = now
            elif now - self._checked > REFRESH_SECONDS:
                self._checked = now
                if not self._searcher.up_to_date():
                    # a fresh searcher, not refresh(): whoosh's refresh fails on a reader of an empty index
                    stale, self._searcher = self._searcher, self._new_searcher(index)
                    stale.close()
            return self._searcher

    def _new_searcher(self, index):
        searcher = index.searcher()
        searcher.guji_reader = next(self._readers)
        return searcher

    @staticmethod
    def _reader_key(searcher) -> int:
        """Which reader the caches were filled from. Not `ixreader.generation()`: a rebuilt index
        starts again at generation 1, and a multi-segment reader may not report one at all."""
        return searcher.guji_reader

    def _books_matching(self, term: Term) -> set[str]:
        hits = self.search(Query(str(term), ((Term(term.key, term.written, term.field),),)), kind="book",
                           limit=None)
        return {hit.book_id for hit in hits.hits}

    def _compile(self, query, kind, book_ids, filters):
        return self.compiler.compile(query, kind, book_ids, filters)

    def _columns(self, searcher, names: Sequence[str]) -> dict[str, list]:
        """Per-document values of sortable fields (book_id, seq, facets), read once per index generation."""
        generation = self._reader_key(searcher)
        if self._column_cache is None or self._column_cache[0] != generation:
            self._column_cache = (generation, {})
        cache = self._column_cache[1]
        # an index created but never written (the indexer just started) has whoosh's EmptyReader,
        # which has no columns: it has no documents either
        empty = searcher.ixreader.doc_count_all() == 0
        for name in names:
            if name not in cache:
                cache[name] = [] if empty else list(searcher.ixreader.column_reader(name))
        return cache

    def _docnums(self, searcher, compiled) -> list[int]:
        docnums = searcher.docs_for_query(compiled)
        reader = searcher.ixreader
        if reader.has_deletions():
            return [docnum for docnum in docnums if not reader.is_deleted(docnum)]
        return list(docnums)

    def _page_docnums(self, searcher, query: Query, book_ids, filters) -> list[int]:
        """Matching page documents. A collection search asks for the same query's pages several times
        (counts per book, then each shown book's first pages): it runs once and is kept (last 8)."""
        key = (self._reader_key(searcher), query, tuple(sorted((filters or {}).items())))
        cached = self._page_cache.get(key)
        if cached is None:
            docnums = self._docnums(searcher, self._compile(query, "page", None, filters))
            book_of = self._columns(searcher, ["book_id"])["book_id"]
            by_book: dict[str, list[int]] = {}
            for docnum in docnums:
                by_book.setdefault(book_of[docnum], []).append(docnum)
            cached = (docnums, by_book)
            self._page_cache[key] = cached
            while len(self._page_cache) > 8:
                self._page_cache.pop(next(iter(self._page_cache)))
        docnums, by_book = cached
        if book_ids is None:
            return docnums
        return [docnum for book_id in book_ids for docnum in by_book.get(book_id, [])]

    def search(self, query: Query, *, kind: Kind, book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None, limit: int | None = 10, offset: int = 0) -> Hits:
        searcher = self.searcher()
        if searcher is None:
            return Hits(0, [])
        wanted = None if limit is None else offset + limit
        if kind == "page":
            # reading order (book, seq) from the columns, without scoring every match
            docnums = self._page_docnums(searcher, query, book_ids, filters)
            columns = self._columns(searcher, ["book_id", "seq"])
            book_of, seq_of = columns["book_id"], columns["seq"]
            order = lambda docnum: (book_of[docnum], seq_of[docnum])  # noqa: E731
            chosen = sorted(docnums, key=order) if wanted is None else heapq.nsmallest(wanted, docnums, key=order)
            hits = []
            for docnum in chosen[offset:]:
                fields = searcher.stored_fields(docnum)
                hits.append(Hit(fields["book_id"], fields.get("page"), 0.0,
                                json.loads(fields.get("stored_json") or "{}")))
            return Hits(len(docnums), hits)
        results = searcher.search(self._compile(query, kind, book_ids, filters), limit=wanted)
        hits = []
        for rank, hit in enumerate(results):
            if rank < offset:
                continue
            fields = hit.fields()
            stored = json.loads(fields.get("stored_json") or "{}")
            hits.append(Hit(fields["book_id"], fields.get("page"), float(hit.score or 0.0), stored))
        return Hits(len(results), hits)

    def facets(self, query: Query, *, kind: Kind, fields: Sequence[str], book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None) -> dict[str, dict[str, int]]:
        searcher = self.searcher()
        if searcher is None:
            return {name: {} for name in fields}
        if kind == "page":
            docnums = self._page_docnums(searcher, query, book_ids, filters)
        else:
            docnums = self._docnums(searcher, self._compile(query, kind, book_ids, filters))
        column_names = {name: name if name == "book_id" else f"facet_{name}" for name in fields}
        columns = self._columns(searcher, list(column_names.values()))
        counts = {}
        for name, column in column_names.items():
            values = columns[column]
            counted = Counter(map(values.__getitem__, docnums))
            counts[name] = {value: count for value, count in counted.items() if value}
        return counts

    def books(self) -> dict[str, dict]:
        searcher = self.searcher()
        if searcher is None:
            return {}
        generation = self._reader_key(searcher)
        if self._books is None or self._books[0] != generation:
            books = {}
            for stored in searcher.documents(kind="book"):
                books[stored["book_id"]] = json.loads(stored["stored_json"])
            self._books = (generation, books)
        return self._books[1]

    # ---- writing ---------------------------------------------------------------------------------

    def _writer(self, processes: int = 1):
        if not self.writable:
            raise SearchError("this search index was opened for reading only")
        try:
            # uncompressed posting blocks: a quarter faster to write, a tenth larger
            codec = W3Codec(compression=0)
            if processes > 1:
                _forks_end_with_this_process()
                return self._open().writer(procs=processes, limitmb=WRITER_MEMORY_MB, multisegment=True,
                                           timeout=5.0, codec=codec)
            return self._open().writer(limitmb=WRITER_MEMORY_MB, timeout=5.0, codec=codec)
        except LockError:
            raise SearchError(f"another process is writing the search index {self.directory} (the indexer, or a "
                              "reindex): wait for it or stop it") from None

    @staticmethod
    def _documents(entry: BookEntry):
        book, pages = entry
        facets = {f"facet_{name}": value for name, value in book.facets.items()}
        keys = book_field_keys(book)
        document = {"doc_id": f"b:{book.book_id}", "kind": "book", "book_id": book.book_id, "seq": 0,
                    "stored_json": json.dumps(book.display(), ensure_ascii=False), **facets}
        for name, key in keys.items():
            if key:
                document[f"{name}_1"] = key
                document[f"{name}_2"] = key
        yield document
        for page in pages:
            document = {"doc_id": f"p:{book.book_id}:{page.doc_key}", "kind": "page", "book_id": book.book_id,
                        PAGE_BOOK: book.book_id,
                        "page": page.page, "seq": page.seq,
                        "stored_json": json.dumps(page_stored(page), ensure_ascii=False), **facets}
            for name in PAGE_FIELDS:
                key = page.key(name)
                if key:
                    document[f"{name}_1"] = key
                    document[f"{name}_2"] = key
                sides = page.bridge_sides(name)
                if sides:
                    document[f"{name}_x"] = " ".join(bridge_tokens(sides))
            yield document

    def index(self, entries: Iterable[BookEntry]) -> int:
        writer = self._writer()
        count = 0
        try:
            for entry in entries:
                writer.delete_by_term("book_id", entry[0].book_id)
                for document in self._documents(entry):
                    writer.add_document(**document)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return count

    def delete(self, book_ids: Iterable[str]) -> None:
        writer = self._writer()
        for book_id in book_ids:
            writer.delete_by_term("book_id", book_id)
        writer.commit()

    def rebuild(self, entries: Iterable[BookEntry]) -> int:
        if windex.exists_in(self.directory) and _signature(self._open().schema) != _signature(schema()):
            # another schema (an older Guji): start afresh rather than mix documents
            self.close()
            shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True)
            windex.create_in(self.directory, schema())
        writer = self._writer(self.processes)
        count = 0
        try:
            for entry in entries:
                for document in self._documents(entry):
                    writer.add_document(**document)
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit(mergetype=CLEAR)
        return count

    def close(self) -> None:
        if self._searcher is not None:
            self._searcher.close()
            self._searcher = None
        if self._index is not None:
            self._index.close()
            self._index = None
