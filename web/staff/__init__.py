"""The staff workspace under /staff: sign-in, cataloguing, withdrawing cards, batch revision, printed
outputs (guide cards, 登记目录, dossiers), ingest and OCR jobs, a book's text and its 校对, audit log,
accounts. Every route requires a signed-in user (see :mod:`web.staff.guard`)."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from sqlalchemy import select

from repository import Catalogue
from repository.catalogue_db import EventRow

from .. import i18n, public_address
from . import (
    audit,
    batch,
    cards,
    ingest_pages,
    outputs_pages,
    signin,
    text_pages,
    upload_pages,
    users_pages,
    withdrawal_pages,
)
from .accounts import Accounts
from .common import staff_render
from .guard import Guard, staff_route_class

DEFAULT_UPLOAD_LIMIT_MB = 10
EDIT_KINDS = ("create", "edit", "import", "ingest")


def upload_limit() -> int:
    """Largest request body accepted (`GUJI_UPLOAD_LIMIT_MB`, default 10 MB)."""
    return int(float(os.environ.get("GUJI_UPLOAD_LIMIT_MB") or DEFAULT_UPLOAD_LIMIT_MB) * 1024 * 1024)


def router(catalogue: Catalogue) -> APIRouter:
    accounts = Accounts(catalogue)
    guard = Guard(catalogue.home, accounts)
    limit = upload_limit()
    route_class = staff_route_class(guard, limit)
    api = APIRouter(prefix="/staff", include_in_schema=False, route_class=route_class)

    @api.get("/")
    def dashboard(request: Request):
        with catalogue.sessions() as session:
            recent = list(session.scalars(select(EventRow).where(EventRow.kind.in_(EDIT_KINDS))
                                          .order_by(EventRow.id.desc()).limit(15)))
        return staff_render(request, "staff/dashboard.html", {
            "recent": [(row, audit.detail_items(row, i18n.language_of(request))) for row in recent],
            "total": catalogue.count(), "elsewhere": public_address.seen_elsewhere(catalogue.home),
        })

    api.include_router(signin.router(accounts, guard, route_class))
    api.include_router(cards.router(catalogue, route_class))
    api.include_router(withdrawal_pages.router(catalogue, route_class))
    api.include_router(outputs_pages.router(catalogue, route_class))
    api.include_router(batch.router(catalogue, route_class, limit))
    api.include_router(audit.router(catalogue, route_class))
    api.include_router(ingest_pages.router(catalogue, route_class))
    api.include_router(upload_pages.router(catalogue, route_class, limit))
    api.include_router(text_pages.router(catalogue, route_class))
    api.include_router(users_pages.router(accounts, route_class))
    return api
