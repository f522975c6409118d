"""Children end with their parent: `guji serve`'s workers and indexer, the staff ingest job and its
page workers, and the two mechanisms behind them (repository.process_tree). Each test kills only the
parent process — never its process group — and polls until every descendant is gone."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import pyvips
from process_support import alive, command_line, descendants, free_port, poll, wait_until_gone

ROOT = Path(__file__).resolve().parents[1]
SCANS = Path(__file__).parent / "fixtures" / "scans"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _parent(script: str, *args: str) -> subprocess.Popen:
    """A Python parent process running `script`; it prints its child's pid and then waits."""
    return subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT)


def _kill(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    process.send_signal(sig)
    process.wait(30)


LIFELINE_PARENT = """
import sys, threading
from guji.repository.process_tree import Child
def start():
    global child
    child = Child([sys.executable, "-c", "import signal; from guji.repository.process_tree import hold_lifeline; "
                   "assert hold_lifeline(); signal.pause()"])
thread = threading.Thread(target=start)  # a thread that ends at once, as a web request's does
thread.start(); thread.join()
print(child.pid, flush=True)
sys.stdin.read()
"""


def test_a_lifeline_child_ends_when_its_parent_is_killed():
    parent = _parent(LIFELINE_PARENT)
    child = int(parent.stdout.readline())
    assert alive(child)
    _kill(parent)
    wait_until_gone({child})


DEATH_SIGNAL_PARENT = """
import subprocess, sys, os
child = subprocess.Popen([sys.executable, "-c", "import signal, sys; from guji.repository.process_tree import "
                          "die_with_parent; die_with_parent(int(sys.argv[1])); signal.pause()", str(os.getpid())])
print(child.pid, flush=True)
sys.stdin.read()
"""


def test_die_with_parent_ends_the_child_when_its_parent_is_killed():
    parent = _parent(DEATH_SIGNAL_PARENT)
    child = int(parent.stdout.readline())
    _kill(parent)
    wait_until_gone({child})


def test_die_with_parent_ends_a_child_whose_parent_is_already_gone():
    # the parent died before the child could ask for the signal: the child was handed to another process
    orphan = subprocess.run([sys.executable, "-c", "import os; from guji.repository.process_tree import "
                             "die_with_parent; die_with_parent(os.getppid() + 1); print('still here')"],
                            capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert orphan.returncode == -signal.SIGKILL and "still here" not in orphan.stdout


# ---- guji serve ------------------------------------------------------------------------------------------



def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("workers, sig", [(1, signal.SIGTERM), (2, signal.SIGKILL)],
                         ids=["one-worker-sigterm", "two-workers-sigkill"])
def test_stopping_or_killing_serve_ends_its_workers_and_indexer(catalogue, home, workers, sig):
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "guji"), "serve", "--port", str(port),
                               "--workers", str(workers), "--no-access-log"],
                              env={**os.environ, "GUJI_HOME": str(home.root)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        poll(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), what="the server to answer")
        children = poll(lambda: (found := descendants(server.pid)) and
                        sum("spawn_main" in command_line(pid) for pid in found) == (workers if workers > 1 else 0)
                        and found, what="the workers")
        assert any("indexer" in command_line(pid) for pid in children)
    finally:
        _kill(server, sig)
    wait_until_gone(children)


# ---- the staff workspace's ingest job ------------------------------------------------------------------------

JOB_PARENT = """
import sys
from guji.repository import Catalogue, Home
from guji.web.staff.jobs import start_ingest
catalogue = Catalogue.open(Home.resolve(sys.argv[1]))
job = start_ingest(catalogue, "book", "maoshi-zhushu", "馆长")
print(job, flush=True)
sys.stdin.read()
"""


def test_an_ingest_job_and_its_page_workers_end_with_the_web_process(catalogue, home, sample_cards, tmp_path):
    catalogue.create(next(c for c in sample_cards if c["id"] == "maoshi-zhushu"), editor="编目员", reason="新建")
    book = tmp_path / "incoming" / "book"
    book.mkdir(parents=True)
    page = pyvips.Image.new_from_file(str(SCANS / "1.png")).resize(2.2)
    for number in range(1, 7):
        page.embed(number, number, page.width, page.height).tiffsave(str(book / f"{number:04d}.tif"),
                                                                      compression="lzw")
    web = subprocess.Popen([sys.executable, "-c", JOB_PARENT, str(home.root)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, cwd=ROOT,
                           env={**ENV, "GUJI_INCOMING": str(book.parent), "GUJI_INGEST_WORKERS": "2"})
    try:
        int(web.stdout.readline())
        # the job process, and the page workers it started (two: pages are being made)
        job = poll(lambda: descendants(web.pid) and
                   sum("spawn_main" in command_line(pid) for pid in descendants(web.pid)) == 2 and
                   descendants(web.pid), what="the job's page workers")
    finally:
        _kill(web)
    wait_until_gone(job)
    assert catalogue.store.head("maoshi-zhushu") == 1  # stopped mid-way: nothing stored, to be started again
    shutil.rmtree(book.parent)


# ---- a whoosh rebuild's sub-writers ------------------------------------------------------------------------

WHOOSH_PARENT = """
import multiprocessing, sys
from guji.search.whoosh_backend import WhooshBackend
writer = WhooshBackend(sys.argv[1], writable=True)._writer(2)
for number in range(250):  # batches of 100 documents: two sub-writers start
    writer.add_document(doc_id=f"b:{number}", kind="book", book_id=str(number))
print(" ".join(str(child.pid) for child in multiprocessing.active_children()), flush=True)
sys.stdin.read()
"""


def test_the_sub_writers_of_a_whoosh_rebuild_end_when_it_is_killed(tmp_path):
    parent = _parent(WHOOSH_PARENT, str(tmp_path / "index"))
    children = {int(pid) for pid in parent.stdout.readline().split()}
    assert len(children) == 2
    _kill(parent)
    wait_until_gone(children)
