"""Precious-list dossier (珍贵古籍名录申报书) and the 登记目录 XLSX."""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile

import docx
import openpyxl
import pypdf
import pytest
import pyvips
from cli_support import guji
from outputs_support import ROOT, load, sample_cards

from guji.ingest.pipeline import ingest_book
from guji.repository.outputs.dossier import build_dossier, dossier_docx, dossier_pdf
from guji.repository.outputs.register import write_register
from guji.repository.outputs.sample_pages import PageChoiceError

SCANS = ROOT / "tests" / "fixtures" / "scans"


@pytest.fixture
def loaded(catalogue):
    load(catalogue, sample_cards())
    return catalogue


@pytest.fixture
def scanned(loaded, tmp_path):
    """jingchuan-wenji with four real scans ingested: 封面, 卷一 (2 pages), 卷二."""
    book = tmp_path / "book"
    book.mkdir()
    for index, name in enumerate(("1.png", "2.png", "10.png", "v01_024.jpg"), start=1):
        shutil.copy(SCANS / name, book / f"{index:04d}{(SCANS / name).suffix}")
    (book / "structure.json").write_text(json.dumps({
        "pages": [{"file": "0001.png", "label": "封面"}, {"file": "0002.png", "label": "卷一 葉一a"},
                  {"file": "0003.png", "label": "卷一 葉一b"}, {"file": "0004.jpg", "label": "卷二 葉一a"}],
        "ranges": [{"label": "卷一", "files": ["0002.png", "0003.png"]}, {"label": "卷二", "files": ["0004.jpg"]}],
    }, ensure_ascii=False), encoding="utf-8")
    ingest_book(loaded, book, "jingchuan-wenji", "扫描员", workers=1)
    return loaded


def _complete(catalogue, card_id="jingchuan-wenji", **copy_fields):
    stored = catalogue.get(card_id)
    card = json.loads(json.dumps(stored.card))
    card["copy"].update({"significance": "明萬曆元年純白齋重刻本，流傳稀少。"}, **copy_fields)
    catalogue.save(card_id, card, editor="t", reason="补价值说明", base_version=stored.version)


def test_docx_holds_every_field_and_the_sample_images(scanned):
    _complete(scanned)
    dossier = build_dossier(scanned, "jingchuan-wenji", width=600)
    document = docx.Document(io.BytesIO(dossier_docx(dossier)))
    rows = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert list(rows) == ["申报单位", "普查编号", "题名卷数", "著者", "版本", "存卷/缺卷", "册数/函数", "装帧", "版框",
                          "行款版式", "批校题跋", "钤印", "定级", "破损", "入藏来源", "著录依据",
                          "申报理由（价值说明）", "申报单位意见", "专家意见"]
    assert rows["申报单位"] == "Guji 示例馆藏（演示数据）"
    assert rows["普查编号"] == "999999-0001-0000002"
    assert rows["题名卷数"] == "重刊荊川先生文集十七卷外集三卷"
    assert rows["册数/函数"] == "8册 1函"
    assert rows["版框"] == "框高20.1、宽14.2厘米"
    assert rows["行款版式"] == "半葉十行行二十字"
    assert "卷一至三有朱筆圈點" in rows["批校题跋"]
    assert "朱文方印" in rows["钤印"]
    assert rows["定级"].startswith("三级甲等") and "演示定级员" in rows["定级"]
    assert "虫蛀" in rows["破损"]
    assert rows["申报理由（价值说明）"] == "明萬曆元年純白齋重刻本，流傳稀少。"
    assert "负责人（签字）" in rows["申报单位意见"] and "单位（盖章）" in rows["申报单位意见"]
    assert "专家（签字）" in rows["专家意见"] and "年\u3000\u3000月\u3000\u3000日" in rows["专家意见"]
    # default 书影: the first page of each 卷 (卷端), at the asked width, from the derivatives
    assert [(p.page, p.label, p.width, p.source) for p in dossier.pages] == [
        ("0002", "卷一", 600, "derivative"), ("0004", "卷二", 600, "derivative")]
    images = [part for part in document.part.package.parts if part.partname.startswith("/word/media/")]
    assert len(images) == 2 and len(document.inline_shapes) == 2
    widths = sorted(pyvips.Image.new_from_buffer(part.blob, "").width for part in images)
    assert widths == [600, 600]
    captions = [p.text for p in document.paragraphs if p.text.startswith("书影") and "：" in p.text]
    assert captions[0].startswith("书影一：卷一（第0002页") and captions[1].startswith("书影二：卷二（第0004页")


