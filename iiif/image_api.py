"""IIIF Image API 3: reading image requests and describing a page's image service.

An image request is ``{region}/{size}/{rotation}/{quality}.{format}``. :func:`parse_request`
turns the four path segments into an :class:`ImageRequest` in page pixels, or raises
:class:`ImageRequestError` naming the parameter and what is allowed (the web layer answers
400). The rules are those of Image API 3.0 §4:

* region ``full``, ``square``, ``x,y,w,h`` or ``pct:x,y,w,h``; a region reaching past the page
  is cut at the edge, one entirely outside it (or of zero width or height) is an error;
* size ``max``, ``w,``, ``,h``, ``pct:n``, ``w,h``, ``!w,h``, each optionally prefixed with
  ``^``: without ``^`` a size larger than the region is an error (upscaling must be asked for),
  with ``^`` it is allowed up to the service's limits (§5.3 ``maxWidth``, ``maxHeight``,
  ``maxArea``, advertised in info.json — see :func:`service_limits`: the page's own size, and
  never more than JPEG's 65,500 pixels a side); ``max`` and ``^max`` are the largest size within
  them; a size beyond them is an error naming the limit, and so is one beyond what the format
  can hold (WebP: 16,383 pixels a side);
* rotation ``0``, ``90``, ``180``, ``270``, with ``!`` in front to mirror first;
* quality ``default``, ``color``, ``gray``, ``bitonal``; format ``jpg``, ``png``, ``webp``.

``!w,h`` without ``^`` is refused when fitting the region into the box would need upscaling:
the official validator (``iiif-validate.py``, test ``size_noup``) requires that, although the
3.0 text reads as if the region should then be returned at its own size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from guji.repository.errors import InvalidInput

CONTEXT = "http://iiif.io/api/image/3/context.json"
PROTOCOL = "http://iiif.io/api/image"
PROFILE = "level2"
PROFILE_URI = "http://iiif.io/api/image/3/level2.json"
MEDIA_TYPE = f'application/ld+json;profile="{CONTEXT}"'
QUALITIES = ("default", "color", "gray", "bitonal")
FORMATS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
# Beyond level 2 (which already has regions by pixels, percent and square, every size form,
# rotation by 90s, jpg and png, CORS, the JSON-LD media type and the base URI redirect).
EXTRA_FEATURES = ["mirroring", "sizeUpscaling", "profileLinkHeader", "canonicalLinkHeader"]

# Numbers in requests: at most 10 digits each side of the point (no page has 10**10 pixels; longer
# numbers would only overflow floats and the database of sizes).
NUMBER = r"[0-9]{1,10}(?:\.[0-9]{1,10})?"
INTEGER = r"[0-9]{1,10}"
REGION = re.compile(rf"^(?:full|square|{INTEGER},{INTEGER},{INTEGER},{INTEGER}"
                    rf"|pct:{NUMBER},{NUMBER},{NUMBER},{NUMBER})$")
SIZE = re.compile(rf"^\^?(?:max|pct:{NUMBER}|{INTEGER},|,{INTEGER}|!?{INTEGER},{INTEGER})$")
ROTATION = re.compile(rf"^!?{NUMBER}$")
QUALITY_FORMAT = re.compile(r"^([a-z]+)\.([a-z0-9]+)$")


# The largest side each format can hold (libjpeg: 65,500; WebP: 16,383; PNG: 2**31 − 1).
FORMAT_MAX_SIDE = {"jpg": 65_500, "png": 2**31 - 1, "webp": 16_383}
FORMAT_NAMES = {"jpg": "JPEG", "png": "PNG", "webp": "WebP"}


@dataclass(frozen=True)
class ServiceLimits:
    """Image API 3 §5.3 maxWidth, maxHeight, maxArea of one page's service."""

    max_width: int
    max_height: int
    max_area: int


def service_limits(width: int, height: int) -> ServiceLimits:
    """This service's limits for a page of width×height pixels: never more pixels than the page has,
    in either direction or in all (so ``^`` enlarges a region up to the page's own size, and ``^max``
    of the whole page is the page), and never more than a JPEG can hold on a side."""
    max_width, max_height = min(width, FORMAT_MAX_SIDE["jpg"]), min(height, FORMAT_MAX_SIDE["jpg"])
    return ServiceLimits(max_width, max_height, max_width * max_height)


