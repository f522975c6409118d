"""Staff workflows: batch revision from a spreadsheet, accounts, the audit log, ingest jobs,
and `guji users`."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import zipfile

import lxml.html
import openpyxl
from cli_support import guji
from fastapi.testclient import TestClient
from web_helpers import FIXTURES, PASSWORD, csrf_of, form_values, sign_in, staff_client, wait_for_job

from guji.repository import local_time
from guji.web import create_app

# `samples`: conftest.py


def revision_sheet(rows: list[list], headers=("索书号", "存卷", "修改原因")) -> bytes:
    """A revision spreadsheet as a cataloguer writes it in Excel."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(client: TestClient, name: str, data: bytes, content_type: str = "application/octet-stream"):
    token = csrf_of(client.get("/staff/batch").text)
    return client.post("/staff/batch", data={"csrf_token": token}, files={"file": (name, data, content_type)})


def text_of(html: str, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in lxml.html.fromstring(html).cssselect(selector)]


def rows_of(html: str, selector: str) -> list[str]:
    """Table rows as 'cell cell cell'."""
    return [" ".join(" ".join(cell.text_content().split()) for cell in row)
            for row in lxml.html.fromstring(html).cssselect(selector)]


# ---- batch revision ------------------------------------------------------------------------------


def test_batch_revision_previews_every_change_then_writes_one_version_per_card(samples):
    client = staff_client(samples)
    sheet = revision_sheet([
        ["示善0002", "存十卷（卷一至十）", "专家审核：存卷有误"],
        ["示善0003", "存一百卷（卷一至一百）", "专家审核：补存卷"],
        ["示善0001", None, "无修改"],
    ])
    preview = upload(client, "专家审核.xlsx", sheet)
    assert preview.status_code == 200, preview.text
    assert text_of(preview.text, ".counts")[0].startswith("修改 2 张 · 新建 0 张 · 无变化 1 行 · 错误 0 行")
    changes = rows_of(preview.text, ".plan-item.revise table.diff tr")
    assert "存卷 存十七卷（卷一至十七） 存十卷（卷一至十）" in changes
    assert "存卷 — 存一百卷（卷一至一百）" in changes
    assert samples.get("jingchuan-wenji").version == 1  # a preview writes nothing
    sheets = samples.home.root / "incoming" / ".sheets"  # GUJI_INCOMING: shared by a site's web nodes
    assert len(list(sheets.glob("*.xlsx"))) == 1
    action, values = form_values(preview.text, "form.apply")
    done = client.post(action, data=values)
    assert done.status_code == 200 and "已保存 2 张卡片" in done.text
    assert not list(sheets.glob("*.xlsx"))
    revised = samples.get("jingchuan-wenji")
    assert revised.version == 2 and revised.versions[-1].reason == "专家审核：存卷有误"
    assert revised.versions[-1].editor == "张三"
    assert samples.get("lidai-shizuan-zuobian").card["copy"]["extant_juan"]["count"] == 100
    assert samples.get("maoshi-zhushu").version == 1
    again = client.post(action, data=values)
    assert again.status_code == 404  # applied uploads are gone: nothing is applied twice


def test_batch_revision_refuses_a_preview_that_went_stale(samples):
    client = staff_client(samples)
    preview = upload(client, "修订.xlsx", revision_sheet([["示善0002", "存十卷（卷一至十）", "核对"]]))
    action, values = form_values(preview.text, "form.apply")
    card = samples.get("jingchuan-wenji").card
    card["copy"]["extant_juan"] = {"raw": "存五卷（卷一至五）"}
    samples.save("jingchuan-wenji", card, editor="李四", reason="抢先修改", base_version=1)
    stale = client.post(action, data=values)
    assert stale.status_code == 409 and "预览之后目录有了变动" in stale.text
    assert samples.get("jingchuan-wenji").card["copy"]["extant_juan"]["raw"] == "存五卷（卷一至五）"
    assert "存卷 存五卷（卷一至五） 存十卷（卷一至十）" in rows_of(stale.text, "table.diff tr")  # the new preview


def test_batch_revision_with_bad_rows_cannot_be_applied(samples):
    client = staff_client(samples)
    sheet = revision_sheet([["示善0002", "存十卷（卷一至十）", "核对"], ["示善0003", "八", "核对"]],
                           headers=("索书号", "存卷", "修改原因"))
    sheet_bad = revision_sheet([["示善0002", "abc", "核对"]], headers=("索书号", "册数", "修改原因"))
    preview = upload(client, "错误.xlsx", sheet_bad)
    assert "错误 1 行" in text_of(preview.text, ".counts")[0]
    assert any("第2行「册数」列" in line for line in text_of(preview.text, ".bad-rows li"))
    assert not lxml.html.fromstring(preview.text).cssselect("form.apply")
    assert upload(client, "好.xlsx", sheet).status_code == 200
    assert samples.get("jingchuan-wenji").version == 1


