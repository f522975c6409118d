"""Ingest and OCR jobs started from the staff workspace, run in a background process.

An admin picks a book folder inside the incoming directory (``GUJI_INCOMING``, default
``<data home>/incoming``) and the card it belongs to (:func:`start_ingest`), or a book with scans
to OCR (:func:`start_ocr`: its pages, all by default). Either records a job in the catalogue DB's
``jobs`` table and starts ``python -m guji.web.staff.jobs HOME JOB`` in its own process session (tied
to the web process by a lifeline: it ends when the server stops or is killed, and its page workers
with it). An ingest job runs :func:`ingest.watch.file_book` — unpack a zip uploaded alone, ingest,
then move the folder to ``done/`` or ``failed/`` of the incoming directory as `guji watch` does —;
an OCR job runs :func:`ingest.ocr_book`. Either writes its progress (pages done of total) and its
outcome back into the row; the job page polls that row as JSON. A job whose process has died is
shown as failed. The process's output goes to ``<data home>/jobs/<job>.log``. Page workers:
``GUJI_INGEST_WORKERS`` / ``GUJI_OCR_WORKERS`` (default: one per core).

The row itself — recording, progress, the queue's first step — is repository/job_records.py, which
the jobs of the other layers use too: a tiles rebuild (ingest/page_jobs.py) and printing guide cards
(repository/outputs/print_jobs.py) on the shared job queue are listed and shown here as well.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from sqlalchemy import select, update

from guji.repository import Catalogue, GujiError, Home, InvalidInput
from guji.repository.catalogue_db import JobRow, now_iso
from guji.repository.job_records import (
    ACTIVE,
    LOST_MESSAGE,
    JobError,
    create,
    lost_on_queue,
    record,
    start_queued,
)
from guji.repository.process_tree import Child, hold_lifeline
from guji.repository.settings import Settings, current, use

FOLDER_NAME = re.compile(r"^[^./\\][^/\\]{0,199}$")
KIND_LABELS = {"ingest": "影像入藏", "ocr": "文字识别", "tiles": "重建切片", "print": "打印导卡"}


def incoming_dir(home: Home, settings: Settings | None = None) -> Path:
    """Where book folders wait to be ingested (`GUJI_INCOMING`, default `<home>/incoming`)."""
    configured = (settings or current()).incoming
    return configured.resolve() if configured else home.root / "incoming"


def book_folders(home: Home, settings: Settings | None = None) -> list[str]:
    """The book folders in the incoming directory (sub-folders, not hidden, not done/failed)."""
    root = incoming_dir(home, settings)
    if not root.is_dir():
        return []
    return sorted(entry.name for entry in root.iterdir()
                  if entry.is_dir() and FOLDER_NAME.match(entry.name) and entry.name not in ("done", "failed"))


def log_path(home: Home, job_id: int) -> Path:
    return home.root / "jobs" / f"{job_id}.log"


def start_ingest(catalogue: Catalogue, folder: str, card_id: str, actor: str) -> int:
    """Record an ingest job and start its process; returns the job id."""
    if folder not in book_folders(catalogue.home, catalogue.settings):
        raise JobError(f"「{folder}」不是收件目录 {incoming_dir(catalogue.home, catalogue.settings)} 中的书籍文件夹")
    if not _card_exists(catalogue, card_id):
        raise JobError(f"没有标识为「{card_id}」的卡片：请先建卡片，再入藏影像")
    return _start(catalogue, "ingest", card_id, folder, actor)


def start_ocr(catalogue: Catalogue, card_id: str, actor: str, pages: str = "", engine: str = "",
              redo: bool = False) -> int:
    """Record an OCR job for a book's scans (`pages` like ``0001-0010``, empty: all) and start it."""
    from guji.ingest import ENGINES
    from guji.ingest.ocr_run import OcrError, parse_pages

    if not _card_exists(catalogue, card_id):
        raise JobError(f"没有标识为「{card_id[:80]}」的卡片")
    scans = [str(entry.get("page")) for entry in (catalogue.structure(card_id) or {}).get("pages") or []]
    if not scans:
        raise JobError(f"「{card_id}」还没有扫描页：请先入藏影像，再识别文字")
    if engine and engine not in ENGINES:
        raise JobError(f"没有名为「{engine}」的 OCR 引擎：可选 {'、'.join(ENGINES)}")
    pages = pages.strip()
    if len(pages) > 200:
        raise JobError("页码范围过长：请写成 0001-0010 或 3,5,7-9 这样的范围（不超过 200 个字符）")
    try:
        parse_pages(pages or None, scans)
    except OcrError as error:
        raise JobError(str(error).replace("--pages ", "页码 ")) from None
    source = json.dumps({"pages": pages, "engine": engine, "redo": redo}, ensure_ascii=False)
    return _start(catalogue, "ocr", card_id, source, actor)


