"""The default OCR engine: faster-paddle (PP-OCRv6 small, Rust + ONNX Runtime, MIT).

Its tiny and small models are compiled into the extension, so nothing is downloaded; ``medium``
would be downloaded on first use and is therefore never asked for. It gives line boxes (axis-
aligned) and a confidence per line, no character boxes.
"""

from __future__ import annotations

from importlib.metadata import version

from .ocr_engine import DETECTION_MAX_SIDE, EngineDescription, RawLine
from .ocr_tiles import DETECTION_PIXELS

MODEL = "small"  # PP-OCRv6 small (bundled); "medium" would download, "tiny" misses rare characters


class FasterPaddleEngine:
    name = "faster-paddle"

    def __init__(self, threads: int = 1, max_side: int = DETECTION_MAX_SIDE):
        import faster_paddle

        self.threads = threads
        self.max_side = max_side  # pages larger than DETECTION_PIXELS are read in strips (ocr_tiles)
        self.engine = faster_paddle.OcrEngine(model_size=MODEL, threads=threads, det_max_side=self.max_side)

    @classmethod
    def description(cls, max_side: int = DETECTION_MAX_SIDE) -> EngineDescription:
        """What :meth:`describe` says, without loading the model."""
        return EngineDescription(cls.name, version("faster-paddle"), f"PP-OCRv6 {MODEL} (bundled in the wheel)",
                                 {"det_max_side": max_side, "det_strip_pixels": DETECTION_PIXELS})

    def describe(self) -> EngineDescription:
        return self.description(self.max_side)

    def recognise(self, image) -> list[RawLine]:
        """`image`: a pyvips image (a page or a strip of it), 8-bit sRGB; handed over as an uncompressed
        TIFF (no PNG encoding)."""
        result = self.engine.ocr(image.tiffsave_buffer(compression="none"))
        lines = []
        for _, bound in sorted(result.get("bounds", {}).items()):
            (x0, y0), (x1, y1) = bound["topLeftCoord"], bound["bottomRightCoord"]
            text = (bound.get("text") or "").strip()
            if text and x1 > x0 and y1 > y0:
                lines.append(RawLine(text, (int(x0), int(y0), int(x1 - x0), int(y1 - y0)),
                                     float(bound.get("confidence") or 0.0)))
        return lines
