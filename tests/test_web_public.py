"""The public collection: home, browse facets, record page, JSON API, language toggle."""

from __future__ import annotations

import copy
import sqlite3

import lxml.html
import pytest
from fastapi.testclient import TestClient

from guji.repository import Catalogue
from guji.web import create_app


@pytest.fixture
def client(collection) -> TestClient:
    return TestClient(create_app(collection.home))


def texts(html: str, selector: str) -> list[str]:
    return [" ".join(element.text_content().split()) for element in lxml.html.fromstring(html).cssselect(selector)]


def test_home_shows_collection_figures_recent_items_and_browse_entries(client, sample_cards):
    page = client.get("/")
    assert page.status_code == 200
    figures = texts(page.text, ".figures div")
    # 5 titles: 3 古籍 + 2 地方文献; 8 册 (only 荊川文集 gives 册数); 1 digitised with 3 pages; 1 graded
    assert figures == ["5种藏品", "3种古籍", "2种地方文献", "8册", "1种已数字化", "3叶书影", "1种已定级"]
    recent = texts(page.text, ".recent .title")
    assert sorted(recent) == sorted(["毛詩注疏三十卷首一卷", "重刊荊川先生文集十七卷外集三卷",
                                     "歷代史纂左編一百四十二卷", "影梅庵憶語", "平陽縣志八卷"])
    entries = texts(page.text, ".browse-entry .facet-entry h3")
    assert entries == ["四部分类", "朝代", "版本类型", "文献类型", "地方文献", "地域", "地方人士"]
    assert 'href="/browse?local_author=%E5%86%92%E8%A5%84"' in page.text  # 冒襄, a 如皋 author
    assert "/iiif/image/jingchuan-wenji/0001/full/150,/0/default.jpg" in page.text  # thumbnail of the scanned book


def test_browse_by_sibu_class_dynasty_edition_type_and_local_author(client):
    def titles(query: str) -> list[str]:
        page = client.get("/browse" + query)
        assert page.status_code == 200, page.text
        return texts(page.text, ".results .title")

    assert titles("?class=2") == ["歷代史纂左編一百四十二卷", "影梅庵憶語", "平陽縣志八卷"]  # 史部
    assert titles("?class=2.07") == ["影梅庵憶語"]  # 史部 传记类
    assert titles("?class=4") == ["重刊荊川先生文集十七卷外集三卷"]  # 集部, found through its 属 4.02.05
    assert titles("?dynasty=明") == ["重刊荊川先生文集十七卷外集三卷", "歷代史纂左編一百四十二卷", "平陽縣志八卷"]
    assert titles("?dynasty=清") == ["毛詩注疏三十卷首一卷"]
    assert titles("?dynasty=未详") == ["影梅庵憶語"]
    assert titles("?edition_type=写本") == ["毛詩注疏三十卷首一卷"]
    assert titles("?record_type=local_document") == ["影梅庵憶語", "平陽縣志八卷"]
    assert titles("?local_type=地方志") == ["平陽縣志八卷"]
    assert titles("?local_author=冒襄") == ["影梅庵憶語"]
    assert titles("?place=如皋") == ["影梅庵憶語"]
    assert titles("?dynasty=明&class=2") == ["歷代史纂左編一百四十二卷", "平陽縣志八卷"]
    assert titles("?dynasty=宋") == []


def test_browse_facets_count_within_the_other_filters_and_show_the_chosen_ones(client):
    page = client.get("/browse?dynasty=明")
    dynasty = texts(page.text, "[data-facet=dynasty] li")
    assert dynasty == ["明 3", "清 1", "未详 1"]  # the facet being filtered counts without its own filter
    sibu = texts(page.text, "[data-facet=class] > ul > li > a")
    assert sibu == ["史部", "集部"]  # 明 books only: no 经部
    assert texts(page.text, ".chosen .chip") == ["明 ×"]
    assert 'href="/browse"' in page.text
    chosen_class = client.get("/browse?class=2.11")
    assert texts(chosen_class.text, ".chosen .chip") == ["史部·地理类 ×"]


