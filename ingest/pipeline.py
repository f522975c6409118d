"""Ingest one book folder: page scans → masters in the book's OCFL object + IIIF derivatives.

Order of work, and why it is safe to kill at any moment:

1. **check** every file (:func:`ingest.pages.scan_book`) — bad input is refused before any work;
2. **per page, in parallel processes**: the master is copied into ``derivatives/<ID>/.pending/``
   — a hidden folder that is never served — and hashed in the same read (sha512, plus the vendor's
   md5/sha256); the vendor checksum is compared; then the derivatives are made, decoded fully with
   ``fail_on="error"`` (a corrupt or truncated scan is refused here), into the same hidden
   folder, each page renamed into place whole;
3. if any page failed: refuse; nothing is stored, nothing served changes, and the run's work in
   ``.pending/`` is removed (a card given with ``--card`` is only created after this point);
4. **one OCFL version** with the masters that changed, ``structure.json`` and the run's report
   (``reports/ingest-<time>.json``). The copies made in step 2 are moved into the version with
   their digests (:class:`repository.PreparedFile`), so the parent reads no master again; the
   store fsyncs them before the version becomes visible, and its commit is crash-safe on its own;
5. **publish**: each page folder is renamed from ``.pending/`` to ``derivatives/<ID>/<0001>/``.

A killed run leaves at most hidden ``.pending`` folders; the next run reuses those whose master
digest matches, skips pages already stored and published, and finishes the rest. Tiles are only
published for masters already stored.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from guji.repository import (
    CardNotFound,
    Catalogue,
    Conflict,
    Damaged,
    GujiError,
    InvalidInput,
    NotFound,
    PreparedFile,
    atomic_files,
)
from guji.repository.catalogue import STRUCTURE_FILE

from .derivatives import DEFAULT_SIZES, clean_leftovers, publish
from .page_work import PageResult, PageTask, _worker_init, process_page
from .pages import DEFAULT_PIXEL_LIMIT, BookRefused, BookScan, PageScan, scan_book
from .shared_tiles import share_book

PENDING = ".pending"
Progress = Callable[[int, int], None]


class IngestError(GujiError):
    """An ingest or tile rebuild that cannot be done; nothing was changed."""


class IngestBusy(IngestError, Conflict):
    """Another ingest, OCR run or tile rebuild of the book is running."""


@dataclass
class IngestReport:
    object_id: str
    path: Path  # the JSON report staff can open
    version: int | None  # the OCFL version written, None when nothing was new
    pages: list[PageResult]
    warnings: list[str]
    seconds: float

    @property
    def built(self) -> int:
        return sum(1 for page in self.pages if page.action == "built")


def run_pages(tasks: list[PageTask], workers: int, progress: Progress | None = None,
              workers_lock: Path | None = None) -> list[PageResult]:
    """Process pages in `workers` parallel processes, one page and one core each (spawned: forking
    after libvips started is unsafe). The workers end with this process (SIGKILL when it is gone:
    started from this thread, which must be one that lives as long as the process — the main
    thread), and each holds a shared lock on `workers_lock` while it lives."""
    cores, workers = workers, max(1, min(workers, len(tasks) or 1))
    results: list[PageResult] = []
    if progress:
        progress(0, len(tasks))
    # glibc gives every thread that allocates its own malloc arena; libvips' threads then leave
    # each worker holding ~100 MB more than it uses. Two arenas keep a worker near 150 MB.
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    lock = str(workers_lock) if workers_lock else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
                             initargs=(max(1, cores // workers), os.getpid(), lock)) as pool:
        futures = [pool.submit(process_page, task) for task in tasks]
        try:
            for future in as_completed(futures):
                results.append(future.result())
                if progress:
                    progress(len(results), len(tasks))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return sorted(results, key=lambda r: r.page)


def workers_lock_path(catalogue: Catalogue, object_id: str) -> Path:
    return catalogue.home.locks / f"{object_id}.workers.lock"


@contextlib.contextmanager
def ingest_lock(catalogue: Catalogue, object_id: str) -> Iterator[None]:
    """One ingest or rebuild per object at a time, on every host of the site (a lock file on one
    machine, a PostgreSQL advisory lock on several: repository/object_locks.py); the store's own lock
    covers single commits.

    Granted only once no page worker of an earlier run on this host is alive: a run killed with SIGKILL
    releases its lock at once, while its workers take a moment longer to die (they hold the workers lock)."""
    catalogue.home.locks.mkdir(parents=True, exist_ok=True)
    with catalogue.locks.attempt("ingest", object_id) as taken:
        if not taken:
            raise IngestBusy(f"{object_id}：这部书正在入藏或重建切片，请等它结束")
        with open(workers_lock_path(catalogue, object_id), "a") as workers:
            fcntl.flock(workers, fcntl.LOCK_EX)  # waits for leftover workers to end
        yield


def build_structure(scan: BookScan) -> dict:
    """structure.json: reading order, leaves with a/b sides (page 1 → 1a, 2 → 1b, 3 → 2a …),
    labels and ranges (册/卷) from the book folder's own structure.json when it has one."""
    given = {entry["file"]: entry for entry in (scan.structure or {}).get("pages", [])}
    page_of = {page.path.name: page.page for page in scan.pages}
    pages = []
    for page in scan.pages:
        leaf = f"{(page.number + 1) // 2}{'a' if page.number % 2 else 'b'}"
        entry = {"page": page.page, "master": page.master, "file": page.path.name, "leaf": leaf, "label": leaf}
        extra = {k: v for k, v in given.get(page.path.name, {}).items() if k not in ("page", "master", "file")}
        entry.update(extra)
        pages.append(entry)
    ranges = []
    for item in (scan.structure or {}).get("ranges", []):
        converted = {k: v for k, v in item.items() if k != "files"}
        converted["pages"] = [page_of[name] for name in item["files"]]
        ranges.append(converted)
    return {"viewingDirection": (scan.structure or {}).get("viewingDirection", "right-to-left"),
            "pages": pages, "ranges": ranges}


