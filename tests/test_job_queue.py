"""The shared job queue (GUJI_QUEUE, RQ on a real redis-server the tests start): staff ingest jobs split
into page jobs that any worker takes, one OCFL version per book, a killed worker's page retried,
Redis going away refused in one message with nothing recorded."""

from __future__ import annotations

import os
import signal
import time

import pytest
from cluster_support import book_folder, digest, scan_of_page, start_worker, stop_worker
from typer.testing import CliRunner

from guji.ingest.pipeline import commit_ingest, plan_ingest, prepare_pending, run_pages
from guji.repository import Catalogue
from guji.repository.job_queue import QUEUE_NAME, QueueUnavailable
from guji.web.cli import root
from guji.web.staff import jobs

CARD = "maoshi-zhushu"


@pytest.fixture
def card(catalogue, sample_cards) -> str:
    catalogue.create(next(c for c in sample_cards if c["id"] == CARD), editor="编目员", reason="新建")
    return CARD


def _queue_settings(monkeypatch, home, url: str) -> Catalogue:
    monkeypatch.setenv("GUJI_HOME", str(home.root))
    monkeypatch.setenv("GUJI_QUEUE", url)
    monkeypatch.setenv("GUJI_WORKER_HEARTBEAT", "1")
    return Catalogue.open(home)


def _work_in_process(url: str) -> None:
    """RQ's SimpleWorker here, until the queue is empty (the page jobs, then the commit they release)."""
    import redis
    from rq import Queue, SimpleWorker

    class BurstWorker(SimpleWorker):
        def subscribe(self) -> None:
            """No command channel: stopping its listening thread may wait up to a minute (RQ's sleep_time)."""

    connection = redis.Redis.from_url(url)
    BurstWorker([Queue(QUEUE_NAME, connection=connection)], connection=connection).work(burst=True)


def test_commit_again_stores_nothing_twice(catalogue, card, tmp_path):
    # a queue retries the commit when its worker was lost after the OCFL version was written
    plan = plan_ingest(catalogue, book_folder(tmp_path / "book"), card, "数字化员")
    prepare_pending(catalogue.home.derivatives / card)
    results = run_pages(plan.tasks, 1)
    first, _ = commit_ingest(catalogue, plan, results)
    again, report = commit_ingest(catalogue, plan, results)
    assert first == again == 2  # v1 the card, v2 the scans: the second commit wrote no version
    assert catalogue.store.head(card) == 2 and report["status"] == "stored"
    assert len([e for e in catalogue.events(card) if e.kind == "ingest"]) == 1


