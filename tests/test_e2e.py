"""End to end, as issue 6 asks: the sample collection loaded as `make run` loads it (cards, the
七政推步 scans and its Kanripo text), a real `guji serve` (2 workers and the indexer it starts) on a
free 127.0.0.1 port, driven in Debian's headless Chromium.

Public: a query typed in simplified characters in the header search box finds the traditional
text with the phrase highlighted, the hit opens the record page, and the embedded Mirador viewer
draws that page's scan (read from a screenshot). Staff: a cataloguer edits 存卷 and adds a 其他题名
with a 修改原因, the history shows the diff, the public record shows the new value and the search
finds the card by the new title once the indexer has applied the edit. Screenshots go to
test-artifacts/e2e-*.png.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from browser_support import (
    ARTIFACTS,
    MIRADOR,
    ROOT,
    get_json,
    guji,
    likeness,
    serving,
    shot,
    sign_in,
    viewer_area,
    wait_until,
)
from playwright.sync_api import Page, expect
from process_support import free_port

BOOK = "qizheng-tuibu"
CARD = "jingchuan-wenji"
INDEX_WAIT = 60  # seconds the indexer may take on a busy machine


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    port = free_port()
    # no GUJI_PUBLIC_URL, as in `make run`: the site's URLs start with the address it serves at
    env = {**{name: value for name, value in os.environ.items() if name != "GUJI_PUBLIC_URL"},
           "GUJI_HOME": str(folder / "guji-data"), "GUJI_EDITOR": "samples"}
    guji(env, "init")
    guji(env, "cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "示例数据导入")
    guji(env, "ingest", str(ROOT / "samples" / "scans" / BOOK), "--id", BOOK, "--workers", "1")
    guji(env, "text", "import", BOOK, str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"))
    guji(env, "users", "add", "张三", "--role", "cataloguer", "--password", "browser test password")
    log = folder / "serve.log"
    with serving(env, port, log) as base:
        yield base
    errors = [line for line in log.read_text(errors="replace").splitlines() if "Traceback" in line or " 500 " in line]
    assert not errors, f"the server failed while the tests ran (see {log}): {errors[:3]}"


def api_search(site: str, query: str) -> dict:
    return get_json(f"{site}/api/search?q={quote(query)}&per_page=100")


def found(site: str, query: str, book: str) -> dict | None:
    """The API's hit for `book`, or None (the index may not have caught up yet)."""
    return next((hit for hit in api_search(site, query)["books"] if hit["id"] == book), None)


def _static(site: str, page: str, folder: Path) -> Path:
    """A 600 px wide copy of a scan, from the server's static sizes."""
    path = folder / f"{page}.jpg"
    with urllib.request.urlopen(f"{site}/iiif/image/{BOOK}/{page}/full/600,/0/default.jpg") as response:
        path.write_bytes(response.read())
    return path


def test_without_a_public_url_the_site_writes_the_address_it_serves_at(site: str):
    manifest = get_json(f"{site}/iiif/{BOOK}/manifest")
    assert manifest["id"] == f"{site}/iiif/{BOOK}/manifest"
    assert manifest["items"][0]["items"][0]["items"][0]["body"]["service"][0]["id"].startswith(f"{site}/iiif/image/")
    assert get_json(f"{site}/api/books/{BOOK}")["permalink"] == f"{site}/books/{BOOK}"


