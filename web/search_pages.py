"""Search on the web: the public ``/search`` page, ``/api/search`` (JSON) and IIIF Content
Search inside one book (``/iiif/search/{id}``: API 1.0 for Mirador; ``/iiif/search/{id}/v2``).

Web processes only read the index; the indexer (started by `guji serve`) writes it. A bad
query or parameter is answered with HTTP 400 and a message saying what to change (a QueryError,
answered by the app's error handler; the search page shows it beside the search box).
"""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from guji.iiif.content_search import search_v1, search_v2
from guji.repository import Catalogue, Gone, NotFound
from guji.repository.withdrawal import withdrawn_status
from guji.search.backend import SearchError
from guji.search.fields import BY_NAME, FACETS
from guji.search.query import MAX_QUERY_CHARS, QueryError
from guji.search.service import SORTS, Searcher

from .dependencies import CatalogueDep
from .reading import locator
from .templating import render

logger = logging.getLogger("guji.search")
CONTENT_SEARCH_PARAMETERS = {"q", "motivation", "date", "user"}


SORT_LABELS = {"relevance": "相关度", "title": "题名", "date": "年代", "call_number": "索书号"}

def _filters(request: Request) -> dict[str, str]:
    """Facet filters: ?f=sibu:经部 (repeatable)."""
    chosen = {}
    for item in request.query_params.getlist("f"):
        name, _, value = item.partition(":")
        if name not in FACETS or not value:
            raise QueryError(f"bad filter f={item!r}: write f=FACET:VALUE with FACET one of {', '.join(FACETS)}",
                             parameter="f")
        chosen[name] = value
    return chosen


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name}={raw!r} is not a whole number", parameter=name) from None


router = APIRouter()


async def searcher_of(request: Request) -> Searcher:
    return request.app.state.searcher


SearcherDep = Annotated[Searcher, Depends(searcher_of)]


def install(app: FastAPI) -> None:
    """The search routes in the app, with the one searcher its requests share (``app.state.searcher``)."""
    catalogue = app.state.catalogue
    app.state.searcher = Searcher(catalogue.home, settings=catalogue.settings)
    app.include_router(router)


def run(request: Request, searcher: Searcher):
    query = request.query_params.get("q", "")
    return searcher.search(query, filters=_filters(request), sort=request.query_params.get("sort", "relevance"),
                           page=_int(request, "page", 1), per_page=_int(request, "per_page", 10))


@router.get("/api/search", tags=["search"])
def api_search(request: Request, searcher: SearcherDep):
    """Search records and full text: `q` (query language in docs/search.md), `f=FACET:VALUE`, `sort`,
    `page`, `per_page`. Answers book ids, page refs, highlighted snippets and facet counts."""
    return run(request, searcher).to_json()


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request, searcher: SearcherDep):
    query = request.query_params.get("q", "")
    context = {"q": query, "results": None, "error": None, "sorts": SORTS, "sort_labels": SORT_LABELS,
               "labels": BY_NAME}
    if not query.strip():
        return render(request, "search.html", context)
    if len(query) > MAX_QUERY_CHARS:  # said in Chinese here; the search boxes take at most 1,000 characters
        context.update(too_long=len(query), limit=MAX_QUERY_CHARS)
        return render(request, "search.html", context, status_code=400)
    try:
        results = run(request, searcher)
    except QueryError as error:
        context["error"] = str(error)
        return render(request, "search.html", context, status_code=400)
    except SearchError as error:
        # the reader is told to come back; the details (index path, `guji reindex`) are for the log
        logger.error("search is unavailable: %s", error)
        context["unavailable"] = True
        return render(request, "search.html", context, status_code=503)

    def link(**changes) -> str:
        params = {"q": query, "sort": results.sort, "page": results.page}
        params.update({k: v for k, v in changes.items() if k != "filters"})
        filters = changes.get("filters", results.filters)
        pairs = [(k, v) for k, v in params.items() if v not in (None, "")]
        pairs += [("f", f"{name}:{value}") for name, value in filters.items()]
        return "/search?" + urlencode(pairs)

    context.update(results=results, link=link)
    return render(request, "search.html", context)


def content_search(request: Request, catalogue: Catalogue, searcher: Searcher, book_id: str, build):
    withdrawn = withdrawn_status(catalogue, book_id)
    if withdrawn is None:
        raise NotFound(f"没有标识为「{book_id[:80]}」的书", english=f"no book {book_id[:80]!r}")
    if withdrawn:
        raise Gone(f"{book_id} 的记录已撤销，无可检索", english=f"{book_id} was withdrawn: nothing to search")
    ignored = sorted(set(request.query_params) - CONTENT_SEARCH_PARAMETERS)
    answer = build(searcher, book_id, request.query_params.get("q", ""), ignored,
                   locate=locator(catalogue, book_id))
    return JSONResponse(answer, headers={"Access-Control-Allow-Origin": "*"})


@router.get("/iiif/search/{book_id}/v2", tags=["iiif"])
def iiif_search_v2(request: Request, book_id: str, catalogue: CatalogueDep, searcher: SearcherDep):
    """IIIF Content Search 2.0 inside one book (AnnotationPage)."""
    return content_search(request, catalogue, searcher, book_id, search_v2)


@router.get("/iiif/search/{book_id}", tags=["iiif"])
def iiif_search_v1(request: Request, book_id: str, catalogue: CatalogueDep, searcher: SearcherDep):
    """IIIF Content Search 1.0 inside one book (sc:AnnotationList with resources and hits, for Mirador)."""
    return content_search(request, catalogue, searcher, book_id, search_v1)

