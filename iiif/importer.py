"""Import an existing IIIF manifest (Presentation 2 or 3) as a book.

A library that had a book digitized elsewhere brings in its manifest; the images stay where
they are (the other library's Image API service), and the book gets what an ingested book
has: a card, an OCFL object, a manifest of ours at ``/iiif/{id}/manifest`` with our canvas ids
(so Content Search hits, ranges and citations work the same) and the Mirador viewer.

What is stored — one new OCFL version of the book's object:

* ``source/manifest.json`` — the manifest exactly as read (bit for bit), for provenance;
* ``structure.json`` — reading order, page labels and sizes, 卷/册 ranges, viewing direction,
  and per page a ``remote`` block: the source canvas id, the image, its format and its
  image service (id, type, profile);
* the card: when ``--id`` names an existing card it is linked and left unchanged; otherwise a
  card is created from the manifest (title and 卷數 from the label, rights when it is a URI the
  card vocabulary has, 收藏單位 from requiredStatement/attribution, the source in 附注).

Real manifests have quirks; each is handled and reported as a warning:

* widths and heights given as strings (``"612"``) are read as numbers; a canvas without a
  usable size is refused, naming the canvas;
* a Chinese book marked ``left-to-right`` is imported as marked (the canvas order may have
  been arranged for it) with a warning; ``--viewing-direction right-to-left`` corrects it;
* rights that are not an http:// CC or rightsstatements.org URI are kept in the card's 附注,
  not as the card's rights.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import metadata_schemas
from repository import Catalogue
from repository.catalogue import STRUCTURE_FILE

from .language import CJK

SOURCE_FILE = "source/manifest.json"
DIRECTIONS = ("left-to-right", "right-to-left", "top-to-bottom", "bottom-to-top")
JUAN = re.compile(r"^(?P<title>.+?)[\s\u3000]*(?P<juan>[一二三四五六七八九十百千〇零兩两]+卷.*)$")


class ImportRefused(ValueError):
    """The manifest cannot be imported; the message names what is wrong. Nothing was stored."""


@dataclass
class ImportResult:
    book: str
    version: int | None
    pages: int
    ranges: int
    card_created: bool
    warnings: list[str] = field(default_factory=list)


def read_source(source: str, timeout: float = 30.0) -> tuple[bytes, str]:
    """The manifest's bytes and a name for it: a local file, or an http(s) URL."""
    if re.match(r"^https?://", source):
        import httpx

        try:
            response = httpx.get(source, timeout=timeout, follow_redirects=True,
                                 headers={"Accept": "application/ld+json, application/json"})
        except httpx.HTTPError as error:
            raise ImportRefused(f"{source}: could not fetch the manifest ({error})") from None
        if response.status_code != 200:
            raise ImportRefused(f"{source}: the server answered HTTP {response.status_code}, not a manifest")
        return response.content, source
    path = Path(source)
    try:
        return path.read_bytes(), path.name
    except OSError as error:
        raise ImportRefused(f"{source}: cannot read the file ({error.strerror})") from None


# ---- reading both versions -------------------------------------------------------------


def _text(value) -> str:
    """A label or value of either version as one string (prefers Chinese, then none, then any)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        texts = [_text(item) for item in value]
        chinese = [text for text in texts if CJK.search(text)]
        return (chinese or [t for t in texts if t] or [""])[0]
    if isinstance(value, dict):
        if "@value" in value:
            return str(value["@value"]).strip()
        for key in ("zh-Hant", "zh-TW", "zh", "zh-Hans", "zh-CN", "ja", "none"):
            if value.get(key):
                return _text(value[key])
        for values in value.values():
            if values:
                return _text(values)
    return str(value).strip()


def _dimension(value, what: str) -> int:
    """Widths and heights, also when a manifest writes them as strings ("612")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ImportRefused(f"{what} is {value!r}, not a number of pixels") from None
    if number <= 0 or number != int(number):
        raise ImportRefused(f"{what} is {value!r}, not a positive whole number of pixels")
    return int(number)


def _first(value):
    return value[0] if isinstance(value, list) and value else value


