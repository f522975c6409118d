"""`guji users add/list/disable/enable/passwd` (assembled in web/cli.py). Importing it does not import
the staff workspace (web/staff/__init__.py loads its routers on first use)."""

from __future__ import annotations

import getpass
from contextlib import contextmanager

import typer
from rich.table import Table

from guji.repository.cli import console, editor_of, one_of, open_catalogue
from guji.repository.errors import InvalidInput, Refused

commands = typer.Typer()

users_app = typer.Typer(help="网站工作台（/staff）的馆员账号。", no_args_is_help=True)
commands.add_typer(users_app, name="users")


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
    name: str = typer.Argument(..., help="用户名（也记作其保存的修改人）。"),
    role: str = typer.Option(..., "--role", **one_of("cataloguer", "admin"),
                             help="cataloguer（编目员，修改卡片）或 admin（管理员，另管账号和入藏）。"),
    password: str = typer.Option(None, "--password", help="密码（不给则提示输入）。"),
    generate: bool = typer.Option(False, "--generate-password", help="生成一个密码并显示一次。"),
    if_missing: bool = typer.Option(False, "--if-missing", help="用户已存在时什么都不做（退出码 0）。"),
) -> None:
    """添加馆员账号。"""
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
    """列出馆员账号。"""
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
def disable(ctx: typer.Context, name: str = typer.Argument(..., help="用户名。")) -> None:
    """停用账号。

    停用后不能再登录，已登录的会话随即结束。"""
    _set_disabled(ctx, name, True)


@users_app.command("enable")
def enable(ctx: typer.Context, name: str = typer.Argument(..., help="用户名。")) -> None:
    """重新启用已停用的账号。"""
    _set_disabled(ctx, name, False)


@users_app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="用户名。"),
    password: str = typer.Option(None, "--password", help="新密码（不给则提示输入）。"),
    generate: bool = typer.Option(False, "--generate-password", help="生成一个密码并显示一次。"),
) -> None:
    """设置新密码（该用户已登录的会话随即结束）。"""
    with _accounts(ctx) as accounts:
        secret, generated = _password(password, generate)
        accounts.set_password(name, secret, actor=editor_of(ctx, None))
    console.print(f"已为 {name} 设置新密码", highlight=False)
    if generated:
        console.print(f"{name} 的密码：{secret}（只显示这一次）", highlight=False)
