"""One error model: every exception Guji raises on purpose is a GujiError whose kind says what it
means (HTTP status, exit code) — a damaged inventory is not a missing card, a reference to several
cards is not an unknown one."""

from __future__ import annotations

import ast
import html
import importlib
from pathlib import Path

import pytest

from guji.repository import Ambiguous, CardNotFound, Damaged, GujiError, NotFound
from guji.repository.errors import KINDS, kind_of

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("repository", "ingest", "iiif", "search", "web", "metadata_schemas")
# Exceptions that are not for a person to act on: when they escape, it is a bug.
NOT_GUJI_ERRORS = {"guji.ingest.ocr_pagexml.PageXmlInvalid",  # our own PAGE-XML fails its schema: a bug
                   "guji.repository.settings._Bad"}  # a parser's note, raised again at once as a SettingError


def _exception_classes():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            # web/staff/jobs.py is guji.web.staff.jobs (pyproject.toml's package-dir)
            module = ".".join(("guji", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and node.bases:
                    yield module, node.name


def test_every_exception_class_is_a_guji_error_of_one_kind():
    checked = 0
    for module_name, name in _exception_classes():
        value = getattr(importlib.import_module(module_name), name)
        if not (isinstance(value, type) and issubclass(value, BaseException)):
            continue
        checked += 1
        if f"{module_name}.{name}" in NOT_GUJI_ERRORS:
            assert not issubclass(value, GujiError)
            continue
        assert issubclass(value, GujiError), f"{module_name}.{name} is not a GujiError"
        assert kind_of(value.__new__(value)) in KINDS
    assert checked >= 30


def test_kinds_have_distinct_meanings():
    assert len({kind.slug for kind in KINDS}) == len(KINDS)
    assert {kind.exit_code for kind in KINDS} == {1, 2, 3, 4, 5}
    assert Damaged.status == 500 and NotFound.status == 404 and Ambiguous.status == 400


def test_an_unreadable_inventory_is_damaged_not_missing(catalogue, sample_cards):
    card = sample_cards[0]
    catalogue.create(card, editor="张三", reason="导入")
    inventory = catalogue.store.object_path(card["id"]) / "inventory.json"
    inventory.write_bytes(b'{"id": "truncated')
    with pytest.raises(Damaged, match="inventory.json 无法读取.*guji fixity"):
        catalogue.get(card["id"])
    inventory.write_text('{"id": "x", "head": "v9", "versions": {}, "manifest": {}}')
    with pytest.raises(Damaged, match="不是完整的 OCFL 清单"):
        catalogue.get(card["id"])
    with pytest.raises(CardNotFound):
        catalogue.get("no-such-card")


def test_a_reference_to_several_cards_is_ambiguous_not_unknown(catalogue, sample_cards):
    first, second = sample_cards[0], sample_cards[1]
    catalogue.create(first, editor="张三", reason="导入")
    twin = {**second, "copy": {**second.get("copy", {}), "call_number": first["copy"]["call_number"]}}
    catalogue.create(twin, editor="张三", reason="导入")
    with pytest.raises(Ambiguous, match="对应多张卡片") as ambiguous:
        catalogue.resolve(first["copy"]["call_number"])
    assert not isinstance(ambiguous.value, NotFound) and ambiguous.value.exit_code == 2


# ---- the web app's one handler ------------------------------------------------------------------


@pytest.fixture
def web(catalogue, sample_cards):
    from fastapi.testclient import TestClient

    from guji.web import create_app

    for card in sample_cards[:2]:
        catalogue.create(card, editor="张三", reason="导入")
    return TestClient(create_app(catalogue.home), raise_server_exceptions=False)


def test_a_damaged_inventory_is_a_server_error_not_a_missing_book(web, catalogue, sample_cards):
    damaged = sample_cards[0]["id"]
    (catalogue.store.object_path(damaged) / "inventory.json").write_bytes(b"\x00garbage")
    for path in (f"/api/cards/{damaged}", f"/api/books/{damaged}", f"/iiif/{damaged}/manifest"):
        response = web.get(path)
        assert response.status_code == 500, path
        problem = response.json()
        assert problem["type"].endswith("/problems/damaged") and "guji fixity" in problem["detail"]
        assert str(catalogue.home.root) not in response.text  # the message with the path goes to the log only
    page = web.get(f"/books/{damaged}")
    assert page.status_code == 500 and "存储的数据有损坏" in page.text
    assert web.get(f"/books/{sample_cards[1]['id']}").status_code == 200
    assert web.get("/api/cards/nonesuch").status_code == 404


def test_errors_are_problem_details_for_programs_and_pages_for_people(web, sample_cards):
    missing = web.get("/api/cards/nonesuch")
    assert missing.headers["content-type"] == "application/problem+json"
    problem = missing.json()
    assert problem == {"type": "http://127.0.0.1:8000/problems/not-found", "title": "未找到 (Not found)",
                       "status": 404, "detail": "没有标识为「nonesuch」的卡片",
                       "detail_en": "No card with id 'nonesuch'"}
    kind_page = web.get("/problems/not-found")
    assert kind_page.status_code == 200 and "退出码 3" in kind_page.text
    assert web.get("/problems/nonesuch").status_code == 404
    page = web.get("/books/nonesuch")
    assert page.status_code == 404 and "没有标识为「nonesuch」的卡片" in page.text
    assert "No card with id 'nonesuch'" in html.unescape(web.get("/books/nonesuch?lang=en").text)
    version = web.get(f"/api/cards/{sample_cards[0]['id']}?version=7")
    assert version.status_code == 404 and "没有 v7 这一版" in version.json()["detail"]
    export = web.get(f"/api/cards/{sample_cards[0]['id']}/export?format=docx")
    assert export.status_code == 400 and export.json()["type"].endswith("/problems/invalid-input")
