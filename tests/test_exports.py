"""MODS / Dublin Core / MARC exports, BagIt bags of OCFL versions, and XML reading without XXE."""

from __future__ import annotations

import io
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import bagit
import pymarc
import pytest
from cli_support import guji
from fastapi.testclient import TestClient
from lxml import etree
from outputs_support import NS, ROOT, all_sample_cards, assert_valid, load, sample_cards

from guji.repository.card import normalise_card
from guji.repository.outputs.bag import BagExportError, export_bag
from guji.repository.outputs.card_formats import record_bytes
from guji.repository.outputs.mods import mods_element
from guji.repository.outputs.safe_xml import XMLRefused, parse_xml
from guji.repository.outputs.selection import CurrentCard
from guji.web.app import create_app


@pytest.fixture
def loaded(catalogue):
    load(catalogue, sample_cards())
    return catalogue


def _record(card_id: str) -> CurrentCard:
    card = next(c for c in all_sample_cards() if c["id"] == card_id)
    return CurrentCard(card_id, 3, "2026-11-30T08:00:00Z", normalise_card(card)[0])


@pytest.mark.parametrize("card_id", [c["id"] for c in all_sample_cards()])
def test_every_sample_is_valid_mods_and_oai_dc(card_id):
    assert_valid(record_bytes(_record(card_id), "mods"), "mods")
    assert_valid(record_bytes(_record(card_id), "dc"), "oai_dc")


def test_mods_carries_the_card():
    root = assert_valid(record_bytes(_record("jingchuan-wenji"), "mods"), "mods")

    def texts(path: str) -> list[str]:
        return [e.text for e in root.xpath(path, namespaces=NS)]

    assert texts("mods:titleInfo[not(@type)]/mods:title") == ["重刊荊川先生文集"]
    assert texts("mods:titleInfo[@type='alternative']/mods:title") == ["新刊荊川先生外集"]
    assert texts("mods:name/mods:namePart[not(@type)]") == ["唐順之"]
    assert texts("mods:name/mods:role/mods:roleTerm") == ["撰"]
    assert texts("mods:originInfo/mods:edition") == ["明萬曆元年純白齋刻本"]
    assert texts("mods:originInfo/mods:dateIssued[@encoding='w3cdtf']") == ["1573"]
    assert texts("mods:location/mods:shelfLocator") == ["示善0002"]
    assert texts("mods:identifier[@displayLabel='古籍普查编号']") == ["999999-0001-0000002"]
    assert texts("mods:physicalDescription/mods:note[@type='layout']") == ["半葉十行行二十字"]
    assert "存十七卷（卷一至十七）" in texts("mods:note[@type='extent']")
    assert any("朱文方印" in t for t in texts("mods:note[@type='ownership']"))
    assert texts("mods:classification[@displayLabel='四部分类号']") == ["4.02.05"]
    assert texts("mods:recordInfo/mods:recordChangeDate") == ["2026-11-30T08:00:00Z"]


def test_a_range_date_and_a_local_document():
    mods = assert_valid(record_bytes(_record("maoshi-zhushu"), "mods"), "mods")
    assert mods.xpath("mods:originInfo/mods:dateIssued[@point='start']/text()", namespaces=NS) == ["1736"]
    assert mods.xpath("mods:originInfo/mods:dateIssued[@point='end']/text()", namespaces=NS) == ["1795"]
    assert mods.xpath("mods:typeOfResource/@manuscript", namespaces=NS) == ["yes"]  # 写本
    dc = assert_valid(record_bytes(_record("yingmeian-yiyu"), "dc"), "oai_dc")
    assert dc.xpath("dc:coverage/text()", namespaces=NS) == ["如皋"]
    assert "地方著述" in dc.xpath("dc:subject/text()", namespaces=NS)


