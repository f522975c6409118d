"""The OCR engine seam: one small protocol, two engines whose models ship inside their wheels.

An engine takes one page image (8-bit sRGB, a pyvips image) and returns the text lines it found,
each with its box in the image's pixels, a confidence and — when the engine gives them — one box
per character. Reading order, 版心, 夹注 and 眉批 are not the engine's business
(:mod:`ingest.ocr_layout` rebuilds them), nor is the master's colour space or size
(:mod:`ingest.ocr_image`), nor the size of what its detector sees at once: an engine that declares
``max_side`` (its detector's long side) is given a large page in strips (:mod:`ingest.ocr_tiles`).

Engines (``--engine`` / ``GUJI_OCR_ENGINE``):

- ``faster-paddle`` (default): PP-OCRv6 small in Rust + ONNX Runtime (MIT). Line boxes and
  confidences; character boxes are placed along the line by :func:`ingest.ocr_layout.place_characters`.
- ``rapidocr``: PP-OCRv6 small through onnxruntime and OpenCV (Apache-2.0); gives a box per character.

Both are tuned for 古籍 pages (detection at up to 3000 px on the long side; the defaults of 1600
and 2000 px miss whole columns of small 夹注 characters). Why faster-paddle is the default: docs/ocr.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module
from typing import Protocol, runtime_checkable

from guji.repository.errors import Unavailable
from guji.repository.settings import Settings, current

Box = tuple[int, int, int, int]  # x, y, w, h

ENGINES = {
    "faster-paddle": "guji.ingest.ocr_faster_paddle:FasterPaddleEngine",
    "rapidocr": "guji.ingest.ocr_rapid:RapidOcrEngine",
}
DEFAULT_ENGINE = "faster-paddle"


class OcrEngineUnavailable(Unavailable):
    """The engine is not installed or its model cannot be loaded (one message, nothing was stored)."""


@dataclass
class RawLine:
    """One text line as an engine read it, in the pixels of the image it was given."""

    text: str
    box: Box
    confidence: float
    chars: list[Box] | None = None  # one box per character of `text`, when the engine gives them
    char_confidences: list[float] | None = None


@dataclass
class EngineDescription:
    name: str
    version: str
    model: str
    settings: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "model": self.model, "settings": self.settings}

    def key(self) -> str:
        """What decides whether a page must be read again: engine, version, model, settings."""
        import hashlib
        import json

        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()[:16]


@runtime_checkable
class OcrEngine(Protocol):
    name: str

    def describe(self) -> EngineDescription:
        """Engine, version, model and settings, as recorded with every page it reads."""

    def recognise(self, image) -> list[RawLine]:
        """The text lines of `image` (a pyvips image, 8-bit sRGB: a page or a strip of it), in no particular order."""


# Long side of the image the detector sees (GUJI_OCR_MAX_SIDE, 1000–6000; default 3000: the engines'
# own defaults, 1600 and 2000, miss columns of small 夹注 characters). Accuracy on small characters
# grows with it (siku_1: CER 0.034 at 3000, 0.045 at 2400), and so does time; memory does not: a page
# whose detector image would be large is read in strips (ingest.ocr_tiles).
DETECTION_MAX_SIDE = 3000


def engine_name(name: str | None = None, settings: Settings | None = None) -> str:
    chosen = (name or (settings or current()).ocr_engine or DEFAULT_ENGINE).strip().lower()
    if chosen not in ENGINES:
        raise OcrEngineUnavailable(f"没有名为 {chosen!r} 的 OCR 引擎（--engine / GUJI_OCR_ENGINE）：可用的有 "
                                   f"{'、'.join(ENGINES)}")
    return chosen


def _engine_class(chosen: str) -> type:
    module_name, class_name = ENGINES[chosen].split(":")
    try:
        return getattr(import_module(module_name), class_name)
    except ImportError as error:
        raise _not_installed(chosen, error) from None


def _not_installed(chosen: str, error: ImportError) -> OcrEngineUnavailable:
    return OcrEngineUnavailable(f"OCR 引擎 {chosen} 没有安装（{error.name or error}）：请运行 make install "
                                "（或 pip install -e .）后再试")


def describe_engine(name: str | None = None, max_side: int | None = None) -> EngineDescription:
    """What engine `name` records with every page it reads — without loading its models when the engine
    can say it beforehand (a ``description`` class method), so a run's parent process stays small."""
    settings = current() if name is None or max_side is None else None
    chosen = engine_name(name, settings)
    max_side = max_side or settings.ocr_max_side
    engine_class = _engine_class(chosen)
    if hasattr(engine_class, "description"):
        return engine_class.description(max_side)
    return open_engine(chosen, max_side=max_side).describe()


def open_engine(name: str | None = None, threads: int = 1, max_side: int | None = None) -> OcrEngine:
    """Load engine `name` (models from its wheel) with `threads` CPU threads, detecting text on
    images of `max_side` pixels at most (default: GUJI_OCR_MAX_SIDE).

    Raises :class:`OcrEngineUnavailable` with one message a person can act on."""
    settings = current() if name is None or max_side is None else None
    chosen = engine_name(name, settings)
    engine_class = _engine_class(chosen)
    try:
        return engine_class(threads=max(1, threads), max_side=max_side or settings.ocr_max_side)
    except OcrEngineUnavailable:
        raise
    except ImportError as error:
        raise _not_installed(chosen, error) from None
    except Exception as error:  # noqa: BLE001 - a model that fails to load, whatever the library raises
        raise OcrEngineUnavailable(f"OCR 引擎 {chosen} 无法加载模型（{type(error).__name__}: "
                                   f"{str(error).splitlines()[0][:200] if str(error) else ''}）；请重新安装："
                                   "make install") from None
