"""IIIF over HTTP: manifests, collections, the Image API 3 service and the Mirador viewer page.

Routes (see docs/iiif.md):

    /iiif/{id}/manifest                  Presentation 3 manifest (404 while a book has no images, 410 withdrawn)
    /iiif/collection/{name}              top, jing, shi, zi, ji, cong, unclassified, local
    /iiif/image/{id}/{page}              303 → info.json
    /iiif/image/{id}/{page}/info.json    Image API 3 description, id from GUJI_PUBLIC_URL
    /iiif/image/{id}/{page}/{region}/{size}/{rotation}/{quality}.{format}
    /books/{id}/viewer                   Mirador 4, book view, right to left
    /viewer/mirador.min.js               the Mirador bundle from node_modules (npm ci)

The image route is a plain Starlette endpoint, not a FastAPI operation: a tile request is
answered from the pre-built static file when one exists under the requested (or canonical)
name, with nothing but path checks and one `stat` in between, and rendered with pyvips from the
page's pyramid otherwise (in the thread pool, so one worker renders on several cores).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from stat import S_ISREG
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse

from guji.iiif import ids
from guji.iiif.collections import build_collection
from guji.iiif.image_api import FORMATS, MEDIA_TYPE, PROFILE_URI, parse_request, service_info
from guji.iiif.image_render import DecodedCache, render
from guji.iiif.manifest import BookWithdrawn, NoPageImages, build_manifest
from guji.iiif.page_images import page_folder, read_info, valid_book
from guji.ingest.pyramid import PYRAMID_FILE, ensure_pyramid
from guji.ingest.shared_tiles import fetch, refresh, shared_bucket
from guji.repository import Catalogue, public_url
from guji.repository.settings import Settings, current

from . import i18n, viewer_language
from .dependencies import CatalogueDep, SettingsDep
from .errors import problem_response
from .file_stream import FileStream
from .params import whole_number
from .static_assets import asset_response, asset_url

HERE = Path(__file__).parent
ROOT = HERE.parent
templates = Jinja2Templates(directory=HERE / "templates")
log = logging.getLogger("guji.iiif")

PRESENTATION_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
CORS = {"Access-Control-Allow-Origin": "*"}
TILE_CACHE = "public, max-age=604800"  # a week: a re-scanned page keeps its URLs, ETags tell the change
JSON_CACHE = "public, max-age=300"
SMALL_FILE = 1 << 20  # files up to 1 MB are read in the event loop (page cache), larger ones streamed
SEGMENT_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyz,.:!^")
PLACEHOLDER_WIDTH = 600  # the first page shown while the viewer loads (a listed, pre-built size)


# Rendering runs in a few threads of its own (GUJI_RENDER_THREADS, default one per core): more renders
# at once than cores only adds GIL and cache contention (measured: 16 concurrent renders cost 1.6× the
# CPU per request of one at a time). libvips itself then uses one thread per render.
_renderers: ThreadPoolExecutor | None = None


def _render_pool(threads: int | None) -> ThreadPoolExecutor:
    global _renderers
    if _renderers is None:
        import pyvips

        pyvips.concurrency_set(1)
        _renderers = ThreadPoolExecutor(max_workers=threads or os.cpu_count() or 2, thread_name_prefix="iiif-render")
    return _renderers


def mirador_dir(settings: Settings | None = None) -> Path:
    """Where `npm ci` put Mirador's bundle (GUJI_MIRADOR_DIR overrides, e.g. for a packaged install)."""
    return (settings or current()).mirador_dir or ROOT / "node_modules" / "mirador" / "dist"


def _error(status: int, message: str) -> JSONResponse:
    """Problem details (as the app's error handler answers), for the answers a route returns itself."""
    return problem_response(status, message, cors=True)


