"""Test engines for the OCR seam: one that replays fixed lines, one that fails on a page.

They are registered in `ingest.ocr_engine.ENGINES` by the tests (monkeypatch) and run in-process
(workers=1), so a test of the run's bookkeeping costs no OCR. The real engines are tested on a
real crop in tests/test_ocr.py.
"""

from __future__ import annotations

from pathlib import Path

from guji.ingest.ocr_engine import EngineDescription, RawLine

# 欽定四庫全書 / 七政推步卷二 on a 430×1400 crop, as faster-paddle read the fixture crop
LINES = [RawLine("欽定四庫全書", (310, 25, 100, 430), 0.99), RawLine("七政推步卷二", (210, 77, 104, 398), 0.97),
         RawLine("明", (125, 795, 81, 76), 1.0), RawLine("貝琳", (119, 912, 87, 162), 1.0),
         RawLine("編", (121, 1136, 87, 87), 1.0), RawLine("日五星中行總年立成", (15, 19, 98, 608), 0.98)]


class ReplayEngine:
    name = "replay"
    calls = 0
    version = "1"

    def __init__(self, threads: int = 1, max_side: int = 3000):
        self.threads = threads

    def describe(self) -> EngineDescription:
        return EngineDescription(self.name, type(self).version, "recorded lines", {"threads": "any"})

    def recognise(self, image) -> list[RawLine]:
        type(self).calls += 1
        if image.avg() > 250:  # a blank page
            return []
        scale_x, scale_y = image.width / 430, image.height / 1400
        return [RawLine(line.text, (round(line.box[0] * scale_x), round(line.box[1] * scale_y),
                                    round(line.box[2] * scale_x), round(line.box[3] * scale_y)), line.confidence)
                for line in LINES]


class FailingEngine(ReplayEngine):
    name = "failing"

    def recognise(self, image) -> list[RawLine]:
        if image.avg() > 250:
            raise RuntimeError("model crashed on this page")
        return super().recognise(image)


class BrokenEngine:
    def __init__(self, threads: int = 1, max_side: int = 3000):
        raise RuntimeError("onnxruntime: model file is corrupt")


# ---- a real page's OCR, replayed: 七政推步 卷二 葉一a as rapidocr read it -------------------------------------

QIZHENG_PAGE_XML = Path(__file__).parent / "fixtures" / "ocr" / "qizheng_0001.rapidocr.page.xml"
QIZHENG_SIZE = (1217, 1650)  # samples/scans/qizheng-tuibu/06054854.cn_page_110.png


def recorded_lines(path: Path = QIZHENG_PAGE_XML) -> list[RawLine]:
    """The lines (with character boxes and confidences) of a PAGE-XML file `guji ocr` wrote."""
    from guji.ingest.ocr_pagexml import read_page_xml

    layout = read_page_xml(path.read_bytes())
    return [RawLine(line.text, line.box, line.confidence, [glyph.box for glyph in line.glyphs],
                    [glyph.confidence for glyph in line.glyphs]) for line in layout.lines()]


class PageXmlReplayEngine(ReplayEngine):
    """Gives, for the sample scan of 葉一a (1217×1650), the lines rapidocr 3.10 read on it (committed
    PAGE-XML, tests/fixtures/ocr/SOURCES.md); nothing for any other page. No model is loaded."""

    name = "pagexml-replay"

    def describe(self) -> EngineDescription:
        return EngineDescription(self.name, type(self).version, "rapidocr 3.10.0 output, recorded", {})

    def recognise(self, image) -> list[RawLine]:
        type(self).calls += 1
        return recorded_lines() if (image.width, image.height) == QIZHENG_SIZE else []


SAMPLES = Path(__file__).resolve().parents[1] / "samples"
QIZHENG = "qizheng-tuibu"  # the sample: 9 scans (卷二 葉一上–五上) and its Kanripo text of 卷二
MACHINE_BOOK = "qizheng-ocr"  # its first scan alone, with machine text only
MACHINE_CARD = {"id": MACHINE_BOOK, "record_type": "guji",
                "edition": {"title": "七政推步", "responsibility_raw": "（明）貝琳編"}}


def replayed_ocr(catalogue, book_id: str) -> None:
    """OCR of scan 0001 with the recorded rapidocr lines (PageXmlReplayEngine): the real layout,
    PAGE-XML, text layers and alignment, without a model."""
    from guji.ingest import ocr_book, ocr_engine

    ocr_engine.ENGINES[PageXmlReplayEngine.name] = "ocr_support:PageXmlReplayEngine"
    try:
        ocr_book(catalogue, book_id, engine=PageXmlReplayEngine.name, pages="0001", workers=1, editor="识别")
    finally:
        del ocr_engine.ENGINES[PageXmlReplayEngine.name]


def build_text_library(root: Path, *, index: bool = True):
    """A data home with the sample 七政推步 (scans, the Kanripo text — a person's — and OCR of 葉一a,
    so the text has the OCR's coordinates) and `qizheng-ocr` (葉一a with machine text only); indexed
    by the default backend unless `index` is False. Returns the Home."""
    import json
    import shutil

    from guji.ingest import ingest_book
    from guji.ingest.text_import import import_text
    from guji.repository import Catalogue, Home

    home = Home.resolve(root / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    try:
        cards = {card["id"]: card for card in json.loads((SAMPLES / "cards.json").read_text(encoding="utf-8"))}
        catalogue.create(cards[QIZHENG], editor="编目员", reason="示例")
        catalogue.create(MACHINE_CARD, editor="编目员", reason="测试")
        ingest_book(catalogue, SAMPLES / "scans" / QIZHENG, QIZHENG, "数字化员", workers=1)
        import_text(catalogue, QIZHENG, [SAMPLES / "texts" / "KR3f0006_002.txt"], editor="编目员")
        replayed_ocr(catalogue, QIZHENG)
        single = root / "single-leaf"
        single.mkdir()
        structure = json.loads((SAMPLES / "scans" / QIZHENG / "structure.json").read_text(encoding="utf-8"))
        first = structure["pages"][0]
        shutil.copyfile(SAMPLES / "scans" / QIZHENG / first["file"], single / first["file"])
        (single / "structure.json").write_text(json.dumps({"pages": [first]}, ensure_ascii=False), encoding="utf-8")
        ingest_book(catalogue, single, MACHINE_BOOK, "数字化员", workers=1)
        replayed_ocr(catalogue, MACHINE_BOOK)
        if index:
            from guji.search.indexer import Indexer

            indexer = Indexer(catalogue)
            indexer.rebuild()
            indexer.close()
    finally:
        catalogue.close()
    return home
