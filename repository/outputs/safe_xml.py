"""Reading XML safely, and the XML Schemas Guji's exports are checked against.

Every XML document Guji reads from a person is parsed by lxml with entity resolution, DTD loading
and network access off, and any ``<!DOCTYPE …>`` or ``<!ENTITY …>`` is refused outright, naming
the file and line (:func:`doctype_refusal`) — a DOCTYPE is how XXE ("external entity") and entity
expansion ("billion laughs") attacks come in, and MODS, Dublin Core, MARCXML, OAI-PMH, PAGE-XML
and the XML inside an .xlsx never need one. The one exception is hOCR, which is XHTML: its files
(Tesseract's among them) begin with the XHTML DOCTYPE, which declares nothing and is accepted —
with no internal subset. :func:`parse_xml` reads MODS, Dublin Core and OAI-PMH;
``ingest.text_ocr`` PAGE-XML and hOCR; ``repository.safe_archive`` checks the parts of an .xlsx.

The schemas (OAI-PMH 2.0, oai_dc, Simple DC, MODS 3.6, xlink, xml.xsd) ship in
``metadata_schemas/xsd/`` (origins in its SOURCES.md). Their imports name the published URLs;
:class:`LocalSchemas` answers those from the local copies, so nothing is fetched.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

from lxml import etree

from guji import metadata_schemas
from guji.repository.errors import InvalidInput, Refused
from guji.repository.safe_archive import XML_DECLARATION

XSD_DIR = Path(metadata_schemas.SCHEMA_DIR) / "xsd"
XS = "http://www.w3.org/2001/XMLSchema"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
MODS_NS = "http://www.loc.gov/mods/v3"
DC_RECORDS_NS = "urn:guji:export:dc"  # the wrapper of `guji cards export --format dc`

# published schema locations (as written in the schemas' imports) → local copy
PUBLISHED = {
    "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd": "OAI-PMH.xsd",
    "http://www.openarchives.org/OAI/2.0/oai_dc.xsd": "oai_dc.xsd",
    "http://dublincore.org/schemas/xmls/simpledc20021212.xsd": "simpledc20021212.xsd",
    "http://www.loc.gov/standards/mods/v3/mods-3-6.xsd": "mods-3-6.xsd",
    "http://www.loc.gov/mods/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/03/xml.xsd": "xml.xsd",
    "http://www.w3.org/2001/xml.xsd": "xml.xsd",
    "http://www.loc.gov/standards/xlink/xlink.xsd": "xlink.xsd",
}
SCHEMA_LOCATIONS = {
    OAI_NS: "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd",
    OAI_DC_NS: "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
    MODS_NS: "http://www.loc.gov/standards/mods/v3/mods-3-6.xsd",
}


# characters XML 1.0 cannot carry (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: object) -> str:
    """A card string as XML text: characters XML cannot hold (e.g. a vertical tab pasted from
    Excel) are dropped, everything else is kept as typed."""
    return _NOT_XML.sub("", str(value))


MAX_XML_BYTES = 256 << 20  # a file validate-xml reads whole into memory


class XMLRefused(Refused):
    """An XML document Guji will not read; the message names the file and what to change."""


# the DOCTYPE of XHTML (hOCR): a public identifier and system URL, or none (HTML5), no internal subset
_XHTML_DOCTYPE = re.compile(rb'<!DOCTYPE\s+html(\s+PUBLIC\s+"-//W3C//DTD XHTML[^"]*"(\s+"[^"\[\]]*")?)?\s*>',
                            re.IGNORECASE)


def doctype_refusal(data: bytes, source: str, *, allow_xhtml: bool = False) -> str | None:
    """Why `data` is refused for a DOCTYPE or entity declaration (in Chinese, naming `source` and
    the line), or None. `allow_xhtml` accepts the plain XHTML DOCTYPE hOCR files start with."""
    plain = data.replace(b"\x00", b"")  # UTF-16 text: find the declaration between the zero bytes
    for match in XML_DECLARATION.finditer(plain):
        if allow_xhtml and match.group(1).upper() == b"DOCTYPE" and _XHTML_DOCTYPE.match(plain, match.start()):
            continue
        line = plain.count(b"\n", 0, match.start()) + 1
        shown = plain[match.start():match.start() + 60].split(b">")[0].decode("utf-8", "replace")
        return (f"{source} 第{line}行: 拒收——文件声明了 {match.group(1).decode().upper()}（{shown}…）。Guji 从不读取 "
                "DTD 和实体声明（这是 XXE 攻击的写法），这种文件也用不着它：请删去 <!DOCTYPE …> 一段后再试")
    return None


class LocalSchemas(etree.Resolver):
    """Serve schema imports from `metadata_schemas/xsd/` instead of the network."""

    def resolve(self, url, public_id, context):
        name = PUBLISHED.get(url)
        if name is None and url and Path(url).name in PUBLISHED.values() and XSD_DIR in Path(url).parents:
            name = Path(url).name
        if name is not None:
            return self.resolve_filename(str(XSD_DIR / name), context)
        return None


def _parser(*, for_schema: bool = False) -> etree.XMLParser:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                             huge_tree=False, remove_comments=False)
    if for_schema:
        parser.resolvers.add(LocalSchemas())
    return parser


def parse_xml(data: bytes, source: str = "XML") -> etree._ElementTree:
    """Parse untrusted XML. Raises :class:`XMLRefused` for a DOCTYPE or malformed input."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    refusal = doctype_refusal(data, source)
    if refusal:
        raise XMLRefused(refusal)
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise XMLRefused(f"{source} 第{error.lineno}行: 不是格式正确的 XML（{error.msg}）；什么也没有读取") from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
        raise XMLRefused(f"{source}: 拒收——文件声明了 DOCTYPE（{tree.docinfo.doctype or '内部子集'}）；"
                         "请删去 <!DOCTYPE …> 一段后再试")  # an encoding the byte scan above cannot read
    return tree


