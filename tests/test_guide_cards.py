"""Guide cards (导卡): the PDF carries every card field, embeds a CJK font subset, four cards a sheet."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pypdf
import pytest
from cli_support import guji
from outputs_support import load, more_cards, sample_cards

from guji.repository.outputs.guide_cards import (
    CARD_HEIGHT,
    CARD_WIDTH,
    GuideCard,
    print_guide_cards,
    render_guide_cards,
)
from guji.repository.outputs.selection import SelectionError, parse_since, select_cards

MM = 72 / 25.4


@pytest.fixture
def loaded(catalogue):
    load(catalogue, sample_cards())
    return catalogue


def _text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_card_field_is_in_the_extracted_text(loaded):
    result = print_guide_cards(loaded)
    assert (result.cards, result.sheets) == (5, 2)  # four to a sheet
    text = _flat(_text(result.pdf))
    # 重刊荊川先生文集: 索书号, 题名卷数, 著者, 版本, 存卷, 册数/函数, 普查编号
    for expected in ("示善0002", "重刊荊川先生文集十七卷外集三卷", "（明）唐順之撰", "明萬曆元年純白齋刻本",
                     "存十七卷（卷一至十七）", "8册1函", "普查编号999999-0001-0000002"):
        assert expected in text
    for sample in sample_cards():
        assert sample["copy"]["call_number"] in text
        assert sample["edition"]["title"] in text


def test_a_cjk_font_subset_is_embedded(loaded):
    reader = pypdf.PdfReader(io.BytesIO(print_guide_cards(loaded).pdf))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = []
    for reference in fonts.values():
        font = reference.get_object()
        descendant = font["/DescendantFonts"][0].get_object()
        descriptor = descendant["/FontDescriptor"].get_object()
        assert "/ToUnicode" in font  # text can be searched and copied
        if "/FontFile2" in descriptor or "/FontFile3" in descriptor:
            embedded.append(str(font["/BaseFont"]))
    assert embedded, "no embedded font"
    assert all(re.match(r"^/[A-Z]{6}\+", name) for name in embedded), embedded  # subset tag ABCDEF+Name


def test_cards_are_the_standard_size_with_cut_marks_on_a4(loaded):
    reader = pypdf.PdfReader(io.BytesIO(print_guide_cards(loaded).pdf))
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width / MM), round(height / MM)) == (297, 210)  # A4 landscape
    content = page.get_contents().get_data().decode("latin-1")
    lines = re.findall(r"([\d.]+) ([\d.]+) m ([\d.]+) ([\d.]+) l S", content)
    vertical_x = sorted({round(float(x1) / MM, 1) for x1, y1, x2, y2 in lines if x1 == x2})
    assert vertical_x == [23.5, 23.5 + CARD_WIDTH, 23.5 + 2 * CARD_WIDTH]  # cut marks at the card edges
    horizontal_y = sorted({round(height / MM - float(y1) / MM, 1) for x1, y1, x2, y2 in lines if y1 == y2})
    assert horizontal_y == [30.0, 30.0 + CARD_HEIGHT, 30.0 + 2 * CARD_HEIGHT]


def test_cli_prints_named_cards(sample_library, tmp_path):
    home = sample_library
    output = tmp_path / "cards.pdf"
    result = guji(home, "cards", "print", "--ids", "示善0003,maoshi-zhushu", "-o", str(output))
    assert "已打印 2 张导卡，共 1 页 A4" in result.stdout
    text = _flat(_text(output.read_bytes()))
    assert "歷代史纂左編一百四十二卷" in text and "毛詩注疏三十卷首一卷" in text
    assert "影梅庵憶語" not in text
    refused = guji(home, "cards", "print", "--ids", "示善9999", "-o", str(tmp_path / "x.pdf"), check=False)
    assert refused.returncode == 2 and "示善9999" in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_changed_since_picks_revised_cards_not_books_that_only_got_scans(catalogue):
    load(catalogue, sample_cards(), created=datetime(2024, 1, 1, tzinfo=UTC))
    stored = catalogue.get("jingchuan-wenji")
    card = dict(stored.card, edition={**stored.card["edition"], "notes": "複審後修訂附注"})
    catalogue.save("jingchuan-wenji", card, editor="审校", reason="专家复审", base_version=stored.version)
    catalogue.commit_files("maoshi-zhushu", {"text/note.txt": "新增文本".encode()}, editor="扫描",
                           reason="加入文本", event="ingest")
    assert catalogue.get("maoshi-zhushu").head == 2  # a new version, but card.json is unchanged
    assert select_cards(catalogue, None, datetime(2025, 1, 1, tzinfo=UTC)) == ["jingchuan-wenji"]
    assert len(select_cards(catalogue, None, datetime(2023, 12, 31, tzinfo=UTC))) == 5
    assert select_cards(catalogue, ["maoshi-zhushu"], datetime(2025, 1, 1, tzinfo=UTC)) == []


def test_changed_since_dates_are_read_or_refused():
    assert parse_since("2024-05-10").date().isoformat() == "2024-05-10"
    assert parse_since("2024-05-10T08:00:00+08:00").astimezone(UTC).hour == 0
    with pytest.raises(SelectionError, match="2024/05/10"):
        parse_since("2024/05/10")


def test_withdrawn_cards_are_not_printed(loaded):
    stored = loaded.get("lidai-shizuan-zuobian")
    loaded.save(stored.id, {**stored.card, "status": "withdrawn"}, editor="t", reason="重复记录",
                base_version=stored.version)
    assert print_guide_cards(loaded).cards == 4


def test_long_fields_shrink_and_what_cannot_fit_is_reported():
    title = "欽定四庫全書總目提要二百卷" * 40
    cards = [GuideCard("long", 1, "示善0099", title, "（清）紀昀等撰", "清乾隆武英殿刻本", "", "120册", ""),
             GuideCard("rare", 1, "示善0100", "𫝊𠀀", "", "", "", "", "")]
    result = render_guide_cards(cards)
    assert any(w.startswith("long：题名卷数太长，卡片上印不下，印到「欽定") for w in result.warnings), result.warnings
    assert any(w.startswith("rare：字体中没有") and "U+2B74A" in w and w.endswith("印为空白") for w in result.warnings)
    text = _flat(_text(result.pdf))
    assert "欽定四庫全書總目提要二百卷欽定" in text  # the start is printed


def test_many_cards_in_one_run_fill_sheets_of_four_with_progress_per_card(catalogue):
    """Twelve cards prove it as well as thousands (bench/print.py prints 2,000)."""
    load(catalogue, more_cards(12))
    seen = []
    result = print_guide_cards(catalogue, progress=lambda done, total: seen.append((done, total)))
    assert result.cards == 12 and result.sheets == 3
    assert seen[-1] == (12, 12) and len(seen) == 12
    assert len(pypdf.PdfReader(io.BytesIO(result.pdf)).pages) == 3


def test_a_missing_font_is_a_clear_error(loaded, monkeypatch):
    from guji.repository.outputs.fonts import FontMissing

    monkeypatch.setenv("GUJI_CJK_FONT", "/nowhere/font.ttc")
    with pytest.raises(FontMissing, match="GUJI_CJK_FONT=/nowhere/font.ttc: no such font file"):
        print_guide_cards(loaded)
