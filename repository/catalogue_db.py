"""The catalogue database (SQLAlchemy 2; SQLite by default).

Two kinds of tables live here:

* the **projection** of OCFL — `cards`, `card_identifiers`, `card_versions` — the current state
  of every card for listing and lookup. It is derived only from what OCFL holds, so
  `guji rebuild-db` can drop and recompute it with identical results;
* what OCFL does not hold — `users`, their `staff_sessions` and the `login_throttle` (shared by
  every web process and node), `jobs`, and the append-only `events` (PREMIS-like audit log:
  create, edit, import, rebuild, fixity …). Triggers refuse UPDATE and DELETE on events (and
  TRUNCATE on PostgreSQL).

The tables are created and changed by the Alembic revisions in :mod:`repository.migrations`
(SQLite and PostgreSQL alike); a change to a model here needs a new revision there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    func,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
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
    """A long-running job (ingest, OCR, tiles rebuild, printing), with its progress and outcome."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))  # ingest, ocr, tiles, print
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


class JobOutputRow(Base):
    """The file a job made for the one who asked (a queued print job's PDF), readable from every web
    node and the CLI host; removed after repository.job_records.OUTPUT_DAYS days."""

    __tablename__ = "job_outputs"

    job_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # jobs.id
    filename: Mapped[str] = mapped_column(Text)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created: Mapped[str] = mapped_column(String(32), index=True)


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


INDEXED_TEXT_LIMIT = 500  # characters of an indexed Text column kept (PostgreSQL's B-tree entries are ≤ 2,704 bytes)
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # PostgreSQL's integer


def fitted(table: Table, values: dict) -> dict:
    """`values` as every engine can store them, so that a projection never fails on one engine and
    not the other: strings clipped to their column's length, U+0000 (which PostgreSQL's text cannot
    hold) shown as U+FFFD, integers beyond the column's range left out (None). The card itself —
    in OCFL and in `card_json` — keeps every character."""
    result = {}
    for name, value in values.items():
        column = table.c[name]
        if isinstance(value, str):
            value = value.replace("\0", "\ufffd")
            limit = getattr(column.type, "length", None) or (INDEXED_TEXT_LIMIT if column.index else None)
            if limit and len(value) > limit:
                value = value[:limit]
        elif isinstance(value, int) and not isinstance(value, bool) and isinstance(column.type, Integer):
            if not INTEGER_RANGE[0] <= value <= INTEGER_RANGE[1]:
                value = None
        result[name] = value
    return result


def project_card_row(session: Session, values: dict) -> bool:
    """Write one card's row unless the row already shows a newer version of the card; returns
    whether it was written (False: leave the card's other projection rows alone too).

    Two processes saving one card commit v2 and v3 to OCFL in turn, but may reach the DB in either
    order: a conditional UPDATE (``head_version <= ours``) makes the newer one win whatever the
    order. It holds the row's lock until commit (PostgreSQL) or the database's write lock (SQLite),
    so the card's identifiers and versions are replaced by the same winner."""
    table = CardRow.__table__
    for _ in range(5):
        written = session.execute(update(table).where(
            table.c.id == values["id"], table.c.head_version <= values["head_version"]).values(**values))
        if written.rowcount:
            return True
        stored = session.scalar(select(table.c.head_version).where(table.c.id == values["id"]))
        if stored is not None and stored > values["head_version"]:
            return False
        if stored is None:
            try:
                with session.begin_nested():
                    session.execute(insert(table).values(**values))
                return True
            except IntegrityError:  # another process inserted the row meanwhile: update it instead
                continue
    raise RuntimeError(f"card {values['id']}: its row kept changing while it was being written")


def projection_outdated(session: Session) -> bool:
    """A schema revision changed what the projection holds since the last `guji rebuild-db`."""
    def last(kind: str) -> int:
        return session.scalar(select(func.max(EventRow.id)).where(EventRow.kind == kind)) or 0

    return last("projection-outdated") > last("rebuild-db")


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
    session.add(EventRow(**fitted(EventRow.__table__, dict(
        time=now_iso(),
        kind=kind,
        object_id=object_id,
        actor=actor,
        detail_json=json.dumps(detail, ensure_ascii=False, sort_keys=True),
    ))))
