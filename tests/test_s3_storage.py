"""The OCFL storage root and the tiles on an S3-compatible store (GUJI_STORAGE=s3://…), against moto's
S3 server started by the tests (tests/s3_support.py).

The store's contract — create, new version, read, conflict, fixity, a crash between the steps of a
commit and its recovery — is checked on a local storage root and on S3 alike; the S3 root is checked
with PostgreSQL too (its advisory locks are what several hosts writing one bucket need)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from guji.ingest import ingest_book
from guji.ingest.shared_tiles import trim_mirror
from guji.repository import Catalogue, Home, job_records
from guji.repository.object_bucket import Bucket, S3Location, StorageUnavailable
from guji.repository.ocfl_s3 import S3ObjectStore
from guji.repository.ocfl_store import ObjectStore
from guji.web import create_app
from guji.web.cli import root as cli

SCANS = Path(__file__).parent / "fixtures" / "scans"
CARD = {"id": "s3-book", "record_type": "guji", "edition": {"title": "對象存儲測試"}}


@pytest.fixture(params=["local", "s3", "s3+postgresql"])
def storage(request, monkeypatch) -> str:
    """Where the storage root is: the data home, or a fresh bucket (with SQLite or PostgreSQL)."""
    if request.param == "local":
        return "local"
    location = request.getfixturevalue("s3_storage")
    if request.param == "s3+postgresql":
        monkeypatch.setenv("GUJI_DATABASE_URL", request.getfixturevalue("postgres_url"))
    return location


@pytest.fixture
def store_catalogue(tmp_path, storage):
    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    yield catalogue
    catalogue.close()


def _corrupt(catalogue, object_id: str, relative: str, data: bytes | None) -> None:
    """Change (or, with None, remove) one stored file behind the store's back."""
    store = catalogue.store
    if isinstance(store, S3ObjectStore):
        key = f"ocfl/{object_id}/{relative}"
        store.bucket.delete([key]) if data is None else store.bucket.write(key, data)
        return
    path = store.root / object_id / relative
    path.unlink() if data is None else path.write_bytes(data)


def test_create_version_read_conflict_and_fixity(store_catalogue):
    catalogue = store_catalogue
    catalogue.create(CARD, editor="编目员", reason="新建")
    saved = catalogue.save(CARD["id"], {**CARD, "edition": {"title": "對象存儲測試二"}}, editor="编目员",
                           reason="改题名", base_version=1)
    assert saved.version == 2
    assert catalogue.get(CARD["id"]).card["edition"]["title"] == "對象存儲測試二"
    assert catalogue.get(CARD["id"], 1).card["edition"]["title"] == "對象存儲測試"
    assert [v.reason for v in catalogue.history(CARD["id"])] == ["新建", "改题名"]
    with pytest.raises(Exception, match="v1"):  # based on v1, but the object is at v2
        catalogue.save(CARD["id"], {**CARD, "edition": {"title": "後來者"}}, editor="乙", reason="晚了", base_version=1)
    assert catalogue.store.validate() == []
    report = catalogue.fixity()
    assert report.ok and report.objects == 1 and report.files == 2

    _corrupt(catalogue, CARD["id"], "v1/content/card.json", b"{}")
    _corrupt(catalogue, CARD["id"], "v2/content/card.json", None)
    problems = {(p.path, p.kind) for p in catalogue.fixity().problems}
    assert problems == {("v1/content/card.json", "sha512 mismatch"), ("v2/content/card.json", "missing")}


def test_a_crash_before_the_root_inventory_is_switched_is_finished_by_the_next_open(store_catalogue, monkeypatch):
    catalogue = store_catalogue
    catalogue.create(CARD, editor="编目员", reason="新建")
    store_class = type(catalogue.store)
    step = "_switch_root_inventory" if store_class is S3ObjectStore else "_install_root_inventory"

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt  # the process dies here: version written, root inventory not switched

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(store_class, step, crash)
        catalogue.save(CARD["id"], {**CARD, "edition": {"title": "崩潰前"}}, editor="编目员", reason="改",
                       base_version=1)
    assert catalogue.store.head(CARD["id"]) == 1  # readers still see v1, whole
    reopened = Catalogue.open(catalogue.home)
    try:
        assert reopened.recovered == [CARD["id"]]
        assert reopened.get(CARD["id"]).card["edition"]["title"] == "崩潰前"
        assert reopened.store.validate() == [] and reopened.fixity().ok
    finally:
        reopened.close()


