"""A master as the OCR engines want it: 8-bit sRGB, at most MAX_PIXELS, with the scale back to the master.

Masters come as they were scanned: 16-bit, CMYK, grey, with alpha, with an ICC profile, 60
megapixels and more. :func:`ingest.derivatives.to_display` makes 8-bit sRGB of them exactly as for
the tiles; a page larger than MAX_PIXELS is reduced for the engine and every box is scaled back,
so all coordinates stored are in the master's own pixels.
"""

from __future__ import annotations

import math
from pathlib import Path

from repository.errors import Refused

MAX_PIXELS = 36_000_000  # a 6000×6000 page; larger ones are read at reduced size (boxes scaled back)
MIN_SIDE = 32


class PageUnreadable(Refused):
    """The master cannot be read as an image the engine can take (the message says why, in Chinese)."""


def page_image(path: Path):
    """(pyvips image 8-bit sRGB, scale from master to image pixels, warnings)."""
    import pyvips

    from .derivatives import to_display
    from .pipeline import quiet_libvips

    quiet_libvips()
    try:
        image = pyvips.Image.new_from_file(str(path))
        warnings = []
        if image.width < MIN_SIDE or image.height < MIN_SIDE:
            raise PageUnreadable(f"图像只有 {image.width}×{image.height} 像素，太小，无法识别")
        scale = 1.0
        if image.width * image.height > MAX_PIXELS:
            scale = math.sqrt(MAX_PIXELS / (image.width * image.height))
            warnings.append(f"{image.width}×{image.height} 像素的大图，按 {scale:.2f} 倍缩小后识别（坐标已换算回原图）")
            image = image.resize(scale)
        image = to_display(image)
        if image.bands == 1:
            image = image.colourspace("srgb")
        if image.bands > 3:
            image = image.extract_band(0, n=3)
        return image.copy_memory(), scale, warnings
    except pyvips.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "libvips error"
        raise PageUnreadable(f"母版图像无法解码（{first[:160]}）") from None
