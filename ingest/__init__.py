"""Scans → preserved masters in OCFL + static IIIF derivatives (tiles, sizes, thumbnails); text import;
OCR of the scans and the book's text by authority (imported, corrected, machine).

The names below load on first use (the pipeline imports pyvips, OCR its engines), so that the
`guji` commands of other packages start fast."""

from guji.repository.lazy import lazy_names

_LAZY = {
    "DEFAULT_ENGINE": "ocr_engine", "ENGINES": "ocr_engine", "OcrEngineUnavailable": "ocr_engine",
    "OcrError": "ocr_run", "OcrReport": "ocr_run", "ocr_book": "ocr_run", "ocr_quality": "ocr_run",
    "BookRefused": "pages", "BookScan": "pages", "DEFAULT_PIXEL_LIMIT": "pages", "PageScan": "pages",
    "scan_book": "pages", "IngestError": "pipeline", "IngestReport": "pipeline", "ingest_book": "pipeline",
    "rebuild_tiles": "pipeline", "CorrectionResult": "text_layers", "Located": "text_layers",
    "MACHINE_LABEL": "text_layers", "OCR_PAGES_FILE": "text_layers", "PageText": "text_layers",
    "QUALITY_FILE": "text_layers", "RUN_FILE": "text_layers", "page_text": "text_layers",
    "page_xml_path": "text_layers", "save_page_correction": "text_layers", "PAGES_FILE": "text_model",
    "TextRefused": "text_model",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_names(__name__, _LAZY)
