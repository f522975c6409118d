"""Baseline: the catalogue DB as Guji had it when migrations began (2026-12).

A database made before migrations existed (a data home of an older Guji: no ``alembic_version``
table) is brought here in place: each table that is missing is created, tables that exist are
left as they are — their rows are kept. Projection tables of an older Guji that lack newer
columns (``cards.status``, ``cards.page_count`` …) are then recomputed from OCFL by
``Catalogue.open`` (see ``missing_projection_columns``), staged and swapped in one transaction.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None
rebuilds_projection = False


def _tables() -> list[tuple[sa.Table, list[tuple[str, list[str]]]]]:
    """Each table of the baseline with its (index name, columns); frozen here, not read from the models."""
    metadata = sa.MetaData()
    cards = sa.Table(
        "cards", metadata,
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("title_with_juan", sa.Text(), nullable=False),
        sa.Column("responsibility", sa.Text(), nullable=False),
        sa.Column("edition_statement", sa.Text(), nullable=False),
        sa.Column("edition_type", sa.String(length=32), nullable=True),
        sa.Column("date_start", sa.Integer(), nullable=True),
        sa.Column("date_end", sa.Integer(), nullable=True),
        sa.Column("call_number", sa.String(length=64), nullable=True),
        sa.Column("census_number", sa.String(length=32), nullable=True),
        sa.Column("classification_code", sa.String(length=32), nullable=True),
        sa.Column("grade", sa.String(length=16), nullable=True),
        sa.Column("extant_juan", sa.Text(), nullable=False),
        sa.Column("dynasty", sa.String(length=16), nullable=True),
        sa.Column("volumes", sa.Integer(), nullable=True),
        sa.Column("local_type", sa.String(length=16), nullable=True),
        sa.Column("local_author", sa.Text(), nullable=True),
        sa.Column("local_place", sa.Text(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("updated", sa.String(length=32), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=False),
        sa.Column("card_json", sa.Text(), nullable=False),
        sa.Column("warnings_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    card_identifiers = sa.Table(
        "card_identifiers", metadata,
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("card_id", "kind", "value"),
    )
    card_versions = sa.Table(
        "card_versions", metadata,
        sa.Column("card_id", sa.String(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("editor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("card_id", "number"),
    )
    users = sa.Table(
        "users", metadata,
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("disabled", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    jobs = sa.Table(
        "jobs", metadata,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("started", sa.String(length=32), nullable=True),
        sa.Column("finished", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    staff_sessions = sa.Table(
        "staff_sessions", metadata,
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("created", sa.String(length=32), nullable=False),
        sa.Column("last_seen", sa.String(length=32), nullable=False),
        sa.Column("expires", sa.String(length=32), nullable=False),
        sa.Column("revoked", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    login_throttle = sa.Table(
        "login_throttle", metadata,
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure", sa.String(length=32), nullable=False),
        sa.Column("blocked_until", sa.String(length=32), nullable=False),
        sa.Column("reported", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    events = sa.Table(
        "events", metadata,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    indexed = ["call_number", "census_number", "classification_code", "dynasty", "local_author", "local_type",
               "status"]
    return [
        (cards, [(f"ix_cards_{column}", [column]) for column in indexed]),
        (card_identifiers, [("ix_card_identifiers_value", ["value"])]),
        (card_versions, []),
        (users, []),
        (jobs, [("ix_jobs_object_id", ["object_id"]), ("ix_jobs_status", ["status"])]),
        (staff_sessions, [("ix_staff_sessions_expires", ["expires"]), ("ix_staff_sessions_user", ["user"])]),
        (login_throttle, [("ix_login_throttle_last_failure", ["last_failure"])]),
        (events, [("ix_events_kind", ["kind"]), ("ix_events_object_id", ["object_id"]),
                  ("ix_events_time", ["time"])]),
    ]


# The audit log is append-only in the database itself, whoever connects to it.
_SQLITE_GUARDS = [
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
]
_POSTGRESQL_GUARDS = [
    """CREATE OR REPLACE FUNCTION guji_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'events are append-only' USING ERRCODE = 'insufficient_privilege'; END $$""",
    """CREATE OR REPLACE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
       FOR EACH ROW EXECUTE FUNCTION guji_events_append_only()""",
    """CREATE OR REPLACE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
       FOR EACH STATEMENT EXECUTE FUNCTION guji_events_append_only()""",
]


def upgrade() -> None:
    bind = op.get_bind()
    existing = set(sa.inspect(bind).get_table_names())
    for table, indexes in _tables():
        if table.name in existing:  # a data home of an older Guji: kept as it is
            continue
        table.create(bind)
        for name, columns in indexes:
            op.create_index(name, table.name, columns)
    for statement in _POSTGRESQL_GUARDS if bind.dialect.name == "postgresql" else _SQLITE_GUARDS:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_no_truncate ON events")
        op.execute("DROP TRIGGER IF EXISTS events_no_update_or_delete ON events")
        op.execute("DROP FUNCTION IF EXISTS guji_events_append_only()")
    for table, _ in reversed(_tables()):
        op.drop_table(table.name)
