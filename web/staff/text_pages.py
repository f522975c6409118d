"""A book's text in the staff workspace: how many pages are machine, corrected or imported, the OCR
quality report, an OCR job, and the 校对 of each page (the scan beside its lines, a crop per line,
the doubtful characters marked; a save is a new version with a reason; history and diff).

    /staff/books/{id}/text                       counts, quality report per page, the OCR button (admin)
    /staff/books/{id}/ocr                        POST: start an OCR job (admin)
    /staff/books/{id}/proofread/{page}           the 校对 form; POST saves
    /staff/books/{id}/proofread/{page}/history   the page's text through the versions, with a diff
"""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from guji.iiif.page_images import page_folder, read_info, valid_page
from guji.ingest import DEFAULT_ENGINE, ENGINES, PAGES_FILE, TextRefused, ocr_quality, page_text, save_page_correction
from guji.repository import Catalogue, NotFound, StaleVersionError, StoredCard

from ..dependencies import CatalogueDep
from . import jobs
from .common import posted_form, refused_page, staff_render
from .guard import AdminDep, StaffRoute, UserDep
from .proofreading import (
    ROLE_LABELS,
    edited_lines,
    line_diff,
    line_notation,
    page_versions,
    proof_lines,
    text_at,
)

REASON_LIMIT = 500
LOW_PAGE_CONFIDENCE = 0.6  # a page's mean OCR confidence below this is marked (guji ocr warns there too)
AUTHORITY_LABELS = {"corrected": "已校对", "imported": "导入", "machine": "机器识别，未校对"}


router = APIRouter(route_class=StaffRoute)


def scans(catalogue: Catalogue, book_id: str) -> dict[str, dict]:
    return {str(entry.get("page")): entry for entry in (catalogue.structure(book_id) or {}).get("pages") or []}


def entries(catalogue: Catalogue, book_id: str) -> list[dict]:
    if PAGES_FILE not in catalogue.store.digests(book_id):
        return []
    return json.loads(catalogue.store.read_bytes(book_id, PAGES_FILE)).get("pages") or []


# ---- the book: counts, quality, OCR -----------------------------------------------------------


def book_page(request: Request, catalogue: Catalogue, card: StoredCard, *, error: str | None = None,
              status_code: int = 200, form: dict | None = None):
    quality = ocr_quality(catalogue, card.id)
    text = entries(catalogue, card.id)
    counts = Counter(page["authority"] or "none" for page in quality["pages"])
    without_scan = sum(1 for entry in text if not entry.get("page"))
    return staff_render(request, "staff/book_text.html", {
        "card": card, "quality": quality, "counts": counts, "without_scan": without_scan,
        "authority_labels": AUTHORITY_LABELS, "engines": list(ENGINES), "default_engine": DEFAULT_ENGINE,
        "error": error, "form": form or {}, "low": LOW_PAGE_CONFIDENCE,
    }, status_code=status_code)


@router.get("/books/{book_id}/text")
def book_text(request: Request, book_id: str, catalogue: CatalogueDep):
    return book_page(request, catalogue, catalogue.get(book_id))


@router.post("/books/{book_id}/ocr")
def start_ocr(request: Request, book_id: str, catalogue: CatalogueDep, user: AdminDep,
              form: FormData = Depends(posted_form)):
    card = catalogue.get(book_id)
    pages, engine = str(form.get("pages") or ""), str(form.get("engine") or "")
    redo = form.get("redo") == "1"
    try:
        job_id = jobs.start_ocr(catalogue, book_id, user.name, pages, engine, redo)
    except jobs.JobError as error:
        return book_page(request, catalogue, card, error=str(error), status_code=400,
                         form={"pages": pages, "engine": engine, "redo": redo})
    return RedirectResponse(f"/staff/ingest/{job_id}", status_code=303)


# ---- 校对 of one page ---------------------------------------------------------------------------


def proofread_page(request: Request, catalogue: Catalogue, card: StoredCard, page: str, *,
                   lines: list[str] | None = None, roles: list[str] | None = None, reason: str = "",
                   problems: list[str] | None = None, base_version: int | None = None, conflict: dict | None = None,
                   saved: int | None = None, unchanged: bool = False, status_code: int = 200):
    located = page_text(catalogue, card.id, page)
    covering = None
    if located is None:
        covering = next((e for e in entries(catalogue, card.id) if page in (e.get("covers") or [])), None)
    info = read_info(page_folder(catalogue.home.derivatives, card.id, page)) or {}
    shown = proof_lines(located) if located else []
    if lines is None:  # as stored; otherwise what the proofreader typed
        lines = [line.notation for line in shown]
        roles = [line.role or "" for line in shown]
    pages = scans(catalogue, card.id)
    order = list(pages)
    index = order.index(page)
    quality = next((row for row in ocr_quality(catalogue, card.id)["pages"] if row["page"] == page), {})
    return staff_render(request, "staff/proofread.html", {
        "card": card, "page": page, "label": pages[page].get("label") or page, "located": located,
        "covering": covering, "lines": shown, "typed": list(zip(lines, roles or [""] * len(lines), strict=False)),
        "reason": reason, "problems": problems or [], "conflict": conflict, "saved": saved, "unchanged": unchanged,
        "base_version": base_version if base_version is not None else (located.version if located else
                                                                       catalogue.store.head(card.id)),
        "width": info.get("width"), "height": info.get("height"), "authority_labels": AUTHORITY_LABELS,
        "role_labels": ROLE_LABELS, "previous": order[index - 1] if index > 0 else None,
        "next": order[index + 1] if index + 1 < len(order) else None,
        "doubtful": sum(line.doubtful for line in shown), "quality": quality, "low": LOW_PAGE_CONFIDENCE,
    }, status_code=status_code)


