"""PAGE-XML (PRImA Page Content 2019-07-15) for one OCR'd page: the preservation file.

Why PAGE and not ALTO 4: both are standard, but no package in reach of the build ships the ALTO 4
schema, while the PAGE schema ships in the ``ocrd`` wheel (``metadata_schemas/xsd/SOURCES.md``);
PAGE also has what a 古籍 page needs — region types (``header`` for the 版心, ``marginalia`` for 眉批),
an explicit reading order, glyph-level boxes — and `guji text import` already reads it.

Layout of the file: ``Metadata`` (creator, times, one ``processingStep`` item per engine setting),
``Page`` (the master's file name and pixel size; ``readingDirection="top-to-bottom"``,
``textLineOrder="right-to-left"``), a ``ReadingOrder``, then the regions in reading order. Every
``TextLine`` holds one ``Word`` (the line) holding one ``Glyph`` per character; each has its
``Coords`` in the master's pixels and a ``TextEquiv`` with the engine's confidence. 夹注 lines carry
``custom="structure {type:Commentary;}"``, as PAGE-XML from other tools does for small double-column notes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from lxml import etree

from guji import metadata_schemas

from .ocr_engine import Box, EngineDescription
from .ocr_layout import Glyph, Line, PageLayout, Region

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_FILE = "pagecontent-2019-07-15.xsd"
_REGION_TYPES = {"body": "paragraph", "header": "header", "annotation": "marginalia", "margin": "other"}
_KINDS = {value: key for key, value in _REGION_TYPES.items()}


class PageXmlInvalid(RuntimeError):
    """The PAGE-XML Guji wrote fails its own schema: a bug, never a problem of the page (not a GujiError)."""


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    path = Path(metadata_schemas.SCHEMA_DIR) / "xsd" / SCHEMA_FILE
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def _element(parent, tag: str, **attributes):
    return etree.SubElement(parent, f"{{{NS}}}{tag}", {k: str(v) for k, v in attributes.items() if v is not None})


def _points(box: Box, scale: float = 1.0) -> str:
    x, y, w, h = (round(v / scale) for v in box)
    w, h = max(1, w), max(1, h)
    return f"{x},{y} {x + w},{y} {x + w},{y + h} {x},{y + h}"


def _conf(value: float | None) -> str | None:
    return None if value is None else f"{min(1.0, max(0.0, value)):.4f}"


def _text_equiv(parent, text: str, confidence: float | None) -> None:
    equiv = _element(parent, "TextEquiv", conf=_conf(confidence))
    _element(equiv, "Unicode").text = text


def write_page_xml(layout: PageLayout, *, image_name: str, engine: EngineDescription, created: datetime | None = None,
                   scale: float = 1.0) -> bytes:
    """The PAGE-XML of one laid-out page (boxes divided by `scale` into master pixels); validated."""
    created = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S")
    root = etree.Element(f"{{{NS}}}PcGts", nsmap={None: NS})
    metadata = _element(root, "Metadata")
    _element(metadata, "Creator").text = f"Guji ({engine.name} {engine.version})"
    _element(metadata, "Created").text = created
    _element(metadata, "LastChange").text = created
    _element(metadata, "Comments").text = f"OCR: {engine.name} {engine.version}, model {engine.model}"
    for name, value in [("engine", f"{engine.name} {engine.version}"), ("model", engine.model),
                        *sorted((f"setting:{k}", str(v)) for k, v in engine.settings.items())]:
        _element(metadata, "MetadataItem", type="processingStep", name=name, value=value)
    page = _element(root, "Page", imageFilename=image_name, imageWidth=round(layout.width / scale),
                    imageHeight=round(layout.height / scale), readingDirection="top-to-bottom",
                    textLineOrder="right-to-left", type="content" if layout.lines() else "blank")
    regions = [region for region in layout.regions if region.lines]
    if regions:
        order = _element(_element(page, "ReadingOrder"), "OrderedGroup", id="ro")
        for index, _ in enumerate(regions):
            _element(order, "RegionRefIndexed", index=index, regionRef=f"r{index + 1}")
    for index, region in enumerate(regions, start=1):
        _write_region(page, region, f"r{index}", scale)
    document = etree.ElementTree(root)
    problems = validate(document)
    if problems:
        raise PageXmlInvalid("; ".join(problems))
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _write_region(page, region: Region, region_id: str, scale: float) -> None:
    custom = f"structure {{side:{region.side};}}" if region.side else None
    element = _element(page, "TextRegion", id=region_id, type=_REGION_TYPES[region.kind], custom=custom)
    _element(element, "Coords", points=_points(region.box, scale))
    for number, line in enumerate(region.lines, start=1):
        line_id = f"{region_id}l{number}"
        line_custom = "structure {type:Commentary;}" if line.role == "note" else None
        line_element = _element(element, "TextLine", id=line_id, custom=line_custom)
        _element(line_element, "Coords", points=_points(line.box, scale))
        word = _element(line_element, "Word", id=f"{line_id}w")
        _element(word, "Coords", points=_points(line.box, scale))
        for place, glyph in enumerate(line.glyphs, start=1):
            glyph_element = _element(word, "Glyph", id=f"{line_id}g{place}")
            _element(glyph_element, "Coords", points=_points(glyph.box, scale))
            _text_equiv(glyph_element, glyph.text, glyph.confidence)
        _text_equiv(word, line.text, line.confidence)
        _text_equiv(line_element, line.text, line.confidence)
    _text_equiv(element, "\n".join(line.text for line in region.lines), None)


def validate(document) -> list[str]:
    """Problems of a PAGE-XML document against the official 2019-07-15 schema (empty: valid)."""
    checker = schema()
    if checker.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in checker.error_log][:20]


def _box(points: str) -> Box:
    pairs = [tuple(int(float(v)) for v in point.split(",")) for point in points.split()]
    xs = [x for x, _ in pairs]
    ys = [y for _, y in pairs]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def read_page_xml(data: bytes) -> PageLayout:
    """The layout stored in one of our PAGE-XML files (regions, lines, glyphs; master pixels)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(data, parser)
    page = root.find(f"{{{NS}}}Page")
    layout = PageLayout(int(page.get("imageWidth")), int(page.get("imageHeight")))
    q = f"{{{NS}}}"
    for region_element in page.iterfind(f"{q}TextRegion"):
        custom = region_element.get("custom") or ""
        side = "a" if "side:a" in custom else "b" if "side:b" in custom else None
        kind = _KINDS.get(region_element.get("type") or "", "body")
        lines = []
        for line_element in region_element.iterfind(f"{q}TextLine"):
            equiv = line_element.find(f"{q}TextEquiv")
            text = equiv.findtext(f"{q}Unicode") or ""
            glyphs = []
            for glyph in line_element.iterfind(f"{q}Word/{q}Glyph"):
                glyph_equiv = glyph.find(f"{q}TextEquiv")
                conf = glyph_equiv.get("conf")
                glyphs.append(Glyph(glyph_equiv.findtext(f"{q}Unicode") or "",
                                    _box(glyph.find(f"{q}Coords").get("points")), float(conf) if conf else None))
            role = {"header": "header", "annotation": "annotation", "margin": "margin"}.get(kind, "text")
            if "Commentary" in (line_element.get("custom") or ""):
                role = "note"
            lines.append(Line(text, _box(line_element.find(f"{q}Coords").get("points")),
                              float(equiv.get("conf") or 0), glyphs, role))
        layout.regions.append(Region(kind, lines, side))
    return layout
