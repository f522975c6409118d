"""Withdrawn cards (记录状态 已撤销) everywhere: gone from the public site, the JSON API, search and
IIIF; still in the staff workspace with a 已撤销 mark; and back everywhere when reinstated."""

from __future__ import annotations

import sqlite3

import lxml.html
import pytest
from fastapi.testclient import TestClient
from search_support import TEXTS, matching_pages
from web_helpers import form_values, staff_client

from guji.ingest.text_import import import_text
from guji.repository import Catalogue, InvalidInput
from guji.repository.withdrawal import set_withdrawn, withdrawn_since, withdrawn_status
from guji.search.indexer import Indexer
from guji.search.service import Searcher
from guji.web import create_app

BOOK = "jingchuan-wenji"  # 重刊荊川先生文集: the one sample with 册数, scans and a 定级, the only 集部 book
TITLE = "重刊荊川先生文集十七卷外集三卷"
# Home figures of the five web samples (tests/test_web_public.py), and without 荊川文集.
ALL_FIGURES = ["5种藏品", "3种古籍", "2种地方文献", "8册", "1种已数字化", "3叶书影", "1种已定级"]
WITHOUT_BOOK = ["4种藏品", "2种古籍", "2种地方文献", "0种已数字化", "0叶书影"]  # no 册 or 定级 left to show


@pytest.fixture
def client(collection) -> TestClient:
    return TestClient(create_app(collection.home))


def withdraw(catalogue: Catalogue, reason: str = "与示善0099重复", card_id: str = BOOK) -> None:
    assert set_withdrawn(catalogue, card_id, True, editor="审校", reason=reason).changed


def reinstate(catalogue: Catalogue, card_id: str = BOOK) -> None:
    assert set_withdrawn(catalogue, card_id, False, editor="审校", reason="误撤销").changed


def texts(html: str, selector: str) -> list[str]:
    return [" ".join(element.text_content().split()) for element in lxml.html.fromstring(html).cssselect(selector)]


# ---- the public site and the JSON API ---------------------------------------------------------


def test_home_figures_and_recent_items_leave_a_withdrawn_card_out_and_take_it_back(collection, client):
    assert texts(client.get("/").text, ".figures div") == ALL_FIGURES
    withdraw(collection)
    home = client.get("/").text
    assert texts(home, ".figures div") == WITHOUT_BOOK
    assert TITLE not in texts(home, ".recent .title") and len(texts(home, ".recent .title")) == 4
    api = client.get("/api/collection").json()
    assert api["figures"] == {"titles": 4, "guji": 2, "local_documents": 2, "volumes": 0, "digitised": 0,
                              "pages": 0, "graded": 0}
    assert BOOK not in [book["id"] for book in api["recent"]]
    reinstate(collection)
    assert texts(client.get("/").text, ".figures div") == ALL_FIGURES
    assert client.get("/api/collection").json()["figures"]["titles"] == 5


def test_browse_and_its_facet_counts_leave_a_withdrawn_card_out(collection, client):
    withdraw(collection)
    assert texts(client.get("/browse?class=4").text, ".results .title") == []  # 集部 held only 荊川文集
    page = client.get("/browse?dynasty=明").text
    assert texts(page, "[data-facet=dynasty] li") == ["明 2", "清 1", "未详 1"]  # was 明 3
    assert texts(page, "[data-facet=class] > ul > li > a") == ["史部"]  # no 集部 any more
    assert texts(client.get("/browse").text, ".total") == ["共 4 种"]
    browse = client.get("/api/browse").json()
    assert browse["total"] == 4 and BOOK not in [book["id"] for book in browse["books"]]
    assert "4" not in [value["value"] for value in browse["facets"][0]["values"]]  # 四部 facet: no 集部
    reinstate(collection)
    assert texts(client.get("/browse?class=4").text, ".results .title") == [TITLE]
    assert client.get("/api/browse").json()["total"] == 5


def test_the_record_page_of_a_withdrawn_card_is_410_gone_with_a_note(collection, client):
    withdraw(collection, reason="与示善0099重复，已并入该条")
    page = client.get(f"/books/{BOOK}")
    assert page.status_code == 410
    assert texts(page.text, "h1") == ["记录已撤销"]
    note = " ".join(texts(page.text, ".withdrawn p"))
    assert TITLE in note and "不再在馆藏中公开" in note
    assert "（v3）：与示善0099重复，已并入该条" in note  # v1 card, v2 scans, v3 withdrawn
    assert not lxml.html.fromstring(page.text).cssselect("iframe")
    assert f'href="/staff/cards/{BOOK}/history"' in page.text
    assert client.get(f"/books/{BOOK}?page=0001").status_code == 410
    assert client.get(f"/books/{BOOK}/viewer").status_code == 410
    english = client.get(f"/books/{BOOK}?lang=en")
    assert english.status_code == 410 and "Record withdrawn" in english.text
    reinstate(collection)
    assert client.get(f"/books/{BOOK}").status_code == 200
    assert client.get(f"/books/{BOOK}/viewer").status_code == 200


