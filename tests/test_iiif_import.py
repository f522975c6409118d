"""`guji iiif import`: real Presentation 2 and 3 manifests with their quirks become books."""

from __future__ import annotations

import functools
import json
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_support import guji
from iiif_fixtures import IIIF, PUBLIC, all_ids, schema_errors

from guji.iiif import ids
from guji.iiif.importer import ManifestRefused, import_manifest
from guji.iiif.manifest import build_manifest
from guji.repository import CardNotFound

NPM = IIIF / "npm_P1528_siku_jianming_mulu_manifest_v2.json"  # Presentation 2, sizes as strings, left-to-right
KYOTO = IIIF / "kyoto_toho_A049_manifest_v3.json"  # Presentation 3
GUJI = Path(sys.executable).parent / "guji"


@pytest.fixture
def library(catalogue, iiif_public_url):
    return catalogue


def test_presentation_2_with_string_sizes(library):
    result = import_manifest(library, str(NPM), "npm-p1528", editor="编目员")
    assert (result.pages, result.card_created, result.version) == (12, True, 2)
    store = library.store
    assert store.read_bytes("npm-p1528", "source/manifest.json") == NPM.read_bytes()  # bit for bit
    structure = json.loads(store.read_bytes("npm-p1528", "structure.json"))
    source = json.loads(NPM.read_text(encoding="utf-8"))
    canvases = source["sequences"][0]["canvases"]
    assert [(p["width"], p["height"]) for p in structure["pages"]] == [(int(c["width"]), int(c["height"]))
                                                                        for c in canvases]
    assert all(isinstance(p["width"], int) for p in structure["pages"])
    first = structure["pages"][0]["remote"]
    assert first["canvas"] == canvases[0]["@id"]
    assert first["service"] == {"id": canvases[0]["images"][0]["resource"]["service"]["@id"], "type": "ImageService2",
                                "profile": "https://iiif.io/api/image/2/level1.json"}
    # A Chinese book marked left-to-right stays as marked, with a warning saying how to correct it.
    assert structure["viewingDirection"] == "left-to-right"
    assert any("--viewing-direction right-to-left" in warning for warning in result.warnings)
    # The licence is not a URI the card vocabulary has: kept in the notes, with a warning.
    card = library.get("npm-p1528").card
    assert "rights" not in card and "https://data.gov.tw/license" in card["edition"]["notes"]
    assert card["edition"]["title"] == "NPM 故宮 - 清紀昀欽定四庫全書簡明目錄（經部）　卷"

    manifest = build_manifest(library, "npm-p1528")
    assert schema_errors(manifest) == []
    assert manifest["behavior"] == ["individuals"]  # landscape scans of whole openings
    assert [c["id"] for c in manifest["items"]] == [ids.canvas("npm-p1528", f"{n:04d}") for n in range(1, 13)]
    body = manifest["items"][0]["items"][0]["items"][0]["body"]
    assert body["id"] == canvases[0]["images"][0]["resource"]["@id"]  # the images stay where they are
    assert "width" not in body  # the source gave no size for its image
    assert body["service"][0]["@type"] == "ImageService2"
    ours = [value for value in all_ids(manifest) if value.startswith(PUBLIC)]
    assert ids.manifest("npm-p1528") in ours and "example.org" not in json.dumps(manifest)


def test_viewing_direction_can_be_corrected(library):
    import_manifest(library, str(NPM), "npm-p1528", editor="编目员", viewing_direction="right-to-left")
    assert build_manifest(library, "npm-p1528")["viewingDirection"] == "right-to-left"
    with pytest.raises(ManifestRefused, match="--viewing-direction 'backwards'"):
        import_manifest(library, str(NPM), "npm-p1528", editor="编目员", viewing_direction="backwards")


