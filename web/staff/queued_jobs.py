"""The staff workspace's jobs on the shared job queue (``GUJI_QUEUE``, repository/job_queue.py).

The job's row in the catalogue DB stays what the staff jobs page reads (web/staff/jobs.py): the
workers write its progress and outcome there, exactly as a job process on the web server's machine
does. What runs where:

* **ingest** — :func:`ingest_plan` (one worker): unpack an uploaded zip, check the card and every
  file, list the pages (ingest.pipeline.plan_ingest); then one :func:`ingest_page` job per page —
  taken by any worker: master copied and hashed into ``.pending``, derivatives built — and
  :func:`ingest_commit` once all of them have finished: the one OCFL version (under the object's
  lock, following the version the commit read), the derivatives published, the folder moved to
  ``done/`` or ``failed/``. Every step may run again (a worker killed, the job retried): a page's
  work is found in ``.pending`` by its digest, and a commit that finds the masters stored writes
  nothing — a page is never stored twice.
* **OCR** — one job, :func:`whole_job`, the same run as on one machine (web.staff.jobs.run).

The row's bookkeeping (recording, the first step, RQ's failure callback) is repository/job_records.py;
a tiles rebuild and printing guide cards put their own steps on the queue (ingest/page_jobs.py,
repository/outputs/print_jobs.py).

Every worker needs the same catalogue database, storage root and incoming folder, and the folder
the pages are built in: with the storage root in the data home, one data home on a shared file
system; with ``GUJI_STORAGE=s3://…`` each host keeps a data home of its own and shares only
``GUJI_INCOMING`` and ``GUJI_BUILD_DIR`` (docs/scale-out.md, "All together"). A page whose work
folder is not there (``GUJI_BUILD_DIR`` left unset on hosts of their own) fails the job in one message.
"""

from __future__ import annotations

from pathlib import Path

from guji.repository import GujiError, Home
from guji.repository.job_queue import JobQueue
from guji.repository.job_records import (
    FAILED_CALLBACK,
    active,
    count_page,
    job_key,
    running,
    step_failed,
    worker_catalogue,
    worker_job_rows,
)
from guji.repository.settings import current

from . import jobs

FIRST_STEPS = {"ingest": "guji.web.staff.queued_jobs.ingest_plan", "ocr": "guji.web.staff.queued_jobs.whole_job"}
job_failed = step_failed  # the failure callback's former path, named by steps queued before an upgrade


def whole_job(job_id: int) -> int:
    """A job that runs whole on one worker (OCR)."""
    return jobs.run(Home.resolve(None, current()), job_id, local=False)


def ingest_plan(job_id: int) -> None:
    from guji.ingest.pipeline import check_card, plan_ingest, prepare_pending
    from guji.ingest.watch import file_failed, scan_zip_limits, unpack_zip
    from guji.repository.config import upload_book_limit, upload_file_limit

    with worker_catalogue() as catalogue:
        row = active(catalogue, job_id)
        if row is None:  # ended meanwhile (a retry of a finished step)
            return
        running(catalogue, row, "正在检查文件…")
        incoming = jobs.incoming_dir(catalogue.home, catalogue.settings)
        folder = incoming / row.source
        try:
            unpack_zip(folder, scan_zip_limits(upload_file_limit(), upload_book_limit()))
            check_card(catalogue, row.object_id, None)
            plan = plan_ingest(catalogue, folder, row.object_id, row.actor)
        except GujiError as error:
            jobs.record_ingest(catalogue, row, incoming, file_failed(folder, row.object_id, incoming, error))
            return
        prepare_pending(catalogue.home.built_derivatives / row.object_id)
        jobs.record(catalogue, job_id, done=0, total=len(plan.tasks), message=f"已处理 0 / {len(plan.tasks)} 页")
        queue = JobQueue(catalogue.settings.queue_url)
        pages = [queue.enqueue("guji.web.staff.queued_jobs.ingest_page", job_id, task,
                               job_id=job_key(job_id, f"page-{task.page}"), on_failure=FAILED_CALLBACK)
                 for task in plan.tasks]
        queue.enqueue("guji.web.staff.queued_jobs.ingest_commit", job_id, plan, pages,
                      job_id=job_key(job_id, "commit"), depends_on=pages, on_failure=FAILED_CALLBACK)


def ingest_page(job_id: int, task):
    """One page: master into `.pending` (hashed, checked against the vendor's checksum), derivatives."""
    import pyvips

    from guji.ingest.page_jobs import work_folder_missing
    from guji.ingest.page_work import process_page, quiet_libvips

    pyvips.concurrency_set(1)  # one worker, one core: run as many workers as a machine has cores
    quiet_libvips()
    if not Path(task.pending_dir).is_dir():
        with worker_catalogue() as catalogue:
            work_folder_missing(catalogue, job_id, task.page, task.pending_dir)  # the job fails, saying why
        return None
    result = process_page(task)
    with worker_job_rows() as sessions:  # no Catalogue per page: see worker_job_rows
        count_page(sessions, job_id)
    return result


def ingest_commit(job_id: int, plan, page_jobs: list[str]) -> None:
    from guji.ingest.pipeline import commit_ingest, finish_report, ingest_lock, publish_pages, remove_pending
    from guji.ingest.watch import file_done, file_failed

    with worker_catalogue() as catalogue:
        row = active(catalogue, job_id)
        if row is None:
            return
        results = JobQueue(catalogue.settings.queue_url).results(page_jobs)
        incoming = jobs.incoming_dir(catalogue.home, catalogue.settings)
        folder = incoming / row.source
        derivatives = catalogue.home.built_derivatives / plan.object_id
        try:
            with ingest_lock(catalogue, plan.object_id):
                version, report = commit_ingest(catalogue, plan, results)
                publish_pages(catalogue, plan, results)
                remove_pending(derivatives)
                outcome = file_done(folder, row.object_id, incoming,
                                    finish_report(catalogue, plan, results, version, report))
        except GujiError as error:
            remove_pending(derivatives)
            outcome = file_failed(folder, row.object_id, incoming, error)
        jobs.record_ingest(catalogue, row, incoming, outcome)
