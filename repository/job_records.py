"""A job's row in the catalogue DB (``jobs``), shared by every kind of job and every place that runs one.

The staff jobs page (web/staff/jobs.py) shows the row: kind, object, who asked, status (``queued``,
``running``, ``done``, ``failed``), progress (``done`` of ``total``), a message for people and a
JSON result. Whoever runs the job writes them — a job process on the web server's machine, the
workers of the shared job queue (``GUJI_QUEUE``: repository/job_queue.py) — and whoever asked
reads them: the job page, or a command waiting for its job (:func:`wait`).

What is here, for the jobs of every layer (ingest, OCR, tiles rebuild, printing):

* :func:`create`, :func:`record`, :func:`count_page`, :func:`fail` and :func:`part_done` — the row;
* :func:`start_queued` — record a job and put its first step on the queue, by dotted path; a
  queue out of reach is :class:`QueueUnavailable` with nothing recorded;
* :func:`step_failed` — RQ's failure callback: the row is failed once no retry is left;
* :func:`worker_catalogue` — the catalogue a queue step works on (the worker's settings);
  :func:`worker_job_rows` — only the job rows, for a page step that needs nothing else;
* :func:`finish_with_output` / :func:`output_of` — the file a job made for the one who asked (a print
  job's PDF), kept in the catalogue DB (table ``job_outputs``) for :data:`OUTPUT_DAYS` days;
* :func:`wait` — a command waiting for its job: the row polled, the usual progress bar, the
  outcome; Ctrl-C stops the waiting, not the job.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from .catalogue import Catalogue
from .catalogue_db import JobOutputRow, JobRow, now_iso
from .config import Home
from .database import make_engine
from .errors import GujiError, InvalidInput, Refused
from .settings import current

ACTIVE = ("queued", "running")
OUTPUT_DAYS = 7  # a job's output (a print job's PDF) is removed after this many days
MAX_OUTPUT_BYTES = 64 * 1024 * 1024  # one output at most: a PDF of some 40,000 guide cards
POLL_SECONDS = 0.5  # how often a waiting command reads its job's row
PROGRESS_SECONDS = 0.5  # a job's progress is written at most this often (and at the end)
LOST_AFTER_SECONDS = 60  # a queued job's row this old whose first step Redis no longer holds is lost
LOOK_SECONDS = 15  # how often one process asks Redis whether a job is still there
_looked_at: dict[tuple[str, int], float] = {}  # (catalogue DB, job id) → when this process last asked Redis
_out_of_reach_until: dict[str, float] = {}  # queue URL → until when not to ask it again
LOST_MESSAGE = "任务队列里已没有这个任务（Redis 重启时丢了数据？），任务没有完成；可重新开始"


class JobError(InvalidInput):
    """A job that cannot be started as asked; nothing was started."""


def job_key(job_id: int, step: str) -> str:
    """The queue's id of one step of a job (RQ allows letters, digits, `-` and `_`)."""
    return f"guji-job-{job_id}-{step}"


# ---- the row ------------------------------------------------------------------------------------


def create(catalogue: Catalogue, kind: str, object_id: str | None, source: str, actor: str, *,
           busy: Callable[[Session], str | None] | None = None) -> int:
    """Record a queued job; `busy` (in the same transaction) names why it may not start, if so."""
    with catalogue.sessions.begin() as session:
        refusal = busy(session) if busy else None
        if refusal:
            raise JobError(refusal)
        row = JobRow(kind=kind, object_id=object_id, source=source, actor=actor, status="queued", created=now_iso())
        session.add(row)
        session.flush()
        return row.id


def active_job(session: Session, *, object_id: str | None = None, kind: str | None = None) -> int | None:
    """The newest active job of `object_id` and/or `kind`, if any."""
    query = select(JobRow.id).where(JobRow.status.in_(ACTIVE)).order_by(JobRow.id.desc())
    if object_id is not None:
        query = query.where(JobRow.object_id == object_id)
    if kind is not None:
        query = query.where(JobRow.kind == kind)
    return session.scalar(query)


def row_of(catalogue: Catalogue, job_id: int) -> JobRow | None:
    with catalogue.sessions() as session:
        return session.get(JobRow, job_id)


def active(catalogue: Catalogue, job_id: int) -> JobRow | None:
    """The row while the job is queued or running (a retried step of an ended job finds none)."""
    row = row_of(catalogue, job_id)
    return row if row is not None and row.status in ACTIVE else None


def record(catalogue: Catalogue, job_id: int, **values) -> None:
    """Set columns of a job's row (status, message, progress …)."""
    with catalogue.sessions.begin() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(**values))


def running(catalogue: Catalogue, row: JobRow, message: str) -> None:
    """A queue step has begun the job (a retried step keeps the first start time)."""
    record(catalogue, row.id, status="running", started=row.started or now_iso(), message=message)


def finished(catalogue: Catalogue, job_id: int, message: str, **values) -> None:
    """The job is done: `message` for people, `values` further columns (the final progress, the result)."""
    record(catalogue, job_id, status="done", finished=now_iso(), message=message, **values)


