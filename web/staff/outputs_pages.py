"""Printed outputs from the staff workspace: guide cards (导卡, PDF), the 登记目录 (XLSX) and a card's
precious-list dossier (珍贵古籍名录申报书, DOCX or PDF).

The same functions as ``guji cards print``, ``guji cards register`` and ``guji dossier``
(:mod:`repository.outputs`); the file comes back as a download. Downloads are POSTs (the staff
route class checks the sign-in and the CSRF token); the dossier page first shows the pre-flight
warnings for the chosen list, pages and applicant, and its download button sends exactly those
choices. Withdrawn cards are left out of guide cards and the 登记目录, as on the command line.

    GET  /staff/outputs                    guide cards and 登记目录 for chosen cards or all
    POST /staff/outputs/guide-cards        → PDF   (ids, references, changed_since); with GUJI_QUEUE a print
                                             job instead, and a redirect to its page:
    GET  /staff/outputs/jobs/{job}         the print job's progress, then its download (any staff member)
    GET  /staff/api/outputs/jobs/{job}     the same as JSON, polled by the page
    GET  /staff/outputs/jobs/{job}/pdf     → PDF, once the job is done (kept seven days)
    POST /staff/outputs/register           → XLSX  (ids, references; none: every card)
    POST /staff/outputs/dossier-round/check  an application round: every chosen book's pre-flight check
    POST /staff/outputs/dossier-round      → ZIP: 申报汇总表 (XLSX, PDF), 预检结果.txt, each book's dossier
    GET  /staff/cards/{id}/outputs         the card's outputs: dossier options, warnings, preview
    POST /staff/cards/{id}/dossier         → DOCX or PDF (format, list, pages, applicant, preparer, contact)
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, QueryParams

from guji.repository import Catalogue, InvalidInput, NotFound, Refused, local_time
from guji.repository.job_records import output_of
from guji.repository.outputs.application_round import MAX_BOOKS, build_round, round_zip
from guji.repository.outputs.dossier import build_dossier, dossier_bytes, scopes
from guji.repository.outputs.guide_cards import ALL_WITHDRAWN, print_guide_cards
from guji.repository.outputs.print_jobs import KIND as PRINT_JOB
from guji.repository.outputs.print_jobs import file_names, start_print
from guji.repository.outputs.register import write_register
from guji.repository.outputs.sample_pages import choose_pages
from guji.repository.outputs.selection import (
    SelectionError,
    parse_since,
    resolve_references,
    select_cards,
    split_references,
)
from guji.repository.withdrawal import is_withdrawn

from ..dependencies import CatalogueDep
from ..params import DB_INT_MAX, whole_number
from . import jobs
from .common import posted_form, staff_render
from .guard import StaffRoute, UserDep

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"docx": DOCX, "pdf": PDF}
TEXT_LIMIT = 20_000  # characters of typed references
APPLICANT_LIMIT = 200
PERSON_LIMIT = 100  # 填表人, 联系方式, 批次
ZIP = "application/zip"
MIN_WIDTH, MAX_WIDTH = 100, 4000


def attachment(data: bytes, media_type: str, filename: str, ascii_name: str) -> Response:
    """A download: `filename` (may be Chinese, RFC 6266 filename*) with an ASCII fallback."""
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    return Response(data, media_type=media_type,
                    headers={"Content-Disposition": disposition, "Cache-Control": "no-store"})


def _references(form: FormData) -> list[str]:
    """Cards ticked on a list (`ids`) and typed ones (`references`: ids, 索书号 or 普查编号)."""
    typed = str(form.get("references") or "")[:TEXT_LIMIT]
    ticked = [str(value) for value in form.getlist("ids")]
    return list(dict.fromkeys(split_references([*ticked, typed.replace("\n", " ")])))


@dataclass
class DossierChoices:
    """What the dossier page was asked for (query string) or its download button sends (form)."""

    scope: str = "provincial"
    format: str = "docx"
    pages: list[str] = field(default_factory=list)  # 书影 chosen by staff; empty: the 卷端 pages
    width: int | None = None
    applicant: str = ""
    preparer: str = ""  # 填表人
    contact: str = ""  # 联系方式
    problems: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, values: QueryParams | FormData) -> DossierChoices:
        choices = cls()
        scope = str(values.get("list") or choices.scope)
        if scope in scopes():
            choices.scope = scope
        else:
            choices.problems.append(f"名录「{scope}」不存在：请选 national（国家）或 provincial（省级）")
        format_ = str(values.get("format") or choices.format)
        if format_ in FORMATS:
            choices.format = format_
        else:
            choices.problems.append(f"格式「{format_}」不可用：请选 docx 或 pdf")
        choices.pages = [str(page).strip() for page in values.getlist("pages") if str(page).strip()][:50]
        width = str(values.get("width") or "").strip()
        if width:
            number = whole_number(width)
            if number is not None and MIN_WIDTH <= number <= MAX_WIDTH:
                choices.width = number
            else:
                choices.problems.append(f"书影宽度「{width}」应为 {MIN_WIDTH}–{MAX_WIDTH} 之间的整数（像素）")
        choices.applicant = _text(values, "applicant", APPLICANT_LIMIT)
        choices.preparer = _text(values, "preparer", PERSON_LIMIT)
        choices.contact = _text(values, "contact", PERSON_LIMIT)
        return choices

    @property
    def people(self) -> dict:
        """What every dossier of these choices is built with besides the card."""
        return {"applicant": self.applicant or None, "preparer": self.preparer, "contact": self.contact}


def _text(values: QueryParams | FormData, name: str, limit: int) -> str:
    """A one-line text box: control characters (a pasted line break …) become spaces, cut at `limit`."""
    text = "".join(" " if not character.isprintable() else character for character in str(values.get(name) or ""))
    return " ".join(text.split())[:limit]


router = APIRouter(route_class=StaffRoute)


def outputs_page(request: Request, catalogue: Catalogue, *, error: str | None = None, references: str = "",
                 changed_since: str = "", status_code: int = 200):
    return staff_render(request, "staff/outputs.html", {
        "error": error, "references": references, "changed_since": changed_since, "total": catalogue.count(),
        "choices": DossierChoices(), "scopes": scopes(), "name": "",
    }, status_code=status_code)


@router.get("/outputs")
def outputs(request: Request, catalogue: CatalogueDep):
    return outputs_page(request, catalogue)


def _guide_card_ids(catalogue: Catalogue, references: list[str], changed_since: str) -> list[str]:
    """The cards chosen for guide cards: those named (none: all) changed since the day given, if one is."""
    since = parse_since(changed_since) if changed_since else None
    card_ids = select_cards(catalogue, references or None, since)
    if not card_ids:
        since_note = f"（{changed_since} 以来没有修改过的卡片）" if since else ""
        raise SelectionError(f"没有符合条件的卡片{since_note}")
    return card_ids


@router.post("/outputs/guide-cards")
def guide_cards(request: Request, catalogue: CatalogueDep, user: UserDep, form: FormData = Depends(posted_form)):
    references = _references(form)
    changed_since = str(form.get("changed_since") or "").strip()[:40]
    typed = " ".join(references)
    try:
        card_ids = _guide_card_ids(catalogue, references, changed_since)
        if catalogue.settings.queue_url:  # a worker prints them; the job page offers the PDF
            job_id = start_print(catalogue, card_ids if references or changed_since else None, user.name)
            return RedirectResponse(f"/staff/outputs/jobs/{job_id}", status_code=303)
        result = print_guide_cards(catalogue, card_ids)
    except SelectionError as error:
        return outputs_page(request, catalogue, error=str(error), references=typed, changed_since=changed_since,
                            status_code=422)
    except InvalidInput:  # render_guide_cards: every chosen card is withdrawn
        return outputs_page(request, catalogue, error=ALL_WITHDRAWN, references=typed,
                            changed_since=changed_since, status_code=422)
    stamp = local_time.file_stamp()
    return _guide_cards_download(result.pdf, stamp, result.cards, len(result.warnings))


def _guide_cards_download(pdf: bytes, stamp: str, cards: int, warnings: int) -> Response:
    response = attachment(pdf, PDF, *file_names(stamp))
    response.headers["X-Guji-Cards"] = str(cards)
    if warnings:
        response.headers["X-Guji-Warnings"] = str(warnings)
    return response


def _print_job(catalogue: Catalogue, job_id: int):
    row = jobs.job(catalogue, job_id)
    if row is None or row.kind != PRINT_JOB:
        raise NotFound(f"没有编号为 {job_id} 的打印任务", english=f"No print job {job_id}")
    return row


JobId = PathParam(ge=1, le=DB_INT_MAX)


@router.get("/outputs/jobs/{job_id}")
def print_job_page(request: Request, catalogue: CatalogueDep, job_id: int = JobId):
    return staff_render(request, "staff/job.html", {"job": jobs.status(_print_job(catalogue, job_id))})


@router.get("/api/outputs/jobs/{job_id}")
def print_job_status(catalogue: CatalogueDep, job_id: int = JobId):
    return jobs.status(_print_job(catalogue, job_id))


@router.get("/outputs/jobs/{job_id}/pdf")
def print_job_download(catalogue: CatalogueDep, job_id: int = JobId):
    row = _print_job(catalogue, job_id)
    stored = output_of(catalogue, job_id) if row.status == "done" else None
    if stored is None:
        reason = ("已过保留期（7 天）被删除，请重新打印" if row.status == "done"
                  else "还没有做好，请稍候" if row.status in jobs.ACTIVE else "没有做成，没有可下载的文件")
        raise NotFound(f"打印任务 #{job_id} 的导卡{reason}",
                       english=f"The guide cards of print job {job_id} cannot be downloaded")
    result = jobs.status(row)["result"]
    return _guide_cards_download(stored.data, str(result.get("stamp") or local_time.file_stamp()), row.done,
                                 len(result.get("warnings") or []))


@router.post("/outputs/register")
def register(request: Request, catalogue: CatalogueDep, form: FormData = Depends(posted_form)):
    references = _references(form)
    try:
        card_ids = resolve_references(catalogue, references) if references else None
    except SelectionError as error:
        return outputs_page(request, catalogue, error=str(error), references=" ".join(references), status_code=422)
    with tempfile.TemporaryDirectory(prefix="guji-register-") as folder:
        path = Path(folder) / "register.xlsx"
        rows = write_register(catalogue, path, card_ids)
        data = path.read_bytes()
    stamp = local_time.file_stamp()
    response = attachment(data, XLSX, f"登记目录-{stamp}.xlsx", f"register-{stamp}.xlsx")
    response.headers["X-Guji-Rows"] = str(rows)
    return response


# ---- an application round (申报批次) ------------------------------------------------------------


def round_page(request: Request, catalogue: Catalogue, *, references: list[str], choices: DossierChoices,
               name: str, notice: str | None = None, status_code: int = 200):
    problems = list(choices.problems)
    application = None
    if not problems:
        try:
            card_ids = resolve_references(catalogue, references)
            application = build_round(catalogue, card_ids, scope=choices.scope, name=name, width=choices.width,
                                      **choices.people)
        except (InvalidInput, NotFound, Refused) as error:  # unknown references, none chosen, too many
            problems.append(str(error))
    return staff_render(request, "staff/dossier_round.html", {
        "application": application, "choices": choices, "scopes": scopes(), "name": name,
        "references": " ".join(references), "problems": problems, "notice": notice, "max_books": MAX_BOOKS,
    }, status_code=422 if problems else status_code)


@router.post("/outputs/dossier-round/check")
def dossier_round_check(request: Request, catalogue: CatalogueDep, form: FormData = Depends(posted_form)):
    return round_page(request, catalogue, references=_references(form), choices=DossierChoices.read(form),
                      name=_text(form, "round", PERSON_LIMIT))


@router.post("/outputs/dossier-round")
def dossier_round(request: Request, catalogue: CatalogueDep, form: FormData = Depends(posted_form)):
    references, choices = _references(form), DossierChoices.read(form)
    name = _text(form, "round", PERSON_LIMIT)
    checked = dict(str(value).rpartition(":")[::2] for value in form.getlist("checked"))
    if choices.problems:
        return round_page(request, catalogue, references=references, choices=choices, name=name)
    try:
        application = build_round(catalogue, resolve_references(catalogue, references), scope=choices.scope,
                                  name=name, width=choices.width, **choices.people)
    except (InvalidInput, NotFound, Refused):
        return round_page(request, catalogue, references=references, choices=choices, name=name)
    versions = {book.dossier.card_id: str(book.dossier.version) for book in application.books}
    if versions != checked:
        # a card was saved after the check (or the list changed): show the new check before any download
        return round_page(request, catalogue, references=references, choices=choices, name=name, status_code=409,
                          notice="检查之后有卡片又保存过：请核对下面更新后的预检结果，再下载")
    data = round_zip(application, choices.format)
    stamp = local_time.file_stamp()
    title = f"{application.scope_label}{application.name}申报-{stamp}.zip"
    return attachment(data, ZIP, title, f"dossier-round-{choices.scope}-{stamp}.zip")


# ---- one card -------------------------------------------------------------------------------


def _scanned_pages(catalogue: Catalogue, stored, structure: dict | None) -> tuple[list[dict], set[str]]:
    """The book's pages, and those of them with images published (to choose 书影 from)."""
    book_pages = [entry for entry in (structure or {}).get("pages") or [] if entry.get("page")]
    scanned = {entry["page"] for entry in book_pages
               if catalogue.home.derivatives.joinpath(stored.id, str(entry["page"])).is_dir()}
    return book_pages, scanned


