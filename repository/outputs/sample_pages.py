"""书影 (sample page images) for a dossier: which pages, and the JPEG of each at a chosen width.

Pages are chosen by staff (``0001,0003``) or, by default, the 卷端 (first page of each 卷) from the
book's ``structure.json`` ranges — the pages an application form asks to see. Each image is taken
from the ingested derivatives (``derivatives/<ID>/<page>/full/<w>,/0/default.jpg`` when that width
exists, else ``full/max`` shrunk) or, for a book without derivatives, rendered from its OCFL master
with pyvips. Nothing is ever enlarged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pyvips

from guji.repository import Catalogue, InvalidInput

JPEG_QUALITY = 85
# A JFIF APP0 segment (version 1.01, no density unit, 1:1): the derivatives are written with all
# metadata stripped, and python-docx only accepts a JPEG that starts with JFIF or Exif.
JFIF_APP0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"

logging.getLogger("pyvips").setLevel(logging.WARNING)  # libvips narrates every operation at INFO


class PageChoiceError(InvalidInput):
    """Pages that do not exist in the book; says which ones it has."""


@dataclass(frozen=True)
class SamplePage:
    page: str  # 0001
    label: str  # 卷一 葉一a, or the leaf
    jpeg: bytes
    width: int
    height: int
    source: str  # "derivative" or "master"


def _range_label(structure: dict, page: str) -> str | None:
    for item in structure.get("ranges") or []:
        if page in (item.get("pages") or [])[:1]:
            return item.get("label")
    return None


def default_pages(structure: dict, count: int) -> list[str]:
    """The first page of each 卷 range (卷端), in reading order; else the first pages of the book."""
    starts = []
    for item in structure.get("ranges") or []:
        pages = item.get("pages") or []
        label = str(item.get("label") or "")
        if pages and ("卷" in label or not label):
            starts.append(pages[0])
    if not starts:
        starts = [entry["page"] for entry in structure.get("pages") or []]
    return list(dict.fromkeys(starts))[:count]


def normalise_page(text: str) -> str:
    text = text.strip()
    return text.zfill(4) if text.isdigit() else text


def choose_pages(structure: dict | None, requested: list[str] | None, count: int) -> list[str]:
    if structure is None:
        return []
    known = [entry["page"] for entry in structure.get("pages") or []]
    if not requested:
        return default_pages(structure, count)
    chosen = [normalise_page(page) for page in requested]
    unknown = [page for page in chosen if page not in known]
    if unknown:
        span = f"第{known[0]}–{known[-1]}页" if known else "没有页面"
        raise PageChoiceError(f"所选书影页 {'、'.join(unknown)} 本书没有（本书为{span}）：请重新选择书影页")
    return chosen


def _encode(image: pyvips.Image, width: int) -> pyvips.Image:
    if image.width > width:
        image = image.resize(width / image.width)
    if image.hasalpha():
        image = image.flatten(background=[255])
    if image.interpretation not in ("b-w", "srgb"):
        image = image.colourspace("b-w" if image.bands == 1 else "srgb")
    if image.format != "uchar":
        image = image.cast("uchar")
    return image


def _from_derivative(folder: Path, width: int) -> tuple[bytes, int, int] | None:
    exact = folder / "full" / f"{width}," / "0" / "default.jpg"
    if exact.is_file():
        image = pyvips.Image.new_from_file(str(exact))
        return exact.read_bytes(), image.width, image.height
    full = folder / "full" / "max" / "0" / "default.jpg"
    if not full.is_file():
        return None
    image = pyvips.Image.new_from_file(str(full))
    if image.width <= width:
        return full.read_bytes(), image.width, image.height
    image = _encode(pyvips.Image.thumbnail(str(full), width, height=10_000_000, size="down"), width)
    return image.jpegsave_buffer(Q=JPEG_QUALITY, keep="none"), image.width, image.height


def with_jfif_header(jpeg: bytes) -> bytes:
    """The same JPEG with a JFIF APP0 segment after SOI when it has neither JFIF nor Exif (lossless)."""
    if jpeg[:2] == b"\xff\xd8" and jpeg[2:4] not in (b"\xff\xe0", b"\xff\xe1"):
        return jpeg[:2] + JFIF_APP0 + jpeg[2:]
    return jpeg


def _from_master(path: Path, width: int) -> tuple[bytes, int, int]:
    image = pyvips.Image.thumbnail(str(path), width, height=10_000_000, size="down")
    if image.get_typeof("icc-profile-data"):
        try:
            image = image.icc_transform("srgb", embedded=True, intent="perceptual", depth=8)
        except pyvips.Error:
            pass  # a broken profile: fall back to the interpretation
    image = _encode(image, width)
    return image.jpegsave_buffer(Q=JPEG_QUALITY, keep="none"), image.width, image.height


def sample_pages(
    catalogue: Catalogue, card_id: str, *, pages: list[str] | None = None, count: int = 2, width: int = 1200,
) -> tuple[list[SamplePage], list[str]]:
    """The 书影 JPEGs and warnings (no scans stored, fewer 卷端 than asked for …)."""
    structure = catalogue.structure(card_id)
    warnings: list[str] = []
    chosen = choose_pages(structure, pages, count)
    if structure is None:
        warnings.append("本书尚未入藏扫描影像，申报书没有书影：请先入藏本书的扫描影像（影像入藏）")
        return [], warnings
    if not pages and len(chosen) < count:
        warnings.append(f"要求 {count} 幅书影，本书只有 {len(chosen)} 个卷端（或页面）可用")
    entries = {entry["page"]: entry for entry in structure.get("pages") or []}
    found = []
    for page in chosen:
        entry = entries[page]
        label = _range_label(structure, page) or entry.get("label") or entry.get("leaf") or page
        encoded = _from_derivative(catalogue.home.derivatives / card_id / page, width)
        source = "derivative"
        if encoded is None and not entry.get("master"):  # an imported manifest's page: another library's image
            warnings.append(f"第{page}页是其他图书馆的影像（从 IIIF 清单导入），不能作为本馆申报的书影："
                            "请选择本馆扫描的页面")
            continue
        if encoded is None:
            master = catalogue.store.content_path(card_id, entry["master"])
            encoded = _from_master(master, width)
            source = "master"
        jpeg, image_width, image_height = encoded
        found.append(SamplePage(page, str(label), with_jfif_header(jpeg), image_width, image_height, source))
    return found, warnings
