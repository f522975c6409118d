"""Kanripo page markers go to the scan of their 卷 and leaf (ingest.text_leaves), on the real sample:
the nine half-leaf scans of 七政推步 卷二 (葉一a–五a) and the Kanripo text of the whole 卷 (leaves 1–28,
one `a` marker per leaf, as the Wenyuange transcriptions write it)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pytest
from search_support import TEXTS, stored_pages

from guji.ingest.pages import scan_book
from guji.ingest.pipeline import build_structure
from guji.ingest.text_import import import_text
from guji.ingest.text_leaves import juan_number
from guji.ingest.text_model import TextRefused

ROOT = Path(__file__).resolve().parents[1]
BOOK = "qizheng-tuibu"
SCANS = ROOT / "samples" / "scans" / BOOK
TEXT = ROOT / "samples" / "texts" / "KR3f0006_002.txt"


@pytest.fixture(scope="module")
def sample_structure() -> dict:
    """structure.json exactly as `guji ingest samples/scans/qizheng-tuibu` stores it."""
    return build_structure(scan_book(SCANS))


@pytest.fixture
def books(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="test", reason="fixture")
    return catalogue


def _scanned(catalogue, book_id: str, structure: dict) -> None:
    catalogue.commit_files(book_id, {"structure.json": json.dumps(structure, ensure_ascii=False).encode()},
                           editor="test", reason="scans", event="ingest")


def _unchanged(catalogue, book_id):
    return catalogue.store.head(book_id), sorted(catalogue.store.logical_paths(book_id))


def test_sample_markers_go_to_the_scans_of_their_leaves(books, sample_structure):
    _scanned(books, BOOK, sample_structure)
    report = import_text(books, BOOK, [TEXT], editor="test")
    pages = stored_pages(books, BOOK)
    markers = re.findall(r"<pb:([^>]+)>", TEXT.read_text(encoding="utf-8"))
    assert [p["marker"] for p in pages] == markers  # every page of the text kept, in its order
    on_scans = {p["label"]: p["page"] for p in pages if p["page"]}
    # leaf N side a is the scan labelled Na (1a, 2a … are scans 1, 3, 5 …), not the N-th scan
    assert on_scans == {"002-1a": "0001", "002-2a": "0003", "002-3a": "0005", "002-4a": "0007", "002-5a": "0009"}
    scan_label = {p["page"]: p["label"] for p in sample_structure["pages"]}
    assert scan_label["0005"] == "卷二 葉三上" and scan_label["0009"] == "卷二 葉五上"
    text_of = {p["page"]: "".join(piece[1] for line in p["lines"] for piece in line["pieces"]) for p in pages}
    # what samples/README.md read on the images: 葉三a begins 日五星中行零年立成, 葉五a 日五星中行月分立成
    assert text_of["0005"].startswith("日五星中行零年立成")
    assert text_of["0009"].startswith("日五星中行月分立成")
    assert "七政推步卷二" in text_of["0001"]
    # one marker per leaf: its text stays on the a-half and covers the b-half (5b was not scanned)
    assert {p["page"]: p.get("covers") for p in pages if p["page"]} == {
        "0001": ["0001", "0002"], "0003": ["0003", "0004"], "0005": ["0005", "0006"], "0007": ["0007", "0008"],
        "0009": None}
    unscanned = [p for p in pages if p["page"] is None]
    assert [p["leaf"] for p in unscanned] == [f"{n}a" for n in range(6, 29)] + ["28b"]
    assert any("日五星中行日分立成" in piece[1] for p in unscanned for line in p["lines"] for piece in line["pieces"])
    assert report.pages == 29 and report.unscanned == 24
    assert report.warnings == ["卷二第 6a–28b 叶没有影像：这些叶的全文（全文 29 叶中的 24 叶）保存时不对应影像，"
                               "可在书内检索到，显示为「无影像」"]
    assert report.notes == ["全文按整叶标记（每叶一个 a 标记），影像是半叶：卷二第 1–4 叶的全文存在其 a 半叶"
                            "（0001、0003、0005、0007）上；b 半叶（0002、0004、0006、0008）没有单独的全文"]
    assert import_text(books, BOOK, [TEXT], editor="test").version is None  # the same import again: no change


def test_markers_are_matched_within_their_juan(books, sample_structure):
    """Two 卷 in one book, both starting at 葉一a: the 卷二 text goes to the 卷二 scans."""
    structure = copy.deepcopy(sample_structure)
    first, second = [p["page"] for p in structure["pages"][:4]], [p["page"] for p in structure["pages"][4:]]
    for entry, leaf in zip(structure["pages"], ["1a", "1b", "2a", "2b", "1a", "1b", "2a", "2b", "3a"], strict=True):
        entry["leaf"] = entry["label"] = leaf
    structure["ranges"] = [{"label": "卷一", "juan": 1, "pages": first}, {"label": "卷二", "juan": 2, "pages": second}]
    _scanned(books, BOOK, structure)
    report = import_text(books, BOOK, [TEXT], editor="test")
    on_scans = {p["label"]: p["page"] for p in stored_pages(books, BOOK) if p["page"]}
    assert on_scans == {"002-1a": "0005", "002-2a": "0007", "002-3a": "0009"}
    assert report.warnings[0].startswith("卷二第 4a–28b 叶没有影像")


def test_a_text_of_another_juan_is_kept_without_pages_and_says_so(books, sample_structure):
    structure = copy.deepcopy(sample_structure)
    structure["ranges"][0].update(label="卷三", juan=3)
    _scanned(books, BOOK, structure)
    report = import_text(books, BOOK, [TEXT], editor="test")
    assert all(p["page"] is None for p in stored_pages(books, BOOK))
    assert report.warnings == ["卷二第 1a–28b 叶没有影像：这些叶的全文（全文 29 叶中的 29 叶）保存时不对应影像，"
                               "可在书内检索到，显示为「无影像」。全文没有一叶对上已扫描的叶：请核对全文与影像是否同一卷"]


def test_a_half_leaf_text_keeps_each_side_on_its_own_scan(books, sample_structure):
    """四部叢刊 transcriptions mark both sides (1a, 1b …): nothing covers another scan."""
    structure = copy.deepcopy(sample_structure)
    structure["ranges"] = []  # no 卷 numbers: leaves alone decide
    _scanned(books, "jingchuan-wenji", structure)
    report = import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    pages = stored_pages(books, "jingchuan-wenji")
    assert [(p["label"], p["page"]) for p in pages] == [
        ("001-1a", "0001"), ("001-1b", "0002"), ("001-2a", "0003"), ("001-2b", "0004"), ("001-3a", "0005")]
    assert not any("covers" in p for p in pages)
    assert report.warnings == ["4 页影像没有全文：0006–0009（叶 3b、4a、4b、5a）"]


def test_a_whole_leaf_scan_takes_the_text_of_both_sides(books, sample_structure):
    structure = copy.deepcopy(sample_structure)
    structure["pages"] = structure["pages"][:3]
    for number, entry in enumerate(structure["pages"], start=1):
        entry["leaf"] = str(number)
    structure["ranges"] = []
    _scanned(books, "jingchuan-wenji", structure)
    report = import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    pages = stored_pages(books, "jingchuan-wenji")
    assert [(p["label"], p["page"]) for p in pages] == [("001-1a–1b", "0001"), ("001-2a–2b", "0002"),
                                                          ("001-3a", "0003")]
    one_side = TEXTS.joinpath("KR4e0190_001.txt").read_text(encoding="utf-8")
    first_b = one_side.split("<pb:KR4e0190_SBCK_001-1b>")[1].split("<pb:")[0].replace("¶", "").split()[0]
    assert first_b in "".join(piece[1] for line in pages[0]["lines"] for piece in line["pieces"])
    assert report.notes[0] == "影像 0001 是整叶：卷一 1a、1b 的全文合在这一页上"


def test_the_same_leaf_twice_is_refused_and_nothing_is_stored(books, sample_structure, tmp_path):
    _scanned(books, BOOK, sample_structure)
    again = tmp_path / "KR3f0006_002_copy.txt"
    shutil.copy(TEXT, again)
    before = _unchanged(books, BOOK)
    with pytest.raises(TextRefused, match=r"全文中有几页都对应影像第 0001 页：KR3f0006_002.txt 第 7 行"
                                          r"（KR3f0006_WYG_002-1a）；KR3f0006_002_copy.txt 第 7 行"):
        import_text(books, BOOK, [TEXT, again], editor="test")
    assert _unchanged(books, BOOK) == before


def test_without_leaf_labels_pages_go_in_order(books, sample_structure):
    structure = copy.deepcopy(sample_structure)
    for entry in structure["pages"]:
        entry.pop("leaf")
    _scanned(books, "jingchuan-wenji", structure)
    report = import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    assert [p["page"] for p in stored_pages(books, "jingchuan-wenji")] == ["0001", "0002", "0003", "0004", "0005"]
    assert report.warnings == ["全文只对应这部书 9 页影像中的前 5 页"]
    # … and more text pages than scans is still refused, naming the first page without one
    _scanned(books, BOOK, structure)
    before = _unchanged(books, BOOK)
    with pytest.raises(TextRefused, match=r"全文有 29 页，而这部书只有 9 页影像：全文第 10 页"
                                          r"（KR3f0006_002.txt 第 28 行，KR3f0006_WYG_002-10a）"):
        import_text(books, BOOK, [TEXT], editor="test")
    assert _unchanged(books, BOOK) == before


@pytest.mark.parametrize("backend", ["whoosh", "tantivy"])
def test_text_without_a_scan_is_found_in_the_book_and_has_no_canvas(books, sample_structure, backend,
                                                                    monkeypatch):
    from fastapi.testclient import TestClient

    from guji.iiif.content_search import search_v1
    from guji.search.indexer import Indexer
    from guji.search.service import Searcher
    from guji.web import create_app

    _scanned(books, BOOK, sample_structure)
    import_text(books, BOOK, [TEXT], editor="test")
    indexer = Indexer(books, backend)
    indexer.run_once()
    indexer.close()
    searcher = Searcher(books.home, backend)
    try:
        # 日五星中行 is on leaves 1a, 3a, 5a (scanned) and 7a (not scanned)
        _, pages = searcher.search_book(BOOK, "日五星中行")
        # the Kanripo markers 002-1a … as the library writes leaves (a traditional card: 葉一上)
        assert [(hit.page, hit.label) for hit in pages] == [("0001", "卷二 葉一上"), ("0005", "卷二 葉三上"),
                                                             ("0009", "卷二 葉五上"), (None, "卷二 葉七上")]
        # a leaf without a scan links to the record page's reading view of that leaf (?text=N)
        assert pages[-1].to_json()["url"].startswith(f"/books/{BOOK}?text=") and pages[-1].to_json()["scan"] is False
        assert pages[0].to_json()["url"] == f"/books/{BOOK}?page=0001"
        # a word only on unscanned leaves still finds the book (simplified form typed)
        found = searcher.search("太阴经度", pages_per_book=10)
        assert [book.book_id for book in found.books] == [BOOK]
        assert {hit.page for hit in found.books[0].pages} == {None}
        assert found.books[0].page_count == 7
        # IIIF Content Search points only at canvases that exist
        answer = search_v1(searcher, BOOK, "日五星中行")
        canvases = [resource["on"].rsplit("/", 1)[-1] for resource in answer["resources"]]
        assert canvases == ["0001", "0005", "0009"] and answer["within"]["total"] == 3
    finally:
        searcher.close()
    monkeypatch.setenv("GUJI_SEARCH_BACKEND", backend)
    html = TestClient(create_app(books.home)).get("/search", params={"q": "太陰經度日分"}).text
    # the hit links to that leaf's text in the reading view, with the query to mark it
    link = rf'<a href="/books/{BOOK}\?text=\d+&amp;q=[^"]+">卷二 葉十五上</a>'
    assert re.search(link + ' <span class="badge no-scan">无影像</span>', html)


@pytest.mark.parametrize(("value", "number"),
                         [("002", 2), ("卷二", 2), (3, 3), ("²", None), ("卷①", None), (True, None)])
def test_juan_numbers_read_ascii_and_chinese_numerals_only(value, number):
    assert juan_number(value) == number
