"""The shared job queue: RQ on Redis, so that any number of worker machines take the work.

Unset (``GUJI_QUEUE``, the default), a job of the staff workspace runs in a process of the web
server's machine, as it always did (web/staff/jobs.py). Set to a Redis URL, jobs are put on the
queue ``guji`` of that Redis and every `guji worker` — on any machine that shares the catalogue
database and the storage — takes them one at a time. An ingest is split into one job per page
(web/staff/queued_jobs.py), so several workers share one book.

How a worker lives (RQ's :class:`rq.Worker`, one job at a time, each in a forked *work horse*):

* every ``GUJI_WORKER_HEARTBEAT`` seconds the worker tells Redis it is alive, while idle and while
  its horse works; a job whose worker has been silent for three heartbeats is *abandoned* (the
  machine died, the worker was killed with ``kill -9``). Another worker's maintenance, every two
  heartbeats, puts it back on the queue (RQ's ``Retry``: up to :data:`RETRIES` times) — the work
  steps are idempotent, so the retry gives what an uninterrupted run gives;
* the horse ends with its worker (Linux parent-death signal): no orphan goes on writing;
* while Redis is out of reach (a restart) every Redis call of the worker and its horse waits and
  tries again (:class:`PatientRetry`): the job at hand goes on, its result is written when Redis is
  back, and the worker says so in one log line when the outage begins and one when it ends; whoever
  enqueues gets :class:`QueueUnavailable` at once (503 on the web, exit code 5).

This module names the work by dotted path only (RQ imports it in the worker), so the repository
layer stays below the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import Unavailable

QUEUE_NAME = "guji"
SETTING = "GUJI_QUEUE"
RETRIES = 3  # a job abandoned (or failing unexpectedly) this many times more is failed for good
RESULT_SECONDS = 7 * 24 * 3600  # a page's result waits this long for the book's last page
CONNECT_TIMEOUT_SECONDS = 5
OUTAGE_WAIT_CAP = 5  # seconds: a worker tries a Redis that is out of reach again at least this often

log = logging.getLogger("guji.queue")


class QueueUnavailable(Unavailable):
    """The job queue's Redis cannot be reached (down, restarting, a wrong address). Nothing was queued."""


def shown_url(url: str) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _unreachable(url: str, error: BaseException) -> QueueUnavailable:
    detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    lowered = detail.lower()
    if "auth" in lowered or "password" in lowered or "noperm" in lowered:
        reason = f"用户名或密码不对：请核对 {SETTING} 中的密码"
    else:
        reason = "Redis 没有启动、正在重启，或网络不通；恢复后会自动重连"
    return QueueUnavailable(f"任务队列无法使用（{SETTING} = {shown_url(url)}）：{reason}",
                            english=f"the job queue ({SETTING}) cannot be reached: {detail}")


@contextlib.contextmanager
def reaching(url: str) -> Iterator[None]:
    """Redis's connection errors inside as :class:`QueueUnavailable` (one line, no traceback)."""
    import redis

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
            redis.exceptions.AuthenticationError, redis.exceptions.ResponseError) as error:
        if isinstance(error, redis.exceptions.ResponseError) and "NOAUTH" not in str(error) \
                and "WRONGPASS" not in str(error) and "LOADING" not in str(error):
            raise
        raise _unreachable(url, error) from None


def connect(url: str, retry=None):
    """A Redis client for `url` (the caller checked the URL: repository/settings.py); `retry`: redis-py's
    retry policy (default: its own, a few tries — a web request answers 503 rather than wait)."""
    import redis

    options = {"retry": retry} if retry is not None else {}
    return redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, health_check_interval=30,
                                **options)


def _patient_retry_class():
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    class PatientRetry(Retry):
        """A worker's retry policy: every Redis call waits through an outage (a restart, a failover) and is
        tried again — forever, up to :data:`OUTAGE_WAIT_CAP` seconds apart — until `stopping()` says the worker
        is asked to end. One log line when an outage begins, one when Redis answers again."""

        def __init__(self, url: str):
            super().__init__(ExponentialBackoff(cap=OUTAGE_WAIT_CAP, base=0.25), -1)
            self.url = url
            self.outage = False
            self.stopping = lambda: False
            self.quiet = False  # a work horse: its worker says it (once, not once per process)

        def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):
            def failed(error, *count):
                if not self.outage:
                    self.outage = True
                    if not self.quiet:
                        log.warning("%s；正在做的任务不会中断", _unreachable(self.url, error))
                fail(error, *count)
                if self.stopping():
                    raise error  # asked to end: do not wait for Redis any longer

            result = super().call_with_retry(do, failed, is_retryable, with_failure_count)
            if self.outage:
                self.outage = False
                if not self.quiet:
                    log.warning("任务队列已恢复连接（%s = %s）", SETTING, shown_url(self.url))
            return result

    return PatientRetry