def test_an_upload_cut_short_before_the_version_inventory_is_dropped(tmp_path, s3_storage, monkeypatch):
    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    catalogue.create(CARD, editor="编目员", reason="新建")
    written = Bucket.write

    def dies_at_the_inventory(bucket, name, data, content_type=None):
        if name.endswith("v2/inventory.json"):
            raise KeyboardInterrupt
        return written(bucket, name, data, content_type)

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(Bucket, "write", dies_at_the_inventory)
        catalogue.save(CARD["id"], {**CARD, "edition": {"title": "上傳一半"}}, editor="编目员", reason="改",
                       base_version=1)
    bucket = catalogue.store.bucket
    assert "v2/content/card.json" in bucket.listing(f"ocfl/{CARD['id']}/", None)[1]  # content without inventory
    catalogue.close()
    result = CliRunner().invoke(cli, ["--home", str(home.root), "recover"])
    assert result.exit_code == 0, result.output
    assert "v2" not in {name.split("/")[0] for name in bucket.listing(f"ocfl/{CARD['id']}/", None)[1]}
    catalogue = Catalogue.open(home)
    try:
        assert catalogue.store.head(CARD["id"]) == 1 and catalogue.store.validate() == []
        assert catalogue.save(CARD["id"], {**CARD, "edition": {"title": "再存"}}, editor="编目员", reason="重做",
                              base_version=1).version == 2
    finally:
        catalogue.close()


def test_fixity_reads_s3_objects_at_a_bounded_rate(tmp_path, s3_storage, monkeypatch):
    monkeypatch.setenv("GUJI_FIXITY_READ_MB_S", "0.5")
    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    try:
        catalogue.create(CARD, editor="编目员", reason="新建")
        waits = []
        monkeypatch.setattr("guji.repository.object_bucket.time.sleep", waits.append)
        data = b"x" * (1 << 20)
        catalogue.commit_files(CARD["id"], {"masters/0001.bin": data}, editor="数字化员", reason="加一个文件",
                               event="ingest")
        assert catalogue.fixity().ok
        assert sum(waits) > 1.5  # 1 MB at 0.5 MB/s: about two seconds of waiting, asked for, not slept
    finally:
        catalogue.close()


def _ingest_two_pages(tmp_path: Path, catalogue: Catalogue) -> None:
    book = tmp_path / "scans"
    book.mkdir()
    for name in ("10.png", "1.png"):
        shutil.copyfile(SCANS / name, book / name)
    catalogue.create(CARD, editor="编目员", reason="新建")
    ingest_book(catalogue, book, CARD["id"], "数字化员", workers=1)