def _service(service) -> dict | None:
    service = _first(service)
    if not isinstance(service, dict):
        return None
    service_id = service.get("id") or service.get("@id")
    if not service_id:
        return None
    kind = service.get("type") or service.get("@type")
    context = str(service.get("@context") or "")
    if not kind or kind.startswith("iiif:"):
        kind = "ImageService3" if "/image/3" in context else "ImageService2"
    profile = _first(service.get("profile"))
    return {"id": service_id, "type": kind, "profile": profile if isinstance(profile, str) else None}


def _thumbnail(value) -> dict | None:
    value = _first(value)
    if isinstance(value, str):
        return {"id": value}
    if isinstance(value, dict) and (value.get("id") or value.get("@id")):
        return {"id": value.get("id") or value.get("@id"), "format": value.get("format")}
    return None


def _strip_fragment(uri: str) -> str:
    return uri.split("#", 1)[0]


@dataclass
class SourceCanvas:
    id: str
    label: str
    width: int
    height: int
    image: str
    format: str | None
    image_width: int | None
    image_height: int | None
    service: dict | None
    thumbnail: dict | None


def _v3_canvases(manifest: dict) -> list[SourceCanvas]:
    canvases = []
    for index, canvas in enumerate(manifest.get("items") or [], start=1):
        what = f"canvas {index} ({canvas.get('id', 'no id')})"
        width = _dimension(canvas.get("width"), f"{what}: width")
        height = _dimension(canvas.get("height"), f"{what}: height")
        try:
            body = _first(canvas["items"][0]["items"][0]["body"])
        except (KeyError, IndexError, TypeError):
            raise ImportRefused(f"{what}: no painting annotation with an image") from None
        if isinstance(body, dict) and body.get("type") == "Choice":
            body = _first(body.get("items"))
        if not isinstance(body, dict) or not body.get("id"):
            raise ImportRefused(f"{what}: the painting annotation has no image id")
        canvases.append(SourceCanvas(
            canvas.get("id") or "", _text(canvas.get("label")), width, height, body["id"], body.get("format"),
            _optional_dimension(body.get("width")), _optional_dimension(body.get("height")),
            _service(body.get("service")), _thumbnail(canvas.get("thumbnail"))))
    return canvases


def _v2_canvases(manifest: dict) -> list[SourceCanvas]:
    sequences = manifest.get("sequences") or []
    if not sequences:
        raise ImportRefused("the manifest has no sequences (a Presentation 2 manifest lists its canvases there)")
    canvases = []
    for index, canvas in enumerate(sequences[0].get("canvases") or [], start=1):
        what = f"canvas {index} ({canvas.get('@id', 'no @id')})"
        width = _dimension(canvas.get("width"), f"{what}: width")
        height = _dimension(canvas.get("height"), f"{what}: height")
        try:
            resource = canvas["images"][0]["resource"]
        except (KeyError, IndexError, TypeError):
            raise ImportRefused(f"{what}: no image") from None
        if isinstance(resource, dict) and resource.get("@type") == "oa:Choice":
            resource = resource.get("default") or {}
        if not isinstance(resource, dict) or not resource.get("@id"):
            raise ImportRefused(f"{what}: the image has no @id")
        canvases.append(SourceCanvas(
            canvas.get("@id") or "", _text(canvas.get("label")), width, height, resource["@id"],
            resource.get("format"), _optional_dimension(resource.get("width")),
            _optional_dimension(resource.get("height")), _service(resource.get("service")),
            _thumbnail(canvas.get("thumbnail"))))
    return canvases


def _optional_dimension(value) -> int | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number > 0 and number == int(number) else None


def _v3_ranges(manifest: dict) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []

    def canvases_of(item) -> list[str]:
        if isinstance(item, str):
            return [_strip_fragment(item)]
        if not isinstance(item, dict):
            return []
        kind = item.get("type")
        if kind == "Canvas":
            return [_strip_fragment(item.get("id", ""))]
        if kind == "SpecificResource":
            source = item.get("source")
            return [_strip_fragment(source if isinstance(source, str) else (source or {}).get("id", ""))]
        if kind == "Range":
            pages = [page for child in item.get("items") or [] for page in canvases_of(child)]
            label = _text(item.get("label"))
            if label and "top" not in (item.get("behavior") or []):
                found.append((label, pages))
            return pages
        return []

    for structure in manifest.get("structures") or []:
        canvases_of(structure)
    return found


