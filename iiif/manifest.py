"""The IIIF Presentation 3 manifest of one book, built with iiif-prezi3.

Sources: the catalogue card (label, metadata, rights, 收藏單位), the object's `structure.json`
(reading order, leaf labels, 卷 and 册 ranges, viewing direction), the pixel sizes in each
page's `info.json` and which pages have text or OCR (`text/pages.json`, `ocr/*.page.xml`: the
canvas's ``annotations`` and ``seeAlso``, :mod:`iiif.text_annotations`). Every id comes from
:mod:`iiif.ids`, so from ``GUJI_PUBLIC_URL``.

A book without page images has no manifest: Presentation 3 requires at least one canvas in
`items` (§3 "A Manifest MUST have the items property with at least one item"), and a manifest
with a blank stand-in page would be cited as if it were the book. :class:`NoPageImages` says
so, and the web layer answers 404 with that message. A withdrawn card (记录状态 已撤销, `guji cards
withdraw`) has no manifest either: :class:`BookWithdrawn`, answered with 410 Gone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import iiif_prezi3 as prezi

from guji.repository import CardNotFound, Catalogue, Gone, NotFound
from guji.repository.page_labels import TRADITIONAL, card_script, page_entry_label
from guji.repository.withdrawal import is_withdrawn

from . import ids
from .collections import collections_of
from .language import book_label, chinese, holding_statement, metadata_pairs, rights, simplified
from .page_images import PageImage, page_images
from .text_annotations import canvas_links, text_pages

SEARCH_1_CONTEXT = "http://iiif.io/api/search/1/context.json"
SEARCH_1_PROFILE = "http://iiif.io/api/search/1/search"
IMAGE_PROFILE = "level2"
THUMBNAIL_WIDTH = 150  # the smallest listed size at least this wide is the thumbnail
VIEWING_DIRECTIONS = {"right-to-left", "left-to-right", "top-to-bottom", "bottom-to-top"}


class NoPageImages(NotFound):
    """The book exists but has no page images to show."""


class BookWithdrawn(Gone):
    """The book's card was withdrawn: it is no longer part of the public collection."""


@dataclass(frozen=True)
class RangeNode:
    kind: str  # 册 (a bound volume) or 卷
    label: str
    pages: tuple[str, ...]
    slug: str


def search_services(book: str) -> list:
    """Content Search inside the book, advertised twice: v1 (what Mirador 4 and Universal Viewer
    parse; found by its `profile`, with the pre-v3 `@id`/`@type` keys) and v2."""
    return [
        prezi.ServiceV2(**{"@context": SEARCH_1_CONTEXT, "@id": ids.search_service(book), "@type": "SearchService1",
                           "profile": SEARCH_1_PROFILE}),
        prezi.ServiceV3(id=ids.search_service_v2(book), type="SearchService2"),
    ]


def image_service(book: str, page: str) -> prezi.ServiceV3:
    return prezi.ServiceV3(id=ids.image_service(book, page), type="ImageService3", profile=IMAGE_PROFILE)


def remote_service(remote: dict) -> list:
    """The image service of an imported page, in the form its own Image API version uses."""
    service = remote.get("service")
    if not isinstance(service, dict) or not service.get("id"):
        return []
    kind = service.get("type") or "ImageService2"
    if kind == "ImageService3":
        return [prezi.ServiceV3(id=service["id"], type=kind, profile=service.get("profile") or "level0")]
    profile = service.get("profile") or "http://iiif.io/api/image/2/level0.json"
    return [prezi.ServiceV2(**{"@id": service["id"], "@type": kind, "profile": profile})]


def _thumbnail(book: str, image: PageImage) -> list:
    if image.remote:
        thumb = image.remote.get("thumbnail")
        if isinstance(thumb, dict) and thumb.get("id"):
            return [prezi.AnnotationBody(id=thumb["id"], type="Image", format=thumb.get("format") or "image/jpeg")]
        return []
    if not image.sizes:
        return []
    width, height = min((s for s in image.sizes if s[0] >= THUMBNAIL_WIDTH), default=image.sizes[-1])
    return [prezi.AnnotationBody(id=ids.image(book, image.page, size=f"{width},{height}"), type="Image",
                                 format="image/jpeg", width=width, height=height,
                                 service=[image_service(book, image.page)])]


