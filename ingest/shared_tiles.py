"""The tiles in the bucket when the storage root is on S3 (`GUJI_STORAGE=s3://bucket/prefix`).

Keys keep the static layout of a page folder and of the Image API URLs::

    <prefix>derivatives/<ID>/pages.json                       the book's index (below)
    <prefix>derivatives/<ID>/<page>/info.json                 (its "id" a relative placeholder)
    <prefix>derivatives/<ID>/<page>/x,y,w,h/w,h/0/default.jpg  = /iiif/image/<ID>/<page>/x,y,w,h/w,h/0/default.jpg
    <prefix>derivatives/<ID>/<page>/full/max/0/default.jpg     = /iiif/image/<ID>/<page>/full/max/0/default.jpg
    <prefix>derivatives/<ID>/<page>/thumbnail.jpg, source.json

so a CDN or nginx can serve ``/iiif/image/…`` image requests straight from the bucket, and send
what it does not find (info.json, whose id the site writes; a region not pre-built) to Guji
(docs/scale-out.md).

* **Writers** — ingest and `guji tiles rebuild` make the tiles in the data home as always
  (``derivatives/``), then :func:`share_book` uploads each page whose ``source.json`` differs from
  the bucket's index (its files first, ``info.json`` last), removes the pages no longer there, and
  writes ``pages.json`` last: the index names each page with its ``source.json`` and ``info.json``.
* **Web nodes** — :func:`refresh` keeps the node's ``derivatives-mirror/`` in step with the index
  (looked at once per book every :data:`REFRESH_SECONDS` at most): a page whose source changed is
  replaced by a folder holding only its ``info.json`` and ``source.json``; the tiles and sizes
  are fetched on first request (:func:`fetch`) and then served from the mirror as local files. The
  mirror is a cache: beyond ``GUJI_MIRROR_MB`` the least recently used fetched files go first
  (:func:`trim_mirror`, at most every :data:`TRIM_SECONDS`, one process of the node at a time); a page
  keeps its ``info.json`` and ``source.json``, and what went is fetched again when asked for.

On a local storage root every function here does nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from guji.repository import Catalogue

from .derivatives import SOURCE_FILE, publish, read_source

INDEX = "pages.json"
ROOT = "derivatives/"
REFRESH_SECONDS = 30.0  # how long a web node trusts its copy of a book's index
LOCAL_ONLY = {"pyramid.tif", ".pyramid.lock"}  # made by each node for itself, never shared
UPLOAD_PAGES = 8  # pages uploaded at once (the bucket's client keeps 10 connections: boto3's default)
CONTENT_TYPES = {".jpg": "image/jpeg", ".json": "application/json", ".png": "image/png", ".webp": "image/webp"}

TRIM_SECONDS = 60.0  # how often a web node process may look whether its mirror is over its budget
KEPT = {"info.json", SOURCE_FILE}  # a mirrored page's skeleton, never trimmed
TRIM_TO = 0.9  # a trim goes down to this share of the budget, so that it is not needed again at once

_seen: dict[tuple[str, str], tuple[float, str]] = {}  # (bucket, book) → (when looked, index ETag)
_seen_lock = threading.Lock()
_last_trim = [0.0]


def shared_bucket(catalogue: Catalogue):
    """The bucket the tiles go to, or None on a local storage root."""
    return getattr(catalogue.store, "bucket", None)


def _page_names(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return sorted(entry.name for entry in folder.iterdir()
                  if entry.is_dir() and not entry.name.startswith(".") and (entry / SOURCE_FILE).exists())


def _read_index(bucket, book: str) -> dict:
    from guji.repository.object_bucket import KeyMissing

    try:
        index = json.loads(bucket.read(f"{ROOT}{book}/{INDEX}"))
    except KeyMissing:
        return {}
    except ValueError:
        return {}  # a damaged index is written anew by the next share_book
    pages = index.get("pages") if isinstance(index, dict) else None
    return pages if isinstance(pages, dict) else {}


# ---- writers ------------------------------------------------------------------------------------------


def share_book(catalogue: Catalogue, book: str) -> None:
    """Bring the bucket's tiles of `book` in step with the ones just made here (the caller holds the
    book's ingest lock)."""
    bucket = shared_bucket(catalogue)
    if bucket is None:
        return
    folder = catalogue.home.built_derivatives / book
    shared = _read_index(bucket, book)
    index, changed = {}, []
    for page in _page_names(folder):
        source = read_source(folder / page)
        info = json.loads((folder / page / "info.json").read_text(encoding="utf-8"))
        if (shared.get(page) or {}).get("source") != source:
            changed.append(page)
        index[page] = {"source": source, "info": info}
    _at_once(lambda page: _upload_page(bucket, book, page, folder / page), changed)
    _at_once(lambda page: _remove_page(bucket, book, page), sorted(set(shared) - set(index)))
    body = {"book": book, "pages": index}
    bucket.write(f"{ROOT}{book}/{INDEX}", json.dumps(body, ensure_ascii=False).encode(), "application/json")


