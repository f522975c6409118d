"""A master as the OCR engines want it: 8-bit sRGB, at most MAX_PIXELS, with the scale back to the master.

Masters come as they were scanned: 16-bit, CMYK, grey, with alpha, with an ICC profile, 60
megapixels and more. :func:`ingest.derivatives.to_display` makes 8-bit sRGB of them exactly as for
the tiles; a page larger than MAX_PIXELS is reduced for the engine and every box is scaled back,
so all coordinates stored are in the master's own pixels.

:func:`open_page` reads only the header; :meth:`PageSource.image` decodes the page — or a strip of
it (:mod:`ingest.ocr_tiles`) — in one sequential pass, so a worker never holds the whole decoded
master while the detector runs on a strip (a 26-megapixel scan is 78 MB decoded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from guji.repository.errors import Refused

MAX_PIXELS = 36_000_000  # a 6000×6000 page; larger ones are read at reduced size (boxes scaled back)
MIN_SIDE = 32


class PageUnreadable(Refused):
    """The master cannot be read as an image the engine can take (the message says why, in Chinese)."""


@dataclass
class PageSource:
    """A master, opened: the size of the image the engine reads, its scale from the master, warnings."""

    path: Path
    width: int
    height: int
    scale: float = 1.0
    warnings: list[str] = field(default_factory=list)

    def image(self, left: int = 0, width: int | None = None):
        """The page (or the strip `left`…`left + width` of its full height) as a pyvips image, 8-bit
        sRGB, in memory; decoded afresh from the master each time."""
        import pyvips

        try:
            image = _display(pyvips.Image.new_from_file(str(self.path), access="sequential"), self.scale)
            if left or (width is not None and width != image.width):
                image = image.crop(left, 0, min(width or image.width, image.width - left), image.height)
            return image.copy_memory()
        except pyvips.Error as error:
            raise _undecodable(error) from None


def open_page(path: Path) -> PageSource:
    """The master at `path`, checked (size, header) but not decoded. Raises :class:`PageUnreadable`."""
    import pyvips

    from .page_work import quiet_libvips

    quiet_libvips()
    try:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
    except pyvips.Error as error:
        raise _undecodable(error) from None
    if image.width < MIN_SIDE or image.height < MIN_SIDE:
        raise PageUnreadable(f"图像只有 {image.width}×{image.height} 像素，太小，无法识别")
    if image.width * image.height <= MAX_PIXELS:
        return PageSource(path, image.width, image.height)
    scale = math.sqrt(MAX_PIXELS / (image.width * image.height))
    reduced = image.resize(scale)
    return PageSource(path, reduced.width, reduced.height, scale,
                      [f"{image.width}×{image.height} 像素的大图，按 {scale:.2f} 倍缩小后识别（坐标已换算回原图）"])


def page_image(path: Path):
    """(pyvips image 8-bit sRGB in memory, scale from master to image pixels, warnings)."""
    source = open_page(path)
    return source.image(), source.scale, source.warnings


def _display(image, scale: float):
    from .derivatives import to_display

    if scale != 1.0:
        image = image.resize(scale)
    image = to_display(image)
    if image.bands == 1:
        image = image.colourspace("srgb")
    if image.bands > 3:
        image = image.extract_band(0, n=3)
    return image


def _undecodable(error) -> PageUnreadable:
    first = str(error).strip().splitlines()[0] if str(error).strip() else "libvips error"
    return PageUnreadable(f"母版图像无法解码（{first[:160]}）")
