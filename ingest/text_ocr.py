"""OCR and ground-truth transcriptions with line coordinates: PAGE-XML and hOCR.

Both are parsed with lxml with entity expansion, DTD loading and network access switched off,
so a file cannot make the parser read other files or reach the network, and a file that declares a
DOCTYPE or entities is refused before parsing (as `guji validate-xml` refuses it; hOCR may carry
the plain XHTML DOCTYPE, which declares nothing): :func:`repository.outputs.safe_xml.doctype_refusal`.

PAGE-XML (PRImA ``PcGts``): one ``Page`` per file, ``TextLine``s in document order, each with its
``Coords`` polygon (its bounding box becomes the line's ``box``). Lines marked as commentary
(``custom="structure {type:Commentary;}"``, the small double-column characters) are 夹注;
page numbers and marginalia (版心) are kept as ``margin`` lines, shown but not searched.

hOCR: every ``ocr_page`` is a page; every ``ocr_line`` (or ``ocrx_line``, ``ocr_header``,
``ocr_caption``, ``ocr_textfloat``) is a line, its ``bbox`` the line's box.
"""

from __future__ import annotations

import re

from lxml import etree, html

from guji.repository.outputs.safe_xml import doctype_refusal

from .text_model import TextLine, TextPage, TextRefused

_STRUCTURE_TYPE = re.compile(r"structure\s*\{[^}]*type\s*:\s*([^;}]+)")
_NOTE_TYPES = {"commentary", "note", "footnote", "annotation"}
_MARGIN_TYPES = {"page_number", "page-number", "marginalia", "marginalia_metadata", "header", "footer",
                 "signature-mark", "catch-word", "running_title"}
_HOCR_LINES = {"ocr_line", "ocrx_line", "ocr_header", "ocr_caption", "ocr_textfloat"}
_BBOX = re.compile(r"bbox\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)")
_IMAGE = re.compile(r"image\s+[\"']([^\"']+)[\"']")


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _refuse_declarations(data: bytes, source: str, *, hocr: bool) -> None:
    refusal = doctype_refusal(data, source, allow_xhtml=hocr)
    if refusal:
        raise TextRefused([refusal])


def _parse_xml(data: bytes, source: str) -> etree._Element:
    _refuse_declarations(data, source, hocr=False)
    try:
        return etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as error:
        line = error.lineno or (error.position[0] if error.position else "?")
        raise TextRefused([f"{source} line {line}: not well-formed XML ({error.msg})"]) from None


def looks_like_page_xml(data: bytes) -> bool:
    return b"PcGts" in data[:4000]


def looks_like_hocr(data: bytes) -> bool:
    return b"ocr_page" in data


def _structure_type(element: etree._Element) -> str:
    match = _STRUCTURE_TYPE.search(element.get("custom") or "")
    if match:
        return match.group(1).strip().lower()
    return (element.get("type") or "").strip().lower()


def _box(points: str | None) -> list[int] | None:
    """The bounding box of a Coords polygon ``x,y x,y …``; None (no box) when it is not one."""
    try:
        pairs = [[int(float(v)) for v in point.split(",")] for point in (points or "").split()]
    except (ValueError, OverflowError):  # not numbers, or inf / 1e400
        return None
    if not pairs or any(len(pair) != 2 for pair in pairs):
        return None
    xs = [x for x, _ in pairs]
    ys = [y for _, y in pairs]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def parse_page_xml(data: bytes, source: str) -> list[TextPage]:
    root = _parse_xml(data, source)
    if _local(root.tag) != "PcGts":
        raise TextRefused([f"{source}: not PAGE-XML (the root element is <{_local(root.tag)}>, not <PcGts>)"])
    page_element = next((e for e in root.iter() if _local(e.tag) == "Page"), None)
    if page_element is None:
        raise TextRefused([f"{source}: PAGE-XML without a <Page> element"])
    page = TextPage(source, page_element.sourceline or 1, image=page_element.get("imageFilename"))
    for region in page_element.iter():
        if _local(region.tag) != "TextRegion":
            continue
        region_type = _structure_type(region)
        for line_element in region:
            if _local(line_element.tag) != "TextLine":
                continue
            text = _line_text(line_element)
            if not text.strip():
                continue
            line_type = _structure_type(line_element)
            coords = next((c for c in line_element if _local(c.tag) == "Coords"), None)
            line = TextLine(box=_box(coords.get("points") if coords is not None else None))
            if region_type in _MARGIN_TYPES or line_type in _MARGIN_TYPES:
                line.role = "margin"
            line.add("note" if line_type in _NOTE_TYPES or region_type in _NOTE_TYPES else "text", text)
            page.lines.append(line)
    return [page]


def _line_text(line_element: etree._Element) -> str:
    for child in line_element:
        if _local(child.tag) == "TextEquiv":
            unicode_element = next((u for u in child if _local(u.tag) == "Unicode"), None)
            if unicode_element is not None and unicode_element.text:
                return unicode_element.text.strip()
    return ""


def parse_hocr(data: bytes, source: str) -> list[TextPage]:
    _refuse_declarations(data, source, hocr=True)
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError:
        root = html.fromstring(data, parser=html.HTMLParser(no_network=True, remove_comments=True))
    pages: list[TextPage] = []
    for element in root.iter():
        classes = set((element.get("class") or "").split()) if isinstance(element.tag, str) else set()
        if "ocr_page" not in classes:
            continue
        title = element.get("title") or ""
        image = _IMAGE.search(title)
        page = TextPage(source, element.sourceline or 1, image=image.group(1) if image else None)
        for line_element in element.iter():
            line_classes = set((line_element.get("class") or "").split()) if isinstance(line_element.tag, str) \
                else set()
            if not line_classes & _HOCR_LINES:
                continue
            text = "".join(line_element.itertext()).strip()
            if not text:
                continue
            bbox = _BBOX.search(line_element.get("title") or "")
            box = None
            if bbox:
                x0, y0, x1, y1 = (int(v) for v in bbox.groups())
                box = [x0, y0, x1 - x0, y1 - y0]
            line = TextLine(box=box)
            line.add("text", " ".join(text.split()))
            page.lines.append(line)
        pages.append(page)
    if not pages:
        raise TextRefused([f"{source}: no hOCR page (no element with class ocr_page)"])
    return pages
