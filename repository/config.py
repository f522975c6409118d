"""Where a Guji installation keeps its data (the *data home*); its settings are in settings.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .settings import Settings, current

DEFAULT_HOME = "guji-data"


def public_url() -> str:
    """The base URL the public reaches this site at (`GUJI_PUBLIC_URL`, no trailing slash).

    Every absolute URL Guji writes — IIIF ids, OAI identifiers, permalinks — starts with it;
    nothing stored on disk contains it, so a site can move host without rebuilding anything.
    """
    return current().public_url


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
          index/           full-text search index (rebuildable from OCFL + DB)
          rebuild-db/      the projection `guji rebuild-db` stages before swapping it in (transient)
    """

    root: Path
    database: str | None = None  # GUJI_DATABASE_URL; None: catalogue.sqlite in the data home

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None, settings: Settings | None = None) -> Home:
        """`--home` wins, then `GUJI_HOME`, then `./guji-data`."""
        settings = settings or current()
        chosen = home or settings.home or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve(), settings.database_url)

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
        """IIIF tiles and thumbnails, rebuildable from the masters in OCFL."""
        return self.root / "derivatives"

    @property
    def index(self) -> Path:
        """The search index, rebuildable from OCFL and the catalogue DB (`guji reindex`)."""
        return self.root / "index"

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
        return (self.ocfl_root / "0=ocfl_1.1").exists()
