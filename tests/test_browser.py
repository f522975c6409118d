"""End to end in a real headless Chromium against a real `guji serve` (2 uvicorn workers).

Screenshots of every step are kept in test-artifacts/ (not committed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
ARTIFACTS = ROOT / "test-artifacts"
GUJI = Path(sys.executable).parent / "guji"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PASSWORD = "browser test password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def guji(env: dict, *args: str) -> str:
    result = subprocess.run([str(GUJI), *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"guji {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A data home with the samples, scans of one book and two staff accounts, served by `guji serve`."""
    home = tmp_path_factory.mktemp("site") / "guji-data"
    incoming = home.parent / "incoming"
    book = incoming / "jingchuan-scans"
    book.mkdir(parents=True)
    for name in ("1.png", "2.png", "10.png"):
        shutil.copy(FIXTURES / "scans" / name, book / name)
    (book / "structure.json").write_text(json.dumps({
        "pages": [{"file": "1.png"}, {"file": "2.png"}, {"file": "10.png"}],
        "ranges": [{"label": "卷一", "files": ["1.png", "2.png"]}, {"label": "卷二", "files": ["10.png"]}],
    }, ensure_ascii=False), encoding="utf-8")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GUJI_HOME": str(home), "GUJI_PUBLIC_URL": base, "GUJI_INCOMING": str(incoming),
           "GUJI_INGEST_WORKERS": "1", "GUJI_EDITOR": "示例"}
    guji(env, "init")
    guji(env, "cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "示例数据导入")
    guji(env, "users", "add", "张三", "--role", "cataloguer", "--password", PASSWORD)
    guji(env, "users", "add", "馆长", "--role", "admin", "--password", PASSWORD)
    log = open(home.parent / "serve.log", "wb")
    server = subprocess.Popen([str(GUJI), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, (home.parent / "serve.log").read_text()
            assert time.monotonic() < deadline, "guji serve did not come up within 60 s"
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its worker processes, which we started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Debian chromium is missing: run `make install`"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    policy_violations: list[str] = []
    page.on("console", lambda message: policy_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert not policy_violations, policy_violations  # no inline script or style slipped into a page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page: Page, site: str, name: str) -> None:
    page.goto(f"{site}/staff/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("h1")).to_have_text("工作台")


def test_public_home_browse_and_record_page(page: Page, site: str):
    page.goto(site + "/")
    expect(page.locator(".figures")).to_contain_text("5种藏品")
    shot(page, "public-1-home")
    page.locator(".browse-entry a", has_text="集部").click()
    expect(page.locator("h1")).to_have_text("浏览馆藏")
    expect(page.locator(".chosen .chip")).to_have_text("集部 ×")
    shot(page, "public-2-browse")
    page.locator(".results a.title", has_text="重刊荊川先生文集").click()
    expect(page.locator(".catalogue-card h1")).to_have_text("重刊荊川先生文集十七卷外集三卷")
    expect(page.locator(".catalogue-card .card-line.responsibility")).to_contain_text("（明）唐順之撰")
    expect(page.locator(".no-pages")).to_be_visible()  # not scanned yet
    expect(page.locator(".citation")).to_contain_text(f"{site}/books/jingchuan-wenji")
    shot(page, "public-3-record")
    page.locator("header a.lang").click()
    expect(page.locator(".cite h2")).to_have_text("Cite and link")
    expect(page.locator(".catalogue-card h1")).to_have_text("重刊荊川先生文集十七卷外集三卷")
    shot(page, "public-4-record-english")


def test_staff_edit_extant_juan_then_history_diff_and_public_page(page: Page, site: str):
    sign_in(page, site, "张三")
    page.goto(f"{site}/staff/cards/jingchuan-wenji/edit")
    extant = page.locator("[name='copy.extant_juan.raw']")
    expect(extant).to_have_value("存十七卷（卷一至十七）")
    extant.fill("存十卷（卷一至十）")
    # the live preview reads the raw string with the parser the save uses
    expect(page.locator("[data-preview-for='copy.extant_juan.raw']")).to_have_text("→ 存 10 卷：卷1–10")
    expect(page.locator("[data-changes]")).to_contain_text("存卷：存十七卷（卷一至十七） → 存十卷（卷一至十）")
    page.fill("[name='copy.census_number']", "12345")
    expect(page.locator("[data-error-for='copy.census_number']")).to_contain_text("6位-4位-7位")  # inline check
    page.fill("[name='copy.census_number']", "999999-0001-0000002")
    expect(page.locator("[data-error-for='copy.census_number']")).to_have_text("")
    page.locator("[data-list='edition.other_titles'] button.add").click()
    expect(page.locator("[data-list='edition.other_titles'] .item")).to_have_count(3)
    shot(page, "staff-1-edit")
    page.click("button.primary")  # no reason given
    expect(page.locator("[data-error-for=reason]")).to_contain_text("请填写修改原因")
    expect(page.locator("[name='copy.extant_juan.raw']")).to_have_value("存十卷（卷一至十）")  # nothing lost
    page.fill("[name=reason]", "据原书卷端核对存卷")
    page.click("button.primary")
    expect(page.locator(".notice.saved")).to_have_text("已保存为 v2。")
    row = page.locator("table.diff tr[data-path='copy.extant_juan.raw']")
    expect(row.locator("td.old")).to_have_text("存十七卷（卷一至十七）")
    expect(row.locator("td.new")).to_have_text("存十卷（卷一至十）")
    expect(page.locator("table.history")).to_contain_text("据原书卷端核对存卷")
    shot(page, "staff-2-history")
    page.goto(f"{site}/books/jingchuan-wenji")
    expect(page.locator(".catalogue-card .card-line.extant_juan")).to_contain_text("存十卷（卷一至十）")
    shot(page, "staff-3-public-after-edit")


def test_admin_ingest_job_shows_live_progress_and_the_record_gets_its_viewer(page: Page, site: str):
    sign_in(page, site, "馆长")
    page.goto(f"{site}/staff/ingest")
    page.select_option("select[name=folder]", "jingchuan-scans")
    page.select_option("select[name=card_id]", "jingchuan-wenji")
    page.click("form.ingest button[type=submit]")
    expect(page.locator("[data-job-status]")).to_have_text("完成", timeout=60_000)  # polled by the page itself
    expect(page.locator("[data-job-count]")).to_have_text("3 / 3")
    shot(page, "staff-4-ingest-job")
    page.goto(f"{site}/books/jingchuan-wenji")
    expect(page.locator("iframe.viewer")).to_have_attribute("src", "/books/jingchuan-wenji/viewer")
    expect(page.locator(".contents a", has_text="卷二")).to_have_attribute("href",
                                                                        "/books/jingchuan-wenji/viewer?page=0003")
    shot(page, "public-5-record-with-pages")


def test_staff_pages_need_sign_in_in_the_browser_too(page: Page, site: str):
    page.goto(f"{site}/staff/cards/jingchuan-wenji/edit")
    expect(page).to_have_url(f"{site}/staff/login?next=/staff/cards/jingchuan-wenji/edit")
    page.fill("input[name=name]", "张三")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page).to_have_url(f"{site}/staff/cards/jingchuan-wenji/edit")
    page.goto(f"{site}/staff/users")
    expect(page.locator("h1")).to_have_text("没有权限")