class ImageRequestError(InvalidInput):
    """A request parameter that cannot be served; `parameter` names it."""

    def __init__(self, parameter: str, value: str, message: str):
        self.parameter = parameter
        self.value = value
        super().__init__(f"{parameter} {value!r}: {message}")

    @property
    def extensions(self) -> dict:
        return {"parameter": self.parameter}


@dataclass(frozen=True)
class ImageRequest:
    x: int
    y: int
    region_width: int
    region_height: int
    width: int  # output size before rotation
    height: int
    mirror: bool
    rotation: int  # 0, 90, 180, 270
    quality: str
    format: str
    full_region: bool

    @property
    def media_type(self) -> str:
        return FORMATS[self.format]

    def canonical(self) -> str:
        """The canonical form of this request (Image API 3 §4.7), e.g. `0,0,512,512/256,256/0/default.jpg`;
        the pre-built tiles are stored under these names."""
        region = "full" if self.full_region else f"{self.x},{self.y},{self.region_width},{self.region_height}"
        upscaled = self.width > self.region_width or self.height > self.region_height
        if self.width == self.region_width and self.height == self.region_height:
            size = "max"
        else:
            size = f"{'^' if upscaled else ''}{self.width},{self.height}"
        rotation = f"{'!' if self.mirror else ''}{self.rotation}"
        return f"{region}/{size}/{rotation}/{self.quality}.{self.format}"


    def file_name(self) -> str:
        """The name a pre-built tile of this request would have: like the canonical form but with
        the size always as w,h (pyvips dzsave names its tiles `x,y,w,h/w,h/0/default.jpg`)."""
        region, _, rest = self.canonical().partition("/")
        return f"{region}/{self.width},{self.height}/{rest.partition('/')[2]}"


def _region(value: str, width: int, height: int) -> tuple[int, int, int, int]:
    if not REGION.match(value):
        raise ImageRequestError("region", value, "use full, square, x,y,w,h or pct:x,y,w,h")
    if value == "full":
        return 0, 0, width, height
    if value == "square":
        side = min(width, height)
        return (width - side) // 2, (height - side) // 2, side, side
    if value.startswith("pct:"):
        px, py, pw, ph = (float(part) for part in value[4:].split(","))
        x, y = int(px * width / 100), int(py * height / 100)
        w, h = round(pw * width / 100), round(ph * height / 100)
    else:
        x, y, w, h = (int(part) for part in value.split(","))
    if w <= 0 or h <= 0:
        raise ImageRequestError("region", value, "the region has zero width or height")
    if x >= width or y >= height:
        raise ImageRequestError("region", value, f"the region lies outside the image ({width}×{height} pixels)")
    return x, y, min(w, width - x), min(h, height - y)


def _largest(width: int, height: int, limits: ServiceLimits, upscale: bool) -> tuple[int, int]:
    """A width×height region at the largest size within the service's limits, keeping its shape
    (``max``: never larger than the region; ``^max``: enlarged as far as the limits allow)."""
    scale = min(limits.max_width / width, limits.max_height / height, math.sqrt(limits.max_area / (width * height)))
    if not upscale:
        scale = min(scale, 1.0)
    if scale == 1:
        return width, height
    return max(1, min(limits.max_width, int(width * scale))), max(1, min(limits.max_height, int(height * scale)))


