"""One contract suite, run against both backends (whoosh and tantivy), on the fixture texts."""

from __future__ import annotations

import json
import random

import opencc
import pytest
from search_support import brute_force, folded_fields, indexed_library, matching_pages, stored_pages

from guji.repository import Catalogue, Home
from guji.search.analyzer import fold
from guji.search.backend import SearchBackend
from guji.search.backends import open_backend
from guji.search.indexer import Indexer
from guji.search.query import parse_query
from guji.search.service import Searcher

BOOKS = ["maoshi-zhushu", "jingchuan-wenji", "yingmeian-yiyu", "maoshi-lushu"]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    yield from indexed_library(tmp_path_factory.mktemp("search"))


@pytest.fixture(params=["whoosh", "tantivy"])
def searcher(request, library):
    searcher = Searcher(library.home, request.param)
    yield searcher
    searcher.close()


def pages(searcher: Searcher, query: str, books: list[str] | None = None) -> set[tuple[str, str]]:
    return set(matching_pages(searcher, query, books))


def test_both_backends_implement_the_protocol(library):
    for name in ("whoosh", "tantivy"):
        backend = open_backend(library.home, name)
        assert isinstance(backend, SearchBackend)
        assert set(backend.books()) == {"maoshi-zhushu", "jingchuan-wenji", "yingmeian-yiyu", "maoshi-lushu",
                                        "pingyang-xianzhi-longqing"}
        backend.close()


def test_a_standard_form_finds_the_variant_written_in_the_text(searcher, library):
    found = pages(searcher, "后妃之德")
    assert found == brute_force(library, BOOKS, fold("后妃之德"))
    first = stored_pages(library, "maoshi-zhushu")[0]
    assert ("maoshi-zhushu", first["page"]) in found
    assert "后妃之徳" in json.dumps(first, ensure_ascii=False)  # the text says 徳, not 德


def test_a_traditional_query_finds_the_simplified_text(searcher):
    results = searcher.search("影梅庵憶語")
    assert [hit.book_id for hit in results.books] == ["yingmeian-yiyu"]
    assert results.books[0].record_match and results.books[0].page_count == 1


def test_a_phrase_runs_across_line_breaks(searcher, library):
    # 正文 of 001-2a: "…風之始¶" / "也所以風天下而正夫婦也…"
    found = pages(searcher, "風之始也所以風天下")
    assert found == {("maoshi-zhushu", "0003")}
    assert found == brute_force(library, BOOKS, fold("風之始也所以風天下"))


def test_a_phrase_runs_across_a_page_marker_and_is_found_where_it_starts(searcher, library):
    entries = stored_pages(library, "maoshi-zhushu")
    index = next(i for i, e in enumerate(entries) if e["continues"]["text"]
                 and folded_fields(e)["text"] and folded_fields(entries[i + 1])["text"])
    tail = folded_fields(entries[index])["text"][-1][-3:]
    head = folded_fields(entries[index + 1])["text"][0][:3]
    found = pages(searcher, tail + head, ["maoshi-zhushu"])
    assert ("maoshi-zhushu", entries[index]["page"]) in found
    assert found == brute_force(library, ["maoshi-zhushu"], tail + head)


def test_a_phrase_inside_a_double_column_note(searcher, library):
    # (關雎舊解云三百一十一/篇詩並是作者自為名妃): the phrase runs across the column split
    found = pages(searcher, "三百一十一篇詩")
    assert found == {("maoshi-zhushu", "0001")}
    assert pages(searcher, "夹注:三百一十一篇詩") == found
    assert pages(searcher, "正文:三百一十一篇詩") == set()


def test_a_note_running_over_two_lines_is_one_phrase(searcher, library):
    # 卷九: "(漣力纒反猗於宜反本亦作漪同廛本亦作¶" / "又作㕓/直連反…)"
    assert pages(searcher, "廛本亦作又作㕓") == brute_force(library, BOOKS, fold("廛本亦作又作㕓")) != set()


