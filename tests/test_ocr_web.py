"""OCR text on the web: Content Search boxes around just the phrase, the text as IIIF annotations and
its PAGE-XML, hits on leaves without a scan, the reading view, the 校对 of a page in the staff
workspace and the OCR job. The OCR is a real page's recorded rapidocr output replayed
(tests/ocr_support.py), so no model runs here."""

from __future__ import annotations

import json
import shutil
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from fastapi.testclient import TestClient
from iiif_fixtures import schema_errors
from ocr_support import MACHINE_BOOK, QIZHENG, QIZHENG_SIZE, build_text_library, recorded_lines
from web_helpers import form_values, staff_client

from guji.iiif.text_boxes import union
from guji.ingest import page_text
from guji.repository import Catalogue, Home
from guji.web import create_app

CANVAS = "http://guji.test:8080/iiif/{book}/canvas/{page}"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Home:
    return build_text_library(tmp_path_factory.mktemp("ocr-web"))


@pytest.fixture
def client(library, iiif_public_url) -> TestClient:
    return TestClient(create_app(library))


@pytest.fixture
def editable(library, tmp_path, iiif_public_url):
    """A copy of the library that a test may change."""
    shutil.copytree(library.root, tmp_path / "guji-data")
    catalogue = Catalogue.open(Home.resolve(tmp_path / "guji-data"))
    yield catalogue
    catalogue.close()


def glyph_box(line_start: str, first: int, count: int) -> list[int]:
    """The box around `count` characters from `first` of the recorded OCR line starting with `line_start`."""
    line = next(line for line in recorded_lines() if line.text.startswith(line_start))
    return union([list(box) for box in line.chars[first:first + count]])


def xywh(target: str) -> list[int]:
    return [int(value) for value in target.split("#xywh=")[1].split(",")]


# ---- IIIF Content Search ---------------------------------------------------------------------------------


def test_content_search_boxes_just_the_phrase_on_the_page(client):
    answer = client.get(f"/iiif/search/{QIZHENG}", params={"q": "日五星中行"}).json()
    targets = [resource["on"] for resource in answer["resources"]]
    first = targets[0]
    assert first.startswith(CANVAS.format(book=QIZHENG, page="0001") + "#xywh=")
    x, y, w, h = xywh(first)
    width, height = QIZHENG_SIZE
    assert 0 <= x and 0 <= y and x + w <= width and y + h <= height  # inside the page
    # the five characters of the phrase, not the line 日五星中行總年立成 they begin
    assert [x, y, w, h] == glyph_box("日五星中行總年立成", 0, 5)
    line = glyph_box("日五星中行總年立成", 0, 9)
    assert h < 0.6 * line[3]
    # leaves 3a and 5a have the words in the transcription but no OCR: the whole canvas, as before
    assert targets[1:] == [CANVAS.format(book=QIZHENG, page="0005"), CANVAS.format(book=QIZHENG, page="0009")]
    assert answer["hits"][0]["annotations"] == [answer["resources"][0]["@id"]]


def test_a_phrase_over_two_columns_gets_a_box_per_column(client):
    """全書 ends the first column (欽定四庫全書), 七政 begins the second (七政推步卷二): two boxes, one
    per column, in reading order — not one box over both columns and the space between."""
    v1 = client.get(f"/iiif/search/{QIZHENG}", params={"q": "全书七政"}).json()
    (hit,) = v1["hits"]
    boxes = [xywh(resource["on"]) for resource in v1["resources"] if resource["@id"] in hit["annotations"]]
    assert boxes == [glyph_box("欽定四庫全書", 4, 2), glyph_box("七政推步", 0, 2)]
    v2 = client.get(f"/iiif/search/{QIZHENG}/v2", params={"q": "全书七政"}).json()
    fragments = [item["target"]["selector"][0]["value"] for item in v2["items"]]
    assert fragments == [f"xywh={','.join(map(str, box))}" for box in boxes]
    assert {item["target"]["source"]["id"] for item in v2["items"]} == {CANVAS.format(book=QIZHENG, page="0001")}