def _etag(stat: os.stat_result) -> str:
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _not_modified(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    return bool(given) and (given.strip() == "*" or etag in [tag.strip() for tag in given.split(",")])


class RenderedCache:
    """Encoded images of dynamic requests, least recently used out first, within a byte budget
    (``GUJI_RENDER_CACHE_MB``, default 64): many readers of one book ask for the same tiles.
    Keyed by the source file and its modification time, so a re-ingested page is never served
    stale. Used from the event loop only."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.entries: OrderedDict[tuple, bytes] = OrderedDict()

    def get(self, key: tuple) -> bytes | None:
        body = self.entries.get(key)
        if body is not None:
            self.entries.move_to_end(key)
        return body

    def put(self, key: tuple, body: bytes) -> None:
        if len(body) > self.budget // 8 or key in self.entries:
            return
        self.entries[key] = body
        self.used += len(body)
        while self.used > self.budget:
            _, old = self.entries.popitem(last=False)
            self.used -= len(old)


class PageSizes:
    """info.json's width and height per page folder, re-read when the file changes."""

    def __init__(self):
        self.entries: dict[Path, tuple[int, int, int]] = {}

    def get(self, folder: Path) -> tuple[int, int] | None:
        try:
            modified = (folder / "info.json").stat().st_mtime_ns
        except OSError:
            return None
        found = self.entries.get(folder)
        if found and found[0] == modified:
            return found[1], found[2]
        info = read_info(folder)
        if info is None:
            return None
        if len(self.entries) > 4096:
            self.entries.clear()
        self.entries[folder] = (modified, int(info["width"]), int(info["height"]))
        return int(info["width"]), int(info["height"])


class ManifestCache:
    """Built manifests per process, keyed by what they are made of: the object's inventory (any
    new version: card edit, ingest) and the derivatives folder (pages published or removed)."""

    def __init__(self, catalogue: Catalogue, size: int = 64):
        self.catalogue = catalogue
        self.size = size
        self.entries: OrderedDict[str, tuple[tuple, bytes, str]] = OrderedDict()
        self.lock = threading.Lock()

    def _signature(self, book: str) -> tuple:
        def mtime(path: Path) -> int:
            try:
                return path.stat().st_mtime_ns
            except OSError:
                return 0

        refresh(self.catalogue, book)  # GUJI_STORAGE on S3: pages published by another node
        return (public_url(), self.catalogue.store.inventory_stamp(book), mtime(self.catalogue.home.derivatives / book))

    def get(self, book: str) -> tuple[bytes, str]:
        signature = self._signature(book)
        with self.lock:  # the manifest and viewer routes run in FastAPI's thread pool
            cached = self.entries.get(book)
            if cached and cached[0] == signature:
                self.entries.move_to_end(book)
                return cached[1], cached[2]
        body = json.dumps(build_manifest(self.catalogue, book), ensure_ascii=False).encode()
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        with self.lock:
            self.entries[book] = (signature, body, etag)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return body, etag


class IiifServer:
    """What the IIIF routes keep per app (the manifest, page size and image caches) and the steps of
    answering an Image API request. web/app.py makes one per app (:func:`install`)."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.manifests = ManifestCache(catalogue)
        self.derivatives = catalogue.home.derivatives
        # tiles in a bucket (GUJI_STORAGE=s3://…): ingest/shared_tiles.py
        self.shared = shared_bucket(catalogue) is not None
        self.sizes = PageSizes()
        self.settings = catalogue.settings
        self.rendered = RenderedCache(int(self.settings.render_cache_mb * 1024 * 1024))
        self.decoded = DecodedCache(int(self.settings.tile_cache_mb * 1024 * 1024))

    async def image_endpoint(self, request: Request):
        parts = request.path_params["rest"].split("/")
        if len(parts) not in (2, 3, 6):
            return _error(404, "not an Image API path: /iiif/image/{id}/{page}/{region}/{size}/{rotation}/"
                               "{quality}.{format} or /iiif/image/{id}/{page}/info.json")
        book, page = parts[0], parts[1]
        folder = page_folder(self.derivatives, book, page)
        if folder is None:
            return _error(404, f"no image {book}/{page}")
        if self.shared:
            await run_in_threadpool(refresh, self.catalogue, book)
        if len(parts) == 2:
            return RedirectResponse(ids.image_info(book, page), status_code=303, headers=CORS)
        if len(parts) == 3:
            if parts[2] != "info.json":
                return _error(404, f"no {parts[2]!r} here: ask for info.json or an image request")
            return self.info_response(request, book, page, folder)
        segments = parts[2:]
        if not all(segment and segment[0] != "." and set(segment) <= SEGMENT_CHARS for segment in segments):
            return _error(400, "bad image request: " + "/".join(segments))
        # 1. The pre-built file under the requested name (viewers ask for the tiles info.json lists).
        wanted = "/".join(segments)
        static = await self.static_response(request, folder.joinpath(*segments), book, page, wanted)
        if static is None and self.shared and await run_in_threadpool(fetch, self.catalogue, book, page, wanted):
            static = await self.static_response(request, folder.joinpath(*segments), book, page, wanted)
        if static is not None:
            return static
        size = self.sizes.get(folder)
        if size is None:
            return _error(404, f"no image {book}/{page}")
        width, height = size
        wanted = parse_request(*segments, width, height)  # ImageRequestError: 400, naming the parameter
        canonical = wanted.canonical()
        # 2. The pre-built file for an equivalent request (0,0,512,512/512,/0/default.jpg → …/512,512/…).
        name = wanted.file_name()
        if name != "/".join(segments) and not wanted.mirror and wanted.quality == "default":
            static = await self.static_response(request, folder.joinpath(*name.split("/")), book, page, canonical)
            if static is not None:
                return static
        # 3. Rendered from the page's pyramid.
        return await self.rendered_response(request, book, page, folder, wanted, width, height, canonical)

    async def static_response(self, request: Request, path: Path, book: str, page: str, canonical: str):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # no such file, or a name too long for the file system: not a pre-built tile
            return None
        streamed = False
        try:
            stat = os.fstat(fd)
            if not S_ISREG(stat.st_mode):
                return None
            etag = _etag(stat)
            headers = self.image_headers(book, page, canonical, etag)
            if _not_modified(request, etag):
                return Response(status_code=304, headers=headers)
            media_type = FORMATS.get(path.suffix.lstrip("."), "application/octet-stream")
            if stat.st_size <= SMALL_FILE:
                with open(fd, "rb", closefd=False) as handle:
                    return Response(handle.read(), media_type=media_type, headers=headers)
            if "range" in request.headers:
                return FileResponse(path, media_type=media_type, headers=headers, stat_result=stat)
            streamed = True
            return FileStream(fd, stat.st_size, media_type, headers)  # a full-size page: see web/file_stream.py
        finally:
            if not streamed:
                os.close(fd)

    def pyramid_of(self, book: str, page: str, folder: Path) -> Path | None:
        pyramid = folder / PYRAMID_FILE
        if pyramid.exists():
            return pyramid
        try:
            return ensure_pyramid(self.catalogue, book, page, folder)
        except Exception as error:  # a master libvips cannot read: fall back to the full-size JPEG
            log.warning("%s/%s: no pyramid (%s)", book, page, error)
            return None

    async def rendered_response(self, request, book, page, folder, wanted, width, height, canonical):
        source = folder / PYRAMID_FILE
        if not source.exists():
            built = await run_in_threadpool(self.pyramid_of, book, page, folder)
            source = built or folder / "full" / "max" / "0" / "default.jpg"
        try:
            source_stat = source.stat()
        except OSError:
            return _error(404, f"no image {book}/{page}")
        etag = f'"{hashlib.sha1(f"{source_stat.st_mtime_ns}:{canonical}".encode()).hexdigest()[:24]}"'
        headers = self.image_headers(book, page, canonical, etag)
        if _not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        key = (str(source), source_stat.st_mtime_ns, canonical)
        body = self.rendered.get(key)
        if body is None:
            try:
                body = await asyncio.get_running_loop().run_in_executor(
                    _render_pool(self.settings.render_threads), render, source, wanted, width, height, self.decoded)
            except Exception as error:  # pyvips.Error: a damaged derivative; say so rather than 500
                log.error("%s/%s %s: %s (rebuild with `guji tiles rebuild %s`)", book, page, canonical, error, book)
                return _error(503, f"cannot render {book}/{page} {canonical} now: an image file on the server is "
                                   "damaged; the server log names it. Please try again later.")
            self.rendered.put(key, body)
        return Response(body, media_type=wanted.media_type, headers=headers)

    def image_headers(self, book: str, page: str, canonical: str, etag: str) -> dict:
        link = f'<{ids.image_service(book, page)}/{canonical}>;rel="canonical", <{PROFILE_URI}>;rel="profile"'
        return {**CORS, "ETag": etag, "Cache-Control": TILE_CACHE, "Link": link}

    def info_response(self, request: Request, book: str, page: str, folder: Path):
        path = folder / "info.json"
        try:
            stat = path.stat()
            stored = json.loads(path.read_bytes())
        except (OSError, json.JSONDecodeError):
            return _error(404, f"no image {book}/{page}")
        service_id = ids.image_service(book, page)
        etag = f'"{stat.st_mtime_ns:x}-{hashlib.sha1(service_id.encode()).hexdigest()[:8]}"'
        headers = {**CORS, "ETag": etag, "Cache-Control": JSON_CACHE,
                   "Link": f'<{PROFILE_URI}>;rel="profile"'}
        if _not_modified(request, etag):
            return Response(status_code=304, headers=headers)
        accept = request.headers.get("accept", "")
        media_type = MEDIA_TYPE if "application/ld+json" in accept or "json" not in accept else "application/json"
        return Response(json.dumps(service_info(stored, service_id)), media_type=media_type, headers=headers)

    def first_page_image(self, book: str, page: str | None) -> str | None:
        """A listed size (600 px wide, or the nearest) of the page the viewer opens at: shown at once
        while Mirador loads, so the reader never waits in front of a grey box."""
        pages = [str(entry.get("page")) for entry in (self.catalogue.structure(book) or {}).get("pages") or []]
        page = page or (pages[0] if pages else None)
        folder = page_folder(self.derivatives, book, page) if page else None
        info = read_info(folder) if folder else None
        sizes = sorted(int(size["width"]) for size in (info or {}).get("sizes") or [] if size.get("width"))
        if not sizes:
            return None
        width = min(sizes, key=lambda w: abs(w - PLACEHOLDER_WIDTH))
        return f"/iiif/image/{book}/{page}/full/{width},/0/default.jpg"

    def start_page(self, book: str, wanted: str | None) -> str | None:
        """The page to open: `wanted` (0005, or 5) when the book has that page; otherwise None (the first)."""
        number = whole_number(wanted) if wanted else None
        if number is None:
            return None
        page = f"{number:04d}"
        pages = {str(entry.get("page")) for entry in (self.catalogue.structure(book) or {}).get("pages") or []}
        return page if page in pages else None


async def iiif_of(request: Request) -> IiifServer:
    return request.app.state.iiif


IiifDep = Annotated[IiifServer, Depends(iiif_of)]
router = APIRouter()


def install(app: FastAPI) -> None:
    """The IIIF routes in the app, with their caches (``app.state.iiif``)."""
    app.state.iiif = IiifServer(app.state.catalogue)
    app.include_router(router)


@router.get("/iiif/{book}/manifest", tags=["iiif"], summary="IIIF Presentation 3 manifest of a book")
def manifest(request: Request, book: str, iiif: IiifDep):
    if not valid_book(book):
        return _error(404, f"no book {book!r}")
    body, etag = iiif.manifests.get(book)  # no such card, withdrawn, no page images: the app's error handler
    headers = {**CORS, "ETag": etag, "Cache-Control": JSON_CACHE}
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=PRESENTATION_TYPE, headers=headers)


@router.get("/iiif/collection/{name}", tags=["iiif"],
            summary="IIIF collections: top, 四部 branches, unclassified, local")
def collection(name: str, catalogue: CatalogueDep):
    body = build_collection(catalogue, name)
    return Response(json.dumps(body, ensure_ascii=False), media_type=PRESENTATION_TYPE,
                    headers={**CORS, "Cache-Control": JSON_CACHE})


async def image_endpoint(request: Request):
    return await request.app.state.iiif.image_endpoint(request)


router.add_route("/iiif/image/{rest:path}", image_endpoint, methods=["GET", "HEAD"], include_in_schema=False)


@router.get("/books/{book}/viewer", response_class=HTMLResponse, include_in_schema=False)
def viewer(request: Request, book: str, iiif: IiifDep, lang: str | None = None, canvas: str | None = None,
           page: str | None = None, q: str | None = None):
    """Mirador on the book; `page` (or `canvas`) = the page to open, e.g. 0005; `q` a search; `lang`
    zh-Hans, zh-Hant or en (default: the site's language, see :mod:`web.viewer_language`)."""
    language = viewer_language.choose(lang, i18n.language_of(request))
    words = viewer_language.PAGE_WORDS[language]
    canvas = canvas or page
    catalogue = iiif.catalogue
    if not valid_book(book) or not catalogue.exists(book):
        return HTMLResponse(viewer_language.note(language, words["no_book"].format(book=book)), status_code=404)
    try:
        iiif.manifests.get(book)
    except BookWithdrawn:  # readers see a note; the staff hint in the exception is for the JSON API and logs
        return HTMLResponse(viewer_language.note(language, words["withdrawn"]), status_code=410)
    except NoPageImages:
        return HTMLResponse(viewer_language.note(language, words["no_images"]), status_code=404)
    card = catalogue.get(book).card
    start = iiif.start_page(book, canvas)
    return templates.TemplateResponse(request, "viewer.html", {
        "book": book, "manifest": ids.manifest(book), "language": language,
        "title": viewer_language.tab_title(language, (card.get("edition") or {}).get("title") or book),
        "mirador": viewer_language.mirador_config(language),
        "mirador_url": asset_url("/viewer/mirador.min.js", mirador_dir(iiif.settings) / "mirador.min.js"),
        "placeholder": iiif.first_page_image(book, start), "loading": words["loading"],
        "canvas": ids.canvas(book, start) if start else None, "query": q,
    })


@router.get("/viewer/{name}", include_in_schema=False)
def viewer_asset(request: Request, name: str, settings: SettingsDep):
    if name not in ("mirador.min.js", "mirador.min.js.map"):
        return _error(404, f"no viewer file {name!r}")
    path = mirador_dir(settings) / name
    if not path.is_file():
        return _error(404, "Mirador is not installed: run `make install` (npm ci) first")
    if name.endswith(".js"):  # gzip (2.3 MB → 0.7 MB), ETag, a year when the address has its version
        return asset_response(request, path)
    headers = {"Cache-Control": "public, max-age=86400"}
    if "range" in request.headers:
        return FileResponse(path, media_type="application/json", headers=headers)
    fd = os.open(path, os.O_RDONLY)
    stat = os.fstat(fd)
    headers["ETag"] = _etag(stat)
    if _not_modified(request, headers["ETag"]):
        os.close(fd)
        return Response(status_code=304, headers=headers)
    return FileStream(fd, stat.st_size, "application/json", headers)  # the source map (developers): 9.8 MB