def test_a_book_ingested_into_s3_is_served_by_another_web_node(tmp_path, s3_storage, monkeypatch):
    writer_home = Home.resolve(tmp_path / "node-a")
    Catalogue.init(writer_home).close()
    writer = Catalogue.open(writer_home)
    try:
        _ingest_two_pages(tmp_path, writer)
        assert writer.store.validate() == []
    finally:
        writer.close()
    bucket = Bucket(S3Location.parse(s3_storage))
    keys = bucket.listing("derivatives/s3-book/", None)[1]
    assert {"pages.json", "0001/info.json", "0001/full/max/0/default.jpg", "0002/thumbnail.jpg"} <= set(keys)
    assert not any("pyramid" in key for key in keys)

    # node B: another data home (its own mirror, nothing of node A's disk), the same database and bucket
    monkeypatch.setenv("GUJI_DATABASE_URL", f"sqlite:///{writer_home.database_path}")
    reader_home = Home.resolve(tmp_path / "node-b")
    client = TestClient(create_app(reader_home))
    manifest = client.get("/iiif/s3-book/manifest")
    assert manifest.status_code == 200 and len(manifest.json()["items"]) == 2
    info = client.get("/iiif/image/s3-book/0001/info.json").json()
    full = client.get("/iiif/image/s3-book/0001/full/max/0/default.jpg")
    assert full.status_code == 200 and full.content == bucket.read("derivatives/s3-book/0001/full/max/0/default.jpg")
    tile = info["tiles"][0]["width"]
    region = client.get(f"/iiif/image/s3-book/0001/0,0,{tile},{tile}/{tile},/0/default.jpg")
    assert region.status_code == 200 and region.headers["content-type"] == "image/jpeg"
    rendered = client.get("/iiif/image/s3-book/0002/10,10,50,50/max/0/default.png")  # not pre-built: the pyramid
    assert rendered.status_code == 200 and rendered.content.startswith(b"\x89PNG")
    fetched = reader_home.derivatives / "s3-book" / "0001" / "full" / "max" / "0" / "default.jpg"
    assert fetched.exists()
    assert not (reader_home.root / "derivatives").exists()  # node B built nothing of its own

    # the mirror is a cache (GUJI_MIRROR_MB): trimmed to nothing, each page keeps its skeleton, and a
    # request fetches the file again
    assert trim_mirror(reader_home.derivatives, 0) > 0
    assert not fetched.exists() and (reader_home.derivatives / "s3-book" / "0001" / "info.json").exists()
    again = client.get("/iiif/image/s3-book/0001/full/max/0/default.jpg")
    assert again.status_code == 200 and again.content == full.content and fetched.exists()


def test_tiles_rebuild_on_the_queue_rewrites_the_bucket_from_masters_in_the_bucket(tmp_path, s3_storage, redis_url,
                                                                                 monkeypatch):
    """`guji tiles rebuild` on the shared queue with the storage root in a bucket: the page steps fetch
    the masters from the bucket, and the book's tiles in the bucket are whole again."""
    from test_job_queue import _work_in_process

    from guji.ingest.page_jobs import start_rebuild

    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    _ingest_two_pages(tmp_path, catalogue)
    catalogue.close()
    bucket = Bucket(S3Location.parse(s3_storage))
    lost = bucket.listing("derivatives/s3-book/0001/", None)[1]
    bucket.delete([f"derivatives/s3-book/0001/{key}" for key in lost])  # the bucket lost a page's tiles
    shutil.rmtree(home.built_derivatives)  # and this host has no copy
    shutil.rmtree(home.root / "storage-cache", ignore_errors=True)  # nor the masters
    assert not (home.root / "storage-cache").exists()
    monkeypatch.setenv("GUJI_HOME", str(home.root))
    monkeypatch.setenv("GUJI_QUEUE", redis_url)
    queued = Catalogue.open(home)
    job_id = start_rebuild(queued, "s3-book", "管理员")
    _work_in_process(redis_url)
    row = job_records.row_of(queued, job_id)
    assert (row.status, row.done, row.total) == ("done", 2, 2), row.message
    assert set(bucket.listing("derivatives/s3-book/0001/", None)[1]) == set(lost)
    assert json.loads(bucket.read("derivatives/s3-book/0001/info.json"))["width"] > 0
    assert len(list((home.root / "storage-cache").glob("*/*"))) == 2  # both masters came from the bucket
    queued.close()


def test_a_mirror_over_its_budget_loses_its_least_recently_used_files_first(tmp_path):
    mirror = tmp_path / "derivatives-mirror"
    page = mirror / "book" / "0001"
    (page / "full" / "max" / "0").mkdir(parents=True)
    (page / "info.json").write_text("{}")
    (page / "source.json").write_text("{}")
    files = {}
    for age, name in ((300, "old.jpg"), (200, "used-lately.jpg"), (100, "new.jpg")):
        files[name] = page / "full" / "max" / "0" / name
        files[name].write_bytes(b"x" * 1000)
        os.utime(files[name], (time.time() - age, time.time() - age))
    os.utime(files["used-lately.jpg"], (time.time(), time.time() - 400))  # read a moment ago
    assert trim_mirror(mirror, 3000) == 0  # within its budget: nothing goes
    assert trim_mirror(mirror, 2500) == 1000
    assert not files["old.jpg"].exists() and files["used-lately.jpg"].exists() and files["new.jpg"].exists()
    assert trim_mirror(mirror, 1500) == 1000  # down to 90 % of the budget
    assert [name for name, path in files.items() if path.exists()] == ["used-lately.jpg"]
    assert (page / "info.json").exists() and (page / "source.json").exists()


