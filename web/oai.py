"""OAI-PMH at /oai and per-book exports at /api/cards/{id}/export?format=mods|dc|marcxml|marc.

The protocol itself is in :mod:`repository.outputs.oai` (testable without a server); this router only hands
the request's arguments (query string, or the form body of a POST) to it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from repository import Catalogue, Gone, InvalidInput
from repository.outputs.card_formats import MEDIA_TYPES, SUFFIXES, record_bytes
from repository.outputs.oai import OAIRepository
from repository.outputs.selection import CurrentCard


def router(catalogue: Catalogue) -> APIRouter:
    routes = APIRouter()
    repository = OAIRepository(catalogue)

    @routes.get("/oai", tags=["oai-pmh"], summary="OAI-PMH 2.0 (oai_dc, mods)")
    def oai_get(request: Request) -> Response:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
        return Response(repository.respond(pairs), media_type="text/xml; charset=utf-8")

    @routes.post("/oai", tags=["oai-pmh"], include_in_schema=False)
    async def oai_post(request: Request) -> Response:
        body = (await request.body()).decode("utf-8", errors="replace")
        pairs = parse_qsl(body, keep_blank_values=True)
        answer = await run_in_threadpool(repository.respond, pairs)  # DB queries: not in the event loop
        return Response(answer, media_type="text/xml; charset=utf-8")

    @routes.get("/api/cards/{card_id}/export", tags=["cards"], summary="One card as MODS, DC, MARCXML or MARC")
    def card_export(card_id: str, format: str = Query("mods", description="mods, dc, marcxml or marc"),
                    version: int | None = Query(None, ge=1, description="an older version (default: current)")):
        if format not in MEDIA_TYPES:
            raise InvalidInput(f"unknown format {format!r}: use {', '.join(MEDIA_TYPES)}")
        record = CurrentCard.from_stored(catalogue.get(card_id, version))
        if record.withdrawn:
            raise Gone(f"card {card_id!r} was withdrawn (v{record.version})")
        filename = f"{card_id}{SUFFIXES[format]}"
        return Response(record_bytes(record, format), media_type=MEDIA_TYPES[format],
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})

    return routes
