"""Shared by the tests that drive a real site: `guji serve` on a free 127.0.0.1 port, Debian's
Chromium through Playwright (fixtures `browser` and `page`), screenshots kept in test-artifacts/
(not committed), and reading from a screenshot whether the IIIF viewer has drawn page images.

Loaded for every test module by `pytest_plugins` in conftest.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import cli_support
import pytest
import pyvips

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
GUJI = Path(sys.executable).parent / "guji"
CHROMIUM = Path("/usr/bin/chromium")
MIRADOR = ROOT / "node_modules" / "mirador" / "dist" / "mirador.min.js"
# Without the background-networking flags Chromium keeps trying to reach the internet.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PASSWORD = "browser test password"  # of the staff accounts the browser tests create
T = TypeVar("T")



def guji(env: dict, *args: str) -> str:
    """Run the `guji` CLI in-process with exactly the environment `env` (the one the site's server gets:
    variables of this process that `env` leaves out are unset meanwhile); fails the test with its output
    when it does not succeed."""
    unset = {name: None for name in os.environ if name not in env}
    return cli_support.guji(None, *args, env={**unset, **env}).stdout


@contextmanager
def serving(env: dict, port: int, log: Path, *options: str, workers: int = 1) -> Iterator[str]:
    """`guji serve` (with its indexer) on 127.0.0.1:`port` until the block ends; yields the base URL.
    Output goes to `log`; the server and the processes it started are stopped by process group. One web
    worker unless asked: each more is another process loading the whole app (about 2 CPU-s), and what
    several workers share is tested with them (tests/test_process_tree.py, test_scale_out.py)."""
    base = f"http://127.0.0.1:{port}"
    with open(log, "wb") as output:
        server = subprocess.Popen([str(GUJI), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                                   str(workers), *options], env=env, stdout=output, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            def up() -> bool:
                assert server.poll() is None, f"guji serve stopped:\n{log.read_text(errors='replace')}"
                try:
                    with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                        return response.status == 200
                except OSError:
                    return False

            wait_until(up, 60, "guji serve did not come up within 60 s")
            yield base
        finally:
            os.killpg(server.pid, signal.SIGTERM)  # the server, its workers and its indexer: we started them
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def wait_until(condition: Callable[[], T], timeout: float, message: str, interval: float = 0.2) -> T:
    """Poll `condition` until it returns something true (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, message
        time.sleep(interval)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium (never a downloaded one), one for the whole session."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian chromium is missing: run `make install`"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context per test; fails the test if a page broke its Content Security Policy."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    policy_violations: list[str] = []
    page.on("console", lambda message: policy_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not policy_violations, policy_violations  # no inline script or style slipped into a page


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, site: str, name: str, password: str = PASSWORD) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site}/staff/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]")
    expect(page.locator("h1")).to_have_text("工作台")


def _inked_halves(area: pyvips.Image) -> int:
    halves = [area.crop(0, 0, area.width // 2, area.height),
              area.crop(area.width // 2, 0, area.width - area.width // 2, area.height)]
    return sum(1 for half in halves if (half < 100).avg() / 255 > 0.01)  # ink on ≥ 1 % of the half


def viewer_area(page, canvas, path: Path, wanted: int = 1, timeout: float = 30) -> pyvips.Image:
    """The viewer's image area (OpenSeadragon's canvas, `canvas` a Playwright locator — inside an
    iframe too) cut from screenshots of `page`, polled until page images are drawn on `wanted`
    halves of it (or `timeout` passes: the caller's assertions then say what is missing)."""
    canvas.wait_for(timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    while True:
        box = canvas.bounding_box()  # in the top page's coordinates, also for an element in an iframe
        page.screenshot(path=str(path))
        screen = pyvips.Image.new_from_file(str(path), access="sequential").copy_memory()
        left, top = max(0, int(box["x"])), max(0, int(box["y"]))
        width = min(int(box["width"]), screen.width - left)
        height = min(int(box["height"]), screen.height - top)
        area = screen.crop(left, top, width, height).colourspace("b-w")
        if _inked_halves(area) >= wanted or time.monotonic() > deadline:
            return area
        page.wait_for_timeout(200)


def likeness(area: pyvips.Image, page_image: Path) -> float:
    """Mean difference (0–255) between a screenshot area's drawn content and a page image, both
    cut to their ink and scaled to 64×96 gray: the smaller, the more alike."""
    def normalise(image):
        gray = image.colourspace("b-w").extract_band(0)
        ink = gray < 128
        left, top, width, height = ink.find_trim(threshold=0, background=[0])
        return gray.crop(left, top, max(1, width), max(1, height)).thumbnail_image(64, height=96, size="force")

    return (normalise(area) - normalise(pyvips.Image.new_from_file(str(page_image)))).abs().avg()
