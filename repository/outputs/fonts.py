"""CJK fonts for printed outputs (guide cards, dossiers as PDF).

PDF libraries differ in what they can embed. Measured here (2026-12, Debian 12):

* reportlab 5.1 refuses Noto CJK (``postscript outlines are not supported``): it embeds
  only TrueType (glyf) outlines.
* fpdf2 2.8 embeds a subset of both TrueType and CFF-outline fonts, but for the CFF-based Noto
  CJK collection it writes a custom encoding that pypdf reads back with NULs between the
  characters and pdfminer.six not at all; for a TrueType font it writes Identity-H + ToUnicode,
  which every extractor (pypdf, pdfminer.six, poppler) reads back exactly.

So the main face is **AR PL UMing** (文鼎明體, TrueType, Debian ``fonts-arphic-uming``; a
明/宋 style face, the traditional look of catalogue cards), and Noto Serif CJK (Debian
``fonts-noto-cjk``) is the fallback for the few characters UMing lacks. ``GUJI_CJK_FONT``
(path) and ``GUJI_CJK_FONT_INDEX`` (face number in a .ttc) choose another main face.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fpdf import FPDF

from guji.repository.errors import Unavailable
from guji.repository.settings import Settings, current


@dataclass(frozen=True)
class FontFace:
    path: Path
    index: int  # face number inside a TrueType collection (.ttc)
    name: str


# (path, face number, what it is) — searched in this order.
MAIN_CANDIDATES = (
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0, "AR PL UMing CN"),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0, "AR PL UKai CN"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "WenQuanYi Zen Hei"),
)
FALLBACK_CANDIDATES = (
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 3, "Noto Serif CJK TC"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 3, "Noto Sans CJK TC"),
)

MAIN_FAMILY = "guji-main"
FALLBACK_FAMILY = "guji-fallback"


class FontMissing(Unavailable):
    """No usable CJK font: says which Debian package to install or which setting to use."""


def _first_existing(candidates) -> FontFace | None:
    for path, index, name in candidates:
        if Path(path).is_file():
            return FontFace(Path(path), index, name)
    return None


def main_face(settings: Settings | None = None) -> FontFace:
    settings = settings or current()
    if settings.cjk_font:
        path = settings.cjk_font
        if not path.is_file():
            raise FontMissing(f"GUJI_CJK_FONT={path}: no such font file")
        return FontFace(path, settings.cjk_font_index, path.stem)
    face = _first_existing(MAIN_CANDIDATES)
    if face is None:
        raise FontMissing(
            "no TrueType CJK font found: install the Debian package fonts-arphic-uming "
            "(`make install` does), or set GUJI_CJK_FONT to a .ttf/.ttc file"
        )
    return face


def fallback_face() -> FontFace | None:
    return _first_existing(FALLBACK_CANDIDATES)


def add_cjk_fonts(pdf: FPDF) -> None:
    """Register the main CJK face (and the fallback face for characters it lacks) on `pdf`."""
    quiet_subsetter()
    main = main_face()
    pdf.add_font(MAIN_FAMILY, fname=str(main.path), collection_font_number=main.index)
    fallback = fallback_face()
    if fallback is not None and fallback.path != main.path:
        pdf.add_font(FALLBACK_FAMILY, fname=str(fallback.path), collection_font_number=fallback.index)
        pdf.set_fallback_fonts([FALLBACK_FAMILY])
    pdf.set_font(MAIN_FAMILY, size=10)


@cache
def _covered(path: Path, index: int) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=index, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


class GlyphCoverage:
    """Which characters the main and fallback faces can show (cmaps read once)."""

    def __init__(self) -> None:
        faces = [main_face(), fallback_face()]
        self._covered = [_covered(face.path, face.index) for face in faces if face is not None]
        self._known: dict[str, bool] = {}

    def missing(self, text: str) -> list[str]:
        """Characters of `text` that neither face has (spaces and control characters aside)."""
        missing = []
        for character in dict.fromkeys(text):
            shown = self._known.get(character)
            if shown is None:
                shown = (character.isspace() or not character.isprintable()
                         or any(ord(character) in cmap for cmap in self._covered))
                self._known[character] = shown
            if not shown:
                missing.append(character)
        return missing


def quiet_subsetter() -> None:
    """fontTools logs every table it drops while subsetting (UMing's bitmap tables): not news."""
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    logging.getLogger("fpdf").setLevel(logging.ERROR)
