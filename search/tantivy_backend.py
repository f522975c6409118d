"""The tantivy backend (PyPI `tantivy`, Rust): much faster to build and query; chosen with
``GUJI_SEARCH_BACKEND=tantivy``. Same documents and query compilation as whoosh (see `backend`).

Keys are given pre-cut: unigrams through a one-character regex tokenizer, bigrams and bridge
tokens space-separated through the whitespace tokenizer, so positions are token order.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import tantivy

from .analyzer import PARAGRAPH_BREAK, bigrams
from .backend import (
    META,
    PAGE_BOOK,
    SCHEMA_VERSION,
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

WRITER_HEAP = 256_000_000
UNIGRAM_TOKENIZER = "guji_unigram"
MAX_HITS = 10_000_000
SCHEMA_FILE = "guji-schema.json"


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("doc_id", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("kind", tokenizer_name="raw", index_option="basic")
    builder.add_text_field("book_id", stored=True, fast=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(PAGE_BOOK, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("page", stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field("seq", stored=True, fast=True, indexed=True)
    builder.add_text_field("stored_json", stored=True, tokenizer_name="raw", index_option="basic")
    for name in (*BOOK_FIELDS, META, *PAGE_FIELDS):
        builder.add_text_field(f"{name}_1", tokenizer_name=UNIGRAM_TOKENIZER, index_option="freq")
        builder.add_text_field(f"{name}_2", tokenizer_name="whitespace", index_option="position")
    for name in PAGE_FIELDS:
        builder.add_text_field(f"{name}_x", tokenizer_name="whitespace", index_option="position")
    for name in FACETS:
        builder.add_text_field(f"facet_{name}", fast=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def _schema_signature() -> str:
    """The index's fields and layout version: a writer that finds another one starts the index afresh."""
    return json.dumps({"fields": [*BOOK_FIELDS, META, *PAGE_FIELDS, *FACETS, PAGE_BOOK], "version": SCHEMA_VERSION})


class _Builder:
    def __init__(self, schema: tantivy.Schema):
        self.schema = schema

    def term(self, field, token):
        return tantivy.Query.term_query(self.schema, field, token)

    def phrase(self, field, tokens):
        return tantivy.Query.phrase_query(self.schema, field, [(position, token) for position, token in tokens])

    def any_of(self, queries):
        if len(queries) == 1:
            return queries[0]
        return tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in queries])

    def all_of(self, must, must_not):
        clauses = [(tantivy.Occur.Must, q) for q in must] + [(tantivy.Occur.MustNot, q) for q in must_not]
        return tantivy.Query.boolean_query(clauses)

    def nothing(self):
        return tantivy.Query.empty_query()

    def book_in(self, field, book_ids):
        if not book_ids:
            return tantivy.Query.empty_query()
        return tantivy.Query.term_set_query(self.schema, field, sorted(book_ids))


def _register(index: tantivy.Index) -> None:
    index.register_tokenizer(UNIGRAM_TOKENIZER, tantivy.TextAnalyzerBuilder(
        tantivy.Tokenizer.regex(f"[^{PARAGRAPH_BREAK}]")).build())


