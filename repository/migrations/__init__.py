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
``python -m guji.repository.migrations revision "what changed"`` writes the next revision from the
difference; read it, adjust, commit it with the model. See docs/scale-out.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ..catalogue_db import add_event

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
LEGACY = "（迁移机制之前）"  # the `from` of a database made before Alembic
# Alembic's INFO lines would be printed by every command that migrates (a dependency sets up
# logging at INFO for the whole process)
logging.getLogger("alembic").setLevel(logging.WARNING)
REVISION_FILE = re.compile(r"^(\d{4})_\w+\.py$")  # versions/0002_uploads.py: revision "0002", after "0001"


def config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    settings = Config()
    settings.set_main_option("script_location", str(HERE))
    settings.attributes["connection"] = connection
    return settings


@cache
def scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(HERE))


@cache
def head() -> str:
    """The newest revision, from the file names alone: Alembic itself (a tenth of a second to import)
    is loaded only when there is something to migrate. tests/test_migrations.py checks it agrees."""
    numbers = [match.group(1) for path in (HERE / "versions").iterdir() if (match := REVISION_FILE.match(path.name))]
    return max(numbers)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at; None when it has no ``alembic_version`` table (new or older Guji)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def upgrade(engine: Engine, lock: Callable[[str], AbstractContextManager]) -> list[str]:
    """Bring the database to the newest revision; returns the revisions applied (oldest first).

    `lock(name)` gives a lock that one process of the site holds at a time."""
    with engine.connect() as connection:
        if current_revision(connection) == head():
            return []
    from alembic import command
    with lock("migrate"), engine.begin() as connection:
        before = current_revision(connection)  # another process may have migrated while we waited
        if before == head():
            return []
        existing = bool(inspect(connection).get_table_names())
        command.upgrade(config(connection), "head")
        applied = [scripts().get_revision(revision) for revision in _between(before)]
        if existing:  # not for a new database: `init` records its own event
            session = Session(bind=connection)
            add_event(session, "db-upgrade", "system", **{"from": before or LEGACY, "to": head()})
            if any(getattr(script.module, "rebuilds_projection", False) for script in applied):
                add_event(session, "projection-outdated", "system", revisions=[script.revision for script in applied])
            session.flush()
        return [script.revision for script in applied]


def _between(before: str | None) -> list[str]:
    """The revisions after `before` up to the head, oldest first."""
    revisions = [script.revision for script in scripts().iterate_revisions(head(), before)]
    return list(reversed(revisions))
