"""Exclusive locks shared by every process that writes to one site: one per object (a save, an
ingest's commit), and one per site-wide task (``migrate``, ``rebuild-db``).

* :class:`FileLocks` — one machine (SQLite): ``flock`` on ``<home>/locks/<name>.lock``; the
  kernel releases it when the process ends, however it ends.
* :class:`AdvisoryLocks` — several machines (PostgreSQL): a session advisory lock in the
  catalogue database, keyed by a 64-bit hash of the name; the server releases it when the
  holder's connection ends (a killed process at once; a host that vanished once the server's TCP
  keepalives notice, see docs/scale-out.md). A local ``flock`` would not do: hosts sharing a
  network file system do not reliably see each other's ``flock``.

Two names may share a hash (one in 2⁶⁴): they then only wait for each other.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine


def _plain(name: str) -> str:
    """Object ids are checked by the store (ASCII letters, digits, '.', '_', '-'); never a path here."""
    if not name or "/" in name or "\0" in name or name.startswith("."):
        raise ValueError(f"not a lock name: {name!r}")
    return name


class FileLocks:
    def __init__(self, folder: Path):
        self.folder = folder

    def object(self, object_id: str) -> contextlib.AbstractContextManager[None]:
        return self._hold(f"{_plain(object_id)}.lock")

    def task(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._hold(f"_{_plain(name)}.lock")  # object ids start with a letter or digit: no clash

    @contextlib.contextmanager
    def attempt(self, kind: str, object_id: str) -> Iterator[bool]:
        """The `kind` lock of an object (``ingest``: one ingest or tiles rebuild at a time) if it is free:
        yields whether it was taken, without waiting."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / f"{_plain(object_id)}.{_plain(kind)}.lock", "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _hold(self, filename: str) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / filename, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


class AdvisoryLocks:
    def __init__(self, engine: Engine):
        self.engine = engine

    def object(self, object_id: str) -> contextlib.AbstractContextManager[None]:
        return self._hold(f"guji:object:{object_id}")

    def task(self, name: str) -> contextlib.AbstractContextManager[None]:
        return self._hold(f"guji:task:{name}")

    @contextlib.contextmanager
    def attempt(self, kind: str, object_id: str) -> Iterator[bool]:
        """As :meth:`FileLocks.attempt`, for every host of the site (``pg_try_advisory_lock``)."""
        key = f"guji:{kind}:{object_id}"
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            taken = connection.scalar(text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))"), {"key": key})
            try:
                yield bool(taken)
            finally:
                if taken:
                    try:
                        connection.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"),
                                           {"key": key})
                    except Exception:
                        connection.invalidate()

    @contextlib.contextmanager
    def _hold(self, key: str) -> Iterator[None]:
        # autocommit: the lock belongs to the session, and no transaction stays open while it is held
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT pg_advisory_lock(hashtextextended(:key, 0))"), {"key": key})
            try:
                yield
            finally:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": key})
                except Exception:
                    connection.invalidate()  # closing the connection releases the lock on the server


def locks_for(engine: Engine, folder: Path) -> FileLocks | AdvisoryLocks:
    """Advisory locks when the catalogue DB is PostgreSQL, lock files in `folder` otherwise."""
    return AdvisoryLocks(engine) if engine.dialect.name == "postgresql" else FileLocks(folder)