def _timestamp() -> str:
    """Names the run (its report, ``reports/ingest-<this>.json``): to the microsecond, since a retried
    commit knows its own run by that report — two runs in one second must not share it."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def _write_staff_report(catalogue: Catalogue, object_id: str, stamp: str, report: dict) -> Path:
    path = catalogue.home.root / "reports" / object_id / f"ingest-{stamp}.json"
    atomic_files.write_text(path, json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    return path


@dataclass
class IngestPlan:
    """A book folder that passed its checks and the page work its ingest will do: what the plan
    step hands to the page work (page worker processes here, or queue workers: ingest/page_jobs.py)
    and then to the commit step. Picklable."""

    object_id: str
    editor: str
    book_dir: Path
    stamp: str  # names the run's report
    started: float  # time.time() of the plan, for the report's seconds
    scan: BookScan
    tasks: list[PageTask]
    stale: list[str]  # stored masters the folder has no scan for (removed: `replace`)
    card: dict | None = None  # create this card at commit time

    @property
    def base_report(self) -> dict:
        return _base_report(self.object_id, self.book_dir, self.stamp, self.editor)


def _base_report(object_id: str, book_dir: Path, stamp: str, editor: str) -> dict:
    return {"object": object_id, "book_dir": str(book_dir), "started": stamp, "editor": editor}


def ingest_book(
    catalogue: Catalogue,
    book_dir: Path | str,
    card_id: str,
    editor: str,
    workers: int | None = None,
    progress: Progress | None = None,
    pixel_limit: int = DEFAULT_PIXEL_LIMIT,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    card: dict | None = None,
    replace: bool = False,
) -> IngestReport:
    """Ingest the page scans of `book_dir` into the object of card `card_id` (one OCFL version).

    `card`: create the catalogue card first if there is none with that id (after the folder has
    been checked). `replace`: the folder replaces the book's pages — stored masters it has no scan
    for are removed from the new version (earlier versions keep them); without it they are refused.

    Raises :class:`BookRefused` (every bad file named; nothing stored), :class:`CardNotFound`, or a
    :class:`Conflict` (another ingest of the book is running, or `card` names an existing card).

    The steps — :func:`check_card`, :func:`plan_ingest`, the pages (:func:`run_pages`),
    :func:`commit_ingest`, :func:`publish_pages` — are the same when a job queue runs them on
    several machines (ingest/page_jobs.py).
    """
    check_card(catalogue, card_id, card)
    with ingest_lock(catalogue, card_id):
        plan = plan_ingest(catalogue, book_dir, card_id, editor, pixel_limit=pixel_limit, sizes=sizes, card=card,
                           replace=replace)
        with pending_work(catalogue.home.built_derivatives / card_id):
            results = run_pages(plan.tasks, workers or os.cpu_count() or 1, progress,
                                workers_lock_path(catalogue, card_id))
            version, report = commit_ingest(catalogue, plan, results)
            publish_pages(catalogue, plan, results)
        return finish_report(catalogue, plan, results, version, report)


def check_card(catalogue: Catalogue, card_id: str, card: dict | None) -> None:
    """Step 1: the card the scans belong to exists — or, given `card`, does not yet."""
    if card is not None:
        if catalogue.exists(card_id):
            raise Conflict(f"标识为「{card_id}」的卡片已存在：不要再给卡片文件，或用 guji cards edit 修改卡片")
        if card.get("id", card_id) != card_id:
            raise InvalidInput(f"卡片文件的标识是「{card.get('id')}」，不是「{card_id}」")
    elif not catalogue.exists(card_id):
        raise CardNotFound(f"没有标识为「{card_id}」的卡片：请先建卡片（guji cards import …，"
                           "或 guji ingest --card 文件），再入藏影像")


def plan_ingest(
    catalogue: Catalogue, book_dir: Path | str, card_id: str, editor: str, *,
    pixel_limit: int = DEFAULT_PIXEL_LIMIT, sizes: tuple[int, ...] = DEFAULT_SIZES, card: dict | None = None,
    replace: bool = False,
) -> IngestPlan:
    """Step 2: check every file of the folder (:func:`scan_book`) and the pages the book would lose,
    and list each page's work. A refusal writes the staff report and raises :class:`BookRefused`."""
    book_dir, stamp, started = Path(book_dir).resolve(), _timestamp(), time.time()
    try:
        scan = scan_book(book_dir, pixel_limit)
    except BookRefused as refused:
        refused.report_path = _write_staff_report(catalogue, card_id, stamp, {
            **_base_report(card_id, book_dir, stamp, editor), "status": "refused", "problems": refused.problems})
        raise
    plan = IngestPlan(card_id, editor, book_dir, stamp, started, scan, [], [], card)
    stored = {} if card is not None else catalogue.store.digests(card_id)
    new_masters = {page.master for page in scan.pages}
    plan.stale = sorted(path for path in stored if path.startswith("masters/") and path not in new_masters)
    if plan.stale and not replace:
        problems = [f"{path}：已存在 {card_id} 中，但这个文件夹里没有它的影像（文件夹应包含全书；"
                    "要删去这一页请用 --replace；什么都没有改动）" for path in plan.stale]
        raise BookRefused(book_dir, problems, _write_staff_report(catalogue, card_id, stamp, {
            **plan.base_report, "status": "refused", "problems": problems}))
    derivatives = catalogue.home.built_derivatives / card_id
    plan.tasks = [
        PageTask(card_id, page.page, str(page.path), page.path.name, page.format, page.master,
                 str(derivatives / page.page), str(derivatives / PENDING), page.vendor_digests,
                 stored.get(page.master), sizes=sizes)
        for page in scan.pages
    ]
    return plan


