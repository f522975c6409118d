"""Pieces of a site on several processes, shared by the tests that start them (test_job_queue.py,
test_web_nodes.py, test_scale_out.py) and bench/scale.py: book folders made of the fixture scans,
real `guji worker` processes, a staff member signed in over HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

SCANS = Path(__file__).parent / "fixtures" / "scans"
SCAN_NAMES = ("1.png", "2.png", "10.png")
GUJI = Path(sys.executable).parent / "guji"


def book_folder(folder: Path, copies: int = 1) -> Path:
    """The fixture scans (1.png, 2.png, 10.png), `copies` times over (as pages 0001, 0002, 0003, 0004 …)."""
    folder.mkdir(parents=True)
    number = 0
    for _ in range(copies):
        for name in SCAN_NAMES:
            number += 1
            shutil.copyfile(SCANS / name, folder / f"{number:04d}.png")
    return folder


def scan_of_page(number: int) -> Path:
    """The fixture scan that page `number` of :func:`book_folder` is a copy of."""
    return SCANS / SCAN_NAMES[(number - 1) % len(SCAN_NAMES)]


def digest(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def start_worker(environment: dict, name: str, log: Path | None = None) -> subprocess.Popen:
    """A real `guji worker --name NAME` in its own process group (output to `log`, else dropped)."""
    output = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - the child holds it
    try:
        return subprocess.Popen([str(GUJI), "worker", "--name", name], env={"MALLOC_ARENA_MAX": "2", **environment},
                                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        if log:
            output.close()


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM to its process group (the job at hand is finished first), SIGKILL after 30 s."""
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


@contextlib.contextmanager
def workers(environments: list[dict], names: list[str], logs: list[Path] | None = None) \
        -> Iterator[list[subprocess.Popen]]:
    """One `guji worker` per environment, stopped when the block ends."""
    started = []
    try:
        for number, (environment, name) in enumerate(zip(environments, names, strict=True)):
            started.append(start_worker(environment, name, logs[number] if logs else None))
        yield started
    finally:
        for worker in started:
            stop_worker(worker)


def sign_in_over_http(client, name: str, password: str) -> None:
    """Sign `name` in to the staff workspace of the site `client` (an httpx.Client) talks to."""
    from web_helpers import csrf_of

    login = client.get("/staff/login")
    signed_in = client.post("/staff/login", data={"csrf_token": csrf_of(login.text), "name": name,
                                                  "password": password})
    assert signed_in.status_code == 303, signed_in.text[:500]


def edit_title(client, card: str, title: str, reason: str) -> None:
    """Change a card's title through its edit form, as a cataloguer does."""
    from web_helpers import form_values

    action, values = form_values(client.get(f"/staff/cards/{card}/edit").text, "#card-form")
    values["edition.title"] = [title]
    values["reason"] = [reason]
    saved = client.post(action, data=values)
    assert saved.status_code == 303 and "history?saved=" in saved.headers["location"], saved.text[:500]


def found_in_search(client, words: str, card: str) -> bool:
    """Whether the site's search for `words` finds `card` (and only it)."""
    hits = client.get("/api/search", params={"q": words}).json()["books"]
    return [hit["id"] for hit in hits] == [card]
