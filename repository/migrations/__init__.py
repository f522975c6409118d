"""The catalogue DB's schema, kept by Alembic revisions (``versions/``) for SQLite and PostgreSQL alike.

:func:`upgrade` runs on every ``Catalogue.init`` and ``Catalogue.open``: a database already at the
newest revision costs one query; otherwise the missing revisions run, one process at a time
(a file lock in the data home with SQLite, an advisory lock in the database with PostgreSQL,
so two web nodes starting at once do not both migrate). On PostgreSQL the revisions and the
``alembic_version`` row are one transaction: a migration killed half-way leaves nothing behind.

A database made before migrations (no ``alembic_version`` table) is adopted by the baseline
revision, which creates only the tables that are missing. Applying revisions to an existing
database is recorded in the audit log (``db-upgrade``); a revision that sets
``rebuilds_projection = True`` also records ``projection-outdated``, and ``Catalogue.open`` then
recomputes the projection from OCFL.

Adding a table or column (developers): change the model in :mod:`repository.catalogue_db`, then
``python -m repository.migrations revision "what changed"`` writes the next revision from the
difference; read it, adjust, commit it with the model. See docs/scale-out.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
LEGACY = "（迁移机制之前）"  # the `from` of a database made before Alembic


def config(connection: Connection | None = None) -> Config:
    settings = Config()
    settings.set_main_option("script_location", str(HERE))
    settings.attributes["connection"] = connection
    return settings


@cache
def scripts() -> ScriptDirectory:
    return ScriptDirectory(str(HERE))


def head() -> str:
    return scripts().get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None when it has no ``alembic_version`` table (new or older Guji)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine, lock: Callable[[str], AbstractContextManager], record: Callable | None = None) -> bool:
    """Bring the database to the newest revision; returns whether the projection must be recomputed.

    `lock(name)` gives a lock held by one process of the site at a time; `record(connection, kind,
    **detail)` writes an audit event inside the migration's transaction."""
    with engine.connect() as connection:
        if current_revision(connection) == head():
            return False
    logging.getLogger("alembic").setLevel(logging.WARNING)  # no INFO lines on every command
    with lock("migrate"), engine.begin() as connection:
        before = current_revision(connection)  # another process may have migrated while we waited
        if before == head():
            return False
        existing = bool(inspect(connection).get_table_names())
        command.upgrade(config(connection), "head")
        applied = [scripts().get_revision(revision) for revision in _between(before)]
        rebuild = any(getattr(script.module, "rebuilds_projection", False) for script in applied)
        if existing and record is not None:
            record(connection, "db-upgrade", **{"from": before or LEGACY, "to": head()})
            if rebuild:
                record(connection, "projection-outdated", revisions=[script.revision for script in applied])
        return rebuild and existing


def _between(before: str | None) -> list[str]:
    """The revisions after `before` up to the head, oldest first."""
    revisions = [script.revision for script in scripts().iterate_revisions(head(), before)]
    return list(reversed(revisions))
