"""The catalogue: cards stored as OCFL objects, projected into the catalogue DB.

Every save is a new OCFL version carrying editor, time and reason. Saves are optimistic: a
save names the version it was based on and is refused with :class:`CardConflict` (showing
both sides) when someone saved first. The DB is only a projection: :meth:`Catalogue.rebuild_db`
recomputes it from OCFL.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from guji import metadata_schemas

from . import migrations
from .card import (
    CardWarning,
    FieldChange,
    card_diff,
    card_json_bytes,
    edition_dynasty,
    edition_type_of,
    grade_label,
    identifiers,
    normalise_card,
    responsibility_text,
    title_with_juan,
)
from .catalogue_db import (
    CardIdentifierRow,
    CardRow,
    CardVersionRow,
    EventRow,
    add_event,
    fitted,
    missing_projection_columns,
    project_card_row,
    projection_outdated,
    session_factory,
)
from .config import Home
from .database import make_engine, unavailable
from .errors import Ambiguous, Conflict, Damaged, NotFound, Refused
from .local_time import format_time
from .object_locks import locks_for
from .ocfl_s3 import open_store
from .ocfl_store import (
    CARD_FILE,
    OBJECT_ID_PATTERN,
    FixityProblem,
    ForeignEntry,
    PreparedFile,
    StaleVersionError,
    VersionInfo,
    check_object_id,
)
from .projection_rebuild import RebuildReport, rebuild_projection
from .settings import Settings, current

STRUCTURE_FILE = "structure.json"  # page order, labels and 卷/册 ranges, written by ingest
Progress = Callable[[int, int], None]


class CardError(Refused):
    """A card that cannot be saved as it is; `problems` name the fields."""

    def __init__(self, message: str, problems: list[dict] | None = None):
        self.problems = problems or []
        details = "；".join(f"{p['path']}：{p['message']}" for p in self.problems)
        super().__init__(f"{message}{'：' + details if details else ''}")


    @property
    def notes(self) -> list[str]:
        return [f"{p['path']}: {p['message']}" for p in self.problems]


class CardNotFound(NotFound):
    """No card with that id, version or reference (索书号, 普查编号 …)."""


class CardConflict(Conflict):
    """Someone saved the card after the version this edit started from. Nothing was written;
    `theirs` is the stored card, `ours` the refused edit."""

    title, title_english = "保存冲突", "Save conflict"

    def __init__(self, card_id: str, base_version: int, current: StoredCard, ours: dict):
        self.card_id = card_id
        self.base_version = base_version
        self.current = current
        self.theirs = current.card
        self.ours = ours
        self.changes = card_diff(current.card, ours)
        last = current.versions[-1]
        super().__init__(
            f"{card_id}：这次修改基于 v{base_version}，但 {last.editor} 已于 {format_time(last.created)} 保存了 "
            f"v{last.number}（{last.reason}）。什么都没有被覆盖：请比较两个版本，基于 v{last.number} 重新修改后保存。"
        )

    @property
    def notes(self) -> list[str]:
        return [f"{change.label}（{change.path}）：已保存的 {change.old!r} | 你的 {change.new!r}"
                for change in self.changes]


@dataclass
class StoredCard:
    id: str
    version: int
    card: dict
    versions: list[VersionInfo]

    @property
    def head(self) -> int:
        return self.versions[-1].number


@dataclass
class SaveResult:
    id: str
    version: int | None  # None: nothing changed, no version written
    warnings: list[CardWarning] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.version is not None


@dataclass
class FixityReport:
    objects: int = 0
    files: int = 0
    problems: list[FixityProblem] = field(default_factory=list)
    foreign: list[ForeignEntry] = field(default_factory=list)  # folders of the root that are not Guji's objects

    @property
    def ok(self) -> bool:
        return not self.problems


def new_card_id() -> str:
    """An opaque ASCII id: `gj` + 10 characters of Crockford base32."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    return "gj" + "".join(secrets.choice(alphabet) for _ in range(10))


