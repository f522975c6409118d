"""OCR of one book's scans (`guji ocr`, `guji ingest --ocr`, the staff workspace's OCR job).

One run = one OCFL version (event ``ocr``) holding, for the pages read:

- ``ocr/NNNN.page.xml`` — PAGE-XML with region, line and character boxes in the master's pixels;
- ``ocr/pages.json`` — the machine layer (:mod:`ingest.text_layers`), ``ocr/run.json`` — per page
  the engine, model, settings, master digest, 版心 reading and warnings, ``ocr/quality.json``;
- ``text/pages.json`` — the book's text, machine text only where no person's text exists;
- ``structure.json`` — page labels from the 版心's leaf number where the structure had only the
  default label (``1a``, ``1b`` … by position).

Resumable: every page read is cached at once in ``<data home>/ocr-pending/<ID>/`` (keyed by the
master's digest and the engine settings); a killed run keeps those pages and the next run commits
them with the rest, reading only what is missing. Pages already stored with the same engine settings
are skipped unless ``redo``. Workers are processes (one core each) that die with the run
(``PR_SET_PDEATHSIG``). A page that cannot be read is reported and stored as nothing; the rest
is committed.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

from guji.repository import CardNotFound, Catalogue, Conflict, InvalidInput, Refused
from guji.repository.catalogue import STRUCTURE_FILE
from guji.repository.parse import int_to_chinese

from .ocr_engine import EngineDescription, OcrEngineUnavailable, describe_engine, engine_name, open_engine
from .text_layers import (
    OCR_PAGES_FILE,
    QUALITY_FILE,
    RUN_FILE,
    authority,
    compose,
    machine_entry,
    page_xml_path,
    quality,
    read_json,
)
from .text_model import PAGES_FILE, pages_json_bytes

Progress = Callable[[int, int], None]
PENDING_DIR = "ocr-pending"
_PAGE_RANGE = re.compile(r"^\s*(\d{1,6})\s*(?:[-–~]\s*(\d{1,6}))?\s*$")


class OcrError(InvalidInput):
    """An OCR run that cannot start as asked (bad --pages); nothing changed."""


class NoScans(Refused):
    """The book has no page scans to read yet."""


@dataclass
class PageTask:
    book_id: str
    page: str
    master: str  # path of the master file in the OCFL store
    digest: str
    cache: str  # where the finished page is cached
    title: str | None
    side: str | None
    label: str | None


@dataclass
class PageResult:
    page: str
    action: str  # read, cached (from an interrupted run), skipped (already stored), failed
    lines: int = 0
    characters: int = 0
    confidence: float | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    problem: str | None = None
    header: list[dict] = field(default_factory=list)


@dataclass
class OcrReport:
    book_id: str
    engine: dict
    version: int | None
    pages: list[PageResult]
    warnings: list[str]
    seconds: float
    path: Path | None = None  # the JSON report staff can open
    quality: dict | None = None

    @property
    def read(self) -> int:
        return sum(1 for page in self.pages if page.action in ("read", "cached"))

    @property
    def failed(self) -> list[PageResult]:
        return [page for page in self.pages if page.action == "failed"]

    def to_json(self) -> dict:
        return {"book": self.book_id, "engine": self.engine, "version": self.version, "seconds": self.seconds,
                "warnings": self.warnings, "pages": [asdict(page) for page in self.pages], "quality": self.quality}


def parse_pages(spec: str | None, available: list[str]) -> list[str]:
    """``0001-0010,0015`` (or ``1-10``) → the pages of `available` in those ranges."""
    if not spec:
        return list(available)
    chosen: set[int] = set()
    for part in spec.split(","):
        match = _PAGE_RANGE.match(part)
        if not match:
            raise OcrError(f"--pages {spec!r}：无法理解 {part!r}，请写成 0001-0010 或 3,5,7-9 这样的页码范围")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first or last - first > 100_000:
            raise OcrError(f"--pages {spec!r}：范围 {part!r} 不对（起页应不大于止页）")
        chosen.update(range(first, last + 1))
    pages = [page for page in available if int(page) in chosen]
    if not pages:
        raise OcrError(f"--pages {spec!r}：此书没有这些页（共 {len(available)} 页，"
                       f"{available[0]}–{available[-1]}）")
    return pages


# ---- in the worker -----------------------------------------------------------------------------------

_engine = None
_engine_problem: str | None = None


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when the process that started it dies (no orphans after kill -9)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() == 1:
        os._exit(1)


def _worker_init(name: str, threads: int, max_side: int) -> None:
    global _engine, _engine_problem
    _die_with_parent()
    import logging

    logging.getLogger("pyvips").setLevel(logging.ERROR)
    try:
        _engine = open_engine(name, threads, max_side)
    except OcrEngineUnavailable as error:
        _engine_problem = str(error)


def read_page(task: PageTask, engine=None) -> PageResult:
    """Read one page and cache it (runs in a worker process, or in the caller with `engine`)."""
    from .ocr_image import PageUnreadable, open_page
    from .ocr_layout import lay_out
    from .ocr_pagexml import write_page_xml
    from .ocr_tiles import read_lines

    engine = engine or _engine
    started = time.monotonic()
    result = PageResult(task.page, "read")
    if engine is None:  # the worker could not load the engine: the run stops with this one message
        raise OcrEngineUnavailable(_engine_problem or "OCR 引擎未能加载")
    try:
        source = open_page(Path(task.master))
        scale, warnings = source.scale, source.warnings
        raw = read_lines(engine, source)
        for line in raw:  # back to the master's pixels
            line.box = tuple(round(v / scale) for v in line.box)
            if line.chars:
                line.chars = [tuple(round(v / scale) for v in box) for box in line.chars]
        width, height = round(source.width / scale), round(source.height / scale)
        layout = lay_out(raw, width, height, title=task.title, side=task.side)
        description = engine.describe()
        xml = write_page_xml(layout, image_name=Path(task.master).name, engine=description)
        entry = machine_entry(task.page, layout, task.label)
    except PageUnreadable as error:
        result.action, result.problem = "failed", f"第 {task.page} 页：{error}"
        return result
    except Exception as error:  # noqa: BLE001 - an engine failing on one page must not stop the book
        result.action = "failed"
        result.problem = f"第 {task.page} 页：OCR 引擎无法识别此页（{type(error).__name__}: {str(error)[:160]}）"
        return result
    lines = layout.lines()
    result.lines = len(lines)
    result.characters = sum(len(line.text) for line in lines)
    result.confidence = round(sum(line.confidence * len(line.text) for line in lines) / result.characters, 3) \
        if result.characters else None
    result.warnings = list(warnings)
    if not lines:
        result.warnings.append(f"第 {task.page} 页没有识别出文字（空白页？）")
    elif result.confidence is not None and result.confidence < 0.6:
        result.warnings.append(f"第 {task.page} 页识别置信度低（{result.confidence:.2f}），请校对")
    result.header = [header.to_json() for header in layout.headers]
    result.seconds = round(time.monotonic() - started, 2)
    payload = {"page": task.page, "digest": task.digest, "engine": description.to_json(), "xml": xml.decode("utf-8"),
               "entry": entry, "result": asdict(result)}
    cache = Path(task.cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f".{cache.name}.{uuid.uuid4().hex[:8]}")
    partial.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    os.replace(partial, cache)
    return result


# ---- in the parent -----------------------------------------------------------------------------------


def _labels(structure: dict, headers: dict[str, list[dict]]) -> dict[str, str]:
    """New labels from the 版心 for pages whose label is still the default one (their position)."""
    labels = {}
    previous: tuple[int | None, int | None, str] | None = None
    juan_of = {}
    for item in structure.get("ranges") or []:
        for page in item.get("pages") or []:
            juan_of.setdefault(page, item.get("label"))
    for entry in structure.get("pages") or []:
        page = entry["page"]
        found = headers.get(page)
        if not found:
            previous = None
            continue
        default = entry.get("label") in (None, "", entry.get("leaf")) or entry.get("label_source") == "ocr"
        first = found[0]
        juan, leaf, position = first.get("juan"), first.get("leaf"), first.get("position")
        side = {"left": "a", "right": "b"}.get(position, "")
        if leaf is None and side == "b" and previous and previous[2] == "a":
            leaf, juan = previous[1], juan or previous[0]
        previous = (juan, leaf, side)
        if not default or leaf is None:
            continue
        leaves = [h.get("leaf") for h in found if h.get("leaf")]
        leaf_text = "–".join(int_to_chinese(n) for n in leaves) if len(leaves) > 1 else int_to_chinese(leaf)
        juan_text = f"卷{int_to_chinese(juan)}" if juan else (juan_of.get(page) or "")
        labels[page] = f"{juan_text} 葉{leaf_text}{side}".strip()
    return labels


def _cache_dir(catalogue: Catalogue, book_id: str) -> Path:
    return catalogue.home.root / PENDING_DIR / book_id


def ocr_book(catalogue: Catalogue, book_id: str, *, pages: str | None = None, engine: str | None = None,
             redo: bool = False, workers: int | None = None, editor: str = "system", progress: Progress | None = None,
             reason: str | None = None) -> OcrReport:
    """OCR the scans of book `book_id` (or the `pages` given, e.g. ``"0001-0010"``): one new version.

    `progress(done, total)` is called as pages finish (for a CLI bar or a web job). Raises
    :class:`OcrError` when the run cannot start; a page that fails is reported in the result."""
    from .pipeline import ingest_lock

    started = time.monotonic()
    if not catalogue.exists(book_id):
        raise CardNotFound(f"没有编号为 {book_id!r} 的书：请先建立卡片并导入扫描（guji ingest）")
    name = engine_name(engine, catalogue.settings)
    workers = max(1, workers or os.cpu_count() or 1)
    try:
        with ingest_lock(catalogue, book_id):
            return _run(catalogue, book_id, pages, name, redo, workers, editor, progress, reason, started)
    except Conflict as error:
        raise Conflict(f"{book_id}：此书正在导入扫描或识别，请等它结束后再试") from error


def _run(catalogue, book_id, pages, name, redo, workers, editor, progress, reason, started) -> OcrReport:
    store = catalogue.store
    structure = catalogue.structure(book_id)
    scans = (structure or {}).get("pages") or []
    if not scans:
        raise NoScans(f"{book_id} 还没有扫描页：请先导入扫描（guji ingest 文件夹 --id {book_id}）")
    by_page = {entry["page"]: entry for entry in scans}
    chosen = parse_pages(pages, [entry["page"] for entry in scans])
    digests = store.digests(book_id)
    paths = set(digests)
    max_side = catalogue.settings.ocr_max_side
    description: EngineDescription = describe_engine(name, max_side)  # the models load where pages are read
    engine_key = description.key()
    run = read_json(catalogue, book_id, RUN_FILE, paths) or {"pages": {}}
    title = _title(catalogue.get(book_id))
    cache_dir = _cache_dir(catalogue, book_id)
    results: dict[str, PageResult] = {}
    tasks: list[PageTask] = []
    cached: dict[str, dict] = {}
    for page in chosen:  # what is there to read
        scan = by_page[page]
        master = scan.get("master") or next((p for p in paths if p.startswith(f"masters/{page}.")), None)
        if not master or master not in digests:
            results[page] = PageResult(page, "failed", problem=f"第 {page} 页没有母版文件")
            continue
        digest = digests[master]
        stored = run["pages"].get(page) or {}
        if not redo and stored.get("digest") == digest and stored.get("engine_key") == engine_key \
                and page_xml_path(page) in paths:
            results[page] = PageResult(page, "skipped")
            continue
        cache = cache_dir / f"{page}.{digest[:16]}.{engine_key}.json"
        if cache.is_file():
            try:
                cached[page] = json.loads(cache.read_text(encoding="utf-8"))
                results[page] = PageResult(**{**cached[page]["result"], "action": "cached"})
                continue
            except (OSError, ValueError, TypeError, KeyError):
                cache.unlink(missing_ok=True)  # a damaged cache file: read the page again
        leaf = str(scan.get("leaf") or "")
        tasks.append(PageTask(book_id, page, str(store.content_path(book_id, master)), digest, str(cache), title,
                              leaf[-1] if leaf[-1:] in ("a", "b") else None, scan.get("label")))
    engine = (open_engine(name, threads=os.cpu_count() or 1, max_side=max_side)
              if tasks and (workers == 1 or len(tasks) == 1) else None)
    total = len(chosen)
    done = len(results)
    if progress:
        progress(done, total)
    for result in _execute(tasks, engine, name, workers, max_side):
        results[result.page] = result
        done += 1
        if progress:
            progress(done, total)
    del engine
    for task in tasks:  # what the workers cached
        if results[task.page].action == "read":
            cached[task.page] = json.loads(Path(task.cache).read_text(encoding="utf-8"))
    report = _commit(catalogue, book_id, structure, run, cached, description, engine_key, editor, reason, paths)
    ordered = [results[page] for page in chosen]
    warnings = [warning for result in ordered for warning in result.warnings]
    warnings += [result.problem for result in ordered if result.problem]
    out = OcrReport(book_id, {**description.to_json(), "key": engine_key}, report.get("version"), ordered, warnings,
                    round(time.monotonic() - started, 2), quality=report.get("quality"))
    for page in cached:
        for stale in cache_dir.glob(f"{page}.*.json"):
            stale.unlink(missing_ok=True)
    out.path = _write_report(catalogue, book_id, out)
    return out


def _title(card) -> str | None:
    if card is None:
        return None
    data = card.card if hasattr(card, "card") else card
    edition = (data or {}).get("edition") or {}
    return edition.get("title") or None


def _execute(tasks: list[PageTask], engine, name: str, workers: int, max_side: int):
    """Pages in the caller (one worker) or in `workers` processes that die with the caller."""
    if not tasks:
        return
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            yield read_page(task, engine)
        return
    workers = min(workers, len(tasks))
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_worker_init,
                             initargs=(name, threads, max_side)) as pool:
        futures = [pool.submit(read_page, task) for task in tasks]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _commit(catalogue, book_id, structure, run, cached, description, engine_key, editor, reason, paths) -> dict:
    earlier = {page: info.get("header") or [] for page, info in run["pages"].items()}
    if not cached and not _labels(structure, earlier):  # (a re-ingest resets labels: put them back)
        return {}
    machine_document = read_json(catalogue, book_id, OCR_PAGES_FILE, paths) or {"format": "ocr", "sources": [],
                                                                                  "pages": []}
    machine = {entry["page"]: entry for entry in machine_document["pages"]}
    files: dict[str, bytes] = {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {page: data["result"].get("header") or [] for page, data in cached.items()}
    for page, data in cached.items():
        files[page_xml_path(page)] = data["xml"].encode("utf-8")
        machine[page] = data["entry"]
        run["pages"][page] = {"digest": data["digest"], "engine_key": engine_key, "engine": data["engine"],
                              "at": stamp, "header": headers[page], "warnings": data["result"].get("warnings") or [],
                              "confidence": data["result"].get("confidence")}
    for page, info in run["pages"].items():  # keep 版心 readings of earlier runs for labels
        headers.setdefault(page, info.get("header") or [])
    new_structure = dict(structure)
    labels = _labels(structure, headers)
    if labels:
        new_structure["pages"] = [dict(entry, label=labels[entry["page"]], label_source="ocr")
                                  if entry["page"] in labels else entry for entry in structure["pages"]]
        files[STRUCTURE_FILE] = (json.dumps(new_structure, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
        for page, label in labels.items():
            if page in machine:
                machine[page]["label"] = label
    order = [entry["page"] for entry in structure["pages"]]
    machine = {page: machine[page] for page in sorted(machine, key=lambda p: order.index(p) if p in order else 1e9)}
    text = read_json(catalogue, book_id, PAGES_FILE, paths)
    curated = [entry for entry in (text or {}).get("pages", []) if authority(entry) != "machine"]
    entries = compose(curated, machine, new_structure)
    files[PAGES_FILE] = pages_json_bytes((text or {}).get("format") or "ocr", (text or {}).get("sources") or [],
                                         entries)
    files[OCR_PAGES_FILE] = pages_json_bytes("ocr", [], list(machine.values()))
    run.update({"engine": description.to_json(), "engine_key": engine_key, "updated": stamp})
    files[RUN_FILE] = (json.dumps(run, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    book_quality = quality(entries, machine)
    files[QUALITY_FILE] = (json.dumps(book_quality, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    reason = reason or (f"文字识别 OCR：{len(cached)} 页（{description.name} {description.version}，"
                        f"{description.model}）" if cached else "按版心叶次恢复页面标签")
    version = catalogue.commit_files(book_id, files, editor=editor, reason=reason, event="ocr", pages=len(cached),
                                     engine=description.name)
    return {"version": version.number if version else None, "quality": book_quality}


def _write_report(catalogue: Catalogue, book_id: str, report: OcrReport) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = catalogue.home.root / "reports" / book_id / f"ocr-{stamp}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def ocr_quality(catalogue: Catalogue, book_id: str) -> dict:
    """The quality report of a book: per page its authority, OCR confidence and — where a person's text
    exists — the OCR's CER against it (what ``guji ocr-report`` prints)."""
    paths = set(catalogue.store.logical_paths(book_id))
    run = read_json(catalogue, book_id, RUN_FILE, paths) or {"pages": {}}
    stored = read_json(catalogue, book_id, QUALITY_FILE, paths) or {"pages": []}
    text = read_json(catalogue, book_id, PAGES_FILE, paths) or {"pages": []}
    agreement = {record["page"]: record for record in stored["pages"]}
    structure = catalogue.structure(book_id) or {}
    pages = []
    entries = {e["page"]: e for e in text["pages"] if e.get("page")}
    covered = {page for e in text["pages"] for page in e.get("covers") or []}
    for entry in structure.get("pages") or []:
        page = entry["page"]
        text_entry = entries.get(page)
        info = run["pages"].get(page) or {}
        record = agreement.get(page) or {}
        pages.append({"page": page, "label": entry.get("label"),
                      "authority": authority(text_entry) if text_entry else ("imported" if page in covered else None),
                      "ocr": bool(info), "engine": (info.get("engine") or {}).get("name"),
                      "confidence": info.get("confidence"), "cer": record.get("cer"),
                      "cer_raw": record.get("cer_raw"), "characters": record.get("characters"),
                      "warnings": info.get("warnings") or []})
    return {"book": book_id, "engine": run.get("engine"), "updated": run.get("updated"), "cer": stored.get("cer"),
            "characters": stored.get("characters"), "pages": pages}
