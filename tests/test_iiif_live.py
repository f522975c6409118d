"""A real `guji serve` on 127.0.0.1: the official Image API validator, and Mirador in a real Chromium."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import pyvips
from browser_support import (
    ARTIFACTS,
    MIRADOR,
    ROOT,
    guji,
    likeness,
    serving,
    viewer_area,
)
from iiif_fixtures import BOOK, TEST_BOOK, build_home
from ocr_support import QIZHENG_SIZE, recorded_lines, replayed_ocr
from process_support import free_port

from guji.iiif.text_boxes import union
from guji.repository import Catalogue, Home

BIN = Path(sys.executable).parent
SEARCH_BOOK = "qizheng-tuibu"  # the sample with scans and a Kanripo transcription (samples/README.md)


def _with_text(env: dict, home: Home) -> None:
    """Ingest the sample 七政推步 scans (葉一a–五a) and its Kanripo text of 卷二 (leaves 1–28, each
    marker on the scan of its leaf), OCR 葉一a (rapidocr's recorded output, replayed: the text gets
    the OCR's character boxes), then index it."""
    guji(env, "ingest", str(ROOT / "samples" / "scans" / SEARCH_BOOK), "--id", SEARCH_BOOK, "--workers", "1")
    guji(env, "text", "import", SEARCH_BOOK, str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"))
    catalogue = Catalogue.open(home)
    try:
        replayed_ocr(catalogue, SEARCH_BOOK)
    finally:
        catalogue.close()
    guji(env, "reindex")


@pytest.fixture(scope="module")
def server(tmp_path_factory, prepared_homes):
    """`guji serve` (2 workers) over a data home with the validator image and real scans ingested."""
    folder = tmp_path_factory.mktemp("live")
    home = prepared_homes.copy("iiif", build_home, folder / "guji-data")
    port = free_port()
    env = {**os.environ, "GUJI_HOME": str(home.root), "GUJI_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "GUJI_EDITOR": "数字化员"}
    _with_text(env, home)
    with serving(env, port, folder / "serve.log", "--no-access-log") as base:
        yield base


def _validate(server: str, *options: str) -> subprocess.CompletedProcess:
    host = server.removeprefix("http://")
    return subprocess.run([sys.executable, str(BIN / "iiif-validate.py"), "-s", host, "-p", f"iiif/image/{TEST_BOOK}",
                           "-i", "0001", "--version=3.0", *options], capture_output=True, text=True, timeout=300)


def test_official_validator_level_2(server):
    result = _validate(server, "--level=2")
    report = result.stdout + result.stderr
    assert result.returncode == 0, report  # the exit code is the number of failed tests
    assert "failures)" in report and " 0 failures" in report


def test_official_validator_mirroring_and_link_headers(server):
    """Level-3 features this service offers as extraFeatures."""
    tests = ["rot_mirror", "rot_mirror_180", "linkheader_profile", "linkheader_canonical"]
    result = _validate(server, *[f"--test={name}" for name in tests])
    assert result.returncode == 0, result.stdout + result.stderr


def test_viewer_draws_the_book_right_to_left(server, browser, tmp_path):
    assert MIRADOR.exists(), "Mirador is not installed: make install (npm ci)"
    shot = ARTIFACTS / f"viewer-{BOOK}.png"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        failed = []
        page.on("requestfailed", lambda request: failed.append(request.url))
        page.goto(f"{server}/books/{BOOK}/viewer?canvas=0002")
        area = viewer_area(page, page.locator(".openseadragon-canvas").first, shot, wanted=2)

        # The page images are drawn: the image area is far from a blank background.
        assert area.deviate() > 25, f"image area looks blank (see {shot})"
        # Book view, right to left: leaf 0002 on the right, 0003 on its left (the bottom strip,
        # where Mirador draws its zoom buttons and the page label, left out).
        pages = area.crop(0, 0, area.width, int(area.height * 0.85))
        left, right = pages.crop(0, 0, pages.width // 2, pages.height), pages.crop(pages.width // 2, 0,
                                                                                   pages.width // 2, pages.height)
        page_2 = _static(server, "0002", tmp_path)
        page_3 = _static(server, "0003", tmp_path)
        assert likeness(right, page_2) < likeness(right, page_3), f"right half is not leaf 0002 ({shot})"
        assert likeness(left, page_3) < likeness(left, page_2), f"left half is not leaf 0003 ({shot})"
        # The site's language (simplified Chinese), 卷 as table of contents, the search panel offered,
        # the book's title in the tab, the pages' labels in the simplified form the manifest gives (zh-Hans).
        assert page.get_by_role("tab", name="目录").count() + page.get_by_label("目录").count() > 0
        assert page.get_by_text("卷一", exact=True).first.is_visible()
        assert page.get_by_text("第一册", exact=True).first.is_visible()
        assert page.get_by_label("书内检索").count() > 0
        assert page.title().endswith(" · 古籍阅读器") and BOOK not in page.title()
        assert page.get_by_text(re.compile("卷一 叶一[ab]")).count() > 0
        assert not [url for url in failed if url.startswith(server)], failed

        page.goto(f"{server}/books/{BOOK}/viewer?lang=zh-Hant")
        page.wait_for_selector(".openseadragon-canvas", timeout=30_000)
        assert page.get_by_label("目錄").count() > 0  # traditional Chinese on request
        assert page.title().endswith(" · 古籍閱讀器")
    finally:
        page.close()


def test_viewer_searches_inside_the_book(server, browser):
    """?q= opens Mirador's search panel on the book's Content Search (v1): each hit listed once."""
    query = "日五星中行"
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        searches = []
        page.on("request", lambda request: searches.append(request.url) if "/iiif/search/" in request.url else None)
        page.goto(f"{server}/books/{SEARCH_BOOK}/viewer?q={query}")
        page.get_by_text("日五星中行 零年立成").first.wait_for(timeout=30_000)  # a hit's text, on leaf 3a
        # leaves 1a, 3a, 5a (each listed once, not twice); 7a has the words but no scan
        assert page.get_by_text("1 / 3", exact=True).is_visible()
        assert [url.split("?")[0] for url in searches] == [f"{server}/iiif/search/{SEARCH_BOOK}"]
        # 7a, never scanned: listed under the search panel, a link to its text (issue 13)
        listed = page.locator("[data-text-hits]")
        listed.get_by_text("另有 1 处在没有书影的叶中", exact=False).wait_for(timeout=10_000)
        assert "text=" in listed.locator("a").first.get_attribute("href")
        page.screenshot(path=str(ARTIFACTS / f"viewer-search-{SEARCH_BOOK}.png"))
    finally:
        page.close()


def _marked(area: pyvips.Image) -> list[int] | None:
    """[x, y, w, h] around the pixels of a screenshot area that Mirador tinted (its search highlight is
    yellow or blue at 30 %, over a grey scan: red and blue far apart), or None."""
    red, blue = area[0].cast("int"), area[2].cast("int")
    tinted = ((red - blue).abs() > 40).ifthenelse(255, 0).cast("uchar")
    columns, rows = tinted.project()
    xs = [x for x in range(columns.width) if columns.getpoint(x, 0)[0] > 255 * 3]
    ys = [y for y in range(rows.height) if rows.getpoint(0, y)[0] > 255 * 3]
    return [xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1] if xs and ys else None


def test_mirador_draws_the_search_highlight_around_just_the_phrase(server, browser):
    """The hit on 葉一a is boxed (#xywh) around 日五星中行 — the five characters, not their line and not
    the page — and Mirador draws that box where the characters are on the scan."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    shot = ARTIFACTS / f"viewer-highlight-{SEARCH_BOOK}.png"
    try:
        page.goto(f"{server}/books/{SEARCH_BOOK}/viewer?q=日五星中行&page=0001")
        page.get_by_text("1 / 3", exact=True).wait_for(timeout=30_000)
        canvas = page.locator(".openseadragon-canvas").first
        deadline = time.monotonic() + 30
        while True:
            box = canvas.bounding_box()
            page.screenshot(path=str(shot))
            screen = pyvips.Image.new_from_file(str(shot)).copy_memory()[0:3]
            area = screen.crop(int(box["x"]), int(box["y"]), int(box["width"]), int(box["height"]) - 80)
            # where the scan is drawn: the columns of the middle row that are not the viewer's grey background
            middle = [area.getpoint(x, area.height // 2)[0] for x in range(area.width)]
            drawn = [x for x, value in enumerate(middle) if abs(value - middle[0]) > 12]
            marked = _marked(area.crop(drawn[0], 0, drawn[-1] - drawn[0] + 1, area.height)) if drawn else None
            if marked or time.monotonic() > deadline:
                break
            page.wait_for_timeout(200)
        assert marked, f"no highlight drawn ({shot})"
        scale = (drawn[-1] - drawn[0] + 1) / QIZHENG_SIZE[0]
        top = (box["height"] - QIZHENG_SIZE[1] * scale) / 2  # fitted to the viewer, centred
        line = next(line for line in recorded_lines() if line.text.startswith("日五星中行"))
        x, y, w, h = union([list(char) for char in line.chars[:5]])
        expected = [x * scale, top + y * scale, w * scale, h * scale]
        assert all(abs(got - want) <= 6 for got, want in zip(marked, expected, strict=True)), (marked, expected, shot)
    finally:
        page.close()


def test_the_record_page_text_follows_the_viewer_with_the_hit_marked(server, page):
    """The reading view beside the scan: the hit marked in the text, and the text of the next
    pages once the reader turns the page in the viewer (no inline script: the page's CSP holds)."""
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{server}/books/{SEARCH_BOOK}?page=0001&q=日五星中行")
    reading = page.locator("#reading")
    assert reading.locator("mark").first.inner_text() == "日五星中行"
    frame = page.frame_locator("iframe.viewer")
    frame.get_by_text("1 / 3", exact=True).wait_for(timeout=30_000)  # the viewer ran the search too
    assert reading.locator(".leaf-text").evaluate("e => getComputedStyle(e).writingMode") == "vertical-rl"
    frame.get_by_label("下一页").first.click()  # the site's language: zh-Hans
    page.wait_for_function("() => [...document.querySelectorAll('#reading article.leaf')]"
                           ".some(leaf => leaf.dataset.leafPage === '0003')", timeout=30_000)
    reading.locator("[data-reading-toggle]").click()
    assert reading.locator(".leaf-text").first.evaluate("e => getComputedStyle(e).writingMode") == "horizontal-tb"
    page.screenshot(path=str(ARTIFACTS / f"record-reading-{SEARCH_BOOK}.png"))


def _static(server: str, page: str, folder: Path) -> Path:
    """A 600 px wide copy of a page, fetched from the server's static sizes."""
    path = folder / f"{page}.jpg"
    with urllib.request.urlopen(f"{server}/iiif/image/{BOOK}/{page}/full/600,/0/default.jpg") as response:
        path.write_bytes(response.read())
    return path


def test_viewer_for_a_book_without_scans(server):
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{server}/books/maoshi-zhushu/viewer")
    assert error.value.code == 404
    assert "本书尚无书影" in error.value.read().decode()
