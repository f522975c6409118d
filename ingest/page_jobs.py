"""Page work on the shared job queue (``GUJI_QUEUE``): `guji tiles rebuild`, and what a queued
ingest's page steps share with it (web/staff/queued_jobs.py).

A tiles rebuild (:func:`start_rebuild`, a job row of kind ``tiles``) runs as

* :func:`plan_rebuild` (one worker): for each book, under the book's ingest lock, the stored
  masters listed and the job's own work folder in the book prepared (``.rebuild-<job>``: an ingest
  of the book between the steps cleans its ``.pending``, not this); then, per book,
* one :func:`rebuild_page` per page, taken by any worker: the page's derivatives made from its
  stored master (fetched into the worker's cache with ``GUJI_STORAGE`` on S3) into that folder —
  ingest/page_work.py's ``process_page``, as on one machine;
* :func:`finish_book` once the book's pages have all finished (RQ's ``depends_on``): under the
  book's ingest lock, ingest/pipeline.py's ``finish_rebuild`` — the pages published, page folders
  without a master removed, the book shared to the bucket, the ``tiles-rebuild`` event — and, when
  it is the last book, the row marked done with the page count.

Every step may run again (a worker killed, RQ's retry): a page is built again into the same place,
a book already finished for this job (its event names the job) only has its work folder removed,
and a book is counted once (repository.job_records.part_done).
"""

from __future__ import annotations

import json
from pathlib import Path

from guji.repository import Catalogue, GujiError, NotFound
from guji.repository.job_queue import JobQueue
from guji.repository.job_records import (
    FAILED_CALLBACK,
    active,
    active_job,
    count_page,
    fail,
    finished,
    job_key,
    part_done,
    record,
    running,
    start_queued,
    worker_catalogue,
)

from .page_work import process_page, quiet_libvips
from .pipeline import (
    finish_rebuild,
    ingest_lock,
    no_object_message,
    prepare_pending,
    rebuild_task,
    remove_pending,
    stored_masters,
)

KIND = "tiles"
PLAN = "guji.ingest.page_jobs.plan_rebuild"
PAGE = "guji.ingest.page_jobs.rebuild_page"
FINISH = "guji.ingest.page_jobs.finish_book"


def work_folder(job_id: int) -> str:
    """A rebuild job's work folder in each book's derivatives (hidden: never served, never a page)."""
    return f".rebuild-{job_id}"


def work_folder_missing(catalogue: Catalogue, job_id: int, page: str, pending_dir: str | Path) -> bool:
    """Whether a page's work folder — made by the worker that planned the book — is not on this host
    (workers with data homes of their own and no shared GUJI_BUILD_DIR); if so the job fails."""
    if Path(pending_dir).is_dir():
        return False
    if active(catalogue, job_id) is not None:
        fail(catalogue, job_id, f"第 {page} 页的工作文件夹不在这台工作机上：各台机器上的 guji worker "
                                "要用同一个共享文件夹做切片（GUJI_BUILD_DIR，见 docs/scale-out.md）；"
                                "什么也没有保存。改好设置后可重新开始")
    return True


def start_rebuild(catalogue: Catalogue, object_id: str | None, actor: str) -> int:
    """Record a tiles rebuild of `object_id` (None: every object) and put it on the queue; returns the job id."""
    if object_id and not catalogue.store.exists(object_id):
        raise NotFound(no_object_message(object_id))

    def busy(session) -> str | None:
        taken = active_job(session, kind=KIND)
        if taken is not None:
            return f"已有重建切片任务 #{taken} 在进行，请等它结束"
        taken = active_job(session, object_id=object_id) if object_id else None
        if taken is not None:
            return f"「{object_id}」已有任务 #{taken} 在进行（入藏、文字识别或重建切片），请等它结束"
        return None

    return start_queued(catalogue, KIND, object_id, object_id or "", actor, PLAN, busy=busy)


def plan_rebuild(job_id: int) -> None:
    with worker_catalogue() as catalogue:
        row = active(catalogue, job_id)
        if row is None:  # ended meanwhile (a retry of a finished step)
            return
        running(catalogue, row, "正在列出母版…")
        store = catalogue.store
        books = [row.object_id] if row.object_id else store.object_ids()
        plans = []
        try:
            for book in books:
                with ingest_lock(catalogue, book):
                    digests = store.digests(book)
                    prepare_pending(catalogue.home.built_derivatives / book, work_folder(job_id))
                    plans.append((book, [(master, digests[master]) for master in stored_masters(digests)]))
        except GujiError as error:  # a book being ingested, storage out of reach …
            fail(catalogue, job_id, error)
            return
        total = sum(len(masters) for _, masters in plans)
        record(catalogue, job_id, done=0, total=total, message=f"已处理 0 / {total} 页",
               result_json=json.dumps({"books": len(plans)}))
        if not plans:
            finished(catalogue, job_id, "没有对象，没有要重建的切片")
            return
        queue = JobQueue(catalogue.settings.queue_url)
        for number, (book, masters) in enumerate(plans):
            pages = [queue.enqueue(PAGE, job_id, book, master, digest, job_id=job_key(job_id, f"b{number}-p{index}"),
                                   on_failure=FAILED_CALLBACK)
                     for index, (master, digest) in enumerate(masters)]
            queue.enqueue(FINISH, job_id, book, pages, len(plans), job_id=job_key(job_id, f"b{number}-finish"),
                          depends_on=pages, on_failure=FAILED_CALLBACK)


def rebuild_page(job_id: int, book: str, master: str, digest: str):
    """One page's derivatives from its stored master, into the job's work folder in the book (PageResult)."""
    import pyvips

    pyvips.concurrency_set(1)  # one worker, one core: run as many workers as a machine has cores
    quiet_libvips()
    with worker_catalogue() as catalogue:
        if active(catalogue, job_id) is None:  # failed meanwhile (another page, another book)
            return None
        pending = catalogue.home.built_derivatives / book / work_folder(job_id)
        if work_folder_missing(catalogue, job_id, Path(master).stem, pending):
            return None
        result = process_page(rebuild_task(catalogue, book, master, digest, pending))
        count_page(catalogue.sessions, job_id)
    return result


def finish_book(job_id: int, book: str, page_jobs: list[str], books: int) -> None:
    with worker_catalogue() as catalogue:
        row = active(catalogue, job_id)
        derivatives = catalogue.home.built_derivatives / book
        work = work_folder(job_id)
        if row is None:  # failed meanwhile: leave the served pages as they were
            remove_pending(derivatives, work)
            return
        results = [result for result in JobQueue(catalogue.settings.queue_url).results(page_jobs) if result]
        try:
            with ingest_lock(catalogue, book):
                if _finished_before(catalogue, book, job_id):  # this step ran, then its worker was lost
                    remove_pending(derivatives, work)
                else:
                    finish_rebuild(catalogue, book, results, actor=row.actor, work=work, job=job_id)
        except GujiError as error:  # a master that cannot be read (Damaged), an ingest of the book running …
            remove_pending(derivatives, work)
            fail(catalogue, job_id, error)
            return
        last, pages = part_done(catalogue, job_id, book, books, len(results))
        if last:
            finished(catalogue, job_id, f"已重建 {pages} 页的切片和缩略图", done=pages, total=pages)


def _finished_before(catalogue: Catalogue, book: str, job_id: int) -> bool:
    return any(json.loads(event.detail_json or "{}").get("job") == job_id
               for event in catalogue.events(book, limit=20, kinds=("tiles-rebuild",)))
