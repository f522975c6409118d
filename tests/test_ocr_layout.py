"""Reading order of 古籍 pages (ingest.ocr_layout) on synthetic box sets, and on one real page's boxes."""

from __future__ import annotations

import json
from pathlib import Path

from guji.ingest.ocr_engine import RawLine
from guji.ingest.ocr_layout import lay_out, place_characters

FIXTURES = Path(__file__).parent / "fixtures" / "ocr"
CHAR = 100  # a 正文 character: 100×100 px; 夹注: 50 wide


def column(x: int, y: int, text: str, width: int = CHAR) -> RawLine:
    """A vertical line whose right edge is at x (columns are placed by their right edge, as read)."""
    height = len(text) * (CHAR if width >= CHAR else CHAR // 2)
    return RawLine(text, (x - width, y, width, height), 0.9)


def reading(page) -> list[str]:
    return [line.text for line in page.lines()]


def test_columns_are_read_right_to_left_top_to_bottom():
    lines = [column(300, 100, "丙丙丙"), column(1000, 100, "甲甲甲甲"), column(650, 100, "乙乙"),
             column(650, 400, "乙下")]  # a column broken in two by the detector
    page = lay_out(lines, 1100, 1000)
    assert reading(page) == ["甲甲甲甲", "乙乙", "乙下", "丙丙丙"]
    assert page.body_text() == "甲甲甲甲乙乙乙下丙丙丙"


def test_jiazhu_pairs_are_read_right_sub_column_first_after_the_large_text():
    lines = [
        column(1000, 100, "大字大字"),  # 正文 at the top of the column
        column(950, 500, "左左左", width=50),  # left sub-column of the 夹注 (listed first on purpose)
        column(1000, 500, "右右右", width=50),  # right sub-column
        column(1000, 800, "又大"),  # 正文 again below the note
        column(800, 100, "次行次行次行次行次行"),
    ]
    page = lay_out(lines, 1100, 1200)
    assert reading(page) == ["大字大字", "右右右", "左左左", "又大", "次行次行次行次行次行"]
    roles = {line.text: line.role for line in page.lines()}
    assert roles["右右右"] == roles["左左左"] == "note"
    assert roles["大字大字"] == roles["又大"] == roles["次行次行次行次行次行"] == "text"


def test_a_whole_column_of_notes_is_a_pair_not_two_columns_of_text():
    lines = [column(1000, 100, "右注右注", width=50), column(950, 100, "左注", width=50), column(800, 100, "正文正文"),
             column(600, 100, "正文"), column(400, 100, "正文")]
    page = lay_out(lines, 1100, 700)
    assert reading(page)[:2] == ["右注右注", "左注"]
    assert [line.role for line in page.lines()][:3] == ["note", "note", "text"]


def test_a_whole_leaf_is_split_at_the_banxin_and_its_header_is_not_body_text():
    right = [column(2000 - 150 * i, 200, f"右{i}" + "右" * 16) for i in range(5)]
    left = [column(900 - 150 * i, 200, f"左{i}" + "左" * 16) for i in range(5)]
    banxin = [column(1070, 100, "欽定四庫全書", width=80), column(1060, 800, "五禮通考卷二百十三", width=60),
              column(1060, 1800, "十六", width=60)]
    page = lay_out(right + left + banxin, 2100, 2400, title="五禮通考")
    kinds = [(region.kind, region.side) for region in page.regions]
    assert kinds == [("body", "a"), ("header", None), ("body", "b")]
    assert page.body_text() == "".join(line.text for line in right + left)
    header = page.headers[0]
    assert (header.juan, header.leaf, header.title) == (213, 16, "五禮通考")
    assert {line.role for line in page.regions[1].lines} == {"header"}


def test_two_leaves_on_one_scan_are_read_top_leaf_first():
    def leaf(top: int, number: str) -> list[RawLine]:
        return ([column(2000 - 150 * i, top, f"{number}右{i}正文正文") for i in range(4)]
                + [column(900 - 150 * i, top, f"{number}左{i}正文正文") for i in range(4)]
                + [column(1060, top, "欽定四庫全書", width=70), column(1060, top + 700, number, width=60)])

    page = lay_out(leaf(2000, "十七") + leaf(100, "十六"), 2100, 3000)
    assert [h.leaf for h in page.headers] == [16, 17]
    body = [line.text for line in page.lines() if line.role == "text"]
    assert [text[:4] for text in body[:4]] == ["十六右0", "十六右1", "十六右2", "十六右3"]
    assert [text[:4] for text in body[8:10]] == ["十七右0", "十七右1"]


def test_meipi_above_the_frame_is_kept_apart_and_read_after_the_body():
    body = [column(1000 - 150 * i, 600, "正文正文正文正文") for i in range(5)]
    meipi = [column(900, 50, "眉批一", width=50), column(820, 50, "眉批二", width=50)]
    page = lay_out(body + meipi, 1100, 1600)
    assert [region.kind for region in page.regions] == ["body", "annotation"]
    assert "眉批" not in page.body_text()
    assert [line.text for line in page.regions[-1].lines] == ["眉批一", "眉批二"]


def test_the_banxin_strip_at_the_edge_of_a_half_leaf_depends_on_its_side():
    # a side: 卷端 "欽定四庫全書" is the first column (body); the 版心 strip stands at the left edge
    a_side = [column(1000, 100, "欽定四庫全書"), column(850, 100, "七政推步卷二"), column(700, 100, "正文正文正文正文"),
              column(550, 100, "正文正文正文正文"), column(150, 600, "七政推步", width=40),
              column(150, 850, "一", width=40)]
    page = lay_out(a_side, 1100, 1600, side="a", title="七政推步")
    assert page.body_text().startswith("欽定四庫全書七政推步卷二")
    assert "一" not in page.body_text()
    assert page.headers and page.headers[0].leaf == 1 and page.headers[0].position == "left"
    # b side: the strip is at the right edge
    b_side = [column(1090, 100, "欽定四庫", width=40), column(1090, 400, "卷二", width=40),
              column(950, 100, "正文正文"), column(800, 100, "正文"), column(650, 100, "正文")]
    page = lay_out(b_side, 1100, 1600, side="b")
    assert page.body_text() == "正文正文正文正文"
    assert page.headers[0].juan == 2 and page.headers[0].position == "right"


def test_horizontal_text_is_margin_and_an_empty_page_has_no_regions():
    lines = [column(1000 - 150 * i, 100, "正文正文") for i in range(4)] + [RawLine("140-330", (400, 1000, 300, 60), 1)]
    page = lay_out(lines, 1100, 1200)
    assert page.regions[-1].kind == "margin" and page.regions[-1].lines[0].text == "140-330"
    assert "140" not in page.body_text()
    assert lay_out([], 100, 100).regions == []


def test_characters_are_placed_down_a_vertical_line_and_across_a_horizontal_one():
    assert place_characters("甲乙", (10, 20, 50, 100)) == [(10, 20, 50, 50), (10, 70, 50, 50)]
    assert place_characters("12", (0, 0, 40, 10)) == [(0, 0, 20, 10), (20, 0, 20, 10)]


def test_a_real_page_of_two_leaves_reads_like_its_transcription():
    """siku_1.png's lines as faster-paddle read them (boxes recorded): the layout puts them in the
    order of the Kanripo transcription (CER ≤ 0.06 after t2s; 0.08 with the 版心 read as text)."""
    from guji.ingest.ocr_align import cer

    recorded = json.loads((FIXTURES / "siku_1.faster-paddle.json").read_text(encoding="utf-8"))
    lines = [RawLine(line["text"], tuple(line["box"]), line["confidence"]) for line in recorded["lines"]]
    page = lay_out(lines, recorded["width"], recorded["height"])
    truth = (FIXTURES / "siku_1.gt.txt").read_text(encoding="utf-8")
    assert cer(truth, page.body_text()) <= 0.06
    assert cer(truth, "".join(line.text for line in page.lines())) > 0.07  # the 版心 is not body text
    assert [(h.juan, h.leaf) for h in page.headers] == [(213, 16), (213, 17)]
    assert page.body_text().startswith("子能治其官使不失職濟成少皞之功顓頊氏有子曰犂為祝融注犂為火正")


def test_a_column_set_low_after_a_gap_stays_in_reading_order():
    # 卷端: title columns at the top, the author's line set low in the next column (明 … 貝琳 … 編)
    lines = [column(400, 20, "欽定四庫全書"), column(300, 70, "七政推步卷二"), column(200, 800, "明", width=80),
             column(200, 910, "貝琳", width=80), column(200, 1130, "編", width=80),
             column(100, 20, "日五星中行總年立成")]
    page = lay_out(lines, 430, 1400)
    assert reading(page) == ["欽定四庫全書", "七政推步卷二", "明", "貝琳", "編", "日五星中行總年立成"]
    assert {line.role for line in page.lines()} == {"text"}


def test_control_characters_from_an_engine_are_dropped_with_their_boxes():
    from guji.ingest.ocr_engine import EngineDescription
    from guji.ingest.ocr_pagexml import write_page_xml

    page = lay_out([RawLine("正\x00文\x1b", (0, 0, 100, 400), 0.9, chars=[(0, 0, 100, 100), (0, 100, 100, 100),
                                                                    (0, 200, 100, 100), (0, 300, 100, 100)]),
                    RawLine("\x07", (200, 0, 100, 100), 0.5)], 400, 400)
    assert [(line.text, [g.box for g in line.glyphs]) for line in page.lines()] == [
        ("正文", [(0, 0, 100, 100), (0, 200, 100, 100)])]
    write_page_xml(page, image_name="0001.png", engine=EngineDescription("x", "1", "m"))  # XML-safe


def test_a_wide_single_banner_at_the_edge_of_a_b_side_is_body_text():
    # a b side whose first column mentions 四庫全書 in full-size characters: no strip of 版心
    lines = [column(1000, 100, "欽定四庫全書"), column(850, 100, "正文正文"), column(700, 100, "正文"),
             column(550, 100, "正文")]
    page = lay_out(lines, 1100, 800, side="b")
    assert page.headers == [] and page.body_text().startswith("欽定四庫全書")
