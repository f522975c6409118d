"""OCR of the library's own scans: engines on a real crop, PAGE-XML, alignment, the per-book run
(resumable, one version, authority per page), 校对, search, bad input and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree

from guji.ingest import ocr_engine
from guji.ingest.ocr_align import align, cer
from guji.ingest.ocr_engine import OcrEngineUnavailable, RawLine, open_engine
from guji.ingest.ocr_layout import lay_out
from guji.ingest.ocr_pagexml import read_page_xml, validate, write_page_xml
from guji.ingest.ocr_run import OcrError, ocr_book, ocr_quality, parse_pages, read_page
from guji.ingest.ocr_tiles import DETECTION_PIXELS
from guji.ingest.pipeline import ingest_book
from guji.ingest.text_import import import_text
from guji.ingest.text_layers import page_text, save_page_correction
from guji.ingest.text_model import TextRefused
from guji.repository import Catalogue, Home, SettingError, StaleVersionError

FIXTURES = Path(__file__).parent / "fixtures" / "ocr"
CROP = FIXTURES / "qizheng_1a_columns.png"  # 430×1400: 欽定四庫全書 / 七政推步卷二 / 明 貝琳 編 / 日五星中行總年立成
CARD = {"id": "qizheng", "record_type": "guji", "edition": {"title": "七政推步"}}


def make_book(folder: Path, pages: int = 2) -> Path:
    """A book folder: the real crop, then a blank page (a blank verso), and more crops if asked."""
    import pyvips

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(CROP, folder / "1.png")
    pyvips.Image.black(430, 1400).invert().write_to_file(str(folder / "2.png"))
    for number in range(3, pages + 1):
        shutil.copy(CROP, folder / f"{number}.png")
    return folder


def new_library(root: Path, pages: int = 2) -> Catalogue:
    home = Home.resolve(root / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    catalogue.create(CARD, editor="test", reason="fixture")
    ingest_book(catalogue, make_book(root / "book", pages), "qizheng", "test", workers=1)
    return catalogue


# ---- the real engines, on a real crop (read once per session) ------------------------------------------


@pytest.fixture(scope="session")
def engine_lines() -> dict[str, list[RawLine]]:
    from guji.ingest.ocr_image import page_image

    image, scale, _ = page_image(CROP)
    assert scale == 1.0
    return {name: open_engine(name, threads=2).recognise(image) for name in ocr_engine.ENGINES}


@pytest.mark.parametrize("name", list(ocr_engine.ENGINES))
def test_each_engine_reads_the_columns_of_a_real_crop(engine_lines, name):
    lines = engine_lines[name]
    page = lay_out(lines, 430, 1400, side="a", title="七政推步")
    assert cer("欽定四庫全書七政推步卷二明貝琳編日五星中行總年立成", page.body_text()) <= 0.1
    for line in lines:
        x, y, w, h = line.box
        assert 0 <= x and 0 <= y and x + w <= 430 and y + h <= 1400
    if name == "rapidocr":  # the one engine that gives a box per character
        assert all(line.chars and len(line.chars) == len(line.text) for line in lines)


def test_the_default_engine_is_faster_paddle_and_a_missing_one_gives_one_message(monkeypatch):
    assert ocr_engine.engine_name() == "faster-paddle"
    monkeypatch.setitem(ocr_engine.ENGINES, "gone", "no_such_ocr_module:Engine")
    with pytest.raises(OcrEngineUnavailable, match="没有安装.*make install"):
        open_engine("gone")
    monkeypatch.setitem(ocr_engine.ENGINES, "broken", "ocr_support:BrokenEngine")
    with pytest.raises(OcrEngineUnavailable, match="无法加载模型.*corrupt"):
        open_engine("broken")
    with pytest.raises(OcrEngineUnavailable, match="没有名为 'tesseract' 的 OCR 引擎"):
        open_engine("tesseract")
    monkeypatch.setenv("GUJI_OCR_MAX_SIDE", "99999")
    with pytest.raises(SettingError, match="GUJI_OCR_MAX_SIDE='99999' 无法使用：应为 1000 到 6000 之间的整数"):
        open_engine()
    monkeypatch.setenv("GUJI_OCR_MAX_SIDE", "2400")  # less memory, recorded with every page it reads
    assert open_engine().describe().settings == {"det_max_side": 2400, "det_strip_pixels": DETECTION_PIXELS}


# ---- PAGE-XML -------------------------------------------------------------------------------------------


def test_page_xml_is_valid_against_the_official_schema_and_reads_back(engine_lines):
    page = lay_out(engine_lines["rapidocr"], 430, 1400, side="a", title="七政推步")
    description = ocr_engine.EngineDescription("rapidocr", "3.10.0", "PP-OCRv6 small", {"thresh": 0.2})
    data = write_page_xml(page, image_name="0001.png", engine=description)
    document = etree.fromstring(data)
    assert validate(etree.ElementTree(document)) == []
    back = read_page_xml(data)
    assert back.body_text() == page.body_text()
    assert [g.box for g in back.lines()[0].glyphs] == [g.box for g in page.lines()[0].glyphs]
    ns = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
    assert document.find(".//pc:MetadataItem[@name='engine']", ns).get("value") == "rapidocr 3.10.0"
    glyph = document.find(".//pc:Glyph", ns)  # the validator is not a rubber stamp: break the file
    glyph.remove(glyph.find("pc:Coords", ns))
    assert any("Coords" in problem for problem in validate(etree.ElementTree(document)))


# ---- alignment ------------------------------------------------------------------------------------------


def test_a_transcription_is_aligned_to_the_ocr_of_its_page_character_by_character():
    recorded = json.loads((FIXTURES / "siku_1.faster-paddle.json").read_text(encoding="utf-8"))
    page = lay_out([RawLine(line["text"], tuple(line["box"]), line["confidence"]) for line in recorded["lines"]],
                   recorded["width"], recorded["height"])
    ocr = page.body_text()
    truth = [line for line in (FIXTURES / "siku_1.gt.txt").read_text(encoding="utf-8").splitlines()
             if not line.startswith("<pb:")]
    lines = ["".join(c for c in line if c not in "()/¶　") for line in truth]
    result = align(lines, ocr)
    assert not result.sparse and result.cer <= 0.06
    reference = "".join(lines)
    matched = [(reference[i], ocr[j]) for i, j in enumerate(result.mapping) if j is not None]
    assert len(matched) >= 0.97 * len(reference)
    assert sum(a == b for a, b in matched) >= 0.93 * len(reference)
    # 𫝊 (a variant of 傳) in the transcription stands on the OCR's 傳 of the same 夹注
    position = reference.index("𫝊堯舜")
    assert ocr[result.mapping[position + 1]:result.mapping[position + 1] + 2] == "堯舜"


def test_a_few_headings_are_found_in_a_table_page_line_by_line():
    ocr = "三宮五度四十分欽定四庫全書七政推步卷二一宮三度初宮十度" * 3 + "日五星中行總年立成" + "七宮八度" * 40
    result = align(["欽定四庫全書", "七政推步卷二", "日五星中行总年立成"], ocr)
    assert result.sparse and result.cer == 0.0
    assert ocr[result.mapping[-1]] == "成"


# ---- the per-book run -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One book (the crop + a blank page) OCR'd with the default engine, read-only for the tests below."""
    catalogue = new_library(tmp_path_factory.mktemp("ocr-real"))
    seen = []
    report = ocr_book(catalogue, "qizheng", workers=1, editor="tester", progress=lambda d, t: seen.append((d, t)))
    yield catalogue, report, seen
    catalogue.close()


