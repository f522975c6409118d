"""The site's own static files (CSS, JS, the icon) and Mirador's bundle: cached and compressed.

Every page links them with a version (`/static/guji.css?v=1a2b3c4d5e`, see :func:`asset_url`), the
first bytes of the file's SHA-256: a versioned address never changes content, so browsers keep it
a year (`immutable`) and a new release is fetched at once because its address differs. An address
without the version is cached for an hour and revalidated by its ETag.

Text files (CSS, JS, SVG) are sent gzip-compressed to clients that accept it (Mirador's 2.3 MB
bundle becomes 0.7 MB): from a pre-compressed ``NAME.gz`` beside the file when one is there and
as new, otherwise compressed once per process and kept in memory. Images are never compressed
again (page images and tiles do not come through here at all; see web/file_stream.py).
"""

from __future__ import annotations

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response

MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
}
COMPRESSIBLE = {".css", ".js", ".svg"}
VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=3600"


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes | None  # None: not worth compressing (an image)
    digest: str  # hex SHA-256 of body
    media_type: str

    @property
    def etag(self) -> str:
        return f'"{self.digest[:20]}"'


_loaded: dict[Path, tuple[tuple[int, int], Asset]] = {}


def load(path: Path) -> Asset:
    """The file at `path`, read (and compressed) once per change of the file."""
    stat = path.stat()
    key = (stat.st_mtime_ns, stat.st_size)
    cached = _loaded.get(path)
    if cached and cached[0] == key:
        return cached[1]
    body = path.read_bytes()
    gzipped = None
    if path.suffix in COMPRESSIBLE:
        ready = path.with_name(path.name + ".gz")
        try:
            fresh = ready.stat().st_mtime_ns >= stat.st_mtime_ns
        except OSError:
            fresh = False
        gzipped = ready.read_bytes() if fresh else gzip.compress(body, compresslevel=9, mtime=0)
    asset = Asset(body, gzipped, hashlib.sha256(body).hexdigest(),
                  MEDIA_TYPES.get(path.suffix, "application/octet-stream"))
    _loaded[path] = (key, asset)
    return asset


def asset_url(prefix: str, path: Path) -> str:
    """`prefix` (e.g. /static/guji.css) with the file's version; the bare prefix when it is missing."""
    try:
        return f"{prefix}?v={load(path).digest[:10]}"
    except OSError:
        return prefix


def accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, parameters = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return parameters.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def asset_response(request: Request, path: Path) -> Response:
    """The file as a response: 304 when the client has it, gzip when it may, cached for long when
    the address carries the version."""
    asset = load(path)
    versioned = request.query_params.get("v") == asset.digest[:10]
    headers = {"ETag": asset.etag, "Cache-Control": VERSIONED if versioned else UNVERSIONED}
    if asset.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    given = request.headers.get("if-none-match")
    if given and (given.strip() == "*" or asset.etag in [tag.strip().removeprefix("W/") for tag in given.split(",")]):
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def static_file(folder: Path, name: str) -> Path | None:
    """`name` inside `folder`, or None: no sub-folders, no hidden files, no escaping the folder."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        return None
    path = folder / name
    return path if os.path.isfile(path) and path.suffix in MEDIA_TYPES else None