class TantivyBackend:
    name = "tantivy"

    def __init__(self, directory: Path, writable: bool = False):
        self.directory = Path(directory)
        self.writable = writable
        self.schema = _schema()
        self._index: tantivy.Index | None = None
        self._books: tuple[int, dict[str, dict]] | None = None
        self.compiler = Compiler(_Builder(self.schema), self._books_matching)
        if writable:
            self._create_if_missing()

    def _create_if_missing(self) -> None:
        signature = self.directory / SCHEMA_FILE
        if self.directory.exists() and (not signature.exists() or signature.read_text() != _schema_signature()):
            if tantivy.Index.exists(str(self.directory)) or any(self.directory.glob("*")):
                shutil.rmtree(self.directory)  # another schema: rebuilt by the next reindex
        self.directory.mkdir(parents=True, exist_ok=True)
        if not tantivy.Index.exists(str(self.directory)):
            tantivy.Index(self.schema, path=str(self.directory))
            signature.write_text(_schema_signature())

    def _open(self) -> tantivy.Index | None:
        if self._index is None:
            if not tantivy.Index.exists(str(self.directory)):
                return None
            self._index = tantivy.Index.open(str(self.directory))
            _register(self._index)
        return self._index

    def _searcher(self) -> tantivy.Searcher | None:
        index = self._open()
        return None if index is None else index.searcher()

    def _books_matching(self, term: Term) -> set[str]:
        hits = self.search(Query(str(term), ((Term(term.key, term.written, term.field),),)), kind="book",
                           limit=None)
        return {hit.book_id for hit in hits.hits}

    def search(self, query: Query, *, kind: Kind, book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None, limit: int | None = 10, offset: int = 0) -> Hits:
        searcher = self._searcher()
        if searcher is None:
            return Hits(0, [])
        compiled = self.compiler.compile(query, kind, book_ids, filters)
        wanted = MAX_HITS if limit is None else limit
        wanted = max(1, min(wanted, searcher.num_docs or 1))
        if kind == "page":
            result = searcher.search(compiled, limit=wanted, offset=offset, count=True, order_by_field="seq",
                                     order=tantivy.Order.Asc)
        else:
            result = searcher.search(compiled, limit=wanted, offset=offset, count=True)
        hits = []
        for score, address in result.hits:
            document = searcher.doc(address)
            stored = json.loads(document.get_first("stored_json") or "{}")
            hits.append(Hit(document.get_first("book_id"), document.get_first("page"),
                            float(score) if isinstance(score, float) else 0.0, stored))
        if kind == "page":
            hits.sort(key=lambda hit: (hit.book_id, hit.stored.get("seq", 0)))
        return Hits(result.count if result.count is not None else len(hits), hits)

    def facets(self, query: Query, *, kind: Kind, fields: Sequence[str], book_ids: Collection[str] | None = None,
               filters: Mapping[str, str] | None = None) -> dict[str, dict[str, int]]:
        searcher = self._searcher()
        if searcher is None:
            return {name: {} for name in fields}
        compiled = self.compiler.compile(query, kind, book_ids, filters)
        request = {name: {"terms": {"field": name if name == "book_id" else f"facet_{name}", "size": 65_000}}
                   for name in fields}
        answer = searcher.aggregate(compiled, request)
        return {name: {bucket["key"]: bucket["doc_count"] for bucket in answer.get(name, {}).get("buckets", [])}
                for name in fields}

    def books(self) -> dict[str, dict]:
        searcher = self._searcher()
        if searcher is None:
            return {}
        meta = self.directory / "meta.json"  # rewritten by every commit
        stat = meta.stat() if meta.exists() else None
        marker = (stat.st_mtime_ns, stat.st_size, searcher.num_docs) if stat else (0, 0, searcher.num_docs)
        if self._books is None or self._books[0] != marker:
            kind = tantivy.Query.term_query(self.schema, "kind", "book")
            result = searcher.search(kind, limit=max(1, searcher.num_docs))
            books = {}
            for _, address in result.hits:
                document = searcher.doc(address)
                books[document.get_first("book_id")] = json.loads(document.get_first("stored_json"))
            self._books = (marker, books)
        return self._books[1]

    # ---- writing ---------------------------------------------------------------------------------

    def _writer(self) -> tantivy.IndexWriter:
        if not self.writable:
            raise SearchError("this search index was opened for reading only")
        index = self._open()
        try:
            return index.writer(heap_size=WRITER_HEAP, num_threads=0)
        except ValueError as error:
            raise SearchError(f"another process is writing the search index {self.directory} (the indexer, or a "
                              f"reindex): wait for it or stop it ({error})") from None

    @staticmethod
    def _documents(entry: BookEntry):
        book, pages = entry
        facets = {f"facet_{name}": value for name, value in book.facets.items()}
        document = tantivy.Document(doc_id=f"b:{book.book_id}", kind="book", book_id=book.book_id, seq=0,
                                    stored_json=json.dumps(book.display(), ensure_ascii=False), **facets)
        for name, key in book_field_keys(book).items():
            if key:
                document.add_text(f"{name}_1", key)
                document.add_text(f"{name}_2", " ".join(bigrams(key)))
        yield document
        for page in pages:
            document = tantivy.Document(doc_id=f"p:{book.book_id}:{page.doc_key}", kind="page", book_id=book.book_id,
                                        **{PAGE_BOOK: book.book_id},
                                        page=page.page, seq=page.seq,
                                        stored_json=json.dumps(page_stored(page), ensure_ascii=False), **facets)
            for name in PAGE_FIELDS:
                key = page.key(name)
                if key:
                    document.add_text(f"{name}_1", key)
                    document.add_text(f"{name}_2", " ".join(bigrams(key)))
                sides = page.bridge_sides(name)
                if sides:
                    document.add_text(f"{name}_x", " ".join(bridge_tokens(sides)))
            yield document

    def _write(self, entries: Iterable[BookEntry], clear: bool) -> int:
        writer = self._writer()
        count = 0
        try:
            if clear:
                writer.delete_all_documents()
            for entry in entries:
                if not clear:
                    writer.delete_documents_by_term("book_id", entry[0].book_id)
                for document in self._documents(entry):
                    writer.add_document(document)
                count += 1
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            writer.rollback()
            raise
        finally:
            del writer
        self._index.reload()
        return count

    def index(self, entries: Iterable[BookEntry]) -> int:
        return self._write(entries, clear=False)

    def rebuild(self, entries: Iterable[BookEntry]) -> int:
        return self._write(entries, clear=True)

    def delete(self, book_ids: Iterable[str]) -> None:
        writer = self._writer()
        for book_id in book_ids:
            writer.delete_documents_by_term("book_id", book_id)
        writer.commit()
        writer.wait_merging_threads()
        del writer
        self._index.reload()

    def close(self) -> None:
        self._index = None
