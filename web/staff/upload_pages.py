"""Scans uploaded from the browser (admin): the JSON API that static/upload.js drives.

    POST   /staff/api/uploads                          {card_id, name, files: [{path, size}]} → the session
    GET    /staff/api/uploads/{id}                     the session: what has arrived of each file
    PUT    /staff/api/uploads/{id}/files/{n}?offset=N  one chunk (X-Chunk-SHA256: its SHA-256) → received
    POST   /staff/api/uploads/{id}/files/{n}/complete  {sha256} of the whole file
    POST   /staff/api/uploads/{id}/finish              the book folder goes to the incoming directory
                                                       and its ingest job starts → {job, url}
    DELETE /staff/api/uploads/{id}                     cancel

Every request carries the CSRF token in X-CSRF-Token, as the staff route class requires of every
POST, PUT and DELETE; the session belongs to the admin who opened it. The sessions themselves are
:mod:`ingest.upload`. Chunks are at most 8 MiB and never more than GUJI_UPLOAD_LIMIT_MB, the
largest request body the staff workspace takes.
"""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from guji.ingest import upload
from guji.repository import Catalogue, Conflict, InvalidInput, NotFound
from guji.repository.config import upload_book_limit, upload_expiry_seconds, upload_file_limit

from ..dependencies import CatalogueDep, SettingsDep
from . import jobs
from .guard import AdminDep, StaffRoute, require_admin

ROOT = FilePath(__file__).resolve().parents[2]
SHA256_JS = ROOT / "node_modules" / "js-sha256" / "build" / "sha256.min.js"  # npm ci, pinned in package.json
MAX_OFFSET = 2**53  # what a browser's Number holds exactly
JsonBody = Annotated[dict, Body()]
CACHED = {"Cache-Control": "private, max-age=86400"}


def limits(body_limit: int) -> upload.UploadLimits:
    return upload.UploadLimits(file_bytes=upload_file_limit(), book_bytes=upload_book_limit(),
                               chunk_bytes=min(upload.CHUNK_BYTES, body_limit), expiry_seconds=upload_expiry_seconds())


router = APIRouter(route_class=StaffRoute, dependencies=[Depends(require_admin)])


def incoming(catalogue: Catalogue) -> FilePath:
    return jobs.incoming_dir(catalogue.home)  # GUJI_INCOMING, read per request like the ingest page does


async def _limits(settings: SettingsDep) -> upload.UploadLimits:
    return limits(settings.upload_limit)


def _owned(token: str, catalogue: CatalogueDep, user: AdminDep) -> upload.UploadSession:
    """The admin's own upload session `token` (NotFound for anybody else's; a plain `def`: it reads a file)."""
    return upload.find(incoming(catalogue), token, user.name)


LimitsDep = Annotated[upload.UploadLimits, Depends(_limits)]
OwnedDep = Annotated[upload.UploadSession, Depends(_owned)]


def answer(session: upload.UploadSession, chosen: upload.UploadLimits) -> dict:
    return {**session.status(), "chunk_bytes": chosen.chunk_bytes}


@router.get("/upload/sha256.js")
def sha256_script():
    if not SHA256_JS.is_file():
        raise NotFound("js-sha256 没有安装：请运行 make install（npm ci）")
    return FileResponse(SHA256_JS, media_type="text/javascript", headers=CACHED)


@router.post("/api/uploads")
def open_upload(payload: JsonBody, catalogue: CatalogueDep, user: AdminDep, chosen: LimitsDep):
    card_id = str(payload.get("card_id") or "").strip()
    if not catalogue.exists(card_id):
        raise InvalidInput(f"没有标识为「{card_id[:64]}」的卡片：请先建卡片，再上传影像")
    expire(catalogue)
    # a request the upload cannot take: UploadRefused, answered with its status (and `received`)
    session = upload.open_session(incoming(catalogue), catalogue.home.root, user.name, card_id,
                                  str(payload.get("name") or ""), payload.get("files"), chosen)
    return answer(session, chosen)


@router.get("/api/uploads/{token}")
def upload_status(session: OwnedDep, chosen: LimitsDep):
    return answer(session, chosen)


@router.put("/api/uploads/{token}/files/{index}")
async def chunk(request: Request, session: OwnedDep, chosen: LimitsDep, index: int = Path(ge=0, le=upload.MAX_FILES),
                offset: int = Query(ge=0, le=MAX_OFFSET)):
    data = await request.body()
    received = await run_in_threadpool(upload.put_chunk, session, index, offset, data,
                                       request.headers.get("x-chunk-sha256", ""), chosen)
    return {"received": received}


@router.post("/api/uploads/{token}/files/{index}/complete")
def complete(session: OwnedDep, payload: JsonBody, index: int = Path(ge=0, le=upload.MAX_FILES)):
    upload.complete_file(session, index, payload.get("sha256"))
    return {"done": True}


@router.post("/api/uploads/{token}/finish")
def finish(session: OwnedDep, catalogue: CatalogueDep, user: AdminDep):
    folder = upload.finish(session, incoming(catalogue))
    try:
        job_id = jobs.start_ingest(catalogue, folder, session.card_id, user.name)
    except jobs.JobError as error:  # the files are kept: say where, and how to go on
        raise Conflict(f"文件已全部收到，放在收件目录的「{folder}」中，但入藏任务没有开始：{error}。"
                       "可稍后在本页选择这个文件夹开始入藏") from error
    return {"job": job_id, "url": f"/staff/ingest/{job_id}", "folder": folder}


@router.delete("/api/uploads/{token}")
def cancel(session: OwnedDep):
    upload.cancel(session)
    return {"cancelled": True}


def expire(catalogue: Catalogue) -> list[str]:
    """Remove abandoned upload sessions (GUJI_UPLOAD_EXPIRY_HOURS without a new chunk)."""
    return upload.expire(jobs.incoming_dir(catalogue.home), upload_expiry_seconds())


def unfinished(catalogue: Catalogue, owner: str) -> list[dict]:
    """The admin's uploads in progress, for the ingest page (to resume by choosing the same files again)."""
    return [session.status() for session in upload.sessions(jobs.incoming_dir(catalogue.home), owner)]
