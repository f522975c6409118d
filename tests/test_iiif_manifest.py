"""Presentation 3 manifests and collections from real ingested scans, checked against the official schema."""

from __future__ import annotations

import json

import pytest
import pyvips
from fastapi.testclient import TestClient
from iiif_fixtures import BOOK, ORDER, PUBLIC, SCANS, TEST_BOOK, all_ids, schema_errors

from guji.iiif import ids
from guji.iiif.collections import UnknownCollection, build_collection
from guji.iiif.manifest import NoPageImages, build_manifest
from guji.repository import CardNotFound
from guji.web import create_app


@pytest.fixture
def manifest(iiif_catalogue) -> dict:
    return build_manifest(iiif_catalogue, BOOK)


def test_manifest_validates_against_the_official_schema(iiif_catalogue, manifest):
    assert schema_errors(manifest) == []
    assert schema_errors(build_manifest(iiif_catalogue, TEST_BOOK)) == []


def test_every_id_is_built_from_the_public_url(manifest):
    found = all_ids(manifest)
    assert len(found) > 30
    assert all(value.startswith(PUBLIC + "/") for value in found), [v for v in found if not v.startswith(PUBLIC)]
    assert "example.org" not in json.dumps(manifest)
    assert manifest["id"] == f"{PUBLIC}/iiif/{BOOK}/manifest"


def test_label_and_metadata_in_both_scripts(manifest):
    assert manifest["label"] == {"zh-Hant": ["重刊荊川先生文集十七卷外集三卷"],
                                 "zh-Hans": ["重刊荆川先生文集十七卷外集三卷"]}
    pairs = {pair["label"]["zh-Hant"][0]: pair for pair in manifest["metadata"]}
    assert list(pairs) == ["題名卷數", "著者", "版本", "存卷", "行款版式", "四部分類", "索書號", "普查編號", "定級",
                           "名錄"]
    assert pairs["著者"]["label"] == {"zh-Hant": ["著者"], "zh-Hans": ["著者"], "en": ["Author"]}
    assert pairs["著者"]["value"] == {"zh-Hant": ["（明）唐順之撰"], "zh-Hans": ["（明）唐顺之撰"]}
    assert pairs["索書號"]["label"]["zh-Hans"] == ["索书号"]
    assert pairs["版本"]["value"]["zh-Hans"] == ["明万历元年纯白斋刻本"]
    assert pairs["存卷"]["value"]["zh-Hant"] == ["存十七卷（卷一至十七）"]
    assert pairs["行款版式"]["value"]["zh-Hant"] == ["半葉十行行二十字"]
    assert pairs["普查編號"]["value"] == {"none": ["999999-0001-0000002"]}
    assert pairs["定級"]["value"]["zh-Hant"] == ["三级甲等"]
    assert pairs["名錄"]["value"]["zh-Hant"] == ["省級珍貴古籍名錄第1批 演示-0001"]
    assert pairs["四部分類"]["value"]["zh-Hant"] == ["集部·別集類·明別集之屬"]
    assert manifest["requiredStatement"]["label"]["zh-Hant"] == ["收藏單位"]
    assert manifest["requiredStatement"]["value"]["zh-Hant"] == ["Guji 示例馆藏（演示数据）"]
    assert manifest["rights"] == "http://creativecommons.org/publicdomain/mark/1.0/"


def test_english_label_where_the_card_has_one(iiif_catalogue, iiif_public_url):
    stored = iiif_catalogue.get("maoshi-zhushu")
    card = json.loads(json.dumps(stored.card))
    card["edition"]["other_titles"].append({"type": "并列题名", "title": "Mao's Book of Songs, annotated"})
    from guji.iiif.language import book_label

    assert book_label(card)["en"] == ["Mao's Book of Songs, annotated"]
    assert "en" not in book_label(stored.card)


