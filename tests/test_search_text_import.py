"""`guji text import`: formats, alignment to scanned pages, and refusals that store nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from search_support import LUSHU_CARD, TEXTS, stored_pages
from typer.testing import CliRunner

from guji.ingest.text_import import import_text
from guji.ingest.text_model import TextRefused
from guji.web.cli import root as app


@pytest.fixture
def books(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="test", reason="fixture")
    catalogue.create(LUSHU_CARD, editor="test", reason="fixture")
    return catalogue


def _structure(catalogue, book_id: str, files: list[str], leaves: bool = True) -> None:
    pages = [{"page": f"{n:04d}", "master": f"masters/{n:04d}.jpg", "file": name, "leaf": f"{(n + 1) // 2}"
              f"{'a' if n % 2 else 'b'}", "label": f"{(n + 1) // 2}{'a' if n % 2 else 'b'}"}
             for n, name in enumerate(files, start=1)]
    if not leaves:  # e.g. a book imported from a IIIF manifest: labels, no leaves
        for page in pages:
            del page["leaf"]
    structure = {"viewingDirection": "right-to-left", "pages": pages, "ranges": []}
    catalogue.commit_files(book_id, {"structure.json": json.dumps(structure).encode()}, editor="test",
                           reason="scans", event="ingest")


def test_kanripo_pages_lines_and_notes(books):
    report = import_text(books, "maoshi-zhushu", [TEXTS / "KR1c0004_001.txt", TEXTS / "KR1c0004_009.txt"],
                         editor="test")
    assert report.format == "kanripo" and report.pages == 38 and report.version == 2
    pages = stored_pages(books, "maoshi-zhushu")
    first = pages[0]
    assert (first["page"], first["marker"], first["juan"], first["leaf"], first["label"]) == \
        ("0001", "KR1c0004_WYG_001-1a", "001", "1a", "001-1a")
    assert first["lines"][1] == {"pieces": [["text", "毛詩注疏卷一"]], "indent": 1}
    assert first["lines"][5]["pieces"] == [["text", "序關雎后妃之徳也音義"],
                                            ["note", "關雎舊解云三百一十一/篇詩並是作者自為名妃"]]
    assert not any("¶" in piece for entry in pages for line in entry["lines"] for _, piece in line["pieces"])
    assert pages[33]["marker"] == "KR1c0004_WYG_009-11b" and pages[33]["source"] == "KR1c0004_009.txt"
    assert pages[32]["continues"] == {"text": False, "note": False}  # the end of a file ends the text
    assert pages[0]["continues"]["note"] is True  # 001-1a ends inside a note that goes on on 001-1b
    text = json.dumps(pages, ensure_ascii=False)
    assert "𫝊" in text  # a character outside the BMP, kept as written
    stored = books.store.logical_paths("maoshi-zhushu")
    assert {"text/pages.json", "text/source/KR1c0004_001.txt", "text/source/KR1c0004_009.txt"} <= set(stored)
    assert books.store.read_bytes("maoshi-zhushu", "text/source/KR1c0004_001.txt") == \
        (TEXTS / "KR1c0004_001.txt").read_bytes()
    event = books.events("maoshi-zhushu", limit=1)[0]
    assert event.kind == "text-import"


def test_a_marker_in_the_middle_of_a_line_splits_the_line(books, tmp_path):
    source = tmp_path / "KR1c0001_001.txt"
    source.write_text("#+TITLE: 毛詩\n<pb:KR1c0001_tls_001-3a>\n** 1 國風周南第一\n窈窕淑女，¶\n君子好逑！"
                      "<pb:KR1c0001_tls_001-4a>¶\n# src: SHI 001.2\n:PROPERTIES:\n:KR_ID: KR1c0001\n:END:\n"
                      "參差荇菜，¶\n", encoding="utf-8")
    import_text(books, "maoshi-zhushu", [source], editor="test")
    pages = stored_pages(books, "maoshi-zhushu")
    assert [p["label"] for p in pages] == ["001-3a", "001-4a"]
    assert pages[0]["lines"][0] == {"pieces": [["text", "1 國風周南第一"]], "role": "heading"}
    assert [line["pieces"] for line in pages[0]["lines"][1:]] == [[["text", "窈窕淑女，"]], [["text", "君子好逑！"]]]
    assert [line["pieces"] for line in pages[1]["lines"]] == [[["text", "參差荇菜，"]]]  # comment, drawer skipped


def test_gaiji_and_described_characters_are_kept(books):
    import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    text = json.dumps(stored_pages(books, "jingchuan-wenji"), ensure_ascii=False)
    assert "&KR1005;" in text and "[危*臬][危*臬]" in text


def test_plain_text_is_one_page(books):
    report = import_text(books, "yingmeian-yiyu", [TEXTS / "影梅庵忆语.txt"], editor="test")
    assert report.format == "plain" and report.pages == 1
    page = stored_pages(books, "yingmeian-yiyu")[0]
    assert page["page"] == "0001"
    assert page["lines"][0] == {"pieces": [["text", "《影梅庵忆语》　清 冒襄"]], "indent": 2}


def test_page_xml_keeps_line_boxes_notes_and_margins(books):
    report = import_text(books, "maoshi-lushu", [TEXTS / "CDF_IHEC_VI111_1_5_0006.xml"], editor="test")
    assert report.format == "page-xml"
    page = stored_pages(books, "maoshi-lushu")[0]
    assert page["image"] == "CDF_IHEC_VI111_1_5_0006.jpg"
    assert page["lines"][0] == {"pieces": [["text", "毛詩陸疏校正"]], "role": "margin", "box": [4522, 662, 164, 773]}
    assert page["lines"][2] == {"pieces": [["text", "牛舌草可"]], "box": [4364, 665, 158, 787]}
    assert page["lines"][3]["pieces"] == [["note", "與煮同毛晉陸疏廣要"]]


def test_page_xml_coords_that_are_not_a_polygon_give_no_box_instead_of_a_crash(books, tmp_path):
    page_xml = (TEXTS / "CDF_IHEC_VI111_1_5_0006.xml").read_text(encoding="utf-8")
    page_xml = page_xml.replace('points="4533,668 4686,662 4661,1420 4522,1435 4533,668"', 'points="inf,0 1,1"')
    page_xml = page_xml.replace('points="4521,2970 4592,2970 4592,3122 4521,3122 4521,2970"', 'points="1,2,3 4,5,6"')
    odd = tmp_path / "odd-coords.xml"
    odd.write_text(page_xml, encoding="utf-8")
    import_text(books, "maoshi-lushu", [odd], editor="test")  # before: OverflowError / ValueError
    lines = stored_pages(books, "maoshi-lushu")[0]["lines"]
    assert "box" not in lines[0] and lines[2]["box"] == [4364, 665, 158, 787]


def test_hocr_keeps_line_boxes(books):
    report = import_text(books, "maoshi-lushu", [TEXTS / "CDF_IHEC_VI111_1_5_0006.hocr"], editor="test")
    assert report.format == "hocr"
    page = stored_pages(books, "maoshi-lushu")[0]
    assert page["lines"][0] == {"pieces": [["text", "牛舌草可"]], "box": [4364, 665, 158, 787]}


def test_ocr_pages_go_to_the_scan_they_describe(books):
    _structure(books, "maoshi-lushu", ["CDF_IHEC_VI111_1_5_0005.jpg", "CDF_IHEC_VI111_1_5_0006.jpg"])
    import_text(books, "maoshi-lushu", [TEXTS / "CDF_IHEC_VI111_1_5_0006.xml"], editor="test")
    assert [p["page"] for p in stored_pages(books, "maoshi-lushu")] == ["0002"]


def test_kanripo_pages_go_to_the_scans_of_their_leaves(books):
    _structure(books, "jingchuan-wenji", [f"{n}.tif" for n in range(1, 8)])
    report = import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    assert [p["page"] for p in stored_pages(books, "jingchuan-wenji")] == ["0001", "0002", "0003", "0004", "0005"]
    assert report.warnings == ["2 页影像没有全文：0006–0007（叶 3b、4a）"]


def test_kanripo_pages_go_to_the_scans_in_order_without_leaves(books):
    _structure(books, "jingchuan-wenji", [f"{n}.tif" for n in range(1, 8)], leaves=False)
    report = import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    assert [p["page"] for p in stored_pages(books, "jingchuan-wenji")] == ["0001", "0002", "0003", "0004", "0005"]
    assert report.warnings == ["全文只对应这部书 7 页影像中的前 5 页"]


def _unchanged(catalogue, book_id):
    return catalogue.store.head(book_id), sorted(catalogue.store.logical_paths(book_id))


def test_more_text_pages_than_scans_without_leaves_is_refused(books):
    _structure(books, "jingchuan-wenji", ["1.tif", "2.tif", "3.tif"], leaves=False)
    before = _unchanged(books, "jingchuan-wenji")
    with pytest.raises(TextRefused, match=r"全文有 5 页，而这部书只有 3 页影像：全文第 4 页"
                                          r"（KR4e0190_001.txt 第 \d+ 行，KR4e0190_SBCK_001-2b）"):
        import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    assert _unchanged(books, "jingchuan-wenji") == before


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.txt", b"<pb:KR1_A_001-1a>\n\xe5\x90\x8e\n\xff\xfe\n", r"bad.txt 第 3 行：不是 UTF-8"),
    ("open.txt", "<pb:KR1c0004_WYG_001-1a>\n正文(夹注¶\n未完¶\n".encode(),
     r"open.txt 第 2 行：双行夹注的「\(」没有用「\)」结束"),
    ("stray.txt", "<pb:KR1c0004_WYG_001-1a>\n正文)¶\n".encode(), r"stray.txt 第 2 行：第 3 列的「\)」"),
    ("marker.txt", "<pb:nonsense>\n正文¶\n".encode(), r"marker.txt 第 1 行：页标记 <pb:nonsense> 不合格式"),
    ("broken.xml", b"<?xml version='1.0'?>\n<PcGts>\n<Page>\n</PcGts>\n", r"broken.xml line \d: not well-formed"),
    ("empty.txt", b"\n\n", r"empty.txt：里面没有文字"),
    ("nul.txt", b"abc\n\x00\n", r"nul.txt 第 2 行：有 NUL 字符"),
])
def test_bad_files_are_refused_naming_file_and_line(books, tmp_path, name, content, message):
    good = tmp_path / "KR4e0190_001.txt"
    good.write_bytes((TEXTS / "KR4e0190_001.txt").read_bytes())
    bad = tmp_path / name
    bad.write_bytes(content)
    before = _unchanged(books, "jingchuan-wenji")
    with pytest.raises(TextRefused, match=message):
        import_text(books, "jingchuan-wenji", [good, bad], editor="test")
    assert _unchanged(books, "jingchuan-wenji") == before


def test_xml_with_a_doctype_is_refused_naming_file_and_line(books, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT", encoding="utf-8")
    page_xml = (TEXTS / "CDF_IHEC_VI111_1_5_0006.xml").read_text(encoding="utf-8")
    attack = page_xml.replace('<?xml version="1.0" ?>',
                              f'<?xml version="1.0" ?>\n<!DOCTYPE PcGts [<!ENTITY xxe SYSTEM "file://{secret}">]>')
    attack = attack.replace("<Unicode>牛舌草可</Unicode>", "<Unicode>牛舌草可&xxe;</Unicode>", 1)
    hocr = (TEXTS / "CDF_IHEC_VI111_1_5_0006.hocr").read_text(encoding="utf-8")
    hocr_attack = hocr.replace('"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
                               '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd" [<!ENTITY x "y">]>')
    cases = {"attack.xml": attack,  # before: imported, the entity silently dropped
             "plain-doctype.xml": page_xml.replace("<PcGts", "<!DOCTYPE PcGts>\n<PcGts", 1),
             "attack.hocr": hocr_attack,  # before: imported, the entity kept as the literal text &x;
             "utf16.xml": attack}
    before = _unchanged(books, "maoshi-lushu")
    for name, text in cases.items():
        path = tmp_path / name
        path.write_bytes(text.encode("utf-16") if name == "utf16.xml" else text.encode("utf-8"))
        with pytest.raises(TextRefused, match=rf"{name} 第\d行: 拒收——文件声明了 (DOCTYPE|ENTITY)"):
            import_text(books, "maoshi-lushu", [path], editor="test")
    assert _unchanged(books, "maoshi-lushu") == before
    # hOCR is XHTML: the XHTML DOCTYPE that Tesseract writes (our fixture has it) declares nothing
    assert import_text(books, "maoshi-lushu", [TEXTS / "CDF_IHEC_VI111_1_5_0006.hocr"], editor="test").pages == 1


def test_a_new_import_replaces_the_old_transcription(books):
    import_text(books, "maoshi-zhushu", [TEXTS / "KR1c0004_001.txt", TEXTS / "KR1c0004_009.txt"], editor="test")
    import_text(books, "maoshi-zhushu", [TEXTS / "KR1c0004_009.txt"], editor="test")
    paths = books.store.logical_paths("maoshi-zhushu")
    assert "text/source/KR1c0004_001.txt" not in paths and "text/source/KR1c0004_009.txt" in paths
    assert len(stored_pages(books, "maoshi-zhushu")) == 5
    again = import_text(books, "maoshi-zhushu", [TEXTS / "KR1c0004_009.txt"], editor="test")
    assert again.version is None  # the same text: no new version


def test_cli_import_and_refusal(books, home):
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(home.root), "text", "import", "示善0001",
                                 str(TEXTS / "KR1c0004_009.txt"), "--editor", "cli"])
    assert result.exit_code == 0, result.output
    assert "maoshi-zhushu：全文 5 叶（Kanripo），存为第 2 版" in result.output
    bad = Path(home.root) / "bad.txt"
    bad.write_text("<pb:KR1c0004_WYG_001-1a>\n正文(未完\n", encoding="utf-8")
    result = runner.invoke(app, ["--home", str(home.root), "text", "import", "maoshi-zhushu", str(bad)])
    assert result.exit_code == 1
    assert "什么都没有保存" in result.output and "bad.txt 第 2 行：双行夹注" in result.output
    shown = runner.invoke(app, ["--home", str(home.root), "text", "show", "maoshi-zhushu", "--page", "0001"])
    assert shown.exit_code == 0 and "009-11b" in shown.output
