"""`guji tiles rebuild` and guide-card printing on the shared job queue (GUJI_QUEUE, RQ on the redis-server
the tests start, worked here by RQ's SimpleWorker): the job row shows the progress and outcome as the staff
jobs page reads it, a retried step does no harm, the PDF reaches the one who asked, and a queue out of
reach starts nothing."""

from __future__ import annotations

import io
import json
import shutil

import pypdf
import pytest
from cli_support import guji
from test_job_queue import _csrf, _work_in_process, socket_port_without_server
from web_helpers import staff_client

from guji.ingest.page_jobs import finish_book, plan_rebuild, rebuild_page, start_rebuild
from guji.ingest.pipeline import remove_pending
from guji.repository import Catalogue, job_records
from guji.repository.job_queue import QueueUnavailable
from guji.repository.outputs.guide_cards import print_guide_cards
from guji.repository.outputs.print_jobs import start_print
from guji.repository.withdrawal import set_withdrawn
from guji.web.staff import jobs

BOOK = "jingchuan-wenji"  # the collection's book with three scans


def _queued(monkeypatch, home, url: str) -> Catalogue:
    monkeypatch.setenv("GUJI_HOME", str(home.root))
    monkeypatch.setenv("GUJI_QUEUE", url)
    return Catalogue.open(home)


def _page_folders(catalogue: Catalogue) -> list[str]:
    return sorted(entry.name for entry in (catalogue.home.derivatives / BOOK).iterdir())


def test_tiles_rebuild_on_the_queue_rebuilds_every_page(collection, redis_url, monkeypatch):
    queued = _queued(monkeypatch, collection.home, redis_url)
    pages = _page_folders(queued)
    assert pages == ["0001", "0002", "0003"]
    for page in pages:  # the derivatives lost …
        shutil.rmtree(queued.home.derivatives / BOOK / page)
    (queued.home.derivatives / BOOK / "0009").mkdir()  # … and a page folder with no master
    job_id = start_rebuild(queued, BOOK, "管理员")
    assert jobs.job(queued, job_id).status == "queued"
    _work_in_process(redis_url)
    row = jobs.job(queued, job_id)
    assert (row.status, row.done, row.total) == ("done", 3, 3), row.message
    assert row.message == "已重建 3 页的切片和缩略图"
    assert _page_folders(queued) == pages  # no .pending, no 0009
    for page in pages:
        assert json.loads((queued.home.derivatives / BOOK / page / "info.json").read_text())["width"] > 0
        assert (queued.home.derivatives / BOOK / page / "thumbnail.jpg").is_file()
    events = [json.loads(event.detail_json) for event in queued.events(BOOK, kinds=("tiles-rebuild",))]
    assert events == [{"job": job_id, "pages": 3}]
    shown = staff_client(queued, "馆长", "admin").get(f"/staff/api/jobs/{job_id}").json()
    assert (shown["kind_label"], shown["status"], shown["done"], shown["total"]) == ("重建切片", "done", 3, 3)
    queued.close()


def test_a_retried_page_or_finish_step_does_no_harm(collection, redis_url, monkeypatch):
    queued = _queued(monkeypatch, collection.home, redis_url)
    job_id = job_records.create(queued, "tiles", BOOK, BOOK, "管理员")
    plan_rebuild(job_id)  # the plan step: the pages and the book's finish are on the queue
    digest = queued.store.digests(BOOK)["masters/0001.png"]
    assert rebuild_page(job_id, BOOK, "masters/0001.png", digest).action == "built"  # its worker then lost:
    remove_pending(queued.home.built_derivatives / BOOK)  # an ingest of the book between the steps cleans up
    _work_in_process(redis_url)  # the page runs again, with the others, then the finish
    row = jobs.job(queued, job_id)
    assert (row.status, row.done, row.total, row.message) == ("done", 3, 3, "已重建 3 页的切片和缩略图")
    folder = queued.home.derivatives / BOOK
    before = {page: (folder / page / "info.json").read_bytes() for page in _page_folders(queued)}
    assert sorted(before) == ["0001", "0002", "0003"]
    # the finish ran, and its worker was lost before RQ knew: it runs again
    job_records.record(queued, job_id, status="running")
    finish_book(job_id, BOOK, [job_records.job_key(job_id, f"b0-p{index}") for index in range(3)], 1)
    assert {page: (folder / page / "info.json").read_bytes() for page in _page_folders(queued)} == before
    assert len(queued.events(BOOK, kinds=("tiles-rebuild",))) == 1  # the book logged and counted once
    assert json.loads(jobs.job(queued, job_id).result_json)["pages"] == 3
    queued.close()


def test_tiles_rebuild_cli_waits_and_refuses_bad_input_before_queueing(collection, redis_url, monkeypatch):
    queued = _queued(monkeypatch, collection.home, redis_url)
    monkeypatch.setattr(job_records, "pause", lambda: _work_in_process(redis_url))
    env = {"GUJI_QUEUE": redis_url}
    ran = guji(collection.home.root, "tiles", "rebuild", BOOK, env=env)
    assert "已重建 3 页的切片和缩略图" in ran.stdout
    refused = guji(collection.home.root, "tiles", "rebuild", "no-such-book", env=env, check=False)
    assert refused.returncode == 3 and "没有标识为「no-such-book」的对象" in refused.stderr
    queued_only = guji(collection.home.root, "tiles", "rebuild", BOOK, "--no-wait", env=env)
    assert "任务 #" in queued_only.stdout
    assert [row.kind for row in jobs.jobs(queued)] == ["tiles", "tiles"]  # the refused one recorded nothing
    queued.close()


