"""FastAPI application: the public collection, the staff workspace and a JSON API over the catalogue."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Query, Request

from repository import Catalogue, Gone, Home
from repository.settings import Settings, current
from repository.withdrawal import WITHDRAWN, is_withdrawn

from . import (
    errors,
    iiif_routes,
    oai,
    proxies,
    public_address,
    public_api,
    public_pages,
    search_pages,
    staff,
    text_routes,
)
from .public_pages import withdrawn_message
from .static_assets import asset_response, static_file
from .templating import templates  # noqa: F401  (other page modules render with the same environment)

HERE = Path(__file__).parent


def create_app(home: Home | str | None = None, settings: Settings | None = None) -> FastAPI:
    """The app for one data home (default: $GUJI_HOME or ./guji-data) and its settings (default: as the
    process's entry point read them, else from the environment); every router gets them."""
    settings = settings or current()
    catalogue = Catalogue.open(home if isinstance(home, Home) else Home.resolve(home, settings), settings=settings)
    app = FastAPI(title="Guji", description="古籍与地方文献数字化典藏", version="0.1.0")
    app.state.catalogue = catalogue
    app.state.settings = settings
    errors.install(app)
    proxies.install(app, settings)
    public_address.install(app, catalogue.home, settings)  # after proxies: it sees the proxy's address

    @app.api_route("/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    def static(request: Request, name: str):
        path = static_file(HERE / "static", name)
        if path is None:
            raise HTTPException(404, f"no static file {name!r}")
        return asset_response(request, path)

    @app.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
    def favicon(request: Request):  # browsers ask for it on every site, whatever the pages link
        return asset_response(request, HERE / "static" / "favicon.ico")

    app.include_router(public_pages.router(catalogue))
    app.include_router(public_api.router(catalogue))
    app.include_router(staff.router(catalogue))
    app.include_router(search_pages.router(catalogue))
    app.include_router(oai.router(catalogue))

    @app.get("/api/cards", tags=["cards"])
    def api_cards(limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)):
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

    @app.get("/api/cards/{card_id}", tags=["cards"])
    def api_card(card_id: str, version: int | None = Query(None, ge=1)):
        """The card (default: the current version). A withdrawn one answers 410; its older versions stay readable."""
        stored = catalogue.get(card_id, version)
        if is_withdrawn(stored.card):
            raise Gone(withdrawn_message(catalogue, stored))
        return {"id": stored.id, "version": stored.version, "card": stored.card}

    @app.get("/api/cards/{card_id}/history", tags=["cards"])
    def api_history(card_id: str):
        stored = catalogue.get(card_id)
        return [vars(v) | {"version": v.number} for v in stored.versions]

    app.include_router(iiif_routes.router(catalogue))
    app.include_router(text_routes.router(catalogue))

    @app.get("/healthz", include_in_schema=False)
    def health():
        return {"ok": True, "cards": catalogue.count()}

    return app
