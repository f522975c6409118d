"""The web front: FastAPI app with the public collection, the staff workspace and a JSON API."""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    # Imported on first use, so that `guji` commands registered from web/ start quickly.
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
