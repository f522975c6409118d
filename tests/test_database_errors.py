"""A catalogue database that cannot be used: a wrong URL, a wrong password, a database that does not
exist, a server that is down. Commands say so in one Chinese line naming GUJI_DATABASE_URL (never its
password) and exit 5 (暂不可用, repository/errors.py); the site answers 503 while the server is down
and recovers by itself."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner
from web_helpers import staff_client

from guji.repository import Catalogue
from guji.search.indexer import Indexer
from guji.web import create_app
from guji.web.cli import root as cli

SECRET = "s3cret-pass"
on_postgresql = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def guji_init(home, url: str, secret: str = SECRET):
    result = CliRunner().invoke(cli, ["--home", str(home.root), "init"], env={"GUJI_DATABASE_URL": url})
    assert result.exit_code == 5, result.output
    assert "Traceback" not in result.output and secret not in result.output
    assert "GUJI_DATABASE_URL" in result.output
    assert not home.ocfl_root.exists()  # nothing made
    return "".join(result.output.split())  # the console wraps long lines: compare without white space


@pytest.mark.parametrize(("url", "says"), [
    ("postgres ql://nowhere", "无法识别"),
    (f"mysql://guji:{SECRET}@db.example/guji", "不受支持"),
    (f"postgresql+asyncpg://guji:{SECRET}@db.example/guji", "postgresql+psycopg://"),
    ("sqlite:////nonexistent-folder/catalogue.sqlite", "打不开 SQLite 数据库文件"),
])
def test_a_database_setting_that_cannot_be_used_is_named_in_one_message(home, url, says):
    assert says.replace(" ", "") in guji_init(home, url)


def test_wrong_password_missing_database_and_a_stopped_server(home, postgres_server):
    address = f"127.0.0.1:{postgres_server.port}"
    wrong_password = guji_init(home, f"postgresql+psycopg://postgres:{SECRET}@{address}/postgres")
    assert "用户名或密码不对" in wrong_password and "postgres:***@" in wrong_password
    password = postgres_server.password
    missing = guji_init(home, f"postgresql+psycopg://postgres:{password}@{address}/nonesuch", secret=password)
    assert "数据库「nonesuch」不存在" in missing
    refused = guji_init(home, f"postgresql+psycopg://postgres:{SECRET}@127.0.0.1:1/guji")
    assert "端口1拒绝连接" in refused


@on_postgresql
def test_the_site_answers_503_while_the_database_is_down_and_recovers_by_itself(catalogue, postgres_server,
                                                                                sample_cards):
    for card in sample_cards[:2]:
        catalogue.create(card, editor="张三", reason="导入示例")
    public = TestClient(create_app(catalogue.home))
    staff = staff_client(catalogue, "馆长", "admin")
    assert public.get("/").status_code == 200 and staff.get("/staff/").status_code == 200
    postgres_server.stop()
    try:
        for client, path in ((public, "/"), (public, "/browse"), (staff, "/staff/")):
            page = client.get(path)
            assert page.status_code == 503, path
            assert "目录数据库暂时无法连接" in page.text and page.headers["retry-after"] == "30"
            assert "Traceback" not in page.text and SECRET not in page.text
        data = public.get("/api/cards")
        assert data.status_code == 503 and "unavailable" in data.json()["detail"]
    finally:
        postgres_server.start()
    assert public.get("/").status_code == 200  # the same app, nothing restarted
    assert len(public.get("/api/cards").json()["cards"]) == 2
    assert staff.get("/staff/").status_code == 200  # still signed in
    postgres_server.stop()  # a restart between two requests: the pooled connections are dead
    postgres_server.start()
    assert public.get("/").status_code == 200 and staff.get("/staff/").status_code == 200


def test_the_indexer_keeps_going_through_an_outage(catalogue, monkeypatch):
    worker = Indexer(catalogue, "whoosh")
    passes, told = [], []
    real_pass = worker.run_once

    def flaky_pass():
        passes.append(1)
        if len(passes) <= 2:
            raise OperationalError("SELECT", {}, Exception("connection refused"))
        return real_pass()

    monkeypatch.setattr(worker, "run_once", flaky_pass)
    try:
        worker.run(interval=0, stop=lambda: len(passes) >= 3, unreachable=told.append)
    finally:
        worker.close()
    assert len(passes) == 3 and len(told) == 1 and "拒绝连接" in told[0]


def test_a_command_finding_the_database_out_of_reach_says_so(home):
    Catalogue.init(home).close()
    result = CliRunner().invoke(cli, ["--home", str(home.root), "history", "x"],
                                env={"GUJI_DATABASE_URL": f"postgresql+psycopg://guji:{SECRET}@127.0.0.1:1/guji"})
    assert result.exit_code == 5 and "Traceback" not in result.output and SECRET not in result.output
    assert "拒绝连接" in "".join(result.output.split())


def test_guji_serve_starts_no_worker_while_the_database_is_out_of_reach(home, monkeypatch):
    import uvicorn

    Catalogue.init(home).close()
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    result = CliRunner().invoke(cli, ["--home", str(home.root), "serve", "--no-indexer"],
                                env={"GUJI_DATABASE_URL": f"postgresql+psycopg://guji:{SECRET}@127.0.0.1:1/guji"})
    assert result.exit_code == 5 and not started
    assert "拒绝连接" in "".join(result.output.split()) and SECRET not in result.output