def _page_folders(folder: Path, pages: int, made_from: str) -> None:
    for number in range(1, pages + 1):
        page = folder / f"{number:04d}"
        (page / "full" / "max" / "0").mkdir(parents=True, exist_ok=True)
        (page / "full" / "max" / "0" / "default.jpg").write_bytes(f"{made_from} {number}".encode())
        (page / "info.json").write_text(json.dumps({"width": number}), encoding="utf-8")
        (page / "source.json").write_text(json.dumps({"sha512": f"{made_from}-{number}"}), encoding="utf-8")


def test_tiles_go_up_several_pages_at_once_and_a_failed_page_leaves_the_index_as_it_was(tmp_path, s3_storage,
                                                                                        monkeypatch):
    from guji.ingest.shared_tiles import share_book

    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    try:
        folder = catalogue.home.built_derivatives / "s3-book"
        _page_folders(folder, 12, "first")
        share_book(catalogue, "s3-book")
        bucket = catalogue.store.bucket
        index = json.loads(bucket.read("derivatives/s3-book/pages.json"))["pages"]
        assert sorted(index) == [f"{number:04d}" for number in range(1, 13)]
        assert bucket.read("derivatives/s3-book/0012/full/max/0/default.jpg") == b"first 12"

        _page_folders(folder, 12, "second")  # every page made anew; page 7's upload fails
        upload = Bucket.upload

        def failing(self, path, name, content_type=None):
            if "/0007/" in name:
                raise StorageUnavailable("对象存储无法使用（测试）")
            upload(self, path, name, content_type)

        monkeypatch.setattr(Bucket, "upload", failing)
        with pytest.raises(StorageUnavailable):
            share_book(catalogue, "s3-book")
        assert json.loads(bucket.read("derivatives/s3-book/pages.json"))["pages"] == index  # not switched

        monkeypatch.setattr(Bucket, "upload", upload)  # the store back: the next run brings it in step
        share_book(catalogue, "s3-book")
        pages = json.loads(bucket.read("derivatives/s3-book/pages.json"))["pages"]
        assert {entry["source"]["sha512"] for entry in pages.values()} == {f"second-{n}" for n in range(1, 13)}
        assert bucket.read("derivatives/s3-book/0007/full/max/0/default.jpg") == b"second 7"
    finally:
        catalogue.close()


def _run(arguments: list[str], env: dict[str, str]):
    result = CliRunner().invoke(cli, arguments, env=env)
    text = "".join(result.output.split())
    assert "Traceback" not in result.output and "testing" not in text.replace("guji-testing", "")
    return result, text


def test_a_wrong_endpoint_or_bucket_is_one_message_and_nothing_is_written(tmp_path, s3_environment):
    home = tmp_path / "guji-data"
    result, text = _run(["--home", str(home), "init"],
                        {"GUJI_STORAGE": "s3://no-such-bucket/guji"})
    assert result.exit_code == 5 and "存储桶「no-such-bucket」不存在" in text and "GUJI_STORAGE" in text
    assert not home.exists()  # nothing half-written: no data home, no database
    unreachable = {"GUJI_STORAGE": "s3://guji-bucket/guji", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                   "AWS_MAX_ATTEMPTS": "1"}
    result, text = _run(["--home", str(home), "init"], unreachable)
    assert result.exit_code == 5 and "连不上对象存储的端点" in text and "127.0.0.1:1" in text
    assert not home.exists()
    result, text = _run(["--home", str(home), "cards", "list"], {"GUJI_STORAGE": "s3://Bad_Name"})
    assert result.exit_code == 2 and "GUJI_STORAGE" in text and "不是存储桶名" in text