class Catalogue:
    """Open with :meth:`Catalogue.open`; `init()` creates a new data home."""

    def __init__(self, home: Home, durable: bool = True, settings: Settings | None = None):
        self.home = home
        self.settings = settings or current()  # docs/settings.md: passed down with the catalogue
        self.engine = make_engine(home.database_url)
        # per-object and site-wide locks: lock files, or PostgreSQL advisory locks (several hosts)
        self.locks = locks_for(self.engine, home.locks)
        # the storage root: ocfl/ in the data home, or a bucket (GUJI_STORAGE=s3://…)
        self.store = open_store(home, durable=durable, locks=self.locks, settings=self.settings)
        self.sessions = session_factory(self.engine)
        self.recovered: list[str] = []  # objects whose interrupted save `open` finished

    @classmethod
    def open(cls, home: Home | str | None = None, durable: bool = True, settings: Settings | None = None) -> Catalogue:
        settings = settings or current()
        home = home if isinstance(home, Home) else Home.resolve(home, settings)
        if not home.exists():
            raise NotFound(f"没有 Guji 数据目录 {home.root}：请先运行 guji init（或设置 GUJI_HOME）")
        catalogue = cls(home, durable=durable, settings=settings)
        if home.storage:
            catalogue._check_bucket()
        with catalogue._reaching_database():
            migrations.upgrade(catalogue.engine, catalogue.locks.task)
            catalogue._upgrade_projection()
            catalogue.recovered = catalogue.recover()
        return catalogue

    def _check_bucket(self) -> None:
        """With the storage root in a bucket: reach it, and find the root there (nothing is written)."""
        try:
            if not self.store.root_exists():
                raise NotFound(f"对象存储 {self.home.storage} 中没有 OCFL 存储根：请先运行 guji init"
                               "（或改正 GUJI_STORAGE）")
        except Exception:
            self.close()
            raise
        self.home.root.mkdir(parents=True, exist_ok=True)  # this host's work folders (staging, journal, caches)

    @contextmanager
    def _reaching_database(self) -> Iterator[None]:
        """A database that cannot be reached (or used) while opening: one clear message, engine closed."""
        try:
            yield
        except DBAPIError as error:
            self.close()
            raise unavailable(error, self.engine.url) from None

    def _projection_behind(self) -> bool:
        if missing_projection_columns(self.engine):
            return True
        with self.sessions() as session:
            return projection_outdated(session)

    def _upgrade_projection(self) -> None:
        """A data home made by an older Guji lacks newer projection columns, or a schema revision
        changed what they hold: recompute the projection from OCFL (once; other processes opening
        at the same time wait for it)."""
        if not self._projection_behind():
            return
        with self._rebuild_lock():
            if self._projection_behind():
                rebuild_projection(self, actor="upgrade")

    def _rebuild_lock(self) -> AbstractContextManager[None]:
        """One projection rebuild at a time, across processes (and hosts, with PostgreSQL)."""
        return self.locks.task("rebuild-db")

    @classmethod
    def init(cls, home: Home | str | None = None, settings: Settings | None = None) -> Catalogue:
        settings = settings or current()
        home = home if isinstance(home, Home) else Home.resolve(home, settings)
        catalogue = cls(home, settings=settings)
        if home.storage:
            catalogue.store.check()  # the bucket first: nothing is written while it cannot be reached
        home.root.mkdir(parents=True, exist_ok=True)  # where SQLite's file goes
        with catalogue._reaching_database():  # the database first: no storage root without it
            migrations.upgrade(catalogue.engine, catalogue.locks.task)
        created = catalogue.store.initialize()
        if created:
            with catalogue.sessions.begin() as session:
                add_event(session, "init", "system", root=str(home.root))
        return catalogue

    def close(self) -> None:
        self.engine.dispose()

    # ---- crash recovery ------------------------------------------------------------------

    def _mark_projection_pending(self, card_id: str):
        """Mark that the DB may lag OCFL for `card_id` until the projection is committed."""
        marker = self.home.journal / f"{card_id}.db"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        return marker

    def recover(self) -> list[str]:
        """Finish interrupted OCFL commits and re-project cards whose DB update was lost."""
        touched = set(self.store.recover())
        markers = list(self.home.journal.glob("*.db")) if self.home.journal.exists() else []
        touched.update(marker.stem for marker in markers)
        self._reproject(touched)
        for marker in markers:
            marker.unlink(missing_ok=True)
        return sorted(touched)

    def repair(self) -> tuple[list[str], list[str]]:
        """`guji recover`: finish interrupted commits in every object, journal or not (a copy of the
        storage root taken during a save has none); returns the objects repaired and the problems."""
        repaired, problems = self.store.repair_all()
        self._reproject(repaired)
        return repaired, problems

    def _reproject(self, card_ids) -> None:
        for card_id in sorted(card_ids):
            with self.sessions.begin() as session:
                if self.store.exists(card_id):
                    self._project(session, card_id)
                add_event(session, "recover", "system", card_id)

    # ---- reading -------------------------------------------------------------------------

    def exists(self, card_id: str) -> bool:
        return self.store.exists(card_id)

    def get(self, card_id: str, version: int | None = None) -> StoredCard:
        """The card at `version` (default: the head). An id no card can have names no card: CardNotFound."""
        if not isinstance(card_id, str) or not OBJECT_ID_PATTERN.match(card_id) or not self.store.exists(card_id):
            shown = str(card_id)[:80]
            raise CardNotFound(f"没有标识为「{shown}」的卡片", english=f"No card with id {shown!r}")
        inventory = self.store.inventory(card_id)
        versions = self.store.versions(card_id, inventory)
        number = version if version is not None else versions[-1].number
        if not 1 <= number <= versions[-1].number:
            raise CardNotFound(f"{card_id} 没有 v{number} 这一版（现有 v1–v{versions[-1].number}）",
                               english=f"{card_id} has no version v{number} (it has v1–v{versions[-1].number})")
        try:
            data = self.store.read_bytes(card_id, CARD_FILE, number)
        except NotFound:
            raise CardNotFound(f"{card_id} 不是 Guji 的卡片：这个 OCFL 对象里没有 {CARD_FILE}") from None
        except OSError:  # the inventory names the file, but it cannot be read
            raise Damaged(f"{card_id} v{number} 的 {CARD_FILE} 无法读取（已损坏？）；请运行 guji fixity") from None
        try:
            card = json.loads(data)
        except ValueError:
            raise Damaged(f"{card_id} v{number} 的 {CARD_FILE} 无法读取（已损坏？）；请运行 guji fixity") from None
        return StoredCard(card_id, number, card, versions)

    def resolve(self, reference: str) -> str:
        """A card id from an id, 索书号, 原索书号, 普查编号 or 名录编号."""
        reference = reference.strip()
        with self.sessions() as session:
            if session.get(CardRow, reference) is not None:
                return reference
            rows = session.scalars(
                select(CardIdentifierRow.card_id).where(CardIdentifierRow.value == reference).distinct()
            ).all()
        if len(rows) == 1:
            return rows[0]
        if not rows:
            raise CardNotFound(f"没有标识符、索书号、原索书号或普查编号为「{reference}」的卡片")
        raise Ambiguous(f"「{reference}」对应多张卡片（{'、'.join(rows)}）：请用卡片标识符")

    def history(self, card_id: str) -> list[VersionInfo]:
        return self.get(card_id).versions

    def diff(self, card_id: str, version_a: int, version_b: int) -> list[FieldChange]:
        return card_diff(self.get(card_id, version_a).card, self.get(card_id, version_b).card)

    def list_rows(self, limit: int | None = None) -> list[CardRow]:
        with self.sessions() as session:
            query = select(CardRow).order_by(CardRow.call_number, CardRow.id)
            if limit:
                query = query.limit(limit)
            return list(session.scalars(query))

    def count(self) -> int:
        with self.sessions() as session:
            return session.query(CardRow).count()

    def find_rows(self, text: str, limit: int = 50) -> list[CardRow]:
        """Simple lookup by title or any identifier (full search is the search package's job)."""
        pattern = f"%{text}%"
        with self.sessions() as session:
            # ilike: SQLite's LIKE ignores ASCII case, PostgreSQL's does not
            by_identifier = select(CardIdentifierRow.card_id).where(CardIdentifierRow.value.ilike(pattern))
            query = (
                select(CardRow)
                .where(or_(CardRow.title.ilike(pattern), CardRow.id.in_(by_identifier)))
                .order_by(CardRow.call_number)
                .limit(limit)
            )
            return list(session.scalars(query))

    def events(self, card_id: str | None = None, limit: int = 100, *, kinds: Collection[str] = (), actor: str = "",
               since: str = "", until: str = "", before: int | None = None) -> list[EventRow]:
        """The event log, newest first: of one object, of some kinds, by one actor, at or after the UTC
        stamp `since` and before `until` (2026-12-05T16:00:00Z), before event number `before`."""
        query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if card_id:
            query = query.where(EventRow.object_id == card_id)
        if kinds:
            query = query.where(EventRow.kind.in_(list(kinds)))
        if actor:
            query = query.where(EventRow.actor == actor)
        if since:
            query = query.where(EventRow.time >= since)
        if until:
            query = query.where(EventRow.time < until)
        if before:
            query = query.where(EventRow.id < before)
        with self.sessions() as session:
            return list(session.scalars(query))

    def event_kinds(self) -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(EventRow.kind).distinct().order_by(EventRow.kind)))

    def last_event_id(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.max(EventRow.id))) or 0

    def events_after(self, event_id: int, limit: int) -> list[tuple[int, str, str | None]]:
        """(id, kind, object id) of the events after `event_id`, oldest first — the indexer's queue."""
        with self.sessions() as session:
            return [tuple(row) for row in session.execute(
                select(EventRow.id, EventRow.kind, EventRow.object_id)
                .where(EventRow.id > event_id).order_by(EventRow.id).limit(limit))]

    def count_events_after(self, event_id: int, ignoring: Collection[str] = (), naming_none: Collection[str] = ()) \
            -> int:
        """How many events after `event_id` name an object, leaving out the kinds `ignoring`; events of the
        kinds `naming_none` are counted though they name no object."""
        with self.sessions() as session:
            return session.scalar(select(func.count(EventRow.id)).where(
                EventRow.id > event_id, EventRow.kind.not_in(list(ignoring)),
                or_(EventRow.object_id.is_not(None), EventRow.kind.in_(list(naming_none))))) or 0

    # ---- the public collection (queries in repository/browsing.py) -------------------------------

    def public_rows(self, card_ids: Collection[str]) -> dict[str, CardRow]:
        """The catalogue rows of these cards that are not withdrawn, by id."""
        from .withdrawal import WITHDRAWN

        with self.sessions() as session:
            return {row.id: row for row in session.scalars(
                select(CardRow).where(CardRow.id.in_(list(card_ids)), CardRow.status != WITHDRAWN))}

    def figures(self):
        """How many titles, volumes, pages … the public collection has (browsing.Figures)."""
        from . import browsing

        return browsing.figures(self)

    def recent(self, limit: int = 6) -> list[CardRow]:
        from . import browsing

        return browsing.recent(self, limit)

    def browse(self, filters, page: int = 1, page_size: int = 20) -> tuple[int, int, int, list[CardRow]]:
        """(total, page, pages, rows) of the public cards `filters` (browsing.Filters) leave."""
        from . import browsing

        return browsing.browse(self, filters, page, page_size)

    def facet_counts(self, facet: str, filters) -> list[tuple[str | None, int]]:
        """(value, count) of one browsing facet (class, dynasty, edition_type …) under `filters`."""
        from . import browsing

        return browsing.facet_counts(self, facet, filters)

    # ---- writing -------------------------------------------------------------------------

    def prepare(self, card: dict) -> tuple[dict, list[CardWarning]]:
        """Normalise and validate a card; raises CardError naming every bad field."""
        if not isinstance(card, dict):
            raise CardError("这不是一张卡片", metadata_schemas.validate_card(card))
        try:
            normalised, warnings = normalise_card(card)
        except (AttributeError, TypeError, KeyError, ValueError):
            # a field of the wrong kind (a number where 版本层 should be an object, a list for 索书号 …)
            # stops the parsers; the schema names it in the card as given
            problems = metadata_schemas.validate_card(card) or [{"path": "", "message": "卡片的结构无法读取"}]
            raise CardError(f"卡片 {card.get('id', '（新卡片）')} 有不合格的字段", problems) from None
        problems = metadata_schemas.validate_card(normalised)
        if problems:
            raise CardError(f"卡片 {card.get('id', '（新卡片）')} 有不合格的字段", problems)
        return normalised, warnings

    def create(self, card: dict, *, editor: str, reason: str, created: datetime | None = None) -> SaveResult:
        card = dict(card)
        card.setdefault("id", new_card_id())
        check_object_id(card["id"])
        if self.store.exists(card["id"]):
            raise CardError(f"标识为「{card['id']}」的卡片已存在：请换一个标识，或去编辑那张卡片")
        return self._save(card, editor=editor, reason=reason, base_version=0, created=created)

    def save(
        self, card_id: str, card: dict, *, editor: str, reason: str, base_version: int,
        created: datetime | None = None,
    ) -> SaveResult:
        """Save `card` as the next version of `card_id`, if `base_version` is still the head."""
        card = dict(card)
        if card.setdefault("id", card_id) != card_id:
            raise CardError(f"卡片里写的标识是「{card['id']}」，却要存为「{card_id}」：标识不能更改")
        return self._save(card, editor=editor, reason=reason, base_version=base_version, created=created)

    def _save(self, card: dict, *, editor: str, reason: str, base_version: int,
              created: datetime | None, session: Session | None = None) -> SaveResult:
        card_id = card["id"]
        if base_version > 0:
            previous = self.get(card_id, base_version).card
            card = _keep_former_call_number(previous, card)
        normalised, warnings = self.prepare(card)
        marker = self._mark_projection_pending(card_id)
        try:
            version = self.store.commit(
                card_id, {CARD_FILE: card_json_bytes(normalised)}, editor=editor, reason=reason,
                expected_head=base_version, created=created,
            )
        except StaleVersionError:
            marker.unlink(missing_ok=True)
            raise CardConflict(card_id, base_version, self.get(card_id), normalised) from None
        if version is None:
            marker.unlink(missing_ok=True)
            return SaveResult(card_id, None, warnings)
        event = dict(version=version.number, reason=reason, warnings=[str(w) for w in warnings])
        kind = "create" if base_version == 0 else "edit"
        if session is None:
            with self.sessions.begin() as own_session:
                self._project(own_session, card_id, (normalised, warnings, version.number))
                add_event(own_session, kind, editor, card_id, **event)
            marker.unlink(missing_ok=True)
        else:
            # The caller commits the session, then removes the markers (see save_many).
            self._project(session, card_id, (normalised, warnings, version.number))
            add_event(session, kind, editor, card_id, **event)
        return SaveResult(card_id, version.number, warnings)

    def commit_files(
        self, card_id: str, files: Mapping[str, bytes | Path | PreparedFile], *, editor: str, reason: str,
        event: str, expected_head: int | None = None, deletions: tuple[str, ...] = (), **detail,
    ) -> VersionInfo | None:
        """Add or replace files other than the card (masters, structure.json, text …) and remove
        `deletions` (they stay in earlier versions) as one new version of the book's object, keep
        the DB's version history in step, and record `event`.
        Returns the new version, or None if nothing differed."""
        if not self.store.exists(card_id):
            raise CardNotFound(f"no card with id {card_id!r}: create the card before adding files")
        if CARD_FILE not in self.store.digests(card_id):  # an object another system wrote: never add to it
            raise CardNotFound(f"{card_id!r} is an OCFL object without {CARD_FILE}, not a Guji card: nothing was "
                               "written (use another id)")
        if CARD_FILE in files or CARD_FILE in deletions:
            raise CardError("the card itself is saved with save(), which validates it")
        marker = self._mark_projection_pending(card_id)
        version = self.store.commit(card_id, files, editor=editor, reason=reason, expected_head=expected_head,
                                    deletions=deletions)
        with self.sessions.begin() as session:
            if version is not None:
                self._project(session, card_id)
            add_event(session, event, editor, card_id, version=version.number if version else None, **detail)
        marker.unlink(missing_ok=True)
        return version

    def save_many(
        self,
        work: Iterable[tuple[dict, int]],
        *,
        editor: str,
        reason_of: Callable[[dict], str],
        progress: Progress | None = None,
        total: int = 0,
    ) -> list[SaveResult]:
        """Save many cards (base_version 0 = create) with the DB projection in one transaction.

        Each card still gets its own OCFL version. If the process dies part-way, the OCFL
        objects already written are re-projected by :meth:`recover` on the next open, and
        re-running the same import skips cards that are already identical.
        """
        results = []
        try:
            with self.sessions.begin() as session:
                for done, (card, base_version) in enumerate(work, start=1):
                    results.append(
                        self._save(card, editor=editor, reason=reason_of(card), base_version=base_version,
                                   created=None, session=session)
                    )
                    if progress:
                        progress(done, total)
        except BaseException:
            self.recover()  # the DB transaction rolled back: re-project what OCFL already holds
            raise
        for result in results:
            (self.home.journal / f"{result.id}.db").unlink(missing_ok=True)
        return results

    # ---- projection ------------------------------------------------------------------------

    def _project(self, session: Session, card_id: str,
                 saved: tuple[dict, list[CardWarning], int] | None = None) -> None:
        """Replace the DB rows of one card with what OCFL holds — unless the DB already shows a newer
        version (saved by another process meanwhile). `saved` is the (card, warnings, version) just
        committed, which spares reading and parsing it again."""
        if saved is None:
            stored = self.get(card_id)
            card = stored.card
            _, warnings = normalise_card(card)
        else:
            card, warnings, number = saved
            versions = [version for version in self.store.versions(card_id) if version.number <= number]
            stored = StoredCard(card_id, number, card, versions)
        edition = card.get("edition") or {}
        copy_part = card.get("copy") or {}
        local = card.get("local_document") or {}
        date = (edition.get("publication") or {}).get("date") or {}
        row = fitted(CardRow.__table__, dict(
            id=card_id,
            record_type=card.get("record_type", "guji"),
            status=card.get("status") or "active",
            title=edition.get("title", ""),
            title_with_juan=title_with_juan(card),
            responsibility=responsibility_text(card),
            edition_statement=edition.get("edition_statement", ""),
            edition_type=edition_type_of(card)[0],  # typed, else read from the 版本 statement
            date_start=date.get("start"),
            date_end=date.get("end"),
            call_number=copy_part.get("call_number"),
            census_number=copy_part.get("census_number"),
            classification_code=(edition.get("classification") or {}).get("code"),
            grade=grade_label(card),
            extant_juan=(copy_part.get("extant_juan") or {}).get("raw", ""),
            dynasty=edition_dynasty(card),
            volumes=copy_part.get("volumes"),
            local_type=local.get("type"),
            local_author=local.get("author"),
            local_place=local.get("place"),
            page_count=self._page_count(card_id),
            head_version=stored.version,
            created=stored.versions[0].created,
            updated=stored.versions[-1].created,
            updated_by=stored.versions[-1].editor,
            card_json=json.dumps(card, ensure_ascii=False, sort_keys=True),
            warnings_json=json.dumps([str(w) for w in warnings], ensure_ascii=False),
        ))
        if not project_card_row(session, row):
            return  # a newer version is projected already, with its identifiers and versions
        session.execute(delete(CardIdentifierRow).where(CardIdentifierRow.card_id == card_id))
        session.execute(delete(CardVersionRow).where(CardVersionRow.card_id == card_id))
        found = {tuple(fitted(CardIdentifierRow.__table__, {"kind": kind, "value": value}).values())
                 for kind, value in identifiers(card)}
        for kind, value in sorted(found):
            session.add(CardIdentifierRow(card_id=card_id, kind=kind, value=value))
        for version in stored.versions:
            session.add(CardVersionRow(**fitted(CardVersionRow.__table__, dict(
                card_id=card_id, number=version.number, created=version.created, editor=version.editor,
                reason=version.reason))))
        session.flush()

    def structure(self, card_id: str) -> dict | None:
        """The book's structure.json (page order, leaf labels, 卷/册 ranges) at the head version, or
        None when no scans were ingested (or the file is unreadable: `guji fixity` reports that)."""
        try:
            structure = json.loads(self.store.read_bytes(card_id, STRUCTURE_FILE))
        except (NotFound, Damaged, OSError, ValueError):
            return None
        return structure if isinstance(structure, dict) else None

    def _page_count(self, card_id: str) -> int:
        """Pages listed in the object's structure.json (0 when no scans were ingested)."""
        return len((self.structure(card_id) or {}).get("pages") or [])

    def rebuild_db(self, progress: Progress | None = None, actor: str = "system") -> RebuildReport:
        """Recompute the projection tables from OCFL in a staging database and swap them in at
        the end (users, events and the other tables are kept; see :mod:`.projection_rebuild`).
        Folders of the storage root that are not Guji's objects are skipped and reported."""
        with self._rebuild_lock():
            return rebuild_projection(self, progress, actor)

    def fixity(self, progress: Progress | None = None, actor: str = "system") -> FixityReport:
        """Re-read every stored file and compare it with its recorded digests — of Guji's objects
        and of any other OCFL object in the storage root (reported in `foreign`)."""
        report = FixityReport()
        card_ids, report.foreign = self.store.survey()
        checked_ids = card_ids + [entry.name for entry in report.foreign if entry.kind != "other"]
        for done, object_id in enumerate(checked_ids, start=1):
            checked, problems = self.store.fixity(object_id)
            report.objects += 1
            report.files += checked
            report.problems.extend(problems)
            if progress:
                progress(done, len(checked_ids))
        with self.sessions.begin() as session:
            add_event(session, "fixity", actor, objects=report.objects, files=report.files,
                      problems=[str(p) for p in report.problems], foreign=[str(e) for e in report.foreign])
            for problem in report.problems:
                add_event(session, "fixity-failure", actor, problem.object_id, detail=str(problem))
        return report

    def record_event(self, kind: str, actor: str, object_id: str | None = None, **detail) -> None:
        with self.sessions.begin() as session:
            add_event(session, kind, actor, object_id, **detail)


def _keep_former_call_number(previous: dict, card: dict) -> dict:
    """A changed 索书号 moves the old one into 原索书号, so it stays findable."""
    old = (previous.get("copy") or {}).get("call_number")
    new_copy = card.get("copy") or {}
    if old and new_copy.get("call_number") != old:
        former = list(new_copy.get("former_call_numbers") or [])
        if old not in former:
            former.append(old)
        card = {**card, "copy": {**new_copy, "former_call_numbers": former}}
    return card