def test_browse_pages_through_results(collection):
    for number in range(23):
        collection.create({"id": f"extra-{number:02d}", "record_type": "guji",
                           "edition": {"title": f"測試書{number:02d}"}, "copy": {"call_number": f"測{number:02d}"}},
                          editor="示例", reason="测试")
    client = TestClient(create_app(collection.home))
    first = client.get("/browse")
    assert texts(first.text, ".total") == ["共 28 种 · 第 1 / 2 页"]
    assert len(texts(first.text, ".results .title")) == 20
    second = client.get("/browse?page=2")
    assert len(texts(second.text, ".results .title")) == 8
    assert client.get("/browse?page=0").status_code == 422


def test_record_page_prints_the_card_like_a_chinese_catalogue(client):
    page = client.get("/books/jingchuan-wenji")
    assert page.status_code == 200
    lines = texts(page.text, ".catalogue-card .card-line")
    assert lines[:3] == ["重刊荊川先生文集十七卷外集三卷", "著者 （明）唐順之撰", "版本 明萬曆元年純白齋刻本"]
    assert "行款版式 · 版框 半葉十行行二十字 框高20.1、宽14.2厘米" in lines
    assert "册数/函数 8册 1函" in lines and "装帧 线装" in lines
    assert "版本类型 刻本" in lines
    assert "存卷 存十七卷（卷一至十七）" in lines
    assert any(line.startswith("钤印 \"示例圖書/館藏書印\"朱文方印") for line in lines)
    assert texts(page.text, ".card-head span") == ["索书号 示善0002", "普查编号 999999-0001-0000002"]
    assert "原索书号 示普0102" in lines


def test_every_record_line_is_labelled_for_what_it_holds(client):
    """毛詩注疏 has a 装帧 but no 册数: 包背装 stands under 装帧, and no 册数 line is printed."""
    lines = texts(client.get("/books/maoshi-zhushu").text, ".catalogue-card .card-line")
    assert "装帧 包背装" in lines
    assert not any(line.startswith(("册数", "函数")) for line in lines)
    assert "版本类型 写本" in lines and "行款版式 半葉八行行二十一字小字雙行同" in lines


def test_a_card_without_edition_type_is_browsed_under_the_type_its_statement_names(collection):
    collection.create({"id": "jigu-ge", "record_type": "guji",
                       "edition": {"title": "十三經注疏", "edition_statement": "明崇禎毛氏汲古閣刻本"}},
                      editor="示例", reason="测试")
    client = TestClient(create_app(collection.home))
    lines = texts(client.get("/books/jigu-ge").text, ".catalogue-card .card-line")
    assert "版本类型 刻本（据版本推定）" in lines
    browse = client.get("/browse", params={"edition_type": "刻本"})
    assert "十三經注疏" in texts(browse.text, ".results .title")


def test_record_page_embeds_the_viewer_and_lists_juan_with_jump_links(client):
    html = client.get("/books/jingchuan-wenji").text
    document = lxml.html.fromstring(html)
    assert document.cssselect("iframe.viewer")[0].get("src") == "/books/jingchuan-wenji/viewer"
    jumps = [(a.text_content(), a.get("href")) for a in document.cssselect(".contents .sections a")]
    assert jumps == [("卷一", "/books/jingchuan-wenji/viewer?page=0001"),
                     ("卷二", "/books/jingchuan-wenji/viewer?page=0003")]
    downloads = [a.get("href") for a in document.cssselect(".page-list a.download")]
    assert downloads == [f"/iiif/image/jingchuan-wenji/{page}/full/max/0/default.jpg"
                         for page in ("0001", "0002", "0003")]
    assert document.cssselect("a.manifest")[0].get("href") == "http://127.0.0.1:8000/iiif/jingchuan-wenji/manifest"
    assert document.cssselect("a.permalink")[0].get("href") == "http://127.0.0.1:8000/books/jingchuan-wenji"
    citation = texts(html, ".citation")[0]
    assert citation.startswith("（明）唐順之撰. 重刊荊川先生文集十七卷外集三卷[M/OL]. 明萬曆元年純白齋刻本. "
                               "Guji 示例馆藏（演示数据），索书号 示善0002 [")
    assert citation.endswith("]. http://127.0.0.1:8000/books/jingchuan-wenji.")