def test_refused_keys_are_one_message_naming_what_to_check_and_nothing_is_written(tmp_path, monkeypatch):
    """A store that checks keys (moto with IAM checks after its first 3 requests): an unknown key, a
    wrong secret and a key without rights each stop `guji init` and the site's commands in one Chinese
    message, exit code 5, with no data home written and no key or secret shown."""
    import boto3
    from s3_support import S3Server

    server = S3Server({"INITIAL_NO_AUTH_ACTION_COUNT": "3"})
    server.start()
    try:
        admin = {"endpoint_url": server.url, "region_name": "us-east-1", "aws_access_key_id": "admin",
                 "aws_secret_access_key": "admin"}
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="guji")
        key = iam.create_access_key(UserName="guji")["AccessKey"]  # a real key, with no rights
        boto3.client("s3", **admin).create_bucket(Bucket="guji-bucket")
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        home = tmp_path / "guji-data"
        refused = (("AKIAUNKNOWNUNKNOWN01", "x" * 40, "对象存储不认识这个访问密钥：请核对AWS_ACCESS_KEY_ID"),
                   (key["AccessKeyId"], "wrong-secret-" * 3, "访问密钥的密码不对：请核对AWS_SECRET_ACCESS_KEY"),
                   (key["AccessKeyId"], key["SecretAccessKey"], "请给它读写存储桶「guji-bucket」的权限"))
        for key_id, secret, says in refused:
            keys = {"GUJI_STORAGE": "s3://guji-bucket/guji", "AWS_ACCESS_KEY_ID": key_id,
                    "AWS_SECRET_ACCESS_KEY": secret}
            for command in (["init"], ["cards", "list"]):
                result, text = _run(["--home", str(home), *command], keys)
                assert result.exit_code == 5 and says in text, result.output
                assert key_id not in text and secret not in text
            assert not home.exists()
    finally:
        server.stop()


def test_a_bucket_without_a_storage_root_asks_for_guji_init(tmp_path, s3_storage):
    result, text = _run(["--home", str(tmp_path / "guji-data"), "cards", "list"], {})
    assert result.exit_code == 3 and "没有OCFL存储根" in text and "gujiinit" in text


def test_the_site_answers_503_while_the_bucket_is_out_of_reach_and_recovers(tmp_path, s3_storage, monkeypatch):
    home = Home.resolve(tmp_path / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    catalogue.create(CARD, editor="编目员", reason="新建")
    client = TestClient(create_app(catalogue.home))
    assert client.get(f"/books/{CARD['id']}").status_code == 200
    store = client.app.state.catalogue.store
    reachable = store.bucket.client
    import boto3
    from botocore.config import Config

    store.bucket.client = boto3.session.Session().client("s3", endpoint_url="http://127.0.0.1:1",
                                                         config=Config(retries={"max_attempts": 1}))
    try:
        page = client.get(f"/books/{CARD['id']}")
        assert page.status_code == 503 and "暂不可用" in page.text and "Traceback" not in page.text
        problem = client.get(f"/iiif/{CARD['id']}/manifest")
        assert problem.status_code == 503 and problem.json()["status"] == 503
    finally:
        store.bucket.client = reachable
    assert client.get(f"/books/{CARD['id']}").status_code == 200  # the same app, nothing restarted
    catalogue.close()


def test_storage_unavailable_is_the_unavailable_kind():
    error = StorageUnavailable("x")
    assert error.exit_code == 5 and error.status == 503


def test_the_local_store_stays_the_default(home):
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    try:
        assert type(catalogue.store) is ObjectStore and catalogue.home.derivatives == home.root / "derivatives"
        assert json.loads((home.ocfl_root / "ocfl_layout.json").read_text())["extension"]
    finally:
        catalogue.close()


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_several_events_in_one_transaction_on_postgresql(catalogue):
    """`guji fixity` records a fixity-failure event per problem in one transaction: SQLAlchemy sends them
    as one batch of numbered parameters, which the U+0000 filter of repository/database.py must pass."""
    catalogue.create({**CARD, "edition": {"title": "空\0字"}}, editor="编目员", reason="新建")
    (catalogue.store.root / CARD["id"] / "v1" / "content" / "card.json").write_bytes(b"{}")
    report = catalogue.fixity()
    assert len(report.problems) == 1
    assert "fixity-failure" in [event.kind for event in catalogue.events(CARD["id"])]
