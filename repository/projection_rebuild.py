"""`guji rebuild-db`: recompute the DB's projection of OCFL without ever leaving the catalogue empty.

1. Every object Guji wrote is projected into a **staging database** (a SQLite file in
   ``<home>/rebuild-db/``). Folders of the storage root that are not Guji's objects — an OCFL
   object of another system, a folder without an object — and objects whose card cannot be read
   are skipped and reported. The live database is not touched meanwhile: the site keeps
   answering from it, and a rebuild killed at this stage leaves it exactly as it was.
2. One transaction on the live database then replaces the rows of the projection tables (cards,
   identifiers, versions) with the staged ones — recreating those tables first when a data home
   of an older Guji lacks columns — re-projects the cards saved while step 1 ran, and records the
   ``rebuild-db`` event. Users, events, jobs and every other table are never touched; a kill
   during the transaction rolls it back.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from .catalogue_db import PROJECTION_TABLES, Base, EventRow, add_event, missing_projection_columns
from .ocfl_store import ForeignEntry

if TYPE_CHECKING:
    from .catalogue import Catalogue

STAGING_FOLDER = "rebuild-db"
INSERT_BATCH = 1000


@dataclass
class RebuildReport:
    cards: int = 0
    skipped: list[ForeignEntry] = field(default_factory=list)  # not Guji's objects, or unreadable cards


def rebuild_projection(catalogue: Catalogue, progress: Callable[[int, int], None] | None = None,
                       actor: str = "system") -> RebuildReport:
    """Stage the projection of every object, then swap it in; the caller holds the rebuild lock."""
    with catalogue.sessions() as session:
        since = session.scalar(select(func.max(EventRow.id))) or 0
    folder = catalogue.home.root / STAGING_FOLDER
    shutil.rmtree(folder, ignore_errors=True)  # a rebuild killed earlier (we hold the lock: none runs now)
    folder.mkdir(parents=True)
    staging = create_engine(f"sqlite:///{folder / 'projection.sqlite'}")
    event.listen(staging, "connect", _disposable)
    try:
        Base.metadata.create_all(staging, tables=list(PROJECTION_TABLES))
        report = _stage(catalogue, staging, progress)
        _swap(catalogue, staging, since, report, actor)
        return report
    finally:
        staging.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _disposable(connection, _record) -> None:  # pragma: no cover - trivial
    """The staging file is thrown away after the swap (or by the next rebuild): no need to sync it."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.close()


def _stage(catalogue: Catalogue, staging, progress) -> RebuildReport:
    card_ids, foreign = catalogue.store.survey()
    report = RebuildReport(skipped=list(foreign))
    sessions = sessionmaker(staging)
    for done, card_id in enumerate(card_ids, start=1):
        with sessions() as session:
            try:
                catalogue._project(session, card_id)
                session.commit()
                report.cards += 1
            except Exception as error:  # a damaged card must not stop the rest: reported, skipped
                session.rollback()
                report.skipped.append(ForeignEntry(
                    card_id, f"卡片无法读取（{type(error).__name__}）；请用 guji fixity 检查，并从备份恢复", "damaged"))
        if progress:
            progress(done, len(card_ids))
    return report


def _swap(catalogue: Catalogue, staging, since: int, report: RebuildReport, actor: str) -> None:
    upgrade = bool(missing_projection_columns(catalogue.engine))
    with catalogue.engine.begin() as connection:
        # pysqlite begins the transaction at the first data change, so the DELETEs come first:
        # the DROP/CREATE of an upgrade then belongs to the same transaction.
        for table in reversed(PROJECTION_TABLES):
            connection.execute(table.delete())
        if upgrade:
            Base.metadata.drop_all(connection, tables=list(reversed(PROJECTION_TABLES)))
            Base.metadata.create_all(connection, tables=list(PROJECTION_TABLES))
        with staging.connect() as source:
            for table in PROJECTION_TABLES:
                for rows in source.execute(select(table)).mappings().partitions(INSERT_BATCH):
                    connection.execute(table.insert(), [dict(row) for row in rows])
        session = Session(bind=connection)
        saved_meanwhile = session.scalars(select(EventRow.object_id).where(
            EventRow.id > since, EventRow.object_id.is_not(None)).distinct()).all()
        ours = set(catalogue.store.object_ids()) if saved_meanwhile else set()
        for card_id in saved_meanwhile:
            if card_id in ours:
                try:
                    catalogue._project(session, card_id)
                except Exception as error:  # its staged row, if any, stays
                    report.skipped.append(ForeignEntry(card_id, f"卡片无法读取（{type(error).__name__}）", "damaged"))
        add_event(session, "rebuild-db", actor, cards=report.cards, skipped=[str(entry) for entry in report.skipped])
        session.flush()