def test_a_page_link_opens_the_embedded_viewer_at_that_page(client):
    def viewer_src(query: str) -> str:
        document = lxml.html.fromstring(client.get("/books/jingchuan-wenji" + query).text)
        return document.cssselect("iframe.viewer")[0].get("src")

    assert viewer_src("?page=0003") == "/books/jingchuan-wenji/viewer?page=0003"  # as search hits link
    assert viewer_src("?page=0099") == "/books/jingchuan-wenji/viewer"  # no such page: the first one
    assert viewer_src("?page=%22%3E%3Cscript%3E") == "/books/jingchuan-wenji/viewer"


def test_a_book_without_scans_has_a_note_instead_of_the_viewer(client):
    html = client.get("/books/yingmeian-yiyu").text
    document = lxml.html.fromstring(html)
    assert not document.cssselect("iframe")
    assert texts(html, ".no-pages") == ["本书尚未数字化，暂无书影。"]
    assert not document.cssselect("a.manifest")
    assert texts(html, ".crumbs a") == ["首页", "史部", "传记类"]


def test_permalinks_use_the_public_url(client, monkeypatch):
    monkeypatch.setenv("GUJI_PUBLIC_URL", "https://guji.example.org/")
    html = client.get("/books/jingchuan-wenji").text
    assert 'href="https://guji.example.org/books/jingchuan-wenji"' in html
    assert 'href="https://guji.example.org/iiif/jingchuan-wenji/manifest"' in html


def test_unknown_or_malformed_books_are_404_pages(client):
    for path in ("/books/nonesuch", "/books/bad%20id", "/books/-x"):
        page = client.get(path)
        assert page.status_code == 404 and "未找到" in page.text, path
    assert client.get("/api/books/nonesuch").status_code == 404
    assert client.get("/api/cards/bad%20id").status_code == 404


def test_json_api_mirrors_the_pages(client):
    collection = client.get("/api/collection").json()
    assert collection["figures"] == {"titles": 5, "guji": 3, "local_documents": 2, "volumes": 8, "digitised": 1,
                                     "pages": 3, "graded": 1}
    assert len(collection["recent"]) == 5
    browse = client.get("/api/browse", params={"local_author": "冒襄"}).json()
    assert browse["total"] == 1 and browse["books"][0]["id"] == "yingmeian-yiyu"
    assert browse["filters"] == {"local_author": "冒襄"}
    assert [facet["key"] for facet in browse["facets"]][:3] == ["class", "dynasty", "edition_type"]
    book = client.get("/api/books/jingchuan-wenji").json()
    assert book["title"] == "重刊荊川先生文集十七卷外集三卷"
    assert book["card_lines"][1] == {"key": "responsibility", "label": "著者", "text": "（明）唐順之撰"}
    assert book["manifest"] == "http://127.0.0.1:8000/iiif/jingchuan-wenji/manifest"
    assert [(entry["label"], entry["first_page"]) for entry in book["contents"]] == [("卷一", "0001"), ("卷二", "0003")]
    assert book["pages"][2]["image"] == "http://127.0.0.1:8000/iiif/image/jingchuan-wenji/0003/full/max/0/default.jpg"
    assert book["classification"] == ["集部", "别集类", "明别集之属"]
    schema = client.get("/openapi.json").json()
    for path in ("/api/collection", "/api/browse", "/api/books/{card_id}", "/api/cards", "/api/cards/{card_id}"):
        assert path in schema["paths"], path


