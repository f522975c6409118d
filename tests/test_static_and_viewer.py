"""The icon, compressed and cached static files, and the viewer in the site's language with the
library's page labels (叶一a / 葉一上)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from web_helpers import ingest_fixture_scans, load_samples

from guji.iiif.manifest import build_manifest
from guji.repository.page_labels import SIMPLIFIED, TRADITIONAL, card_script, display_label
from guji.web import create_app
from guji.web.iiif_routes import mirador_dir

BOOK = "jingchuan-wenji"  # 重刊荊川先生文集: a traditional-script card


@pytest.fixture
def book_home(catalogue, sample_cards, tmp_path):
    load_samples(catalogue, sample_cards)
    ingest_fixture_scans(catalogue, BOOK, tmp_path / "scans")  # no structure.json: default labels 1a, 1b, 2a
    return catalogue


@pytest.fixture
def client(book_home):
    return TestClient(create_app(book_home.home), base_url="http://127.0.0.1:8000")


def test_default_and_kanripo_labels_are_written_as_the_library_writes_leaves():
    assert [display_label(label) for label in ("1a", "1b", "12a", "002-28b")] == ["叶一a", "叶一b", "叶十二a",
                                                                                  "卷二 叶二十八b"]
    traditional = [display_label(label, TRADITIONAL) for label in ("1a", "1b", "002-3a")]
    assert traditional == ["葉一上", "葉一下", "卷二 葉三上"]
    assert display_label("卷二 葉一a", SIMPLIFIED, source="ocr") == "卷二 叶一a"  # read from the 版心
    assert display_label("封面") == "封面" and display_label("卷二 葉一a") == "卷二 葉一a"  # given: as given


def test_the_script_is_the_cards():
    assert card_script({"edition": {"title": "重刊荊川先生文集"}}) == TRADITIONAL
    assert card_script({"edition": {"title": "影梅庵忆语"}}) == SIMPLIFIED
    # 七政推步 reads the same in both scripts: the 版本 decides
    assert card_script({"edition": {"title": "七政推步", "edition_statement": "清乾隆文淵閣四庫全書本"}}) == TRADITIONAL
    assert card_script({"edition": {"title": "七政推步"}}) == SIMPLIFIED


def test_manifest_and_record_page_label_default_pages_in_the_cards_script(book_home, client):
    manifest = build_manifest(book_home, BOOK)
    labels = [canvas["label"] for canvas in manifest["items"]]
    assert labels[0] == {"zh-Hant": ["葉一上"], "zh-Hans": ["叶一上"]}
    assert [label["zh-Hant"][0] for label in labels] == ["葉一上", "葉一下", "葉二上"]
    page = client.get(f"/books/{BOOK}").text
    assert "葉一下</a>" in page and ">1b</a>" not in page


def test_the_icon_is_there_and_every_page_links_it(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert 'rel="icon" href="/static/favicon.svg?v=' in client.get("/").text


def test_static_files_are_versioned_cached_and_compressed(client):
    page = client.get("/").text
    css_url = page.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css_url.startswith("/static/guji.css?v=")
    css = client.get(css_url, headers={"Accept-Encoding": "gzip"})
    assert css.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert css.headers["content-encoding"] == "gzip" and css.headers["vary"] == "Accept-Encoding"
    assert client.get(css_url, headers={"If-None-Match": css.headers["etag"]}).status_code == 304
    plain = client.get("/static/guji.css", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.headers["cache-control"] == "public, max-age=3600"
    assert plain.text.startswith(":root") or "{" in plain.text
    for bad in ("/static/..%2Fapp.py", "/static/.hidden", "/static/nothing.css", "/static/guji.css%00"):
        assert client.get(bad).status_code == 404, bad


@pytest.mark.skipif(not (mirador_dir() / "mirador.min.js").is_file(), reason="Mirador is installed by make install")
def test_mirador_is_sent_compressed(client):
    page = client.get(f"/books/{BOOK}/viewer").text
    scripts = [part.split('"')[0] for part in page.split('<script src="')[1:]]
    url = next(src for src in scripts if src.startswith("/viewer/mirador.min.js"))
    assert url.startswith("/viewer/mirador.min.js?v=")
    sent = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    raw = (mirador_dir() / "mirador.min.js").read_bytes()
    assert sent.headers["content-encoding"] == "gzip" and int(sent.headers["content-length"]) < len(raw) // 3
    assert sent.content == raw  # httpx undoes the gzip
    assert "immutable" in sent.headers["cache-control"]


def test_the_viewer_speaks_the_sites_language_with_the_books_title(client):
    default = client.get(f"/books/{BOOK}/viewer").text
    assert "<title>重刊荊川先生文集 · 古籍阅读器</title>" in default and 'language: "zh-Hans",' in default
    translations = json.loads(default.split("translations: ")[1].split(",\n")[0])
    assert translations["zh-Hans"]["openCompanionWindow_info"] == "信息"  # Mirador's zh-CN, mainland words
    assert translations["zh-Hans"]["zoomIn"] == "放大" and translations["zh-Hans"]["iiif_related"] == "相关资源"
    assert '<img src="/iiif/image/jingchuan-wenji/0001/full/600,/0/default.jpg"' in default  # shown at once
    traditional = client.get(f"/books/{BOOK}/viewer", params={"lang": "zh-Hant"}).text
    assert "古籍閱讀器" in traditional and 'language: "zh-Hant",' in traditional
    client.cookies.set("lang", "en")
    english = client.get(f"/books/{BOOK}/viewer").text
    assert "Guji viewer" in english and 'language: "en",' in english
    assert "本书尚无书影" in client.get("/books/maoshi-zhushu/viewer", cookies={"lang": "zh"}).text