def page_label(image: PageImage, script: str) -> dict[str, list[str]]:
    """A canvas label: 叶一a / 葉一上 in the card's script (repository.page_labels); a simplified one is
    tagged zh-Hans only (OpenCC's t2s form of a traditional label is added under zh-Hans)."""
    text = page_entry_label(image.entry or {"label": image.label}, script)
    labels = chinese(text)
    if script != TRADITIONAL and "zh-Hant" in labels:
        return {"zh-Hans": [text]}
    return labels


def _add_canvas(manifest: prezi.Manifest, book: str, image: PageImage, script: str) -> None:
    canvas = manifest.make_canvas(id=ids.canvas(book, image.page), label=page_label(image, script),
                                  width=image.width, height=image.height)
    if image.remote:
        # The other library's image, at the size its manifest gave (if any), and its service.
        body_id = image.remote["image"]
        body_format = image.remote.get("format") or "image/jpeg"
        body_size = (image.remote.get("width"), image.remote.get("height"))
        service = remote_service(image.remote)
    else:
        body_id = ids.image(book, image.page)
        body_format = "image/jpeg"
        body_size = (image.width, image.height)
        service = [image_service(book, image.page)]
    canvas.add_image(body_id, anno_id=ids.painting_annotation(book, image.page),
                     anno_page_id=ids.annotation_page(book, image.page), format=body_format,
                     width=body_size[0], height=body_size[1], service=service or None)
    thumbnail = _thumbnail(book, image)
    if thumbnail:
        canvas.thumbnail = thumbnail


# ---- structures: 册 and 卷 ---------------------------------------------------------------


def _kind(item: dict) -> str:
    """册 (a bound volume) or 卷 (a chapter) — from `type`/`kind`, else from the label."""
    for key in ("type", "kind"):
        value = str(item.get(key) or "")
        if value in ("册", "冊", "volume", "ce"):
            return "册"
        if value in ("卷", "juan", "chapter"):
            return "卷"
    label = str(item.get("label") or "")
    if re.search(r"[册冊]", label) and not label.startswith("卷"):
        return "册"
    return "卷"


def range_nodes(structure: dict, shown: set[str]) -> list[RangeNode]:
    nodes = []
    counters: dict[str, int] = {}
    for item in structure.get("ranges") or []:
        pages = tuple(p for p in (str(p) for p in item.get("pages") or []) if p in shown)
        if not pages:
            continue
        kind = _kind(item)
        counters[kind] = counters.get(kind, 0) + 1
        slug = f"{'ce' if kind == '册' else 'juan'}-{counters[kind]}"
        nodes.append(RangeNode(kind, str(item.get("label") or slug), pages, slug))
    return nodes


def _make_range(book: str, node: RangeNode) -> prezi.Range:
    return prezi.Range(id=ids.range_(book, node.slug), label=chinese(node.label),
                       items=[prezi.CanvasRef(id=ids.canvas(book, page), type="Canvas") for page in node.pages])


def _add_structures(manifest: prezi.Manifest, book: str, nodes: list[RangeNode]) -> None:
    """One Range per 卷 with its leaves; when the book also has 册 ranges, each 卷 is nested in
    the 册 that holds its first leaf (a 卷 may run on into the next 册)."""
    volumes = [node for node in nodes if node.kind == "册"]
    chapters = [node for node in nodes if node.kind != "册"]
    if not volumes:
        manifest.structures = [_make_range(book, node) for node in chapters] or None
        return
    structures = []
    placed: set[RangeNode] = set()
    for volume in volumes:
        members = set(volume.pages)
        inner = [chapter for chapter in chapters if chapter not in placed and chapter.pages[0] in members]
        placed.update(inner)
        volume_range = _make_range(book, volume)
        if inner:
            covered = {page for chapter in inner for page in chapter.pages}
            # Leaves of the 册 outside any 卷 (書衣, 序 …) stay as canvases; 卷 as nested ranges.
            items: list = []
            for page in volume.pages:
                chapter = next((c for c in inner if c.pages[0] == page), None)
                if chapter:
                    items.append(_make_range(book, chapter))
                elif page not in covered:
                    items.append(prezi.CanvasRef(id=ids.canvas(book, page), type="Canvas"))
            volume_range.items = items
        structures.append(volume_range)
    structures.extend(_make_range(book, chapter) for chapter in chapters if chapter not in placed)
    manifest.structures = structures


