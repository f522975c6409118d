"""A hot folder: `guji watch INCOMING_DIR` ingests each book folder once a `READY` marker appears
in it, then moves the folder to `INCOMING_DIR/done/` or `INCOMING_DIR/failed/` with its report.

The card id is the first line of `READY`, or the folder name when `READY` is empty. A folder is
only moved after its ingest finished, so a watcher killed mid-ingest simply ingests the folder
again next time (ingest is idempotent and resumes).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from repository import Catalogue, GujiError

from .pages import DEFAULT_PIXEL_LIMIT
from .pipeline import Progress, ingest_book

READY = "READY"
DONE = "done"
FAILED = "failed"
REPORT_NAME = "ingest-report.json"
ERRORS_NAME = "ERRORS.txt"


@dataclass
class WatchOutcome:
    folder: str
    card_id: str
    status: str  # done or failed
    moved_to: Path
    message: str


def ready_folders(incoming: Path) -> list[Path]:
    """Book folders with a READY marker, in name order."""
    if not incoming.is_dir():
        return []
    return sorted(
        entry for entry in incoming.iterdir()
        if entry.is_dir() and entry.name not in (DONE, FAILED) and not entry.name.startswith(".")
        and (entry / READY).is_file()
    )


def card_id_of(folder: Path) -> str:
    lines = [line.strip() for line in (folder / READY).read_text(encoding="utf-8-sig").splitlines()]
    return next((line for line in lines if line), folder.name)


def _move(folder: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    target = destination / folder.name
    if target.exists():
        target = destination / f"{folder.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    os.rename(folder, target)
    return target


def _ocr(catalogue: Catalogue, card_id: str, editor: str, workers: int | None) -> str:
    """With GUJI_OCR_ON_INGEST, OCR the book just ingested; a failure is told, the scans stay stored."""
    from .ocr_run import ocr_book

    if not catalogue.settings.ocr_on_ingest:
        return ""
    try:
        report = ocr_book(catalogue, card_id, workers=workers, editor=editor)
    except GujiError as error:
        return f"; OCR 未完成：{error}"
    return f"; OCR {report.read} 页" + (f"，{len(report.failed)} 页失败" if report.failed else "")


def process_ready(
    catalogue: Catalogue, incoming: Path, editor: str, workers: int | None = None,
    pixel_limit: int = DEFAULT_PIXEL_LIMIT, progress: Progress | None = None,
    announce: Callable[[WatchOutcome], None] | None = None,
) -> list[WatchOutcome]:
    """Ingest every ready book folder once; returns what happened to each."""
    outcomes = []
    for folder in ready_folders(Path(incoming)):
        card_id = card_id_of(folder)
        try:
            report = ingest_book(catalogue, folder, card_id, editor, workers=workers, progress=progress,
                                 pixel_limit=pixel_limit)
        except GujiError as error:  # refused scans, no such card, a busy book …: the folder goes to failed/
            moved = _move(folder, Path(incoming) / FAILED)
            (moved / ERRORS_NAME).write_text(str(error) + "\n", encoding="utf-8")
            report_path = getattr(error, "report_path", None)
            if report_path:
                shutil.copyfile(report_path, moved / REPORT_NAME)
            outcome = WatchOutcome(folder.name, card_id, FAILED, moved, str(error))
        else:
            moved = _move(folder, Path(incoming) / DONE)
            shutil.copyfile(report.path, moved / REPORT_NAME)
            stored = f"stored as v{report.version}" if report.version else "nothing new to store"
            outcome = WatchOutcome(folder.name, card_id, DONE, moved, f"{len(report.pages)} pages, {stored}"
                                   + _ocr(catalogue, card_id, editor, workers))
        outcomes.append(outcome)
        if announce:
            announce(outcome)
    return outcomes


def watch(
    catalogue: Catalogue, incoming: Path, editor: str, *, interval: float = 10.0, once: bool = False,
    **options,
) -> list[WatchOutcome]:
    """Poll `incoming` every `interval` seconds (or only once) and ingest ready book folders."""
    outcomes = []
    while True:
        outcomes.extend(process_ready(catalogue, incoming, editor, **options))
        if once:
            return outcomes
        time.sleep(interval)