def card_outputs_page(request: Request, catalogue: Catalogue, stored, choices: DossierChoices, *,
                      notice: str | None = None, status_code: int = 200):
    structure = catalogue.structure(stored.id)
    problems = list(choices.problems)
    dossier = None
    if not problems:
        try:
            dossier = build_dossier(catalogue, stored.id, scope=choices.scope, pages=choices.pages or None,
                                    width=choices.width, **choices.people)
        except (InvalidInput, NotFound, Refused) as error:  # pages the book lacks, an unknown list …
            problems.append(str(error))
    default_pages = choose_pages(structure, None, catalogue.settings.dossier_pages)
    book_pages, scanned = _scanned_pages(catalogue, stored, structure)
    return staff_render(request, "staff/card_outputs.html", {
        "stored": stored, "withdrawn": is_withdrawn(stored.card), "choices": choices, "scopes": scopes(),
        "dossier": dossier, "problems": problems, "notice": notice,
        "chosen": [page.page for page in dossier.pages] if dossier else (choices.pages or default_pages),
        "book_pages": book_pages, "scanned": scanned, "default_width": catalogue.settings.dossier_image_width,
    }, status_code=422 if problems else status_code)


@router.get("/cards/{card_id}/outputs")
def card_outputs(request: Request, card_id: str, catalogue: CatalogueDep):
    stored = catalogue.get(card_id)
    return card_outputs_page(request, catalogue, stored, DossierChoices.read(request.query_params))


@router.post("/cards/{card_id}/dossier")
def dossier_download(request: Request, card_id: str, catalogue: CatalogueDep, form: FormData = Depends(posted_form)):
    stored = catalogue.get(card_id)
    choices = DossierChoices.read(form)
    checked = str(form.get("version") or "")
    if not choices.problems and checked != str(stored.version):
        # the card changed after its warnings were shown: show the new ones before anything is downloaded
        return card_outputs_page(request, catalogue, stored, choices, status_code=409, notice=(
            f"卡片在检查之后已保存为 v{stored.version}：请核对下面更新后的检查结果，再下载申报书"))
    try:
        dossier = build_dossier(catalogue, stored.id, scope=choices.scope, pages=choices.pages or None,
                                width=choices.width, **choices.people)
    except (InvalidInput, NotFound, Refused):
        dossier = None
    if choices.problems or dossier is None:
        return card_outputs_page(request, catalogue, stored, choices)
    data = dossier_bytes(dossier, choices.format)
    suffix = f".{choices.format}"
    return attachment(data, FORMATS[choices.format], f"{dossier.scope_label}申报书-{stored.id}{suffix}",
                      f"dossier-{choices.scope}-{stored.id}{suffix}")
