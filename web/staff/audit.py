"""The audit log (events table): who did what to which object, when — with filters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Query, Request

from guji.repository import Catalogue, local_time

from .. import i18n
from ..dependencies import CatalogueDep
from ..event_labels import detail_value
from ..params import DB_INT_MAX
from .common import staff_render
from .guard import StaffRoute

PAGE_SIZE = 100
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class EventFilters:
    kind: str = ""
    actor: str = ""
    object_id: str = ""
    since: str = ""  # YYYY-MM-DD, inclusive
    until: str = ""  # YYYY-MM-DD, inclusive


def events(catalogue: Catalogue, filters: EventFilters, before: int | None = None, limit: int = PAGE_SIZE) -> list:
    """The events the filters leave; days are the library's (Beijing time), compared with the stored UTC stamps."""
    since = local_time.day_start_utc(date.fromisoformat(filters.since)) if filters.since else ""
    until = local_time.day_start_utc(date.fromisoformat(filters.until) + timedelta(1)) if filters.until else ""
    return catalogue.events(filters.object_id or None, limit, kinds=[filters.kind] if filters.kind else (),
                            actor=filters.actor, since=since, until=until, before=before)


def _day(text: str) -> date | None:
    """2024-05-10 as a date; None for anything else (2024-13-45 too)."""
    if not DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def detail_items(row, language: str = "zh") -> list[tuple[str, str]]:
    """The details of one event (a row of Catalogue.events) as (key, text) pairs."""
    try:
        detail = json.loads(row.detail_json or "{}")
    except ValueError:
        return [("detail", row.detail_json)]
    return [(key, detail_value(value, language, key)) for key, value in detail.items()
            if value not in (None, "", [], {})]


router = APIRouter(route_class=StaffRoute)


@router.get("/audit")
def audit(request: Request, catalogue: CatalogueDep, kind: str = Query("", max_length=32),
          actor: str = Query("", max_length=64), object_id: str = Query("", max_length=64),
          since: str = Query("", max_length=10), until: str = Query("", max_length=10),
          before: int | None = Query(None, ge=1, le=DB_INT_MAX)):
    problems = [f"「{value}」不是日期，请写成 2024-05-10"
                for value in (since, until) if value and not _day(value)]
    filters = EventFilters(kind, actor.strip(), object_id.strip(),
                           since if _day(since) else "", until if _day(until) else "")
    rows = events(catalogue, filters, before)
    language = i18n.language_of(request)
    return staff_render(request, "staff/audit.html", {
        "rows": [(row, detail_items(row, language)) for row in rows], "filters": filters,
        "kinds": catalogue.event_kinds(),
        "problems": problems, "next_before": rows[-1].id if len(rows) == PAGE_SIZE else None,
    })