def test_a_run_stores_page_xml_machine_text_and_one_version(real_run):
    catalogue, report, seen = real_run
    assert report.read == 2 and report.version is not None and seen[0] == (0, 2) and seen[-1] == (2, 2)
    assert any("没有识别出文字" in warning for warning in report.warnings)  # the blank verso
    paths = set(catalogue.store.logical_paths("qizheng"))
    assert {"ocr/0001.page.xml", "ocr/0002.page.xml", "ocr/pages.json", "ocr/run.json", "ocr/quality.json"} <= paths
    for page in ("0001", "0002"):
        xml = etree.fromstring(catalogue.store.read_bytes("qizheng", f"ocr/{page}.page.xml"))
        assert validate(etree.ElementTree(xml)) == []
    text = json.loads(catalogue.store.read_bytes("qizheng", "text/pages.json"))
    assert [(e["page"], e["authority"]) for e in text["pages"]] == [("0001", "machine"), ("0002", "machine")]
    run = json.loads(catalogue.store.read_bytes("qizheng", "ocr/run.json"))
    assert run["engine"]["name"] == "faster-paddle" and run["engine"]["settings"] == {"det_max_side": 3000,
                                                                              "det_strip_pixels": DETECTION_PIXELS}
    assert catalogue.history("qizheng")[-1].reason.startswith("文字识别 OCR：2 页")


