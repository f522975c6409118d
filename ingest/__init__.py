"""Scans → preserved masters in OCFL + static IIIF derivatives (tiles, sizes, thumbnails)."""

from .pages import DEFAULT_PIXEL_LIMIT, BookRefused, BookScan, PageScan, scan_book
from .pipeline import IngestError, IngestReport, ingest_book, rebuild_tiles

__all__ = [
    "DEFAULT_PIXEL_LIMIT",
    "BookRefused",
    "BookScan",
    "IngestError",
    "IngestReport",
    "PageScan",
    "ingest_book",
    "rebuild_tiles",
    "scan_book",
]