def fail(catalogue: Catalogue, job_id: int, error: GujiError | str) -> None:
    """The job failed, and why (an error's kind is kept: a waiting command exits with its code)."""
    result = {"exit_code": error.exit_code} if isinstance(error, GujiError) else {}
    if isinstance(error, Refused):
        result["problems"] = [str(note) for note in error.notes]
    record(catalogue, job_id, status="failed", finished=now_iso(), message=str(error),
           result_json=json.dumps(result, ensure_ascii=False))


def count_page(sessions: sessionmaker[Session], job_id: int) -> None:
    """One more page done (a queue worker's page job); the row's lock orders workers finishing together.
    `sessions`: a catalogue's, or :func:`worker_job_rows` (a page job that needs no Catalogue)."""
    with sessions.begin() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id, JobRow.done < JobRow.total)
                        .values(done=JobRow.done + 1))
        row = session.get(JobRow, job_id)
        if row is not None:
            row.message = f"已处理 {row.done} / {row.total} 页"


def part_done(catalogue: Catalogue, job_id: int, part: str, parts: int, pages: int) -> tuple[bool, int]:
    """One part of a job (a book of a tiles rebuild) finished with `pages`, counted once however often
    its step runs. Returns (whether every one of the `parts` has finished, the pages of all finished)."""
    with catalogue.sessions.begin() as session:
        # an update first: the row is locked (PostgreSQL) or the database (SQLite) until the commit
        session.execute(update(JobRow).where(JobRow.id == job_id).values(kind=JobRow.kind))
        row = session.get(JobRow, job_id)
        result = json.loads(row.result_json or "{}")
        finished = result.setdefault("finished", {})
        finished.setdefault(part, pages)
        result["pages"] = sum(finished.values())
        row.result_json = json.dumps(result, ensure_ascii=False)
        return len(finished) >= parts, result["pages"]


