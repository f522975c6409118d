"""FastAPI application: catalogue pages and a JSON API over the catalogue DB."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from repository import CardNotFound, Catalogue, Home
from repository.card import field_label, flatten, title_with_juan
from repository.grading import suggest_grade

from . import iiif_routes

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def create_app(home: Home | str | None = None) -> FastAPI:
    """The app for one data home (default: $GUJI_HOME or ./guji-data)."""
    catalogue = Catalogue.open(home if isinstance(home, Home) else Home.resolve(home))
    app = FastAPI(title="Guji", description="古籍与地方文献数字化典藏", version="0.1.0")
    app.state.catalogue = catalogue
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def _stored(card_id: str):
        try:
            return catalogue.get(card_id)
        except CardNotFound:
            raise HTTPException(404, f"no card {card_id!r}") from None

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home_page(request: Request):
        rows = catalogue.list_rows()
        return templates.TemplateResponse(request, "home.html", {"rows": rows, "count": len(rows)})

    @app.get("/books/{card_id}", response_class=HTMLResponse, include_in_schema=False)
    def record_page(request: Request, card_id: str):
        stored = _stored(card_id)
        fields = [
            (field_label(path), value)
            for path, value in flatten(stored.card).items()
            if value not in (None, "", [], {}) and not path.startswith(("edition.layout.parsed", "id"))
        ]
        return templates.TemplateResponse(request, "record.html", {
            "stored": stored, "card": stored.card, "title": title_with_juan(stored.card),
            "fields": fields, "suggestion": suggest_grade(stored.card),
        })

    @app.get("/api/cards", tags=["cards"])
    def api_cards(limit: int = 100, offset: int = 0):
        rows = catalogue.list_rows()
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
    def api_card(card_id: str, version: int | None = None):
        try:
            stored = catalogue.get(card_id, version)
        except CardNotFound as error:
            raise HTTPException(404, str(error)) from None
        return {"id": stored.id, "version": stored.version, "card": stored.card}

    @app.get("/api/cards/{card_id}/history", tags=["cards"])
    def api_history(card_id: str):
        stored = _stored(card_id)
        return [vars(v) | {"version": v.number} for v in stored.versions]

    app.include_router(iiif_routes.router(catalogue))

    @app.get("/healthz", include_in_schema=False)
    def health():
        return {"ok": True, "cards": catalogue.count()}

    return app