def test_staff_ingest_job_goes_through_the_queue(catalogue, card, home, redis_url, monkeypatch):
    queued = _queue_settings(monkeypatch, home, redis_url)
    book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗", copies=2)
    job_id = jobs.start_ingest(queued, "毛诗", card, "管理员")
    row = jobs.job(queued, job_id)
    assert (row.status, row.pid) == ("queued", None)  # no process on this machine
    _work_in_process(redis_url)
    row = jobs.job(queued, job_id)
    assert (row.status, row.done, row.total) == ("done", 6, 6), row.message
    assert "已存为 v2" in row.message and "done/毛诗" in row.message
    stored = catalogue.store.digests(card)
    assert sorted(path for path in stored if path.startswith("masters/")) == [f"masters/{n:04d}.png"
                                                                             for n in range(1, 7)]
    assert stored["masters/0004.png"] == digest(scan_of_page(1))
    published = sorted(p.name for p in (home.derivatives / card).iterdir())
    assert published == [f"{n:04d}" for n in range(1, 7)]  # and no .pending left
    listed = CliRunner().invoke(root, ["--home", str(home.root), "jobs", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and f"#{job_id}" in listed.output and "影像入藏" in listed.output
    assert "完成" in listed.output and "6 / 6" in listed.output
    waited = CliRunner().invoke(root, ["--home", str(home.root), "jobs", "wait", str(job_id)])
    assert waited.exit_code == 0 and f"任务 #{job_id}（影像入藏）已完成" in waited.output
    queued.close()


def test_refused_book_on_the_queue_is_filed_in_failed(catalogue, card, home, redis_url, monkeypatch):
    queued = _queue_settings(monkeypatch, home, redis_url)
    folder = book_folder(jobs.incoming_dir(home, queued.settings) / "坏书")
    (folder / "0002.png").write_bytes(b"")
    job_id = jobs.start_ingest(queued, "坏书", card, "管理员")
    _work_in_process(redis_url)
    row = jobs.job(queued, job_id)
    assert row.status == "failed" and "failed/坏书" in row.message
    assert "0002.png" in jobs.status(row)["result"]["problems"][0]
    assert catalogue.store.head(card) == 1  # nothing stored
    waited = CliRunner().invoke(root, ["--home", str(home.root), "jobs", "wait", str(job_id)])
    assert waited.exit_code == 1 and f"任务 #{job_id} 失败" in waited.output and "0002.png" in waited.output
    unknown = CliRunner().invoke(root, ["--home", str(home.root), "jobs", "wait", "999"])
    assert unknown.exit_code == 3 and "没有任务 #999" in unknown.output
    queued.close()


def test_a_page_whose_work_folder_is_on_another_host_fails_the_job_in_one_message(catalogue, card, home, redis_url,
                                                                                  monkeypatch, tmp_path):
    # workers with data homes of their own and no shared GUJI_BUILD_DIR: the planning worker's .pending is elsewhere
    from dataclasses import replace

    from guji.web.staff import queued_jobs

    queued = _queue_settings(monkeypatch, home, redis_url)
    folder = book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗")
    job_id = jobs.start_ingest(queued, "毛诗", card, "管理员")
    task = replace(plan_ingest(queued, folder, card, "管理员").tasks[0], pending_dir=str(tmp_path / "elsewhere"))
    assert queued_jobs.ingest_page(job_id, task) is None
    row = jobs.job(queued, job_id)
    assert row.status == "failed" and "GUJI_BUILD_DIR" in row.message and "0001" in row.message
    assert not (tmp_path / "elsewhere").exists() and catalogue.store.head(card) == 1
    queued.close()


def test_queue_out_of_reach_starts_nothing(catalogue, card, home, monkeypatch, tmp_path):
    from web_helpers import staff_client

    closed = socket_port_without_server()
    queued = _queue_settings(monkeypatch, home, f"redis://:secret@127.0.0.1:{closed}/0")
    book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗")
    with pytest.raises(QueueUnavailable) as refused:
        jobs.start_ingest(queued, "毛诗", card, "管理员")
    assert "GUJI_QUEUE" in str(refused.value) and "secret" not in str(refused.value)
    assert jobs.jobs(queued) == []  # no job recorded
    client = staff_client(queued, "管理员", "admin")
    page = client.get("/staff/ingest")
    assert page.status_code == 200  # the jobs page itself needs no queue
    answer = client.post("/staff/ingest", data={"folder": "毛诗", "card_id": card,
                                                "csrf_token": _csrf(page.text)})
    assert answer.status_code == 503 and "暂不可用" in answer.text and "Traceback" not in answer.text
    assert answer.headers["Retry-After"]
    assert jobs.jobs(queued) == [] and (jobs.incoming_dir(home, queued.settings) / "毛诗" / "0001.png").exists()
    result = CliRunner().invoke(root, ["--home", str(home.root), "worker", "--burst"])
    assert result.exit_code == 5
    assert result.output.count("\n") <= 2 and "GUJI_QUEUE" in result.output and "Traceback" not in result.output
    queued.close()


def test_a_job_its_queue_lost_is_failed_and_frees_its_book(catalogue, card, home, redis_url, monkeypatch):
    """Redis lost its data (restarted without its append-only file): the job's row would stay 排队中 for
    ever and keep the book from another ingest. Once its first step is missing from Redis, the jobs page
    shows it failed and a new ingest of the book may start."""
    import redis
    from sqlalchemy import update

    from guji.repository.catalogue_db import JobRow
    from guji.repository.job_records import LOST_AFTER_SECONDS

    queued = _queue_settings(monkeypatch, home, redis_url)
    book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗")
    job_id = jobs.start_ingest(queued, "毛诗", card, "管理员")
    with pytest.raises(jobs.JobError, match="已有任务"):
        jobs.start_ingest(queued, "毛诗", card, "管理员")  # the job is alive: its book is taken
    redis.Redis.from_url(redis_url).flushdb()  # the queue's data is gone
    assert jobs.job(queued, job_id).status == "queued"  # recorded a moment ago: not judged yet
    earlier = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - LOST_AFTER_SECONDS - 5))
    with queued.sessions.begin() as session:
        session.execute(update(JobRow).where(JobRow.id == job_id).values(created=earlier))
    row = jobs.job(queued, job_id)
    assert row.status == "failed" and "任务队列里已没有这个任务" in row.message
    again = jobs.start_ingest(queued, "毛诗", card, "管理员")
    _work_in_process(redis_url)
    assert jobs.job(queued, again).status == "done"
    queued.close()


