"""`guji users add/list/disable/enable/passwd` (assembled in web/cli.py). Importing it does not import
the staff workspace (web/staff/__init__.py loads its routers on first use)."""

from __future__ import annotations

import getpass
from contextlib import contextmanager

import typer
from rich.table import Table

from guji.repository.cli import console, editor_of, one_of, open_catalogue
from guji.repository.errors import InvalidInput, Refused


def register(app: typer.Typer) -> None:
    users_app = typer.Typer(help="Staff accounts for the web workspace (/staff).", no_args_is_help=True)
    app.add_typer(users_app, name="users")

    @contextmanager
    def _accounts(ctx: typer.Context):
        """The staff accounts of the data home."""
        from .accounts import Accounts

        with open_catalogue(ctx) as catalogue:
            yield Accounts(catalogue)

    def _password(given: str | None, generate: bool) -> tuple[str, bool]:
        if given and generate:
            raise InvalidInput("--password 和 --generate-password 只能用一个")
        if generate:
            from .accounts import generate_password

            return generate_password(), True
        if given:
            return given, False
        first = getpass.getpass("密码：")
        if getpass.getpass("再输一次：") != first:
            raise Refused("两次输入的密码不同，什么都没有改动")
        return first, False

    @users_app.command("add")
    def add(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="User name (also recorded as the editor of their saves)."),
        role: str = typer.Option(..., "--role", **one_of("cataloguer", "admin"),
                                 help="cataloguer (edits cards) or admin (also users and ingest)."),
        password: str = typer.Option(None, "--password", help="The password (asked for when not given)."),
        generate: bool = typer.Option(False, "--generate-password", help="Make up a password and print it once."),
        if_missing: bool = typer.Option(False, "--if-missing", help="Do nothing (exit 0) if the user exists."),
    ) -> None:
        """Add a staff account."""
        with _accounts(ctx) as accounts:
            if if_missing and accounts.get(name.strip()) is not None:
                console.print(f"用户 {name} 已存在（要设新密码：guji users passwd {name} --generate-password）",
                              highlight=False)
                return
            secret, generated = _password(password, generate)
            user = accounts.add(name, role, secret, actor=editor_of(ctx, None))
        from .accounts import ROLES

        console.print(f"已添加{ROLES.get(user.role, user.role)} {user.name}", highlight=False)
        if generated:
            console.print(f"{user.name} 的密码：{secret}（只显示这一次；在 /staff/login 登录）", highlight=False)

    @users_app.command("list")
    def list_users(ctx: typer.Context) -> None:
        """List staff accounts."""
        from guji.repository.local_time import format_time

        from .accounts import ROLES

        table = Table("用户名", "角色", "建立时间", "状态")
        with _accounts(ctx) as accounts:
            for user in accounts.list():
                table.add_row(user.name, ROLES.get(user.role, user.role), format_time(user.created),
                              "已停用" if user.disabled else "在用")
        console.print(table)

    def _set_disabled(ctx: typer.Context, name: str, disabled: bool) -> None:
        with _accounts(ctx) as accounts:
            accounts.set_disabled(name, disabled, actor=editor_of(ctx, None))
        console.print(f"{'已停用' if disabled else '已启用'} {name}", highlight=False)

    @users_app.command("disable")
    def disable(ctx: typer.Context, name: str = typer.Argument(..., help="User name.")) -> None:
        """Disable an account: it can no longer sign in, and its open sessions end."""
        _set_disabled(ctx, name, True)

    @users_app.command("enable")
    def enable(ctx: typer.Context, name: str = typer.Argument(..., help="User name.")) -> None:
        """Enable a disabled account again."""
        _set_disabled(ctx, name, False)

    @users_app.command("passwd")
    def passwd(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="User name."),
        password: str = typer.Option(None, "--password", help="The new password (asked for when not given)."),
        generate: bool = typer.Option(False, "--generate-password", help="Make up a password and print it once."),
    ) -> None:
        """Set a new password (ends the user's open sessions)."""
        with _accounts(ctx) as accounts:
            secret, generated = _password(password, generate)
            accounts.set_password(name, secret, actor=editor_of(ctx, None))
        console.print(f"已为 {name} 设置新密码", highlight=False)
        if generated:
            console.print(f"{name} 的密码：{secret}（只显示这一次）", highlight=False)
