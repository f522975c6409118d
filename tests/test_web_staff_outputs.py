"""Printed outputs from the staff workspace: guide cards (PDF), 登记目录 (XLSX) and the precious-list
dossier (DOCX/PDF) with its pre-flight warnings shown before the download."""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import docx
import lxml.html
import openpyxl
import pypdf
from fastapi.testclient import TestClient
from web_helpers import csrf_of, form_values, staff_client

from guji.repository.withdrawal import set_withdrawn
from guji.web import create_app

BOOK = "jingchuan-wenji"  # scanned in the `collection` fixture (conftest.py): 0001–0002 卷一, 0003 卷二

# `samples`, `cataloguer`: conftest.py


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def texts(html: str, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in lxml.html.fromstring(html).cssselect(selector)]


def assert_download(response, media_type: str, suffix: str) -> None:
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith(media_type)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f'{suffix}"' in disposition and "filename*=UTF-8''" in disposition


# ---- guide cards -------------------------------------------------------------------------------


def test_guide_cards_for_cards_ticked_on_the_card_list(cataloguer):
    listing = cataloguer.get("/staff/cards").text
    document = lxml.html.fromstring(listing)
    form = document.cssselect("form#chosen-cards")[0]
    assert form.get("action") == "/staff/outputs/guide-cards"
    boxes = {box.get("value") for box in form.cssselect("input[type=checkbox][name=ids]")}
    assert {BOOK, "maoshi-zhushu", "yingmeian-yiyu"} <= boxes
    response = cataloguer.post(form.get("action"), data={"csrf_token": csrf_of(listing),
                                                         "ids": [BOOK, "maoshi-zhushu"]})
    assert_download(response, "application/pdf", ".pdf")
    assert response.content.startswith(b"%PDF-") and response.headers["x-guji-cards"] == "2"
    text = pdf_text(response.content)
    # 重刊荊川先生文集: 索书号, 题名卷数, 著者, 版本, 存卷, 册数/函数, 普查编号 (as samples/cards.json has them)
    for expected in ("示善0002", "重刊荊川先生文集十七卷外集三卷", "（明）唐順之撰", "明萬曆元年純白齋刻本",
                     "存十七卷（卷一至十七）", "8册1函", "999999-0001-0000002", "毛詩注疏三十卷首一卷"):
        assert expected in text, expected
    assert "影梅庵憶語" not in text  # not ticked
    register = form.cssselect("button[formaction]")[0]
    assert register.get("formaction") == "/staff/outputs/register"


def test_guide_cards_for_typed_references_or_cards_changed_since_a_date(catalogue, sample_cards):
    old = datetime(2024, 1, 1, tzinfo=UTC)
    for card in sample_cards:
        if card["id"] in ("maoshi-zhushu", BOOK, "yingmeian-yiyu"):
            catalogue.create(card, editor="示例", reason="导入示例", created=old)
    stored = catalogue.get("yingmeian-yiyu")
    catalogue.save(stored.id, dict(stored.card, edition={**stored.card["edition"], "notes": "复审后修订"}),
                   editor="审校", reason="专家复审", base_version=stored.version)
    client = staff_client(catalogue, "张三", "cataloguer")
    page = client.get("/staff/outputs")
    action, values = form_values(page.text, "#guide-cards form")
    typed = client.post(action, data={**values, "references": "示善0002\nmaoshi-zhushu"})
    assert_download(typed, "application/pdf", ".pdf")
    assert typed.headers["x-guji-cards"] == "2" and "影梅庵憶語" not in pdf_text(typed.content)
    since = client.post(action, data={**values, "changed_since": "2025-01-01"})
    assert_download(since, "application/pdf", ".pdf")
    assert since.headers["x-guji-cards"] == "1" and "影梅庵憶語" in pdf_text(since.content)


def test_bad_guide_card_requests_say_what_to_fix_and_keep_what_was_typed(cataloguer, samples):
    page = cataloguer.get("/staff/outputs")
    action, values = form_values(page.text, "#guide-cards form")
    unknown = cataloguer.post(action, data={**values, "references": "示善0002 示善9999"})
    assert unknown.status_code == 422 and "示善9999" in texts(unknown.text, ".notice.error")[0]
    assert "示善0002 示善9999" in texts(unknown.text, "#guide-cards textarea")[0]
    bad_date = cataloguer.post(action, data={**values, "changed_since": "2024/05/10"})
    assert bad_date.status_code == 422 and "2024-05-10" in texts(bad_date.text, ".notice.error")[0]
    future = cataloguer.post(action, data={**values, "changed_since": "2999-01-01"})
    assert future.status_code == 422 and "没有符合条件的卡片" in future.text
    set_withdrawn(samples, BOOK, True, editor="审校", reason="重复")
    withdrawn = cataloguer.post(action, data={**values, "references": BOOK})
    assert withdrawn.status_code == 422 and "已撤销" in texts(withdrawn.text, ".notice.error")[0]


