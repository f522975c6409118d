"""Shared fixtures: a fresh data home per test, and the sample cards.

The catalogue DB of a test's data home is SQLite; a test marked ``both_databases`` runs twice,
on SQLite and on PostgreSQL (a fresh database of the throwaway cluster of postgres_support.py).
Commands the test starts see it through ``GUJI_DATABASE_URL``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from repository import Catalogue, Home

# iiif_home, iiif_catalogue, iiif_public_url (tests/iiif_fixtures.py); browser, page (tests/browser_support.py);
# postgres_server, postgres_url (tests/postgres_support.py)
pytest_plugins = ["iiif_fixtures", "browser_support", "postgres_support"]
DATABASES = ("sqlite", "postgresql")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _settings_of_the_test():
    """A test that runs an entry point (web.cli.main …) installs its settings for the process; the next
    test reads them from its own environment again."""
    yield
    from repository.settings import use

    use(None)


def pytest_configure(config):
    os.environ.pop("GUJI_DATABASE_URL", None)  # the shell's database is never the tests': each test chooses


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


@pytest.fixture
def sample_cards() -> list[dict]:
    return json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
