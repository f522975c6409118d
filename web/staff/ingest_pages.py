"""Ingest and OCR jobs (admin): ingest a book folder of the incoming directory, or OCR a book's scans;
watch a job's progress."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import RedirectResponse
from starlette.datastructures import FormData

from guji.ingest import DEFAULT_ENGINE, ENGINES
from guji.repository import Catalogue, NotFound
from guji.repository.config import upload_expiry_seconds

from ..dependencies import CatalogueDep
from ..params import DB_INT_MAX
from . import jobs, upload_pages
from .common import posted_form, staff_render
from .guard import AdminDep, StaffRoute, require_admin

router = APIRouter(route_class=StaffRoute, dependencies=[Depends(require_admin)])


def ingest_page(request: Request, catalogue: Catalogue, *, error: str | None = None, folder: str = "",
                card_id: str = "", ocr_error: str | None = None, ocr: dict | None = None, status_code: int = 200):
    upload_pages.expire(catalogue)
    rows = catalogue.list_rows()
    recent = jobs.jobs(catalogue)
    # one job per folder at a time
    busy = {row.source for row in recent if row.kind == "ingest" and row.status in jobs.ACTIVE}
    return staff_render(request, "staff/ingest.html", {
        "uploads": upload_pages.unfinished(catalogue, request.state.staff_user.name),
        "expiry_hours": round(upload_expiry_seconds() / 3600),
        "incoming": jobs.incoming_dir(catalogue.home, catalogue.settings),
        "folders": [name for name in jobs.book_folders(catalogue.home, catalogue.settings) if name not in busy],
        "cards": rows, "jobs": [(row, jobs.status(row)) for row in recent], "error": error,
        "folder": folder, "card_id": card_id, "ocr_error": ocr_error, "ocr": ocr or {},
        "scanned": [row for row in rows if (catalogue.structure(row.id) or {}).get("pages")],
        "engines": list(ENGINES), "default_engine": DEFAULT_ENGINE,
    }, status_code=status_code)


@router.get("/ingest")
def ingest(request: Request, catalogue: CatalogueDep):
    return ingest_page(request, catalogue)


@router.post("/ingest")
def start(request: Request, catalogue: CatalogueDep, user: AdminDep, form: FormData = Depends(posted_form)):
    folder, card_id = str(form.get("folder") or ""), str(form.get("card_id") or "").strip()
    try:
        job_id = jobs.start_ingest(catalogue, folder, card_id, user.name)
    except jobs.JobError as error:
        return ingest_page(request, catalogue, error=str(error), folder=folder, card_id=card_id, status_code=400)
    return RedirectResponse(f"/staff/ingest/{job_id}", status_code=303)


@router.post("/ingest/ocr")
def start_ocr(request: Request, catalogue: CatalogueDep, user: AdminDep, form: FormData = Depends(posted_form)):
    card_id, pages = str(form.get("card_id") or "").strip(), str(form.get("pages") or "")
    engine, redo = str(form.get("engine") or ""), form.get("redo") == "1"
    try:
        job_id = jobs.start_ocr(catalogue, card_id, user.name, pages, engine, redo)
    except jobs.JobError as error:
        return ingest_page(request, catalogue, ocr_error=str(error), status_code=400,
                           ocr={"card_id": card_id, "pages": pages, "engine": engine, "redo": redo})
    return RedirectResponse(f"/staff/ingest/{job_id}", status_code=303)


def job_of(catalogue: Catalogue, job_id: int):
    row = jobs.job(catalogue, job_id)
    if row is None:
        raise NotFound(f"没有编号为 {job_id} 的任务", english=f"No job {job_id}")
    return row


@router.get("/ingest/{job_id}")
def job_page(request: Request, catalogue: CatalogueDep, job_id: int = Path(ge=1, le=DB_INT_MAX)):
    return staff_render(request, "staff/job.html", {"job": jobs.status(job_of(catalogue, job_id))})


@router.get("/api/jobs/{job_id}")
def job_status(catalogue: CatalogueDep, job_id: int = Path(ge=1, le=DB_INT_MAX)):
    return jobs.status(job_of(catalogue, job_id))

