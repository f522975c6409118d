"""A throwaway Redis server, started by the tests themselves (Debian's redis-server; `make test`
installs it), for the shared job queue's tests (and bench/scale.py).

The server listens on a free port of 127.0.0.1 with its files in a temporary folder, the
append-only file on (so that a restart keeps the queue, as a site runs it). It is a child of this
process under ``setpriv --pdeathsig SIGKILL``: the kernel ends it when the test run ends, however
it ends. :meth:`RedisServer.stop` and :meth:`RedisServer.start` restart it on the same port and data.

Fixtures: ``redis_server`` (session-wide, started when a test first needs it) and ``redis_url`` (a
database of it emptied for each test).
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from process_support import free_port


class RedisServer:
    def __init__(self):
        self.binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.folder = Path(tempfile.mkdtemp(prefix="guji-redis-"))
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        with open(self.folder / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                ["setpriv", "--pdeathsig", "SIGKILL", "--", self.binary, "--port", str(self.port),
                 "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "", "--appendonly", "yes",
                 "--appendfsync", "no", "--daemonize", "no", "--protected-mode", "yes"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                client.ping()
                return
            except (redis.exceptions.ConnectionError, redis.exceptions.BusyLoadingError):
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file and ends (the data stays for :meth:`start`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    if shutil.which("redis-server") is None or shutil.which("setpriv") is None:
        pytest.fail("redis-server is missing (Debian: apt-get install redis-server; `make test` installs it)")
    server = RedisServer()
    atexit.register(server.remove)
    try:
        server.start()
        yield server
    finally:
        server.remove()
        atexit.unregister(server.remove)


@pytest.fixture
def redis_url(redis_server) -> str:
    """The server's database 0, empty at the start of the test (restarted if a test stopped it)."""
    import redis

    redis_server.start()
    with contextlib.closing(redis.Redis.from_url(redis_server.url)) as client:
        client.flushdb()
    return redis_server.url
