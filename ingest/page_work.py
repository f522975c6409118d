"""One page's work in an ingest or a tiles rebuild, as a page worker process does it: the master copied
into the book's hidden work folder and hashed in the same read, the vendor's checksum compared, the
derivatives made (ingest/pipeline.py's ``run_pages`` hands each page to a worker).

A module of its own, light to import: a page worker is a spawned process (forking after libvips
started is unsafe) that unpickles :func:`process_page` by its module, so it imports this and
ingest/derivatives.py — not the pipeline with the catalogue, SQLAlchemy and the schemas, which cost
each worker about a second of CPU before its first page.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from guji.repository.process_tree import die_with_parent

from .derivatives import DEFAULT_SIZES, build_page, read_source
from .pages import _first_line


@dataclass
class PageTask:
    object_id: str
    page: str
    source: str
    source_name: str
    format: str
    master: str
    published_dir: str
    pending_dir: str
    vendor_digests: dict[str, str] = field(default_factory=dict)
    stored_digest: str | None = None
    known_digest: str | None = None  # skip hashing (rebuild from a stored master)
    force: bool = False
    sizes: tuple[int, ...] = DEFAULT_SIZES


@dataclass
class PageResult:
    page: str
    file: str
    master: str
    bytes: int = 0
    digests: dict[str, str] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    seconds: float = 0.0
    action: str = ""  # built, reused (from .pending), unchanged (already stored and published)
    ready: str | None = None  # finished page folder waiting in .pending
    staged_master: str | None = None  # copy of a new or changed master waiting in .pending
    problem: str | None = None


def hash_file(path: Path, algorithms: list[str], copy_to: Path | None = None) -> dict[str, str]:
    """Digests of `path`; with `copy_to`, the file is also copied there in the same read.

    The copy is not fsynced here: the store fsyncs every file of a version before the version
    becomes visible. Instead the kernel is asked to start writing the copy out now (and to drop
    it from the page cache, it is not read again), so the disk works while this worker goes on
    with the page's derivatives rather than all at once at commit time."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as fh, (open(copy_to, "wb") if copy_to else contextlib.nullcontext()) as out:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for hasher in hashers.values():
                hasher.update(block)
            if out:
                out.write(block)
        if out:
            out.flush()
            os.posix_fadvise(out.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _staged_master(task: PageTask, digest: str) -> Path:
    return Path(task.pending_dir) / f"{task.page}.{digest[:24]}.master"


def _copy_to_pending(task: PageTask, algorithms: list[str], digest: str | None = None) -> dict[str, str]:
    """Copy the scan into `.pending` (hashing it in the same read unless `digest` is known)."""
    partial = Path(task.pending_dir) / f".{task.page}.tmp-{uuid.uuid4().hex[:12]}"  # see clean_leftovers
    digests = hash_file(Path(task.source), algorithms, copy_to=partial)
    os.rename(partial, _staged_master(task, digest or digests["sha512"]))
    return digests


def stage_master(task: PageTask, algorithms: list[str]) -> tuple[dict[str, str], Path | None]:
    """Digests of the scan and, unless it is the master already stored, a complete copy of it in
    the hidden `.pending` folder, named by its digest so that a killed run's copy is found again.

    A new page (the usual case) is read once: hashed while it is copied. A page already stored, or
    one an interrupted run may have copied, is hashed first and copied only if still needed."""
    if task.stored_digest is None and not any(Path(task.pending_dir).glob(f"{task.page}.*.master")):
        digests = _copy_to_pending(task, algorithms)
        return digests, _staged_master(task, digests["sha512"])
    digests = hash_file(Path(task.source), algorithms)
    if digests["sha512"] == task.stored_digest:
        return digests, None
    staged = _staged_master(task, digests["sha512"])
    if not (staged.exists() and staged.stat().st_size == Path(task.source).stat().st_size):
        _copy_to_pending(task, [], digest=digests["sha512"])
    return digests, staged


def process_page(task: PageTask) -> PageResult:
    """Digest, checksum comparison and derivatives of one page (runs in a worker process)."""
    import pyvips

    quiet_libvips()
    started = time.monotonic()
    source = Path(task.source)
    result = PageResult(task.page, task.source_name, task.master, bytes=source.stat().st_size)
    if task.known_digest:
        result.digests = {"sha512": task.known_digest}
    else:
        result.digests, staged = stage_master(task, ["sha512", *sorted(task.vendor_digests)])
        result.staged_master = str(staged) if staged else None
    for algorithm, expected in task.vendor_digests.items():
        if result.digests[algorithm] != expected.lower():
            result.problem = (f"{task.source_name}：{algorithm} 校验和不符——供应商的校验和文件写的是 {expected}，"
                              f"文件实为 {result.digests[algorithm]}；请重新拷贝这个文件")
            _discard(result)
            return result
    digest = result.digests["sha512"]
    published = read_source(Path(task.published_dir))
    if not task.force and task.stored_digest == digest and published and published.get("sha512") == digest:
        result.action = "unchanged"
        record = published
    else:
        ready = Path(task.pending_dir) / f"{task.page}.{digest[:24]}"
        record = read_source(ready)
        if not task.force and record and record.get("sha512") == digest:
            result.action = "reused"
        else:
            try:
                record = build_page(source, ready, object_id=task.object_id, page=task.page, digest=digest,
                                    source_name=task.source_name, sizes=task.sizes)
            except pyvips.Error as error:
                result.problem = (f"{task.source_name}：{task.format} 图像已损坏或不完整"
                                  f"（{_first_line(error)}）；请重新扫描或拷贝")
                _discard(result)
                return result
            result.action = "built"
        result.ready = str(ready)
    result.width, result.height = record["width"], record["height"]
    result.seconds = round(time.monotonic() - started, 3)
    return result


def _discard(result: PageResult) -> None:
    """A refused page keeps nothing, not even its staged copy."""
    if result.staged_master:
        Path(result.staged_master).unlink(missing_ok=True)
        result.staged_master = None


_worker_lock = None  # in a worker process: its shared lock on the object's workers lock file


def _worker_init(threads: int = 1, parent: int | None = None, workers_lock: str | None = None) -> None:
    # One worker = one core: pages run in parallel, each with a single libvips thread. Pages are
    # independent, so this scales with the cores far better than libvips threads within a page.
    # A book with fewer pages than workers gives each page the spare cores as libvips threads.
    global _worker_lock
    import pyvips

    if parent is not None:  # a worker of a killed run must not go on writing into .pending
        die_with_parent(parent)
    if workers_lock is not None:  # held until this process ends (see ingest_lock)
        _worker_lock = open(workers_lock, "a")  # noqa: SIM115
        fcntl.flock(_worker_lock, fcntl.LOCK_SH)
    pyvips.concurrency_set(threads)
    quiet_libvips()


def quiet_libvips() -> None:
    """libvips logs every tile error and deprecation at INFO/WARNING; the pipeline reports problems itself."""
    logging.getLogger("pyvips").setLevel(logging.ERROR)
