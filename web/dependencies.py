"""What a route gets from the app it runs in, as FastAPI dependencies: the catalogue and the settings.

The routers are module-level ``APIRouter`` objects (web/app.py includes them); :func:`web.app.create_app`
keeps the one catalogue of its data home and the settings it was started with in ``app.state``, and a
route asks for them by annotating a parameter::

    @router.get("/books/{card_id}")
    def record(request: Request, card_id: str, catalogue: CatalogueDep): ...

The dependencies are ``async``: FastAPI calls them in the event loop, without the hop to the thread
pool that a plain ``def`` dependency costs on every request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from guji.repository import Catalogue
from guji.repository.settings import Settings


async def catalogue_of(request: Request) -> Catalogue:
    """The catalogue of the app's data home."""
    return request.app.state.catalogue


async def settings_of(request: Request) -> Settings:
    """The settings the app was started with (GUJI_* variables, read once)."""
    return request.app.state.settings


CatalogueDep = Annotated[Catalogue, Depends(catalogue_of)]
SettingsDep = Annotated[Settings, Depends(settings_of)]
