"""The staff workspace under /staff: sign-in, cataloguing, withdrawing cards, batch revision, printed
outputs (guide cards, 登记目录, dossiers), ingest and OCR jobs, a book's text and its 校对, audit log,
accounts. Every route requires a signed-in user (see :mod:`web.staff.guard`). The routers are in
:mod:`web.staff.workspace`, loaded on first use, so that `guji users` (web/staff/commands.py) does not
import the web app."""

from __future__ import annotations


def router(catalogue):
    """The /staff router of the app (web/staff/workspace.py)."""
    from .workspace import router as workspace_router

    return workspace_router(catalogue)