def test_two_separate_notes_do_not_make_a_phrase(searcher, library):
    # 001-1b: (…以無所疑亂故也)疏(正義曰諸序皆…): 正文 "疏" stands between the two notes
    assert pages(searcher, "故也正義曰") == set()
    assert pages(searcher, "故也") != set()


def test_single_characters(searcher, library):
    for char in ("徳", "妃", "𫝊", "冒"):
        assert pages(searcher, char) == brute_force(library, BOOKS, fold(char)) != set()


def test_gaiji_and_described_characters_are_searchable(searcher, library):
    for query in ("面&KR1005;嵲", "[危*臬][危*臬]而欲走"):
        found = pages(searcher, query)
        assert len(found) == 1 and found == brute_force(library, BOOKS, fold(query))
    assert pages(searcher, "面嵲") == set()  # the gaiji holds its place


def test_exclusion_and_or(searcher, library):
    both = pages(searcher, "后妃")
    without = pages(searcher, "后妃 -關雎")
    assert without == {p for p in both if p not in brute_force(library, BOOKS, fold("關雎"))}
    assert pages(searcher, "影梅庵 OR 后妃之德") == pages(searcher, "影梅庵") | pages(searcher, "后妃之德")


def test_field_queries(searcher):
    assert [b.book_id for b in searcher.search("著者:冒襄").books] == ["yingmeian-yiyu"]
    assert [b.book_id for b in searcher.search("作者：冒襄").books] == ["yingmeian-yiyu"]
    assert searcher.search("著者:冒襄").total_pages == 0  # a record, not pages
    assert [b.book_id for b in searcher.search("索书号:示普0102").books] == ["jingchuan-wenji"]  # former 索书号
    assert [b.book_id for b in searcher.search("普查编号:999999-0001-0000001").books] == ["maoshi-zhushu"]
    assert [b.book_id for b in searcher.search("名录号:演示-0001").books] == ["jingchuan-wenji"]
    assert {b.book_id for b in searcher.search("四部:史部").books} == {"yingmeian-yiyu", "pingyang-xianzhi-longqing"}
    assert [b.book_id for b in searcher.search("著者:冒襄 秦淮").books] == ["yingmeian-yiyu"]
    assert searcher.search("著者:唐順之 秦淮").books == []


def test_facets_count_books_and_filters_narrow(searcher):
    results = searcher.search("正文:之")  # text only: the four books with a transcription
    assert {b.book_id for b in results.books} == set(BOOKS)
    facets = dict(results.facets)
    assert dict(facets["sibu"]) == {"经部": 1, "集部": 1, "史部": 1}  # 毛詩陸疏 has no class on its card
    assert dict(facets["record_type"]) == {"古籍": 3, "地方文献": 1}
    assert dict(facets["local_author"]) == {"冒襄": 1}
    narrowed = searcher.search("正文:之", filters={"sibu": "集部"})
    assert [b.book_id for b in narrowed.books] == ["jingchuan-wenji"]
    assert dict(narrowed.facets["sibu"]) == {"集部": 1}


def test_sort_and_paging(searcher):
    by_title = searcher.search("正文:之", sort="title", per_page=3)
    second = searcher.search("正文:之", sort="title", per_page=3, page=2)
    assert by_title.total_books == 4 and len(by_title.books) == 3 and len(second.books) == 1
    titles = [b.book["title"] for b in by_title.books + second.books]
    assert titles == sorted(titles)
    by_date = [b.book.get("year") for b in searcher.search("正文:之", sort="date").books]
    assert by_date == [1573, 1736, None, None]
    ranked = searcher.search("正文:之").books  # relevance: most matching pages first
    assert [b.page_count for b in ranked] == sorted((b.page_count for b in ranked), reverse=True)


