"""A throwaway PostgreSQL cluster, started by the tests themselves (and by bench/scale.py).

* `initdb` runs as the ``postgres`` user (it refuses root) into a temporary folder owned by that
  user, with ``--no-sync``; the server runs with ``fsync=off`` on a free port of 127.0.0.1 and a
  socket in the same folder. The superuser signs in over the socket without a password; the
  tests' role ``guji`` signs in over TCP with a password (scram-sha-256), as a site would.
* The server is a child of this process, started through ``setpriv --pdeathsig SIGQUIT``: the
  kernel sends it SIGQUIT (PostgreSQL's immediate shutdown) as soon as this process ends, however
  it ends — ``kill -9`` of pytest included. A normal end stops it in the fixture's finalizer (and
  an ``atexit`` handler), then removes the folder. No postgres process outlives the test run; the
  folder a killed run left behind is removed by the next run (once no server uses it).

Fixtures: ``postgres_server`` (session-wide, started when a test first needs it) and, through
:func:`PostgresServer.new_database`, one fresh database per test, dropped afterwards.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from process_support import free_port

ROLE = "guji"


def server_binaries() -> Path | None:
    """The newest PostgreSQL server's bin folder of Debian's layout (/usr/lib/postgresql/N/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else None


STALE_AFTER_SECONDS = 600


def _sweep_stale_folders() -> None:
    """Folders of earlier runs that were killed: no server running in them, not touched for a while
    (another test run may be setting one up right now)."""
    for folder in Path(tempfile.gettempdir()).glob("guji-pg-*"):
        pid_file = folder / "data" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0]) if pid_file.exists() else 0
            if pid and Path(f"/proc/{pid}").exists():
                continue
            log = folder / "server.log"  # written at every start and stop
            touched = max(folder.stat().st_mtime, log.stat().st_mtime if log.exists() else 0)
            if time.time() - touched < STALE_AFTER_SECONDS:
                continue
        except (OSError, ValueError, IndexError):
            continue
        shutil.rmtree(folder, ignore_errors=True)



class PostgresServer:
    """One throwaway cluster: :meth:`start`, :meth:`stop` (and start again: same data, same port)."""

    def __init__(self, binaries: Path, durable: bool = False):
        _sweep_stale_folders()
        self.binaries = binaries
        # tests: no fsync (a throwaway cluster); bench/scale.py: the settings a site runs with
        self.settings = [] if durable else ["fsync=off", "synchronous_commit=off", "full_page_writes=off"]
        self.folder = Path(tempfile.mkdtemp(prefix="guji-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.password = secrets.token_hex(12)
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self._databases = 0
        as_root = os.geteuid() == 0
        self.user = "postgres" if as_root else pwd.getpwuid(os.geteuid()).pw_name
        # setpriv changes to the postgres user (when root) and sets the parent-death signal last
        self._prefix = ["setpriv", *(["--reuid", "postgres", "--regid", "postgres", "--clear-groups"]
                                     if as_root else []), "--pdeathsig", "SIGQUIT", "--"]
        if as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        secret = self.folder / "superuser-password"
        secret.write_text(self.password + "\n")
        if as_root:
            shutil.chown(secret, "postgres", "postgres")
        subprocess.run([*self._prefix, str(binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={secret}", "--no-sync",
                        "-E", "UTF8", "--locale=C.UTF-8"], check=True, capture_output=True, cwd=self.folder)
        secret.unlink()

    # ---- the server -------------------------------------------------------------------------

    def start(self) -> None:
        if self.running():
            return
        for _ in range(3):
            with open(self.log, "ab") as log:
                self.process = subprocess.Popen(
                    [*self._prefix, str(self.binaries / "postgres"), "-D", str(self.data), "-p", str(self.port),
                     "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
                     *(option for setting in self.settings for option in ("-c", setting))],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder)
            if self._wait_ready():
                return
            self.port = free_port()  # someone took the port between probe and bind: another one
        raise RuntimeError(f"PostgreSQL did not start; its log:\n{self.log.read_text(errors='replace')[-3000:]}")

    def _wait_ready(self, timeout: float = 30.0) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                psycopg.connect(**self._admin_address(), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Fast shutdown (SIGINT: open connections are ended); the data stays for :meth:`start`."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGQUIT)
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ---- databases --------------------------------------------------------------------------

    def _admin_address(self) -> dict:
        return {"host": str(self.folder), "port": self.port, "user": "postgres", "dbname": "postgres"}

    def admin(self, *statements: str) -> None:
        import psycopg

        with psycopg.connect(**self._admin_address(), autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def url(self, database: str, *, user: str = ROLE, password: str | None = None) -> str:
        return (f"postgresql+psycopg://{user}:{password or self.password}@127.0.0.1:{self.port}/{database}")

    def new_database(self) -> str:
        """A new, empty database owned by the role ``guji`` (not a superuser); its URL."""
        self._databases += 1
        name = f"guji_test_{self._databases}"
        if self._databases == 1:
            self.admin(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{self.password}'")
        self.admin(f"CREATE DATABASE {name} OWNER {ROLE}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        if self.running():
            self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_server():
    binaries = server_binaries()
    if binaries is None or shutil.which("setpriv") is None:
        pytest.fail("PostgreSQL server binaries are missing (Debian: apt-get install postgresql; `make test` "
                    "installs them)")
    server = PostgresServer(binaries)
    atexit.register(server.remove)
    try:
        server.start()
        yield server
    finally:
        server.remove()
        atexit.unregister(server.remove)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database for one test (dropped afterwards, connections and all)."""
    url = postgres_server.new_database()
    yield url
    with contextlib.suppress(Exception):
        postgres_server.drop_database(url)
