"""Staff sessions, kept in the catalogue DB (table ``staff_sessions``) so that every web process —
`guji serve` runs several, a large site several nodes — sees the same ones, and a session can
be ended for good: on sign-out, when the user's password changes or the account is disabled
(:class:`web.staff.accounts.Accounts` ends them in the same transaction, so `guji users passwd`
and `guji users disable` do too), and after :data:`IDLE_LIMIT` without use.

The browser's cookie carries a random token of 256 bits (signed by :mod:`web.staff.guard`);
the database keeps only its SHA-256, so a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, update

from guji.repository import Catalogue
from guji.repository.catalogue_db import StaffSessionRow, UserRow, now_iso

from .accounts import StaffUser

IDLE_LIMIT = timedelta(hours=12)  # a session ends after this long without use
TOUCH_AFTER = timedelta(minutes=5)  # last use is written (and the cookie renewed) at most this often
KEEP_ENDED = timedelta(days=30)  # ended sessions stay this long (the audit of who was signed in where)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class OpenSession:
    user: StaffUser
    renewed: bool  # its expiry moved on with this request: renew the cookie too


class StaffSessions:
    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def start(self, user: StaffUser, address: str) -> str:
        """A new session for `user`; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.catalogue.sessions.begin() as session:
            session.add(StaffSessionRow(token_hash=_hash(token), user=user.name, address=address[:64],
                                        created=_stamp(now), last_seen=_stamp(now),
                                        expires=_stamp(now + IDLE_LIMIT), revoked=None))
            forgotten = _stamp(now - KEEP_ENDED)
            session.execute(delete(StaffSessionRow).where(or_(StaffSessionRow.expires < forgotten,
                                                              StaffSessionRow.revoked < forgotten)))
        return token

    def find(self, token: str) -> OpenSession | None:
        """The open session of `token` and its user, if the session has not ended and the user may
        still sign in; its expiry moves on (at most every :data:`TOUCH_AFTER`)."""
        now = datetime.now(UTC)
        key = _hash(token)
        with self.catalogue.sessions() as session:
            row = session.get(StaffSessionRow, key)
            if row is None or row.revoked is not None or row.expires <= _stamp(now):
                return None
            user_row = session.get(UserRow, row.user)
            if user_row is None or user_row.disabled:
                return None
            user, last_seen = StaffUser.of(user_row), row.last_seen
        if last_seen > _stamp(now - TOUCH_AFTER):
            return OpenSession(user, renewed=False)
        with self.catalogue.sessions.begin() as session:
            session.execute(update(StaffSessionRow)
                            .where(StaffSessionRow.token_hash == key, StaffSessionRow.revoked.is_(None))
                            .values(last_seen=_stamp(now), expires=_stamp(now + IDLE_LIMIT)))
        return OpenSession(user, renewed=True)

    def end(self, token: str) -> None:
        with self.catalogue.sessions.begin() as session:
            session.execute(update(StaffSessionRow)
                            .where(StaffSessionRow.token_hash == _hash(token), StaffSessionRow.revoked.is_(None))
                            .values(revoked=now_iso()))