def test_machine_text_is_boxed_from_its_own_characters_and_says_no_person_checked_it(client):
    answer = client.get(f"/iiif/search/{MACHINE_BOOK}", params={"q": "日五星中行"}).json()
    assert [xywh(resource["on"]) for resource in answer["resources"]] == [glyph_box("日五星中行總年立成", 0, 5)]
    found = client.get("/api/search", params={"q": "日五星中行"}).json()
    pages = {book["id"]: book["pages"] for book in found["books"]}
    assert pages[MACHINE_BOOK][0]["authority_note"] == "机器识别，未校对"
    assert pages[QIZHENG][0]["authority_note"] is None
    html = lxml.html.fromstring(client.get("/search", params={"q": "日五星中行"}).text)
    badges = {hit.cssselect("a.title")[0].get("href"): [b.text_content() for b in hit.cssselect(".badge.machine")]
              for hit in html.cssselect("li.hit")}
    assert badges == {f"/books/{MACHINE_BOOK}": ["机器识别，未校对"], f"/books/{QIZHENG}": []}


def test_hits_on_leaves_without_a_scan_lead_to_their_text(client):
    """太陰經度 is only on leaves that were never scanned: site search finds them, and so does the
    search inside the book — listed apart from the canvases, each linking to the leaf's text."""
    site = client.get("/api/search", params={"q": "太陰經度"}).json()
    (book,) = site["books"]
    assert book["page_count"] > 0 and not any(page["scan"] for page in book["pages"])
    inside = client.get(f"/iiif/search/{QIZHENG}", params={"q": "太陰經度"}).json()
    assert inside["resources"] == [] and inside["within"]["total"] == 0
    listed = inside["textWithoutScan"]
    assert len(listed) == book["page_count"] and listed[0]["match"] == "太陰經度"
    link = urlsplit(listed[0]["url"])
    assert link.path == f"/books/{QIZHENG}" and parse_qs(link.query)["q"] == ["太陰經度"]
    for url in (f"{link.path}?{link.query}", book["pages"][0]["url"]):
        page = lxml.html.fromstring(client.get(url).text)
        (leaf,) = page.cssselect("#reading article.leaf")
        assert leaf.cssselect(".badge.no-scan") and leaf.get("data-leaf-page") == ""
        assert "太陰經度" in leaf.cssselect(".leaf-text")[0].text_content()
    marked = lxml.html.fromstring(client.get(f"{link.path}?{link.query}").text)
    assert [mark.text for mark in marked.cssselect("#reading mark")] == ["太陰經度"]
    # the HTML search page links each such hit to its text, with the query
    html = lxml.html.fromstring(client.get("/search", params={"q": "太陰經度"}).text)
    href = html.cssselect("p.snippet a")[0].get("href")
    assert "text=" in href and "q=" in href


# ---- the manifest: text annotations and PAGE-XML ---------------------------------------------------------


def test_manifest_links_each_page_text_and_its_page_xml(client):
    manifest = client.get(f"/iiif/{QIZHENG}/manifest").json()
    assert schema_errors(manifest) == []
    canvases = {canvas["id"].rsplit("/", 1)[1]: canvas for canvas in manifest["items"]}
    first = canvases["0001"]
    assert first["annotations"] == [{"id": f"http://guji.test:8080/iiif/{QIZHENG}/annotations/0001",
                                     "type": "AnnotationPage"}]
    (see_also,) = first["seeAlso"]
    assert see_also["format"] == "application/vnd.prima.page+xml"
    assert see_also["profile"] == "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
    assert "annotations" in canvases["0005"] and "seeAlso" not in canvases["0005"]  # text, no OCR
    assert "annotations" not in canvases["0002"]  # covered by 葉一a's text, no OCR to place it


