"""Slowing down password guessing at sign-in, without letting anyone lock a colleague out.

Failed sign-ins are counted per key in the catalogue DB (table ``login_throttle``, shared by every
web process and node):

* **a name from an address** — after :data:`FREE_PER_PAIR` failures, each further attempt waits
  30 s, then 1, 2, 4 … minutes, at most 15 minutes; someone guessing ``admin``'s password from
  one place is slowed down there, and the real ``admin`` signing in from elsewhere is not;
* **an address, whatever the names** — after :data:`FREE_PER_ADDRESS` failures, the same growing
  waits (one place trying many names);
* **a name from anywhere** — after :data:`FREE_PER_NAME` failures of an existing account, the same
  waits, but only for addresses that account has never signed in from: guessing from many places
  slows down new places, not the user's own.

A correct password clears the count of that name from that address. Counts are forgotten
:data:`FORGET_AFTER` after their last failure. While a key waits, attempts are refused (HTTP 429,
``Retry-After``) without the password being checked; the first refusal of each wait is recorded
as a ``login-throttled`` event. The address is the client's, as :mod:`web.proxies` finds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guji.repository import Catalogue
from guji.repository.catalogue_db import LoginThrottleRow, StaffSessionRow

FREE_PER_PAIR = 5
FREE_PER_ADDRESS = 20
FREE_PER_NAME = 50
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=24)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def wait_after(failures: int, free: int) -> timedelta:
    """How long a key waits after its `failures`-th failure: nothing for the first `free`, then doubling."""
    if failures < free:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** min(failures - free, 20), LONGEST_WAIT)


def _pair(name: str, address: str) -> str:
    return f"pair:{name}\n{address}"


def _keys(name: str, address: str, account: bool) -> dict[str, int]:
    """Each key a failure counts against, with its free failures."""
    keys = {_pair(name, address): FREE_PER_PAIR, f"address:{address}": FREE_PER_ADDRESS}
    if account:
        keys[f"name:{name}"] = FREE_PER_NAME
    return keys


@dataclass(frozen=True)
class Wait:
    seconds: int
    first: bool  # the first refusal of this wait (recorded in the audit log)


class LoginThrottle:
    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue

    def wait(self, name: str, address: str) -> Wait | None:
        """How long `name` must wait before trying again from `address` (None: go ahead)."""
        now = datetime.now(UTC)
        keys = _keys(name, address, account=True)
        with self.catalogue.sessions() as session:
            rows = list(session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.key.in_(keys),
                                                                       LoginThrottleRow.blocked_until > _stamp(now))))
            if any(row.key.startswith("name:") for row in rows) and self._known(session, name, address):
                rows = [row for row in rows if not row.key.startswith("name:")]
        if not rows:
            return None
        longest = max(rows, key=lambda row: row.blocked_until)
        seconds = max(1, math.ceil((_moment(longest.blocked_until) - now).total_seconds()))
        with self.catalogue.sessions.begin() as session:
            first = session.execute(update(LoginThrottleRow).where(LoginThrottleRow.key == longest.key,
                                                                    LoginThrottleRow.reported == 0)
                                    .values(reported=1)).rowcount
        return Wait(seconds, bool(first))

    @staticmethod
    def _known(session: Session, name: str, address: str) -> bool:
        """Has `name` signed in from `address` (within the sessions kept)?"""
        return session.scalar(select(StaffSessionRow.token_hash).where(
            StaffSessionRow.user == name, StaffSessionRow.address == address).limit(1)) is not None

    @staticmethod
    def failed(session: Session, name: str, address: str, account: bool) -> None:
        """Count a failure (in the caller's transaction); keys past their free failures start a wait."""
        now = datetime.now(UTC)
        forget = _stamp(now - FORGET_AFTER)
        for key, free in _keys(name, address, account).items():
            counted = update(LoginThrottleRow).where(LoginThrottleRow.key == key)
            result = session.execute(counted.values(
                failures=_restart_or_add(forget), last_failure=_stamp(now)))
            if not result.rowcount:
                try:
                    with session.begin_nested():
                        session.add(LoginThrottleRow(key=key, failures=1, last_failure=_stamp(now),
                                                     blocked_until="", reported=0))
                except IntegrityError:  # another process counted the first failure at the same moment
                    session.execute(counted.values(failures=LoginThrottleRow.failures + 1,
                                                   last_failure=_stamp(now)))
            failures = session.scalar(select(LoginThrottleRow.failures).where(LoginThrottleRow.key == key))
            wait = wait_after(failures or 0, free)
            if wait:
                session.execute(counted.values(blocked_until=_stamp(now + wait), reported=0))
        session.execute(LoginThrottleRow.__table__.delete().where(LoginThrottleRow.last_failure < forget))

    @staticmethod
    def succeeded(session: Session, name: str, address: str) -> None:
        """The right password: that name from that address starts afresh."""
        session.execute(LoginThrottleRow.__table__.delete().where(LoginThrottleRow.key == _pair(name, address)))


def _restart_or_add(forget: str):
    """failures + 1, or 1 when the last failure is older than FORGET_AFTER."""
    return case((LoginThrottleRow.last_failure < forget, 1), else_=LoginThrottleRow.failures + 1)
