"""`guji iiif import`: real Presentation 2 and 3 manifests with their quirks become books."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from iiif_fixtures import IIIF, PUBLIC, all_ids, schema_errors

from iiif import ids
from iiif.importer import ImportRefused, import_manifest
from iiif.manifest import build_manifest

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
    with pytest.raises(ImportRefused, match="--viewing-direction 'backwards'"):
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
    with pytest.raises(ImportRefused, match=match):
        import_manifest(library, str(path), book, editor="编目员")
    assert not library.exists(book)  # nothing stored, not even the card


def test_bad_manifests_are_refused_naming_the_problem(library, tmp_path):
    _refused(library, IIIF / "LICENSE_toho-html-data", "bad", "not JSON")
    _refused(library, tmp_path / "missing.json", "bad", "cannot read the file")
    other = tmp_path / "collection.json"
    other.write_text(json.dumps({"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Collection",
                                 "id": "http://x/c", "items": []}))
    _refused(library, other, "bad", "no canvases")
    broken = json.loads(NPM.read_text(encoding="utf-8"))
    broken["sequences"][0]["canvases"][3]["width"] = "wide"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    _refused(library, path, "bad", r"canvas 4 \(https://digitalarchive.npm.gov.tw/Canvas/C2B000007N000000000PAI\): "
                                   r"width is 'wide', not a number")
    imageless = json.loads(KYOTO.read_text(encoding="utf-8"))
    imageless["items"][2]["items"] = []
    path.write_text(json.dumps(imageless, ensure_ascii=False), encoding="utf-8")
    _refused(library, path, "bad", "canvas 3 .*no painting annotation")


def test_a_book_with_ingested_scans_is_not_overwritten(library, sample_cards, tmp_path):
    from ingest import ingest_book

    card = next(c for c in sample_cards if c["id"] == "jingchuan-wenji")
    library.create(card, editor="编目员", reason="新建")
    book = tmp_path / "book"
    book.mkdir()
    (book / "1.png").write_bytes((IIIF.parent / "scans" / "1.png").read_bytes())
    ingest_book(library, book, "jingchuan-wenji", "数字化员", workers=1)
    head = library.store.head("jingchuan-wenji")
    with pytest.raises(ImportRefused, match="already has ingested scans"):
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
    env = {**os.environ, "GUJI_HOME": str(home), "GUJI_EDITOR": "编目员", "GUJI_PUBLIC_URL": PUBLIC, "COLUMNS": "200"}
    subprocess.run([str(GUJI), "init"], check=True, env=env, capture_output=True)
    url = f"{manifest_server}/{KYOTO.name}"
    done = subprocess.run([str(GUJI), "iiif", "import", url, "--id", "kyoto-a049"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "kyoto-a049: 17 pages, 0 ranges, card created, stored as v2" in done.stdout
    assert f"manifest: {PUBLIC}/iiif/kyoto-a049/manifest" in done.stdout
    missing = subprocess.run([str(GUJI), "iiif", "import", f"{manifest_server}/nothing.json", "--id", "x"], env=env,
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "HTTP 404" in missing.stderr and "Traceback" not in missing.stderr
    npm = subprocess.run([str(GUJI), "iiif", "import", str(NPM), "--id", "npm-p1528"], env=env, capture_output=True,
                         text=True)
    assert npm.returncode == 0 and "warning:" in npm.stderr and "left-to-right" in npm.stderr