def test_a_page_text_as_supplementing_annotations_with_line_boxes(client):
    page = client.get(f"/iiif/{MACHINE_BOOK}/annotations/0001")
    assert page.headers["content-type"].startswith("application/ld+json")
    document = page.json()
    assert schema_errors(document, "annotationPage") == []
    first = document["items"][0]
    assert first["motivation"] == "supplementing"
    assert first["body"] == {"type": "TextualBody", "value": "欽定四庫全書", "format": "text/plain",
                             "language": "zh-Hant"}
    assert xywh(first["target"]) == glyph_box("欽定四庫全書", 0, 6)
    assert document["label"]["zh-Hans"] == ["全文（机器识别，未校对）"]
    width, height = QIZHENG_SIZE
    for item in document["items"]:
        x, y, w, h = xywh(item["target"])
        assert 0 <= x and 0 <= y and x + w <= width and y + h <= height
    # the curated text of 卷二 葉一a, placed by the OCR of its scan
    imported = client.get(f"/iiif/{QIZHENG}/annotations/0001").json()
    assert [item["body"]["value"] for item in imported["items"]][:2] == ["欽定四庫全書", "七政推步卷"]
    assert imported["label"]["zh-Hans"] == ["全文"]
    # a transcribed page without OCR: its lines target the whole canvas
    unplaced = client.get(f"/iiif/{QIZHENG}/annotations/0005").json()
    assert [(i["body"]["value"], i["target"]) for i in unplaced["items"]] == [
        ("日五星中行零年立成", CANVAS.format(book=QIZHENG, page="0005"))]


