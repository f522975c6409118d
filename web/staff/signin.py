"""Signing in and out of the staff workspace."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from ..proxies import client_address
from ..public_pages import safe_next
from .accounts import LoginRefused
from .common import posted_form, staff_render
from .guard import AccountsDep, Guard, GuardDep, StaffRoute

router = APIRouter(route_class=StaffRoute)


def login_page(request: Request, guard: Guard, next_path: str, *, error: str | None = None, name: str = "",
               values: dict | None = None, status_code: int = 200):
    nonce = guard.anonymous_nonce(request)
    fresh = nonce is None
    if fresh:
        nonce = secrets.token_urlsafe(16)
    response = staff_render(request, "staff/login.html", {
        "next": next_path, "error": error, "name": name, "values": values or {},
        "csrf_token": guard.csrf_token(nonce=nonce),
    }, status_code=status_code)
    if fresh:
        guard.write(response, {"nonce": nonce})
    return response


@router.get("/login")
def login_form(request: Request, guard: GuardDep, next: str | None = None):
    if request.state.staff_user is not None:
        return RedirectResponse(safe_next(next, "/staff/"), status_code=303)
    return login_page(request, guard, safe_next(next, "/staff/"))


@router.post("/login")
def login(request: Request, guard: GuardDep, accounts: AccountsDep, form: FormData = Depends(posted_form)):
    """Sign in (a plain `def`: hashing the password runs in the thread pool, not in the event loop)."""
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""), "/staff/")
    if not name or not password:
        return login_page(request, guard, next_path, error="请输入用户名和密码", name=name, status_code=400)
    try:
        user = accounts.authenticate(name, password, client_address(request))
    except LoginRefused as refused:
        response = login_page(request, guard, next_path, error=refused.message, values=refused.values, name=name,
                              status_code=429 if refused.throttled else 401)
        if refused.throttled:
            response.headers["Retry-After"] = str(refused.values["seconds"])
        return response
    response = RedirectResponse(next_path, status_code=303)
    guard.sign_in(request, response, user)
    return response


@router.post("/logout")
def logout(request: Request, guard: GuardDep, accounts: AccountsDep):
    """Sign out: the session ends in the database, so the cookie opens nothing any more."""
    response = RedirectResponse("/staff/login", status_code=303)
    guard.sign_out(request, response)
    if request.state.staff_user is not None:
        accounts.catalogue.record_event("logout", request.state.staff_user.name)
    return response