def _v2_ranges(manifest: dict) -> list[tuple[str, list[str]]]:
    by_id = {item.get("@id"): item for item in manifest.get("structures") or [] if isinstance(item, dict)}
    found = []

    def canvases_of(item: dict, seen: frozenset) -> list[str]:
        pages = [_strip_fragment(c) for c in item.get("canvases") or [] if isinstance(c, str)]
        for child in item.get("ranges") or []:
            if child in by_id and child not in seen:
                pages.extend(canvases_of(by_id[child], seen | {child}))
        return pages

    for item in by_id.values():
        label = _text(item.get("label"))
        if label and item.get("viewingHint") != "top":
            found.append((label, canvases_of(item, frozenset({item.get("@id")}))))
    return found


@dataclass
class SourceManifest:
    version: int
    id: str
    label: str
    metadata: list[tuple[str, str]]
    rights: str
    attribution: str
    viewing_direction: str | None
    behavior: str | None
    canvases: list[SourceCanvas]
    ranges: list[tuple[str, list[str]]]


def parse_manifest(data: bytes, name: str = "manifest") -> SourceManifest:
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImportRefused(f"{name}: not JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise ImportRefused(f"{name}: not a IIIF manifest (the JSON is not an object)")
    context = json.dumps(manifest.get("@context", ""))
    if manifest.get("type") == "Manifest" or "presentation/3" in context:
        version = 3
        canvases = _v3_canvases(manifest)
        ranges = _v3_ranges(manifest)
        rights = manifest.get("rights") or ""
        attribution = _text((manifest.get("requiredStatement") or {}).get("value"))
        behavior = next((b for b in manifest.get("behavior") or [] if b in ("paged", "individuals", "continuous")),
                        None)
        manifest_id = manifest.get("id") or ""
    elif manifest.get("@type") == "sc:Manifest" or "presentation/2" in context:
        version = 2
        canvases = _v2_canvases(manifest)
        ranges = _v2_ranges(manifest)
        rights = _text(manifest.get("license"))
        attribution = _text(manifest.get("attribution"))
        hint = manifest.get("viewingHint") or ((manifest.get("sequences") or [{}])[0].get("viewingHint"))
        behavior = hint if hint in ("paged", "individuals", "continuous") else None
        manifest_id = manifest.get("@id") or ""
    else:
        raise ImportRefused(f"{name}: not a IIIF Presentation 2 or 3 manifest (no Manifest type or context)")
    if not canvases:
        raise ImportRefused(f"{name}: the manifest has no canvases, so there are no pages to import")
    metadata = [(_text(pair.get("label")), _text(pair.get("value")))
                for pair in manifest.get("metadata") or [] if isinstance(pair, dict)]
    direction = manifest.get("viewingDirection")
    return SourceManifest(version, manifest_id, _text(manifest.get("label")), [m for m in metadata if m[1]],
                          str(rights or ""), attribution, direction if direction in DIRECTIONS else None, behavior,
                          canvases, ranges)


# ---- what is stored ------------------------------------------------------------------------


def build_structure(source: SourceManifest, origin: str, viewing_direction: str | None) -> dict:
    page_of = {}
    pages = []
    for number, canvas in enumerate(source.canvases, start=1):
        page = f"{number:04d}"
        page_of[_strip_fragment(canvas.id)] = page
        remote = {"canvas": canvas.id, "image": canvas.image, "format": canvas.format or "image/jpeg"}
        if canvas.image_width and canvas.image_height:
            remote["width"], remote["height"] = canvas.image_width, canvas.image_height
        if canvas.service:
            remote["service"] = canvas.service
        if canvas.thumbnail:
            remote["thumbnail"] = canvas.thumbnail
        pages.append({"page": page, "label": canvas.label or str(number), "width": canvas.width,
                      "height": canvas.height, "remote": remote})
    ranges = []
    for label, canvas_ids in source.ranges:
        members = list(dict.fromkeys(page_of[c] for c in canvas_ids if c in page_of))
        if members:
            ranges.append({"label": label, "pages": members})
    structure = {
        "viewingDirection": viewing_direction or source.viewing_direction or "right-to-left",
        "pages": pages,
        "ranges": ranges,
        "source": {"manifest": origin, "id": source.id, "presentation": source.version,
                   "imported": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")},
    }
    if source.behavior:
        structure["behavior"] = source.behavior
    return structure


def card_from_manifest(source: SourceManifest, book: str, record_type: str, origin: str) -> tuple[dict, list[str]]:
    warnings = []
    label = source.label or book
    match = JUAN.match(label)
    edition: dict = {"title": match["title"].strip() if match else label}
    if match:
        edition["juan"] = {"raw": match["juan"].strip()}
    notes = [f"據 IIIF manifest 匯入（Presentation {source.version}）：{source.id or origin}"]
    notes += [f"{key}：{value}" for key, value in source.metadata if key and value]
    rights = None
    if source.rights:
        canonical = metadata_schemas.canonical_term("rights", source.rights)
        if canonical:
            rights = canonical
        else:
            notes.append(f"原權利聲明：{source.rights}")
            warnings.append(f"rights {source.rights!r} is not an http:// Creative Commons or RightsStatements.org "
                            "URI; kept in the card's 附注, set the card's 权利声明 by hand")
    for key, value in source.metadata:
        if key in ("類別", "类别", "部類", "Category") and metadata_schemas.classification_lookup(value):
            edition["classification"] = {"code": metadata_schemas.classification_lookup(value)["code"]}
            break
    edition["notes"] = "\n".join(notes)
    card: dict = {"id": book, "record_type": record_type, "edition": edition}
    if source.attribution:
        card["copy"] = {"holding_institution": source.attribution}
    if rights:
        card["rights"] = rights
    if record_type == "local_document":
        card["local_document"] = {"type": "地方著述"}
    return card, warnings


def import_manifest(
    catalogue: Catalogue, source: str, book: str, *, editor: str, record_type: str = "guji",
    viewing_direction: str | None = None,
) -> ImportResult:
    """Import the manifest at `source` (file or URL) as book `book`. Raises ImportRefused (or
    repository.CardError for a card the manifest cannot fill validly) naming the problem;
    nothing is stored then."""
    if viewing_direction and viewing_direction not in DIRECTIONS:
        raise ImportRefused(f"--viewing-direction {viewing_direction!r}: use one of {', '.join(DIRECTIONS)}")
    data, origin = read_source(source)
    parsed = parse_manifest(data, origin)
    warnings = []
    direction = viewing_direction or parsed.viewing_direction
    if not viewing_direction and parsed.viewing_direction == "left-to-right" and CJK.search(parsed.label):
        warnings.append("the manifest marks this Chinese book left-to-right; imported as marked — if its "
                        "leaves read right to left, import again with --viewing-direction right-to-left")
    if not parsed.viewing_direction and not viewing_direction:
        warnings.append("the manifest gives no viewingDirection; right-to-left assumed")
    structure = build_structure(parsed, origin, direction)
    created = False
    if catalogue.exists(book):
        stored = catalogue.store.digests(book)
        if any(path.startswith("masters/") for path in stored):
            raise ImportRefused(f"{book} already has ingested scans (masters/…); importing a manifest would hide "
                                "them — import into a new card id instead")
    else:
        card, card_warnings = card_from_manifest(parsed, book, record_type, origin)
        warnings += card_warnings
        catalogue.create(card, editor=editor, reason=f"據 IIIF manifest 建立卡片 {origin}")
        created = True
    files = {
        SOURCE_FILE: data,
        STRUCTURE_FILE: (json.dumps(structure, ensure_ascii=False, indent=2) + "\n").encode(),
    }
    stored_structure = catalogue.structure(book)
    unchanged = (stored_structure is not None and _without_time(stored_structure) == _without_time(structure)
                 and catalogue.store.digests(book).get(SOURCE_FILE) == _sha512(data))
    version = None
    if not unchanged:
        info = catalogue.commit_files(book, files, editor=editor, reason=f"匯入 IIIF manifest {origin}",
                                      event="iiif-import", pages=len(parsed.canvases), source=origin)
        version = info.number if info else None
    return ImportResult(book, version, len(parsed.canvases), len(structure["ranges"]), created, warnings)


def _without_time(structure: dict) -> dict:
    copy = json.loads(json.dumps(structure))
    copy.get("source", {}).pop("imported", None)
    return copy


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()