def test_the_json_api_answers_410_for_a_withdrawn_card_and_keeps_older_versions(collection, client):
    withdraw(collection)
    book = client.get(f"/api/books/{BOOK}")
    assert book.status_code == 410 and "已撤销（v3，" in book.json()["detail"]
    assert client.get(f"/api/cards/{BOOK}").status_code == 410
    assert client.get(f"/api/cards/{BOOK}?version=1").json()["card"]["edition"]["title"] == "重刊荊川先生文集"
    cards = client.get("/api/cards").json()
    assert cards["total"] == 4 and BOOK not in [card["id"] for card in cards["cards"]]
    assert client.get(f"/api/cards/{BOOK}/history").json()[-1]["reason"] == "与示善0099重复"
    assert client.get("/api/books/nonesuch").status_code == 404  # unknown stays 404, not 410
    reinstate(collection)
    assert client.get(f"/api/books/{BOOK}").status_code == 200
    assert client.get("/api/cards").json()["total"] == 5


# ---- IIIF --------------------------------------------------------------------------------------


def test_iiif_manifest_is_410_and_collections_leave_the_book_out(collection, client):
    assert client.get(f"/iiif/{BOOK}/manifest").status_code == 200
    top = [item["id"].rsplit("/", 1)[-1] for item in client.get("/iiif/collection/top").json()["items"]]
    assert "ji" in top  # 集部 is listed while it holds the book
    withdraw(collection)
    manifest = client.get(f"/iiif/{BOOK}/manifest")
    assert manifest.status_code == 410 and "withdrawn" in manifest.json()["detail"]
    assert manifest.headers["access-control-allow-origin"] == "*"
    assert "ji" not in [item["id"].rsplit("/", 1)[-1] for item in client.get("/iiif/collection/top").json()["items"]]
    assert client.get("/iiif/collection/ji").json()["items"] == []
    search = client.get(f"/iiif/search/{BOOK}", params={"q": "文集"})
    assert search.status_code == 410
    # Decided (docs/iiif.md): the images themselves stay where they are, like any static tile a
    # front server may hand out; nothing public links to them any more.
    assert client.get(f"/iiif/image/{BOOK}/0001/info.json").status_code == 200
    reinstate(collection)
    assert client.get(f"/iiif/{BOOK}/manifest").status_code == 200
    assert [item["id"] for item in client.get("/iiif/collection/ji").json()["items"]] == [
        f"http://127.0.0.1:8000/iiif/{BOOK}/manifest"]


# ---- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["whoosh", "tantivy"])
def test_a_withdrawn_book_and_its_pages_leave_the_index_and_return_on_reinstate(collection, backend):
    memoir = "yingmeian-yiyu"  # 影梅庵憶語, with its full text (no scans)
    import_text(collection, memoir, [TEXTS / "影梅庵忆语.txt"], editor="test")
    indexer = Indexer(collection, backend)
    indexer.run_once()
    searcher = Searcher(collection.home, backend)

    def found() -> tuple[list[str], list[str]]:
        books = [hit.book_id for hit in searcher.search("影梅庵").books]
        pages = sorted({book for book, _ in matching_pages(searcher, "秦淮佳丽")})
        return books, pages

    assert found() == ([memoir], [memoir])
    withdraw(collection, card_id=memoir)
    assert indexer.run_once().deleted == 1
    assert _poll(lambda: found() == ([], []))
    assert memoir not in searcher.backend.books()
    indexer.rebuild()  # a full rebuild leaves it out too
    assert _poll(lambda: found() == ([], []))
    reinstate(collection, card_id=memoir)
    assert indexer.run_once().indexed == 1
    assert _poll(lambda: found() == ([memoir], [memoir]))
    searcher.close()
    indexer.close()


def _poll(check, tries: int = 200):
    """A reader opened before the writer committed sees the new generation on a later search."""
    import time

    for _ in range(tries):
        if check():
            return True
        time.sleep(0.05)  # polling the index generation: there is no event to wait on
    return False


# ---- the catalogue DB projection ---------------------------------------------------------------


def _dump(catalogue: Catalogue) -> list[tuple]:
    connection = sqlite3.connect(catalogue.home.database_path)
    rows = connection.execute("SELECT * FROM cards ORDER BY id").fetchall()
    connection.close()
    return rows


