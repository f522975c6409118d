"""Signing in and out of the staff workspace."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from ..proxies import client_address
from ..public_pages import safe_next
from .accounts import Accounts, LoginRefused
from .common import staff_render
from .guard import Guard


def router(accounts: Accounts, guard: Guard, route_class) -> APIRouter:
    api = APIRouter(route_class=route_class)

    def login_page(request: Request, next_path: str, *, error: str | None = None, name: str = "",
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

    @api.get("/login")
    def login_form(request: Request, next: str | None = None):
        if request.state.staff_user is not None:
            return RedirectResponse(safe_next(next, "/staff/"), status_code=303)
        return login_page(request, safe_next(next, "/staff/"))

    @api.post("/login")
    async def login(request: Request):
        form = await request.form()
        name = str(form.get("name") or "").strip()
        password = str(form.get("password") or "")
        next_path = safe_next(str(form.get("next") or ""), "/staff/")
        if not name or not password:
            return login_page(request, next_path, error="请输入用户名和密码", name=name, status_code=400)
        try:
            user = accounts.authenticate(name, password, client_address(request))
        except LoginRefused as refused:
            response = login_page(request, next_path, error=refused.message, values=refused.values, name=name,
                                  status_code=429 if refused.throttled else 401)
            if refused.throttled:
                response.headers["Retry-After"] = str(refused.values["seconds"])
            return response
        response = RedirectResponse(next_path, status_code=303)
        guard.sign_in(request, response, user)
        return response

    @api.post("/logout")
    def logout(request: Request):
        """Sign out: the session ends in the database, so the cookie opens nothing any more."""
        response = RedirectResponse("/staff/login", status_code=303)
        guard.sign_out(request, response)
        if request.state.staff_user is not None:
            accounts.catalogue.record_event("logout", request.state.staff_user.name)
        return response

    return api
