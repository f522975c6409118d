"""Batch revision: upload a revision spreadsheet → preview every change → apply.

The planning is `repository.card_import` — the same as `guji cards import --dry-run`: rows that
match existing cards (by 记录号 or 索书号) and carry a 修改原因 become one new version per changed
card with that reason; a file with any bad row cannot be applied. The upload is kept in the hidden
``.sheets/`` of the incoming folder (``GUJI_INCOMING``, shared by every web node of a site: the preview
on one node is applied on another) between preview and apply; apply plans the file again and refuses if the
plan is no longer the one previewed (someone changed a card meanwhile). A file previewed but never
applied is removed after GUJI_UPLOAD_EXPIRY_HOURS, like an abandoned upload of scans.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import FormData, UploadFile

from guji.repository import Catalogue, Refused
from guji.repository.card_import import ImportPlan, ImportRefused, UnreadableFile, apply_plan, plan_import
from guji.repository.config import upload_expiry_seconds

from ..dependencies import CatalogueDep, SettingsDep
from .card_form import in_form_order
from .common import posted_form, staff_render
from .guard import StaffRoute, UserDep
from .jobs import incoming_dir

SUFFIXES = (".xlsx", ".csv", ".json")
TOKEN = re.compile(r"^[0-9a-f]{32}$")


class UploadRefused(Refused):
    """An upload that is not a spreadsheet Guji reads, or too large; `status` says which (415, 413, 400)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _uploads(catalogue: Catalogue) -> Path:
    return incoming_dir(catalogue.home, catalogue.settings) / ".sheets"  # hidden: not a book folder


def expire_uploads(catalogue: Catalogue) -> None:
    """Remove revision sheets previewed but never applied (older than GUJI_UPLOAD_EXPIRY_HOURS)."""
    folder = _uploads(catalogue)
    oldest = time.time() - upload_expiry_seconds()
    for path in folder.glob("*") if folder.is_dir() else ():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink()
        except FileNotFoundError:
            continue  # applied or removed meanwhile


