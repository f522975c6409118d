"""`guji cards export --format mods|dc|marcxml|marc`: bulk exports, plugged into the repository's
export command through the ``guji.card_formats`` entry-point group.

Each writer streams one record at a time (thousands of cards never sit in memory as one tree)
and leaves withdrawn cards out. Per-book exports use :func:`record_bytes`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from lxml import etree
from pymarc import XMLWriter, record_to_xml

from guji.repository import Catalogue, InvalidInput, atomic_files

from .dublin_core import dc_element
from .marc import marc_record
from .mods import NAMESPACES as MODS_NAMESPACES
from .mods import mods_element
from .safe_xml import DC_RECORDS_NS, MODS_NS, SCHEMA_LOCATIONS
from .selection import CurrentCard, current_cards

XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
MEDIA_TYPES = {"mods": "application/mods+xml", "dc": "application/xml", "marcxml": "application/marcxml+xml",
               "marc": "application/marc"}
SUFFIXES = {"mods": ".mods.xml", "dc": ".dc.xml", "marcxml": ".marc.xml", "marc": ".mrc"}


def _records(catalogue: Catalogue, card_ids: list[str] | None) -> Iterator[CurrentCard]:
    return (record for record in current_cards(catalogue, card_ids) if not record.withdrawn)


@contextlib.contextmanager
def _binary(output: Path | IO[bytes]):
    if isinstance(output, Path):
        with atomic_files.replacing(output) as temporary, open(temporary, "wb") as handle:
            yield handle
    else:
        yield getattr(output, "buffer", output)


def _write_xml_collection(output, root_tag: str, nsmap: dict, elements, attributes: dict | None = None) -> int:
    count = 0
    with _binary(output) as handle, etree.xmlfile(handle, encoding="utf-8") as xml:
        xml.write_declaration()
        with xml.element(root_tag, attributes or {}, nsmap=nsmap):
            for element in elements:
                xml.write(element, pretty_print=True)
                count += 1
    return count


def write_mods(catalogue: Catalogue, output: Path | IO[bytes], card_ids: list[str] | None = None) -> int:
    """A ``<modsCollection>`` of MODS 3.6 records."""
    elements = (mods_element(record, root_attributes=False) for record in _records(catalogue, card_ids))
    return _write_xml_collection(output, f"{{{MODS_NS}}}modsCollection", MODS_NAMESPACES, elements,
                                 {XSI_LOCATION: f"{MODS_NS} {SCHEMA_LOCATIONS[MODS_NS]}"})


def write_dc(catalogue: Catalogue, output: Path | IO[bytes], card_ids: list[str] | None = None) -> int:
    """``<records xmlns="urn:guji:export:dc">`` holding one ``<oai_dc:dc>`` per card (Dublin Core has no
    collection element of its own)."""
    elements = (dc_element(record) for record in _records(catalogue, card_ids))
    return _write_xml_collection(output, f"{{{DC_RECORDS_NS}}}records", {None: DC_RECORDS_NS}, elements)


def write_marcxml(catalogue: Catalogue, output: Path | IO[bytes], card_ids: list[str] | None = None) -> int:
    """A MARCXML ``<collection>`` (pymarc's XMLWriter)."""
    count = 0
    with _binary(output) as handle:
        writer = XMLWriter(handle)
        for record in _records(catalogue, card_ids):
            writer.write(marc_record(record))
            count += 1
        writer.close(close_fh=False)
    return count


def write_marc(catalogue: Catalogue, output: Path | IO[bytes], card_ids: list[str] | None = None) -> int:
    """ISO 2709 (binary MARC), UTF-8."""
    count = 0
    with _binary(output) as handle:
        for record in _records(catalogue, card_ids):
            handle.write(marc_record(record).as_marc())
            count += 1
    return count


write_marc.needs_file = True  # binary: `guji cards export --format marc` wants -o FILE


def record_bytes(record: CurrentCard, format: str) -> bytes:
    """One card as a standalone document: ``<mods>``, ``<oai_dc:dc>``, MARCXML ``<record>`` or ISO 2709."""
    if format == "mods":
        return etree.tostring(mods_element(record), xml_declaration=True, encoding="utf-8", pretty_print=True)
    if format == "dc":
        return etree.tostring(dc_element(record), xml_declaration=True, encoding="utf-8", pretty_print=True)
    if format == "marcxml":
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + record_to_xml(marc_record(record), namespace=True)
    if format == "marc":
        return marc_record(record).as_marc()
    raise InvalidInput(f"导出格式「{format}」不可用：请用 {'、'.join(MEDIA_TYPES)}")
