"""Test engines for the OCR seam: one that replays fixed lines, one that fails on a page.

They are registered in `ingest.ocr_engine.ENGINES` by the tests (monkeypatch) and run in-process
(workers=1), so a test of the run's bookkeeping costs no OCR. The real engines are tested on a
real crop in tests/test_ocr.py.
"""

from __future__ import annotations

from ingest.ocr_engine import EngineDescription, RawLine

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