def commit_ingest(catalogue: Catalogue, plan: IngestPlan, results: list[PageResult]) -> tuple[int | None, dict]:
    """Step 4, once every page is done: refuse the book if a page failed (nothing stored); otherwise
    one OCFL version with the masters that differ from the stored ones, structure.json and the
    report. What is stored is read again here, and the version must follow it (`expected_head`): run
    twice — a queue's retry after a kill — the second run finds every master stored and writes
    nothing, so a page is never stored twice. Returns (the version or None, the report)."""
    card_id, results = plan.object_id, sorted(results, key=lambda result: result.page)
    problems = [result.problem for result in results if result.problem]
    if problems:
        raise BookRefused(plan.book_dir, problems, _write_staff_report(catalogue, card_id, plan.stamp, {
            **plan.base_report, "status": "refused", "problems": problems,
            "pages": [asdict(r) for r in results if not r.problem]}))
    if plan.card is not None and not catalogue.exists(card_id):  # every page checked: now the card may be made
        catalogue.create({**plan.card, "id": card_id}, editor=plan.editor, reason="入藏影像时新建卡片")
    head = catalogue.store.head(card_id)  # first: a version committed after it makes the commit a Conflict
    stored = catalogue.store.digests(card_id)
    structure_bytes = (json.dumps(build_structure(plan.scan), ensure_ascii=False, indent=2) + "\n").encode()
    changed = [r.master for r in results if stored.get(r.master) != r.digests["sha512"]]
    stale = [path for path in plan.stale if path in stored]
    structure_changed = stored.get(STRUCTURE_FILE) != hashlib.sha512(structure_bytes).hexdigest()
    report = {**plan.base_report, "status": "stored" if (changed or structure_changed or stale) else "unchanged",
              "pages": [_page_report(r, _scan_of(plan.scan, r.page)) for r in results],
              "new_or_changed_masters": changed, "removed_masters": stale, "warnings": plan.scan.warnings,
              "checksum_files": plan.scan.checksum_files}
    book = plan.book_dir
    if f"reports/ingest-{plan.stamp}.json" in stored:  # this very run committed, then was stopped (a retry)
        return head, {**report, "status": "stored"}
    if not (changed or structure_changed or stale):
        catalogue.record_event("ingest", plan.editor, card_id, version=None, pages=len(results), changed=0,
                               book_dir=str(book))
        return None, report
    report["seconds"] = round(time.time() - plan.started, 3)
    # Only new or changed masters: the rest carry forward from the previous version.
    files: dict[str, bytes | Path | PreparedFile] = {
        r.master: PreparedFile(Path(r.staged_master), r.digests["sha512"]) for r in results if r.master in changed}
    files[STRUCTURE_FILE] = structure_bytes
    files[f"reports/ingest-{plan.stamp}.json"] = (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode()
    reason = (f"入藏影像：{book.name} 的 {len(results)} 叶中新增或更换 {len(changed)} 叶"
              + (f"，移除 {len(stale)} 叶" if stale else ""))
    info = catalogue.commit_files(card_id, files, editor=plan.editor, reason=reason, event="ingest",
                                  expected_head=head, deletions=tuple(stale), pages=len(results),
                                  changed=len(changed), removed=len(stale), book_dir=str(book))
    return (info.number if info else None), report


def publish_pages(catalogue: Catalogue, plan: IngestPlan, results: list[PageResult]) -> None:
    """Step 5, once the masters are stored: each page's derivatives go where they are served (and,
    with GUJI_STORAGE on S3, into the bucket), and the page folders of removed masters go."""
    derivatives = catalogue.home.built_derivatives / plan.object_id
    for result in results:
        if result.ready and Path(result.ready).is_dir():  # a retried commit: published already
            publish(Path(result.ready), derivatives / result.page)
    kept = {result.page for result in results}
    for path in plan.stale:
        if Path(path).stem not in kept:
            shutil.rmtree(derivatives / Path(path).stem, ignore_errors=True)
    share_book(catalogue, plan.object_id)  # GUJI_STORAGE on S3: into the bucket, for every web node


def finish_report(catalogue: Catalogue, plan: IngestPlan, results: list[PageResult], version: int | None,
                  report: dict) -> IngestReport:
    """Step 6: the run's report for staff (reports/<id>/ingest-<time>.json)."""
    report["version"] = version
    report["seconds"] = round(time.time() - plan.started, 3)
    path = _write_staff_report(catalogue, plan.object_id, plan.stamp, report)
    return IngestReport(plan.object_id, path, version, sorted(results, key=lambda r: r.page), plan.scan.warnings,
                        report["seconds"])


@contextlib.contextmanager
def pending_work(derivatives: Path) -> Iterator[Path]:
    """The book's hidden `.pending` folder for one run (what a killed run left there is reused).

    A run that ends — stored, unchanged, refused or failed — leaves none behind, nor an empty
    book folder; only a run killed or interrupted (Ctrl-C) keeps it, for the next run to reuse."""
    pending = prepare_pending(derivatives)
    try:
        yield pending
    except Exception:
        remove_pending(derivatives)
        raise
    remove_pending(derivatives)


def prepare_pending(derivatives: Path, folder: str = PENDING) -> Path:
    """The book's `.pending` folder (or another work `folder` of its own), without what a killed run left
    half-written."""
    pending = derivatives / folder
    pending.mkdir(parents=True, exist_ok=True)
    clean_leftovers(pending)
    clean_leftovers(derivatives)
    return pending


def remove_pending(derivatives: Path, folder: str = PENDING) -> None:
    shutil.rmtree(derivatives / folder, ignore_errors=True)
    with contextlib.suppress(OSError):  # only when nothing was ever published there
        derivatives.rmdir()


def _scan_of(scan: BookScan, page: str) -> PageScan:
    return scan.pages[int(page) - 1]


def _page_report(result: PageResult, page: PageScan) -> dict:
    return {"page": result.page, "file": result.file, "master": result.master, "bytes": result.bytes,
            "digests": result.digests, "width": result.width, "height": result.height,
            "bits": 16 if page.sample_format == "ushort" else 8, "bands": page.bands,
            "seconds": result.seconds, "derivatives": result.action}


def rebuild_tiles(
    catalogue: Catalogue, object_id: str | None = None, workers: int | None = None,
    progress: Progress | None = None, sizes: tuple[int, ...] = DEFAULT_SIZES,
) -> int:
    """Rebuild the derivatives of one object (or all) from the stored masters. Returns pages built.

    The steps — :func:`rebuild_tasks`, the pages (:func:`run_pages`), :func:`finish_rebuild` — are the
    same when the shared job queue runs them on several machines (ingest/page_jobs.py)."""
    workers = workers or os.cpu_count() or 1
    store = catalogue.store
    object_ids = [object_id] if object_id else store.object_ids()
    if object_id and not store.exists(object_id):
        raise NotFound(no_object_message(object_id))
    built = 0
    for current in object_ids:
        with ingest_lock(catalogue, current), pending_work(catalogue.home.built_derivatives / current) as pending:
            tasks = rebuild_tasks(catalogue, current, store.digests(current), pending, sizes)
            results = run_pages(tasks, workers, progress, workers_lock_path(catalogue, current)) if tasks else []
            finish_rebuild(catalogue, current, results)
        built += len(results)
    return built


def no_object_message(object_id: str) -> str:
    return f"没有标识为「{object_id}」的对象"


def stored_masters(digests: dict[str, str]) -> list[str]:
    """The masters among an object's stored files (logical paths), in page order."""
    return sorted(path for path in digests if path.startswith("masters/"))


def rebuild_task(catalogue: Catalogue, object_id: str, master: str, digest: str, pending: Path,
                 sizes: tuple[int, ...] = DEFAULT_SIZES) -> PageTask:
    """One page's rebuild from its stored master (fetched into this host's cache on S3 storage)."""
    page = Path(master).stem
    return PageTask(object_id, page, str(catalogue.store.content_path(object_id, master)), master,
                    Path(master).suffix.lstrip(".").upper(), master,
                    str(catalogue.home.built_derivatives / object_id / page), str(pending), stored_digest=digest,
                    known_digest=digest, force=True, sizes=sizes)


def rebuild_tasks(catalogue: Catalogue, object_id: str, digests: dict[str, str], pending: Path,
                  sizes: tuple[int, ...] = DEFAULT_SIZES) -> list[PageTask]:
    return [rebuild_task(catalogue, object_id, master, digests[master], pending, sizes)
            for master in stored_masters(digests)]


def finish_rebuild(catalogue: Catalogue, object_id: str, results: list[PageResult], actor: str = "system",
                   work: str = PENDING, **detail) -> None:
    """After a rebuild's pages (the caller holds the book's ingest lock): refuse masters that could not
    be read (Damaged), publish each page still stored as it was read, remove page folders with no
    stored master and the work folder (`.pending`), share the book to the bucket (S3 storage), record the
    event. Run again (a queue's retry), it publishes nothing twice and leaves the same folders."""
    problems = [result.problem for result in results if result.problem]
    if problems:
        raise Damaged(f"{object_id}: " + "; ".join(problems))  # stored masters that cannot be read
    digests = catalogue.store.digests(object_id)  # an ingest since the pages were read: its pages stay
    derivatives = catalogue.home.built_derivatives / object_id
    for result in results:
        if result.ready and Path(result.ready).is_dir() and digests.get(result.master) == result.digests["sha512"]:
            publish(Path(result.ready), derivatives / result.page)
    keep = {Path(master).stem for master in stored_masters(digests)}
    if derivatives.is_dir():
        for entry in derivatives.iterdir():
            if not entry.name.startswith(".") and entry.is_dir() and entry.name not in keep:
                shutil.rmtree(entry)  # a page folder with no stored master
    remove_pending(derivatives, work)
    share_book(catalogue, object_id)
    catalogue.record_event("tiles-rebuild", actor, object_id, pages=len(results), **detail)
