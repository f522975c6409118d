"""The catalogue DB's schema revisions (repository/migrations) on SQLite and PostgreSQL: a new
database matches the models, a database of an older Guji is brought up in place without losing a
row, processes opening a new database at once migrate it once, and a revision that changes what
the projection holds has it recomputed from OCFL."""

from __future__ import annotations

import json
import multiprocessing

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session
from test_catalogue import dump_projection, minimal_card
from web_helpers import add_user

from guji.repository import Catalogue, ObjectStore, migrations
from guji.repository.catalogue_db import Base, add_event
from guji.repository.withdrawal import set_withdrawn

pytestmark = pytest.mark.both_databases


def test_a_new_database_is_at_the_newest_revision_and_matches_the_models(catalogue):
    assert migrations.head() == migrations.scripts().get_current_head()  # one line of revisions, numbered
    with catalogue.engine.connect() as connection:
        assert migrations.current_revision(connection) == migrations.head()
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def _as_an_older_guji_left_it(catalogue: Catalogue) -> None:
    """The tables of a data home made before migrations: no alembic_version, no sessions or throttle
    tables, cards without `status`, and the sign-in log of that time."""
    with catalogue.engine.begin() as connection:
        for statement in ("DROP TABLE alembic_version", "DROP TABLE staff_sessions", "DROP TABLE login_throttle",
                          "DROP TABLE job_outputs",
                          "DROP INDEX ix_cards_status", "ALTER TABLE cards DROP COLUMN status",
                          "CREATE TABLE login_attempts (id INTEGER PRIMARY KEY, name TEXT)",
                          "INSERT INTO login_attempts VALUES (1, '张三')"):
            connection.execute(text(statement))


def test_a_database_of_an_older_guji_is_brought_up_in_place(catalogue, home, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    set_withdrawn(catalogue, sample_cards[1]["id"], True, editor="张三", reason="重复著录")
    add_user(catalogue, "馆长", "admin")
    expected = dump_projection(catalogue)
    events_before = [(event.id, event.kind) for event in catalogue.events(limit=1000)]
    _as_an_older_guji_left_it(catalogue)
    catalogue.close()

    reopened = Catalogue.open(home)
    try:
        with reopened.engine.connect() as connection:
            assert migrations.current_revision(connection) == migrations.head()
            tables = set(inspect(connection).get_table_names())
            assert {"staff_sessions", "login_throttle", "login_attempts"} <= tables  # made; the old one kept
            assert connection.execute(text("SELECT name FROM login_attempts")).scalar() == "张三"
            assert connection.execute(text("SELECT name FROM users")).scalar() == "馆长"
        assert dump_projection(reopened) == expected  # status recomputed from OCFL, the withdrawn card too
        events = [(event.id, event.kind) for event in reopened.events(limit=1000)]
        assert events[len(events) - len(events_before):] == events_before  # the audit log is whole
        upgrade, rebuilt = [event for event in reopened.events(limit=2)][::-1]
        assert upgrade.kind == "db-upgrade" and json.loads(upgrade.detail_json) == {"from": migrations.LEGACY,
                                                                                    "to": migrations.head()}
        assert rebuilt.kind == "rebuild-db" and rebuilt.actor == "upgrade"
    finally:
        reopened.close()
    again = Catalogue.open(home)  # at the newest revision: nothing more happens
    try:
        assert again.events(limit=1)[0].kind == "rebuild-db"
    finally:
        again.close()


def _open(home_root: str, barrier, results) -> None:
    barrier.wait(30)
    try:
        Catalogue.open(home_root).close()
        results.put("ok")
    except Exception as error:  # reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_new_database_at_once_migrate_it_once(home):
    ObjectStore(home).initialize()  # a storage root, and a database without a single table
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(3), context.Queue()
    processes = [context.Process(target=_open, args=(str(home.root), barrier, results)) for _ in range(3)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(30)
    assert outcomes == ["ok"] * 3
    catalogue = Catalogue.open(home)
    try:
        with catalogue.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    finally:
        catalogue.close()


def test_a_revision_that_changes_the_projection_has_it_recomputed_on_the_next_open(catalogue, home):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    expected = dump_projection(catalogue)
    with catalogue.engine.begin() as connection:  # what a projection-changing revision leaves behind
        connection.execute(text("UPDATE cards SET title = 'stale'"))
        session = Session(bind=connection)
        add_event(session, "projection-outdated", "system", revisions=["0002"])
        session.flush()
    catalogue.close()
    reopened = Catalogue.open(home)
    try:
        assert dump_projection(reopened) == expected
        assert reopened.events(limit=1)[0].kind == "rebuild-db"
    finally:
        reopened.close()
