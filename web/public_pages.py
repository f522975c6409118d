"""The public online collection: home, browse, record page, language toggle (HTML)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse

from guji.iiif.page_images import valid_page
from guji.repository import Catalogue, StoredCard, local_time
from guji.repository.card import card_entries, title_with_juan
from guji.repository.withdrawal import is_withdrawn, withdrawn_since

from . import collection, i18n
from .dependencies import CatalogueDep
from .reading import reading
from .record import book_record
from .templating import render


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site (`/…`), never `//host` or a full URL: no open redirects."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def withdrawn_page(request: Request, catalogue: Catalogue, stored: StoredCard):
    """410 Gone: the card was withdrawn (it stays in OCFL and in the staff workspace)."""
    title = title_with_juan(stored.card) or stored.id
    return render(request, "withdrawn.html", {
        "card_id": stored.id, "title": title, "since": withdrawn_since(catalogue, stored),
        "search_query": urlencode({"q": (stored.card.get("edition") or {}).get("title") or title}),
    }, status_code=410)


def withdrawn_message(catalogue: Catalogue, stored: StoredCard) -> str:
    """The same note for the JSON API and IIIF."""
    since = withdrawn_since(catalogue, stored)
    when = f"（v{since.number}，{local_time.format_time(since.created)}）" if since else ""
    return (f"「{stored.id}」已撤销{when}：这条记录不再在馆藏中公开（以前的版本仍然保存；OAI-PMH 报告为已删除）")


def browse_filters(
    classification: str | None = Query(None, alias="class", max_length=16, description="四部分类号: 部 2 or 类 2.07"),
    dynasty: str | None = Query(None, max_length=16, description="版本朝代, e.g. 明"),
    edition_type: str | None = Query(None, max_length=16, description="版本类型, e.g. 刻本"),
    record_type: str | None = Query(None, max_length=32, description="guji or local_document"),
    local_type: str | None = Query(None, max_length=16, description="地方文献类型: 地方志, 地方著述, 家谱"),
    local_author: str | None = Query(None, max_length=64, description="地方人士"),
    place: str | None = Query(None, max_length=64, description="地域, e.g. 如皋"),
) -> collection.Filters:
    return collection.Filters(classification, dynasty, edition_type, record_type, local_type, local_author, place)


def record_fields(card: dict) -> list[tuple[str, str]]:
    """Every filled field of the card with its Chinese label, in card order, leaving out parser bookkeeping."""
    return [
        (label, value) for label, path, value in card_entries(card)
        if not path.startswith(("edition.layout.parsed", "id")) and ".warnings" not in path
    ]


router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, catalogue: CatalogueDep):
    return render(request, "home.html", {
        "figures": collection.figures(catalogue),
        "recent": collection.recent(catalogue),
        "facets": collection.facets(catalogue, collection.Filters()),
    })


@router.get("/browse")
def browse(request: Request, catalogue: CatalogueDep, page: int = Query(1, ge=1, le=100_000),
           filters: collection.Filters = Depends(browse_filters)):
    result = collection.browse(catalogue, filters, page)
    chosen = filters.query_items()

    def link(**changes) -> str:
        """This browse page with some filters changed (None removes one)."""
        items = {**chosen, **changes}
        items = {key: value for key, value in items.items() if value}
        return "/browse" + ("?" + urlencode(items) if items else "")

    return render(request, "browse.html", {
        "result": result, "chosen": [(key, value, collection.filter_label(key, value))
                                     for key, value in chosen.items()],
        "link": link,
    })


@router.get("/books/{card_id}")
def record(request: Request, card_id: str, catalogue: CatalogueDep, page: str | None = None,
           text: int | None = Query(None, ge=0, le=1_000_000), q: str = Query("", max_length=256),
           layout: str = "vertical"):
    """`?page=0003` (as search hits link) opens the embedded viewer at that page and shows its text
    beside it; `?text=12` the text of a leaf without a scan; `q` marks a search's matches in both."""
    stored = catalogue.get(card_id)
    if is_withdrawn(stored.card):
        return withdrawn_page(request, catalogue, stored)
    book = book_record(catalogue, stored)
    start_page = page if page in {entry.page for entry in book.pages} else None
    # the text of that page — also of a book without scans, whose text numbers its own pages
    shown = page if page and valid_page(page) else (book.pages[0].page if book.pages and text is None else None)
    return render(request, "record.html", {
        "book": book, "fields": record_fields(stored.card), "versions": stored.versions,
        "start_page": start_page, "query": q.strip(),
        "reading": reading(catalogue, stored.id, pages=[shown] if shown else [], text=text, query=q,
                           layout=layout),
    })


@router.get("/lang")
def choose_language(to: str = "zh", next: str | None = None):
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, to, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response

