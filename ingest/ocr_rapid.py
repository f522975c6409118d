"""The second OCR engine: RapidOCR (PP-OCRv6 small through onnxruntime and OpenCV, Apache-2.0).

The PP-OCRv6 small detection and recognition models ship inside the ``rapidocr`` wheel (and the
PP-OCRv4 direction classifier); nothing is downloaded. It gives a quadrilateral per line and a
box per character (``return_single_char_box``).
"""

from __future__ import annotations

import logging
from importlib.metadata import version

from .ocr_engine import DETECTION_MAX_SIDE, EngineDescription, RawLine
from .ocr_tiles import DETECTION_PIXELS

# Detection tuned on 古籍 pages (RapidOCR's defaults — thresh 0.3, box 0.5, unclip 1.6, max side
# 2000 — merge neighbouring columns and miss small characters); the max side is GUJI_OCR_MAX_SIDE's.
# (ImageNet mean/std for the detector, no dilation, no enlarging of narrow strips were tried: siku_1
# read whole improved, 0.068 → 0.034, but book7 read whole fell apart, 0.023 → 0.47; in strips
# siku_1 is 0.058 either way: docs/ocr.md.)
SETTINGS = {"Det.thresh": 0.2, "Det.box_thresh": 0.45, "Det.unclip_ratio": 1.4}


def _box(points) -> tuple[int, int, int, int]:
    xs = [float(p[0]) for p in points]
    ys = [float(p[1]) for p in points]
    return int(min(xs)), int(min(ys)), max(1, int(max(xs) - min(xs))), max(1, int(max(ys) - min(ys)))


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int = 1, max_side: int = DETECTION_MAX_SIDE):
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self.max_side = max_side  # pages larger than DETECTION_PIXELS are read in strips (ocr_tiles)
        self.engine = RapidOCR(params={
            "Global.max_side_len": self.max_side, **SETTINGS,
            "Global.return_word_box": True, "Global.return_single_char_box": True,
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    @classmethod
    def description(cls, max_side: int = DETECTION_MAX_SIDE) -> EngineDescription:
        """What :meth:`describe` says, without loading the models."""
        settings = {"max_side_len": max_side, **{key.split(".", 1)[1]: value for key, value in
                                                              SETTINGS.items()}, "det_strip_pixels": DETECTION_PIXELS}
        return EngineDescription(cls.name, version("rapidocr"), "PP-OCRv6 small det + rec (bundled in the wheel)",
                                 settings)

    def describe(self) -> EngineDescription:
        return self.description(self.max_side)

    def recognise(self, image) -> list[RawLine]:
        """`image`: a pyvips image (a page or a strip of it), 8-bit sRGB (RapidOCR wants a BGR array)."""
        array = image.numpy()[:, :, ::-1].copy()
        result = self.engine(array)
        lines = []
        words = result.word_results if result.word_results and len(result.word_results) == len(result) else None
        for index in range(len(result)):
            text = (result.txts[index] or "").strip()
            if not text:
                continue
            line = RawLine(text, _box(result.boxes[index]), float(result.scores[index]))
            characters = [w for w in (words[index] if words else ()) if w and w[2] is not None]
            if characters and "".join(str(w[0]) for w in characters) == text:
                line.chars = [_box(w[2]) for w in characters]
                line.char_confidences = [float(w[1]) for w in characters]
            lines.append(line)
        return lines
