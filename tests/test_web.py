"""The web app over the catalogue: the JSON card API, health check and the basics every page shares
(the public pages, staff workspace, IIIF and search have their own test files)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from guji.web import create_app


def test_home_record_and_api(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    client = TestClient(create_app(catalogue.home))
    home = client.get("/")
    assert home.status_code == 200
    for card in sample_cards:
        assert f'/books/{card["id"]}' in home.text
    first = sample_cards[0]
    record = client.get(f"/books/{first['id']}")
    assert record.status_code == 200 and first["edition"]["title"] in record.text and "导入示例" in record.text
    assert f'索书号 {first["copy"]["call_number"]}' in record.text
    api = client.get(f"/api/cards/{first['id']}").json()
    assert api["version"] == 1 and api["card"]["edition"]["title"] == first["edition"]["title"]
    assert client.get("/api/cards").json()["total"] == len(sample_cards)
    assert client.get("/books/nonesuch").status_code == 404
    assert client.get("/api/cards/nonesuch").status_code == 404


def test_card_text_is_escaped(catalogue, sample_cards):
    card = dict(sample_cards[0], id="xss")
    card["edition"] = {**card["edition"], "title": "<script>alert(1)</script>"}
    catalogue.create(card, editor="张三", reason="测试")
    page = TestClient(create_app(catalogue.home)).get("/books/xss").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