def _behavior(structure: dict, images: list[PageImage]) -> list[str]:
    """paged (single leaves, shown as openings) unless the scans are whole openings: then
    individuals. structure.json may say so (`"behavior": "individuals"`); otherwise a book
    whose scans are mostly wider than tall is taken as scanned by openings."""
    given = structure.get("behavior")
    if given in ("paged", "individuals", "continuous"):
        return [given]
    landscape = sum(1 for image in images if image.width > image.height)
    return ["individuals"] if landscape * 2 > len(images) else ["paged"]


def build_manifest(catalogue: Catalogue, book: str) -> dict:
    """The manifest of `book` as a JSON-ready dict. Raises CardNotFound, BookWithdrawn or NoPageImages."""
    card = catalogue.get(book).card
    if is_withdrawn(card):
        raise BookWithdrawn(f"{book} was withdrawn (记录已撤销): it is no longer part of the public collection "
                            "and has no manifest; staff can reinstate it (guji cards withdraw "
                            f"{book} --reinstate --reason …)")
    structure = catalogue.structure(book) or {}
    images = page_images(catalogue, book, structure)
    if not images:
        raise NoPageImages(f"{book} has no page images yet: ingest its scans (guji ingest BOOK_DIR --id {book}) "
                           f"or import a manifest (guji iiif import FILE --id {book})")
    direction = structure.get("viewingDirection")
    label = book_label(card)
    manifest = prezi.Manifest(
        id=ids.manifest(book),
        label=label,
        viewingDirection=direction if direction in VIEWING_DIRECTIONS else "right-to-left",
        behavior=_behavior(structure, images),
    )
    metadata = metadata_pairs(card)
    if metadata:
        manifest.metadata = metadata
    notes = str((card.get("edition") or {}).get("notes") or "").strip()
    if notes:
        manifest.summary = {"zh-Hant": [notes], "zh-Hans": [simplified(notes)]}
    statement = holding_statement(card)
    if statement:
        manifest.requiredStatement = statement
    card_rights = rights(card)
    if card_rights:
        manifest.rights = card_rights
    manifest.homepage = [prezi.Homepage(id=ids.record_page(book), type="Text", format="text/html", label=label)]
    manifest.seeAlso = [prezi.LinkedResource(id=ids.card_json(book), type="Dataset", format="application/json",
                                             label={"zh-Hant": ["編目卡片"], "zh-Hans": ["编目卡片"],
                                                    "en": ["Catalogue card"]})]
    classification = (card.get("edition") or {}).get("classification") or {}
    manifest.partOf = [prezi.Class(id=ids.collection(name), type="Collection")
                       for name in collections_of(str(classification.get("code") or ""), card.get("record_type"))]
    manifest.service = search_services(book)
    script = card_script(card)
    for image in images:
        _add_canvas(manifest, book, image, script)
    first = _thumbnail(book, images[0])
    if first:
        manifest.thumbnail = first
    _add_structures(manifest, book, range_nodes(structure, {image.page for image in images}))
    built = json.loads(manifest.json())
    with_text, with_xml = text_pages(catalogue, book)
    for canvas, image in zip(built["items"], images, strict=True):
        if image.remote and image.remote.get("selector") is not None:
            _as_specific_resource(canvas["items"][0]["items"][0], image.remote)
        canvas.update(canvas_links(book, image.page, text=image.page in with_text, page_xml=image.page in with_xml))
    return built


def _as_specific_resource(annotation: dict, remote: dict) -> None:
    """An imported page whose image was a SpecificResource (an image with a selector, e.g. a
    rotation): served as it was given — the image as its `source`, the selector unchanged."""
    body = {"id": remote["resource"]} if remote.get("resource") else {}
    body.update(type="SpecificResource", source=annotation["body"], selector=remote["selector"])
    annotation["body"] = body


__all__ = ["BookWithdrawn", "CardNotFound", "NoPageImages", "build_manifest", "search_services"]
