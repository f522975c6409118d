"""One settings object: every GUJI_* variable the code or the docs name is a documented setting, a
bad value is refused naming the variable, and the settings reach what uses them from the object
the entry point read (not from the environment at import time)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from guji.repository import Catalogue, SettingError
from guji.repository.settings import INTERNAL, Settings, documented

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\bGUJI_[A-Z0-9]+(?:_[A-Z0-9]+)*\b")
SEARCHED = ["repository", "ingest", "iiif", "search", "web", "bench", "samples", "docs", "tests"]


def _named_anywhere() -> dict[str, str]:
    found: dict[str, str] = {}
    files = [ROOT / "Makefile", ROOT / "README.md"]
    for folder in SEARCHED:
        files += [path for path in (ROOT / folder).rglob("*") if path.suffix in (".py", ".md", ".html", ".json", ".sh")]
    for path in files:
        for name in VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_guji_variable_named_anywhere_is_a_setting_and_every_setting_is_documented():
    settings = {item["variable"] for item in documented()}
    unknown = {name: where for name, where in _named_anywhere().items() if name not in settings | set(INTERNAL)}
    assert not unknown, f"GUJI_* names that are no setting (add them to repository/settings.py): {unknown}"
    table = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    for item in documented():
        assert f"| `{item['variable']}` |" in table, item["variable"]
        assert item["description"] and item["default"], item["variable"]


@pytest.mark.parametrize(("variable", "value", "must"), [
    ("GUJI_OAI_PAGE_SIZE", "abc", "应为 1 到 100000 之间的整数"),
    ("GUJI_OAI_PAGE_SIZE", "0", "应为 1 到 100000 之间的整数"),
    ("GUJI_OCR_ON_INGEST", "maybe", "应为 1、true、yes、on（开）或 0、false、no、off（关）"),
    ("GUJI_SEARCH_BACKEND", "solr", "应为 whoosh、tantivy 之一"),
    ("GUJI_RENDER_CACHE_MB", "nan", "应为大于 0 的兆字节数"),
    ("GUJI_PUBLIC_URL", "guji.example.org", "不是网站地址：应写成 http(s)://主机名[:端口]"),
    ("GUJI_PUBLIC_URL", "http://guji.example.cn:99999", "端口不是 1–65535 的数字"),
    ("GUJI_TIMEZONE", "Mars/Olympus", "不是时区名"),
    ("GUJI_TRUSTED_PROXIES", "127.0.0.1, nginx", "「nginx」不是 IP 地址或网段"),
    ("GUJI_RENDER_THREADS", "9" * 30, "应为 1 到 256 之间的整数"),
])
def test_a_bad_value_is_refused_naming_the_variable(variable, value, must):
    with pytest.raises(SettingError) as refused:
        Settings.from_environ({variable: value})
    assert f"{variable}=" in str(refused.value) and must in str(refused.value)
    assert refused.value.exit_code == 2 and len(str(refused.value)) < 300


def test_values_are_read_and_empty_means_unset():
    settings = Settings.from_environ({"GUJI_PUBLIC_URL": "https://guji.example.org/", "GUJI_OAI_SETS": "off",
                                      "GUJI_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "GUJI_UPLOAD_LIMIT_MB": "0.5",
                                      "GUJI_OCR_MAX_SIDE": "", "GUJI_HOME": "~/bibliotheca"})
    assert settings.public_url == "https://guji.example.org" and settings.oai_sets is False
    assert settings.trusted_proxies == ("10.0.0.0/8", "::1") and settings.upload_limit == 512 * 1024
    assert settings.ocr_max_side == 3000 and settings.home == Path.home() / "bibliotheca"


def test_the_catalogue_carries_the_settings_it_was_opened_with(home, monkeypatch):
    Catalogue.init(home).close()
    monkeypatch.setenv("GUJI_DOSSIER_PAGES", "7")
    given = Settings.from_environ({"GUJI_DOSSIER_PAGES": "3"})
    catalogue = Catalogue.open(home, settings=given)
    try:
        assert catalogue.settings.dossier_pages == 3  # what the entry point read, not the environment now
    finally:
        catalogue.close()


def test_nothing_reads_the_environment_at_import_time():
    """Modules that used to read GUJI_* when imported (tile cache, whoosh writers, render threads)."""
    for path in ("iiif/image_render.py", "search/whoosh_backend.py", "web/iiif_routes.py"):
        assert "os.environ" not in (ROOT / path).read_text(encoding="utf-8"), path


def test_the_generated_docs_are_up_to_date(capsys):
    """docs/settings.md's table and docs/cli.md's help texts are generated (`make docs`)."""
    from cogapp import Cog

    status = Cog().main(["cog", "--check", "--diff", str(ROOT / "docs" / "settings.md"), str(ROOT / "docs" / "cli.md")])
    assert status == 0, "run `make docs`:\n" + capsys.readouterr().out[-3000:]