def test_page_xml_is_served_as_stored_and_unknown_pages_are_refused(client, library):
    from lxml import etree

    from guji.ingest.ocr_pagexml import validate

    answer = client.get(f"/iiif/{QIZHENG}/ocr/0001.page.xml")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/vnd.prima.page+xml"
    catalogue = Catalogue.open(library)
    try:
        assert answer.content == catalogue.store.read_bytes(QIZHENG, "ocr/0001.page.xml")
    finally:
        catalogue.close()
    assert validate(etree.ElementTree(etree.fromstring(answer.content))) == []
    again = client.get(f"/iiif/{QIZHENG}/ocr/0001.page.xml", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    for url in (f"/iiif/{QIZHENG}/ocr/0003.page.xml", f"/iiif/{QIZHENG}/annotations/0099",
                f"/iiif/{QIZHENG}/annotations/00%2e1", "/iiif/no-such-book/annotations/0001",
                f"/iiif/{QIZHENG}/annotations/0002", f"/iiif/{QIZHENG}/ocr/..%2f..%2finventory.json.page.xml"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "inventory" not in response.text


# ---- the reading view -----------------------------------------------------------------------------------


def test_the_record_page_shows_the_page_text_beside_the_scan_with_the_hit_marked(client):
    page = lxml.html.fromstring(client.get(f"/books/{QIZHENG}", params={"page": "0001", "q": "日五星中行"}).text)
    viewer = urlsplit(page.cssselect("iframe.viewer")[0].get("src"))
    assert parse_qs(viewer.query) == {"page": ["0001"], "q": ["日五星中行"]}  # the scan: Mirador's hit boxes
    (reading,) = page.cssselect("section#reading")
    assert "vertical" in reading.get("class").split()
    (leaf,) = reading.cssselect("article.leaf")
    assert leaf.cssselect("h3")[0].text == "卷二 葉一上"
    assert [line.text_content() for line in leaf.cssselect("p.line")] == [
        "欽定四庫全書", "七政推步卷二", "明　貝琳　編", "日五星中行總年立成"]
    assert [mark.text for mark in leaf.cssselect("mark")] == ["日五星中行"]
    assert parse_qs(urlsplit(reading.cssselect("[data-reading-toggle]")[0].get("href")).query)["layout"] == [
        "horizontal"]
    horizontal = lxml.html.fromstring(client.get(f"/books/{QIZHENG}", params={"layout": "horizontal"}).text)
    assert "horizontal" in horizontal.cssselect("section#reading")[0].get("class").split()
    # what the page's script fetches as the viewer turns: 葉一b is covered by 葉一a's text (shown once)
    fragment = lxml.html.fromstring(client.get(f"/books/{QIZHENG}/reading",
                                               params=[("page", "0002"), ("page", "0003")]).text)
    assert [leaf.get("data-leaf-page") for leaf in fragment.cssselect("article.leaf")] == ["0001", "0003"]
    machine = lxml.html.fromstring(client.get(f"/books/{MACHINE_BOOK}").text)
    assert machine.cssselect("#reading .badge.machine")[0].text_content() == "机器识别，未校对"


def test_a_small_note_is_a_double_column_and_a_bad_query_is_said(client):
    from guji.web.reading import line_runs

    line = line_runs({"pieces": [["text", "侯伯"], ["note", "傳堯舜/五行外"]]}, 0,
                     lambda index: "hit" if index in (3, 4, 6, 7) else None)
    note = line.pieces[1]
    assert note.kind == "note" and [[(r.text, r.mark) for r in column] for column in note.columns] == [
        [("傳", None), ("堯舜", "hit")], [("五行", "hit"), ("外", None)]]
    page = lxml.html.fromstring(client.get(f"/books/{QIZHENG}", params={"page": "0001", "q": '"未閉'}).text)
    assert "检索式有误" in page.cssselect("#reading .notice.error")[0].text_content()
    assert page.cssselect("#reading article.leaf")  # the text is still shown


# ---- 校对 in the staff workspace ----------------------------------------------------------------------


def proofread_form(client: TestClient, book: str, page: str) -> tuple[str, dict[str, list[str]]]:
    return form_values(client.get(f"/staff/books/{book}/proofread/{page}").text, "form.proof-form")


def test_the_proofreading_page_marks_doubtful_characters_and_places_each_line(editable):
    client = staff_client(editable)
    html = lxml.html.fromstring(client.get(f"/staff/books/{MACHINE_BOOK}/proofread/0001").text)
    located = page_text(editable, MACHINE_BOOK, "0001")
    doubtful = [c for row in located.chars for c in row if c is not None and c.confidence < 0.8]
    assert len(html.cssselect(".proof-text span.low")) == len(doubtful) > 0
    assert "识别置信度 0.85" in " ".join(html.cssselect(".page-quality")[0].text_content().split())
    first = html.cssselect("li.proof-line")[0]
    assert first.get("data-box") == ",".join(map(str, glyph_box("欽定四庫全書", 0, 6)))
    x, y, w, h = glyph_box("欽定四庫全書", 0, 6)  # a line of 97×368: cropped at its own size
    crop = f"/iiif/image/{MACHINE_BOOK}/0001/{x},{y},{w},{h}/{w},{h}/0/default.jpg"
    assert first.get("data-crop-url") == crop
    assert first.cssselect("input[name=line]")[0].get("value") == "欽定四庫全書"


def test_a_correction_is_a_new_version_that_wins_in_search_and_display(editable):
    from guji.search.indexer import Indexer

    client = staff_client(editable)
    action, values = proofread_form(client, MACHINE_BOOK, "0001")
    lines = values["line"]
    assert lines[1] == "七政推步卷"
    lines[1] = "七政推步卷二"
    values["reason"] = [" "]
    refused = client.post(action, data=values)
    assert refused.status_code == 422 and "请填写校对理由" in refused.text
    values["reason"] = ["据原书补卷次"]
    lines[2] = "明(貝琳"
    refused = client.post(action, data=values)
    assert refused.status_code == 422 and "第 3 行的括号不成对" in refused.text
    lines[2] = "明"
    lines[3] = "貝\u2029琳"  # a paragraph separator: the search key's own paragraph break
    refused = client.post(action, data=values)
    assert refused.status_code == 422 and "第 4 行含有控制字符或分段符" in refused.text
    lines[3] = "貝琳"
    saved = client.post(action, data=values, follow_redirects=False)
    assert saved.status_code == 303 and "saved=" in saved.headers["location"]
    head = editable.history(MACHINE_BOOK)[-1]
    assert head.reason == "校对第 0001 页：据原书补卷次" and head.editor == "张三"
    assert page_text(editable, MACHINE_BOOK, "0001").authority == "corrected"
    indexer = Indexer(editable)
    indexer.run_once()  # the save is an event: the indexer takes the corrected text
    indexer.close()
    app = TestClient(create_app(editable.home))
    found = app.get("/api/search", params={"q": "七政推步卷二"}).json()
    pages = {book["id"]: book["pages"] for book in found["books"]}
    assert pages[MACHINE_BOOK][0]["authority"] == "corrected" and pages[MACHINE_BOOK][0]["authority_note"] is None
    record = lxml.html.fromstring(app.get(f"/books/{MACHINE_BOOK}").text)
    assert not record.cssselect("#reading .badge.machine") and record.cssselect("#reading .badge.corrected")
    assert "七政推步卷二" in record.cssselect("#reading .leaf-text")[0].text_content()
    # the page's history: the machine text, then the correction, with the change marked
    history = lxml.html.fromstring(client.get(f"/staff/books/{MACHINE_BOOK}/proofread/0001/history").text)
    assert [cell.text_content() for cell in history.cssselect("table.page-versions tr td:nth-child(5)")] == [
        "已校对", "机器识别，未校对"]
    assert [ins.text for ins in history.cssselect("table.line-diff .ins")] == ["二"]
    # the quality page counts pages by authority
    counts = lxml.html.fromstring(client.get(f"/staff/books/{MACHINE_BOOK}/text").text)
    assert {c.get("data-count"): c.text for c in counts.cssselect("[data-count]")} == {
        "corrected": "1", "imported": "0", "machine": "0", "none": "0"}


def test_a_stale_save_of_the_same_page_is_a_conflict_but_other_changes_are_not(editable):
    client = staff_client(editable)
    action, values = proofread_form(client, MACHINE_BOOK, "0001")
    values["reason"] = ["校改"]
    # someone edits the card meanwhile: another part of the book, no conflict
    stored = editable.get(MACHINE_BOOK)
    card = {**stored.card, "edition": {**stored.card["edition"], "notes": "卷端題名"}}
    editable.save(MACHINE_BOOK, card, editor="李四", reason="补附注", base_version=stored.version)
    first = dict(values, line=["欽定四庫全書", "七政推步卷二", *values["line"][2:]])
    assert client.post(action, data=first, follow_redirects=False).status_code == 303
    # a second proofreader saves the same page from the form loaded before: a conflict, theirs shown
    second = dict(values, line=["欽定四庫全書", "七政推步", *values["line"][2:]], reason=["另改"])
    conflict = client.post(action, data=second)
    assert conflict.status_code == 409 and "保存前，此页的文字已被修改" in conflict.text
    page = lxml.html.fromstring(conflict.text)
    assert [d.text for d in page.cssselect(".conflict .del")] == ["卷二"]
    assert page.cssselect("form.proof-form input[name=line]")[1].get("value") == "七政推步"  # mine kept
    again_action, again = form_values(conflict.text, "form.proof-form")
    assert again["base_version"] == [str(editable.store.head(MACHINE_BOOK))]
    assert client.post(again_action, data=again, follow_redirects=False).status_code == 303  # knowingly
    assert page_text(editable, MACHINE_BOOK, "0001").lines[1]["pieces"] == [["text", "七政推步"]]


# ---- the OCR job ---------------------------------------------------------------------------------------


def test_an_admin_starts_an_ocr_job_and_watches_its_progress(editable, monkeypatch):
    import ocr_support

    from guji.ingest import ocr_engine
    from guji.web.staff import jobs

    started = []

    class FakeProcess:  # the job's process is run below, in this one, with the replay engine
        def __init__(self, args, **options):
            started.append(args)
            self.pid = __import__("os").getpid()

        def wait(self):
            return 0

    monkeypatch.setattr(jobs, "Child", FakeProcess)
    monkeypatch.setitem(ocr_engine.ENGINES, "pagexml-replay", "ocr_support:PageXmlReplayEngine")
    monkeypatch.setenv("GUJI_OCR_WORKERS", "1")  # in this process, where the replay engine is registered
    admin = staff_client(editable, "馆长", "admin")
    book_page = admin.get(f"/staff/books/{QIZHENG}/text")
    action, values = form_values(book_page.text, "form.ocr")
    bad = admin.post(action, data={**values, "pages": ["0001-0099x"]})
    assert bad.status_code == 400 and "页码" in bad.text and "0001-0010" in bad.text
    unknown = admin.post(action, data={**values, "engine": ["tesseract"]})
    assert unknown.status_code == 400 and "没有名为「tesseract」的 OCR 引擎" in unknown.text
    values.update(pages=["0001-0002"], engine=["faster-paddle"], redo=["1"])
    response = admin.post(action, data=values, follow_redirects=False)
    assert response.status_code == 303
    job_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert started and started[0][-1] == str(job_id)
    busy = admin.post(action, data=values)
    assert busy.status_code == 400 and f"#{job_id}" in busy.text
    with editable.sessions.begin() as session:  # as if the form had asked for the replay engine
        from guji.repository.catalogue_db import JobRow

        row = session.get(JobRow, job_id)
        row.source = json.dumps({"pages": "0001-0002", "engine": "pagexml-replay", "redo": True})
    ocr_support.PageXmlReplayEngine.calls = 0
    assert jobs.run(editable.home, job_id) == 0
    status = admin.get(f"/staff/api/jobs/{job_id}").json()
    assert status["status"] == "done" and status["done"] == status["total"] == 2 and status["kind_label"] == "文字识别"
    assert status["message"].startswith("识别 2 页") and "CER" in status["message"]
    assert ocr_support.PageXmlReplayEngine.calls == 2
    job_page = lxml.html.fromstring(admin.get(f"/staff/ingest/{job_id}").text)
    assert job_page.cssselect("h1")[0].text_content().startswith("文字识别任务")
    listing = admin.get("/staff/ingest")
    assert "文字识别" in lxml.html.fromstring(listing.text).cssselect("table.jobs tr")[1].text_content()
    ingest_action, ingest_values = form_values(listing.text, "form.ocr")  # the same job from the jobs page
    assert ingest_values["card_id"] == [MACHINE_BOOK]  # the first book with scans
    refused = admin.post(ingest_action, data={**ingest_values, "card_id": ["no-such-book"]})
    assert refused.status_code == 400 and "没有标识为「no-such-book」的卡片" in refused.text
    assert admin.post(ingest_action, data=ingest_values, follow_redirects=False).status_code == 303
    cataloguer = staff_client(editable, "编目员甲")
    assert cataloguer.post(action, data=values).status_code == 403  # OCR jobs are for admins
    assert not lxml.html.fromstring(cataloguer.get(f"/staff/books/{QIZHENG}/text").text).cssselect("form.ocr")


def test_a_withdrawn_book_has_no_public_text(editable):
    from guji.repository.withdrawal import set_withdrawn

    set_withdrawn(editable, MACHINE_BOOK, True, editor="馆长", reason="重复著录")
    client = TestClient(create_app(editable.home))
    for url in (f"/iiif/{MACHINE_BOOK}/annotations/0001", f"/iiif/{MACHINE_BOOK}/ocr/0001.page.xml"):
        response = client.get(url)
        assert response.status_code == 410 and "withdrawn" in response.json()["detail_en"], url
    assert client.get(f"/books/{MACHINE_BOOK}/reading", params={"page": "0001"}).status_code == 404
    assert client.get(f"/iiif/search/{MACHINE_BOOK}", params={"q": "日五星"}).status_code == 410


def test_a_book_with_text_and_no_scans_is_read_from_its_first_leaf(editable):
    from ocr_support import SAMPLES

    from guji.ingest.text_import import import_text

    editable.create({"id": "text-only", "record_type": "guji", "edition": {"title": "七政推步"}}, editor="编目员",
                    reason="测试")
    import_text(editable, "text-only", [SAMPLES / "texts" / "KR3f0006_002.txt"], editor="编目员")
    page = lxml.html.fromstring(TestClient(create_app(editable.home)).get("/books/text-only").text)
    assert page.cssselect(".no-pages") and not page.cssselect("iframe.viewer")
    (leaf,) = page.cssselect("#reading article.leaf")
    assert "欽定四庫全書" in leaf.text_content() and leaf.cssselect(".badge.no-scan")
    assert page.cssselect("#reading a[rel=next]")[0].get("href").startswith("/books/text-only?text=1")
    # without scans the text numbers its own pages: a search hit's ?page=0005 opens that leaf's text
    hit = lxml.html.fromstring(TestClient(create_app(editable.home)).get("/books/text-only?page=0005").text)
    assert "日五星中行月分立成" in hit.cssselect("#reading .leaf-text")[0].text_content()
