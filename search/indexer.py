"""The one writer of the search index.

The catalogue DB's append-only ``events`` table is the queue: card creations and edits, ingests
and text imports are all events naming the object they changed. The indexer remembers the last
event id it has applied (in the index folder) and, on every pass, reindexes each object named
by a newer event from what the repository holds now — the card from the catalogue DB (the
projection of OCFL, updated in the same transaction as the event) and the text from OCFL — or
removes it when it is gone or withdrawn (记录状态 已撤销: its book and pages leave the index, and
come back when it is reinstated — both are edits, so both are events). `guji indexer` runs passes
every second; `guji reindex` rebuilds the whole index from OCFL + DB.

Several web nodes keep one index each, so a whole rebuild is asked of all of them through the same
log: `guji reindex --all-nodes` records a ``reindex-request`` event, and every node's indexer that
reads it rebuilds its own index from the catalogue (a queue job would be taken by one worker only,
and no worker holds an index).

An index that has never been built — a new web node's own index (GUJI_INDEX_DIR), or a deleted
one — is built whole from the catalogue on the first pass, then follows the log from the event
it was built at: the log alone would miss cards that came in without an event of their own (a
catalogue moved into PostgreSQL with `guji rebuild-db`).
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from guji.repository import Catalogue
from guji.repository.database import is_outage, unavailable
from guji.repository.withdrawal import WITHDRAWN

from .analyzer import key_version
from .backend import (
    BookEntry,
    SearchBackend,
    check_schema,
    index_dir,
    read_state,
    stale_key,
    write_state,
    writer_lock,
)
from .backends import backend_name, open_backend
from .documents import book_document, page_documents

if TYPE_CHECKING:
    from guji.repository.catalogue_db import CardRow  # the rows Catalogue.public_rows and .list_rows answer

PAGES_FILE = "text/pages.json"
# Events that change nothing the index holds.
IGNORED_EVENTS = frozenset({"fixity", "fixity-failure", "tiles-rebuild", "login", "logout", "init", "rebuild-db",
                            "reindex"})
REBUILD_REQUEST = "reindex-request"  # every node's indexer rebuilds its index whole on reading it
BATCH = 500
Progress = Callable[[int, int], None]


@dataclass
class Pass:
    events: int  # events read
    indexed: int  # books (re)indexed
    deleted: int
    last_event: int
    rebuilt: bool = False  # the whole index was rebuilt: it had been built with another search key
    built: bool = False  # the index had never been built: it was built whole (a new node's index)
    requested: bool = False  # rebuilt whole, as a `reindex-request` event asked


def book_entry(catalogue: Catalogue, row: CardRow) -> BookEntry:
    card = json.loads(row.card_json)
    pages = []
    if PAGES_FILE in catalogue.store.logical_paths(row.id):
        pages = page_documents(row.id, json.loads(catalogue.store.read_bytes(row.id, PAGES_FILE)))
    return book_document(card), pages


def request_rebuild(catalogue: Catalogue, actor: str) -> None:
    """Ask every node's indexer to rebuild its own index whole (`guji reindex --all-nodes`)."""
    catalogue.record_event(REBUILD_REQUEST, actor)


def events_behind(catalogue: Catalogue, last_event: int) -> int:
    """How many events after `last_event` change what the index holds."""
    return catalogue.count_events_after(last_event, ignoring=IGNORED_EVENTS, naming_none=(REBUILD_REQUEST,))


def index_behind(catalogue: Catalogue) -> int:
    """How many events that change the index this process's index (GUJI_INDEX_DIR) has not applied:
    all of them while it has never been built."""
    directory = index_dir(catalogue.home, backend_name(None, catalogue.settings))
    return events_behind(catalogue, int(read_state(directory).get("last_event", 0)))