def test_page_text_places_every_machine_character_inside_its_line(real_run):
    catalogue, _, _ = real_run
    located = page_text(catalogue, "qizheng", "0001")
    assert located.authority == "machine" and located.to_json()["machine_label"] == "机器识别，未校对"
    assert "七政推步卷" in located.text
    for line, row in zip(located.lines, located.chars, strict=True):
        x, y, w, h = line["box"]
        for char in row:
            cx, cy, cw, ch = char.box
            assert x <= cx and y <= cy and cx + cw <= x + w and cy + ch <= y + h + 1


def test_machine_text_is_searchable_and_says_no_person_checked_it(real_run):
    from guji.search.indexer import Indexer
    from guji.search.service import Searcher

    catalogue, _, _ = real_run
    indexer = Indexer(catalogue, "whoosh")
    indexer.rebuild()
    indexer.close()
    searcher = Searcher(catalogue.home, "whoosh")
    _, pages = searcher.search_book("qizheng", "七政推步")  # 七政推歩 in the book: simplified query finds it
    searcher.close()
    assert [hit.page for hit in pages] == ["0001"]
    assert pages[0].to_json()["authority_note"] == "机器识别，未校对"
    # every matched character has its place on the page, and there its box (what Content Search draws)
    located = page_text(catalogue, "qizheng", "0001")
    match = pages[0].matches[0]
    assert len(match.places) == 4
    for (line, index), char in zip(match.places, match.text, strict=True):
        assert "".join(p[1] for p in located.lines[line]["pieces"])[index] == char
        assert located.chars[line][index] is not None


def test_places_of_a_note_skip_the_column_mark_and_count_from_the_line_start():
    from guji.search.documents import page_texts
    from guji.search.snippets import page_matches

    entry = {"lines": [{"pieces": [["text", "侯伯"], ["note", "傳堯舜/五行外"]]}]}
    fields = page_texts(entry)
    stored = {"texts": {name: {"text": t.text, "offsets": t.line_offsets, "lines": t.line_numbers,
                               "starts": t.line_starts} for name, t in fields.items() if t.text}}
    (match,) = page_matches(stored, {"text": [], "note": ["尧舜五行"]})
    assert match.text == "堯舜五行" and match.places == [(0, 3), (0, 4), (0, 6), (0, 7)]  # 侯伯傳堯舜/五行外


@pytest.fixture
def replay(monkeypatch):
    import ocr_support

    monkeypatch.setitem(ocr_engine.ENGINES, "replay", "ocr_support:ReplayEngine")
    monkeypatch.setitem(ocr_engine.ENGINES, "failing", "ocr_support:FailingEngine")
    ocr_support.ReplayEngine.calls = 0
    return ocr_support.ReplayEngine


def test_a_killed_run_keeps_its_pages_and_a_rerun_reads_only_what_is_missing(tmp_path, replay):
    from guji.ingest import ocr_run

    catalogue = new_library(tmp_path, pages=3)
    # a run killed after page 0001: its worker had cached the page, nothing was committed
    engine = open_engine("replay")
    digest = catalogue.store.digests("qizheng")["masters/0001.png"]
    cache = ocr_run._cache_dir(catalogue, "qizheng") / f"0001.{digest[:16]}.{engine.describe().key()}.json"
    read_page(ocr_run.PageTask("qizheng", "0001", str(catalogue.store.content_path("qizheng", "masters/0001.png")),
                               digest, str(cache), "七政推步", "a", "1a"), engine)
    head = catalogue.store.head("qizheng")
    replay.calls = 0
    report = ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    assert [p.action for p in report.pages] == ["cached", "read", "read"] and replay.calls == 2
    assert report.version == head + 1 and not cache.exists()
    again = ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    assert [p.action for p in again.pages] == ["skipped"] * 3 and again.version is None
    redo = ocr_book(catalogue, "qizheng", engine="replay", pages="0003", redo=True, workers=1)
    assert [(p.page, p.action) for p in redo.pages] == [("0003", "read")]
    replay.version = "2"  # a new engine version reads everything again
    try:
        assert [p.action for p in ocr_book(catalogue, "qizheng", engine="replay", workers=1).pages] == ["read"] * 3
    finally:
        replay.version = "1"
    catalogue.close()