def test_presentation_3_creates_a_card_from_its_metadata(library):
    result = import_manifest(library, str(KYOTO), "kyoto-a049", editor="编目员")
    assert (result.pages, result.card_created) == (17, True)
    card = library.get("kyoto-a049").card
    assert card["edition"]["title"] == "書序答問"
    assert card["edition"]["juan"]["raw"] == "一卷" and card["edition"]["juan"]["count"] == 1
    assert card["edition"]["classification"]["code"] == "1"  # 類別：經部
    assert card["rights"] == "http://creativecommons.org/licenses/by-nc/4.0/"
    assert card["copy"]["holding_institution"] == "東方學数字圖書館"
    manifest = build_manifest(library, "kyoto-a049")
    assert schema_errors(manifest) == []
    assert manifest["viewingDirection"] == "right-to-left" and manifest["behavior"] == ["paged"]
    assert manifest["rights"] == card["rights"]
    source = json.loads(KYOTO.read_text(encoding="utf-8"))
    assert [c["label"]["zh-Hant"][0] for c in manifest["items"]] == [c["label"]["zh"][0] for c in source["items"]]
    body = manifest["items"][0]["items"][0]["items"][0]["body"]
    assert body["service"] == [source["items"][0]["items"][0]["items"][0]["body"]["service"][0]]
    # Running the same import again stores nothing new.
    again = import_manifest(library, str(KYOTO), "kyoto-a049", editor="编目员")
    assert again.version is None and not again.card_created


def test_an_existing_card_is_linked_not_changed(library, sample_cards):
    card = next(c for c in sample_cards if c["id"] == "maoshi-zhushu")
    library.create(card, editor="编目员", reason="新建")
    before = library.get("maoshi-zhushu").card
    result = import_manifest(library, str(KYOTO), "maoshi-zhushu", editor="编目员")
    assert not result.card_created
    assert library.get("maoshi-zhushu").card == before
    assert build_manifest(library, "maoshi-zhushu")["label"]["zh-Hant"] == ["毛詩注疏三十卷首一卷"]


def _refused(library, path: Path, book: str, match: str) -> None:
    with pytest.raises(ManifestRefused, match=match):
        import_manifest(library, str(path), book, editor="编目员")
    assert not library.exists(book)  # nothing stored, not even the card


def test_bad_manifests_are_refused_naming_the_problem(library, tmp_path):
    _refused(library, IIIF / "LICENSE_toho-html-data", "bad", "不是 JSON")
    _refused(library, tmp_path / "missing.json", "bad", "无法读取这个文件")
    other = tmp_path / "collection.json"
    other.write_text(json.dumps({"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Collection",
                                 "id": "http://x/c", "items": []}))
    _refused(library, other, "bad", "没有画布")
    broken = json.loads(NPM.read_text(encoding="utf-8"))
    broken["sequences"][0]["canvases"][3]["width"] = "wide"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    _refused(library, path, "bad", r"^sequences\[0\]\.canvases\[3\]\.width：'wide' 不是像素数$")
    imageless = json.loads(KYOTO.read_text(encoding="utf-8"))
    imageless["items"][2]["items"] = []
    path.write_text(json.dumps(imageless, ensure_ascii=False), encoding="utf-8")
    _refused(library, path, "bad", r"^items\[2\]：没有带图像的 painting 注释")


def test_a_book_with_ingested_scans_is_not_overwritten(library, sample_cards, tmp_path):
    from guji.ingest import ingest_book

    card = next(c for c in sample_cards if c["id"] == "jingchuan-wenji")
    library.create(card, editor="编目员", reason="新建")
    book = tmp_path / "book"
    book.mkdir()
    (book / "1.png").write_bytes((IIIF.parent / "scans" / "1.png").read_bytes())
    ingest_book(library, book, "jingchuan-wenji", "数字化员", workers=1)
    head = library.store.head("jingchuan-wenji")
    with pytest.raises(ManifestRefused, match="已有入藏的扫描影像"):
        import_manifest(library, str(KYOTO), "jingchuan-wenji", editor="编目员")
    assert library.store.head("jingchuan-wenji") == head