class Indexer:
    def __init__(self, catalogue: Catalogue, backend: str | None = None):
        self.catalogue = catalogue
        self.backend_name = backend_name(backend, catalogue.settings)
        self.directory = index_dir(catalogue.home, self.backend_name)
        self.backend: SearchBackend = open_backend(catalogue.home, self.backend_name, writable=True)

    def close(self) -> None:
        self.backend.close()

    @property
    def last_event(self) -> int:
        return int(read_state(self.directory).get("last_event", 0))

    def behind(self) -> int:
        """How many events that change the index it has not applied yet."""
        return events_behind(self.catalogue, self.last_event)

    def run_once(self) -> Pass:
        """Apply every event newer than the last one applied — or, when the index has never been built
        or was built with another search key (a new 異體字 table), build it whole first."""
        check_schema(self.directory)
        if not read_state(self.directory):
            count = self.rebuild(audit=False)  # one node's own replica: not an event of the catalogue
            return Pass(0, count, 0, self.last_event, built=True)
        if stale_key(self.directory):
            count = self.rebuild()
            return Pass(0, count, 0, self.last_event, rebuilt=True)
        total = Pass(0, 0, 0, self.last_event)
        while True:
            events = self.catalogue.events_after(total.last_event, BATCH)
            if not events:
                return total
            if any(kind == REBUILD_REQUEST for _, kind, _ in events):
                count = self.rebuild(audit=False)  # from everything the catalogue holds now: the rest is in it
                return Pass(total.events + len(events), count, 0, self.last_event, requested=True)
            touched = sorted({object_id for _, kind, object_id in events
                              if object_id and kind not in IGNORED_EVENTS})
            indexed, deleted = self.reindex_books(touched)
            total = Pass(total.events + len(events), total.indexed + indexed, total.deleted + deleted, events[-1][0])
            write_state(self.directory, last_event=total.last_event, backend=self.backend_name, key=key_version())

    def reindex_books(self, book_ids: list[str]) -> tuple[int, int]:
        if not book_ids:
            return 0, 0
        rows = self.catalogue.public_rows(book_ids)
        gone = [book_id for book_id in book_ids if book_id not in rows]
        if rows:
            self.backend.index(book_entry(self.catalogue, rows[book_id]) for book_id in book_ids if book_id in rows)
        if gone:
            self.backend.delete(gone)
        return len(rows), len(gone)

    def run(self, interval: float = 1.0, stop: Callable[[], bool] = lambda: False,
            announce: Callable[[Pass], None] | None = None, waiting: Callable[[], None] | None = None,
            unreachable: Callable[[str], None] | None = None) -> None:
        """Apply events as they come, every `interval` seconds, until `stop()` says so.

        One indexer per index: a second one (a restarted server's, while the old server's indexer
        still finishes its pass) waits until the first has ended — `waiting()` is called once —
        rather than fight it for the index's write lock. While the catalogue database is out of
        reach (a PostgreSQL restart) it keeps trying — `unreachable(message)` is called once per
        outage — and carries on from its last applied event when the database is back."""
        lock = writer_lock(self.catalogue.home, self.backend_name)
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as sole:
            sole_indexer = told = outage = False
            while not stop():
                if not sole_indexer:
                    try:
                        fcntl.flock(sole, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        sole_indexer = True
                    except BlockingIOError:
                        if waiting and not told:
                            waiting()
                            told = True
                if sole_indexer:
                    try:
                        done = self.run_once()
                    except Exception as error:
                        if not is_outage(error):
                            raise
                        if unreachable and not outage:
                            unreachable(str(unavailable(error, self.catalogue.engine.url)))
                        outage = True
                    else:
                        outage = False
                        if announce and (done.events or done.rebuilt or done.built):
                            announce(done)
                time.sleep(interval)

    def rebuild(self, progress: Progress | None = None, audit: bool = True) -> int:
        """Rebuild the whole index from the catalogue DB and OCFL (`audit`: record a ``reindex`` event)."""
        since = self.catalogue.last_event_id()
        rows = [row for row in self.catalogue.list_rows() if row.status != WITHDRAWN]

        def entries() -> Iterator[BookEntry]:
            for done, row in enumerate(rows, start=1):
                yield book_entry(self.catalogue, row)
                if progress:
                    progress(done, len(rows))

        count = self.backend.rebuild(entries())
        write_state(self.directory, last_event=since, backend=self.backend_name, key=key_version())
        if audit:
            self.catalogue.record_event("reindex", "system", books=count, backend=self.backend_name)
        return count
