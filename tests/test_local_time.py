"""Times as people read them: Beijing time in the form staff write, UTC kept in storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from guji.repository import SettingError, local_time
from guji.repository.outputs.selection import parse_since, utc_stamp


def test_a_stored_utc_stamp_reads_as_beijing_time():
    assert local_time.format_time("2026-12-06T11:57:03Z") == "2026年12月6日 19:57"
    assert local_time.format_time("2026-12-06T11:57:03Z", "en") == "6 Dec 2026, 19:57"
    assert local_time.format_date("2026-12-06T17:30:00Z") == "2026年12月7日"  # already the next day in Beijing
    assert local_time.format_time("not a time") == "not a time" and local_time.format_time(None) == ""


def test_the_zone_is_a_setting(monkeypatch):
    monkeypatch.setenv("GUJI_TIMEZONE", "Europe/London")
    assert local_time.format_time("2026-07-01T11:57:03Z") == "2026年7月1日 12:57"
    monkeypatch.setenv("GUJI_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingError, match="GUJI_TIMEZONE='Mars/Olympus' 无法使用：不是时区名"):
        local_time.format_time("2026-07-01T11:57:03Z")


def test_changed_since_a_date_means_midnight_in_beijing():
    assert utc_stamp(parse_since("2026-12-06")) == "2026-12-05T16:00:00Z"
    assert utc_stamp(parse_since("2026-12-06T08:00:00")) == "2026-12-06T00:00:00Z"
    assert parse_since("2026-12-06T08:00:00+00:00") == datetime(2026, 12, 6, 8, tzinfo=UTC)