def test_english_toggle_sets_a_cookie_and_translates_the_interface_not_the_data(client):
    toggle = client.get("/lang", params={"to": "en", "next": "/books/jingchuan-wenji"}, follow_redirects=False)
    assert toggle.status_code == 303 and toggle.headers["location"] == "/books/jingchuan-wenji"
    page = client.get("/books/jingchuan-wenji")
    assert '<html lang="en">' in page.text
    assert "Permalink" in page.text and "永久链接" not in page.text
    assert "重刊荊川先生文集十七卷外集三卷" in page.text  # catalogue data stays as catalogued
    client.get("/lang", params={"to": "zh", "next": "/"})
    assert "永久链接" in client.get("/books/jingchuan-wenji").text
    assert "Browse" in client.get("/?lang=en").text  # a shareable English link without the cookie


def test_language_toggle_does_not_redirect_off_site(client):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = client.get("/lang", params={"to": "en", "next": target}, follow_redirects=False)
        assert response.headers["location"] == "/", target


def test_every_interface_string_has_an_english_translation(client, collection):
    """Every _("…") in the templates, and the facet titles and card labels made in Python."""
    import re
    from pathlib import Path

    from guji.web import collection as collection_module
    from guji.web import i18n
    from guji.web.record import card_lines
    from guji.web.staff.accounts import ROLES

    english = i18n.catalogue("en")
    wanted = set()
    for template in (Path(__file__).parents[1] / "web" / "templates").rglob("*.html"):
        wanted.update(match.group(2) for match in re.finditer(r"""_\(\s*(["'])(.*?)\1""", template.read_text()))
    facets = collection_module.facets(collection, collection_module.Filters())
    wanted.update(facet.title for facet in facets)
    wanted.update(collection_module.RECORD_TYPE_LABELS.values())
    wanted.update(line.label for line in card_lines(collection.get("jingchuan-wenji").card))
    wanted.update(ROLES.values())
    missing = sorted(text for text in wanted if text not in english)
    assert not missing, missing


def test_card_text_is_escaped_everywhere_it_is_shown(catalogue, sample_cards):
    card = copy.deepcopy(sample_cards[3])
    card["id"] = "xss"
    card["edition"]["title"] = "<script>alert(1)</script>"
    card["local_document"]["author"] = '"><img src=x onerror=alert(2)>'
    catalogue.create(card, editor="张三", reason="<b>测试</b>")
    client = TestClient(create_app(catalogue.home))
    for path in ("/", "/browse", "/books/xss", "/browse?local_author=%22%3E%3Cimg"):
        page = client.get(path).text
        assert "<script>alert(1)</script>" not in page and "<img src=x" not in page, path
        assert "<b>测试</b>" not in page
    assert "&lt;script&gt;" in client.get("/books/xss").text
    assert "default-src 'self'" in client.get("/").headers["content-security-policy"]


def test_projection_columns_survive_rebuild_db_unchanged(collection):
    def dump():
        connection = sqlite3.connect(collection.home.database_path)
        rows = connection.execute("SELECT * FROM cards ORDER BY id").fetchall()
        connection.close()
        return rows

    before = dump()
    connection = sqlite3.connect(collection.home.database_path)
    row = connection.execute("SELECT dynasty, volumes, local_type, local_author, local_place, page_count FROM cards "
                             "WHERE id IN ('jingchuan-wenji', 'yingmeian-yiyu') ORDER BY id").fetchall()
    connection.close()
    assert row == [("明", 8, None, None, None, 3), (None, None, "地方著述", "冒襄", "如皋", 0)]
    collection.rebuild_db()
    assert dump() == before


def test_a_data_home_from_before_the_new_columns_is_upgraded_on_open(collection):
    connection = sqlite3.connect(collection.home.database_path)
    connection.execute("ALTER TABLE cards DROP COLUMN page_count")
    connection.commit()
    connection.close()
    reopened = Catalogue.open(collection.home)
    try:
        rows = {row.id: row.page_count for row in reopened.list_rows()}
        assert rows["jingchuan-wenji"] == 3 and rows["maoshi-zhushu"] == 0
        assert reopened.events(limit=5)[0].kind in ("rebuild-db", "recover")
    finally:
        reopened.close()