def test_control_characters_pasted_into_a_card_do_not_break_the_xml():
    record = _record("lidai-shizuan-zuobian")
    record.card["edition"]["notes"] = "從Excel貼來\x0b的附注\x01"
    root = assert_valid(etree.tostring(mods_element(record)), "mods")
    assert root.xpath("mods:note[@type='general']/text()", namespaces=NS) == ["從Excel貼來的附注"]


def test_marcxml_follows_the_documented_cnmarc_mapping():
    xml = record_bytes(_record("jingchuan-wenji"), "marcxml")
    [record] = pymarc.parse_xml_to_array(io.BytesIO(xml))
    assert record["001"].data == "jingchuan-wenji"
    assert record["200"]["a"] == "重刊荊川先生文集" and record["200"]["e"] == "十七卷外集三卷"
    assert record["200"]["f"] == "（明）唐順之撰"
    assert record["205"]["a"] == "明萬曆元年純白齋刻本"
    assert record["210"]["c"] == "純白齋" and record["210"]["d"] == "明萬曆元年[1573]"
    assert record["215"].get_subfields("a") == ["8册", "1函"] and record["215"]["c"] == "线装"
    assert "半葉十行行二十字" in record["305"]["a"]
    assert "存十七卷（卷一至十七）" in record["316"].get_subfields("a")
    assert "朱文方印" in record["317"]["a"]
    assert (record["701"]["a"], record["701"]["c"], record["701"]["4"]) == ("唐順之", "明", "撰")
    assert record["905"]["d"] == "示善0002" and record["905"]["z"] == "999999-0001-0000002"
    assert record["100"]["a"][8:13] == "d1573" and len(record["100"]["a"]) == 36


def test_secondary_roles_go_to_702():
    [record] = pymarc.parse_xml_to_array(io.BytesIO(record_bytes(_record("maoshi-zhushu"), "marcxml")))
    assert [f["a"] for f in record.get_fields("701")] == ["毛亨"]  # the first person
    assert [f["a"] for f in record.get_fields("702")] == ["鄭玄", "孔穎達", "陸德明"]  # 箋, 疏, 音義


def test_iso2709_reads_back_in_utf8():
    data = record_bytes(_record("pingyang-xianzhi-longqing"), "marc")
    record = next(pymarc.MARCReader(data, to_unicode=True, force_utf8=True))
    assert record["200"]["a"] == "平陽縣志"


def test_bulk_export_cli_every_format(sample_library, tmp_path):
    everything = all_sample_cards()  # the sample library holds samples/cards.json
    for format, name in (("mods", "mods"), ("dc", None), ("marcxml", None)):
        output = tmp_path / f"all.{format}.xml"
        result = guji(sample_library, "cards", "export", "--format", format, "-o", str(output))
        assert f"已导出 {len(everything)} 张卡片" in result.stdout
        root = etree.parse(str(output)).getroot()
        assert len(root) == len(everything)
        if name:
            assert_valid(etree.tostring(root), name)
    records = pymarc.parse_xml_to_array(str(tmp_path / "all.marcxml.xml"))
    assert sorted(r["001"].data for r in records) == sorted(c["id"] for c in everything)
    dc_root = etree.parse(str(tmp_path / "all.dc.xml")).getroot()
    for child in dc_root:
        assert_valid(etree.tostring(child), "oai_dc")
    one = guji(sample_library, "cards", "export", "--format", "mods", "--id", "示善0001")
    assert assert_valid(one.stdout.encode(), "mods").xpath("count(mods:mods)", namespaces=NS) == 1
    unknown = guji(sample_library, "cards", "export", "--format", "bibtex", check=False)
    assert unknown.returncode == 2 and "mods" in unknown.stderr


