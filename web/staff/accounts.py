"""Staff accounts: names, roles, argon2-hashed passwords, sign-in with throttling.

Roles:

* ``cataloguer`` (编目员) — edits cards, runs batch revisions, reads history and the audit log;
* ``admin`` (管理员) — everything a cataloguer does, plus managing staff accounts and ingest jobs.

Passwords are stored only as argon2id hashes (argon2-cffi). Every sign-in attempt is recorded;
after too many failures for one name or from one address within a window, sign-in is refused
for a while without even checking the password.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select

from repository import Catalogue
from repository.catalogue_db import LoginAttemptRow, UserRow, add_event, now_iso

ROLES = {"cataloguer": "编目员", "admin": "管理员"}
MIN_PASSWORD_LENGTH = 10
NAME_PATTERN = re.compile(r"^[^\s/\\<>\"'&]{1,64}$")

# throttling: this many failures within the window refuse further attempts until it passes
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20
THROTTLE_WINDOW = timedelta(minutes=15)

_hasher = PasswordHasher()


@cache
def _unknown_user_hash() -> str:
    """Checked against when the name is unknown, so an unknown name costs as long as a wrong password."""
    return _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A request about accounts that cannot be done as asked; the message says why."""


class LoginRefused(Exception):
    """Sign-in refused; `message` is Chinese interface text with `{placeholders}` from `values`."""

    def __init__(self, message: str, throttled: bool = False, **values):
        super().__init__(message.format(**values))
        self.message, self.values, self.throttled = message, values, throttled


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


def _user(row: UserRow) -> StaffUser:
    return StaffUser(row.name, row.role, row.created, bool(row.disabled), row.password_hash)


def generate_password() -> str:
    """A password to hand to someone once: 16 URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password too short: use at least {MIN_PASSWORD_LENGTH} characters "
                           f"(密码至少 {MIN_PASSWORD_LENGTH} 个字符)")


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise AccountError(f"user name {name!r} is not allowed: 1–64 characters, no spaces, quotes, "
                           "slashes or < > & (用户名 1–64 个字符，不含空格、引号、斜杠和 < > &)")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use {' or '.join(ROLES)}")
    return role


class Accounts:
    """Staff accounts in the catalogue DB's `users` table; changes are recorded as events."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def get(self, name: str) -> StaffUser | None:
        with self.catalogue.sessions() as session:
            row = session.get(UserRow, name)
            return _user(row) if row else None

    def list(self) -> list[StaffUser]:
        with self.catalogue.sessions() as session:
            return [_user(row) for row in session.scalars(select(UserRow).order_by(UserRow.name))]

    def add(self, name: str, role: str, password: str, *, actor: str) -> StaffUser:
        name, role = check_name(name), check_role(role)
        check_password(password)
        with self.catalogue.sessions.begin() as session:
            if session.get(UserRow, name) is not None:
                raise AccountError(f"user {name!r} already exists (用户已存在); change the password with "
                                   f"`guji users passwd {name}`")
            row = UserRow(name=name, role=role, password_hash=_hasher.hash(password), created=now_iso(), disabled=0)
            session.add(row)
            add_event(session, "user-add", actor, None, user=name, role=role)
            return _user(row)

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        check_password(password)
        with self.catalogue.sessions.begin() as session:
            row = self._row(session, name)
            row.password_hash = _hasher.hash(password)
            add_event(session, "user-password", actor, None, user=name)

    def set_disabled(self, name: str, disabled: bool, *, actor: str) -> None:
        with self.catalogue.sessions.begin() as session:
            row = self._row(session, name)
            row.disabled = int(disabled)
            add_event(session, "user-disable" if disabled else "user-enable", actor, None, user=name)

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
            raise AccountError(f"no user {name!r} (没有这个用户)")
        return row

    # ---- signing in ------------------------------------------------------------------------

    def _recent_failures(self, session, since: str, **where) -> int:
        query = select(func.count(LoginAttemptRow.id)).where(
            LoginAttemptRow.time >= since, LoginAttemptRow.succeeded == 0)
        for key, value in where.items():
            query = query.where(getattr(LoginAttemptRow, key) == value)
        return session.scalar(query) or 0

    def authenticate(self, name: str, password: str, address: str) -> StaffUser:
        """The user, if `password` is theirs and they may sign in; otherwise LoginRefused."""
        name = name.strip()[:64]
        since = (datetime.now(UTC) - THROTTLE_WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
        minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
        with self.catalogue.sessions() as session:
            throttled = (self._recent_failures(session, since, name=name) >= FAILURES_PER_NAME
                         or self._recent_failures(session, since, address=address) >= FAILURES_PER_ADDRESS)
            row = session.get(UserRow, name)
            user = _user(row) if row else None
        if throttled:
            self.catalogue.record_event("login-throttled", name or "(empty)", None, address=address)
            raise LoginRefused("登录失败次数过多，请 {minutes} 分钟后再试", throttled=True, minutes=minutes)
        try:
            _hasher.verify(user.password_hash if user else _unknown_user_hash(), password)
            ok = user is not None and not user.disabled
        except (VerificationError, InvalidHashError):
            ok = False
        with self.catalogue.sessions.begin() as session:
            session.add(LoginAttemptRow(time=now_iso(), name=name, address=address, succeeded=int(ok)))
            add_event(session, "login" if ok else "login-failed", name or "(empty)", None, address=address)
            if ok and _hasher.check_needs_rehash(user.password_hash):
                self._row(session, name).password_hash = _hasher.hash(password)
        if not ok:
            raise LoginRefused("用户名或密码不正确，或账号已停用")
        return self.get(name)
