"""What every staff page shares: rendering with the signed-in user and the CSRF token."""

from __future__ import annotations

from fastapi import Request
from starlette.datastructures import FormData

from ..templating import render
from .guard import CSRF_FIELD, csrf_for


def staff_render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    context = {"user": request.state.staff_user, "csrf_token": csrf_for(request), "csrf_field": CSRF_FIELD,
               **(context or {})}
    response = render(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # staff pages hold unpublished edits
    return response


def refused_page(request: Request, status: int, message: str, **values):
    """A form that cannot be used as sent (no valid base version, no reason …): the refusal, with
    `message` an interface text whose `{placeholders}` are `values` (so the English switch translates it)."""
    return staff_render(request, "staff/refused.html", {"status": status, "message": message, "values": values},
                        status_code=status)


async def posted_form(request: Request) -> FormData:
    """The form of a POST, as a dependency (`form: FormData = Depends(posted_form)`) of a route written
    as a plain `def`: FastAPI runs such routes in its thread pool, so what they do — saving a version,
    hashing a password, making a PDF — never holds up the event loop that answers every other request
    of the process (tiles, search). The route class has read the form already for its CSRF check."""
    return await request.form()