def check_upload(name: str, data: bytes, limit: int) -> str:
    """The file's suffix, if it is an allowed spreadsheet of allowed size; else UploadRefused."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise UploadRefused(f"{name}: 只接受 .xlsx、.csv 或 .json 文件（上传的是 {suffix or '无扩展名的文件'}）", 415)
    if not data:
        raise UploadRefused(f"{name}: 文件是空的")
    if len(data) > limit:
        raise UploadRefused(f"{name}: 文件过大（{len(data) / 1048576:.1f} MB），上限 {limit // 1048576} MB", 413)
    if suffix == ".xlsx" and not data.startswith(b"PK\x03\x04"):
        raise UploadRefused(f"{name}: 不是 Excel 工作簿（.xlsx 文件应是 zip 格式）；请在 Excel 中另存为 .xlsx", 415)
    if suffix in (".csv", ".json") and b"\x00" in data:
        raise UploadRefused(f"{name}: 不是文本文件（含有二进制内容）；CSV 请存为 UTF-8 或 GBK 文本", 415)
    return suffix


def fingerprint(plan: ImportPlan) -> str:
    """What applying the plan would do, as a digest: it must not change between preview and apply."""
    summary = [
        [item.row, item.action, item.card_id, item.base_version, item.reason,
         [[change.path, change.old, change.new] for change in item.changes]]
        for item in plan.items
    ]
    return hashlib.sha256(json.dumps(summary, ensure_ascii=False, sort_keys=True, default=str).encode()).hexdigest()


router = APIRouter(route_class=StaffRoute)


def batch_page(request: Request, upload_limit: int, *, error: str | None = None, status_code: int = 200):
    return staff_render(request, "staff/batch.html", {"error": error, "limit_mb": upload_limit // 1048576},
                        status_code=status_code)


def keep_upload(catalogue: Catalogue, owner: str, name: str, suffix: str, data: bytes) -> tuple[str, Path, dict]:
    """Keep an uploaded revision sheet until it is applied: its token, where it is and what it is."""
    token = secrets.token_hex(16)
    folder = _uploads(catalogue)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{token}{suffix}"
    path.write_bytes(data)
    meta = {"owner": owner, "name": name, "suffix": suffix}
    (folder / f"{token}.meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return token, path, meta


def forget_upload(path: Path, token: str) -> None:
    path.unlink(missing_ok=True)
    (path.parent / f"{token}.meta.json").unlink(missing_ok=True)


def stored_upload(catalogue: Catalogue, token: str, user: str) -> tuple[Path, dict] | None:
    if not TOKEN.match(token):
        return None
    meta_path = _uploads(catalogue) / f"{token}.meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("owner") != user:
        return None
    return _uploads(catalogue) / f"{token}{meta['suffix']}", meta


def plan_of(catalogue: Catalogue, path: Path, meta: dict) -> ImportPlan:
    # messages name the file as uploaded, never the path it is kept at on the server
    return plan_import(catalogue, path, default_reason=f"导入 {meta['name']}", name=meta["name"])


def preview_page(request: Request, token: str, meta: dict, plan: ImportPlan, notice: str | None = None,
                 status_code: int = 200):
    return staff_render(request, "staff/batch_preview.html", {
        "token": token, "meta": meta, "plan": plan, "fingerprint": fingerprint(plan), "notice": notice,
        "counts": {action: plan.count(action) for action in ("create", "revise", "unchanged")},
        "in_form_order": in_form_order,
    }, status_code=status_code)


@router.get("/batch")
def batch(request: Request, catalogue: CatalogueDep, settings: SettingsDep):
    expire_uploads(catalogue)
    return batch_page(request, settings.upload_limit)


@router.post("/batch")
def upload(request: Request, catalogue: CatalogueDep, settings: SettingsDep, user: UserDep,
           form: FormData = Depends(posted_form)):
    upload_limit = settings.upload_limit
    upload_file = form.get("file")
    if not isinstance(upload_file, UploadFile) or not upload_file.filename:
        return batch_page(request, upload_limit, error="请选择要上传的修订表（.xlsx、.csv 或 .json）", status_code=400)
    name = Path(upload_file.filename).name[:200]
    data = upload_file.file.read(upload_limit + 1)
    try:
        suffix = check_upload(name, data, upload_limit)
    except UploadRefused as refused:
        return batch_page(request, upload_limit, error=str(refused), status_code=refused.status)
    token, path, meta = keep_upload(catalogue, user.name, name, suffix, data)
    try:
        plan = plan_of(catalogue, path, meta)
    except UnreadableFile as error:
        forget_upload(path, token)
        return batch_page(request, upload_limit, error=str(error), status_code=400)
    return preview_page(request, token, meta, plan)


@router.post("/batch/apply")
def apply(request: Request, catalogue: CatalogueDep, settings: SettingsDep, user: UserDep,
          form: FormData = Depends(posted_form)):
    token = str(form.get("token") or "")
    found = stored_upload(catalogue, token, user.name)
    if found is None:
        return batch_page(request, settings.upload_limit, error="找不到这次上传（可能已经应用过）；请重新上传修订表",
                          status_code=404)
    path, meta = found
    plan = plan_of(catalogue, path, meta)
    if fingerprint(plan) != str(form.get("fingerprint") or ""):
        return preview_page(request, token, meta, plan, status_code=409,
                            notice="预览之后目录有了变动，下面是按现在的目录重新生成的预览，请再核对一遍")
    try:
        results = apply_plan(catalogue, plan, editor=user.name)
    except ImportRefused:
        return preview_page(request, token, meta, plan, status_code=422,
                            notice="修订表中有错误行，未做任何修改；请改正后重新上传")
    forget_upload(path, token)
    return staff_render(request, "staff/batch_done.html", {
        "meta": meta, "results": [result for result in results if result.changed], "plan": plan,
    })