def test_highlights_cover_the_whole_phrase(searcher):
    hit = searcher.search("后妃之德").books[0]
    marks = [mark for page in hit.pages for snippet in page.snippets for mark in snippet.to_json()["marks"]]
    assert marks and all(mark == "后妃之徳" for mark in marks)
    repeated = searcher.search("之徳")  # two hits in 之徳之徳-like runs are merged into one mark
    for page in repeated.books[0].pages:
        for snippet in page.snippets:
            for mark in snippet.to_json()["marks"]:
                assert fold(mark) in ("之德", "之德" * (len(fold(mark)) // 2))


def test_random_queries_return_exactly_the_brute_force_pages(searcher, library):
    rng = random.Random(20261202)
    to_simplified = opencc.OpenCC("t2s")
    sources = []
    for book_id in BOOKS:
        entries = stored_pages(library, book_id)
        for index, entry in enumerate(entries):
            for name, runs in folded_fields(entry).items():
                for run in runs:
                    sources.append(run)
                if entry["continues"].get(name) and index + 1 < len(entries):
                    following = folded_fields(entries[index + 1])[name]
                    if runs and following:
                        sources.append(runs[-1][-4:] + following[0][:4])  # across a page break
    checked = 0
    while checked < 300:
        run = rng.choice(sources)
        length = rng.randint(1, 6)
        if len(run) < length:
            continue
        start = rng.randrange(len(run) - length + 1)
        query = run[start:start + length]
        if checked % 5 == 0:
            query = to_simplified.convert(query)
        expected = brute_force(library, BOOKS, fold(query))
        assert pages(searcher, f'"{query}"') == expected, query
        checked += 1


def test_delete_and_index_again(library, tmp_path):
    for name in ("whoosh", "tantivy"):
        indexer = Indexer(library, name)
        indexer.backend.delete(["yingmeian-yiyu"])
        backend = open_backend(library.home, name)
        assert backend.search(parse_query("影梅庵"), kind="book").total == 0
        assert backend.search(parse_query("影梅庵"), kind="page").total == 0
        indexer.reindex_books(["yingmeian-yiyu"])
        backend.close()
        backend = open_backend(library.home, name)
        assert backend.search(parse_query("影梅庵"), kind="book").total == 1
        assert backend.search(parse_query("影梅庵"), kind="page").total == 1
        backend.close()
        indexer.close()


@pytest.mark.parametrize("backend", ["whoosh", "tantivy"])
def test_an_index_the_indexer_created_but_has_not_written_answers_with_nothing(tmp_path, backend):
    """`guji serve` starts the indexer and the web workers together: a worker may open the index
    after the indexer created it and before its first commit. A search then finds nothing — no error."""
    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    writer = Indexer(catalogue, backend)  # creates the empty index, writes nothing yet
    searcher = Searcher(home, backend)
    try:
        for query in ("荆川", "著者:唐順之", "之"):
            results = searcher.search(query)
            assert (results.total_books, results.books, results.facets) == (0, [], {})
        assert matching_pages(searcher, "荆川") == []
        assert searcher.search_book("jingchuan-wenji", "荆川")[1] == []
    finally:
        searcher.close()
        writer.close()
        catalogue.close()


def test_searches_of_one_process_run_at_once_and_agree_with_one_at_a_time(searcher, monkeypatch):
    """The web requests of a process share a Searcher: two searches must not wait for each other (a
    whoosh search takes a reader of its own), and answers under concurrency are the answers alone."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    queries = ["后妃之德", "影梅庵", "關雎", "冒襄", "詩", "之", "著者:冒襄", "荆川"]

    def answer(query):
        results = searcher.search(query, per_page=5)
        return [(b.book_id, b.page_count, [(p.page, [s.to_json() for s in p.snippets]) for p in b.pages])
                for b in results.books], results.facets

    alone = {query: answer(query) for query in queries}
    together = threading.Barrier(2, timeout=20)
    first_call = threading.local()
    backend_class = type(searcher.backend)
    original = backend_class.search

    def meet_then_search(self, *args, **kwargs):
        if not getattr(first_call, "done", False):  # each of the two searches waits here for the other
            first_call.done = True
            together.wait()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(backend_class, "search", meet_then_search)
    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(answer, queries[:2])) == [alone[q] for q in queries[:2]]
    monkeypatch.undo()
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(answer, queries * 4)) == [alone[q] for q in queries * 4]
