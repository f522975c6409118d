"""Shared data for the IIIF tests: a data home with real scans ingested, built once per session, a
copy of it per module.

`jingchuan-wenji` gets the four fixture scans with a structure.json of one 册 holding 卷一 and
卷二; `iiif-test` gets the official Image API validator test image as its only page.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guji.ingest import ingest_book
from guji.repository import Catalogue, Home

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
SCANS = FIXTURES / "scans"
IIIF = FIXTURES / "iiif"
TEST_IMAGE = IIIF / "67352ccc-d1b0-11e1-89ae-279075081939.png"
PUBLIC = "http://guji.test:8080"
BOOK = "jingchuan-wenji"
TEST_BOOK = "iiif-test"
# reading order of the fixture scans (structure.json below) → page numbers
ORDER = ["1.png", "2.png", "10.png", "v01_024.jpg"]
STRUCTURE = {
    "pages": [
        {"file": "1.png", "label": "書衣"},
        {"file": "2.png", "label": "卷一 葉一a"},
        {"file": "10.png", "label": "卷一 葉一b"},
        {"file": "v01_024.jpg", "label": "卷二 葉一a"},
    ],
    "ranges": [
        {"label": "第一册", "type": "册", "files": ORDER},
        {"label": "卷一", "files": ["2.png", "10.png"]},
        {"label": "卷二", "files": ["v01_024.jpg"]},
    ],
}


def build_home(root: Path) -> Home:
    """A data home with the sample cards, two books with scans ingested."""
    home = Home.resolve(root / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    try:
        for card in json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8")):
            catalogue.create(card, editor="编目员", reason="示例")
        catalogue.create({"id": TEST_BOOK, "record_type": "guji", "edition": {"title": "IIIF 驗證圖像"},
                          "rights": "http://creativecommons.org/publicdomain/zero/1.0/"},
                         editor="编目员", reason="測試")
        book = root / "book"
        book.mkdir()
        for name in ORDER:
            shutil.copyfile(SCANS / name, book / name)
        (book / "structure.json").write_text(json.dumps(STRUCTURE, ensure_ascii=False), encoding="utf-8")
        ingest_book(catalogue, book, BOOK, "数字化员", workers=1)
        test_book = root / "test-image"
        test_book.mkdir()
        shutil.copyfile(TEST_IMAGE, test_book / "0001.png")
        ingest_book(catalogue, test_book, TEST_BOOK, "数字化员", workers=1)
    finally:
        catalogue.close()
    return home


@pytest.fixture(scope="module")
def iiif_home(prepared_homes, tmp_path_factory) -> Home:
    """This module's own copy of the home build_home makes (once per session: conftest.PreparedHomes)."""
    return prepared_homes.copy("iiif", build_home, tmp_path_factory.mktemp("iiif") / "guji-data")


@pytest.fixture
def iiif_public_url(monkeypatch) -> str:
    monkeypatch.setenv("GUJI_PUBLIC_URL", PUBLIC)
    return PUBLIC


@pytest.fixture
def iiif_catalogue(iiif_home, iiif_public_url):
    catalogue = Catalogue.open(iiif_home)
    yield catalogue
    catalogue.close()


def schema_validator(root: str = "manifest"):
    """The official Presentation 3 schema (fixture copy), rooted at `#/classes/<root>`."""
    import jsonschema

    schema = json.loads((IIIF / "iiif_presentation_3_0.manifest.schema.json").read_text(encoding="utf-8"))
    schema["allOf"] = [{"$ref": f"#/classes/{root}"}]
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def schema_errors(document: dict, root: str = "manifest") -> list[str]:
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
            for error in schema_validator(root).iter_errors(document)]


def all_ids(node) -> list[str]:
    """Every id / @id anywhere in a IIIF document."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("id", "@id") and isinstance(value, str):
                found.append(value)
            else:
                found.extend(all_ids(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(all_ids(item))
    return found
