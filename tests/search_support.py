"""Helpers for the search tests: a catalogue with the fixture texts, and a brute-force matcher.

The brute force does not use the index nor `search.documents`: it reads ``text/pages.json``
itself, folds each page's 正文 and 夹注 with the analyzer, and scans for the query's key.
"""

from __future__ import annotations

import json
from pathlib import Path

from guji.ingest.text_import import import_text
from guji.repository import Catalogue, Home
from guji.search.analyzer import PARAGRAPH_BREAK, fold

ROOT = Path(__file__).resolve().parents[1]
TEXTS = Path(__file__).parent / "fixtures" / "texts"
REACH = 15  # key characters each side of a page break that a phrase may run across (documented limit)
LUSHU_CARD = {"id": "maoshi-lushu", "record_type": "guji",
              "edition": {"title": "毛詩陸疏校正", "responsibility_raw": "（清）丁晏撰"}}


def matching_pages(searcher, text: str, book_ids: list[str] | None = None) -> list[tuple[str, str]]:
    """Every (book id, page) the index holds as matching `text`, in reading order (text without a scan
    left out): the page documents straight from the searcher's backend."""
    from guji.search.query import parse_query
    from guji.search.service import has_page_terms

    query = parse_query(text)
    if not has_page_terms(query):
        return []
    hits = searcher.backend.search(query, kind="page", book_ids=book_ids, limit=None)
    return [(hit.book_id, hit.page) for hit in hits.hits if hit.page]


def load_fixture_books(catalogue: Catalogue, sample_cards: list[dict]) -> None:
    wanted = {"maoshi-zhushu", "jingchuan-wenji", "yingmeian-yiyu", "pingyang-xianzhi-longqing"}
    for card in sample_cards:
        if card["id"] in wanted:
            catalogue.create(card, editor="test", reason="fixture")
    catalogue.create(LUSHU_CARD, editor="test", reason="fixture")
    import_text(catalogue, "maoshi-zhushu", [TEXTS / "KR1c0004_001.txt", TEXTS / "KR1c0004_009.txt"], editor="test")
    import_text(catalogue, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    import_text(catalogue, "yingmeian-yiyu", [TEXTS / "影梅庵忆语.txt"], editor="test")
    import_text(catalogue, "maoshi-lushu", [TEXTS / "CDF_IHEC_VI111_1_5_0006.xml"], editor="test")


def indexed_library(folder: Path):
    """A catalogue holding the fixture books, indexed by both backends (for module-scoped fixtures);
    yields it open and closes it after."""
    from guji.search.indexer import Indexer

    home = Home.resolve(folder / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    load_fixture_books(catalogue, json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8")))
    for name in ("whoosh", "tantivy"):
        indexer = Indexer(catalogue, name)
        indexer.rebuild()
        indexer.close()
    yield catalogue
    catalogue.close()


def stored_pages(catalogue: Catalogue, book_id: str) -> list[dict]:
    return json.loads(catalogue.store.read_bytes(book_id, "text/pages.json"))["pages"]


def folded_fields(entry: dict) -> dict[str, list[str]]:
    """Runs of folded 正文 and 夹注 of one stored page, read straight from its lines."""
    runs: dict[str, list[str]] = {"text": [""], "note": [""]}
    last = None
    for line in entry["lines"]:
        if line.get("role") == "margin":
            continue
        heading = line.get("role") == "heading"
        if heading:
            runs["text"].append("")
        for kind, piece in line["pieces"]:
            if kind == "note" and last == "text":
                runs["note"].append("")
            runs[kind][-1] += fold(piece)
            last = kind
        if heading:
            runs["text"].append("")
    return {name: [run for run in values if run] for name, values in runs.items()}


def brute_force(catalogue: Catalogue, book_ids: list[str], key: str) -> set[tuple[str, str]]:
    """Pages whose folded text contains `key`, or where `key` starts and runs on onto the next page."""
    assert PARAGRAPH_BREAK not in key
    found = set()
    for book_id in book_ids:
        pages = stored_pages(catalogue, book_id)
        folded = [folded_fields(entry) for entry in pages]
        for index, entry in enumerate(pages):
            for name in ("text", "note"):
                runs = folded[index][name]
                if any(key in run for run in runs):
                    found.add((book_id, entry["page"]))
                elif entry["continues"].get(name) and runs and index + 1 < len(pages) and folded[index + 1][name]:
                    left = runs[-1][-REACH:]
                    right = folded[index + 1][name][0][:REACH]
                    splits = range(1, len(key))
                    if any(left.endswith(key[:cut]) and right.startswith(key[cut:]) for cut in splits):
                        found.add((book_id, entry["page"]))
    return found
