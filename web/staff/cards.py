"""Cataloguing: find cards, edit them in the schema-generated form, live checks, history with a
side-by-side diff, and the conflict page when someone else saved first."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from functools import cache
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from guji import metadata_schemas
from guji.repository import CardConflict, CardError, Catalogue, Conflict, InvalidInput, StoredCard
from guji.repository.card import FieldChange, card_diff, display_value, field_label, normalise_card
from guji.repository.card_list import SORTS, CardListQuery, card_list
from guji.repository.catalogue import new_card_id
from guji.repository.grading import suggest_grade
from guji.repository.parse import in_language
from guji.repository.withdrawal import withdrawn_since

from .. import i18n
from ..dependencies import CatalogueDep
from . import card_form
from .accounts import StaffUser
from .common import posted_form, refused_page, staff_render
from .guard import StaffRoute, UserDep
from .parse_preview import PREVIEWS, preview

REASON_FIELD = "reason"  # 修改原因
REASON_LIMIT = 500


@cache
def classification_choices() -> tuple[tuple[str, str], ...]:
    """部 and 类 of the 四部 classification for the card list's filter (code, 经部 · 易类)."""
    return tuple((code, label) for code, label in card_form.classification_options() if code.count(".") <= 1)


def _warnings(card: dict, language: str = "zh") -> list[tuple[str, str]]:
    """The parsers' warnings by field, in Chinese (the English switch keeps their English gloss)."""
    _, warnings = normalise_card(card)
    return [(warning.field, in_language(str(warning), language)) for warning in warnings]


def _changes_view(changes: list[FieldChange]) -> list[dict]:
    return [{"label": change.label, "path": change.path, "old": _shown(change.old, change.path),
             "new": _shown(change.new, change.path)} for change in card_form.in_form_order(changes)]


def _shown(value, path: str = "") -> str:
    """A value as staff read it (是/否, lists joined with 、, codes with their label), — for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    return display_value(value, path)


router = APIRouter(route_class=StaffRoute)


def edit_page(request: Request, catalogue: Catalogue, *, stored: StoredCard | None, card: dict, base_version: int,
              reason: str = "", problems: list[dict] | None = None, read: card_form.FormReading | None = None,
              notice: str | None = None, status_code: int = 200, reason_error: str | None = None):
    warnings = _warnings(card, i18n.language_of(request))
    fields, unplaced = card_form.bind(card, problems, warnings, read.typed if read else None,
                                      read.problems if read else None)
    return staff_render(request, "staff/edit.html", {
        "stored": stored, "card": card, "fields": fields, "unplaced": unplaced,
        "folded_groups": card_form.FOLDED_WHEN_EMPTY,
        "base_version": base_version, "reason": reason, "reason_error": reason_error, "notice": notice,
        "suggestion": suggest_grade(card) if stored else None,
        "withdrawal": withdrawn_since(catalogue, stored) if stored else None,
        "new_id": "" if stored else card.get("id", ""),
        "problem_count": len(problems or []) + len(read.problems if read else {}),
    }, status_code=status_code)


# ---- finding ------------------------------------------------------------------------------


@router.get("/cards")
def cards(request: Request, catalogue: CatalogueDep, q: str = Query("", max_length=100),
          classification: str = Query("", alias="class", max_length=16, pattern=r"^[0-9.]*$"),
          edition_type: str = Query("", max_length=16), extant: str = Query("", max_length=32),
          editor: str = Query("", max_length=64), since: date | None = Query(None),
          sort: str = Query("call_number", pattern="^(" + "|".join(SORTS) + ")$"),
          order: str = Query("asc", pattern="^(asc|desc)$"), page: int = Query(1, ge=1, le=100_000)):
    """The card list: filter by 题名/编号, 分类, 版本类型, 存卷, 修改人 and last change; sort by any column."""
    query = CardListQuery(q.strip(), classification.strip("."), edition_type, extant, editor, since, sort,
                          order == "desc", page)
    listing = card_list(catalogue, query)
    filters = {"q": q, "class": classification, "edition_type": edition_type, "extant": extant,
               "editor": editor, "since": since.isoformat() if since else ""}

    def link(**changed) -> str:
        wanted = {**filters, "sort": sort, "order": order, "page": page, **changed}
        kept = {key: value for key, value in wanted.items()
                if value and (key, value) not in (("sort", "call_number"), ("order", "asc"), ("page", 1))}
        return "/staff/cards" + (f"?{urlencode(kept)}" if kept else "")

    return staff_render(request, "staff/cards.html", {
        "listing": listing, "rows": listing.rows, "filters": filters, "sort": sort, "order": order, "link": link,
        "filtered": any(filters.values()), "total": catalogue.count(), "classes": classification_choices(),
    })


# ---- editing ------------------------------------------------------------------------------


@router.get("/cards/new")
def new_card(request: Request, catalogue: CatalogueDep):
    card = {"record_type": "guji", "edition": {}}
    return edit_page(request, catalogue, stored=None, card=card, base_version=0, reason="新编卡片")


@router.get("/cards/{card_id}/edit")
def edit(request: Request, card_id: str, catalogue: CatalogueDep):
    stored = catalogue.get(card_id)
    return edit_page(request, catalogue, stored=stored, card=stored.card, base_version=stored.version)


def submitted(catalogue: Catalogue, form: FormData, stored: StoredCard | None):
    """The form's based-on version, its 修改原因 and the card it holds (a new card gets its id)."""
    base_version = _int(form.get("base_version"), stored.version if stored else 0)
    reason = str(form.get(REASON_FIELD) or "").strip()
    base_card = catalogue.get(stored.id, base_version).card if stored and 0 < base_version <= stored.head \
        else (stored.card if stored else None)
    read = card_form.read_form(form, base_card)
    if not stored:
        wanted = str(form.get("new_id") or "").strip()
        read.card["id"] = wanted or new_card_id()
    return base_version, reason, read