def _card_exists(catalogue: Catalogue, card_id: str) -> bool:
    """Whether there is such a card; a string that cannot be an id (a form field sent by anyone) is none."""
    try:
        return catalogue.exists(card_id)
    except InvalidInput:
        return False


def _start(catalogue: Catalogue, kind: str, card_id: str, source: str, actor: str) -> int:
    def busy(session) -> str | None:
        taken = session.scalar(select(JobRow.id).where(JobRow.object_id == card_id, JobRow.status.in_(ACTIVE)))
        if taken is not None and _alive(session.get(JobRow, taken), catalogue):
            return f"「{card_id}」已有任务 #{taken} 在进行（入藏、文字识别或重建切片），请等它结束"
        if kind == "ingest":
            taken = session.scalar(select(JobRow.id).where(JobRow.kind == "ingest", JobRow.source == source,
                                                           JobRow.status.in_(ACTIVE)))
            if taken is not None and _alive(session.get(JobRow, taken), catalogue):
                return f"文件夹「{source}」正由入藏任务 #{taken} 处理，请等它结束"
        return None

    if catalogue.settings.queue_url:  # a shared job queue: reachable before anything is recorded
        from .queued_jobs import FIRST_STEPS

        return start_queued(catalogue, kind, card_id, source, actor, FIRST_STEPS[kind], busy=busy)
    job_id = create(catalogue, kind, card_id, source, actor, busy=busy)
    log = log_path(catalogue.home, job_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = Child(
            [sys.executable, "-m", "guji.web.staff.jobs", str(catalogue.home.root), str(job_id)],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "GUJI_HOME": str(catalogue.home.root)},
        )
    with catalogue.sessions.begin() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.pid.is_(None)).values(pid=process.pid))
    threading.Thread(target=process.wait, daemon=True).start()  # reap it (no zombie) and drop its lifeline
    return job_id


def _alive(row: JobRow | None, catalogue: Catalogue | None = None) -> bool:
    if row is None:
        return False
    if row.pid is None:  # on the shared queue, or its process is starting
        return catalogue is None or not lost_on_queue(catalogue, row)
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def job(catalogue: Catalogue, job_id: int) -> JobRow | None:
    """One job; an active job whose process is gone, or whose queue lost it, is marked failed first."""
    with catalogue.sessions.begin() as session:
        row = session.get(JobRow, job_id)
        if row is not None and row.status in ACTIVE and not _alive(row, catalogue):
            session.refresh(row)
            if row.status in ACTIVE:
                row.status, row.finished = "failed", now_iso()
                row.message = LOST_MESSAGE if row.pid is None else \
                    f"任务进程意外结束（进程 {row.pid}），详见 jobs/{row.id}.log；可重新开始"
        return row


def jobs(catalogue: Catalogue, limit: int = 50) -> list[JobRow]:
    with catalogue.sessions() as session:
        ids = list(session.scalars(select(JobRow.id).order_by(JobRow.id.desc()).limit(limit)))
    return [row for job_id in ids if (row := job(catalogue, job_id)) is not None]


def source_text(row: JobRow) -> str:
    """What the job works on, for people: the folder of an ingest, the pages and engine of an OCR run,
    the cards of a print job, the object (or all) of a tiles rebuild."""
    if row.kind == "tiles":
        return row.object_id or "全部对象"
    if row.kind not in ("ocr", "print"):
        return row.source
    try:
        options = json.loads(row.source or "{}")
    except ValueError:
        return row.source
    if row.kind == "print":
        ids = options.get("ids")
        return "全部卡片" if ids is None else f"{len(ids)} 张卡片"
    parts = [f"页 {options['pages']}" if options.get("pages") else "全部页", options.get("engine") or "默认引擎"]
    if options.get("redo"):
        parts.append("重新识别")
    return "，".join(parts)


def status(row: JobRow) -> dict:
    """The job as the job page polls it."""
    return {
        "id": row.id, "kind": row.kind, "kind_label": KIND_LABELS.get(row.kind, row.kind), "object_id": row.object_id,
        "source": source_text(row), "actor": row.actor,
        "status": row.status, "done": row.done, "total": row.total, "message": row.message,
        "result": json.loads(row.result_json or "{}"), "created": row.created, "started": row.started,
        "finished": row.finished, "finished_ok": row.status == "done",
    }


# ---- the job process ------------------------------------------------------------------------