# ---- 登记目录 -----------------------------------------------------------------------------------


def test_register_xlsx_of_all_cards_or_the_chosen_ones(cataloguer, samples):
    page = cataloguer.get("/staff/outputs")
    action, values = form_values(page.text, "#register form")
    everything = cataloguer.post(action, data=values)
    assert_download(everything, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(everything.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("普查编号", "索书号", "题名卷数", "著者", "版本", "册数", "存缺卷数")
    assert len(rows) == 6  # the five samples
    chosen = cataloguer.post(action, data={**values, "references": "示善0002"})
    (header, row) = list(openpyxl.load_workbook(io.BytesIO(chosen.content)).active.iter_rows(values_only=True))
    assert row[:6] == ("999999-0001-0000002", "示善0002", "重刊荊川先生文集十七卷外集三卷", "（明）唐順之撰",
                       "明萬曆元年純白齋刻本", 8)
    set_withdrawn(samples, BOOK, True, editor="审校", reason="重复")
    after = cataloguer.post(action, data=values)
    assert len(list(openpyxl.load_workbook(io.BytesIO(after.content)).active.iter_rows())) == 5  # withdrawn: out


# ---- the dossier ------------------------------------------------------------------------------


def test_the_card_pages_link_to_its_outputs(cataloguer):
    for path in (f"/staff/cards/{BOOK}/history", f"/staff/cards/{BOOK}/edit"):
        links = [a.get("href") for a in lxml.html.fromstring(cataloguer.get(path).text).cssselect(".version-line a")]
        assert f"/staff/cards/{BOOK}/outputs" in links, path


def test_dossier_warnings_are_shown_before_the_download_and_the_docx_holds_the_card(collection):
    client = staff_client(collection, "张三", "cataloguer")
    page = client.get(f"/staff/cards/{BOOK}/outputs", params={"list": "national"})
    assert page.status_code == 200
    warnings = texts(page.text, ".preflight li")
    # the sample has no 价值说明, and its 三级甲等 is outside the national list (一、二级)
    assert "「申报理由（价值说明）」未填：国家珍贵古籍名录申报书要求填写" in warnings, warnings
    assert "定级为三级甲等，不在国家珍贵古籍名录的申报范围内（只收一级、二级古籍）" in warnings, warnings
    assert not any(character.isascii() and character.isalpha() for warning in warnings for character in warning)
    ticked = [box.get("value") for box in lxml.html.fromstring(page.text).cssselect(".sample-pages input:checked")]
    assert ticked == ["0001", "0003"]  # the 卷端 of 卷一 and 卷二
    action, values = form_values(page.text, "form.download")
    assert action == f"/staff/cards/{BOOK}/dossier" and values["list"] == ["national"]
    response = client.post(action, data={**values, "format": "docx"})
    assert_download(response, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")
    document = docx.Document(io.BytesIO(response.content))
    fields = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert fields["题名卷数"] == "重刊荊川先生文集十七卷外集三卷"
    assert fields["普查编号"] == "999999-0001-0000002" and fields["版本"] == "明萬曆元年純白齋刻本"
    assert fields["申报理由（价值说明）"] == "未填"  # required and empty: never 无 ("none")
    assert fields["破损"] != "无"
    assert {"申报单位意见", "专家意见", "省级古籍保护中心意见"} <= set(fields)  # blocks for signatures and seals
    assert len(document.inline_shapes) == 2  # the two 书影
    assert document.paragraphs[0].text == "国家珍贵古籍名录申报书"


def test_dossier_pdf_with_pages_applicant_and_the_provincial_list(collection):
    client = staff_client(collection, "张三", "cataloguer")
    page = client.get(f"/staff/cards/{BOOK}/outputs",
                      params={"list": "provincial", "pages": ["0002"], "applicant": "示例省图书馆", "width": "400"})
    warnings = texts(page.text, ".preflight li")
    assert not any("申报范围" in warning for warning in warnings)  # 三级 is within 一至三级
    assert texts(page.text, ".dossier-fields tr:last-child td")[0].startswith("0002")
    action, values = form_values(page.text, "form.download")
    response = client.post(action, data={**values, "format": "pdf"})
    assert_download(response, "application/pdf", ".pdf")
    text = pdf_text(response.content)
    assert "省级珍贵古籍名录申报书" in text and "示例省图书馆" in text and "重刊荊川先生文集十七卷外集三卷" in text
    assert "400×" in text  # the 书影 caption names its pixel size
    assert len(pypdf.PdfReader(io.BytesIO(response.content)).pages[-1].images) == 1


def test_a_card_saved_after_the_check_shows_the_new_warnings_instead_of_a_file(collection):
    client = staff_client(collection, "张三", "cataloguer")
    page = client.get(f"/staff/cards/{BOOK}/outputs")
    action, values = form_values(page.text, "form.download")
    stored = collection.get(BOOK)
    card = json.loads(json.dumps(stored.card))
    card["copy"]["significance"] = "明萬曆元年重刻本，流傳稀少。"
    collection.save(BOOK, card, editor="李四", reason="补价值说明", base_version=stored.version)
    response = client.post(action, data={**values, "format": "docx"})
    assert response.status_code == 409 and response.headers["content-type"].startswith("text/html")
    assert "v3" in texts(response.text, ".notice.error")[0]
    assert not any("价值说明" in w for w in texts(response.text, ".preflight li"))  # the new check
    action, values = form_values(response.text, "form.download")
    assert_download(client.post(action, data={**values, "format": "docx"}),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", ".docx")


def test_bad_dossier_choices_are_named_on_the_page(collection):
    cataloguer = staff_client(collection, "张三", "cataloguer")
    missing = cataloguer.get(f"/staff/cards/{BOOK}/outputs", params={"pages": ["0099"]})
    assert missing.status_code == 422 and "0099" in texts(missing.text, ".problems li")[0]
    assert not lxml.html.fromstring(missing.text).cssselect("form.download")
    bad = cataloguer.get(f"/staff/cards/{BOOK}/outputs", params={"list": "county", "width": "9"})
    assert bad.status_code == 422
    problems = texts(bad.text, ".problems li")
    assert any("county" in p for p in problems) and any("100–4000" in p for p in problems)
    assert any("本书没有" in p for p in texts(missing.text, ".problems li"))
    token = csrf_of(bad.text)
    refused = cataloguer.post(f"/staff/cards/{BOOK}/dossier", data={"csrf_token": token, "format": "odt",
                                                                   "version": "2"})
    assert refused.status_code == 422 and "odt" in refused.text
    assert cataloguer.get("/staff/cards/nonesuch/outputs").status_code == 404


def test_a_book_without_scans_gets_a_dossier_without_images_and_says_so(cataloguer):
    page = cataloguer.get("/staff/cards/yingmeian-yiyu/outputs")
    assert page.status_code == 200
    assert "本书尚未入藏扫描影像，申报书没有书影" in " ".join(texts(page.text, ".preflight li"))
    action, values = form_values(page.text, "form.download")
    response = cataloguer.post(action, data={**values, "format": "docx"})
    assert len(docx.Document(io.BytesIO(response.content)).inline_shapes) == 0


def test_a_withdrawn_card_is_marked_and_its_dossier_warns(cataloguer, samples):
    set_withdrawn(samples, BOOK, True, editor="审校", reason="重复")
    page = cataloguer.get(f"/staff/cards/{BOOK}/outputs")
    assert texts(page.text, ".version-line .withdrawn-mark") == ["已撤销"]
    assert any("已撤销" in warning for warning in texts(page.text, ".preflight li"))


# ---- an application round (申报批次) --------------------------------------------------------------


def test_a_round_ticked_on_the_card_list_is_checked_first_then_downloaded_as_one_zip(cataloguer):
    listing = cataloguer.get("/staff/cards").text
    button = next(b for b in lxml.html.fromstring(listing).cssselect("#chosen-cards button[formaction]")
                  if b.get("formaction") == "/staff/outputs/dossier-round/check")
    page = cataloguer.post(button.get("formaction"), data={
        "csrf_token": csrf_of(listing), "ids": ["maoshi-zhushu", "lidai-shizuan-zuobian"]})
    assert page.status_code == 200
    assert texts(page.text, "h2")[0] == "省级珍贵古籍名录申报汇总表"
    rows = texts(page.text, ".round-books tbody tr, .round-books tr.has-warnings, .round-books tr.preflight-ok")
    assert rows[0].startswith("1 毛詩注疏三十卷首一卷 999999-0001-0000001 v1") and "「定级」未填" in rows[0]
    assert rows[1].startswith("2 歷代史纂左編一百四十二卷 999999-0001-0000003 v1")
    warnings = texts(page.text, ".round-books .preflight li")
    assert warnings and not any(c.isascii() and c.isalpha() for w in warnings for c in w), warnings

    action, values = form_values(page.text, "form.download")
    values.update(preparer=["张三"], contact=["0513-1234567"], round=["第七批"])
    response = cataloguer.post(action, data={**values, "format": "pdf"})
    assert_download(response, "application/zip", ".zip")
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == [
        "申报书/01-毛詩注疏三十卷首一卷-maoshi-zhushu.pdf",
        "申报书/02-歷代史纂左編一百四十二卷-lidai-shizuan-zuobian.pdf",
        "申报汇总表.pdf", "申报汇总表.xlsx", "预检结果.txt"]
    sheet = openpyxl.load_workbook(io.BytesIO(archive.read("申报汇总表.xlsx"))).active
    cells = [row for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "省级珍贵古籍名录第七批申报汇总表"
    header = cells.index(next(row for row in cells if row[0] == "序号"))
    assert cells[header][:4] == ("序号", "普查编号", "索书号", "题名卷数")
    assert [row[3] for row in cells[header + 1:]] == ["毛詩注疏三十卷首一卷", "歷代史纂左編一百四十二卷"]
    assert str(sheet.page_setup.paperSize) == sheet.PAPERSIZE_A4 and sheet.page_setup.orientation == "landscape"
    summary = pdf_text(archive.read("申报汇总表.pdf"))
    assert "省级珍贵古籍名录第七批申报汇总表" in summary and "歷代史纂左編一百四十二卷" in summary
    dossier = pdf_text(archive.read("申报书/01-毛詩注疏三十卷首一卷-maoshi-zhushu.pdf"))
    assert "填表人：张三" in dossier and "联系方式：0513-1234567" in dossier and "申报单位意见" in dossier
    assert "「定级」未填" in archive.read("预检结果.txt").decode("utf-8-sig")


def test_a_round_saved_after_its_check_is_checked_again_and_unknown_books_are_named(cataloguer, samples):
    page = cataloguer.get("/staff/outputs")
    action, values = form_values(page.text, "#dossier-round form")
    unknown = cataloguer.post(action, data={**values, "references": "示善0001 示善9999"})
    assert unknown.status_code == 422 and "示善9999" in texts(unknown.text, ".problems li")[0]
    assert "示善0001 示善9999" in texts(unknown.text, "textarea")[0]  # what was typed is kept
    checked = cataloguer.post(action, data={**values, "references": "示善0001"})
    download_action, download = form_values(checked.text, "form.download")
    stored = samples.get("maoshi-zhushu")
    card = json.loads(json.dumps(stored.card))
    card["copy"]["significance"] = "四庫全書寫本，流傳稀少。"
    samples.save(stored.id, card, editor="李四", reason="补价值说明", base_version=stored.version)
    again = cataloguer.post(download_action, data={**download, "format": "docx"})
    assert again.status_code == 409 and "又保存过" in texts(again.text, ".notice.error")[0]
    assert not any("价值说明" in w for w in texts(again.text, ".preflight li"))
    download_action, download = form_values(again.text, "form.download")
    response = cataloguer.post(download_action, data={**download, "format": "docx"})
    assert_download(response, "application/zip", ".zip")


# ---- who may -----------------------------------------------------------------------------------


def test_anonymous_users_are_sent_to_sign_in_and_posts_need_the_csrf_token(samples):
    anonymous = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    for method, path in (("GET", "/staff/outputs"), ("POST", "/staff/outputs/guide-cards"),
                         ("POST", "/staff/outputs/register"), ("GET", f"/staff/cards/{BOOK}/outputs"),
                         ("POST", f"/staff/cards/{BOOK}/dossier"), ("POST", "/staff/outputs/dossier-round/check"),
                         ("POST", "/staff/outputs/dossier-round")):
        response = anonymous.request(method, path, data={"ids": BOOK} if method == "POST" else None,
                                     follow_redirects=False)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"].startswith("/staff/login?next="), (method, path)
        assert not response.content.startswith((b"%PDF", b"PK"))
    signed_in = staff_client(samples, "张三", "cataloguer")
    forged = signed_in.post("/staff/outputs/guide-cards", data={"ids": BOOK})  # no CSRF token
    assert forged.status_code == 403 and forged.headers["content-type"].startswith("text/html")


def test_a_book_of_an_imported_manifest_gets_a_dossier_without_images_and_says_why(samples):
    from iiif_fixtures import IIIF

    from guji.iiif.importer import import_manifest

    import_manifest(samples, str(IIIF / "npm_P1528_siku_jianming_mulu_manifest_v2.json"), "npm-p1528",
                    editor="编目员")
    client = staff_client(samples, "张三", "cataloguer")
    page = client.get("/staff/cards/npm-p1528/outputs", params={"pages": ["0001"]})
    assert page.status_code == 200  # the page images are another library's: no master to take 书影 from
    assert any("其他图书馆的影像" in warning for warning in texts(page.text, ".preflight li"))
    action, values = form_values(page.text, "form.download")
    response = client.post(action, data={**values, "format": "docx"})
    assert len(docx.Document(io.BytesIO(response.content)).inline_shapes) == 0
