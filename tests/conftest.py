"""Shared fixtures: a fresh data home per test, and the sample cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repository import Catalogue, Home

# iiif_home, iiif_catalogue, iiif_public_url (tests/iiif_fixtures.py); browser, page (tests/browser_support.py)
pytest_plugins = ["iiif_fixtures", "browser_support"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def _settings_of_the_test():
    """A test that runs an entry point (web.cli.main …) installs its settings for the process; the next
    test reads them from its own environment again."""
    yield
    from repository.settings import use

    use(None)


@pytest.fixture
def home(tmp_path: Path) -> Home:
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