@pytest.fixture
def manifest_server():
    """The fixture folder over real HTTP on 127.0.0.1."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(IIIF))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_import_from_a_url_with_the_command(tmp_path, manifest_server):
    home = tmp_path / "data"
    env = {"GUJI_EDITOR": "编目员", "GUJI_PUBLIC_URL": PUBLIC}
    guji(home, "init", env=env)
    url = f"{manifest_server}/{KYOTO.name}"
    done = guji(home, "iiif", "import", url, "--id", "kyoto-a049", env=env)
    assert "kyoto-a049：17 页，0 个范围（卷、册），已建卡片，存为 v2" in done.stdout
    assert f"manifest：{PUBLIC}/iiif/kyoto-a049/manifest" in done.stdout
    missing = guji(home, "iiif", "import", f"{manifest_server}/nothing.json", "--id", "x", env=env, check=False)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr and "Traceback" not in missing.stderr
    npm = guji(home, "iiif", "import", str(NPM), "--id", "npm-p1528", env=env, check=False)
    assert npm.returncode == 0 and "提醒：" in npm.stderr and "left-to-right" in npm.stderr


# ---- broken and foreign manifests: refused naming the JSON path, nothing stored -------------------


def _variant(tmp_path: Path, source: Path, change) -> Path:
    """A copy of a real manifest broken the way manifests found in the wild are."""
    manifest = json.loads(source.read_text(encoding="utf-8"))
    change(manifest)
    path = tmp_path / f"variant-{source.name}"
    path.write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    return path


def _set(path: str, value):
    """A change setting the value at `path` (keys and list indexes separated by /)."""
    def change(manifest):
        *parents, last = [int(part) if part.isdigit() else part for part in path.split("/")]
        node = manifest
        for part in parents:
            node = node[part]
        node[last] = value
    return change


@pytest.mark.parametrize(("change", "message"), [
    (_set("sequences", 3), r"^sequences：应为列表（JSON 数组），这里是数字 3$"),
    (_set("sequences", {"1": 2}), r"^sequences：应为列表（JSON 数组），这里是对象$"),
    (_set("sequences/0/canvases", "canvas"),
     r"^sequences\[0\]\.canvases：应为列表（JSON 数组），这里是字符串「canvas」$"),
    (_set("sequences/0/canvases", {"a": 1}), r"^sequences\[0\]\.canvases：应为列表"),
    (_set("sequences/0/canvases/1", "x"), r"^sequences\[0\]\.canvases\[1\]：应为对象"),
    (_set("sequences/0/canvases/1/images/0/resource/@id", "asdf"),
     r"^sequences\[0\]\.canvases\[1\]\.images\[0\]\.resource\.@id：「asdf」不是网址"),
    (_set("sequences/0/canvases/1/images/0/resource/service/@id", "{{ id.path }}/image"),
     r"^sequences\[0\]\.canvases\[1\]\.images\[0\]\.resource\.service\.@id：「\{\{ id\.path \}\}/image」不是网址"),
    (_set("sequences/0/canvases/2/images/0/resource/@type", "dctypes:MovingImage"),
     r"^sequences\[0\]\.canvases\[2\]\.images\[0\]\.resource：这一页是视频"),
    (_set("structures", 5), r"^structures：应为列表"),
    (_set("metadata", "作者"), r"^metadata：应为列表"),
])
def test_broken_presentation_2_manifests_are_refused_naming_the_json_path(library, tmp_path, change, message):
    _refused(library, _variant(tmp_path, NPM, change), "npm-p1528", message)


VIDEO = {"id": "https://example.org/iiif/video/1.mp4", "type": "Video", "format": "video/mp4",
         "width": 640, "height": 480, "duration": 60.0}


def _video(manifest):
    manifest["items"][0]["duration"] = 60.0
    manifest["items"][0]["items"][0]["items"][0]["body"] = VIDEO


def _sound_as_image(manifest):
    manifest["items"][1]["items"][0]["items"][0]["body"]["format"] = "audio/mp4"


@pytest.mark.parametrize(("change", "message"), [
    (_set("items", "canvases"), r"^items：应为列表"),
    (_set("items/0/items/0/items/0/body/id", "{{ id.path }}/body/v0001-image"),
     r"^items\[0\]\.items\[0\]\.items\[0\]\.body\.id：「\{\{ id\.path \}\}/body/v0001-image」不是网址"),
    (_set("items/3/thumbnail", [{"id": "thumb.jpg", "type": "Image"}]),
     r"^items\[3\]\.thumbnail\[0\]\.id：「thumb\.jpg」不是网址"),
    (_video, r"^items\[0\]\.duration：这一页有时长，是视频或音频的画布"),
    (_set("items/0/items/0/items/0/body", VIDEO),
     r"^items\[0\]\.items\[0\]\.items\[0\]\.body：这一页是视频（video/mp4）"),
    (_sound_as_image, r"^items\[1\]\.items\[0\]\.items\[0\]\.body\.format：格式 'audio/mp4' 不是图像"),
])
def test_broken_presentation_3_manifests_and_video_or_sound_are_refused(library, tmp_path, change, message):
    _refused(library, _variant(tmp_path, KYOTO, change), "kyoto-a049", message)


def test_an_image_given_as_a_specific_resource_is_served_as_given(library, tmp_path):
    """The IIIF Cookbook's rotation recipe paints a SpecificResource: its source image (and the image's
    service) with an ImageApiSelector. It was re-served with the SpecificResource's id as the image.
    (The recipe writes the selector's type `iiif:ImageApiSelector` with the annex context; the official
    schema knows the plain name — either is kept exactly as given.)"""
    selector = {"type": "ImageApiSelector", "rotation": "90"}

    def rotate_first_page(manifest):
        annotation = manifest["items"][0]["items"][0]["items"][0]
        annotation["body"] = {"id": "https://example.org/iiif/body/v0001-image", "type": "SpecificResource",
                              "source": annotation["body"], "selector": selector}

    path = _variant(tmp_path, KYOTO, rotate_first_page)
    import_manifest(library, str(path), "kyoto-a049", editor="编目员")
    manifest = build_manifest(library, "kyoto-a049")
    assert schema_errors(manifest) == []
    source = json.loads(KYOTO.read_text(encoding="utf-8"))["items"][0]["items"][0]["items"][0]["body"]
    body = manifest["items"][0]["items"][0]["items"][0]["body"]
    assert (body["id"], body["type"], body["selector"]) == ("https://example.org/iiif/body/v0001-image",
                                                            "SpecificResource", selector)
    assert body["source"]["id"] == source["id"] and body["source"]["type"] == "Image"
    assert body["source"]["service"] == source["service"]
    assert manifest["items"][1]["items"][0]["items"][0]["body"]["type"] == "Image"


def test_importing_into_an_object_guji_did_not_write_stores_nothing(library):
    """An OCFL object another system wrote (no card.json) took a new version and then failed."""
    library.store.commit("foreign-1", {"data/readme.txt": b"another system"}, editor="other", reason="other",
                         expected_head=0)
    head = library.store.head("foreign-1")
    with pytest.raises(ManifestRefused, match="不是 Guji 的卡片"):
        import_manifest(library, str(KYOTO), "foreign-1", editor="编目员")
    assert library.store.head("foreign-1") == head
    assert sorted(library.store.digests("foreign-1")) == ["data/readme.txt"]
    with pytest.raises(CardNotFound, match="not a Guji card"):  # nor does ingest or text import add to it
        library.commit_files("foreign-1", {"structure.json": b"{}"}, editor="t", reason="t", event="ingest")
    assert library.store.head("foreign-1") == head
    with pytest.raises(ManifestRefused, match="卡片标识只能用"):
        import_manifest(library, str(KYOTO), "../x", editor="编目员")


def test_pages_stored_before_imports_were_checked_do_not_break_the_manifest(library):
    """A structure.json from an earlier import with "asdf" as the image made /iiif/{id}/manifest and
    the viewer answer 500; such a page is now left out, a service that is not a URL dropped."""
    from fastapi.testclient import TestClient

    from guji.web import create_app

    import_manifest(library, str(KYOTO), "kyoto-a049", editor="编目员")
    structure = library.structure("kyoto-a049")
    structure["pages"][0]["remote"]["image"] = "asdf"
    structure["pages"][1]["remote"]["service"]["id"] = "asdf"
    library.commit_files("kyoto-a049", {"structure.json": json.dumps(structure).encode()}, editor="t",
                         reason="an earlier import", event="iiif-import")
    manifest = build_manifest(library, "kyoto-a049")
    assert len(manifest["items"]) == 16 and schema_errors(manifest) == []
    assert "service" not in manifest["items"][0]["items"][0]["items"][0]["body"]
    client = TestClient(create_app(library.home))
    assert client.get("/iiif/kyoto-a049/manifest").status_code == 200
    assert client.get("/books/kyoto-a049/viewer").status_code == 200