def test_the_banxin_leaf_labels_pages_that_had_only_their_position(tmp_path, replay):
    catalogue = new_library(tmp_path)
    import ocr_support

    recorded = list(ocr_support.LINES)  # the strip of 版心 at the left edge of an a side: 书名 and leaf 一
    ocr_support.LINES.extend([RawLine("七政推步", (0, 600, 12, 160), 0.9), RawLine("一", (0, 850, 12, 40), 0.9)])
    try:
        ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    finally:
        ocr_support.LINES[:] = recorded
    structure = catalogue.structure("qizheng")
    assert [(p["page"], p["label"]) for p in structure["pages"]] == [("0001", "葉一a"), ("0002", "1b")]
    assert structure["pages"][0]["label_source"] == "ocr" and structure["pages"][0]["leaf"] == "1a"
    text = json.loads(catalogue.store.read_bytes("qizheng", "text/pages.json"))
    assert text["pages"][0]["label"] == "葉一a"
    # a re-ingest writes the default labels again; the next OCR run (nothing to read) restores them
    ingest_book(catalogue, tmp_path / "book", "qizheng", "test", workers=1)
    assert catalogue.structure("qizheng")["pages"][0]["label"] == "1a"
    report = ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    assert [p.action for p in report.pages] == ["skipped", "skipped"] and report.version is not None
    assert catalogue.structure("qizheng")["pages"][0]["label"] == "葉一a"
    catalogue.close()


def test_machine_text_never_replaces_a_persons_text(tmp_path, replay):
    catalogue = new_library(tmp_path)
    plain = tmp_path / "page1.txt"
    plain.write_text("欽定四庫全書\n七政推步卷二\n明貝琳編\n日五星中行總年立成\n", encoding="utf-8")
    import_text(catalogue, "qizheng", [plain], editor="test", text_format="plain")
    ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    text = json.loads(catalogue.store.read_bytes("qizheng", "text/pages.json"))
    assert [(e["page"], e["authority"]) for e in text["pages"]] == [("0001", "imported"), ("0002", "machine")]
    assert text["pages"][0]["lines"][0]["pieces"] == [["text", "欽定四庫全書"]]
    # the curated text gets the OCR's coordinates, and the agreement is stored
    located = page_text(catalogue, "qizheng", "0001")
    assert located.authority == "imported" and all(c is not None for row in located.chars for c in row)
    quality = json.loads(catalogue.store.read_bytes("qizheng", "ocr/quality.json"))
    assert quality["pages"][0]["page"] == "0001" and quality["pages"][0]["cer"] == 0.0
    report = ocr_quality(catalogue, "qizheng")
    assert [(p["page"], p["authority"], p["cer"]) for p in report["pages"]] == [("0001", "imported", 0.0),
                                                                              ("0002", "machine", None)]
    # 校对 of the machine page: a new version with the reason; corrected survives OCR and re-import
    located = page_text(catalogue, "qizheng", "0002")
    with pytest.raises(TextRefused, match="理由"):
        save_page_correction(catalogue, "qizheng", "0002", "此頁空白", editor="proofreader", reason=" ")
    saved = save_page_correction(catalogue, "qizheng", "0002", "此頁空白\n", editor="proofreader",
                                 reason="空白页，注明", expected_version=located.version)
    assert saved.version == located.version + 1
    with pytest.raises(StaleVersionError):
        save_page_correction(catalogue, "qizheng", "0002", "又改", editor="other", reason="冲突",
                             expected_version=located.version)
    assert "校对第 0002 页：空白页，注明" == catalogue.history("qizheng")[-1].reason
    ocr_book(catalogue, "qizheng", engine="replay", workers=1, redo=True)
    report = import_text(catalogue, "qizheng", [plain], editor="test", text_format="plain")
    assert any("保留了校对" in note for note in report.notes)
    text = json.loads(catalogue.store.read_bytes("qizheng", "text/pages.json"))
    assert [(e["page"], e["authority"]) for e in text["pages"]] == [("0001", "imported"), ("0002", "corrected")]
    assert text["pages"][1]["lines"] == [{"pieces": [["text", "此頁空白"]]}]
    catalogue.close()


def test_a_page_the_engine_cannot_read_is_reported_and_changes_nothing_stored(tmp_path, replay):
    catalogue = new_library(tmp_path)
    ocr_book(catalogue, "qizheng", engine="replay", workers=1)
    before = catalogue.store.read_bytes("qizheng", "ocr/0002.page.xml")
    report = ocr_book(catalogue, "qizheng", engine="failing", workers=1)
    assert [(p.page, p.action) for p in report.pages] == [("0001", "read"), ("0002", "failed")]
    assert "第 0002 页：OCR 引擎无法识别此页" in report.failed[0].problem
    assert catalogue.store.read_bytes("qizheng", "ocr/0002.page.xml") == before
    catalogue.close()


