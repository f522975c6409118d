"""A tiled pyramidal TIFF per page: the source the Image API renders dynamic requests from.

The static tiles answer the viewer; a researcher's crop at an arbitrary region and size is
rendered on request. Decoding a 5000×7000 master for every crop would cost a second; a tiled
pyramid lets libvips read only the few 256 px tiles of the one level that covers the request
(``access="random"``, shrink-on-load by choosing the level).

``derivatives/<ID>/<page>/pyramid.tif`` is built from the master (sRGB or gray 8-bit, as the
tiles are) the first time a dynamic request needs it, or ahead of time with
``guji iiif pyramids [ID]``. It lives inside the page folder, so re-ingesting or
``guji tiles rebuild`` replaces it together with the tiles. The file is written under a
hidden temporary name and renamed into place; one builder at a time per page (a lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import uuid
from pathlib import Path

from guji.repository import Catalogue, GujiError

from .derivatives import SOURCE_FILE, to_display

PYRAMID_FILE = "pyramid.tif"
LOCK_FILE = ".pyramid.lock"
TILE = 256
QUALITY = 90


def build_pyramid(master: Path, target: Path) -> Path:
    """Write `target` (a tiled, JPEG-compressed pyramidal TIFF of `master`) atomically."""
    import pyvips

    image = to_display(pyvips.Image.new_from_file(str(master), access="sequential"))
    work = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        image.tiffsave(str(work), tile=True, tile_width=TILE, tile_height=TILE, pyramid=True,
                       compression="jpeg", Q=QUALITY, keep="none")
        os.rename(work, target)
    finally:
        work.unlink(missing_ok=True)
    return target


def master_of(catalogue: Catalogue, book: str, page: str) -> Path | None:
    """The stored master of one page (from structure.json, else masters/<page>.*)."""
    store = catalogue.store
    try:
        paths = store.digests(book)
    except GujiError:
        return None
    structure = catalogue.structure(book) or {}
    logical = next((p.get("master") for p in structure.get("pages") or [] if p.get("page") == page), None)
    if not logical:
        logical = next((p for p in sorted(paths) if p.startswith(f"masters/{page}.")), None)
    if not logical or logical not in paths:
        return None
    return store.content_path(book, logical)


def ensure_pyramid(catalogue: Catalogue, book: str, page: str, page_dir: Path) -> Path | None:
    """The page's pyramid, built now if missing. None when the page has no stored master."""
    target = page_dir / PYRAMID_FILE
    if target.exists():
        return target
    master = master_of(catalogue, book, page)
    if master is None or not (page_dir / SOURCE_FILE).exists():
        return None
    with _locked(page_dir):
        if target.exists():  # another worker built it while we waited
            return target
        for stale in page_dir.glob(f".{PYRAMID_FILE}.tmp-*"):
            stale.unlink(missing_ok=True)
        return build_pyramid(master, target)


@contextlib.contextmanager
def _locked(page_dir: Path):
    with open(page_dir / LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_pyramids(catalogue: Catalogue, book: str | None = None, force: bool = False) -> int:
    """Build the pyramids of one book (or all) ahead of time. Returns how many were built."""
    built = 0
    books = [book] if book else catalogue.store.object_ids()
    for current in books:
        folder = catalogue.home.derivatives / current
        if not folder.is_dir():
            continue
        for page_dir in sorted(folder.iterdir()):
            if page_dir.name.startswith(".") or not page_dir.is_dir():
                continue
            if force:
                (page_dir / PYRAMID_FILE).unlink(missing_ok=True)
            if (page_dir / PYRAMID_FILE).exists():
                continue
            if ensure_pyramid(catalogue, current, page_dir.name, page_dir):
                built += 1
    return built
