"""The JSON API mirroring the public pages (documented in the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from guji.repository import Gone, public_url
from guji.repository.withdrawal import is_withdrawn

from . import collection
from .dependencies import CatalogueDep
from .public_pages import browse_filters, withdrawn_message
from .record import BookRecord, Section, book_record

if TYPE_CHECKING:
    from guji.repository.catalogue_db import CardRow  # the rows Catalogue.browse and .recent answer


class BookSummary(BaseModel):
    id: str
    title: str = Field(description="题名卷数, e.g. 毛詩注疏三十卷首一卷")
    responsibility: str = Field(description="著者, e.g. （清）冒襄撰")
    edition: str = Field(description="版本, e.g. 明萬曆元年純白齋刻本")
    call_number: str | None = Field(description="索书号")
    record_type: str = Field(description="guji or local_document")
    edition_type: str | None = Field(description="版本类型")
    dynasty: str | None = Field(description="版本朝代")
    pages: int = Field(description="page scans (0: not digitised)")
    url: str = Field(description="the record page")


class Figures(BaseModel):
    titles: int = Field(description="种")
    guji: int
    local_documents: int
    volumes: int = Field(description="册")
    digitised: int = Field(description="titles with page scans")
    pages: int
    graded: int = Field(description="titles with a 定级")


class CollectionResponse(BaseModel):
    figures: Figures
    recent: list[BookSummary]


class FacetValue(BaseModel):
    value: str
    label: str
    count: int
    selected: bool
    children: list[FacetValue] = []


class Facet(BaseModel):
    key: str = Field(description="the query parameter that filters by this facet")
    title: str
    values: list[FacetValue]


class BrowseResponse(BaseModel):
    filters: dict[str, str]
    total: int
    page: int
    pages: int
    books: list[BookSummary]
    facets: list[Facet]


class CardLine(BaseModel):
    key: str
    label: str
    text: str


class ContentsEntry(BaseModel):
    label: str = Field(description="e.g. 卷一")
    first_page: str | None
    pages: int
    viewer: str | None = Field(description="the viewer opened at the first page")
    children: list[ContentsEntry] = []


class PageEntry(BaseModel):
    page: str
    label: str
    image: str = Field(description="the whole page as JPEG (IIIF Image API full/max)")
    viewer: str


class BookResponse(BaseModel):
    id: str
    version: int
    title: str
    card_lines: list[CardLine] = Field(description="the card as a Chinese catalogue prints it")
    call_number: str | None
    census_number: str | None
    former_call_numbers: list[str]
    classification: list[str] | None = Field(description="四部 path, e.g. [史部, 传记类]")
    rights: str | None
    permalink: str
    citation: str
    manifest: str | None = Field(description="IIIF Presentation 3 manifest (books with pages)")
    viewer: str | None
    contents: list[ContentsEntry]
    pages: list[PageEntry]
    card: dict[str, Any] = Field(description="the full catalogue card (card.schema.json)")


def summary(row: CardRow) -> BookSummary:
    return BookSummary(
        id=row.id, title=row.title_with_juan, responsibility=row.responsibility, edition=row.edition_statement,
        call_number=row.call_number, record_type=row.record_type, edition_type=row.edition_type,
        dynasty=row.dynasty, pages=row.page_count or 0, url=f"{public_url()}/books/{row.id}",
    )


def _facet_value(value: collection.FacetValue) -> FacetValue:
    return FacetValue(value=value.value, label=value.label, count=value.count, selected=value.selected,
                      children=[_facet_value(child) for child in value.children])


def _contents(book: BookRecord, sections: list[Section]) -> list[ContentsEntry]:
    base = public_url()
    return [ContentsEntry(label=section.label, first_page=section.first_page, pages=section.pages,
                          viewer=base + book.viewer_path(section.first_page) if section.first_page else None,
                          children=_contents(book, section.children))
            for section in sections]


def book_response(book: BookRecord) -> BookResponse:
    base = public_url()
    return BookResponse(
        id=book.id, version=book.version, title=book.title,
        card_lines=[CardLine(**vars(line)) for line in book.lines],
        call_number=book.call_number, census_number=book.census_number,
        former_call_numbers=book.former_call_numbers,
        classification=book.classification["path"] if book.classification else None,
        rights=book.rights, permalink=book.permalink, citation=book.citation(),
        manifest=book.manifest_url if book.has_pages else None,
        viewer=base + book.viewer_path() if book.has_pages else None,
        contents=_contents(book, book.contents),
        pages=[PageEntry(page=page.page, label=page.label, image=base + book.image_path(page.page),
                         viewer=base + book.viewer_path(page.page)) for page in book.pages],
        card=book.card,
    )


router = APIRouter(prefix="/api", tags=["collection"])


@router.get("/collection", response_model=CollectionResponse, summary="Collection figures and recent items")
def collection_api(catalogue: CatalogueDep):
    figures = collection.figures(catalogue)
    return CollectionResponse(figures=Figures(**vars(figures)),
                              recent=[summary(row) for row in collection.recent(catalogue)])


@router.get("/browse", response_model=BrowseResponse,
            summary="Browse by 四部, 朝代, 版本类型, 地方文献 and 地方人士 (the /browse page)")


def browse_api(catalogue: CatalogueDep, page: int = Query(1, ge=1, le=100_000),
               page_size: int = Query(collection.PAGE_SIZE, ge=1, le=200),
               filters: collection.Filters = Depends(browse_filters)):
    result = collection.browse(catalogue, filters, page, page_size)
    return BrowseResponse(
        filters=filters.query_items(), total=result.total, page=result.page, pages=result.pages,
        books=[summary(row) for row in result.rows],
        facets=[Facet(key=facet.key, title=facet.title, values=[_facet_value(v) for v in facet.values])
                for facet in result.facets],
    )


@router.get("/books/{card_id}", response_model=BookResponse, summary="One book's record (the /books/{id} page)",
            responses={404: {"description": "no such book"}, 410: {"description": "the record was withdrawn"}})


def book_api(card_id: str, catalogue: CatalogueDep):
    stored = catalogue.get(card_id)
    if is_withdrawn(stored.card):
        raise Gone(withdrawn_message(catalogue, stored))
    return book_response(book_record(catalogue, stored))

