"""FastAPI application: the public collection, the staff workspace and a JSON API over the catalogue."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request

from guji.repository import Catalogue, Home
from guji.repository.settings import Settings, current
from guji.search.indexer import index_behind

from . import (
    cards_api,
    errors,
    iiif_routes,
    oai,
    proxies,
    public_address,
    public_api,
    public_pages,
    search_pages,
    text_routes,
)
from .dependencies import CatalogueDep
from .staff import workspace
from .static_assets import asset_response, static_file
from .templating import templates  # noqa: F401  (other page modules render with the same environment)

HERE = Path(__file__).parent

# The site's own few addresses; every other route is in a module-level router of its own module.
site = APIRouter(include_in_schema=False)


@site.api_route("/static/{name}", methods=["GET", "HEAD"])
def static(request: Request, name: str):
    path = static_file(HERE / "static", name)
    if path is None:
        raise HTTPException(404, f"no static file {name!r}")
    return asset_response(request, path)


@site.api_route("/favicon.ico", methods=["GET", "HEAD"])
def favicon(request: Request):  # browsers ask for it on every site, whatever the pages link
    return asset_response(request, HERE / "static" / "favicon.ico")


@site.get("/healthz")
def health(catalogue: CatalogueDep):
    """The node answers and reaches the database; `index_behind`: catalogue events its own search
    index has yet to apply (0: its search is up to date — docs/deployment.md)."""
    return {"ok": True, "cards": catalogue.count(), "index_behind": index_behind(catalogue)}


def create_app(home: Home | str | None = None, settings: Settings | None = None) -> FastAPI:
    """The app for one data home (default: $GUJI_HOME or ./guji-data) and its settings (default: as the
    process's entry point read them, else from the environment). Both are kept in ``app.state``, where
    the routes' dependencies find them (web/dependencies.py)."""
    settings = settings or current()
    catalogue = Catalogue.open(home if isinstance(home, Home) else Home.resolve(home, settings), settings=settings)
    app = FastAPI(title="Guji", description="古籍与地方文献数字化典藏", version="0.1.0")
    app.state.catalogue = catalogue
    app.state.settings = settings
    errors.install(app)
    proxies.install(app, settings)
    public_address.install(app, catalogue.home, settings)  # after proxies: it sees the proxy's address
    app.include_router(site)
    app.include_router(public_pages.router)
    app.include_router(public_api.router)
    workspace.install(app)
    search_pages.install(app)
    app.include_router(oai.router)
    app.include_router(cards_api.router)
    iiif_routes.install(app)
    app.include_router(text_routes.router)
    return app