def _reason_error(reason: str) -> str | None:
    """What is wrong with the 修改原因 typed (None: nothing)."""
    if not reason:
        return "请填写修改原因：说明为什么修改（如「据原书卷端核对」），它会记入修订记录"
    if len(reason) > REASON_LIMIT:
        return f"修改原因过长（{len(reason)} 字），请控制在 {REASON_LIMIT} 字以内"
    return None


def save(request: Request, catalogue: Catalogue, user: StaffUser, form: FormData, card_id: str | None):
    """Save the edit form as a new card or a new version: the form again with every problem, the
    conflict page when someone saved first, else the card's history."""
    stored = catalogue.get(card_id) if card_id else None
    base_version, reason, read = submitted(catalogue, form, stored)
    if stored is not None and not 1 <= base_version <= stored.head:
        return refused_page(request, 400, "表单不完整（没有有效的基于版本），请重新打开编辑页")
    card = read.card
    reason_error = _reason_error(reason)
    if reason_error or read.problems:  # show every problem at once, the card's own ones too
        problems = metadata_schemas.validate_card(normalise_card(card)[0])
        return edit_page(request, catalogue, stored=stored, card=card, base_version=base_version, reason=reason,
                         read=read, problems=problems, reason_error=reason_error, status_code=422)
    try:
        if stored is None:
            result = catalogue.create(card, editor=user.name, reason=reason)
        else:
            result = catalogue.save(stored.id, card, editor=user.name, reason=reason, base_version=base_version)
    except CardConflict as conflict:
        return conflict_page(request, catalogue, conflict, base_version, card, reason)
    except (CardError, InvalidInput, Conflict) as error:  # CardError names fields; also a bad or taken new id
        problems = getattr(error, "problems", None) or [{"path": "", "message": str(error)}]
        return edit_page(request, catalogue, stored=stored, card=card, base_version=base_version, reason=reason,
                         problems=problems, read=read, status_code=422)
    if not result.changed:
        return edit_page(request, catalogue, stored=stored, card=stored.card, base_version=stored.version,
                         reason=reason, notice="没有改动任何字段，未生成新版本")
    return RedirectResponse(f"/staff/cards/{result.id}/history?saved={result.version}", status_code=303)


@router.post("/cards/new")
def create(request: Request, catalogue: CatalogueDep, user: UserDep, form: FormData = Depends(posted_form)):
    return save(request, catalogue, user, form, None)


@router.post("/cards/{card_id}/edit")
def update(request: Request, card_id: str, catalogue: CatalogueDep, user: UserDep,
           form: FormData = Depends(posted_form)):
    return save(request, catalogue, user, form, card_id)


# ---- live checks (JSON) ---------------------------------------------------------------------


@router.get("/api/parse")
def parse(request: Request, kind: str = Query(..., max_length=32), text: str = Query("", max_length=2000)):
    if kind not in PREVIEWS:
        raise InvalidInput(f"没有「{kind}」这种解析：可用 {'、'.join(PREVIEWS)}")
    shown = preview(kind, text)
    language = i18n.language_of(request)
    shown.warnings = [in_language(warning, language) for warning in shown.warnings]
    shown.error = in_language(shown.error, language) if shown.error else None
    return asdict(shown)