def test_uploads_are_type_and_size_checked(samples, monkeypatch):
    client = staff_client(samples)
    wrong_type = upload(client, "notes.txt", b"hello")
    assert wrong_type.status_code == 415 and "只接受 .xlsx、.csv 或 .json" in wrong_type.text
    fake = upload(client, "fake.xlsx", b"<html>not a workbook</html>")
    assert fake.status_code == 415 and "不是 Excel 工作簿" in fake.text
    binary = upload(client, "x.csv", b"\x00\x01\x02")
    assert binary.status_code == 415
    empty = upload(client, "empty.csv", b"")
    assert empty.status_code == 400
    headless = upload(client, "nohead.csv", "甲,乙\n1,2\n".encode())
    assert headless.status_code == 400 and "nohead.csv" in headless.text and "应是表头" in headless.text
    monkeypatch.setenv("GUJI_UPLOAD_LIMIT_MB", "0.01")  # 10 KB
    small = staff_client(samples, "李四")
    too_big = upload(small, "big.csv", b"a" * 20_000)
    assert too_big.status_code == 413 and "上限" in too_big.text
    assert not list((samples.home.root / "incoming" / ".sheets").glob("*.csv"))


def test_hostile_uploads_are_refused_naming_the_upload_never_a_server_path(samples, tmp_path):
    from test_card_import_hostile import UNCLOSED_QUOTE
    from zip_bombs import xlsx_bomb

    client = staff_client(samples)
    bomb = upload(client, "修订表.xlsx", xlsx_bomb(tmp_path / "bomb.xlsx", mib=300).read_bytes())
    quote = upload(client, "目录.csv", UNCLOSED_QUOTE.encode())
    sheet = openpyxl.Workbook()
    sheet.active.append(["索书号", "题名"])
    buffer = io.BytesIO()
    sheet.save(buffer)
    with zipfile.ZipFile(buffer) as source, io.BytesIO() as attack:
        with zipfile.ZipFile(attack, "w") as out:
            for info in source.infolist():
                data = source.read(info.filename)
                if info.filename.endswith("sheet1.xml"):
                    data = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' + data
                out.writestr(info.filename, data)
        xxe = upload(client, "实体.xlsx", attack.getvalue())
    for response, name, reason in ((bomb, "修订表.xlsx", "压缩炸弹"), (quote, "目录.csv 第3行", "引号"),
                                   (xxe, "实体.xlsx", "DOCTYPE")):
        [shown] = text_of(response.text, ".notice.error")
        assert response.status_code == 400 and shown.startswith(name) and reason in shown
        assert str(samples.home.root) not in response.text and "uploads" not in shown
    assert not list((samples.home.root / "incoming" / ".sheets").iterdir())  # refused uploads are not kept
    fixed = upload(client, "目录.csv", UNCLOSED_QUOTE.replace('"测试书乙', "测试书乙").encode())
    bad_rows = text_of(fixed.text, ".bad-rows li")
    assert bad_rows[0].startswith("第4行: 有 2 格在表头之外") and bad_rows[1].startswith("第5行「普查编号」列")
    assert not lxml.html.fromstring(fixed.text).cssselect("form.apply")
    assert all(samples.get(card_id).version == 1 for card_id in ("jingchuan-wenji", "maoshi-zhushu"))


def test_one_staff_member_cannot_apply_anothers_upload(samples):
    zhang = staff_client(samples, "张三")
    li = staff_client(samples, "李四")
    preview = upload(zhang, "修订.xlsx", revision_sheet([["示善0002", "存十卷（卷一至十）", "核对"]]))
    action, values = form_values(preview.text, "form.apply")
    values["csrf_token"] = [csrf_of(li.get("/staff/batch").text)]
    assert li.post(action, data=values).status_code == 404
    assert samples.get("jingchuan-wenji").version == 1


# ---- accounts -----------------------------------------------------------------------------------