def test_pdf_dossier_text_and_images(scanned):
    _complete(scanned)
    dossier = build_dossier(scanned, "jingchuan-wenji", pages=["1", "0003"], width=300)
    reader = pypdf.PdfReader(io.BytesIO(dossier_pdf(dossier)))
    text = re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))
    for expected in ("省级珍贵古籍名录申报书", "申报单位", "999999-0001-0000002", "重刊荊川先生文集十七卷外集三卷",
                     "框高20.1、宽14.2厘米", "三级甲等", "书影一：封面", "书影二：卷一葉一b"):
        assert expected in text
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 2 and all(image.image.width == 300 for image in images)


def test_pages_are_rendered_from_the_master_when_there_are_no_derivatives(scanned):
    shutil.rmtree(scanned.home.derivatives / "jingchuan-wenji")
    dossier = build_dossier(scanned, "jingchuan-wenji", pages=["0004"], width=400)
    [page] = dossier.pages
    assert (page.source, page.width) == ("master", 400)
    master = pyvips.Image.new_from_file(str(SCANS / "v01_024.jpg"))
    assert page.height == round(master.height * 400 / master.width)


def test_unknown_pages_are_refused_with_the_pages_the_book_has(scanned):
    with pytest.raises(PageChoiceError, match="0009.*0001–0004"):
        build_dossier(scanned, "jingchuan-wenji", pages=["9"])


def test_preflight_warnings(loaded):
    national = build_dossier(loaded, "jingchuan-wenji", scope="national")
    assert national.warnings == [
        "「申报理由（价值说明）」未填：国家珍贵古籍名录申报书要求填写",
        "定级为三级甲等，不在国家珍贵古籍名录的申报范围内（只收一级、二级古籍）",
        "本书尚未入藏扫描影像，申报书没有书影：请先入藏本书的扫描影像（影像入藏）"]
    provincial = build_dossier(loaded, "jingchuan-wenji", scope="provincial")
    assert not any("申报范围" in w for w in provincial.warnings)  # 三级 is fine for a province
    # 歷代史纂左編一百四十二卷 with only ten juan left, no grade, no 册数 …
    stored = loaded.get("lidai-shizuan-zuobian")
    card = json.loads(json.dumps(stored.card))
    card["copy"]["extant_juan"] = {"raw": "存十卷（卷一至十）"}
    loaded.save(stored.id, card, editor="t", reason="存卷", base_version=stored.version)
    sparse = build_dossier(loaded, "lidai-shizuan-zuobian")
    assert "存卷：全书一百四十二卷，缺一百三十二卷，超过一半；残缺过甚的复本一般难以入选名录" in sparse.warnings
    empty = {w[1:w.index("」")] for w in sparse.warnings if "」未填" in w}
    assert empty == {"定级", "册数/函数", "版框", "行款版式", "申报理由（价值说明）"}
    assert sparse.value("存卷/缺卷") == "存十卷（卷一至十），缺一百三十二卷"


def test_dossier_cli_strict_and_applicant(sample_library, tmp_path):
    home = sample_library
    output = tmp_path / "d.docx"
    strict = guji(home, "dossier", "示善0002", "--format", "docx", "-o", str(output), "--list", "national", "--strict",
                  check=False)
    assert strict.returncode == 1 and "不在国家珍贵古籍名录的申报范围内" in strict.stderr and not output.exists()
    assert "--strict" in strict.stderr and "什么都没有写入" in strict.stderr
    result = guji(home, "dossier", "示善0002", "--format", "docx", "-o", str(output), "--applicant", "某某省图书馆")
    assert "省级珍贵古籍名录申报书（jingchuan-wenji 第 1 版" in result.stdout
    assert "「申报理由（价值说明）」未填" in result.stderr and "warning" not in result.stderr
    rows = {r.cells[0].text: r.cells[1].text for r in docx.Document(str(output)).tables[0].rows}
    assert rows["申报单位"] == "某某省图书馆"
    bad = guji(home, "dossier", "示善0002", "--format", "odt", "-o", str(tmp_path / "x.odt"), check=False)
    assert bad.returncode == 2 and "「odt」不可用：请用 docx、pdf" in bad.stderr  # a usage error


def test_register_xlsx(loaded, tmp_path):
    stored = loaded.get("jingchuan-wenji")
    card = json.loads(json.dumps(stored.card))
    card["edition"]["juan"] = {"raw": "二十卷"}  # 存十七卷 of 二十: 缺三卷
    loaded.save(stored.id, card, editor="t", reason="卷数", base_version=stored.version)
    output = tmp_path / "登记目录.xlsx"
    assert write_register(loaded, output) == 5
    sheet = openpyxl.load_workbook(output).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("普查编号", "索书号", "题名卷数", "著者", "版本", "册数", "存缺卷数")
    assert [row[0] for row in rows[1:4]] == ["999999-0001-0000001", "999999-0001-0000002", "999999-0001-0000003"]
    assert rows[2] == ("999999-0001-0000002", "示善0002", "重刊荊川先生文集二十卷", "（明）唐順之撰",
                       "明萬曆元年純白齋刻本", 8, "存十七卷（卷一至十七），缺三卷")


