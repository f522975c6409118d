"""OAI-PMH 2.0: the six verbs, both formats, sets, from/until, deleted records, paging, every error
code — each response validated against the OAI-PMH schema (metadata strictly, against oai_dc /
MODS 3.6) — and a real harvester (sickle) against a real `guji serve`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cli_support import guji
from fastapi.testclient import TestClient
from lxml import etree
from outputs_support import NS, Server, assert_valid, load, more_cards, sample_cards
from sickle import Sickle
from sickle.iterator import OAIResponseIterator

from guji.repository.outputs.oai import OAIRepository, OAISettings
from guji.web.app import create_app

BASE = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def loaded(catalogue):
    """The five samples, created a day apart (2024-01-01 … 2024-01-05), so datestamps differ."""
    for index, card in enumerate(sample_cards()):
        catalogue.create(card, editor="测试员", reason="测试数据", created=BASE + timedelta(days=index))
    return catalogue


def ask(catalogue, *pairs: tuple[str, str], page_size: int = 100, sets: bool = True) -> etree._Element:
    repository = OAIRepository(catalogue, OAISettings(page_size=page_size, sets=sets))
    return assert_valid(repository.respond(list(pairs)), "oai")


def error_code(root: etree._Element) -> str | None:
    error = root.find("oai:error", NS)
    return None if error is None else error.get("code")


def identifiers(root: etree._Element) -> list[str]:
    return [e.text.rsplit(":", 1)[1] for e in root.iterfind(".//oai:header/oai:identifier", NS)]


def test_identify(loaded):
    root = ask(loaded, ("verb", "Identify"))
    identify = root.find("oai:Identify", NS)
    assert identify.findtext("oai:baseURL", namespaces=NS) == "http://127.0.0.1:8000/oai"
    assert identify.findtext("oai:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("oai:earliestDatestamp", namespaces=NS) == "2024-01-01T00:00:00Z"
    assert identify.findtext("oai:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("oai:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert root.find("oai:request", NS).get("verb") == "Identify"


def test_list_metadata_formats_and_sets(loaded):
    root = ask(loaded, ("verb", "ListMetadataFormats"))
    assert [e.text for e in root.iterfind(".//oai:metadataPrefix", NS)] == ["oai_dc", "mods"]
    one = ask(loaded, ("verb", "ListMetadataFormats"), ("identifier", "oai:127.0.0.1:maoshi-zhushu"))
    assert len(one.findall(".//oai:metadataFormat", NS)) == 2
    sets = {s.findtext("oai:setSpec", namespaces=NS): s.findtext("oai:setName", namespaces=NS)
            for s in ask(loaded, ("verb", "ListSets")).iterfind(".//oai:set", NS)}
    assert sets["guji"] == "古籍" and sets["local"] == "地方文献"
    assert sets["sibu:1"] == "四部分类：经部" and sets["sibu:4:02:05"] == "四部分类：集部/别集类/明别集之属"


@pytest.mark.parametrize("prefix", ["oai_dc", "mods"])
def test_get_record_and_list_records_in_both_formats(loaded, prefix):
    record = ask(loaded, ("verb", "GetRecord"), ("identifier", "oai:127.0.0.1:jingchuan-wenji"),
                 ("metadataPrefix", prefix))
    assert record.findtext(".//oai:header/oai:datestamp", namespaces=NS) == "2024-01-02T00:00:00Z"
    assert [s.text for s in record.iterfind(".//oai:setSpec", NS)] == ["guji", "sibu:4", "sibu:4:02", "sibu:4:02:05"]
    title = ".//dc:title" if prefix == "oai_dc" else ".//mods:titleInfo/mods:title"
    assert record.findtext(title, namespaces=NS).startswith("重刊荊川先生文集")
    listing = ask(loaded, ("verb", "ListRecords"), ("metadataPrefix", prefix))
    assert identifiers(listing) == [c["id"] for c in sample_cards()]  # datestamp order
    assert len(listing.findall(".//oai:metadata", NS)) == 5
    assert listing.find(".//oai:resumptionToken", NS) is None  # one page


def test_selective_harvesting_by_date_and_set(loaded):
    def ids(*pairs):
        return identifiers(ask(loaded, ("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc"), *pairs))

    assert ids(("from", "2024-01-02"), ("until", "2024-01-03")) == ["jingchuan-wenji", "lidai-shizuan-zuobian"]
    assert ids(("from", "2024-01-02T00:00:01Z"), ("until", "2024-01-03T00:00:00Z")) == ["lidai-shizuan-zuobian"]
    assert ids(("until", "2024-01-01")) == ["maoshi-zhushu"]
    assert ids(("set", "local")) == ["yingmeian-yiyu", "pingyang-xianzhi-longqing"]
    assert ids(("set", "sibu:2")) == ["lidai-shizuan-zuobian", "yingmeian-yiyu", "pingyang-xianzhi-longqing"]
    assert ids(("set", "sibu:2:11")) == ["pingyang-xianzhi-longqing"]
    assert ids(("set", "guji"), ("from", "2024-01-02")) == ["jingchuan-wenji", "lidai-shizuan-zuobian"]


def test_a_withdrawn_card_is_a_deleted_record(loaded):
    stored = loaded.get("lidai-shizuan-zuobian")
    loaded.save(stored.id, {**stored.card, "status": "withdrawn"}, editor="t", reason="与他条重复",
                base_version=stored.version, created=datetime(2024, 3, 1, tzinfo=UTC))
    headers = ask(loaded, ("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), ("from", "2024-02-01"))
    [header] = headers.findall(".//oai:header", NS)
    assert header.get("status") == "deleted"
    assert header.findtext("oai:datestamp", namespaces=NS) == "2024-03-01T00:00:00Z"
    records = ask(loaded, ("verb", "ListRecords"), ("metadataPrefix", "oai_dc"))
    assert len(records.findall(".//oai:record", NS)) == 5 and len(records.findall(".//oai:metadata", NS)) == 4
    got = ask(loaded, ("verb", "GetRecord"), ("identifier", "oai:127.0.0.1:lidai-shizuan-zuobian"),
              ("metadataPrefix", "mods"))
    assert got.find(".//oai:header", NS).get("status") == "deleted" and got.find(".//oai:metadata", NS) is None
    formats = ask(loaded, ("verb", "ListMetadataFormats"), ("identifier", "oai:127.0.0.1:lidai-shizuan-zuobian"))
    assert error_code(formats) == "noMetadataFormats"


@pytest.mark.parametrize(("pairs", "code"), [
    ((), "badVerb"),
    ((("verb", "Harvest"),), "badVerb"),
    ((("verb", "Identify"), ("verb", "Identify")), "badVerb"),
    ((("verb", "Identify"), ("metadataPrefix", "oai_dc")), "badArgument"),
    ((("verb", "ListRecords"),), "badArgument"),
    ((("verb", "GetRecord"), ("metadataPrefix", "oai_dc")), "badArgument"),
    ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("metadataPrefix", "mods")), "badArgument"),
    ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2024-13-01")), "badArgument"),
    ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "yesterday")), "badArgument"),
    ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2024-01-01"),
      ("until", "2024-02-01T00:00:00Z")), "badArgument"),
    ((("verb", "ListRecords"), ("metadataPrefix", "oai_dc"), ("from", "2024-02-01"), ("until", "2024-01-01")),
     "badArgument"),
    ((("verb", "ListRecords"), ("resumptionToken", "x"), ("metadataPrefix", "oai_dc")), "badArgument"),
    ((("verb", "ListRecords"), ("resumptionToken", "not-a-token-of-ours")), "badResumptionToken"),
    ((("verb", "ListSets"), ("resumptionToken", "abcdefghij")), "badResumptionToken"),
    ((("verb", "ListRecords"), ("metadataPrefix", "marc21")), "cannotDisseminateFormat"),
    ((("verb", "GetRecord"), ("identifier", "oai:127.0.0.1:maoshi-zhushu"), ("metadataPrefix", "x")),
     "cannotDisseminateFormat"),
    ((("verb", "GetRecord"), ("identifier", "oai:127.0.0.1:no-such-book"), ("metadataPrefix", "mods")),
     "idDoesNotExist"),
    ((("verb", "GetRecord"), ("identifier", "maoshi-zhushu"), ("metadataPrefix", "mods")), "idDoesNotExist"),
    ((("verb", "ListMetadataFormats"), ("identifier", "oai:elsewhere.org:maoshi-zhushu")), "idDoesNotExist"),
    ((("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), ("until", "2023-12-31")), "noRecordsMatch"),
    ((("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), ("set", "sibu:9")), "noRecordsMatch"),
    ((("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), ("set", "sibu:5")), "noRecordsMatch"),
    ((("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), ("set", "sibu 5")), "badArgument"),
    ((("verb", "ListIdentifiers"), ("metadataPrefix", "mo ds")), "badArgument"),
])
def test_error_codes(loaded, pairs, code):
    root = ask(loaded, *pairs)
    assert error_code(root) == code
    request = root.find("oai:request", NS)
    assert request.text == "http://127.0.0.1:8000/oai"
    if code in ("badVerb", "badArgument"):
        assert dict(request.attrib) == {}  # only the base URL is echoed after these two


def test_no_set_hierarchy_when_sets_are_off(loaded):
    assert error_code(ask(loaded, ("verb", "ListSets"), sets=False)) == "noSetHierarchy"
    assert error_code(ask(loaded, ("verb", "ListRecords"), ("metadataPrefix", "mods"), ("set", "guji"),
                          sets=False)) == "noSetHierarchy"
    plain = ask(loaded, ("verb", "ListIdentifiers"), ("metadataPrefix", "mods"), sets=False)
    assert plain.find(".//oai:setSpec", NS) is None


def _harvest(catalogue, prefix, page_size, *, between_pages=None, extra=(), now=None):
    repository = OAIRepository(catalogue, OAISettings(page_size=page_size))
    first = [("verb", "ListIdentifiers"), ("metadataPrefix", prefix), *extra]
    root = assert_valid(repository.respond(first, now=now), "oai")
    response_date = root.findtext("oai:responseDate", namespaces=NS)
    pages = [root]
    while (token := root.find(".//oai:resumptionToken", NS)) is not None and token.text:
        if between_pages:
            between_pages(len(pages))
        root = assert_valid(repository.respond([("verb", "ListIdentifiers"), ("resumptionToken", token.text)]), "oai")
        pages.append(root)
    return pages, response_date


def test_resumption_tokens_page_through_everything(loaded):
    pages, _ = _harvest(loaded, "mods", 2)
    assert [identifiers(p) for p in pages] == [["maoshi-zhushu", "jingchuan-wenji"],
                                               ["lidai-shizuan-zuobian", "yingmeian-yiyu"],
                                               ["pingyang-xianzhi-longqing"]]
    tokens = [p.find(".//oai:resumptionToken", NS) for p in pages]
    assert [(t.get("cursor"), t.get("completeListSize")) for t in tokens] == [("0", "5"), ("2", "5"), ("4", "5")]
    assert tokens[-1].text is None  # the empty token ends the list


def test_paging_is_stable_while_cards_are_edited(loaded):
    load(loaded, more_cards(3), created=BASE + timedelta(days=10))  # 8 cards, pages of 3

    def edit(card_id: str) -> None:
        stored = loaded.get(card_id)
        card = json.loads(json.dumps(stored.card))
        card["edition"]["notes"] = "收割期间修订"
        loaded.save(card_id, card, editor="t", reason="收割期间修订", base_version=stored.version)

    def between_pages(delivered_pages: int) -> None:
        if delivered_pages == 1:
            edit("maoshi-zhushu")  # already delivered on page 1
            edit("gen-0002")  # not yet delivered (page 3)
            catalogue_card = loaded.get("yingmeian-yiyu")  # the next page's first record: also edited
            edit(catalogue_card.id)

    pages, started = _harvest(loaded, "oai_dc", 3, between_pages=between_pages)
    delivered = [i for page in pages for i in identifiers(page)]
    assert len(delivered) == len(set(delivered))  # nothing twice
    unchanged = {c["id"] for c in sample_cards() + more_cards(3)} - {"maoshi-zhushu", "gen-0002", "yingmeian-yiyu"}
    assert unchanged <= set(delivered)  # nothing unchanged skipped
    assert "gen-0002" not in delivered and "yingmeian-yiyu" not in delivered  # they moved past the frozen until
    # the next incremental harvest (a minute later) from this harvest's first responseDate brings the edits
    a_minute_later = datetime.strptime(started, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) + timedelta(minutes=1)
    again, _ = _harvest(loaded, "oai_dc", 3, extra=[("from", started)], now=a_minute_later)
    assert sorted(i for page in again for i in identifiers(page)) == ["gen-0002", "maoshi-zhushu", "yingmeian-yiyu"]


def test_post_requests_and_the_router(loaded):
    client = TestClient(create_app(loaded.home))
    get = client.get("/oai", params={"verb": "ListRecords", "metadataPrefix": "mods", "set": "local"})
    assert get.headers["content-type"].startswith("text/xml")
    assert identifiers(assert_valid(get.content, "oai")) == ["yingmeian-yiyu", "pingyang-xianzhi-longqing"]
    post = client.post("/oai", data={"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                     "identifier": "oai:127.0.0.1:maoshi-zhushu"})
    assert identifiers(assert_valid(post.content, "oai")) == ["maoshi-zhushu"]
    assert error_code(assert_valid(client.get("/oai").content, "oai")) == "badVerb"


def test_sickle_harvests_every_record_from_a_real_server(tmp_path):
    home = tmp_path / "data"
    guji(home, "init")
    cards = tmp_path / "cards.json"
    cards.write_text(json.dumps(sample_cards() + more_cards(4), ensure_ascii=False), encoding="utf-8")
    guji(home, "cards", "import", str(cards))
    guji(home, "cards", "withdraw", "gen-0001", "--reason", "重复记录")
    server = Server(home, env={"GUJI_OAI_PAGE_SIZE": "2"})
    try:
        expected = {c["id"] for c in sample_cards() + more_cards(4)}
        for prefix in ("oai_dc", "mods"):
            harvester = Sickle(f"{server.url}/oai", iterator=OAIResponseIterator)
            pages = list(harvester.ListRecords(metadataPrefix=prefix))
            assert len(pages) == 5  # 9 records, 2 a page
            for page in pages:
                assert_valid(page.raw.encode("utf-8"), "oai")
            records = list(Sickle(f"{server.url}/oai").ListRecords(metadataPrefix=prefix))
            assert {r.header.identifier.rsplit(":", 1)[1] for r in records} == expected
            assert all(r.header.identifier.startswith("oai:127.0.0.1:") for r in records)
            assert [r.header.identifier for r in records if r.header.deleted] == ["oai:127.0.0.1:gen-0001"]
        dublin = Sickle(f"{server.url}/oai", http_method="POST").GetRecord(
            identifier="oai:127.0.0.1:maoshi-zhushu", metadataPrefix="oai_dc")
        assert dublin.metadata["title"] == ["毛詩注疏三十卷首一卷", "毛詩正義"]
        identify = Sickle(f"{server.url}/oai").Identify()
        assert identify.baseURL == f"{server.url}/oai"
    finally:
        server.stop()


@pytest.mark.parametrize("raw", ["%00", "%01", "%1F", "%EF%BF%BF", "%FF"])
def test_control_characters_in_arguments_are_protocol_errors_over_get_and_post(loaded, raw):
    """A character XML cannot carry, in any argument, is the argument's own OAI error — never a 500."""
    client = TestClient(create_app(loaded.home), raise_server_exceptions=False)
    expected = {
        "verb=ListRecords&metadataPrefix=oai_dc&set=guji{}": "badArgument",
        "verb=ListRecords&metadataPrefix=oai_dc&from=2024-01-01{}": "badArgument",
        "verb=ListRecords&resumptionToken=abc{}defgh": "badResumptionToken",
        "verb=GetRecord&metadataPrefix=oai_dc&identifier=oai:127.0.0.1:maoshi-zhushu{}": "idDoesNotExist",
        "verb=ListMetadataFormats&identifier={}": "idDoesNotExist",
    }
    for template, code in expected.items():
        query = template.format(raw)
        for response in (client.get(f"/oai?{query}"),
                         client.post("/oai", content=query,
                                     headers={"content-type": "application/x-www-form-urlencoded"})):
            assert response.status_code == 200, (query, response.text[:300])
            root = assert_valid(response.content, "oai")
            assert error_code(root) == code, query
