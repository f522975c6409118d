"""A page's text as IIIF annotations, and the links from a canvas to its text and its PAGE-XML.

Each canvas whose scan has text lists, in ``annotations``, an AnnotationPage of its own
(``/iiif/{id}/annotations/{page}``): one ``supplementing`` annotation per text line — per column of
the scan the line stands in, when its characters are located (OCR, or a transcription aligned to
the OCR) — whose body is a ``TextualBody`` with the line's text and language and whose target is
the canvas with ``#xywh=`` around those characters (the line's own box otherwise; the whole canvas
when the text has no place on the scan). A canvas whose scan was OCR'd links its PAGE-XML file
(``seeAlso``, format ``application/vnd.prima.page+xml`` with the PAGE 2019 schema as profile).

Presentation 3 §3.3 (``annotations``, motivation ``supplementing`` for "a transcription of the
content"); the IIIF Cookbook's recipes "Simple Annotation — Transcription" and "Linking to
Structured Data" (``seeAlso`` with ``profile``).
"""

from __future__ import annotations

import json
from typing import Protocol

from guji.repository import Catalogue

from . import ids
from .language import CJK, simplified
from .text_boxes import column_groups, fragment

PRESENTATION_CONTEXT = "http://iiif.io/api/presentation/3/context.json"
PAGE_XML_FORMAT = "application/vnd.prima.page+xml"
PAGE_XML_PROFILE = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
PAGES_FILE = "text/pages.json"
MACHINE = "machine"


class LocatedText(Protocol):
    """What ``ingest.page_text`` gives: one page's text and where its characters stand."""

    page: str
    authority: str
    lines: list[dict]
    chars: list[list]


def page_xml_file(page: str) -> str:
    """The logical path of a page's PAGE-XML in the book's OCFL object (as `guji ocr` stores it)."""
    return f"ocr/{page}.page.xml"


def text_pages(catalogue: Catalogue, book: str) -> tuple[set[str], set[str]]:
    """(scans with text, scans with a PAGE-XML file). A scan has text when its own entry has lines, or
    when a whole leaf's text covers it and the scan was OCR'd (only then can characters stand on it)."""
    paths = set(catalogue.store.digests(book))
    with_xml = {path[len("ocr/"):-len(".page.xml")] for path in paths
                if path.startswith("ocr/") and path.endswith(".page.xml")}
    with_text: set[str] = set()
    if PAGES_FILE in paths:
        for entry in json.loads(catalogue.store.read_bytes(book, PAGES_FILE)).get("pages") or []:
            if entry.get("page") and entry.get("lines"):
                with_text.add(entry["page"])
                with_text.update(page for page in entry.get("covers") or [] if page in with_xml)
    return with_text, with_xml


def _label(machine: bool) -> dict[str, list[str]]:
    if machine:
        return {"zh-Hans": ["全文（机器识别，未校对）"], "zh-Hant": ["全文（機器識別，未校對）"],
                "en": ["Text (machine-read, not checked)"]}
    return {"zh-Hans": ["全文"], "zh-Hant": ["全文"], "en": ["Text"]}


def canvas_links(book: str, page: str, *, text: bool, page_xml: bool) -> dict:
    """The ``annotations`` and ``seeAlso`` a canvas gets for its text."""
    links: dict = {}
    if text:
        links["annotations"] = [{"id": ids.text_annotations(book, page), "type": "AnnotationPage"}]
    if page_xml:
        links["seeAlso"] = [{"id": ids.page_xml(book, page), "type": "Dataset", "format": PAGE_XML_FORMAT,
                             "profile": PAGE_XML_PROFILE,
                             "label": {"zh-Hans": ["文字识别结果（PAGE-XML，含行与字的坐标）"],
                                       "zh-Hant": ["文字識別結果（PAGE-XML，含行與字的坐標）"],
                                       "en": ["OCR (PAGE-XML with line and character coordinates)"]}}]
    return links


def text_language(text: str) -> str:
    """BCP 47 tag of a Chinese text: zh-Hant when OpenCC would simplify it, zh-Hans when it has
    Chinese characters that are already simplified forms or shared by both, und without any."""
    if not CJK.search(text):
        return "und"
    return "zh-Hant" if simplified(text) != text else "zh-Hans"


def _shown(joined: str, first: int, last: int) -> str:
    return joined[first:last + 1].replace("/", "")


def annotation_page(book: str, page: str, located: LocatedText | None) -> dict:
    """The AnnotationPage of scan `page`'s text: `located` is the text whose entry is on that scan or
    covers it (a whole leaf's text stands on two scans); None gives an empty page."""
    canvas = ids.canvas(book, page)
    items: list[dict] = []
    machine = bool(located and located.authority == MACHINE)
    language = "und"
    if located is not None:
        language = text_language("".join("".join(p[1] for p in line.get("pieces") or []) for line in located.lines))
        for number, (line, chars) in enumerate(zip(located.lines, located.chars, strict=True), start=1):
            joined = "".join(piece[1] for piece in line.get("pieces") or [])
            if not joined.strip():
                continue
            groups = column_groups(chars)
            targets = [(f"{canvas}#{fragment(box)}", _shown(joined, indexes[0], indexes[-1]))
                       for scan, box, indexes in groups if scan == page]
            if not groups and located.page == page:  # no character located: the line's box, or the page
                box = line.get("box")
                targets = [(f"{canvas}#{fragment(box)}" if box else canvas, joined.replace("/", ""))]
            for part, (target, text) in enumerate(targets, start=1):
                body = {"type": "TextualBody", "value": text, "format": "text/plain", "language": language}
                items.append({"id": f"{ids.text_annotations(book, page)}/line-{number}-{part}", "type": "Annotation",
                              "motivation": "supplementing", "body": body, "target": target})
    return {"@context": PRESENTATION_CONTEXT, "id": ids.text_annotations(book, page), "type": "AnnotationPage",
            "label": _label(machine), "items": items}