def test_print_job_gives_the_pdf_of_the_local_path_to_staff_only(collection, redis_url, monkeypatch):
    from fastapi.testclient import TestClient

    from guji.web import create_app

    queued = _queued(monkeypatch, collection.home, redis_url)
    client = staff_client(queued, "张三", "cataloguer")  # printing is for every staff member, not admins only
    page = client.get("/staff/outputs")
    answer = client.post("/staff/outputs/guide-cards", follow_redirects=False,
                         data={"references": f"{BOOK} maoshi-zhushu", "csrf_token": _csrf(page.text)})
    assert answer.status_code == 303
    job_page = answer.headers["location"]
    job_id = int(job_page.rsplit("/", 1)[1])
    assert client.get(f"{job_page}/pdf").status_code == 404  # not printed yet
    _work_in_process(redis_url)
    shown = client.get(f"/staff/api/outputs/jobs/{job_id}").json()
    assert (shown["status"], shown["kind_label"], shown["done"]) == ("done", "打印导卡", 2)
    assert "下载导卡" in client.get(job_page).text
    download = client.get(f"{job_page}/pdf")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%E5%AF%BC%E5%8D%A1-" in download.headers["content-disposition"]  # 导卡-YYYYMMDD.pdf
    local = print_guide_cards(queued, [BOOK, "maoshi-zhushu"])
    printed = pypdf.PdfReader(io.BytesIO(download.content))
    expected = pypdf.PdfReader(io.BytesIO(local.pdf))
    assert len(printed.pages) == len(expected.pages) and download.headers["X-Guji-Cards"] == str(local.cards)
    assert printed.pages[0].extract_text() == expected.pages[0].extract_text()
    reader = TestClient(create_app(queued.home), base_url="http://127.0.0.1:8000")  # not signed in
    for path in (f"{job_page}/pdf", f"/staff/api/outputs/jobs/{job_id}"):
        refused = reader.get(path, follow_redirects=False)
        assert refused.status_code in (303, 401, 403) and b"%PDF" not in refused.content
    queued.close()


def test_print_job_of_withdrawn_cards_fails_with_todays_message(collection, redis_url, monkeypatch):
    queued = _queued(monkeypatch, collection.home, redis_url)
    set_withdrawn(queued, BOOK, True, editor="馆长", reason="重复著录")
    job_id = start_print(queued, [BOOK], "张三")
    _work_in_process(redis_url)
    row = jobs.job(queued, job_id)
    assert (row.status, row.message) == ("failed", "所选卡片都已撤销，没有导卡可打印")
    client = staff_client(queued, "张三", "cataloguer")
    assert "所选卡片都已撤销" in client.get(f"/staff/outputs/jobs/{job_id}").text
    assert client.get(f"/staff/outputs/jobs/{job_id}/pdf").status_code == 404
    queued.close()


def test_cards_print_cli_with_a_queue_waits_and_writes_the_file(collection, redis_url, monkeypatch, tmp_path):
    queued = _queued(monkeypatch, collection.home, redis_url)
    monkeypatch.setattr(job_records, "pause", lambda: _work_in_process(redis_url))
    env = {"GUJI_QUEUE": redis_url}
    output = tmp_path / "导卡.pdf"
    ran = guji(collection.home.root, "cards", "print", "-o", str(output), env=env)
    cards = queued.count()
    assert f"已打印 {cards} 张导卡" in ran.stdout and "任务 #" in ran.stdout
    assert len(pypdf.PdfReader(output).pages) == -(-cards // 4)
    assert jobs.jobs(queued)[0].kind == "print" and json.loads(jobs.jobs(queued)[0].source) == {"ids": None}
    refused = guji(collection.home.root, "cards", "print", "-o", str(tmp_path / "x.pdf"), "--ids", "no-such-card",
                   env=env, check=False)
    assert refused.returncode == 2 and "no-such-card" in refused.stderr and not (tmp_path / "x.pdf").exists()
    assert len(jobs.jobs(queued)) == 1  # refused before anything was queued
    queued.close()


def test_queue_out_of_reach_starts_no_print_or_rebuild(collection, monkeypatch, tmp_path):
    queued = _queued(monkeypatch, collection.home, f"redis://127.0.0.1:{socket_port_without_server()}/0")
    with pytest.raises(QueueUnavailable):
        start_rebuild(queued, BOOK, "管理员")
    client = staff_client(queued, "张三", "cataloguer")
    page = client.get("/staff/outputs")
    answer = client.post("/staff/outputs/guide-cards", data={"references": BOOK, "csrf_token": _csrf(page.text)})
    assert answer.status_code == 503 and "Traceback" not in answer.text
    env = {"GUJI_QUEUE": queued.settings.queue_url}
    ran = guji(collection.home.root, "cards", "print", "-o", str(tmp_path / "a.pdf"), env=env, check=False)
    assert ran.returncode == 5 and "GUJI_QUEUE" in ran.stderr and not (tmp_path / "a.pdf").exists()
    assert jobs.jobs(queued) == []
    queued.close()
