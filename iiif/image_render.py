"""Render one Image API request with pyvips, from a page's pyramidal TIFF (or a single image).

The pyramid (see :mod:`ingest.pyramid`) holds the page at full size and at every halving, in
256 px JPEG tiles. A request reads only the tiles of the smallest level that still has at
least the pixels asked for, so a 512 px view of a whole 5000×7000 page decodes a 625×875
level, not 35 megapixels. Order of operations is the Image API's: region, size, mirror,
rotation, quality, format.

Opened pyramids are kept per process (a small LRU keyed by path and modification time), since
opening a TIFF and reading its directory costs more than the tiles of a small request.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from pathlib import Path

from .image_api import ImageRequest

JPEG_QUALITY = 85
WEBP_QUALITY = 80
logging.getLogger("pyvips").setLevel(logging.ERROR)


@lru_cache(maxsize=512)
def _open(path: str, page: int, modified: int):
    import pyvips

    return pyvips.Image.new_from_file(path, page=page, access="random", fail_on="none")


@lru_cache(maxsize=256)
def _levels(path: str, modified: int) -> int:
    import pyvips

    header = pyvips.Image.new_from_file(path, access="random")
    try:
        return max(1, int(header.get("n-pages")))
    except pyvips.Error:
        return 1


def _level(source: Path, request: ImageRequest, full_width: int):
    """The smallest pyramid level with at least the requested resolution."""
    path, modified = str(source), source.stat().st_mtime_ns
    if source.suffix.lower() not in (".tif", ".tiff"):
        return _open(path, 0, modified)
    # Output pixels per page pixel; level k is the page shrunk about 2**k times.
    needed = max(request.width / request.region_width, request.height / request.region_height)
    guess = int(math.floor(math.log2(1 / needed))) if needed < 1 else 0
    for level in range(min(guess, _levels(path, modified) - 1), 0, -1):
        image = _open(path, level, modified)
        if image.width >= full_width * needed * 0.999:
            return image
    return _open(path, 0, modified)


def _exact(image, width: int, height: int):
    """Resize `image` to exactly width×height."""
    if image.width == width and image.height == height:
        return image
    out = image.resize(width / image.width, vscale=height / image.height)
    if out.width != width or out.height != height:
        out = out.gravity("north-west", width, height, extend="copy")
    return out


def render(source: Path, request: ImageRequest, full_width: int, full_height: int) -> bytes:
    """The encoded image for `request` on a page of full_width×full_height pixels."""
    level = _level(source, request, full_width)
    scale_x, scale_y = level.width / full_width, level.height / full_height
    left, top = request.x * scale_x, request.y * scale_y
    right = min(level.width, math.ceil((request.x + request.region_width) * scale_x))
    bottom = min(level.height, math.ceil((request.y + request.region_height) * scale_y))
    left, top = min(int(left), right - 1), min(int(top), bottom - 1)
    image = level.crop(left, top, max(1, right - left), max(1, bottom - top))
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