class JobQueue:
    """The queue ``guji`` of the Redis at `url`."""

    def __init__(self, url: str):
        from rq import Queue

        self.url = url
        self.redis = connect(url)
        self.queue = Queue(QUEUE_NAME, connection=self.redis)

    def enqueue(self, function: str, *args: Any, job_id: str, depends_on: Sequence[str] = (),
                timeout: int = 24 * 3600, on_failure: str | None = None) -> str:
        """Put `function` (a dotted path) with `args` on the queue as `job_id`, retried when its worker
        is lost; `depends_on`: job ids that must finish first. Returns the job id."""
        from rq import Callback, Retry

        with reaching(self.url):
            job = self.queue.enqueue(function, *args, job_id=job_id, depends_on=list(depends_on) or None,
                                     retry=Retry(max=RETRIES), job_timeout=timeout, result_ttl=RESULT_SECONDS,
                                     failure_ttl=RESULT_SECONDS,
                                     on_failure=Callback(on_failure) if on_failure else None)
        return job.id

    def results(self, job_ids: Sequence[str]) -> list[Any]:
        """The return values of finished jobs, in the order of `job_ids`."""
        from rq.job import Job

        with reaching(self.url):
            return [job.return_value() if job else None
                    for job in Job.fetch_many(list(job_ids), connection=self.redis)]

    def ping(self) -> None:
        with reaching(self.url):
            self.redis.ping()

    def has_job(self, job_id: str) -> bool:
        """Whether Redis still holds the job `job_id` (queued, running, or finished within its result time)."""
        from rq.job import Job

        with reaching(self.url):
            return Job.exists(job_id, connection=self.redis)


def _worker_class():
    from rq import Worker

    from .process_tree import die_with_parent

    class GujiWorker(Worker):
        """RQ's worker with Guji's heartbeat (:func:`run_worker`) and horses that end with it."""

        grace_seconds = 60

        def get_heartbeat_ttl(self, job, working_time: float = 0.0) -> int:
            # RQ allows 60 s past the next heartbeat; Guji two heartbeats (a silent worker is dead sooner)
            interval = self.job_monitoring_interval
            if job.timeout and job.timeout > 0:
                interval = min(job.timeout - working_time, interval)
            return int(interval) + self.grace_seconds

        patient_retry = None  # the connection's PatientRetry (run_worker)

        def setup_work_horse_signals(self) -> None:
            super().setup_work_horse_signals()
            die_with_parent(self._worker_pid)  # the horse of a killed worker stops too
            if self.patient_retry is not None:
                self.patient_retry.quiet = True

        def fork_work_horse(self, job, queue) -> None:
            self._worker_pid = os.getpid()
            super().fork_work_horse(job, queue)

    return GujiWorker


def run_worker(url: str, heartbeat: int, *, burst: bool = False, name: str | None = None) -> bool:
    """Take jobs from the queue until stopped (SIGTERM or Ctrl-C finish the job at hand first); with
    `burst`, until the queue is empty. Returns whether any job was done."""
    from rq import Queue

    with reaching(url):
        connect(url).ping()  # out of reach at the start: one message, exit code 5
    _log_to_stderr()
    retry = _patient_retry_class()(url)
    redis = connect(url, retry)
    worker_class = _worker_class()
    worker_class.grace_seconds = 2 * heartbeat
    worker = worker_class([Queue(QUEUE_NAME, connection=redis)], connection=redis, name=name,
                          job_monitoring_interval=heartbeat, worker_ttl=heartbeat + 15,
                          maintenance_interval=2 * heartbeat)
    retry.stopping = lambda: worker._stop_requested
    worker.patient_retry = retry
    with reaching(url):
        return worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)


def _log_to_stderr() -> None:
    """The worker's own lines on standard error, stamped with the library's time (Beijing time)."""
    from . import local_time

    if log.handlers:
        return
    handler = logging.StreamHandler()
    formatter = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    formatter.converter = lambda seconds: datetime.fromtimestamp(seconds, local_time.zone()).timetuple()
    handler.setFormatter(formatter)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