def test_per_book_export_urls(loaded):
    client = TestClient(create_app(loaded.home))
    mods = client.get("/api/cards/jingchuan-wenji/export?format=mods")
    assert mods.status_code == 200 and mods.headers["content-type"].startswith("application/mods+xml")
    assert_valid(mods.content, "mods")
    assert_valid(client.get("/api/cards/jingchuan-wenji/export?format=dc").content, "oai_dc")
    marc = client.get("/api/cards/jingchuan-wenji/export?format=marcxml")
    assert pymarc.parse_xml_to_array(io.BytesIO(marc.content))[0]["001"].data == "jingchuan-wenji"
    assert client.get("/api/cards/nope/export?format=mods").status_code == 404
    assert client.get("/api/cards/jingchuan-wenji/export?format=pdf").status_code == 400
    assert client.get("/api/cards/jingchuan-wenji/export?format=mods&version=9").status_code == 404
    stored = loaded.get("jingchuan-wenji")
    loaded.save(stored.id, {**stored.card, "status": "withdrawn"}, editor="t", reason="重复", base_version=1)
    assert client.get("/api/cards/jingchuan-wenji/export?format=mods").status_code == 410
    old = client.get("/api/cards/jingchuan-wenji/export?format=mods&version=1")
    assert old.status_code == 200  # older versions stay exportable


# ---- BagIt ---------------------------------------------------------------------------------


def _with_versions(catalogue):
    catalogue.commit_files("jingchuan-wenji", {"masters/0001.png": (ROOT / "tests/fixtures/scans/1.png").read_bytes(),
                                               "structure.json": b'{"pages": [], "ranges": []}\n'},
                           editor="扫描", reason="扫描入库", event="ingest")
    stored = catalogue.get("jingchuan-wenji")
    catalogue.save(stored.id, {**stored.card, "copy": {**stored.card["copy"], "volumes": 9}}, editor="审校",
                   reason="册数更正", base_version=stored.version)