def progress_recorder(catalogue: Catalogue, job_id: int, unit: str = "页") -> Callable[[int, int], None]:
    """update(done, total) for a job run whole by one worker, written at most every PROGRESS_SECONDS."""
    last = [0.0]

    def update(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_SECONDS:
            last[0] = now
            record(catalogue, job_id, done=done, total=total, message=f"已处理 {done} / {total} {unit}")

    return update


# ---- the queue ----------------------------------------------------------------------------------


FAILED_CALLBACK = "guji.repository.job_records.step_failed"


def start_queued(catalogue: Catalogue, kind: str, object_id: str | None, source: str, actor: str, first_step: str,
                 *, busy: Callable[[Session], str | None] | None = None) -> int:
    """Record a job and put its first step (a function's dotted path, called with the job id) on the
    shared job queue. The queue is reached first: out of reach, nothing is recorded."""
    from .job_queue import JobQueue

    queue = JobQueue(catalogue.settings.queue_url)
    queue.ping()
    job_id = create(catalogue, kind, object_id, source, actor, busy=busy)
    enqueue_first(catalogue, queue, job_id, first_step)
    return job_id


def lost_on_queue(catalogue: Catalogue, row: JobRow) -> bool:
    """Whether an active job of the shared queue has lost its queue: its first step, which Redis keeps
    until days after the job ends, is no longer there (a Redis that restarted without its append-only
    file, or was emptied). Such a row would otherwise stay 排队中 or 进行中 for ever and keep its book
    from another job. A queue out of reach says nothing here (the job may well be alive)."""
    from . import local_time
    from .job_queue import JobQueue, QueueUnavailable

    if row.status not in ACTIVE or row.pid is not None or not catalogue.settings.queue_url:
        return False
    created = local_time.parse(row.created)
    if created is not None and datetime.now(UTC) - created < timedelta(seconds=LOST_AFTER_SECONDS):
        return False  # recorded a moment ago: its first step may not be on the queue yet
    # Redis is asked at most every LOOK_SECONDS per job and process, and not at all for a while after it
    # could not be reached: the jobs page and its polling must not wait on a Redis that is down
    url, looked = catalogue.settings.queue_url, (str(catalogue.engine.url), row.id)
    now = time.monotonic()
    if now < _out_of_reach_until.get(url, 0.0) or now - _looked_at.get(looked, -LOOK_SECONDS) < LOOK_SECONDS:
        return False
    _looked_at[looked] = now
    try:
        return not JobQueue(url).has_job(job_key(row.id, "start"))
    except QueueUnavailable:
        _out_of_reach_until[url] = now + LOOK_SECONDS
        return False


def enqueue_first(catalogue: Catalogue, queue, job_id: int, first_step: str) -> None:
    """Put a recorded job's first step on the queue; if Redis went away meanwhile, the row says so."""
    try:
        queue.enqueue(first_step, job_id, job_id=job_key(job_id, "start"), on_failure=FAILED_CALLBACK)
    except GujiError:
        fail(catalogue, job_id, "任务队列无法连接，任务没有开始；请稍后重新开始")
        raise


@contextlib.contextmanager
def worker_catalogue() -> Iterator[Catalogue]:
    """The catalogue a step on the queue works on (the worker's data home and settings)."""
    catalogue = Catalogue.open()
    try:
        yield catalogue
    finally:
        catalogue.close()


@contextlib.contextmanager
def worker_job_rows() -> Iterator[sessionmaker[Session]]:
    """Sessions on the catalogue database for the job rows alone, for a step that needs nothing else.
    Per page, :meth:`Catalogue.open` cost more than the progress it was opened for: a boto3 client and
    a request when the storage root is in a bucket (~0.1 CPU-s in a work horse), the migration and
    projection checks (the worker did them at its start). A plain engine, closed at once: each work
    horse is a process of its own."""
    engine = make_engine(Home.resolve(None, current()).database_url)
    try:
        yield sessionmaker(engine)
    finally:
        engine.dispose()


def step_failed(job, connection, kind, error, traceback) -> None:
    """RQ's failure callback: the job's row is failed once no retry is left (a bug, or a worker lost each time)."""
    from .job_queue import RETRIES

    if job.retries_left:  # RQ retries it (counted down after this callback)
        return
    job_id = job.args[0] if job.args else None
    if not isinstance(job_id, int):
        return
    with worker_catalogue() as catalogue:
        if active(catalogue, job_id) is not None:
            fail(catalogue, job_id, f"任务在工作进程上失败（{kind.__name__}），重试 {RETRIES} 次仍未完成；"
                                    "原因记在工作进程的日志中。可重新开始")


# ---- a job's output -----------------------------------------------------------------------------


def finish_with_output(catalogue: Catalogue, job_id: int, filename: str, media_type: str, data: bytes, message: str,
                       **values) -> None:
    """The job is done with the file it made (`values`: further columns): both in one transaction, so a
    job shown done always has its file. Outputs older than OUTPUT_DAYS days go at the same time."""
    if len(data) > MAX_OUTPUT_BYTES:
        raise Refused(f"生成的文件有 {len(data) / 1048576:.0f} MB，超过 {MAX_OUTPUT_BYTES >> 20} MB 的上限："
                      "请分批进行（如按索书号或修改日期缩小范围）")
    with catalogue.sessions.begin() as session:
        _remove_old_outputs(session)
        session.execute(delete(JobOutputRow).where(JobOutputRow.job_id == job_id))  # a retried step: anew
        session.add(JobOutputRow(job_id=job_id, filename=filename, media_type=media_type, size=len(data), data=data,
                                 created=now_iso()))
        session.execute(update(JobRow).where(JobRow.id == job_id).values(
            status="done", finished=now_iso(), message=message, **values))


def output_of(catalogue: Catalogue, job_id: int) -> JobOutputRow | None:
    """The file job `job_id` made, unless removed (older than OUTPUT_DAYS days)."""
    with catalogue.sessions() as session:
        return session.get(JobOutputRow, job_id)


def _remove_old_outputs(session: Session) -> None:
    cutoff = (datetime.now(UTC) - timedelta(days=OUTPUT_DAYS)).strftime("%Y-%m-%dT%H:%M:%SZ")
    session.execute(delete(JobOutputRow).where(JobOutputRow.created < cutoff))


# ---- a command waiting for its job --------------------------------------------------------------


def pause() -> None:
    """Between two looks at a waiting job's row."""
    time.sleep(POLL_SECONDS)


def wait(catalogue: Catalogue, job_id: int, description: str, unit: str, follow: str) -> JobRow:
    """Wait for a queued job, with the usual progress bar; returns its row once done. A failed job
    prints its message and exits with the code of its error's kind (1 without one); Ctrl-C stops the
    waiting, not the job, and says where to follow it (`follow`: the staff page of the job)."""
    import typer

    from .cli import errors, progress

    try:
        with progress(description, unit) as update:
            while (row := row_of(catalogue, job_id)) is not None and row.status in ACTIVE:
                if row.total:
                    update(row.done, row.total)
                if lost_on_queue(catalogue, row):  # the queue lost it: no end to wait for
                    fail(catalogue, job_id, LOST_MESSAGE)
                    continue
                pause()
            if row is not None and row.total:
                update(row.done, row.total)
    except KeyboardInterrupt:
        errors.print(f"已停止等待；任务 #{job_id} 仍在任务队列中进行：用 guji jobs wait {job_id} 接着等，"
                     f"或在工作台 {catalogue.settings.public_address}{follow} 查看进度和结果",
                     highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(130) from None
    if row is None or row.status != "done":
        message = row.message if row is not None else "任务记录不见了"
        errors.print(f"[red]任务 #{job_id} 失败：[/red]", end="")
        errors.print(message, highlight=False, markup=False, soft_wrap=True)
        for problem in (json.loads(row.result_json or "{}").get("problems") or [] if row is not None else []):
            errors.print(f"  {problem}", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(json.loads(row.result_json or "{}").get("exit_code", 1) if row is not None else 1)
    return row