def test_an_empty_field_never_claims_none_and_both_formats_are_a4(loaded):
    """On an official form 无 would say "none": a required field left empty prints 未填, an optional one blank."""
    dossier = build_dossier(loaded, "lidai-shizuan-zuobian", preparer="张三", contact="0513-1234567")
    document = docx.Document(io.BytesIO(dossier_docx(dossier)))
    rows = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert rows["定级"] == rows["版框"] == rows["申报理由（价值说明）"] == "未填"  # required
    assert rows["批校题跋"] == rows["钤印"] == rows["破损"] == ""  # optional
    assert "无" not in rows.values()
    [section] = document.sections
    assert (section.page_width, section.page_height) == (11906 * 635, 16838 * 635)  # A4 in twips, as Word writes it
    east_asian = document.styles["Normal"].element.rPr.rFonts.get(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia")
    assert east_asian == "宋体"
    assert "填表人：张三" in "".join(p.text for p in document.paragraphs)
    assert section.footer.paragraphs[0].text.startswith("卡片 lidai-shizuan-zuobian 第1版 · 生成于")
    reader = pypdf.PdfReader(io.BytesIO(dossier_pdf(dossier)))
    assert [(round(float(page.mediabox.width)), round(float(page.mediabox.height))) for page in reader.pages] == [
        (595, 842)]  # A4 in points
    text = re.sub(r"\s+", "", reader.pages[0].extract_text())
    assert "定级未填" in text and "批校题跋钤印" in text and "无" not in text.replace("演示数据", "")
    assert "填表人：张三" in text and "专家（签字）" in text


def test_dossier_round_cli_gives_the_summary_sheet_and_every_dossier(loaded, tmp_path):
    """毛詩注疏 and 歷代史纂左編 in one round: pre-flight per book on stderr first, then one zip (in-process)."""
    home = loaded.home.root
    output = tmp_path / "第七批.zip"
    result = guji(home, "dossier-round", "--ids", "lidai-shizuan-zuobian,示善0001", "-o", str(output),
                  "--round", "第七批", "--format", "docx", "--preparer", "张三")
    assert "maoshi-zhushu（毛詩注疏三十卷首一卷）：「定级」未填" in result.output
    assert "lidai-shizuan-zuobian（歷代史纂左編一百四十二卷）：「行款版式」未填" in result.output
    assert "省级珍贵古籍名录第七批申报汇总表：2 部书" in result.output
    archive = zipfile.ZipFile(output)
    assert sorted(archive.namelist()) == [
        "申报书/01-毛詩注疏三十卷首一卷-maoshi-zhushu.docx",
        "申报书/02-歷代史纂左編一百四十二卷-lidai-shizuan-zuobian.docx",
        "申报汇总表.pdf", "申报汇总表.xlsx", "预检结果.txt"]
    sheet = openpyxl.load_workbook(io.BytesIO(archive.read("申报汇总表.xlsx"))).active
    body = [row for row in sheet.iter_rows(values_only=True) if isinstance(row[0], int)]
    assert [row[:4] for row in body] == [(1, "999999-0001-0000001", "示善0001", "毛詩注疏三十卷首一卷"),
                                         (2, "999999-0001-0000003", "示善0003", "歷代史纂左編一百四十二卷")]
    summary = pypdf.PdfReader(io.BytesIO(archive.read("申报汇总表.pdf")))
    assert round(float(summary.pages[0].mediabox.width)) == 842  # A4 landscape
    first = docx.Document(io.BytesIO(archive.read("申报书/01-毛詩注疏三十卷首一卷-maoshi-zhushu.docx")))
    assert first.paragraphs[1].text == "毛詩注疏三十卷首一卷"
    strict = guji(home, "dossier-round", "--ids", "示善0001", "-o", str(tmp_path / "x.zip"), "--strict", check=False)
    assert strict.returncode == 1 and not (tmp_path / "x.zip").exists()
    unknown = guji(home, "dossier-round", "--ids", "示善9999", "-o", str(tmp_path / "y.zip"), check=False)
    assert unknown.returncode == 2 and "示善9999" in unknown.output and "Traceback" not in unknown.output
