"""What every staff page shares: rendering with the signed-in user and the CSRF token."""

from __future__ import annotations

from fastapi import Request

from ..templating import render
from .guard import CSRF_FIELD, csrf_for


def staff_render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    context = {"user": request.state.staff_user, "csrf_token": csrf_for(request), "csrf_field": CSRF_FIELD,
               **(context or {})}
    response = render(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # staff pages hold unpublished edits
    return response

