"""Where a Guji installation keeps its data (the *data home*); its settings are in settings.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings, current

DEFAULT_HOME = "guji-data"
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"  # the address `guji serve` listens at by default
PUBLIC_URL = "GUJI_PUBLIC_URL"
# Set by `guji serve` for its own processes: the address it listens at (web/public_address.py).
SERVED_URL = "GUJI_SERVED_URL"
DEFAULT_TIMEZONE = "Asia/Shanghai"  # 北京时间


def public_url() -> str:
    """The base URL the public reaches this site at (no trailing slash).

    Every absolute URL Guji writes — IIIF ids, OAI identifiers, permalinks — starts with it;
    nothing stored on disk contains it, so a site can move host without rebuilding anything.
    A configured `GUJI_PUBLIC_URL` always wins (harvesters keep IIIF ids and OAI identifiers);
    without it the web site uses the address `guji serve` listens at, and other commands the
    default address of `guji serve`.
    """
    return current().public_address


def public_url_configured() -> bool:
    """Whether `GUJI_PUBLIC_URL` is set (else the public URL is a default that may be wrong)."""
    return current().public_url is not None


def timezone_name() -> str:
    """The time zone people read times in (`GUJI_TIMEZONE`, an IANA name; default Asia/Shanghai).

    Times are stored in UTC everywhere (OCFL, the catalogue DB, OAI-PMH); only what a person reads
    — pages, command output, printed cards and dossiers — is shown in this zone
    (:mod:`repository.local_time`).
    """
    return current().timezone


@dataclass(frozen=True)
class Home:
    """The data home: OCFL storage root, catalogue database and working folders.

    Layout::

        guji-data/
          ocfl/            OCFL storage root (source of truth)
          catalogue.sqlite catalogue DB (a projection of OCFL + users + events)
          staging/         versions being assembled before they are moved into ocfl/
          journal/         write intents, replayed after a crash
          locks/           one lock file per object (ocfl-py itself has no locking)
          derivatives/     IIIF tiles and thumbnails per object (rebuildable from masters)
          index/           full-text search index (rebuildable from OCFL + DB; GUJI_INDEX_DIR puts it elsewhere)
          rebuild-db/      the projection `guji rebuild-db` stages before swapping it in (transient)
    """

    root: Path
    database: str | None = None  # GUJI_DATABASE_URL; None: catalogue.sqlite in the data home
    index_root: Path | None = None  # GUJI_INDEX_DIR, this node's own index; None: index/ in the data home
    storage: str | None = None  # GUJI_STORAGE (s3://bucket/prefix); None: ocfl/ and derivatives/ here
    build_root: Path | None = None  # GUJI_BUILD_DIR (only with storage): tiles made there, shared by the workers

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None, settings: Settings | None = None) -> Home:
        """`--home` wins, then `GUJI_HOME`, then `./guji-data`."""
        settings = settings or current()
        chosen = home or settings.home or DEFAULT_HOME
        index_root = settings.index_dir.expanduser().resolve() if settings.index_dir else None
        build_root = settings.build_dir.expanduser().resolve() if settings.build_dir and settings.storage else None
        return cls(Path(chosen).expanduser().resolve(), settings.database_url, index_root, settings.storage,
                   build_root)

    @property
    def ocfl_root(self) -> Path:
        return self.root / "ocfl"

    @property
    def database_path(self) -> Path:
        return self.root / "catalogue.sqlite"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.database_path}"

    @property
    def derivatives(self) -> Path:
        """IIIF tiles and thumbnails as this host serves them, rebuildable from the masters in OCFL. With
        GUJI_STORAGE on S3 the tiles are in the bucket and this is the host's copy of what it served
        (``derivatives-mirror/``, see ingest/shared_tiles.py)."""
        return self.root / ("derivatives-mirror" if self.storage else "derivatives")

    @property
    def built_derivatives(self) -> Path:
        """Where ingest and `guji tiles rebuild` make the tiles (the same folder as :attr:`derivatives`
        unless the storage root is on S3, where they are uploaded from here): with GUJI_BUILD_DIR a folder
        every queue worker sees, so that the page a worker made is there for the worker that commits the book."""
        return self.build_root or self.root / "derivatives"

    @property
    def index(self) -> Path:
        """The search index, rebuildable from OCFL and the catalogue DB (`guji reindex`): each web node
        may keep its own (`GUJI_INDEX_DIR`), fed from the shared event log by its own indexer."""
        return self.index_root or self.root / "index"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def locks(self) -> Path:
        return self.root / "locks"

    def exists(self) -> bool:
        """Whether the storage root exists. With GUJI_STORAGE on S3 the bucket is asked when the catalogue
        opens (:meth:`repository.catalogue.Catalogue.open`); the data home then only holds work folders."""
        return self.storage is not None or (self.ocfl_root / "0=ocfl_1.1").exists()


# ---- scans uploaded from the staff workspace (web/staff/upload_pages.py, ingest/upload.py) ----------

MB = 1024 * 1024


def upload_file_limit() -> int:
    """Largest file of an upload in bytes (`GUJI_UPLOAD_FILE_LIMIT_MB`); also the largest member of a zip."""
    return int(current().upload_file_limit_mb * MB)


def upload_book_limit() -> int:
    """Largest upload (one book: all its files, or its zip unpacked) in bytes (`GUJI_UPLOAD_BOOK_LIMIT_MB`)."""
    return int(current().upload_book_limit_mb * MB)


def upload_expiry_seconds() -> float:
    """An upload nobody added to for this long is abandoned and removed (`GUJI_UPLOAD_EXPIRY_HOURS`)."""
    return current().upload_expiry_hours * 3600