def test_admin_adds_disables_and_resets_accounts(samples):
    admin = staff_client(samples, "馆长", "admin")
    token = csrf_of(admin.get("/staff/users").text)
    added = admin.post("/staff/users", data={"csrf_token": token, "name": "王五", "role": "cataloguer", "password": ""})
    assert added.status_code == 200
    password = lxml.html.fromstring(added.text).cssselect(".password code")[0].text_content()
    newcomer = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    assert sign_in(newcomer, "王五", password).status_code == 303
    admin.post("/staff/users/王五", data={"csrf_token": token, "action": "disable"})
    assert newcomer.get("/staff/", follow_redirects=False).status_code == 303
    assert "已停用" in text_of(admin.get("/staff/users").text, "tr.disabled td")
    refused = admin.post("/staff/users/馆长", data={"csrf_token": token, "action": "disable"})
    assert refused.status_code == 400 and "不能停用自己" in refused.text
    short = admin.post("/staff/users", data={"csrf_token": token, "name": "赵六", "role": "admin", "password": "short"})
    assert short.status_code == 400 and "至少 10 个字符" in short.text
    kinds = [event.kind for event in samples.events(limit=20)]
    assert "user-add" in kinds and "user-disable" in kinds


# ---- audit log ------------------------------------------------------------------------------------


def test_audit_log_filters_by_kind_actor_object_and_date(samples):
    client = staff_client(samples)
    card = samples.get("maoshi-zhushu").card
    card["copy"]["call_number"] = "示善0100"
    samples.save("maoshi-zhushu", card, editor="李四", reason="改号", base_version=1)
    page = client.get("/staff/audit", params={"kind": "edit"}).text
    assert text_of(page, "table.events tbody tr td:nth-child(3), table.events tr.kind-edit td:nth-child(3)") \
        == ["修改卡片"]
    by_actor = client.get("/staff/audit", params={"actor": "李四"}).text
    assert {row.get("class") for row in lxml.html.fromstring(by_actor).cssselect("table.events tr[class]")} \
        == {"kind-edit"}
    by_object = client.get("/staff/audit", params={"object_id": "maoshi-zhushu"}).text
    assert [r.get("class") for r in lxml.html.fromstring(by_object).cssselect("table.events tr[class]")] \
        == ["kind-edit", "kind-create"]
    # days are the library's (Beijing time), not the UTC date of the stored stamp
    today = local_time.parse(samples.events(limit=1)[0].time).astimezone(local_time.zone()).date().isoformat()
    assert "kind-edit" in client.get("/staff/audit", params={"since": today, "until": today}).text
    assert "kind-edit" not in client.get("/staff/audit", params={"until": "2000-01-01"}).text
    bad = client.get("/staff/audit", params={"since": "yesterday"})
    assert bad.status_code == 200 and "不是日期" in bad.text
    impossible = client.get("/staff/audit", params={"until": "2024-13-45"})
    assert impossible.status_code == 200 and "「2024-13-45」不是日期" in impossible.text


# ---- ingest jobs --------------------------------------------------------------------------------------


def test_admin_ingests_a_book_folder_as_a_background_job(samples, tmp_path, monkeypatch):
    incoming = tmp_path / "incoming"
    book = incoming / "荊川文集-掃描"
    book.mkdir(parents=True)
    for name in ("1.png", "2.png", "10.png"):
        shutil.copy(FIXTURES / "scans" / name, book / name)
    (incoming / "broken").mkdir()
    shutil.copy(FIXTURES / "scans" / "1.png", incoming / "broken" / "1.png")
    (incoming / "broken" / "2.png").write_bytes(b"")
    monkeypatch.setenv("GUJI_INCOMING", str(incoming))
    monkeypatch.setenv("GUJI_INGEST_WORKERS", "1")
    admin = staff_client(samples, "馆长", "admin")
    page = admin.get("/staff/ingest")
    action, values = form_values(page.text, "form.ingest")
    folders = lxml.html.fromstring(page.text).xpath("//select[@name='folder']/option/@value")
    assert sorted(folders) == ["broken", "荊川文集-掃描"]
    values.update(folder=["荊川文集-掃描"], card_id=["jingchuan-wenji"])
    started = admin.post(action, data=values, follow_redirects=False)
    assert started.status_code == 303
    job_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert "data-job-url" in admin.get(started.headers["location"]).text
    status = wait_for_job(admin, job_id)
    assert status["status"] == "done", status
    assert status["done"] == status["total"] == 3 and status["result"]["version"] == 2
    assert samples.get("jingchuan-wenji").versions[-1].editor == "馆长"
    assert "iframe" in TestClient(create_app(samples.home)).get("/books/jingchuan-wenji").text
    # filed as `guji watch` files a hot folder: moved to done/ with its report
    assert status["result"]["moved_to"] == "done/荊川文集-掃描" and not book.exists()
    assert (incoming / "done" / "荊川文集-掃描" / "ingest-report.json").is_file()

    no_card = admin.post(action, data={**values, "folder": ["broken"], "card_id": ["nonesuch"]})
    assert no_card.status_code == 400 and "请先建卡片" in no_card.text
    values.update(folder=["broken"], card_id=["yingmeian-yiyu"])
    failed = wait_for_job(admin, int(admin.post(action, data=values, follow_redirects=False)
                                     .headers["location"].rsplit("/", 1)[1]))
    assert failed["status"] == "failed" and "2.png：文件是 0 字节" in failed["result"]["problems"][0]
    assert failed["message"].endswith("文件夹已移到收件目录的 failed/broken") and str(tmp_path) not in failed["message"]
    assert "2.png：文件是 0 字节" in (incoming / "failed" / "broken" / "ERRORS.txt").read_text(encoding="utf-8")
    assert samples.get("yingmeian-yiyu").version == 1
    assert lxml.html.fromstring(admin.get("/staff/ingest").text).xpath("//select[@name='folder']/option") == []

    outside = admin.post(action, data={**values, "folder": ["../.."]})
    assert outside.status_code == 400 and "不是收件目录" in outside.text


