"""Staff accounts (admin): list, add, disable/enable, change role, set a new password."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from .accounts import ROLES, AccountError, Accounts, generate_password
from .common import posted_form, staff_render
from .guard import require_admin


def router(accounts: Accounts, route_class) -> APIRouter:
    api = APIRouter(route_class=route_class, dependencies=[Depends(require_admin)])

    def users_page(request: Request, *, error: str | None = None, notice: str | None = None,
                   new_password: tuple[str, str] | None = None, status_code: int = 200):
        return staff_render(request, "staff/users.html", {
            "users": accounts.list(), "roles": ROLES, "error": error, "notice": notice,
            "new_password": new_password,
        }, status_code=status_code)

    @api.get("/users")
    def users(request: Request):
        return users_page(request)

    @api.post("/users")
    def add(request: Request, form: FormData = Depends(posted_form)):
        name, role = str(form.get("name") or "").strip(), str(form.get("role") or "")
        password = str(form.get("password") or "")
        generated = not password
        password = password or generate_password()
        try:
            accounts.add(name, role, password, actor=request.state.staff_user.name)
        except AccountError as error:
            return users_page(request, error=str(error), status_code=400)
        return users_page(request, notice=f"已添加用户 {name}", new_password=(name, password) if generated else None)

    @api.post("/users/{name}")
    def change(request: Request, name: str, form: FormData = Depends(posted_form)):
        action = str(form.get("action") or "")
        me = request.state.staff_user
        try:
            if action in ("disable", "enable"):
                if name == me.name:
                    raise AccountError("不能停用自己的账号（以免无人能管理）")
                accounts.set_disabled(name, action == "disable", actor=me.name)
            elif action == "role":
                if name == me.name:
                    raise AccountError("不能更改自己的角色")
                accounts.set_role(name, str(form.get("role") or ""), actor=me.name)
            elif action == "password":
                password = generate_password()
                accounts.set_password(name, password, actor=me.name)
                return users_page(request, notice=f"已为 {name} 设置新密码", new_password=(name, password))
            else:
                raise AccountError(f"不支持的操作「{action}」")
        except AccountError as error:
            return users_page(request, error=str(error), status_code=400)
        return RedirectResponse("/staff/users", status_code=303)

    return api