def _at_once(work: Callable[[str], None], pages: list[str]) -> None:
    """`work` on every page, :data:`UPLOAD_PAGES` at a time (each page's own requests stay in order).
    A page's tiles are some 50 small objects, one request each: one after the other, a 100-page book
    waited ~30 s for them, the object store's answers, not this host's work. The first error rises
    once the pages under way are done; the index is then left as it was."""
    if len(pages) <= 1:
        for page in pages:
            work(page)
        return
    with ThreadPoolExecutor(min(UPLOAD_PAGES, len(pages)), thread_name_prefix="guji-tiles") as pool:
        futures = [pool.submit(work, page) for page in pages]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _upload_page(bucket, book: str, page: str, folder: Path) -> None:
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.name not in LOCAL_ONLY
                   and not any(part.startswith(".") for part in path.relative_to(folder).parts))
    names = {path.relative_to(folder).as_posix() for path in files}
    for path in sorted(files, key=lambda path: path.name == "info.json"):  # info.json last
        relative = path.relative_to(folder).as_posix()
        bucket.upload(path, f"{ROOT}{book}/{page}/{relative}", CONTENT_TYPES.get(path.suffix))
    _, stored = bucket.listing(f"{ROOT}{book}/{page}/", delimiter=None)
    bucket.delete([f"{ROOT}{book}/{page}/{name}" for name in stored if name not in names])  # an older size's


def _remove_page(bucket, book: str, page: str) -> None:
    _, stored = bucket.listing(f"{ROOT}{book}/{page}/", delimiter=None)
    bucket.delete([f"{ROOT}{book}/{page}/{name}" for name in stored])


# ---- web nodes ----------------------------------------------------------------------------------------


def refresh(catalogue: Catalogue, book: str) -> None:
    """Bring this node's mirror of `book` in step with the bucket's index (at most every
    REFRESH_SECONDS; raises StorageUnavailable when the bucket cannot be reached)."""
    bucket = shared_bucket(catalogue)
    if bucket is None:
        return
    key = (str(bucket.location), book)
    now = time.monotonic()
    with _seen_lock:
        seen = _seen.get(key)
    if seen and now - seen[0] < REFRESH_SECONDS:
        return
    found = bucket.head(f"{ROOT}{book}/{INDEX}")
    etag = found["etag"] if found else ""
    if not (seen and seen[1] == etag):
        _mirror(catalogue.home.derivatives / book, _read_index(bucket, book) if found else {})
    with _seen_lock:
        _seen[key] = (now, etag)


def _mirror(folder: Path, index: dict) -> None:
    for page, entry in index.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("info"), dict) and _plain(page)):
            continue
        if read_source(folder / page) == entry.get("source"):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        ready = folder / f".{page}.tmp-{uuid.uuid4().hex[:12]}"
        ready.mkdir()
        (ready / "info.json").write_text(json.dumps(entry["info"], indent=2) + "\n", encoding="utf-8")
        (ready / SOURCE_FILE).write_text(json.dumps(entry.get("source"), indent=2) + "\n", encoding="utf-8")
        try:
            publish(ready, folder / page)
        except OSError:  # another process of this node replaced it at the same moment
            shutil.rmtree(ready, ignore_errors=True)
    for page in _page_names(folder):
        if page not in index:
            shutil.rmtree(folder / page, ignore_errors=True)  # removed from the book


def _plain(page: str) -> bool:
    return isinstance(page, str) and page.isascii() and page.isdigit() and 4 <= len(page) <= 6


def fetch(catalogue: Catalogue, book: str, page: str, relative: str) -> Path | None:
    """The file `relative` of a page folder, fetched from the bucket into this node's mirror; None
    when the bucket has no such file (or the storage root is local)."""
    from guji.repository.object_bucket import KeyMissing

    bucket = shared_bucket(catalogue)
    folder = catalogue.home.derivatives / book / page
    if bucket is None or not folder.is_dir():
        return None
    target = folder / relative
    partial = folder / f".fetch-{uuid.uuid4().hex[:12]}"
    try:
        data = bucket.read(f"{ROOT}{book}/{page}/{relative}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(data)
        os.replace(partial, target)
    except KeyMissing:
        return None
    except OSError:  # the page folder was replaced meanwhile: the next request fetches again
        return None
    finally:
        partial.unlink(missing_ok=True)
    _trim_now_and_then(catalogue.home.derivatives, int(catalogue.settings.mirror_mb * 1024 * 1024))
    return target


def _trim_now_and_then(mirror: Path, budget: int) -> None:
    now = time.monotonic()
    with _seen_lock:
        if now - _last_trim[0] < TRIM_SECONDS:
            return
        _last_trim[0] = now
    threading.Thread(target=trim_mirror, args=(mirror, budget), daemon=True, name="guji-mirror-trim").start()


def trim_mirror(mirror: Path, budget: int) -> int:
    """Remove the least recently used fetched files (tiles, sizes, a node's pyramid) of a web node's
    mirror while it holds more than `budget` bytes, down to :data:`TRIM_TO` of it; returns the bytes
    removed. Last use is the later of the file's modification and access times (a `relatime` mount
    records a read about once a day). One process of the node trims at a time; the others skip it."""
    if not mirror.is_dir():
        return 0
    with open(mirror / ".trim.lock", "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0
        files = []
        for folder, _, names in os.walk(mirror):
            for name in names:
                if name in KEPT or name.startswith("."):
                    continue
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                files.append((max(stat.st_mtime, stat.st_atime), stat.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= budget:
            return 0
        removed = 0
        for _, size, path in sorted(files):
            if total - removed <= budget * TRIM_TO:
                break
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # a reader that has it open reads on; the next request fetches it again
                removed += size
        return removed