def test_status_is_projected_and_rebuild_db_gives_the_same_rows(collection):
    withdraw(collection)
    connection = sqlite3.connect(collection.home.database_path)
    statuses = dict(connection.execute("SELECT id, status FROM cards").fetchall())
    connection.close()
    assert statuses[BOOK] == "withdrawn" and statuses["maoshi-zhushu"] == "active"
    assert withdrawn_status(collection, BOOK) is True and withdrawn_status(collection, "nonesuch") is None
    before = _dump(collection)
    collection.rebuild_db()
    assert _dump(collection) == before


def test_a_data_home_from_before_the_status_column_is_upgraded_on_open(collection):
    withdraw(collection)
    connection = sqlite3.connect(collection.home.database_path)
    connection.execute("DROP INDEX ix_cards_status")
    connection.execute("ALTER TABLE cards DROP COLUMN status")
    connection.commit()
    connection.close()
    reopened = Catalogue.open(collection.home)
    try:
        assert {row.id: row.status for row in reopened.list_rows()}[BOOK] == "withdrawn"
        assert TestClient(create_app(reopened.home)).get(f"/books/{BOOK}").status_code == 410
    finally:
        reopened.close()


def test_withdrawn_since_names_the_version_that_withdrew_the_card(collection):
    withdraw(collection)
    stored = collection.get(BOOK)
    card = dict(stored.card, edition={**stored.card["edition"], "notes": "撤销后补注"})
    collection.save(BOOK, card, editor="审校", reason="补附注", base_version=stored.version)
    since = withdrawn_since(collection, collection.get(BOOK))
    assert (since.number, since.reason) == (3, "与示善0099重复")  # not v4, an edit of the withdrawn card
    assert withdrawn_since(collection, collection.get(BOOK, 2)) is None
    with pytest.raises(InvalidInput, match="必须写明原因"):
        set_withdrawn(collection, BOOK, False, editor="审校", reason=" ")


# ---- the staff workspace -----------------------------------------------------------------------


def test_staff_see_the_withdrawn_mark_and_can_reinstate_from_the_history_page(collection):
    staff = staff_client(collection, "张三", "cataloguer")
    withdraw(collection)
    listing = staff.get("/staff/cards").text
    row = lxml.html.fromstring(listing).cssselect("tr.withdrawn")
    assert len(row) == 1 and TITLE in row[0].text_content() and "已撤销" in row[0].text_content()
    edit = staff.get(f"/staff/cards/{BOOK}/edit")
    assert edit.status_code == 200 and texts(edit.text, ".withdrawn-banner .withdrawn-mark") == ["已撤销"]
    history = staff.get(f"/staff/cards/{BOOK}/history").text
    banner = " ".join(texts(history, ".withdrawn-banner p"))
    assert "审校" in banner and "v3：与示善0099重复" in banner
    assert f"guji cards withdraw {BOOK} --reinstate" in banner
    action, values = form_values(history, "form.reinstate")
    assert staff.post(action, data={**values, "reason": ""}).status_code == 400  # a reason is required
    assert collection.get(BOOK).version == 3
    done = staff.post(action, data={**values, "reason": "误撤销"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/staff/cards/{BOOK}/history?saved=4"
    assert withdrawn_status(collection, BOOK) is False
    assert collection.get(BOOK).versions[-1].editor == "张三"
    assert staff.get(f"/books/{BOOK}").status_code == 200


def test_staff_withdraw_from_the_history_page_and_a_stale_form_changes_nothing(collection):
    staff = staff_client(collection, "张三", "cataloguer")
    history = staff.get(f"/staff/cards/{BOOK}/history").text
    assert not lxml.html.fromstring(history).cssselect(".withdrawn-banner")
    action, values = form_values(history, "details.withdraw form")
    assert action == f"/staff/cards/{BOOK}/withdraw"
    stored = collection.get(BOOK)
    card = dict(stored.card, edition={**stored.card["edition"], "notes": "他人先存"})
    collection.save(BOOK, card, editor="李四", reason="补附注", base_version=stored.version)  # v3 meanwhile
    stale = staff.post(action, data={**values, "reason": "重复记录"})
    assert stale.status_code == 409 and "李四" in stale.text and withdrawn_status(collection, BOOK) is False
    action, values = form_values(staff.get(f"/staff/cards/{BOOK}/history").text, "details.withdraw form")
    done = staff.post(action, data={**values, "reason": "重复记录"}, follow_redirects=False)
    assert done.status_code == 303 and withdrawn_status(collection, BOOK) is True
    assert staff.get(f"/books/{BOOK}").status_code == 410
