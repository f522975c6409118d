"""A hot folder: `guji watch INCOMING_DIR` ingests each book folder once a `READY` marker appears
in it, then moves the folder to `INCOMING_DIR/done/` or `INCOMING_DIR/failed/` with its report.

The card id is the first line of `READY`, or the folder name when `READY` is empty. A folder is
only moved after its ingest finished, so a watcher killed mid-ingest simply ingests the folder
again next time (ingest is idempotent and resumes). :func:`file_book` — ingest one folder, then
move it — is shared with the ingest jobs of the staff workspace (web/staff/jobs.py); a folder that
holds nothing but one zip (an upload from the browser) is unpacked first (:func:`unpack_zip`).
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from guji.repository import Catalogue, GujiError
from guji.repository.safe_archive import ArchiveLimits, ArchiveRefused, extract_zip

from .pages import DEFAULT_PIXEL_LIMIT, SILENTLY_IGNORED
from .pipeline import IngestReport, Progress, ingest_book

READY = "READY"
DONE = "done"
FAILED = "failed"
REPORT_NAME = "ingest-report.json"
ERRORS_NAME = "ERRORS.txt"
UNPACK_RESERVE = 2**30  # left free on the disk after unpacking a zip


@dataclass
class WatchOutcome:
    folder: str
    card_id: str
    status: str  # done or failed
    moved_to: Path
    message: str
    report: IngestReport | None = None  # done
    error: Exception | None = None  # failed: the GujiError that refused it (BookRefused, ArchiveRefused …)


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


def scan_zip_limits(file_bytes: int, book_bytes: int) -> ArchiveLimits:
    """What a zip of page scans may hold: `file_bytes` a member, `book_bytes` in all."""
    return ArchiveLimits(
        members=10_000, member_bytes=file_bytes, total_bytes=book_bytes, ratio=200, scan_xml=False,
        zip_note="", not_this="请分册打包", unlock="请不加密重新打包", remedy="请重新打包（zip 格式）后上传")


def _not_content(parts: tuple[str, ...]) -> bool:
    """Members left out of an unpacked book: macOS resource forks and hidden files."""
    return parts[0] == "__MACOSX" or any(part.startswith(".") for part in parts)


def unpack_zip(folder: Path, limits: ArchiveLimits) -> bool:
    """If `folder` holds nothing but one zip, unpack it there (a single top folder inside the zip is
    left out) and remove the zip; ArchiveRefused when the zip is unsafe (nothing is unpacked then)."""
    if not folder.is_dir():
        return False  # the ingest says that the folder is missing
    entries = [entry for entry in folder.iterdir()
               if not entry.name.startswith(".") and entry.name not in SILENTLY_IGNORED]
    if len(entries) != 1 or not entries[0].is_file() or entries[0].suffix.lower() != ".zip":
        return False
    archive = entries[0]
    staging = folder / ".unpacking"
    shutil.rmtree(staging, ignore_errors=True)  # from an unpacking that was killed
    try:
        with zipfile.ZipFile(archive) as opened:
            declared = sum(member.file_size for member in opened.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        declared = 0  # extract_zip names what is wrong with it
    free = shutil.disk_usage(folder).free
    if declared + UNPACK_RESERVE > free:
        raise ArchiveRefused(f"{archive.name}: 解压需要 {declared / 2**30:.1f} GB，磁盘只剩 {free / 2**30:.1f} GB"
                             "（另需留 1 GB 余量）；请先清理磁盘")
    extract_zip(archive, archive.name, staging, limits, skip=_not_content)
    inside = list(staging.iterdir())
    top = inside[0] if len(inside) == 1 and inside[0].is_dir() else staging
    clashes = [entry.name for entry in top.iterdir() if (folder / entry.name).exists()]
    if clashes:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveRefused(f"{archive.name}: 其中的 {clashes[0]} 与压缩包本身或 READY 同名；请改名后重新打包")
    for entry in top.iterdir():
        os.rename(entry, folder / entry.name)
    shutil.rmtree(staging, ignore_errors=True)
    archive.unlink()
    return True


def file_book(
    catalogue: Catalogue, folder: Path, card_id: str, editor: str, incoming: Path, *,
    workers: int | None = None, pixel_limit: int = DEFAULT_PIXEL_LIMIT, progress: Progress | None = None,
    zip_limits: ArchiveLimits | None = None,
) -> WatchOutcome:
    """Ingest one book folder of `incoming`, then move it to `incoming/done/` (with its report) or,
    when it is refused, to `incoming/failed/` (with ERRORS.txt and the report). An unexpected error
    leaves the folder where it is, to be ingested again."""
    try:
        if zip_limits is not None:
            unpack_zip(folder, zip_limits)
        report = ingest_book(catalogue, folder, card_id, editor, workers=workers, progress=progress,
                             pixel_limit=pixel_limit)
    except GujiError as error:  # refused scans or zip, no such card, a busy book …: the folder goes to failed/
        return file_failed(folder, card_id, incoming, error)
    return file_done(folder, card_id, incoming, report)


def file_failed(folder: Path, card_id: str, incoming: Path, error: GujiError) -> WatchOutcome:
    """Move a refused book folder to `incoming/failed/` with ERRORS.txt and the report."""
    if not folder.is_dir():  # gone before its ingest started: nothing to move
        return WatchOutcome(folder.name, card_id, FAILED, folder, str(error), error=error)
    moved = _move(folder, Path(incoming) / FAILED)
    (moved / ERRORS_NAME).write_text(str(error) + "\n", encoding="utf-8")
    report_path = getattr(error, "report_path", None)
    if report_path:
        shutil.copyfile(report_path, moved / REPORT_NAME)
    return WatchOutcome(folder.name, card_id, FAILED, moved, str(error), error=error)


def file_done(folder: Path, card_id: str, incoming: Path, report: IngestReport) -> WatchOutcome:
    """Move an ingested book folder to `incoming/done/` with its report (already moved: a queue's retry)."""
    moved = _move(folder, Path(incoming) / DONE) if folder.is_dir() else Path(incoming) / DONE / folder.name
    if moved.is_dir():
        shutil.copyfile(report.path, moved / REPORT_NAME)
    stored = f"stored as v{report.version}" if report.version else "nothing new to store"
    return WatchOutcome(folder.name, card_id, DONE, moved, f"{len(report.pages)} pages, {stored}", report=report)


def process_ready(
    catalogue: Catalogue, incoming: Path, editor: str, workers: int | None = None,
    pixel_limit: int = DEFAULT_PIXEL_LIMIT, progress: Progress | None = None,
    announce: Callable[[WatchOutcome], None] | None = None,
) -> list[WatchOutcome]:
    """Ingest every ready book folder once; returns what happened to each."""
    outcomes = []
    for folder in ready_folders(Path(incoming)):
        card_id = card_id_of(folder)
        outcome = file_book(catalogue, folder, card_id, editor, Path(incoming), workers=workers,
                            pixel_limit=pixel_limit, progress=progress)
        if outcome.status == DONE:
            outcome.message += _ocr(catalogue, card_id, editor, workers)
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
