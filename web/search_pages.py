"""Search on the web: the public ``/search`` page, ``/api/search`` (JSON) and IIIF Content
Search inside one book (``/iiif/search/{id}``: API 1.0 for Mirador; ``/iiif/search/{id}/v2``).

Web processes only read the index; the indexer (started by `guji serve`) writes it. A bad
query or parameter is answered with HTTP 400 and a message saying what to change.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from iiif.content_search import search_v1, search_v2
from repository import Catalogue
from repository.withdrawal import withdrawn_status
from search.backend import SearchError
from search.fields import BY_NAME, FACETS
from search.query import MAX_QUERY_CHARS, QueryError
from search.service import SORTS, Searcher

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
            raise QueryError(f"bad filter f={item!r}: write f=FACET:VALUE with FACET one of {', '.join(FACETS)}")
        chosen[name] = value
    return chosen


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise QueryError(f"{name}={raw!r} is not a whole number") from None


def unavailable(error: SearchError) -> JSONResponse:
    """503 for programs; the details (the index's folder, `guji reindex`) go to the log, not to the caller."""
    logger.error("search is unavailable: %s", error)
    return JSONResponse({"error": "search is unavailable now (检索暂不可用): please try again later"}, status_code=503,
                        headers={"Access-Control-Allow-Origin": "*", "Retry-After": "60"})


def router(catalogue: Catalogue) -> APIRouter:
    routes = APIRouter()
    searcher = Searcher(catalogue.home)

    def run(request: Request):
        query = request.query_params.get("q", "")
        return searcher.search(query, filters=_filters(request), sort=request.query_params.get("sort", "relevance"),
                               page=_int(request, "page", 1), per_page=_int(request, "per_page", 10))

    @routes.get("/api/search", tags=["search"])
    def api_search(request: Request):
        """Search records and full text: `q` (query language in docs/search.md), `f=FACET:VALUE`, `sort`,
        `page`, `per_page`. Answers book ids, page refs, highlighted snippets and facet counts."""
        try:
            return run(request).to_json()
        except QueryError as error:
            return JSONResponse({"error": str(error), "parameter": "q"}, status_code=400)
        except SearchError as error:
            return unavailable(error)

    @routes.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request):
        query = request.query_params.get("q", "")
        context = {"q": query, "results": None, "error": None, "sorts": SORTS, "sort_labels": SORT_LABELS,
                   "labels": BY_NAME}
        if not query.strip():
            return render(request, "search.html", context)
        if len(query) > MAX_QUERY_CHARS:  # said in Chinese here; the search boxes take at most 1,000 characters
            context.update(too_long=len(query), limit=MAX_QUERY_CHARS)
            return render(request, "search.html", context, status_code=400)
        try:
            results = run(request)
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

    def content_search(request: Request, book_id: str, build):
        withdrawn = withdrawn_status(catalogue, book_id)
        if withdrawn is None:
            return JSONResponse({"error": f"no book {book_id!r}"}, status_code=404)
        if withdrawn:
            return JSONResponse({"error": f"{book_id} was withdrawn (记录已撤销): nothing to search"}, status_code=410,
                                headers={"Access-Control-Allow-Origin": "*"})
        ignored = sorted(set(request.query_params) - CONTENT_SEARCH_PARAMETERS)
        try:
            answer = build(searcher, book_id, request.query_params.get("q", ""), ignored,
                           locate=locator(catalogue, book_id))
        except QueryError as error:
            return JSONResponse({"error": str(error), "parameter": "q"}, status_code=400)
        except SearchError as error:
            return unavailable(error)
        return JSONResponse(answer, headers={"Access-Control-Allow-Origin": "*"})

    @routes.get("/iiif/search/{book_id}/v2", tags=["iiif"])
    def iiif_search_v2(request: Request, book_id: str):
        """IIIF Content Search 2.0 inside one book (AnnotationPage)."""
        return content_search(request, book_id, search_v2)

    @routes.get("/iiif/search/{book_id}", tags=["iiif"])
    def iiif_search_v1(request: Request, book_id: str):
        """IIIF Content Search 1.0 inside one book (sc:AnnotationList with resources and hits, for Mirador)."""
        return content_search(request, book_id, search_v1)

    return routes