def test_worker_needs_a_queue(home, catalogue):
    result = CliRunner().invoke(root, ["--home", str(home.root), "worker", "--burst"])
    assert result.exit_code == 2 and "GUJI_QUEUE" in result.output


def test_two_workers_share_a_book_and_a_killed_worker_page_is_retried(catalogue, card, home, redis_url, monkeypatch):
    """Two real `guji worker` processes take the pages of one book; one is killed (kill -9) while it
    works on a page: the other takes that page again, and the book is stored once, complete."""
    import redis
    from rq import Worker
    from rq.job import Job

    queued = _queue_settings(monkeypatch, home, redis_url)
    book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗", copies=4)  # 12 pages
    workers = [start_worker(dict(os.environ), name) for name in ("A", "B")]
    connection = redis.Redis.from_url(redis_url)
    try:
        job_id = jobs.start_ingest(queued, "毛诗", card, "管理员")
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:  # worker A busy on a page: kill it there
            found = Worker.find_by_key("rq:worker:A", connection=connection)
            current = found.get_current_job_id() if found else None
            # started: its horse runs the page (killed in the moment it is taken, RQ puts it back after a minute)
            if current and "-page-" in current and Job.fetch(current, connection=connection).get_status() == "started":
                victim = current
                os.killpg(workers[0].pid, signal.SIGKILL)
            else:
                time.sleep(0.01)
        assert victim, "worker A never took a page"
        workers[0].wait()
        while jobs.job(queued, job_id).status in jobs.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.1)
        row = jobs.job(queued, job_id)
        assert row.status == "done", row.message
        retried = Job.fetch(victim, connection=connection)
        assert retried.get_status() == "finished" and retried.worker_name == "B" and retried.retries_left == 2
    finally:
        for worker in workers:
            stop_worker(worker)
    assert catalogue.store.head(card) == 2  # one version with the book
    stored = catalogue.store.digests(card)
    for number in range(1, 13):
        assert stored[f"masters/{number:04d}.png"] == digest(scan_of_page(number))
    assert sorted(p.name for p in (home.derivatives / card).iterdir()) == [f"{n:04d}" for n in range(1, 13)]
    for number in range(1, 13):
        assert (home.derivatives / card / f"{number:04d}" / "info.json").is_file()
    queued.close()


def test_a_redis_restart_under_a_working_worker(catalogue, card, home, redis_server, redis_url, monkeypatch,
                                               tmp_path):
    """Redis restarted while a real `guji worker` works on a job: the job at hand finishes (its result is
    written once Redis is back, not retried), the worker says so in one line each way and takes new work;
    meanwhile a staff job is refused in one message with nothing recorded."""
    import redis
    from rq import Queue, Retry

    queued = _queue_settings(monkeypatch, home, redis_url)
    book_folder(jobs.incoming_dir(home, queued.settings) / "毛诗")
    log = tmp_path / "worker.log"
    worker = start_worker(dict(os.environ), "A", log)
    try:
        at_hand = Queue(QUEUE_NAME, connection=redis.Redis.from_url(redis_url)).enqueue(
            "time.sleep", 2, retry=Retry(max=3))
        deadline = time.monotonic() + 60
        while at_hand.get_status(refresh=True) != "started" and time.monotonic() < deadline:
            time.sleep(0.02)
        redis_server.stop()
        while "任务队列无法使用" not in log.read_text() and time.monotonic() < deadline:  # noticed at a heartbeat
            time.sleep(0.05)
        with pytest.raises(QueueUnavailable):
            jobs.start_ingest(queued, "毛诗", card, "管理员")
        assert jobs.jobs(queued) == []
        redis_server.start()
        while at_hand.get_status(refresh=True) != "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert at_hand.get_status() == "finished" and at_hand.retries_left == 3  # finished, not run again
        job_id = jobs.start_ingest(queued, "毛诗", card, "管理员")  # Redis back: no restart of anything else
        while jobs.job(queued, job_id).status in jobs.ACTIVE and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jobs.job(queued, job_id).status == "done", jobs.job(queued, job_id).message
        assert worker.poll() is None
    finally:
        stop_worker(worker)
    said = log.read_text()
    assert said.count("任务队列无法使用") == 1 and said.count("任务队列已恢复连接") == 1, said
    assert "Traceback" not in said and "could not connect" not in said
    assert catalogue.store.head(card) == 2
    queued.close()


def socket_port_without_server() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _csrf(html: str) -> str:
    from web_helpers import csrf_of

    return csrf_of(html)
