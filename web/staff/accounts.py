"""Staff accounts: names, roles, argon2-hashed passwords, sign-in with throttling.

Roles:

* ``cataloguer`` (编目员) — edits cards, runs batch revisions, reads history and the audit log;
* ``admin`` (管理员) — everything a cataloguer does, plus managing staff accounts and ingest jobs.

Passwords are stored only as argon2id hashes (argon2-cffi). Every sign-in attempt is recorded
(events ``login``, ``login-failed``, ``login-throttled``); repeated failures are slowed down by
:mod:`web.staff.throttle`. A new password or a disabled account ends the user's open sessions
(:mod:`web.staff.sessions`) in the same transaction.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from guji.repository import Catalogue, Conflict, InvalidInput, NotFound, Refused
from guji.repository.catalogue_db import UserRow, add_event, now_iso, revoke_sessions

from .throttle import LoginThrottle

ROLES = {"cataloguer": "编目员", "admin": "管理员"}
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[^\s/\\<>\"'&]{1,64}$")

_hasher = PasswordHasher()


@cache
def _unknown_user_hash() -> str:
    """Checked against when the name is unknown, so an unknown name costs as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


class AccountError(InvalidInput):
    """A request about accounts that cannot be done as asked; the message says why."""


class UserExists(Conflict, AccountError):
    """An account of that name exists already."""


class NoSuchUser(NotFound, AccountError):
    """No account of that name."""


class LoginRefused(Refused):
    """Sign-in refused; `message` is Chinese interface text with `{placeholders}` from `values`."""

    status = 401

    def __init__(self, message: str, throttled: bool = False, **values):
        super().__init__(message.format(**values))
        self.message, self.values, self.throttled = message, values, throttled
        if throttled:
            self.status = 429


@dataclass(frozen=True)
class StaffUser:
    name: str
    role: str
    created: str
    disabled: bool
    password_hash: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def role_label(self) -> str:
        return ROLES.get(self.role, self.role)

    @classmethod
    def of(cls, row: UserRow) -> StaffUser:
        return cls(row.name, row.role, row.created, bool(row.disabled), row.password_hash)


def generate_password() -> str:
    """A password to hand to someone once: 16 URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码太短：至少 {MIN_PASSWORD_LENGTH} 个字符")


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise AccountError(f"用户名「{name}」不可用：1–64 个字符，不含空格、引号、斜杠和 < > &")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        choices = " 或 ".join(f"{key}（{label}）" for key, label in ROLES.items())
        raise AccountError(f"没有角色「{role}」：请用 {choices}")
    return role


class Accounts:
    """Staff accounts in the catalogue DB's `users` table; changes are recorded as events."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.throttle = LoginThrottle(catalogue)

    def get(self, name: str) -> StaffUser | None:
        with self.catalogue.sessions() as session:
            row = session.get(UserRow, name)
            return StaffUser.of(row) if row else None

    def list(self) -> list[StaffUser]:
        with self.catalogue.sessions() as session:
            return [StaffUser.of(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def add(self, name: str, role: str, password: str, *, actor: str) -> StaffUser:
        name, role = check_name(name), check_role(role)
        check_password(password)
        with self.catalogue.sessions.begin() as session:
            if session.get(UserRow, name) is not None:
                raise UserExists(f"用户「{name}」已存在；要改密码，用 guji users passwd {name}")
            row = UserRow(name=name, role=role, password_hash=_hasher.hash(password), created=now_iso(), disabled=0)
            session.add(row)
            add_event(session, "user-add", actor, None, user=name, role=role)
            return StaffUser.of(row)

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        check_password(password)
        with self.catalogue.sessions.begin() as session:
            row = self._row(session, name)
            row.password_hash = _hasher.hash(password)
            ended = revoke_sessions(session, name)
            add_event(session, "user-password", actor, None, user=name, sessions_ended=ended)

    def set_disabled(self, name: str, disabled: bool, *, actor: str) -> None:
        with self.catalogue.sessions.begin() as session:
            row = self._row(session, name)
            row.disabled = int(disabled)
            ended = revoke_sessions(session, name) if disabled else 0
            add_event(session, "user-disable" if disabled else "user-enable", actor, None, user=name,
                      sessions_ended=ended or None)

    def set_role(self, name: str, role: str, *, actor: str) -> None:
        check_role(role)
        with self.catalogue.sessions.begin() as session:
            row = self._row(session, name)
            row.role = role
            add_event(session, "user-role", actor, None, user=name, role=role)

    @staticmethod
    def _row(session, name: str) -> UserRow:
        row = session.get(UserRow, name)
        if row is None:
            raise NoSuchUser(f"没有用户「{name}」")
        return row

    # ---- signing in ------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, address: str) -> StaffUser:
        """The user, if `password` is theirs and they may sign in; otherwise LoginRefused."""
        name = name.strip()[:64]
        address = address[:64]
        wait = self.throttle.wait(name, address)
        if wait is not None:
            if wait.first:
                self.catalogue.record_event("login-throttled", name or "(empty)", None, address=address,
                                            seconds=wait.seconds)
            if wait.seconds < 120:
                raise LoginRefused("登录失败次数过多，请 {seconds} 秒后再试", throttled=True, seconds=wait.seconds)
            raise LoginRefused("登录失败次数过多，请 {minutes} 分钟后再试", throttled=True,
                               minutes=-(-wait.seconds // 60), seconds=wait.seconds)
        user = self.get(name)
        try:
            _hasher.verify(user.password_hash if user else _unknown_user_hash(), password)
            ok = user is not None and not user.disabled
        except (VerificationError, InvalidHashError):
            ok = False
        with self.catalogue.sessions.begin() as session:
            if ok:
                self.throttle.succeeded(session, name, address)
            else:
                self.throttle.failed(session, name, address, account=user is not None)
            add_event(session, "login" if ok else "login-failed", name or "(empty)", None, address=address)
            if ok and _hasher.check_needs_rehash(user.password_hash):
                self._row(session, name).password_hash = _hasher.hash(password)
        if not ok:
            raise LoginRefused("用户名或密码不正确，或账号已停用")
        return self.get(name)