def _size(value: str, region_width: int, region_height: int, limits: ServiceLimits) -> tuple[int, int]:
    if not SIZE.match(value):
        raise ImageRequestError("size", value, "use max, w,, ,h, pct:n, w,h or !w,h (with ^ in front to upscale)")
    upscale = value.startswith("^")
    spec = value[1:] if upscale else value
    if spec == "max":
        return _largest(region_width, region_height, limits, upscale)
    if spec.startswith("pct:"):
        percent = float(spec[4:])
        if percent > 100 and not upscale:
            raise ImageRequestError("size", value, "more than 100 percent upscales: write ^pct:n to ask for that")
        width, height = round(region_width * percent / 100), round(region_height * percent / 100)
    elif spec.startswith("!"):
        box_width, box_height = (int(part) for part in spec[1:].split(","))
        scale = min(box_width / region_width, box_height / region_height)
        if scale > 1 and not upscale:
            raise ImageRequestError("size", value, "fitting the region into this box would upscale it: write ^!w,h")
        width = min(box_width, max(1, round(region_width * scale)))
        height = min(box_height, max(1, round(region_height * scale)))
    elif spec.endswith(","):
        width = int(spec[:-1])
        height = round(region_height * width / region_width)
    elif spec.startswith(","):
        height = int(spec[1:])
        width = round(region_width * height / region_height)
    else:
        width, height = (int(part) for part in spec.split(","))
    if width <= 0 or height <= 0:
        raise ImageRequestError("size", value, "the resulting image would have zero width or height")
    if not upscale and (width > region_width or height > region_height):
        raise ImageRequestError("size", value, f"larger than the region ({region_width}×{region_height}); "
                                "write ^ in front of the size to upscale")
    if width > limits.max_width:
        raise ImageRequestError("size", value, f"{width}×{height} is wider than this service's maxWidth of "
                                f"{limits.max_width} pixels (see info.json)")
    if height > limits.max_height:
        raise ImageRequestError("size", value, f"{width}×{height} is taller than this service's maxHeight of "
                                f"{limits.max_height} pixels (see info.json)")
    if width * height > limits.max_area:
        raise ImageRequestError("size", value, f"{width}×{height} is more than this service's maxArea "
                                f"of {limits.max_area} pixels (see info.json)")
    return width, height


def _rotation(value: str) -> tuple[bool, int]:
    if not ROTATION.match(value):
        raise ImageRequestError("rotation", value, "use 0, 90, 180 or 270, with ! in front to mirror")
    mirror = value.startswith("!")
    degrees = float(value[1:] if mirror else value)
    if degrees > 360:
        raise ImageRequestError("rotation", value, "rotation is between 0 and 360 degrees")
    if degrees % 90:
        raise ImageRequestError("rotation", value, "this service rotates by multiples of 90 degrees only")
    return mirror, int(degrees) % 360


def parse_quality_format(value: str) -> tuple[str, str]:
    match = QUALITY_FORMAT.match(value)
    if not match:
        raise ImageRequestError("quality.format", value, "use e.g. default.jpg")
    quality, fmt = match.groups()
    if quality not in QUALITIES:
        raise ImageRequestError("quality", quality, f"use one of {', '.join(QUALITIES)}")
    if fmt not in FORMATS:
        raise ImageRequestError("format", fmt, f"use one of {', '.join(FORMATS)}")
    return quality, fmt


def parse_request(region: str, size: str, rotation: str, quality_format: str, width: int, height: int) -> ImageRequest:
    """Read one image request against a page of `width`×`height` pixels."""
    x, y, region_width, region_height = _region(region, width, height)
    out_width, out_height = _size(size, region_width, region_height, service_limits(width, height))
    mirror, degrees = _rotation(rotation)
    quality, fmt = parse_quality_format(quality_format)
    if max(out_width, out_height) > FORMAT_MAX_SIDE[fmt]:
        raise ImageRequestError("size", size, f"{out_width}×{out_height} is more than a {FORMAT_NAMES[fmt]} image "
                                f"can hold ({FORMAT_MAX_SIDE[fmt]} pixels a side): ask for a smaller size or "
                                "another format")
    full = x == 0 and y == 0 and region_width == width and region_height == height
    return ImageRequest(x, y, region_width, region_height, out_width, out_height, mirror, degrees, quality, fmt, full)


def service_info(stored: dict, service_id: str) -> dict:
    """info.json for one page: the stored description (size, tiles, sizes) with the public id
    and what this service can do beyond the static tiles (level 2, plus mirroring and
    upscaling within the limits of :func:`service_limits`)."""
    width, height = int(stored["width"]), int(stored["height"])
    limits = service_limits(width, height)
    info = {
        "@context": CONTEXT,
        "id": service_id,
        "type": "ImageService3",
        "protocol": PROTOCOL,
        "profile": PROFILE,
        "width": width,
        "height": height,
        "maxWidth": limits.max_width,
        "maxHeight": limits.max_height,
        "maxArea": limits.max_area,
    }
    if stored.get("sizes"):
        info["sizes"] = stored["sizes"]
    if stored.get("tiles"):
        info["tiles"] = stored["tiles"]
    info["extraQualities"] = ["color", "gray", "bitonal"]
    info["extraFormats"] = ["webp"]
    info["extraFeatures"] = EXTRA_FEATURES
    return info