def test_bad_masters_are_made_readable_or_refused_with_a_message(tmp_path, monkeypatch):
    import pyvips

    from guji.ingest import ocr_image
    from guji.ingest.ocr_image import PageUnreadable, page_image

    grey16 = tmp_path / "grey16.tif"
    (pyvips.Image.black(200, 300) + 40000).cast("ushort").write_to_file(str(grey16))
    cmyk = tmp_path / "cmyk.tif"
    pyvips.Image.black(200, 300, bands=4).copy(interpretation="cmyk").write_to_file(str(cmyk))
    rgba = tmp_path / "rgba.png"
    pyvips.Image.black(200, 300, bands=4).write_to_file(str(rgba))
    for path in (grey16, cmyk, rgba):
        image, scale, warnings = page_image(path)
        assert (image.bands, image.format, scale, warnings) == (3, "uchar", 1.0, [])
    assert page_image(grey16)[0].avg() > 150  # 16-bit values scaled, not clipped
    monkeypatch.setattr(ocr_image, "MAX_PIXELS", 15_000)  # a "60-megapixel" page, cheaply
    image, scale, warnings = page_image(grey16)
    assert image.width * image.height <= 15_000 and scale < 1 and "缩小后识别" in warnings[0]
    broken = tmp_path / "broken.png"
    broken.write_bytes(rgba.read_bytes()[:200])
    with pytest.raises(PageUnreadable, match="母版图像无法解码"):
        page_image(broken)
    tiny = tmp_path / "tiny.png"
    pyvips.Image.black(10, 10).write_to_file(str(tiny))
    with pytest.raises(PageUnreadable, match="太小"):
        page_image(tiny)


def test_page_ranges():
    pages = [f"{n:04d}" for n in range(1, 13)]
    assert parse_pages("0002-0004,10", pages) == ["0002", "0003", "0004", "0010"]
    assert parse_pages(None, pages) == pages
    for bad in ("a-b", "5-2", "20-30", "1-999999"):
        with pytest.raises(OcrError, match="--pages"):
            parse_pages(bad, pages)


def test_cli_refuses_bad_pages_and_prints_the_quality_report(real_run):
    from typer.testing import CliRunner

    from guji.web.cli import root as app

    catalogue, _, _ = real_run
    runner = CliRunner(env={"COLUMNS": "250"})
    base = ["--home", str(catalogue.home.root)]
    bad = runner.invoke(app, [*base, "ocr", "qizheng", "--pages", "0009-0010"])
    assert bad.exit_code == 2 and "此书没有这些页" in bad.output and "Traceback" not in bad.output
    missing = runner.invoke(app, [*base, "ocr", "qizheng", "--engine", "tesseract"])
    assert missing.exit_code == 2 and "没有名为「tesseract」的 OCR 引擎" in missing.output  # a usage error
    report = runner.invoke(app, [*base, "ocr-report", "qizheng", "--json"])
    assert report.exit_code == 0, report.output
    pages = json.loads(report.stdout)["pages"]
    assert [(p["page"], p["authority"], p["engine"]) for p in pages] == [("0001", "machine", "faster-paddle"),
                                                                         ("0002", "machine", "faster-paddle")]
    table = runner.invoke(app, [*base, "ocr-report", "qizheng"])
    assert "机器识别，未校对" in table.stdout


def test_ingest_with_ocr_on_ingest_reads_the_new_book(tmp_path, replay, monkeypatch):
    from typer.testing import CliRunner

    from guji.web.cli import root as app

    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    catalogue.create(CARD, editor="test", reason="fixture")
    catalogue.close()
    monkeypatch.setenv("GUJI_OCR_ON_INGEST", "1")
    monkeypatch.setenv("GUJI_OCR_ENGINE", "replay")
    result = CliRunner().invoke(app, ["--home", str(home.root), "ingest", str(make_book(tmp_path / "book")),
                                      "--id", "qizheng", "--workers", "1", "--editor", "test"])
    assert result.exit_code == 0, result.output
    assert "qizheng：识别 2 页" in result.stdout
    catalogue = Catalogue.open(home)
    assert "ocr/0001.page.xml" in catalogue.store.logical_paths("qizheng")
    assert catalogue.events("qizheng", limit=1)[0].kind == "ocr"
    catalogue.close()
    skipped = CliRunner().invoke(app, ["--home", str(home.root), "ingest", str(tmp_path / "book"), "--id", "qizheng",
                                       "--workers", "1", "--no-ocr"])
    assert skipped.exit_code == 0 and "识别" not in skipped.stdout
