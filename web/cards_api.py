"""The cards as JSON: the list, one card (any version) and its versions (/api/cards…; a card's MODS,
DC or MARC export is web/oai.py's)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from guji.repository import Gone
from guji.repository.withdrawal import WITHDRAWN, is_withdrawn

from .dependencies import CatalogueDep
from .public_pages import withdrawn_message

router = APIRouter(prefix="/api/cards", tags=["cards"])


@router.get("")
def api_cards(catalogue: CatalogueDep, limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)):
    rows = [row for row in catalogue.list_rows() if row.status != WITHDRAWN]
    return {
        "total": len(rows),
        "cards": [
            {"id": r.id, "call_number": r.call_number, "title": r.title_with_juan,
             "responsibility": r.responsibility, "edition": r.edition_statement,
             "version": r.head_version, "updated": r.updated}
            for r in rows[offset: offset + limit]
        ],
    }


@router.get("/{card_id}")
def api_card(card_id: str, catalogue: CatalogueDep, version: int | None = Query(None, ge=1)):
    """The card (default: the current version). A withdrawn one answers 410; its older versions stay readable."""
    stored = catalogue.get(card_id, version)
    if is_withdrawn(stored.card):
        raise Gone(withdrawn_message(catalogue, stored))
    return {"id": stored.id, "version": stored.version, "card": stored.card}


@router.get("/{card_id}/history")
def api_history(card_id: str, catalogue: CatalogueDep):
    stored = catalogue.get(card_id)
    return [vars(v) | {"version": v.number} for v in stored.versions]
