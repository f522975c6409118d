"""End to end in a real headless Chromium against a real `guji serve` (2 uvicorn workers).

Screenshots of every step are kept in test-artifacts/ (not committed).
"""

from __future__ import annotations

import json
import os
import re
import shutil

import pytest
from browser_support import PASSWORD, ROOT, guji, serving, shot, sign_in
from playwright.sync_api import Page, expect
from process_support import free_port

FIXTURES = ROOT / "tests" / "fixtures"


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
    # GUJI_UPLOAD_LIMIT_MB: uploads from the browser go in chunks of 256 KiB, so a 1 MB scan takes five
    env = {**os.environ, "GUJI_HOME": str(home), "GUJI_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "GUJI_INCOMING": str(incoming), "GUJI_INGEST_WORKERS": "1", "GUJI_EDITOR": "示例",
           "GUJI_UPLOAD_LIMIT_MB": "0.25"}
    guji(env, "init")
    guji(env, "cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "示例数据导入")
    guji(env, "users", "add", "张三", "--role", "cataloguer", "--password", PASSWORD)
    guji(env, "users", "add", "馆长", "--role", "admin", "--password", PASSWORD)
    with serving(env, port, home.parent / "serve.log") as base:
        yield base


def test_public_home_browse_and_record_page(page: Page, site: str):
    page.goto(site + "/")
    cards = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
    expect(page.locator(".figures")).to_contain_text(f"{len(cards)}种藏品")
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


def test_admin_uploads_a_book_folder_from_the_browser_resuming_after_broken_requests(page: Page, site: str,
                                                                                    tmp_path):
    """The folder picker, a chunk request cut off before the server saw it and a reply lost after the
    server stored the chunk: the upload goes on from the last chunk, the job ingests the folder and
    the record gets its viewer."""
    folder = tmp_path / "影梅庵憶語-掃描"
    folder.mkdir()
    for name in ("1.png", "2.png", "v01_024.jpg"):  # v01_024.jpg (1.1 MB) is five chunks
        shutil.copy(FIXTURES / "scans" / name, folder / name)
    (folder / ".DS_Store").write_bytes(b"\0junk")  # the browser leaves system files out
    sent: list[tuple[str, int]] = []  # (file index, offset) of every chunk request, in order
    broken: set[str] = set()

    def chunk(route):
        index, offset = route.request.url.split("/files/")[1].split("?offset=")
        sent.append((index, int(offset)))
        if int(offset) == 262144 and "lost" not in broken:  # stored by the server, but the reply never comes
            broken.add("lost")
            route.fetch()
            return route.abort()
        if int(offset) == 524288 and "cut" not in broken:  # cut off before the server sees it
            broken.add("cut")
            return route.abort()
        return route.continue_()

    page.route("**/staff/api/uploads/*/files/*", chunk)
    sign_in(page, site, "馆长")
    page.goto(f"{site}/staff/ingest")
    page.select_option("[data-upload-card]", "yingmeian-yiyu")
    page.set_input_files("[data-pick-folder]", str(folder))
    expect(page).to_have_url(re.compile(r"/staff/ingest/\d+$"), timeout=60_000)  # the job page, when all is in
    expect(page.locator("[data-job-status]")).to_have_text("完成", timeout=60_000)
    expect(page.locator("[data-job-count]")).to_have_text("3 / 3")
    expect(page.locator("[data-job-message]")).to_contain_text("文件夹已移到收件目录的 done/影梅庵憶語-掃描")
    shot(page, "staff-5-upload-job")
    by_file: dict[str, list[int]] = {}
    for index, offset in sent:
        by_file.setdefault(index, []).append(offset)
    assert sorted(len(offsets) for offsets in by_file.values()) == [1, 1, 7], sent  # the PNGs: one chunk each
    jpeg = max(by_file.values(), key=len)
    # resumed at the last chunk: 262144 again (the server answers that it has it), 524288 twice, never 0 again
    assert jpeg == [0, 262144, 262144, 524288, 524288, 786432, 1048576], sent
    assert broken == {"lost", "cut"}
    page.goto(f"{site}/books/yingmeian-yiyu")
    expect(page.locator("iframe.viewer")).to_have_attribute("src", "/books/yingmeian-yiyu/viewer")
    shot(page, "public-6-record-uploaded")


def test_staff_pages_need_sign_in_in_the_browser_too(page: Page, site: str):
    page.goto(f"{site}/staff/cards/jingchuan-wenji/edit")
    expect(page).to_have_url(f"{site}/staff/login?next=/staff/cards/jingchuan-wenji/edit")
    page.fill("input[name=name]", "张三")
    page.fill("input[name=password]", PASSWORD)
    page.click("form button[type=submit]")
    expect(page).to_have_url(f"{site}/staff/cards/jingchuan-wenji/edit")
    page.goto(f"{site}/staff/users")
    expect(page.locator("h1")).to_have_text("没有权限")
