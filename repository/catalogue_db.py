"""The catalogue database (SQLAlchemy 2; SQLite by default).

Two kinds of tables live here:

* the **projection** of OCFL — `cards`, `card_identifiers`, `card_versions` — the current state
  of every card for listing and lookup. It is derived only from what OCFL holds, so
  `guji rebuild-db` can drop and recompute it with identical results;
* what OCFL does not hold — `users`, their `staff_sessions` and the `login_throttle` (shared by
  every web process and node), `jobs`, and the append-only `events` (PREMIS-like audit log:
  create, edit, import, rebuild, fixity …). SQLite triggers refuse UPDATE and DELETE on events.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class CardRow(Base):
    """Current state of one catalogue card (projection of the head OCFL version)."""

    __tablename__ = "cards"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(32))
    # 记录状态: active | withdrawn (withdrawn cards stay in OCFL; the public site, search and IIIF leave them out)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    title: Mapped[str] = mapped_column(Text)
    title_with_juan: Mapped[str] = mapped_column(Text)  # 题名卷数, as printed on a card
    responsibility: Mapped[str] = mapped_column(Text, default="")  # 著者 as （清）冒襄撰
    edition_statement: Mapped[str] = mapped_column(Text, default="")  # 版本
    edition_type: Mapped[str | None] = mapped_column(String(32))  # 版本类型
    date_start: Mapped[int | None] = mapped_column(Integer)
    date_end: Mapped[int | None] = mapped_column(Integer)
    call_number: Mapped[str | None] = mapped_column(String(64), index=True)  # 索书号
    census_number: Mapped[str | None] = mapped_column(String(32), index=True)  # 普查编号
    classification_code: Mapped[str | None] = mapped_column(String(32), index=True)
    grade: Mapped[str | None] = mapped_column(String(16))  # e.g. 二级乙等
    extant_juan: Mapped[str] = mapped_column(Text, default="")  # 存卷 raw
    dynasty: Mapped[str | None] = mapped_column(String(16), index=True)  # 版本朝代, from 出版时间
    volumes: Mapped[int | None] = mapped_column(Integer)  # 册数
    local_type: Mapped[str | None] = mapped_column(String(16), index=True)  # 地方文献类型
    local_author: Mapped[str | None] = mapped_column(Text, index=True)  # 地方人士
    local_place: Mapped[str | None] = mapped_column(Text)  # 地域
    page_count: Mapped[int] = mapped_column(Integer, default=0)  # pages in structure.json (0: no scans)
    head_version: Mapped[int] = mapped_column(Integer)
    created: Mapped[str] = mapped_column(String(32))
    updated: Mapped[str] = mapped_column(String(32))
    updated_by: Mapped[str] = mapped_column(Text)
    card_json: Mapped[str] = mapped_column(Text)
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")


class CardIdentifierRow(Base):
    """Every number a card can be found by: 索书号, 原索书号, 普查编号, 名录编号."""

    __tablename__ = "card_identifiers"

    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)

    __table_args__ = (Index("ix_card_identifiers_value", "value"),)


class CardVersionRow(Base):
    """One OCFL version of a card: who, when, why."""

    __tablename__ = "card_versions"

    card_id: Mapped[str] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    created: Mapped[str] = mapped_column(String(32))
    editor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # cataloguer | admin
    password_hash: Mapped[str] = mapped_column(Text)
    created: Mapped[str] = mapped_column(String(32))
    disabled: Mapped[int] = mapped_column(Integer, default=0)


class JobRow(Base):
    """A long-running job started from the staff workspace (ingest), with its progress."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # ingest
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(Text, default="")  # e.g. the book folder
    actor: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued | running | done | failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    result_json: Mapped[str] = mapped_column(Text, default="{}")
    pid: Mapped[int | None] = mapped_column(Integer)
    created: Mapped[str] = mapped_column(String(32))
    started: Mapped[str | None] = mapped_column(String(32))
    finished: Mapped[str | None] = mapped_column(String(32))


class StaffSessionRow(Base):
    """A staff sign-in, so that it can be ended from any web process or node (sign-out, a new
    password, a disabled account). The browser holds a random token; only its SHA-256 is kept here."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), default="")  # where it was signed in from
    created: Mapped[str] = mapped_column(String(32))
    last_seen: Mapped[str] = mapped_column(String(32))
    expires: Mapped[str] = mapped_column(String(32), index=True)  # moved on while it is used
    revoked: Mapped[str | None] = mapped_column(String(32))  # when it was ended (None: open)


class LoginThrottleRow(Base):
    """Failed sign-ins counted per key — one name from one address (``pair:``), one address
    (``address:``), one name from anywhere (``name:``) — and until when the key must wait."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure: Mapped[str] = mapped_column(String(32), index=True)
    blocked_until: Mapped[str] = mapped_column(String(32), default="")
    reported: Mapped[int] = mapped_column(Integer, default=0)  # the current wait is in the audit log


class EventRow(Base):
    """Append-only audit log."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    object_id: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str] = mapped_column(Text)
    detail_json: Mapped[str] = mapped_column(Text, default="{}")


PROJECTION_TABLES = (CardRow.__table__, CardIdentifierRow.__table__, CardVersionRow.__table__)

_APPEND_ONLY_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'events are append-only'); END""",
]


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            for statement in _APPEND_ONLY_TRIGGERS:
                connection.execute(text(statement))


def missing_projection_columns(engine: Engine) -> list[str]:
    """Columns the model has but the stored projection tables lack (a data home made by an older Guji)."""
    inspector = inspect(engine)
    missing = []
    for table in PROJECTION_TABLES:
        if not inspector.has_table(table.name):
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        missing.extend(f"{table.name}.{column.name}" for column in table.columns if column.name not in present)
    return missing


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def revoke_sessions(session: Session, user: str) -> int:
    """End every open session of `user` (a new password, a disabled account); returns how many."""
    result = session.execute(update(StaffSessionRow).where(StaffSessionRow.user == user,
                                                           StaffSessionRow.revoked.is_(None))
                             .values(revoked=now_iso()))
    return result.rowcount or 0


def add_event(session: Session, kind: str, actor: str, object_id: str | None = None, **detail) -> None:
    session.add(
        EventRow(
            time=now_iso(),
            kind=kind,
            object_id=object_id,
            actor=actor,
            detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True),
        )
    )
