"""An S3 API server for the tests, started by the tests themselves: moto's server (`moto[s3]` and flask,
in memory) on a free port of 127.0.0.1.

It runs under ``setpriv --pdeathsig SIGKILL``: the kernel ends it the moment the test run ends, even
when pytest is killed with ``kill -9``; a normal end stops it in the fixture's finalizer.

Fixtures: ``s3_server`` (session-wide, started when a test first needs it) and ``s3_storage``: the
AWS_* variables pointing at it (test keys: moto takes any) and a fresh bucket per test, returned as
the ``GUJI_STORAGE`` value ``s3://<bucket>/guji``.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
from process_support import free_port

TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
_buckets = itertools.count(1)



class S3Server:
    def __init__(self, environment: dict[str, str] | None = None):
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.environment = environment  # e.g. moto's INITIAL_NO_AUTH_ACTION_COUNT: checked keys

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        prefix = ["setpriv", "--pdeathsig", "SIGKILL", "--"] if shutil.which("setpriv") else []
        for _ in range(3):
            self.process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                env={**os.environ, **(self.environment or {})},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
            if self._wait_ready():
                return
            self.stop()
            self.port = free_port()  # taken between probe and bind: another one
        raise RuntimeError("moto's S3 server did not start (are moto[s3] and flask installed? `make install`)")

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_environment(s3_server, monkeypatch) -> str:
    """The AWS_* variables of the test server (the endpoint's URL is returned)."""
    for name, value in TEST_KEYS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.url)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return s3_server.url


@pytest.fixture
def s3_storage(s3_environment, monkeypatch) -> str:
    """A fresh bucket on the test server, as `GUJI_STORAGE` (set for the test and the commands it runs)."""
    from guji.repository.object_bucket import Bucket, S3Location

    location = S3Location.parse(f"s3://guji-test-{next(_buckets)}-{time.monotonic_ns() % 10**9}/guji")
    Bucket(location).create()
    monkeypatch.setenv("GUJI_STORAGE", str(location))
    return str(location)
