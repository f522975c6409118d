"""The web front: FastAPI app (public pages, JSON API; staff workspace in a later issue)."""

from .app import create_app

__all__ = ["create_app"]
