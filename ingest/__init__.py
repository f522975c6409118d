"""Scans → preserved masters in OCFL + static IIIF derivatives (tiles, sizes, thumbnails); text import;
OCR of the scans and the book's text by authority (imported, corrected, machine)."""

from .ocr_engine import DEFAULT_ENGINE, ENGINES, OcrEngineUnavailable
from .ocr_run import OcrError, OcrReport, ocr_book, ocr_quality
from .pages import DEFAULT_PIXEL_LIMIT, BookRefused, BookScan, PageScan, scan_book
from .pipeline import IngestError, IngestReport, ingest_book, rebuild_tiles
from .text_layers import (
    MACHINE_LABEL,
    OCR_PAGES_FILE,
    QUALITY_FILE,
    RUN_FILE,
    CorrectionResult,
    Located,
    PageText,
    page_text,
    page_xml_path,
    save_page_correction,
)
from .text_model import PAGES_FILE, TextRefused

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_PIXEL_LIMIT",
    "ENGINES",
    "MACHINE_LABEL",
    "OCR_PAGES_FILE",
    "PAGES_FILE",
    "QUALITY_FILE",
    "RUN_FILE",
    "BookRefused",
    "BookScan",
    "CorrectionResult",
    "IngestError",
    "IngestReport",
    "Located",
    "OcrEngineUnavailable",
    "OcrError",
    "OcrReport",
    "PageScan",
    "PageText",
    "TextRefused",
    "ingest_book",
    "ocr_book",
    "ocr_quality",
    "page_text",
    "page_xml_path",
    "rebuild_tiles",
    "save_page_correction",
    "scan_book",
]
