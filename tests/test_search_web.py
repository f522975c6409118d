"""Search on the web: /api/search, the /search page, IIIF Content Search v1 and v2, bad queries."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from search_support import indexed_library, stored_pages

from guji.iiif import ids
from guji.web import create_app


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    yield from indexed_library(tmp_path_factory.mktemp("web-search"))


@pytest.fixture(params=["whoosh", "tantivy"])
def client(request, library, monkeypatch):
    monkeypatch.setenv("GUJI_SEARCH_BACKEND", request.param)
    return TestClient(create_app(library.home))


def test_api_search_answers_books_pages_snippets_and_facets(client):
    answer = client.get("/api/search", params={"q": "后妃之德"}).json()
    assert answer["total_books"] == 1 and answer["total_pages"] == 2
    book = answer["books"][0]
    assert book["id"] == "maoshi-zhushu" and book["url"] == "/books/maoshi-zhushu"
    page = book["pages"][0]
    # the Kanripo marker 001-1a, written as the library writes a leaf in the card's (traditional) script
    assert page["page"] == "0001" and page["label"] == "卷一 葉一上" and page["url"] == "/books/maoshi-zhushu?page=0001"
    assert "<mark>后妃之徳</mark>" in page["snippets"][0]["html"]
    assert answer["facets"]["sibu"] == {"label": "四部", "values": [{"value": "经部", "count": 1}]}


def test_api_search_filters_and_sort(client):
    answer = client.get("/api/search", params=[("q", "正文:之"), ("f", "record_type:地方文献"), ("sort", "title")])
    assert [book["id"] for book in answer.json()["books"]] == ["yingmeian-yiyu"]


@pytest.mark.parametrize("params", [
    {"q": '"后妃之德'}, {"q": "OR"}, {"q": "-"}, {"q": "后妃 -"}, {"q": "x" * 10_000}, {"q": "后妃\x07"},
    {"q": "著者:"}, {"q": "后妃", "sort": "nonsense"}, {"q": "后妃", "page": "x"}, {"q": "后妃", "page": "0"},
    {"q": "后妃", "per_page": "100000"}, {"q": "后妃", "f": "colour:red"},
])
def test_bad_queries_are_400_with_a_message(client, params):
    api = client.get("/api/search", params=params)
    assert api.status_code == 400 and api.json()["detail"] and api.json()["type"].endswith("/problems/invalid-input")
    page = client.get("/search", params=params)
    too_long = len(params["q"]) > 256
    assert page.status_code == 400 and ("检索词有 10000 个字" if too_long else "检索式有误") in page.text
    if "sort" not in params and "page" not in params and "per_page" not in params and "f" not in params:
        for url in ("/iiif/search/maoshi-zhushu", "/iiif/search/maoshi-zhushu/v2"):
            answer = client.get(url, params=params)
            assert answer.status_code == 400 and answer.json()["detail"]


def test_search_page_shows_facets_and_highlighted_snippets_linking_to_the_page(client):
    page = client.get("/search", params={"q": "影梅庵憶語"})
    assert page.status_code == 200
    assert '<a class="title" href="/books/yingmeian-yiyu"><mark>影梅庵憶語</mark></a>' in page.text
    # the hit opens the record page at its page, with the search (marked in the text and on the scan)
    query = "q=%E5%BD%B1%E6%A2%85%E5%BA%B5%E6%86%B6%E8%AA%9E"
    assert f'<a href="/books/yingmeian-yiyu?page=0001&amp;{query}#reading">0001</a>' in page.text
    assert "<mark>影梅庵忆语</mark>" in page.text
    assert "文献类型" in page.text and "地方文献 <span class=\"count\">1</span>" in page.text
    assert "/static/guji.css" in page.text  # the site's own layout
    empty = client.get("/search")
    assert empty.status_code == 200 and 'name="q"' in empty.text


def test_snippets_and_titles_are_escaped(client):
    page = client.get("/search", params={"q": "<script>"})
    assert "<script>" not in page.text.split("<main>")[1]


def test_iiif_content_search_v1_targets_the_manifest_canvases(client, library):
    answer = client.get("/iiif/search/maoshi-zhushu", params={"q": "后妃之德"})
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == "*"
    data = answer.json()
    assert data["@type"] == "sc:AnnotationList" and "http://iiif.io/api/search/1/context.json" in data["@context"]
    assert data["@id"].startswith(ids.search_service("maoshi-zhushu"))
    first = data["resources"][0]
    assert first["@type"] == "oa:Annotation" and first["motivation"] == "sc:painting"
    assert first["on"] == ids.canvas("maoshi-zhushu", "0001")  # a Kanripo text has no coordinates
    assert first["resource"] == {"@type": "cnt:ContentAsText", "chars": "后妃之徳"}
    hit = data["hits"][0]
    assert hit["@type"] == "search:Hit" and hit["annotations"] == [first["@id"]]
    assert hit["match"] == "后妃之徳" and hit["before"].endswith("序關雎") and hit["after"].startswith("也")
    assert data["within"]["total"] == len(data["hits"])
    pages = {r["on"] for r in data["resources"]}
    assert pages <= {ids.canvas("maoshi-zhushu", p["page"]) for p in stored_pages(library, "maoshi-zhushu")}


def test_iiif_content_search_gives_line_coordinates_from_page_xml(client):
    data = client.get("/iiif/search/maoshi-lushu", params={"q": "牛舌草"}).json()
    assert [r["on"] for r in data["resources"]] == [ids.canvas("maoshi-lushu", "0001") + "#xywh=4364,665,158,787"]
    simplified = client.get("/iiif/search/maoshi-lushu", params={"q": "与煮同"}).json()  # 與 in the text
    assert simplified["hits"][0]["match"] == "與煮同"


def test_iiif_content_search_v2(client):
    data = client.get("/iiif/search/maoshi-lushu/v2", params={"q": "牛舌草", "user": "x", "foo": "1"}).json()
    assert data["type"] == "AnnotationPage" and data["@context"] == "http://iiif.io/api/search/2/context.json"
    item = data["items"][0]
    assert item["motivation"] == "highlighting" and item["body"]["value"] == "牛舌草"
    assert item["target"]["source"]["id"] == ids.canvas("maoshi-lushu", "0001")
    assert item["target"]["source"]["partOf"] == [{"id": ids.manifest("maoshi-lushu"), "type": "Manifest"}]
    assert item["target"]["selector"][0]["value"] == "xywh=4364,665,158,787"
    assert data["ignored"] == ["foo"]
    context = data["annotations"][0]["items"][0]["target"]["selector"][0]
    assert context["exact"] == "牛舌草" and context["suffix"].startswith("可")


def test_iiif_content_search_unknown_book_is_404(client):
    assert client.get("/iiif/search/nonesuch", params={"q": "之"}).status_code == 404
