"""Where the page images of a book are, and what size they are.

A book's pages come from two places:

* **ingested scans** — `guji ingest` publishes one folder per page in
  ``derivatives/<ID>/<page>/`` (static Image API 3 tiles, ``info.json`` with the pixel size and
  the listed sizes); the object's ``structure.json`` gives the reading order and labels;
* **imported manifests** — `guji iiif import` stores a ``structure.json`` whose pages carry a
  ``remote`` block: the image and image service of another library (see :mod:`iiif.importer`).

Folder names are checked against strict patterns before they touch the file system, so
``..``, ``.pending`` and other dot-folders can never be reached from a URL.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from guji.ingest.shared_tiles import refresh
from guji.repository import Catalogue
from guji.repository.ocfl_store import OBJECT_ID_PATTERN

from .source_manifest import is_web_uri

log = logging.getLogger("guji.iiif")

PAGE_PATTERN = re.compile(r"^[0-9]{4,6}$")  # 0001 … (ingest numbers pages with at least four digits)


def valid_book(book: str) -> bool:
    return bool(OBJECT_ID_PATTERN.match(book))


def valid_page(page: str) -> bool:
    return bool(PAGE_PATTERN.match(page))


@dataclass(frozen=True)
class PageImage:
    """One page of a book as the manifest shows it."""

    page: str  # 0001 …
    label: str
    width: int
    height: int
    sizes: tuple[tuple[int, int], ...] = ()  # pre-built whole-page sizes (static files)
    remote: dict | None = None  # image of another library (imported manifest)
    entry: dict = field(default_factory=dict, compare=False)  # the structure.json entry


def page_folder(derivatives: Path, book: str, page: str) -> Path | None:
    """The published derivatives folder of one page, or None for an invalid book or page."""
    if not (valid_book(book) and valid_page(page)):
        return None
    return derivatives / book / page


def read_info(folder: Path) -> dict | None:
    """The stored info.json of a published page folder (its `id` is a relative placeholder)."""
    try:
        return json.loads((folder / "info.json").read_bytes())
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def page_images(catalogue: Catalogue, book: str, structure: dict | None = None) -> list[PageImage]:
    """The pages of `book` that can be shown, in reading order. Pages listed in structure.json
    whose derivatives are not (yet) published are left out."""
    structure = structure if structure is not None else catalogue.structure(book)
    if not structure:
        return []
    refresh(catalogue, book)  # GUJI_STORAGE on S3: this node's copy of the book's pages
    derivatives = catalogue.home.derivatives
    pages = []
    for entry in structure.get("pages") or []:
        page = str(entry.get("page", ""))
        label = str(entry.get("label") or entry.get("leaf") or page)
        remote = entry.get("remote")
        if isinstance(remote, dict) and entry.get("width") and entry.get("height"):
            remote = _servable(book, page, remote)
            if remote is not None:
                pages.append(PageImage(page, label, int(entry["width"]), int(entry["height"]), remote=remote,
                                       entry=entry))
            continue
        folder = page_folder(derivatives, book, page)
        info = read_info(folder) if folder else None
        if not info:
            continue
        sizes = tuple((int(s["width"]), int(s["height"])) for s in info.get("sizes") or [])
        pages.append(PageImage(page, label, int(info["width"]), int(info["height"]), sizes, entry=entry))
    return pages


def _servable(book: str, page: str, remote: dict) -> dict | None:
    """An imported page as far as a viewer can use it. `guji iiif import` refuses images, services
    and thumbnails that are not http(s) URLs; a page stored before it did is left out (its image)
    or shown without them (a service, a thumbnail), and the log says so."""
    if not is_web_uri(remote.get("image")):
        log.warning("%s/%s: the imported image %r is not a URL; page left out (import the manifest again)",
                    book, page, remote.get("image"))
        return None
    servable = dict(remote)
    for key in ("service", "thumbnail"):
        value = servable.get(key)
        if value is not None and not (isinstance(value, dict) and is_web_uri(value.get("id"))):
            log.warning("%s/%s: the imported %s %r is not a URL; left out", book, page, key, value)
            servable.pop(key)
    return servable


def has_page_images(catalogue: Catalogue, book: str) -> bool:
    """Cheap check used by the collections: a published page folder, or imported remote pages."""
    refresh(catalogue, book)
    folder = catalogue.home.derivatives / book
    if folder.is_dir() and any(valid_page(entry.name) for entry in folder.iterdir()):
        return True
    structure = catalogue.structure(book)
    return bool(structure and any(isinstance(p.get("remote"), dict) for p in structure.get("pages") or []))
