"""Scans uploaded from the browser (issue 13 item 14), in process: the upload API of the staff ingest
page (chunks verified one by one and the file as a whole, resumable), hostile names, sizes and zips,
abandoned uploads, and the ingest job that takes the uploaded folder and files it in done/ or failed/.
The real browser (folder picker, a broken connection, the job page) is in test_browser.py."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import FIXTURES, csrf_of, load_samples, staff_client, wait_for_job
from zip_bombs import repeated_member, write_zip

from guji.ingest import upload
from guji.ingest.watch import scan_zip_limits, unpack_zip
from guji.repository import SettingError
from guji.repository.safe_archive import ArchiveRefused
from guji.web import create_app

SCANS = ("1.png", "2.png", "10.png")
CHUNK = 50_000  # GUJI_UPLOAD_LIMIT_MB=0.05 makes the chunks this small: every scan takes several


@pytest.fixture
def site(catalogue, sample_cards, tmp_path, monkeypatch):
    load_samples(catalogue, sample_cards)
    monkeypatch.setenv("GUJI_INCOMING", str(tmp_path / "incoming"))
    monkeypatch.setenv("GUJI_INGEST_WORKERS", "1")
    monkeypatch.setenv("GUJI_UPLOAD_LIMIT_MB", str(CHUNK / 1048576))
    return catalogue


@pytest.fixture
def admin(site):
    client = staff_client(site, "馆长", "admin")
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/staff/ingest").text)
    return client


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_upload(client: TestClient, files: dict[str, bytes], card: str = "jingchuan-wenji", name: str = "荊川文集"):
    listing = [{"path": path, "size": len(data)} for path, data in files.items()]
    return client.post("/staff/api/uploads", json={"card_id": card, "name": name, "files": listing})


def put(client: TestClient, session: dict, index: int, offset: int, data: bytes, digest: str | None = None):
    return client.put(f"/staff/api/uploads/{session['id']}/files/{index}", params={"offset": offset}, content=data,
                      headers={"X-Chunk-SHA256": digest or sha(data)})


def send_all(client: TestClient, session: dict, files: dict[str, bytes]) -> None:
    for entry in session["files"]:
        data = files[entry["path"]]
        for offset in range(entry["received"], len(data), session["chunk_bytes"]):
            answer = put(client, session, entry["index"], offset, data[offset: offset + session["chunk_bytes"]])
            assert answer.status_code == 200, answer.text
        done = client.post(f"/staff/api/uploads/{session['id']}/files/{entry['index']}/complete",
                           json={"sha256": sha(data)})
        assert done.status_code == 200, done.text


def book_files() -> dict[str, bytes]:
    return {name: (FIXTURES / "scans" / name).read_bytes() for name in SCANS}


def test_an_uploaded_book_is_verified_chunk_by_chunk_resumed_and_ingested(site, admin, tmp_path):
    files = book_files()
    opened = open_upload(admin, files)
    assert opened.status_code == 200, opened.text
    session = opened.json()
    assert session["chunk_bytes"] == CHUNK and [entry["received"] for entry in session["files"]] == [0, 0, 0]
    first = files["1.png"]

    damaged = put(admin, session, 0, 0, first[:CHUNK], digest=sha(b"something else"))
    assert damaged.status_code == 422 and "SHA-256 不符" in damaged.json()["detail"]
    assert put(admin, session, 0, 0, first[:CHUNK]).json() == {"received": CHUNK}
    again = put(admin, session, 0, 0, first[:CHUNK])  # the answer was lost and the browser sends it again
    assert again.status_code == 409 and again.json()["received"] == CHUNK
    ahead = put(admin, session, 0, 2 * CHUNK, first[2 * CHUNK: 3 * CHUNK])
    assert ahead.status_code == 409 and ahead.json()["received"] == CHUNK
    too_long = put(admin, session, 0, CHUNK, first[CHUNK:] + b"x" * CHUNK)
    assert too_long.status_code == 413  # more than a chunk

    # the browser was closed: the same admin, card and files find the same session and what it has
    resumed = open_upload(admin, files).json()
    assert resumed["id"] == session["id"] and resumed["files"][0]["received"] == CHUNK
    # a file whose whole differs from what arrived (changed on the staff's disk meanwhile) is sent again
    for offset in range(CHUNK, len(first), CHUNK):
        put(admin, session, 0, offset, first[offset: offset + CHUNK])
    wrong = admin.post(f"/staff/api/uploads/{session['id']}/files/0/complete", json={"sha256": sha(b"other")})
    assert wrong.status_code == 422 and wrong.json()["received"] == 0 and "整体校验不符" in wrong.json()["detail"]
    early = admin.post(f"/staff/api/uploads/{session['id']}/finish")
    assert early.status_code == 409 and "没有收齐" in early.json()["detail"]

    send_all(admin, admin.get(f"/staff/api/uploads/{session['id']}").json(), files)
    finished = admin.post(f"/staff/api/uploads/{session['id']}/finish")
    assert finished.status_code == 200, finished.text
    job = wait_for_job(admin, finished.json()["job"])
    assert job["status"] == "done", job
    assert job["done"] == job["total"] == 3 and job["result"]["moved_to"] == "done/荊川文集"
    done = tmp_path / "incoming" / "done" / "荊川文集"
    assert {path.name for path in done.iterdir()} == {*SCANS, "upload.sha256", "ingest-report.json"}
    assert (done / "upload.sha256").read_text() == "".join(f"{sha(files[name])}  {name}\n" for name in SCANS)
    assert not list((tmp_path / "incoming" / ".uploads").iterdir())  # nothing left of the session
    stored = site.get("jingchuan-wenji")
    assert stored.versions[-1].editor == "馆长"
    assert "iframe" in TestClient(create_app(site.home)).get("/books/jingchuan-wenji").text


def test_files_received_but_no_job_started_is_a_conflict_naming_the_folder(site, admin, tmp_path, monkeypatch):
    """The whole book arrived, but its ingest job cannot start: a 409 problem (as every API error is)
    saying where the files are kept, and the files stay in the incoming directory."""
    from guji.web.staff import jobs

    def busy(*_args, **_kwargs):
        raise jobs.JobError("这个文件夹已有入藏任务在进行")

    files = {"1.png": (FIXTURES / "scans" / "1.png").read_bytes()}
    session = open_upload(admin, files).json()
    send_all(admin, session, files)
    monkeypatch.setattr(jobs, "start_ingest", busy)
    answer = admin.post(f"/staff/api/uploads/{session['id']}/finish")
    assert answer.status_code == 409 and answer.headers["content-type"] == "application/problem+json"
    assert "「荊川文集」" in answer.json()["detail"] and "已有入藏任务" in answer.json()["detail"]
    assert (tmp_path / "incoming" / "荊川文集" / "1.png").read_bytes() == files["1.png"]


@pytest.mark.parametrize("path", ["../1.png", "/etc/passwd", "a\\b.png", "C:/x.png", ".hidden.png", "a/../../b.png",
                                  "a//b.png", "a/./b.png", "bad\x00name.png", "bad\nname.png", "x" * 300 + ".png", ""])
def test_names_that_would_leave_the_book_folder_are_refused(admin, tmp_path, path):
    refused = open_upload(admin, {path: b"x", "1.png": b"y"})
    assert refused.status_code == 400 and refused.json()["detail"], path
    assert not (tmp_path / "incoming" / ".uploads").exists() or not list((tmp_path / "incoming" / ".uploads").iterdir())


def test_duplicate_and_clashing_names_bad_sizes_and_unknown_cards_are_refused(admin):
    for files, words in ((({"a.png": 1, "A.png": 1}), "重名"), (({"a": 1, "a/b.png": 1}), "既是文件又是文件夹"),
                         (({"upload.sha256": 1}), "upload.sha256"), (({"READY": 0}), "guji watch")):
        listing = [{"path": path, "size": size} for path, size in files.items()]
        answer = admin.post("/staff/api/uploads", json={"card_id": "jingchuan-wenji", "name": "x", "files": listing})
        assert answer.status_code == 400 and words in answer.json()["detail"], answer.text
    for size in (-1, 1.5, "12", True, None):
        answer = admin.post("/staff/api/uploads", json={"card_id": "jingchuan-wenji", "name": "x",
                                                        "files": [{"path": "1.png", "size": size}]})
        assert answer.status_code == 400 and "字节数" in answer.json()["detail"], size
    for files in ([], None, "1.png", [["1.png", 3]]):
        answer = admin.post("/staff/api/uploads", json={"card_id": "jingchuan-wenji", "name": "x", "files": files})
        assert answer.status_code == 400, files
    nobody = admin.post("/staff/api/uploads", json={"card_id": "nonesuch", "name": "x",
                                                    "files": [{"path": "1.png", "size": 3}]})
    assert nobody.status_code == 400 and "请先建卡片" in nobody.json()["detail"]


def test_book_names_become_safe_folder_names():
    assert upload.book_name("../../etc", "card") == "_.._etc"
    assert upload.book_name("..", "card") == "card" and upload.book_name(".hidden", "card") == "hidden"
    assert upload.book_name("七政推步.zip", "card") == "七政推步"
    assert upload.book_name("a/b\\c\x00d", "card") == "a_b_c_d"
    assert upload.book_name("done", "card") == "card-done" and upload.book_name("Failed", "card") == "card-Failed"
    assert len(upload.book_name("册" * 300, "card").encode()) <= 200


def test_oversize_files_books_and_a_full_disk_are_refused_before_anything_is_sent(admin, monkeypatch):
    monkeypatch.setenv("GUJI_UPLOAD_FILE_LIMIT_MB", "1")
    monkeypatch.setenv("GUJI_UPLOAD_BOOK_LIMIT_MB", "2")
    big = admin.post("/staff/api/uploads", json={"card_id": "jingchuan-wenji", "name": "x",
                                                 "files": [{"path": "1.tif", "size": 2 * 1048576}]})
    assert big.status_code == 413 and "1.tif" in big.json()["detail"] and "GUJI_UPLOAD_FILE_LIMIT_MB" in big.text
    book = admin.post("/staff/api/uploads", json={"card_id": "jingchuan-wenji", "name": "x", "files": [
        {"path": f"{n}.tif", "size": 900_000} for n in range(3)]})
    assert book.status_code == 413 and "GUJI_UPLOAD_BOOK_LIMIT_MB" in book.text
    for wrong in ("oops", "0", "-5", "inf", "nan"):
        monkeypatch.setenv("GUJI_UPLOAD_FILE_LIMIT_MB", wrong)
        with pytest.raises(SettingError, match="GUJI_UPLOAD_FILE_LIMIT_MB"):  # the server does not start
            create_app(admin.app.state.catalogue.home)

    monkeypatch.delenv("GUJI_UPLOAD_FILE_LIMIT_MB")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(upload.shutil, "disk_usage", lambda path: usage(10 * upload.GIB, 9 * upload.GIB, upload.GIB))
    full = open_upload(admin, {"1.png": b"x" * 1000})
    assert full.status_code == 507 and "磁盘空间不足" in full.json()["detail"]


def test_uploads_are_the_admins_own_and_need_the_csrf_token(site, admin):
    session = open_upload(admin, {"1.png": b"x"}).json()
    other = staff_client(site, "副馆长", "admin")
    other.headers["X-CSRF-Token"] = csrf_of(other.get("/staff/ingest").text)
    assert other.get(f"/staff/api/uploads/{session['id']}").status_code == 404
    assert put(other, session, 0, 0, b"x").status_code == 404
    cataloguer = staff_client(site, "张三", "cataloguer")
    assert cataloguer.post("/staff/api/uploads", json={}).status_code == 403
    no_token = TestClient(create_app(site.home), base_url="http://127.0.0.1:8000", cookies=admin.cookies)
    assert no_token.put(f"/staff/api/uploads/{session['id']}/files/0", params={"offset": 0}, content=b"x",
                        headers={"X-Chunk-SHA256": sha(b"x")}).status_code == 403
    for token in ("../../etc", "0" * 31, "zz" * 16):
        assert admin.get(f"/staff/api/uploads/{token}").status_code == 404
    assert admin.delete(f"/staff/api/uploads/{session['id']}").status_code == 200
    assert admin.get(f"/staff/api/uploads/{session['id']}").status_code == 404


def test_abandoned_uploads_and_unapplied_revision_sheets_expire(site, admin, tmp_path, monkeypatch):
    session = open_upload(admin, {"1.png": b"x" * 10}).json()
    put(admin, session, 0, 0, b"x" * 5)
    folder = tmp_path / "incoming" / ".uploads" / session["id"]
    sheet = tmp_path / "incoming" / ".sheets" / "0123456789abcdef0123456789abcdef.csv"  # GUJI_INCOMING
    sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet.write_text("索书号\n")
    admin.get("/staff/ingest")
    assert folder.exists()  # recent: kept
    old = time.time() - 73 * 3600
    for path in (folder, *folder.rglob("*"), sheet):
        os.utime(path, (old, old))
    admin.get("/staff/ingest")
    admin.get("/staff/batch")
    assert not folder.exists() and not sheet.exists()
    monkeypatch.setenv("GUJI_UPLOAD_EXPIRY_HOURS", "0")
    with pytest.raises(SettingError, match="GUJI_UPLOAD_EXPIRY_HOURS"):  # 0 hours is a mistake, not "never"
        create_app(site.home)


# ---- zips --------------------------------------------------------------------------------------------------


def zipped(members: dict[str, bytes], symlinks: tuple[str, ...] = (), utf8: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "../../etc/passwd")
    return buffer.getvalue()


LIMITS = scan_zip_limits(10 * 1048576, 50 * 1048576)


def delivered(tmp_path: Path, data: bytes, name: str = "book.zip") -> Path:
    folder = tmp_path / "incoming" / "book"
    folder.mkdir(parents=True)
    (folder / name).write_bytes(data)
    return folder


def test_a_zip_of_a_book_folder_is_unpacked_without_its_top_folder_and_junk(tmp_path):
    scans = book_files()
    folder = delivered(tmp_path, zipped({**{f"荊川文集/{name}": data for name, data in scans.items()},
                                         "__MACOSX/荊川文集/._1.png": b"junk", "荊川文集/.DS_Store": b"junk"}))
    assert unpack_zip(folder, LIMITS)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == scans


def test_zip_names_from_chinese_windows_are_read_as_gbk(tmp_path):
    data, crc, size = repeated_member(b"page", b"", 0, b"")
    archive = write_zip(tmp_path / "gbk.zip", [("卷一.png".encode("gbk"), data, crc, size)])  # no UTF-8 flag
    folder = delivered(tmp_path, archive.read_bytes())
    unpack_zip(folder, LIMITS)
    assert [path.name for path in folder.iterdir()] == ["卷一.png"]


@pytest.mark.parametrize("members, words", [
    ({"../evil.png": b"x"}, "..”"),
    ({"/etc/evil.png": b"x"}, "绝对路径"),
    ({"a\\..\\evil.png": b"x"}, "反斜杠"),
    ({"C:/evil.png": b"x"}, "绝对路径"),
    ({"a/b.png": b"x", "a": b"y"}, "名称冲突"),
    ({"bad\x01.png": b"x"}, "控制字符"),
])
def test_zips_whose_members_would_leave_the_folder_are_refused_and_nothing_is_kept(tmp_path, members, words):
    folder = delivered(tmp_path, zipped(members))
    with pytest.raises(ArchiveRefused, match=words):
        unpack_zip(folder, LIMITS)
    assert [path.name for path in folder.iterdir()] == ["book.zip"]  # nothing unpacked, the zip kept for failed/
    assert [path.name for path in folder.parent.iterdir()] == ["book"]  # and nothing beside it


def test_symlinks_bombs_oversize_members_and_broken_zips_are_refused(tmp_path):
    cases = [
        (zipped({"1.png": b"x"}, symlinks=("link.png",)), "符号链接"),
        (zipped({"1.png": b"x" * (11 * 1048576)}), "超过上限"),
        (b"PK\x03\x04 not really a zip", "不是有效的 zip"),
    ]
    data, crc, size = repeated_member(b"", b"\x00" * 65536, 1600, b"")  # 100 MiB of zeros from ~100 KB
    bomb = write_zip(tmp_path / "bomb.zip", [("1.tif", data, crc, size)])
    cases.append((bomb.read_bytes(), "超过上限"))
    liar = write_zip(tmp_path / "liar.zip", [("1.tif", data, crc, 1000)])  # the directory says 1000 bytes
    cases.append((liar.read_bytes(), "目录与内容不符|已损坏"))
    for number, (archive, words) in enumerate(cases):
        folder = delivered(tmp_path / str(number), archive)
        with pytest.raises(ArchiveRefused, match=words):
            unpack_zip(folder, LIMITS)
        assert [path.name for path in folder.iterdir()] == ["book.zip"]


def test_an_uploaded_zip_is_unpacked_by_the_job_or_filed_in_failed(site, admin, tmp_path):
    good = zipped({f"荊川文集/{name}": data for name, data in book_files().items()})
    session = open_upload(admin, {"荊川文集.zip": good}).json()
    send_all(admin, session, {"荊川文集.zip": good})
    job = wait_for_job(admin, admin.post(f"/staff/api/uploads/{session['id']}/finish").json()["job"])
    assert job["status"] == "done" and job["done"] == 3, (job["message"], job["result"])
    assert sorted(path.name for path in (tmp_path / "incoming" / "done" / "荊川文集").iterdir()) == sorted(
        [*SCANS, "ingest-report.json"])

    evil = zipped({"../../evil.png": b"x"})
    session = open_upload(admin, {"evil.zip": evil}, card="yingmeian-yiyu", name="evil.zip").json()
    send_all(admin, session, {"evil.zip": evil})
    job = wait_for_job(admin, admin.post(f"/staff/api/uploads/{session['id']}/finish").json()["job"])
    assert job["status"] == "failed", job
    assert job["result"]["moved_to"] == "failed/evil" and "..”" in job["result"]["problems"][0]
    failed = tmp_path / "incoming" / "failed" / "evil"
    assert sorted(path.name for path in failed.iterdir()) == ["ERRORS.txt", "evil.zip"]
    assert not (tmp_path / "evil.png").exists() and not (tmp_path / "incoming" / "evil.png").exists()
    assert str(tmp_path) not in job["message"]
    shutil.rmtree(failed)