def test_reading_direction_canvases_and_images(manifest, iiif_home):
    assert manifest["viewingDirection"] == "right-to-left"
    assert manifest["behavior"] == ["paged"]
    canvases = manifest["items"]
    assert [c["id"] for c in canvases] == [ids.canvas(BOOK, f"{n:04d}") for n in range(1, 5)]
    assert [c["label"]["zh-Hant"][0] for c in canvases] == ["書衣", "卷一 葉一a", "卷一 葉一b", "卷二 葉一a"]
    for canvas, name in zip(canvases, ORDER, strict=True):
        scan = pyvips.Image.new_from_file(str(SCANS / name))
        assert (canvas["width"], canvas["height"]) == (scan.width, scan.height)
        body = canvas["items"][0]["items"][0]["body"]
        assert body["service"] == [{"id": ids.image_service(BOOK, canvas["id"][-4:]), "type": "ImageService3",
                                    "profile": "level2"}]
        assert canvas["items"][0]["items"][0]["target"] == canvas["id"]
        # The thumbnail is a pre-built static size of the page.
        thumbnail = canvas["thumbnail"][0]
        path = thumbnail["id"].removeprefix(ids.image_service(BOOK, canvas["id"][-4:]) + "/")
        static = iiif_home.derivatives / BOOK / canvas["id"][-4:] / path
        assert static.is_file() and pyvips.Image.new_from_file(str(static)).width == thumbnail["width"] >= 150


def test_juan_ranges_nested_in_their_volume(manifest):
    [volume] = manifest["structures"]
    assert volume["label"]["zh-Hant"] == ["第一册"] and volume["id"] == ids.range_(BOOK, "ce-1")
    cover, juan1, juan2 = volume["items"]
    assert cover == {"id": ids.canvas(BOOK, "0001"), "type": "Canvas"}
    assert juan1["label"]["zh-Hant"] == ["卷一"]
    assert [item["id"] for item in juan1["items"]] == [ids.canvas(BOOK, "0002"), ids.canvas(BOOK, "0003")]
    assert juan2["label"]["zh-Hant"] == ["卷二"] and [i["id"] for i in juan2["items"]] == [ids.canvas(BOOK, "0004")]


def test_links_and_search_services(manifest):
    assert manifest["homepage"][0]["id"] == f"{PUBLIC}/books/{BOOK}"
    assert manifest["seeAlso"][0] == {"id": f"{PUBLIC}/api/cards/{BOOK}", "type": "Dataset",
                                      "label": {"zh-Hant": ["編目卡片"], "zh-Hans": ["编目卡片"],
                                                "en": ["Catalogue card"]},
                                      "format": "application/json"}
    v1, v2 = manifest["service"]
    # Mirador 4 (manifesto) finds the v1 service by this profile and reads @id.
    assert v1 == {"@context": "http://iiif.io/api/search/1/context.json", "@id": f"{PUBLIC}/iiif/search/{BOOK}",
                  "@type": "SearchService1", "profile": "http://iiif.io/api/search/1/search"}
    assert v2 == {"id": f"{PUBLIC}/iiif/search/{BOOK}/v2", "type": "SearchService2"}
    assert manifest["partOf"] == [{"id": ids.collection("ji"), "type": "Collection"}]


def test_a_book_without_scans_has_no_manifest(iiif_catalogue):
    with pytest.raises(NoPageImages, match="no page images yet: ingest its scans"):
        build_manifest(iiif_catalogue, "maoshi-zhushu")
    with pytest.raises(CardNotFound):
        build_manifest(iiif_catalogue, "no-such-book")


