"""The staff workspace's router and its dashboard (web/staff/__init__.py describes the workspace)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from .. import i18n, public_address
from ..dependencies import CatalogueDep
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
from .guard import Guard, StaffRoute

EDIT_KINDS = ("create", "edit", "import", "ingest")

router = APIRouter(prefix="/staff", include_in_schema=False, route_class=StaffRoute)


@router.get("/")
def dashboard(request: Request, catalogue: CatalogueDep):
    recent = catalogue.events(limit=15, kinds=EDIT_KINDS)
    return staff_render(request, "staff/dashboard.html", {
        "recent": [(row, audit.detail_items(row, i18n.language_of(request))) for row in recent],
        "total": catalogue.count(), "elsewhere": public_address.seen_elsewhere(catalogue.home),
    })


for part in (signin, cards, withdrawal_pages, outputs_pages, batch, audit, ingest_pages, upload_pages, text_pages,
             users_pages):
    router.include_router(part.router)


def install(app: FastAPI) -> None:
    """The workspace in the app: its guard (sessions, CSRF) in ``app.state.guard``, its routes under /staff."""
    catalogue = app.state.catalogue
    upload_pages.limits(app.state.settings.upload_limit)  # a malformed GUJI_UPLOAD_… setting stops the server at start
    app.state.guard = Guard(catalogue.home, Accounts(catalogue))
    app.include_router(router)
