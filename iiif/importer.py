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

The manifest is read and checked by :mod:`iiif.source_manifest` (a broken one is refused naming
the JSON path of the problem), and the book id is checked, before anything is written. Quirks
that are kept are reported as warnings:

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

from guji import metadata_schemas
from guji.repository import Catalogue, Damaged, InvalidInput, NotFound
from guji.repository.catalogue import STRUCTURE_FILE

from .language import CJK
from .source_manifest import DIRECTIONS, ManifestRefused, SourceManifest, parse_manifest

SOURCE_FILE = "source/manifest.json"
JUAN = re.compile(r"^(?P<title>.+?)[\s\u3000]*(?P<juan>[一二三四五六七八九十百千〇零兩两]+卷.*)$")


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
            raise ManifestRefused(f"{source}：无法取得 manifest（{error}）") from None
        if response.status_code != 200:
            raise ManifestRefused(f"{source}：对方服务器回答 HTTP {response.status_code}，不是 manifest")
        return response.content, source
    path = Path(source)
    try:
        return path.read_bytes(), path.name
    except OSError as error:
        raise ManifestRefused(f"{source}：无法读取这个文件（{error.strerror}）") from None


# ---- what is stored ------------------------------------------------------------------------


def build_structure(source: SourceManifest, origin: str, viewing_direction: str | None) -> dict:
    page_of = {}
    pages = []
    for number, canvas in enumerate(source.canvases, start=1):
        page = f"{number:04d}"
        page_of[canvas.id.split("#", 1)[0]] = page
        image = canvas.image
        remote = {"canvas": canvas.id, "image": image.id, "format": image.format or "image/jpeg"}
        if image.width and image.height:
            remote["width"], remote["height"] = image.width, image.height
        if image.service:
            remote["service"] = image.service
        if image.selector is not None:  # a SpecificResource: served again with its selector, as given
            remote["selector"] = image.selector
            if image.resource_id:
                remote["resource"] = image.resource_id
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
            warnings.append(f"权利声明 {source.rights!r} 不是 http:// 开头的 Creative Commons 或 RightsStatements.org "
                            "网址：已记入卡片的附注，请手工填写卡片的权利声明")
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
    """Import the manifest at `source` (file or URL) as book `book`. Raises ManifestRefused (or
    repository.CardError for a card the manifest cannot fill validly) naming the problem;
    nothing is stored then."""
    if viewing_direction and viewing_direction not in DIRECTIONS:
        raise ManifestRefused(f"--viewing-direction {viewing_direction!r}：请用 {'、'.join(DIRECTIONS)} 之一")
    existing = _existing_book(catalogue, book)
    data, origin = read_source(source)
    parsed = parse_manifest(data, origin)
    warnings = []
    direction = viewing_direction or parsed.viewing_direction
    if not viewing_direction and parsed.viewing_direction == "left-to-right" and CJK.search(parsed.label):
        warnings.append("manifest 把这部中文书标为自左向右（left-to-right），已照原样导入；如果它的书叶是自右向左"
                        "读的，请加 --viewing-direction right-to-left 再导入一次")
    if not parsed.viewing_direction and not viewing_direction:
        warnings.append("manifest 没有给出阅读方向（viewingDirection），按自右向左（right-to-left）导入")
    structure = build_structure(parsed, origin, direction)
    created = False
    if existing is not None:
        if any(path.startswith("masters/") for path in existing):
            raise ManifestRefused(f"{book} 已有入藏的扫描影像（masters/…），导入 manifest 会遮住它们："
                                  "请导入到新的卡片标识")
    else:
        card, card_warnings = card_from_manifest(parsed, book, record_type, origin)
        warnings += card_warnings
        catalogue.create(card, editor=editor, reason=f"据 IIIF 清单建立卡片：{origin}")
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
        info = catalogue.commit_files(book, files, editor=editor, reason=f"导入 IIIF 清单：{origin}",
                                      event="iiif-import", pages=len(parsed.canvases), source=origin)
        version = info.number if info else None
    return ImportResult(book, version, len(parsed.canvases), len(structure["ranges"]), created, warnings)


def _existing_book(catalogue: Catalogue, book: str) -> dict[str, str] | None:
    """The stored files of `book` if it is a Guji card, None if there is no such object yet;
    refused when the id is malformed or names an OCFL object that is not a Guji card (one another
    system wrote into the storage root: it has no card.json, and a version written into it could
    never be shown)."""
    try:
        if not catalogue.exists(book):
            return None
        catalogue.get(book)
    except (NotFound, Damaged, InvalidInput) as error:
        if isinstance(error, InvalidInput):
            raise ManifestRefused(f"--id {book!r}：卡片标识只能用 1–64 个 ASCII 字母、数字和 . _ -，"
                                  "以字母或数字开头") from None
        raise ManifestRefused(f"{book}：存储中已有这个 OCFL 对象，但它不是 Guji 的卡片（没有可读的 card.json），"
                              "所以什么都没有写入。请换一个 --id，并请管理员查明这个对象的来历") from None
    return catalogue.store.digests(book)


def _without_time(structure: dict) -> dict:
    copy = json.loads(json.dumps(structure))
    copy.get("source", {}).pop("imported", None)
    return copy


def _sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()