@cache
def _schema_document(name: str) -> etree._ElementTree:
    return etree.parse(str(XSD_DIR / name), _parser(for_schema=True))


@cache
def schema(name: str) -> etree.XMLSchema:
    """A compiled schema: ``mods``, ``oai_dc`` or ``oai`` (OAI-PMH with each metadata payload checked
    against oai_dc or MODS too)."""
    if name == "mods":
        return etree.XMLSchema(_schema_document("mods-3-6.xsd"))
    if name == "oai_dc":
        return etree.XMLSchema(_schema_document("oai_dc.xsd"))
    if name == "oai":
        return etree.XMLSchema(_strict_oai_document())
    raise InvalidInput(f"no schema {name!r}: use mods, oai_dc or oai")


def _strict_oai_document() -> etree._ElementTree:
    """OAI-PMH.xsd with its metadata wildcards set to ``strict`` and the two metadata formats imported.

    The copy we ship (from pyoai's tests) says ``processContents="skip"``, which would accept any
    payload; with ``strict`` every ``<metadata>`` child must be valid against its own schema.
    """
    document = copy.deepcopy(_schema_document("OAI-PMH.xsd"))
    root = document.getroot()
    for wildcard in root.iter(f"{{{XS}}}any"):
        wildcard.set("processContents", "strict")
    for position, namespace in enumerate((OAI_DC_NS, MODS_NS)):
        imported = etree.Element(f"{{{XS}}}import", namespace=namespace, schemaLocation=SCHEMA_LOCATIONS[namespace])
        root.insert(position, imported)
    return document


def schema_for(tree: etree._ElementTree) -> str | None:
    """Which schema a document is for, from its root element."""
    namespace = etree.QName(tree.getroot()).namespace
    return {OAI_NS: "oai", OAI_DC_NS: "oai_dc", MODS_NS: "mods", DC_RECORDS_NS: "dc-records"}.get(namespace)


def validate(tree: etree._ElementTree, name: str) -> list[str]:
    """Schema errors as ``line N: message``; [] when valid (``dc-records``: each ``oai_dc:dc`` inside)."""
    if name == "dc-records":
        problems = []
        for child in tree.getroot():
            problems.extend(validate(etree.ElementTree(copy.deepcopy(child)), "oai_dc"))
        return problems
    compiled = schema(name)
    if compiled.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in compiled.error_log]
