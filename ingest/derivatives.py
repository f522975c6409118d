"""Derivatives of one page with pyvips: static IIIF Image API 3 tiles, `full/max`, listed sizes
and a thumbnail, written into a temporary folder and renamed into place.

Layout of one page folder (``derivatives/<ID>/<0001>/``)::

    info.json                       Image API 3, level 0; "id" is a relative placeholder
    x,y,w,h/w,h/0/default.jpg       512 px tiles written by dzsave(layout="iiif3")
    full/max/0/default.jpg          the whole page at full size
    full/{w},/0/default.jpg         listed sizes (150, 300, 600, 1200 px wide, never upscaled)
    full/{w},{h}/0/default.jpg      the same, canonical Image API 3 form
    thumbnail.jpg                   fits in 200×300 px
    source.json                     which master (sha512) the folder was made from

The `id` in info.json is written as ``iiif/image/<ID>/<page>`` — relative to the public base
URL; the server replaces it with ``GUJI_PUBLIC_URL + "/iiif/image/<ID>/<page>"`` when it serves
info.json, so the public host is never baked into the files.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path

DEFAULT_SIZES = (150, 300, 600, 1200)
TILE_SIZE = 512
JPEG_QUALITY = 85
THUMBNAIL_BOX = (200, 300)
SOURCE_FILE = "source.json"


def info_id(object_id: str, page: str) -> str:
    """The placeholder id written into info.json (relative to GUJI_PUBLIC_URL)."""
    return f"iiif/image/{object_id}/{page}"


def to_display(image):
    """sRGB (or gray) 8-bit, no alpha: what the tiles are encoded from."""
    import pyvips

    if image.hasalpha():
        image = image.flatten(background=[65535] if image.format == "ushort" else [255])
    if image.get_typeof("icc-profile-data"):
        try:
            return image.icc_transform("srgb", embedded=True, intent="perceptual", depth=8)
        except pyvips.Error:
            pass  # a broken profile: fall back to the interpretation
    if image.bands == 1:
        image = image.colourspace("b-w")
    else:
        image = image.colourspace("srgb")
    if image.format != "uchar":
        image = (image / 257).cast("uchar") if image.format == "ushort" else image.cast("uchar")
    return image


def _open(source: Path):
    import pyvips

    return pyvips.Image.new_from_file(str(source), access="sequential", fail_on="error")


def _shrink(source: Path, base, width: int, height: int):
    """The page at exactly `width`×`height`, in memory: from `base` (an in-memory copy at least that
    large) when there is one, else shrunk from the master in one sequential pass."""
    if base is not None and base.width >= width and base.height >= height:
        image = base
    else:
        image = to_display(_open(source))
    return image.thumbnail_image(width, height=height, size="force").copy_memory()


def build_page(
    source: Path,
    target: Path,
    *,
    object_id: str,
    page: str,
    digest: str,
    source_name: str,
    sizes: tuple[int, ...] = DEFAULT_SIZES,
) -> dict:
    """Write all derivatives of `source` to the folder `target` (replacing it). A temporary
    folder next to `target` is renamed into place at the end, so a killed run never leaves a
    half-written page. Raises pyvips.Error for a corrupt or truncated image (decoded fully,
    `fail_on="error"`). Returns what source.json records."""
    started = time.monotonic()
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir()
    try:
        out = work / "page"
        image = to_display(_open(source))
        width, height = image.width, image.height
        image.dzsave(str(out), layout="iiif3", tile_size=TILE_SIZE, suffix=f".jpg[Q={JPEG_QUALITY}]",
                     id="placeholder", keep="none")
        # dzsave drops vips-properties.xml into the parent folder (here the private work folder).
        (work / "vips-properties.xml").unlink(missing_ok=True)

        full_max = out / "full" / "max" / "0" / "default.jpg"
        full_max.parent.mkdir(parents=True)
        to_display(_open(source)).jpegsave(str(full_max), Q=JPEG_QUALITY, keep="none")

        import pyvips

        # Listed sizes and the thumbnail: the largest size is shrunk once from the master (one
        # sequential decode, no second full-size JPEG decode), the smaller ones and the thumbnail
        # from that small in-memory copy. Their pixel sizes are what vips_thumbnail gives for the
        # full page, computed lazily on a placeholder image of the page's size.
        page_shape = pyvips.Image.black(width, height)
        listed = []
        base = None
        for width_wanted in sorted({w for w in sizes if w < width}, reverse=True):
            goal = page_shape.thumbnail_image(width_wanted, height=10 * height, size="down")
            small = _shrink(source, base, goal.width, goal.height)
            if base is None:
                base = small
            for name in (f"{small.width},", f"{small.width},{small.height}"):
                path = out / "full" / name / "0" / "default.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                small.jpegsave(str(path), Q=JPEG_QUALITY, keep="none")
            listed.append({"width": small.width, "height": small.height})
        listed.reverse()
        full_sized = out / "full" / f"{width},{height}" / "0" / "default.jpg"
        full_sized.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(full_max, full_sized)
        listed.append({"width": width, "height": height})
        goal = page_shape.thumbnail_image(THUMBNAIL_BOX[0], height=THUMBNAIL_BOX[1], size="down")
        _shrink(source, base, goal.width, goal.height).jpegsave(str(out / "thumbnail.jpg"), Q=JPEG_QUALITY,
                                                                keep="none")

        info_path = out / "info.json"
        info = json.loads(info_path.read_text(encoding="utf-8"))
        info["id"] = info_id(object_id, page)
        info["sizes"] = listed
        info_path.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        record = {
            "source": source_name,
            "sha512": digest,
            "width": width,
            "height": height,
            "seconds": round(time.monotonic() - started, 3),
            "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        }
        (out / SOURCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            _remove(target)
        os.rename(out, target)
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)


def read_source(page_dir: Path) -> dict | None:
    """What a finished page folder was made from, or None if there is none."""
    try:
        return json.loads((page_dir / SOURCE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None


def publish(ready: Path, published: Path) -> None:
    """Move a finished page folder to where the server serves it, replacing an older one."""
    if published.exists():
        old = published.parent / f".{published.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(published, old)
        os.rename(ready, published)
        shutil.rmtree(old, ignore_errors=True)
    else:
        published.parent.mkdir(parents=True, exist_ok=True)
        os.rename(ready, published)


def clean_leftovers(folder: Path) -> None:
    """Remove temporary folders a killed run left behind (names starting with '.' and '.tmp-'/'.old-')."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.name.startswith(".") and (".tmp-" in entry.name or ".old-" in entry.name):
            _remove(entry)
    (folder / "vips-properties.xml").unlink(missing_ok=True)


def _remove(path: Path) -> None:
    if path.is_dir():
        trash = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:12]}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
