"""OAI-PMH at /oai and per-book exports at /api/cards/{id}/export?format=mods|dc|marcxml|marc.

The protocol itself is in :mod:`repository.outputs.oai` (testable without a server); this router only hands
the request's arguments (query string, or the form body of a POST) to it.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from guji.repository import Gone, InvalidInput
from guji.repository.outputs.card_formats import MEDIA_TYPES, SUFFIXES, record_bytes
from guji.repository.outputs.oai import OAIRepository
from guji.repository.outputs.selection import CurrentCard

from .dependencies import CatalogueDep

router = APIRouter()


async def oai_repository(catalogue: CatalogueDep) -> OAIRepository:
    """The OAI-PMH repository of the app's catalogue (cheap: it holds the catalogue and its settings)."""
    return OAIRepository(catalogue)


RepositoryDep = Annotated[OAIRepository, Depends(oai_repository)]


@router.get("/oai", tags=["oai-pmh"], summary="OAI-PMH 2.0 (oai_dc, mods)")
def oai_get(request: Request, repository: RepositoryDep) -> Response:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    return Response(repository.respond(pairs), media_type="text/xml; charset=utf-8")


@router.post("/oai", tags=["oai-pmh"], include_in_schema=False)
async def oai_post(request: Request, repository: RepositoryDep) -> Response:
    body = (await request.body()).decode("utf-8", errors="replace")
    pairs = parse_qsl(body, keep_blank_values=True)
    answer = await run_in_threadpool(repository.respond, pairs)  # DB queries: not in the event loop
    return Response(answer, media_type="text/xml; charset=utf-8")


@router.get("/api/cards/{card_id}/export", tags=["cards"], summary="One card as MODS, DC, MARCXML or MARC")
def card_export(card_id: str, catalogue: CatalogueDep,
                format: str = Query("mods", description="mods, dc, marcxml or marc"),
                version: int | None = Query(None, ge=1, description="an older version (default: current)")):
    if format not in MEDIA_TYPES:
        raise InvalidInput(f"unknown format {format!r}: use {', '.join(MEDIA_TYPES)}")
    record = CurrentCard.from_stored(catalogue.get(card_id, version))
    if record.withdrawn:
        raise Gone(f"card {card_id!r} was withdrawn (v{record.version})")
    filename = f"{card_id}{SUFFIXES[format]}"
    return Response(record_bytes(record, format), media_type=MEDIA_TYPES[format],
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})