def scanned_page(catalogue: Catalogue, book_id: str, page: str) -> StoredCard:
    """The card of a book that has a scan of `page` (NotFound otherwise)."""
    card = catalogue.get(book_id)
    if not valid_page(page) or page not in scans(catalogue, book_id):
        raise NotFound(f"「{book_id}」没有第 {page[:16]} 页的扫描",
                       english=f"{book_id} has no scan of page {page[:16]!r}")
    return card


@router.get("/books/{book_id}/proofread/{page}")
def proofread(request: Request, book_id: str, page: str, catalogue: CatalogueDep,
              saved: int | None = Query(None, ge=1), unchanged: bool = False):
    card = scanned_page(catalogue, book_id, page)
    return proofread_page(request, catalogue, card, page, saved=saved, unchanged=unchanged)


def _base_version(form: FormData) -> int:
    try:
        return int(str(form.get("base_version") or ""))
    except ValueError:
        return 0


@router.post("/books/{book_id}/proofread/{page}")
def save(request: Request, book_id: str, page: str, catalogue: CatalogueDep, user: UserDep,
         form: FormData = Depends(posted_form)):
    card = scanned_page(catalogue, book_id, page)
    texts = [str(value) for value in form.getlist("line")]
    roles = [str(value) for value in form.getlist("role")]
    reason = str(form.get("reason") or "").strip()
    base = _base_version(form)
    head = catalogue.store.head(book_id)
    if not 1 <= base <= head:
        return refused_page(request, 400, "表单不完整（没有有效的基于版本），请重新打开校对页")
    lines, problems = edited_lines(texts, roles)
    if len(reason) > REASON_LIMIT:
        problems.append(f"校对理由过长（{len(reason)} 字），请控制在 {REASON_LIMIT} 字以内")
    typed = {"lines": texts, "roles": roles, "reason": reason, "base_version": base}
    if problems:
        return proofread_page(request, catalogue, card, page, problems=problems, status_code=422, **typed)
    # Someone else's save of another page (or of the card) is no conflict: only a change of this
    # page's text since the version the form was loaded at is.
    theirs = text_at(catalogue, book_id, page, head) if head != base else None
    if head != base and theirs != text_at(catalogue, book_id, page, base):
        return conflict(request, catalogue, card, page, typed, head)
    try:
        result = save_page_correction(catalogue, book_id, page, lines, editor=user.name, reason=reason,
                                      expected_version=head)
    except TextRefused as refusal:
        return proofread_page(request, catalogue, card, page, problems=refusal.problems, status_code=422, **typed)
    except StaleVersionError as stale:  # saved in the moment between: compare again
        return conflict(request, catalogue, card, page, typed, stale.current)
    outcome = "unchanged=1" if result.version is None else f"saved={result.version}"
    return RedirectResponse(f"/staff/books/{book_id}/proofread/{page}?{outcome}", status_code=303)


def conflict(request: Request, catalogue: Catalogue, card: StoredCard, page: str, typed: dict, head: int):
    """409: this page's text changed since the form was loaded. Theirs is shown beside the
    proofreader's own lines, which stay in the form; saving again (now based on the newest
    version) replaces theirs knowingly."""
    version = next((v for v in reversed(page_versions(catalogue, card.id, page)) if v.number <= head), None)
    theirs = [line_notation(line) for line in text_at(catalogue, card.id, page, head) or []]
    mine = [text.strip() for text in typed["lines"] if text.strip()]
    details = {"version": version, "rows": line_diff(theirs, mine)}
    return proofread_page(request, catalogue, card, page, lines=typed["lines"], roles=typed["roles"],
                          reason=typed["reason"], base_version=head, conflict=details, status_code=409)


@router.get("/books/{book_id}/proofread/{page}/history")
def history(request: Request, book_id: str, page: str, catalogue: CatalogueDep, a: int | None = Query(None, ge=1),
            b: int | None = Query(None, ge=1)):
    card = scanned_page(catalogue, book_id, page)
    versions = page_versions(catalogue, book_id, page)
    numbers = [v.number for v in versions]
    rows, old, new = [], None, None
    if versions:
        new = next((v for v in versions if v.number == b), versions[-1])
        earlier = [v for v in versions if v.number < new.number]
        old = next((v for v in versions if v.number == a), earlier[-1] if earlier else new)
        rows = line_diff(old.texts, new.texts) if old is not new else []
    return staff_render(request, "staff/proofread_history.html", {
        "card": card, "page": page, "label": scans(catalogue, book_id)[page].get("label") or page,
        "versions": versions, "numbers": numbers, "old": old, "new": new, "rows": rows,
        "authority_labels": AUTHORITY_LABELS, "compare": lambda x, y: f"?{urlencode({'a': x, 'b': y})}",
    })
