"""Every IIIF URL Guji publishes, built in one place from the public base URL.

Manifests, Content Search answers and the Image API must agree on these ids exactly (a search
hit targets a canvas by its id), so nothing else formats them. `book` is the card id (the OCFL
object id), `page` the four-digit page number of `structure.json` ("0001").
"""

from __future__ import annotations

from guji.repository import public_url


def base() -> str:
    return public_url() + "/iiif"


def manifest(book: str) -> str:
    return f"{base()}/{book}/manifest"


def canvas(book: str, page: str) -> str:
    return f"{base()}/{book}/canvas/{page}"


def annotation_page(book: str, page: str) -> str:
    return f"{base()}/{book}/page/{page}"


def text_annotations(book: str, page: str) -> str:
    """The AnnotationPage of one page's text (supplementing, a line per annotation)."""
    return f"{base()}/{book}/annotations/{page}"


def page_xml(book: str, page: str) -> str:
    """One page's OCR as stored: PAGE-XML with line and character boxes."""
    return f"{base()}/{book}/ocr/{page}.page.xml"


def painting_annotation(book: str, page: str) -> str:
    return f"{base()}/{book}/annotation/{page}"


def range_(book: str, name: str) -> str:
    return f"{base()}/{book}/range/{name}"


def image_service(book: str, page: str) -> str:
    """The Image API 3 service of one page (info.json lives below it)."""
    return f"{base()}/image/{book}/{page}"


def search_service(book: str) -> str:
    """Content Search inside one book: v1 answers here, v2 at `search_service_v2`."""
    return f"{base()}/search/{book}"


def search_service_v2(book: str) -> str:
    return f"{base()}/search/{book}/v2"


def collection(name: str) -> str:
    return f"{base()}/collection/{name}"


def image_info(book: str, page: str) -> str:
    return f"{image_service(book, page)}/info.json"


def image(book: str, page: str, region: str = "full", size: str = "max") -> str:
    """An Image API 3 image request (default: the whole page at full size, as JPEG)."""
    return f"{image_service(book, page)}/{region}/{size}/0/default.jpg"


def record_page(book: str) -> str:
    """The book's record page (/books/{id}), the manifest's `homepage`."""
    return f"{public_url()}/books/{book}"


def card_json(book: str) -> str:
    """The catalogue card as JSON (/api/cards/{id}), the manifest's `seeAlso`."""
    return f"{public_url()}/api/cards/{book}"