@router.post("/api/check")
def check(request: Request, catalogue: CatalogueDep, form: FormData = Depends(posted_form)):
    """What a save of this form would say: problems and warnings per field, and the changes."""
    card_id = str(form.get("card_id") or "")
    stored = catalogue.get(card_id) if card_id else None
    base_version, reason, read = submitted(catalogue, form, stored)
    problems = metadata_schemas.validate_card(normalise_card(read.card)[0])
    fields, unplaced = card_form.bind(read.card, problems, _warnings(read.card, i18n.language_of(request)),
                                      read.typed, read.problems)
    placed = [
        {"name": item.name, "error": item.error, "warnings": item.warnings}
        for item in card_form._all_leaves(fields) if item.error or item.warnings
    ]
    base_card = catalogue.get(stored.id, base_version if 1 <= base_version <= stored.head else None).card \
        if stored else {}
    changes = card_diff(base_card, normalise_card(read.card)[0]) if stored else []
    return {"fields": placed, "unplaced": unplaced, "changes": _changes_view(changes),
            "reason_missing": not reason, "head": stored.head if stored else 0}


# ---- history ------------------------------------------------------------------------------


@router.get("/cards/{card_id}/history")
def history(request: Request, card_id: str, catalogue: CatalogueDep, a: int | None = Query(None, ge=1),
            b: int | None = Query(None, ge=1), saved: int | None = None):
    stored = catalogue.get(card_id)
    head = stored.head
    b = min(b or head, head)
    a = min(a if a is not None else max(1, b - 1), head)
    old, new = catalogue.get(card_id, a).card, catalogue.get(card_id, b).card
    if head == 1:  # a new card: what its one version holds, field by field
        old, a = {}, 0
    changes = card_diff(old, new) if a != b else []
    return staff_render(request, "staff/history.html", {
        "stored": stored, "a": a, "b": b, "changes": _changes_view(changes), "saved": saved,
        "version_a": stored.versions[a - 1] if a else None, "version_b": stored.versions[b - 1],
        "withdrawal": withdrawn_since(catalogue, stored),
    })


# ---- conflicts ----------------------------------------------------------------------------


def conflict_page(request: Request, catalogue: Catalogue, conflict: CardConflict, base_version: int, mine: dict,
                  reason: str):
    base = catalogue.get(conflict.card_id, base_version).card if base_version else {}
    theirs = conflict.theirs
    units = card_form.merge_units(base, theirs, mine)
    since = conflict.current.versions[base_version:]
    return staff_render(request, "staff/conflict.html", {
        "conflict": conflict, "card_id": conflict.card_id, "base_version": base_version,
        "head": conflict.current.head, "since": since, "reason": reason,
        "units": [{"path": unit.path, "label": unit.field.title, "conflict": unit.conflict,
                   "theirs_changed": unit.theirs_changed, "mine_changed": unit.mine_changed,
                   "base": _unit_text(unit.base), "theirs": _unit_text(unit.theirs), "mine": _unit_text(unit.mine)}
                  for unit in units],
        "mine_json": json.dumps(mine, ensure_ascii=False, sort_keys=True),
        "label": field_label,
    }, status_code=409)


def _mine(form: FormData) -> dict | None:
    """The editor's own card, carried along by the conflict page (None: missing or not a card)."""
    try:
        mine = json.loads(str(form.get("mine_json") or ""))
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python parses
        return None
    return mine if isinstance(mine, dict) else None


@router.post("/cards/{card_id}/merge")
def merge(request: Request, card_id: str, catalogue: CatalogueDep, user: UserDep,
          form: FormData = Depends(posted_form)):
    """Save the three-way merge chosen on the conflict page, based on the head it showed."""
    stored = catalogue.get(card_id)
    origin = _int(form.get("origin_version"), 0)
    head = _int(form.get("head_version"), 0)
    reason = str(form.get(REASON_FIELD) or "").strip() or "合并修改"
    mine = _mine(form)
    if mine is None or not 1 <= origin <= stored.head or not 1 <= head <= stored.head:
        return refused_page(request, 400, "合并表单不完整，请回到编辑页重新保存")
    mine["id"] = card_id
    base = catalogue.get(card_id, origin).card
    theirs = catalogue.get(card_id, head).card
    choices = {key[len("choice."):]: str(value) for key, value in form.items() if key.startswith("choice.")}
    merged = card_form.merge(base, theirs, mine, choices)
    try:
        result = catalogue.save(card_id, merged, editor=user.name, reason=reason, base_version=head)
    except CardConflict as conflict:  # someone saved yet again: merge against the newest version
        return conflict_page(request, catalogue, conflict, origin, mine, reason)
    except CardError as error:
        return edit_page(request, catalogue, stored=catalogue.get(card_id), card=merged, base_version=head,
                         reason=reason, problems=error.problems or [{"path": "", "message": str(error)}],
                         status_code=422)
    saved = f"?saved={result.version}" if result.changed else ""
    return RedirectResponse(f"/staff/cards/{card_id}/history{saved}", status_code=303)


def _unit_text(value: dict) -> str:
    main = value.get("main")
    if isinstance(main, dict) and "raw" in main:
        return main["raw"]
    if isinstance(main, dict) and "code" in main:
        return " ".join(filter(None, [main.get("code"), main.get("bu"), main.get("lei"), main.get("shu")]))
    return _shown(main)


def _int(value, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default
