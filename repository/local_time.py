"""Times as people read them: Beijing time (or `GUJI_TIMEZONE`), in the form staff write by hand.

Everything stored keeps UTC (`2026-12-06T11:57:03Z` in OCFL inventories, the catalogue DB and the
event log; OAI-PMH answers in UTC as the protocol requires). What a person reads is converted at
the last moment:

    zh: 2026年12月6日 19:57          (a date alone: 2026年12月6日)
    en: 6 Dec 2026, 19:57            (6 Dec 2026)

A value that is not a time is shown as it is; nothing raises for a malformed stored stamp.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .config import DEFAULT_TIMEZONE, timezone_name
from .errors import SettingError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class UnknownTimezone(SettingError):
    """GUJI_TIMEZONE names no time zone (the settings check it when they are read; this is for a zone
    database that lost it since)."""


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimezone(f"GUJI_TIMEZONE「{name}」不是时区名：请写 IANA 时区名，如 {DEFAULT_TIMEZONE}（北京时间）"
                              "或 Asia/Taipei；不设则用北京时间") from None


def zone() -> ZoneInfo:
    """The zone times are shown in; raises UnknownTimezone for a bad `GUJI_TIMEZONE`."""
    return _zone(timezone_name())


def now() -> datetime:
    return datetime.now(zone())


def today() -> date:
    """Today's date where the library is (not the server's UTC date)."""
    return now().date()


def file_stamp() -> str:
    """Today (the library's day) for a download's file name: 20240510."""
    return today().strftime("%Y%m%d")


def day_start_utc(day: date) -> str:
    """Midnight of `day` in the library's zone as a stored UTC stamp (for "changed since that day")."""
    return datetime.combine(day, time.min, tzinfo=zone()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(value: str | datetime | None) -> datetime | None:
    """A stored stamp (ISO 8601, `Z` or an offset; naive ones are UTC) as an aware datetime, or None."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(value: str | datetime | None, language: str = "zh", seconds: bool = False) -> str:
    """2026年12月6日 19:57 (zh) or 6 Dec 2026, 19:57 (en), in the library's zone; '' for nothing,
    the value itself when it is not a time."""
    moment = parse(value)
    if moment is None:
        return str(value or "")
    local = moment.astimezone(zone())
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if language == "en":
        return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {clock}"
    return f"{local.year}年{local.month}月{local.day}日 {clock}"


def format_date(value: str | date | datetime | None, language: str = "zh") -> str:
    """2026年12月6日 (zh) or 6 Dec 2026 (en); a time is first put in the library's zone."""
    if isinstance(value, datetime) or (isinstance(value, str) and "T" in value):
        moment = parse(value)
        if moment is None:
            return str(value or "")
        value = moment.astimezone(zone()).date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            return value
    if value is None:
        return ""
    if language == "en":
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"