def run(home: Home, job_id: int, *, local: bool = True) -> int:
    """Run one queued job (in its own process, or on a queue's worker: not `local`, then its process id
    means nothing to the web server and a job running already is a retry); returns an exit code."""
    catalogue = Catalogue.open(home)
    try:
        with catalogue.sessions() as session:
            row = session.get(JobRow, job_id)
        if row is None or row.status not in (("queued",) if local else ACTIVE):
            return 1
        record(catalogue, job_id, status="running", started=now_iso(), pid=os.getpid() if local else None,
             message="正在检查文件…")

        def progress(done: int, total: int) -> None:
            record(catalogue, job_id, done=done, total=total, message=f"已处理 {done} / {total} 页")

        return (_run_ocr if row.kind == "ocr" else _run_ingest)(catalogue, home, row, progress)
    except Exception:  # the job page says that it failed; the log (readable by admins on the server) says why
        traceback.print_exc()
        record(catalogue, job_id, status="failed", finished=now_iso(),
             message=f"内部错误，任务没有完成；原因记在服务器上的 jobs/{job_id}.log 中。可重新开始")
        return 1
    finally:
        catalogue.close()


def _run_ocr(catalogue: Catalogue, home: Home, row: JobRow, progress) -> int:
    from guji.ingest import ocr_book

    options = json.loads(row.source or "{}")
    workers = catalogue.settings.ocr_workers
    try:
        report = ocr_book(catalogue, row.object_id, pages=options.get("pages") or None,
                          engine=options.get("engine") or None, redo=bool(options.get("redo")), workers=workers,
                          editor=row.actor, progress=progress)
    except GujiError as error:  # bad pages, no scans, a busy book, an engine that cannot load …
        record(catalogue, row.id, status="failed", finished=now_iso(), message=str(error))
        return 1
    stored = f"已存为 v{report.version}" if report.version else "没有新内容，未生成新版本"
    quality = report.quality or {}
    agreement = f"；与已有文本的一致性 CER {quality['cer']:.3f}" if quality.get("cer") is not None else ""
    problems = [page.problem for page in report.failed if page.problem]
    record(catalogue, row.id, status="done", finished=now_iso(), done=len(report.pages), total=len(report.pages),
         message=f"识别 {report.read} 页，跳过 {sum(p.action == 'skipped' for p in report.pages)} 页，"
                 f"失败 {len(report.failed)} 页，{stored}（{report.seconds:.1f} 秒）{agreement}",
         result_json=json.dumps({"version": report.version, "pages": len(report.pages), "read": report.read,
                                 "problems": problems, "warnings": report.warnings, "engine": report.engine,
                                 "report": str(report.path or "")}, ensure_ascii=False))
    return 0


def _run_ingest(catalogue: Catalogue, home: Home, row: JobRow, progress) -> int:
    from guji.ingest.watch import file_book, scan_zip_limits
    from guji.repository.config import upload_book_limit, upload_file_limit

    incoming = incoming_dir(home, catalogue.settings)
    workers = catalogue.settings.ingest_workers
    outcome = file_book(catalogue, incoming / row.source, row.object_id, row.actor, incoming, workers=workers,
                        progress=progress, zip_limits=scan_zip_limits(upload_file_limit(), upload_book_limit()))
    return record_ingest(catalogue, row, incoming, outcome)


def record_ingest(catalogue: Catalogue, row: JobRow, incoming: Path, outcome) -> int:
    """The job's row after an ingest: done, or failed with every problem (`outcome`: ingest.watch.WatchOutcome)."""
    from guji.ingest.pages import BookRefused
    from guji.ingest.watch import DONE

    job_id = row.id
    moved = f"{outcome.moved_to.parent.name}/{outcome.moved_to.name}"  # done/… or failed/… in the incoming dir
    if outcome.status != DONE:
        error = outcome.error
        problems = error.problems if isinstance(error, BookRefused) else [str(error)]
        message = (f"未入藏，什么也没有保存：{len(problems)} 个问题" if isinstance(error, BookRefused)
                   else f"未入藏：{error}")
        record(catalogue, job_id, status="failed", finished=now_iso(),
             message=f"{message}；文件夹已移到收件目录的 {moved}" if outcome.moved_to != incoming / row.source
             else message, result_json=json.dumps({"problems": problems, "moved_to": moved,
                                     "report": str(getattr(error, "report_path", "") or "")}, ensure_ascii=False))
        return 1
    report = outcome.report
    stored = f"已存为 v{report.version}" if report.version else "没有新内容，未生成新版本"
    record(catalogue, job_id, status="done", finished=now_iso(), done=len(report.pages), total=len(report.pages),
         message=f"{len(report.pages)} 页，{stored}（{report.seconds:.1f} 秒）；文件夹已移到收件目录的 {moved}",
         result_json=json.dumps({"version": report.version, "pages": len(report.pages), "built": report.built,
                                 "warnings": report.warnings, "report": str(report.path), "moved_to": moved},
                                ensure_ascii=False))
    return 0


if __name__ == "__main__":  # python -m guji.web.staff.jobs HOME JOB
    hold_lifeline()  # SIGTERM when the web process that started the job is gone
    use(Settings.from_environ())  # this process's settings, read once
    sys.exit(run(Home.resolve(sys.argv[1]), int(sys.argv[2])))
