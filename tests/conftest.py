"""Shared fixtures: a fresh data home per test, the sample library built once, and the sample cards.

The catalogue DB of a test's data home is SQLite; a test marked ``both_databases`` runs twice,
on SQLite and on PostgreSQL (a fresh database of the throwaway cluster of postgres_support.py).
Commands the test starts see it through ``GUJI_DATABASE_URL``.

How to write a cheap test here (the whole suite must stay well under 5 CPU-minutes):

- Build data once and share it read-only: ``sample_library`` is a data home with samples/cards.json
  imported, built once per session; a test that only reads uses it, a test that writes takes
  ``data_home``, its own copy of it (a copy costs milliseconds, an import a second). Module-scoped
  fixtures do the same for heavier data (iiif_fixtures.py: scans ingested once per module).
- Run the CLI in-process: ``guji(home, …)`` of cli_support.py (typer's CliRunner on web.cli.root);
  ``guji_process`` only where the process itself is the point (serving, kill -9, process trees, the
  console script). The web app in-process too: fastapi's TestClient. A `guji serve`, a PostgreSQL
  cluster and a Chromium are started once per module or session (browser_support.py,
  postgres_support.py), never per test.
- Make what is not the point small: a few rows prove a transaction, one small scan proves tiling,
  a crop or a fake engine proves OCR plumbing (one test per real engine); passwords are hashed with
  a cheap argon2 cost in-process (``_cheap_password_hashing`` below).
- bench/test_suite.py measures the suite (CPU per test); speed itself is measured in bench/, never
  asserted in a test.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import guji

from guji.repository import Catalogue, Home

# iiif_home, iiif_catalogue, iiif_public_url (tests/iiif_fixtures.py); browser, page (tests/browser_support.py);
# postgres_server, postgres_url (tests/postgres_support.py); s3_server, s3_storage (tests/s3_support.py);
# redis_server, redis_url (tests/redis_support.py)
pytest_plugins = ["iiif_fixtures", "browser_support", "postgres_support", "s3_support", "redis_support"]
DATABASES = ("sqlite", "postgresql")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _settings_of_the_test():
    """A test that runs an entry point (web.cli.main …) installs its settings for the process; the next
    test reads them from its own environment again."""
    yield
    from guji.repository.settings import use

    use(None)


def pytest_configure(config):
    os.environ.pop("GUJI_DATABASE_URL", None)  # the shell's database is never the tests': each test chooses
    os.environ.pop("GUJI_STORAGE", None)  # nor its storage


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_databases") and "database" in metafunc.fixturenames:
        metafunc.parametrize("database", DATABASES, indirect=True)


@pytest.fixture
def database(request) -> str:
    """The catalogue DB engine of this test (SQLite, unless the test is marked both_databases)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def database_url(request, database: str, monkeypatch) -> str | None:
    """None for SQLite in the data home; the URL of a fresh PostgreSQL database otherwise."""
    if database == "sqlite":
        return None
    url = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("GUJI_DATABASE_URL", url)
    return url


@pytest.fixture
def home(tmp_path: Path, database_url: str | None) -> Home:
    return Home.resolve(tmp_path / "guji-data")


@pytest.fixture
def catalogue(home: Home):
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    yield catalogue
    catalogue.close()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """argon2id with a small cost for the accounts made and checked in this process: the web tests sign
    in hundreds of times, at 0.45 CPU-seconds each with the library's default cost. The hash format and
    its checking are the same; real processes (`guji serve` in the browser tests) keep the real cost."""
    from argon2 import PasswordHasher

    from guji.web.staff import accounts

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        accounts._unknown_user_hash.cache_clear()
        yield
    accounts._unknown_user_hash.cache_clear()


class PreparedHomes:
    """Data homes built once per session, by name; each test (or module) that asks gets its own copy.
    Copying a home costs milliseconds; building one costs seconds where it ingests scans (each ingest
    spawns a page worker and tiles every page). SQLite only: a PostgreSQL catalogue is not in the folder."""

    def __init__(self, folders: pytest.TempPathFactory):
        self._folders = folders
        self._built: dict[str, Path] = {}

    def original(self, name: str, build: Callable[[Path], Home]) -> Path:
        """The root of the home `build(folder)` made (once): for reading only."""
        if name not in self._built:
            self._built[name] = build(self._folders.mktemp(name)).root
        return self._built[name]

    def copy(self, name: str, build: Callable[[Path], Home], target: Path) -> Home:
        """A copy of that home at `target` (a path that does not exist yet)."""
        return Home.resolve(shutil.copytree(self.original(name, build), target, symlinks=True))


@pytest.fixture(scope="session")
def prepared_homes(tmp_path_factory) -> PreparedHomes:
    return PreparedHomes(tmp_path_factory)


def _files_of(root: Path) -> dict[str, tuple[int, int]]:
    return {str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in root.rglob("*") if path.is_file()}


def _sample_library(folder: Path) -> Home:
    home = folder / "guji-data"
    guji(home, "init")
    guji(home, "cards", "import", str(ROOT / "samples" / "cards.json"))
    return Home.resolve(home)


@pytest.fixture(scope="session")
def sample_library(prepared_homes: PreparedHomes) -> Path:
    """READ-ONLY: a data home with samples/cards.json imported by `guji cards import` (editor 测试员),
    built once per session. A test that writes takes ``data_home`` instead; one that wrote here anyway
    fails the session's end, naming the files it changed."""
    home = prepared_homes.original("sample-library", _sample_library)
    built = _files_of(home)
    yield home
    now = _files_of(home)
    changed = sorted(name for name in built.keys() | now.keys() if built.get(name) != now.get(name))
    assert not changed, f"a test wrote into the read-only sample_library (use data_home): {changed}"


@pytest.fixture
def data_home(prepared_homes: PreparedHomes, tmp_path: Path) -> Path:
    """This test's own copy of the sample library, to change as it likes."""
    return prepared_homes.copy("sample-library", _sample_library, tmp_path / "data").root


def _web_collection(folder: Path) -> Home:
    from web_helpers import WEB_COLLECTION_RANGES, ingest_fixture_scans, load_samples

    home = Home.resolve(folder / "guji-data")
    catalogue = Catalogue.init(home)
    try:
        load_samples(catalogue, json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8")))
        ingest_fixture_scans(catalogue, "jingchuan-wenji", folder / "book", WEB_COLLECTION_RANGES)
    finally:
        catalogue.close()
    return home


@pytest.fixture
def collection(prepared_homes: PreparedHomes, tmp_path: Path):
    """A catalogue with the five web sample cards and 重刊荊川先生文集's three fixture scans ingested
    (卷一: 1.png 2.png, 卷二: 10.png): this test's own copy of a home built once per session."""
    catalogue = Catalogue.open(prepared_homes.copy("web-collection", _web_collection, tmp_path / "guji-data"))
    yield catalogue
    catalogue.close()


@pytest.fixture
def samples(catalogue, sample_cards):
    """The test's catalogue with the five web sample cards (web_helpers.WEB_SAMPLE_IDS)."""
    from web_helpers import load_samples

    load_samples(catalogue, sample_cards)
    return catalogue


@pytest.fixture
def cataloguer(samples):
    """A TestClient signed in as 张三, cataloguer, over `samples`."""
    from web_helpers import staff_client

    return staff_client(samples, "张三", "cataloguer")


@pytest.fixture
def admin(samples):
    """A TestClient signed in as 馆长, admin, over `samples`."""
    from web_helpers import staff_client

    return staff_client(samples, "馆长", "admin")


@pytest.fixture
def sample_cards() -> list[dict]:
    return json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
