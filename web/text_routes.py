"""A book's text on the web: the IIIF text annotations of each page, its PAGE-XML, and the reading
view's leaves (the record page fetches them as the viewer turns pages).

    /iiif/{id}/annotations/{page}     AnnotationPage: the page's text, a supplementing annotation per line
    /iiif/{id}/ocr/{page}.page.xml    the page's OCR as stored in the book's OCFL object (PAGE-XML 2019)
    /books/{id}/reading?page=…        the reading view's text of the shown pages (HTML fragment)
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from guji.iiif.page_images import valid_book, valid_page
from guji.iiif.text_annotations import PAGE_XML_FORMAT, annotation_page, page_xml_file, text_pages
from guji.repository import Catalogue, Gone, NotFound
from guji.repository.withdrawal import withdrawn_status

from .dependencies import CatalogueDep
from .reading import reading, text_of_scan
from .templating import render

PRESENTATION_TYPE = 'application/ld+json;profile="http://iiif.io/api/presentation/3/context.json"'
CORS = {"Access-Control-Allow-Origin": "*"}
CACHE = "public, max-age=300"


router = APIRouter()


def refused(catalogue: Catalogue, book: str, page: str | None = None) -> None:
    """NotFound for no such book or page, Gone for a withdrawn book (the app's error handler answers)."""
    status = withdrawn_status(catalogue, book) if valid_book(book) else None
    if status is None:
        raise NotFound(f"没有标识为「{book[:80]}」的书", english=f"no book {book[:80]!r}")
    if status:
        raise Gone(f"{book} 的记录已撤销，全文不再公开",
                   english=f"{book} was withdrawn: its text is no longer public")
    if page is not None and (not valid_page(page) or page not in _scans(catalogue, book)):
        raise NotFound(f"{book} 没有第「{page[:20]}」页：页码与 manifest 一致，如 0001",
                       english=f"{book} has no page {page[:20]!r}: pages are numbered as in the manifest, "
                               "e.g. 0001")


def _scans(catalogue: Catalogue, book: str) -> set[str]:
    return {str(entry.get("page")) for entry in (catalogue.structure(book) or {}).get("pages") or []}


@router.get("/iiif/{book}/annotations/{page}", tags=["iiif"],
            summary="The text of one page as IIIF annotations (supplementing, one per line)")


def text_annotations(book: str, page: str, catalogue: CatalogueDep):
    refused(catalogue, book, page)
    with_text, _ = text_pages(catalogue, book)  # the pages the manifest links to a text
    located = text_of_scan(catalogue, book, page) if page in with_text else None
    if located is None:
        raise NotFound(f"{book} 第 {page} 页没有全文", english=f"{book} page {page} has no text")
    body = json.dumps(annotation_page(book, page, located), ensure_ascii=False)
    return Response(body, media_type=PRESENTATION_TYPE, headers={**CORS, "Cache-Control": CACHE})


@router.get("/iiif/{book}/ocr/{page}.page.xml", tags=["iiif"],
            summary="The OCR of one page as stored: PAGE-XML with line and character coordinates")


def page_xml(request: Request, book: str, page: str, catalogue: CatalogueDep):
    refused(catalogue, book, page)
    path = page_xml_file(page)
    digest = catalogue.store.digests(book).get(path)
    if digest is None:
        raise NotFound(f"{book} 第 {page} 页还没有文字识别（没有 PAGE-XML）",
                       english=f"{book} page {page} has not been OCR'd (no PAGE-XML)")
    etag = f'"{digest[:32]}"'
    headers = {**CORS, "Cache-Control": CACHE, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(catalogue.store.read_bytes(book, path), media_type=PAGE_XML_FORMAT, headers=headers)


@router.get("/books/{book}/reading", include_in_schema=False)
def reading_fragment(request: Request, book: str, catalogue: CatalogueDep, page: list[str] = Query([]),
                     text: int | None = Query(None, ge=0, le=1_000_000), q: str = Query("", max_length=256),
                     layout: str = "vertical"):
    """The reading view's leaves for the pages the viewer shows (HTML, for the record page's script)."""
    try:
        refused(catalogue, book)
    except NotFound:  # also a withdrawn book: the record page shows an empty reading view
        return render(request, "reading_leaves.html", {"reading": None}, status_code=404)
    pages = [p for p in page[:2] if valid_page(p)]  # a book view shows at most two pages
    shown = reading(catalogue, book, pages=pages, text=text, query=q, layout=layout)
    return render(request, "reading_leaves.html", {"reading": shown})