def test_manifest_over_http(iiif_home, iiif_public_url):
    client = TestClient(create_app(iiif_home))
    response = client.get(f"/iiif/{BOOK}/manifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["id"] == f"{PUBLIC}/iiif/{BOOK}/manifest"
    again = client.get(f"/iiif/{BOOK}/manifest", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304
    missing = client.get("/iiif/maoshi-zhushu/manifest")
    assert missing.status_code == 404 and "guji ingest" in missing.json()["detail"]
    assert client.get("/iiif/no-such-book/manifest").status_code == 404
    assert client.get("/iiif/..%2F..%2Fetc/manifest").status_code == 404


def test_manifest_follows_a_card_edit(iiif_home, iiif_catalogue):
    client = TestClient(create_app(iiif_home))
    before = client.get(f"/iiif/{TEST_BOOK}/manifest").json()
    stored = iiif_catalogue.get(TEST_BOOK)
    card = {**stored.card, "edition": {**stored.card["edition"], "title": "IIIF 驗證圖像（修訂）"}}
    iiif_catalogue.save(TEST_BOOK, card, editor="编目员", reason="改題名", base_version=stored.version)
    after = client.get(f"/iiif/{TEST_BOOK}/manifest").json()
    assert before["label"]["zh-Hant"] == ["IIIF 驗證圖像"]
    assert after["label"]["zh-Hant"] == ["IIIF 驗證圖像（修訂）"]


def test_collections(iiif_catalogue):
    top = build_collection(iiif_catalogue, "top")
    assert schema_errors(top, "collection") == []
    # jingchuan-wenji is 集部 (4.02.05); iiif-test has no class: it is reached through 未分類;
    # no local document has scans.
    assert [item["id"] for item in top["items"]] == [ids.collection("ji"), ids.collection("unclassified")]
    unclassified = build_collection(iiif_catalogue, "unclassified")
    assert schema_errors(unclassified, "collection") == []
    assert unclassified["label"] == {"zh-Hant": ["未分類"], "zh-Hans": ["未分类"], "en": ["Unclassified"]}
    assert [item["id"] for item in unclassified["items"]] == [ids.manifest(TEST_BOOK)]
    assert unclassified["partOf"] == [{"id": ids.collection("top"), "type": "Collection"}]
    assert build_manifest(iiif_catalogue, TEST_BOOK)["partOf"] == [
        {"id": ids.collection("unclassified"), "type": "Collection"}]
    ji = build_collection(iiif_catalogue, "ji")
    assert schema_errors(ji, "collection") == []
    assert ji["label"] == {"zh-Hant": ["集部"], "zh-Hans": ["集部"], "en": ["Collected writings (ji)"]}
    assert [item["id"] for item in ji["items"]] == [ids.manifest(BOOK)]
    assert ji["items"][0]["type"] == "Manifest"
    assert build_collection(iiif_catalogue, "shi")["items"] == []
    assert build_collection(iiif_catalogue, "local")["items"] == []
    with pytest.raises(UnknownCollection, match="现有集合：top、jing、shi"):
        build_collection(iiif_catalogue, "nonesuch")


def test_local_documents_collection(tmp_path, iiif_public_url, prepared_homes):
    from iiif_fixtures import build_home

    home = prepared_homes.copy("iiif", build_home, tmp_path / "guji-data")
    from iiif_fixtures import IIIF

    from guji.iiif.importer import import_manifest
    from guji.repository import Catalogue

    catalogue = Catalogue.open(home)
    try:
        import_manifest(catalogue, str(IIIF / "kyoto_toho_A049_manifest_v3.json"), "yingmeian-yiyu", editor="t")
        top = build_collection(catalogue, "top")
        assert [item["id"] for item in top["items"]] == [ids.collection("shi"), ids.collection("ji"),
                                                          ids.collection("unclassified"), ids.collection("local")]
        local = build_collection(catalogue, "local")
        assert [item["id"] for item in local["items"]] == [ids.manifest("yingmeian-yiyu")]
        assert local["items"][0]["label"]["zh-Hans"] == ["影梅庵忆语"]
        manifest = build_manifest(catalogue, "yingmeian-yiyu")
        assert manifest["partOf"] == [{"id": ids.collection("shi"), "type": "Collection"},
                                      {"id": ids.collection("local"), "type": "Collection"}]
        # a 地方文献 without a 四部 class: reached through both 未分類 and 地方文獻
        stored = catalogue.get("yingmeian-yiyu")
        card = json.loads(json.dumps(stored.card))
        del card["edition"]["classification"]
        catalogue.save(stored.id, card, editor="t", reason="分类待定", base_version=stored.version)
        top = build_collection(catalogue, "top")
        assert [item["id"] for item in top["items"]] == [ids.collection("ji"), ids.collection("unclassified"),
                                                          ids.collection("local")]
        assert schema_errors(top, "collection") == []
        reachable = {item["id"] for name in ("ji", "unclassified", "local")
                     for item in build_collection(catalogue, name)["items"]}
        with_pages = {ids.manifest(row.id) for row in catalogue.list_rows() if row.page_count}
        assert with_pages <= reachable  # every public book with pages can be reached from top
    finally:
        catalogue.close()
    client = TestClient(create_app(home))
    response = client.get("/iiif/collection/local")
    assert response.status_code == 200 and response.json()["id"] == ids.collection("local")
    assert client.get("/iiif/collection/nonesuch").status_code == 404
