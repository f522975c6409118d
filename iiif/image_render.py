"""Render one Image API request with pyvips, from a page's pyramidal TIFF (or a single image).

The pyramid (see :mod:`ingest.pyramid`) holds the page at full size and at every halving, in
256 px JPEG tiles. A request reads only the tiles of the smallest level that still has at
least the pixels asked for, so a 512 px view of a whole 5000×7000 page decodes a 625×875
level, not 35 megapixels. Order of operations is the Image API's: region, size, mirror,
rotation, quality, format.

Decoding JPEG tiles costs more than everything else a small request does, and viewers ask
for neighbouring regions, so decoded pixels are kept in a per-process LRU with a byte budget
(``GUJI_TILE_CACHE_MB``, default 128) — what iipsrv does with its tile cache: small levels
(up to 32 MB decoded: every level below full size of a 600 dpi page) whole, the large one as
256 px tiles read with a long-lived ``pyvips.Region`` per thread (a libvips pipeline built on
the TIFF loader for every request costs milliseconds; a region fetch microseconds). Requests
for more than a few megapixels at full size stream through an ordinary libvips pipeline.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

from .image_api import ImageRequest

JPEG_QUALITY = 85
WEBP_QUALITY = 80
BLOCK = 512  # decoded pixels of a large level are cached in blocks of this size (the TIFF's tiles are 256)
ASSEMBLE_LIMIT = 4_000_000  # pixels read at the chosen level; beyond this, stream
WHOLE_LEVEL_LIMIT = 32 * 1024 * 1024  # bytes: levels up to this size are decoded whole and kept
logging.getLogger("pyvips").setLevel(logging.ERROR)


@lru_cache(maxsize=256)
def _open(path: str, page: int, modified: int):
    import pyvips

    if path.lower().endswith((".tif", ".tiff")):
        return pyvips.Image.new_from_file(path, page=page, access="random", fail_on="none")
    return pyvips.Image.new_from_file(path, access="random", fail_on="none")  # a single image (JPEG)


@lru_cache(maxsize=256)
def _levels(path: str, modified: int) -> int:
    import pyvips

    header = pyvips.Image.new_from_file(path, access="random")
    try:
        return max(1, int(header.get("n-pages")))
    except pyvips.Error:
        return 1


class DecodedCache:
    """Decoded pyramid pixels, least recently used out first, within one byte budget: whole
    levels when they are small (every level but the full-size one of a typical scan), tiles of
    the large ones."""

    def __init__(self, budget: int):
        self.budget = budget
        self.used = 0
        self.entries: OrderedDict[tuple, object] = OrderedDict()
        self.lock = threading.Lock()
        self.local = threading.local()

    def _get(self, key: tuple):
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
            return found

    def _put(self, key: tuple, image) -> None:
        size = image.width * image.height * image.bands
        with self.lock:
            if key in self.entries:
                return
            self.entries[key] = image
            self.used += size
            while self.used > self.budget and len(self.entries) > 1:
                _, old = self.entries.popitem(last=False)
                self.used -= old.width * old.height * old.bands

    def _region(self, image):
        import pyvips

        regions = getattr(self.local, "regions", None)
        if regions is None:
            regions = self.local.regions = {}
        found = regions.get(id(image))
        if found is None or found[0] is not image:
            if len(regions) > 64:
                regions.clear()
            found = regions[id(image)] = (image, pyvips.Region.new(image))
        return found[1]

    def level(self, key: tuple, image):
        """The whole level in memory (decoded once)."""
        found = self._get(key)
        if found is None:
            found = image.copy_memory()
            self._put(key, found)
        return found

    def tile(self, key: tuple, image, column: int, row: int):
        found = self._get(key)
        if found is None:
            import pyvips

            left, top = column * BLOCK, row * BLOCK
            width, height = min(BLOCK, image.width - left), min(BLOCK, image.height - top)
            data = self._region(image).fetch(left, top, width, height)
            found = pyvips.Image.new_from_memory(data, width, height, image.bands, image.format)
            self._put(key, found)
        return found


_default_cache: DecodedCache | None = None


def default_cache() -> DecodedCache:
    """The cache `render` uses when given none (the web app gives its own, of GUJI_TILE_CACHE_MB)."""
    global _default_cache
    if _default_cache is None:
        _default_cache = DecodedCache(128 * 1024 * 1024)
    return _default_cache


def _level(source: Path, request: ImageRequest, full_width: int) -> tuple[object, int, int]:
    """The smallest pyramid level with at least the requested resolution: (image, level, mtime)."""
    path, modified = str(source), source.stat().st_mtime_ns
    if source.suffix.lower() not in (".tif", ".tiff"):
        return _open(path, 0, modified), 0, modified
    # Output pixels per page pixel; level k is the page shrunk about 2**k times.
    needed = max(request.width / request.region_width, request.height / request.region_height)
    guess = int(math.floor(math.log2(1 / needed))) if needed < 1 else 0
    for level in range(min(guess, _levels(path, modified) - 1), 0, -1):
        image = _open(path, level, modified)
        if image.width >= full_width * needed * 0.999:
            return image, level, modified
    return _open(path, 0, modified), 0, modified


def _assemble(decoded: DecodedCache, source: Path, level: int, modified: int, image, left: int, top: int, width: int,
              height: int):
    """The box (left, top, width, height) of a pyramid level, from cached decoded tiles."""
    import pyvips

    first_column, first_row = left // BLOCK, top // BLOCK
    last_column, last_row = (left + width - 1) // BLOCK, (top + height - 1) // BLOCK
    tiles = [decoded.tile((str(source), modified, level, column, row), image, column, row)
             for row in range(first_row, last_row + 1) for column in range(first_column, last_column + 1)]
    joined = tiles[0] if len(tiles) == 1 else pyvips.Image.arrayjoin(tiles, across=last_column - first_column + 1)
    return joined.crop(left - first_column * BLOCK, top - first_row * BLOCK, width, height)


def _exact(image, width: int, height: int):
    """Resize `image` to exactly width×height."""
    if image.width == width and image.height == height:
        return image
    # Linear is enough: the pyramid level is at most 2× the output, and it is half the cost of lanczos3.
    out = image.resize(width / image.width, vscale=height / image.height, kernel="linear")
    if out.width != width or out.height != height:
        out = out.gravity("north-west", width, height, extend="copy")
    return out


def render(source: Path, request: ImageRequest, full_width: int, full_height: int,
           decoded: DecodedCache | None = None) -> bytes:
    """The encoded image for `request` on a page of full_width×full_height pixels, reading pyramid
    levels and tiles through `decoded` (default: one cache of 128 MB per process)."""
    decoded = decoded or default_cache()
    level_image, level, modified = _level(source, request, full_width)
    # Level k is the page halved k times (each side rounded); use the exact 2**-k, so that a
    # region twice the output size at level 1 needs no resampling at all.
    scale = 0.5 ** level
    left = min(round(request.x * scale), level_image.width - 1)
    top = min(round(request.y * scale), level_image.height - 1)
    width = max(1, min(round(request.region_width * scale), level_image.width - left))
    height = max(1, min(round(request.region_height * scale), level_image.height - top))
    tiled = source.suffix.lower() in (".tif", ".tiff")
    if tiled and level_image.width * level_image.height * level_image.bands <= WHOLE_LEVEL_LIMIT:
        whole = decoded.level((str(source), modified, level), level_image)
        image = whole.crop(left, top, width, height)
    elif tiled and width * height <= ASSEMBLE_LIMIT:
        image = _assemble(decoded, source, level, modified, level_image, left, top, width, height)
    else:
        image = level_image.crop(left, top, width, height)
    image = _exact(image, request.width, request.height)
    if request.mirror:
        image = image.fliphor()
    if request.rotation == 90:
        image = image.rot90()
    elif request.rotation == 180:
        image = image.rot180()
    elif request.rotation == 270:
        image = image.rot270()
    image = _quality(image, request.quality)
    return _encode(image, request.format, request.quality)


def _quality(image, quality: str):
    if image.hasalpha():
        image = image.flatten(background=[255])
    if quality in ("gray", "bitonal"):
        if image.bands >= 3:
            image = image.colourspace("b-w")
        if quality == "bitonal":
            image = (image > 127).cast("uchar")  # 255 where light, 0 where dark
    elif quality == "color" and image.bands == 1:
        image = image.colourspace("srgb")
    return image


def _encode(image, fmt: str, quality: str) -> bytes:
    if fmt == "png":
        return image.pngsave_buffer(compression=3, keep="none", bitdepth=1 if quality == "bitonal" else 8)
    if fmt == "webp":
        return image.webpsave_buffer(Q=WEBP_QUALITY, keep="none")
    return image.jpegsave_buffer(Q=JPEG_QUALITY, keep="none")