def test_bag_of_any_version_validates_and_a_flipped_byte_is_detected(loaded, tmp_path):
    _with_versions(loaded)
    head = export_bag(loaded, "jingchuan-wenji", tmp_path / "head")
    assert head.version == 3 and head.files == 3
    bag = bagit.Bag(str(tmp_path / "head"))
    bag.validate()
    assert bag.info["Guji-OCFL-Version"] == "v3" and bag.info["External-Identifier"] == "jingchuan-wenji"
    assert (tmp_path / "head/data/masters/0001.png").read_bytes() == (ROOT / "tests/fixtures/scans/1.png").read_bytes()

    first = export_bag(loaded, "jingchuan-wenji", tmp_path / "v1", version=1)
    assert first.files == 1 and not (tmp_path / "v1/data/masters").exists()
    assert '"volumes": 8' in (tmp_path / "v1/data/card.json").read_text("utf-8")
    bagit.Bag(str(tmp_path / "v1")).validate()

    master = tmp_path / "head/data/masters/0001.png"
    data = bytearray(master.read_bytes())
    data[len(data) // 2] ^= 0x01
    master.write_bytes(bytes(data))
    with pytest.raises(bagit.BagValidationError) as failure:
        bagit.Bag(str(tmp_path / "head")).validate()
    assert "data/masters/0001.png" in str(failure.value.details[0])


def test_bag_refuses_a_used_folder_and_a_missing_version(loaded, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("mine")
    with pytest.raises(BagExportError, match="not an empty folder"):
        export_bag(loaded, "jingchuan-wenji", tmp_path / "used")
    assert (tmp_path / "used" / "keep.txt").read_text() == "mine"
    with pytest.raises(Exception, match="v7"):
        export_bag(loaded, "jingchuan-wenji", tmp_path / "new", version=7)
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial bag left


def test_export_bag_cli(sample_library, tmp_path):
    result = guji(sample_library, "export", "bag", "示善0001", "-o", str(tmp_path / "bag"))
    assert "maoshi-zhushu 第 1 版的 BagIt 包" in result.stdout
    bagit.Bag(str(tmp_path / "bag")).validate()


# ---- reading XML: no XXE --------------------------------------------------------------------


XXE = (b'<?xml version="1.0"?>\n<!DOCTYPE mods [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
       b'<mods xmlns="http://www.loc.gov/mods/v3"><titleInfo><title>&xxe;</title></titleInfo></mods>')


def test_an_xxe_payload_is_refused():
    with pytest.raises(XMLRefused, match="DOCTYPE"):
        parse_xml(XXE, "evil.xml")


def test_validate_xml_cli_refuses_xxe_and_checks_the_schema(sample_library, tmp_path):
    evil = tmp_path / "evil.xml"
    evil.write_bytes(XXE)
    refused = guji(sample_library, "validate-xml", str(evil), check=False)
    assert refused.returncode == 1 and "DOCTYPE" in refused.stderr and "root:" not in refused.stdout + refused.stderr
    good = tmp_path / "good.xml"
    guji(sample_library, "cards", "export", "--format", "mods", "-o", str(good))
    assert "valid mods" in guji(sample_library, "validate-xml", str(good)).stdout
    bad = tmp_path / "bad.xml"
    bad.write_text('<mods xmlns="http://www.loc.gov/mods/v3"><title>x</title></mods>')
    invalid = guji(sample_library, "validate-xml", str(bad), check=False)
    assert invalid.returncode == 1 and "line 1" in invalid.stderr


def test_an_external_dtd_is_never_fetched():
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'<!ENTITY leak "leaked">')

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        payload = (f'<!DOCTYPE m SYSTEM "http://127.0.0.1:{port}/evil.dtd"><m>&leak;</m>').encode()
        with pytest.raises(XMLRefused):
            parse_xml(payload, "remote.xml")
        payload = (f'<!DOCTYPE m [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]><m/>').encode()
        with pytest.raises(XMLRefused):
            parse_xml(payload, "parameter-entity.xml")
    finally:
        server.shutdown()
        thread.join()
    assert requests == []


def test_withdraw_and_reinstate_cli(data_home):
    withdrawn = guji(data_home, "cards", "withdraw", "示善0003", "--reason", "与他条重复")
    assert "lidai-shizuan-zuobian 已撤销（第 2 版）" in withdrawn.stdout
    again = guji(data_home, "cards", "withdraw", "示善0003", "--reason", "再次")
    assert "原已撤销，没有新版本" in again.stdout
    reinstated = guji(data_home, "cards", "withdraw", "示善0003", "--reason", "误撤销", "--reinstate")
    assert "已恢复（第 3 版）" in reinstated.stdout
    history = guji(data_home, "history", "示善0003").stdout
    assert "与他条重复" in history and "误撤销" in history


def test_an_export_that_fails_half_way_leaves_the_earlier_file_whole(loaded, tmp_path, monkeypatch):
    from guji.repository.card_export import export_cards
    from guji.repository.outputs import card_formats

    target = tmp_path / "exports" / "全部.mods.xml"
    target.parent.mkdir()
    assert export_cards(loaded, "mods", target) > 2
    before = target.read_bytes()
    built = []

    def fail_on_the_third(record, **options):
        built.append(record.id)
        if len(built) == 3:
            raise RuntimeError("a card that cannot be written")
        return mods_element(record, **options)

    monkeypatch.setattr(card_formats, "mods_element", fail_on_the_third)
    with pytest.raises(RuntimeError):
        export_cards(loaded, "mods", target)
    assert target.read_bytes() == before  # before: the file held two records and no closing tag
    assert [path.name for path in target.parent.iterdir()] == ["全部.mods.xml"]  # no partial file left


def test_validate_xml_refuses_a_file_too_large_to_read_whole(tmp_path):
    from typer.testing import CliRunner

    from guji.repository.outputs.safe_xml import MAX_XML_BYTES
    from guji.web.cli import root as app

    huge = tmp_path / "huge.xml"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_XML_BYTES + 1)  # sparse: no disk used, no time spent
    result = CliRunner().invoke(app, ["validate-xml", str(huge)])
    assert result.exit_code == 1 and "超过 256 MB" in result.output