def test_public_search_then_record_then_the_viewer_draws_the_page(page: Page, site: str, tmp_path):
    assert MIRADOR.exists(), "Mirador is not installed: make install (npm ci)"
    typed = "钦定四库全书"  # simplified; the text has 欽定四庫全書 on leaf 1a (scan 0001)
    wait_until(lambda: found(site, typed, BOOK), INDEX_WAIT, "the indexer never indexed the sample text")
    page.goto(site + "/")
    box = page.locator("form.quick-search input[name=q]")
    box.fill(typed)
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q="))
    hit = page.locator("li.hit").filter(has=page.locator("a.title", has_text="七政推步"))
    snippet = hit.locator("p.snippet").first
    expect(snippet.locator("mark")).to_have_text("欽定四庫全書")  # the whole phrase, as written in the text
    expect(snippet.locator("a")).to_have_text("卷二 葉一上")  # the Kanripo marker 002-1a as the library writes the leaf
    shot(page, "e2e-1-search")

    snippet.locator("a").click()
    # the hit opens its page with the query, so the reading view and the viewer mark the phrase
    expect(page).to_have_url(re.compile(re.escape(f"{site}/books/{BOOK}?page=0001&q=") + r"[^&#]+#reading$"))
    expect(page.locator(".catalogue-card h1")).to_contain_text("七政推步")
    viewer = page.locator("iframe.viewer")
    expect(viewer).to_have_attribute("src", re.compile(re.escape(f"/books/{BOOK}/viewer?page=0001") + r"(&q=[^&]+)?$"))
    path = ARTIFACTS / "e2e-2-record-viewer.png"
    area = viewer_area(page, page.frame_locator("iframe.viewer").locator(".openseadragon-canvas").first, path)
    assert area.deviate() > 25, f"the viewer area looks blank (see {path})"
    # the search panel (the hit's query) leaves the page a narrow column: its ink is about 1 % of the area
    assert (area < 100).avg() / 255 > 0.005, f"no ink drawn in the viewer (see {path})"
    # what is drawn is leaf 1a (the 卷端 page), of all the book's nine scans the most alike (the
    # bottom strip, where Mirador draws its zoom buttons, left out)
    drawn = area.crop(0, 0, area.width, int(area.height * 0.85))
    differences = {number: likeness(drawn, _static(site, number, tmp_path)) for number in
                   (f"{n:04d}" for n in range(1, 10))}
    assert min(differences, key=differences.get) == "0001", (differences, path)
    shot(page, "e2e-3-record")

    # words only on leaves that were not scanned: found, and marked as having no scan
    page.goto(f"{site}/search?q={quote('太阴经度')}")
    expect(hit.locator(".badge.no-scan").first).to_have_text("无影像")
    shot(page, "e2e-4-search-no-scan")


def test_staff_edit_then_history_public_record_and_search(page: Page, site: str):
    alias = "唐荊川先生文集"
    typed = "唐荆川先生文集"  # as a reader types it, simplified
    wait_until(lambda: found(site, "荆川", CARD), INDEX_WAIT, "the indexer never indexed the sample cards")
    assert found(site, typed, CARD) is None  # not findable by the new title before the edit

    sign_in(page, site, "张三")
    page.goto(f"{site}/staff/cards/{CARD}/edit")
    extant = page.locator("[name='copy.extant_juan.raw']")
    expect(extant).to_have_value("存十七卷（卷一至十七）")
    extant.fill("存十六卷（卷一至十六）")
    expect(page.locator("[data-preview-for='copy.extant_juan.raw']")).to_have_text("→ 存 16 卷：卷1–16")
    titles = page.locator("[data-list='edition.other_titles']")
    before = titles.locator(".item").count()
    titles.locator("button.add").click()
    expect(titles.locator(".item")).to_have_count(before + 1)
    titles.locator(".item").last.locator("input[name$='.title']").fill(alias)
    page.fill("[name=reason]", "据原书卷端核对存卷，补其他题名")
    shot(page, "e2e-5-staff-edit")
    page.click("button.primary")
    expect(page.locator(".notice.saved")).to_have_text("已保存为 v2。")
    row = page.locator("table.diff tr[data-path='copy.extant_juan.raw']")
    expect(row.locator("td.old")).to_have_text("存十七卷（卷一至十七）")
    expect(row.locator("td.new")).to_have_text("存十六卷（卷一至十六）")
    card = next(c for c in json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
                if c["id"] == CARD)
    added = page.locator(f"table.diff tr[data-path='edition.other_titles[{len(card['edition']['other_titles'])}]"
                         ".title']")
    expect(added.locator("td.new")).to_have_text(alias)
    expect(page.locator("table.history")).to_contain_text("据原书卷端核对存卷，补其他题名")
    shot(page, "e2e-6-staff-history")

    page.goto(f"{site}/books/{CARD}")
    expect(page.locator(".catalogue-card .card-line.extant_juan")).to_contain_text("存十六卷（卷一至十六）")
    shot(page, "e2e-7-public-record-after-edit")

    wait_until(lambda: found(site, typed, CARD), INDEX_WAIT, "the edit never reached the search index")
    hit = page.locator("li.hit").filter(has=page.locator(f"a.title[href='/books/{CARD}']"))

    def searched_from_the_box() -> bool:
        # each web worker's readers look for the newer index at most every 0.5 s (whoosh_backend):
        # the request after the API's may meet one that has yet to look, so search again until shown
        box = page.locator("form.quick-search input[name=q]")
        box.fill(typed)
        box.press("Enter")
        page.wait_for_load_state()
        return hit.count() > 0

    wait_until(searched_from_the_box, INDEX_WAIT, "the search page never showed the edited card")
    expect(hit.locator("a.title")).to_contain_text("重刊荊川先生文集")
    shot(page, "e2e-8-search-after-edit")
    hit.locator("a.title").click()
    expect(page.locator(".catalogue-card .card-line.extant_juan")).to_contain_text("存十六卷（卷一至十六）")