def test_a_job_whose_process_died_is_shown_as_failed(samples):
    from guji.repository.catalogue_db import JobRow, now_iso
    from guji.web.staff import jobs

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    with samples.sessions.begin() as session:
        row = JobRow(kind="ingest", object_id="jingchuan-wenji", source="x", actor="馆长", status="running",
                     created=now_iso(), pid=process.pid)
        session.add(row)
        session.flush()
        job_id = row.id
    status = jobs.status(jobs.job(samples, job_id))
    assert status["status"] == "failed" and "意外结束" in status["message"]


# ---- guji users ------------------------------------------------------------------------------------


def test_guji_users_add_list_disable_and_passwd(samples):
    home = samples.home.root
    guji(home, "users", "add", "张三", "--role", "cataloguer", "--password", PASSWORD)
    generated = guji(home, "users", "add", "admin", "--role", "admin", "--generate-password").stdout
    password = generated.split("admin 的密码：")[1].split("（")[0]
    assert len(password) >= 16
    assert "已存在" in guji(home, "users", "add", "admin", "--role", "admin", "--generate-password",
                           "--if-missing").stdout
    listing = guji(home, "users", "list").stdout
    assert "张三" in listing and "编目员" in listing and "管理员" in listing
    duplicate = guji(home, "users", "add", "张三", "--role", "admin", "--password", PASSWORD, check=False)
    assert duplicate.returncode == 1 and "已存在" in duplicate.stderr
    wrong_role = guji(home, "users", "add", "李四", "--role", "boss", "--password", PASSWORD, check=False)
    assert wrong_role.returncode == 2 and "「boss」不可用：请用 cataloguer、admin" in wrong_role.stderr  # usage
    short = guji(home, "users", "add", "李四", "--role", "admin", "--password", "123", check=False)
    assert short.returncode == 2 and "密码太短" in short.stderr
    client = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    assert sign_in(client, "admin", password).status_code == 303
    guji(home, "users", "disable", "张三")
    assert sign_in(client, "张三").status_code == 401
    guji(home, "users", "enable", "张三")
    guji(home, "users", "passwd", "张三", "--password", "a brand new password")
    assert sign_in(client, "张三").status_code == 401
    assert sign_in(client, "张三", "a brand new password").status_code == 303
    missing = guji(home, "users", "disable", "nobody", check=False)
    assert missing.returncode == 3 and "没有用户" in missing.stderr


def test_an_unexpected_error_in_a_job_is_reported_without_server_details(samples, monkeypatch, capsys):
    from guji.ingest import watch as pipeline  # the job ingests through ingest.watch.file_book
    from guji.repository.catalogue_db import JobRow, now_iso
    from guji.web.staff import jobs

    def broken(*args, **kwargs):
        raise RuntimeError(f"cannot write {samples.home.root}/staging/x.tif")

    monkeypatch.setattr(pipeline, "ingest_book", broken)
    with samples.sessions.begin() as session:
        row = JobRow(kind="ingest", object_id="jingchuan-wenji", source="book", actor="馆长", status="queued",
                     created=now_iso())
        session.add(row)
        session.flush()
        job_id = row.id
    assert jobs.run(samples.home, job_id) == 1
    status = jobs.status(jobs.job(samples, job_id))
    assert status["status"] == "failed" and f"jobs/{job_id}.log" in status["message"]
    assert str(samples.home.root) not in status["message"] and "RuntimeError" not in status["message"]
    assert "staging/x.tif" in capsys.readouterr().err  # the traceback goes to the job's log
