"""The staff workspace's routers and its dashboard (web/staff/__init__.py describes the workspace)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from repository import Catalogue

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

EDIT_KINDS = ("create", "edit", "import", "ingest")


def router(catalogue: Catalogue) -> APIRouter:
    accounts = Accounts(catalogue)
    guard = Guard(catalogue.home, accounts)
    limit = catalogue.settings.upload_limit  # the largest request body accepted (GUJI_UPLOAD_LIMIT_MB)
    route_class = staff_route_class(guard, limit)
    api = APIRouter(prefix="/staff", include_in_schema=False, route_class=route_class)

    @api.get("/")
    def dashboard(request: Request):
        recent = catalogue.events(limit=15, kinds=EDIT_KINDS)
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
