"""Staff sessions and the sign-in throttle live in the catalogue DB: every web process (two app
instances here, as `guji serve` runs two workers) sees a sign-out, a new password or a disabled
account at once; failures slow down the place they come from, never the real user elsewhere."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text, update
from typer.testing import CliRunner
from web_helpers import PASSWORD, add_user, csrf_of, sign_in

from guji.repository import Catalogue, SettingError
from guji.repository.catalogue_db import LoginThrottleRow, StaffSessionRow
from guji.web import create_app
from guji.web.cli import root as cli
from guji.web.staff import throttle

BASE = "http://127.0.0.1:8000"


def client_of(app, address: str = "192.0.2.1") -> TestClient:
    return TestClient(app, base_url=BASE, client=(address, 40000))


def with_cookie(app, cookie: str) -> TestClient:
    """Another browser (or worker) presenting a copied session cookie."""
    other = client_of(app, "192.0.2.99")
    other.cookies.set("guji_staff", cookie, domain="127.0.0.1", path="/staff")
    return other


def opens(client: TestClient) -> bool:
    return client.get("/staff/users", follow_redirects=False).status_code == 200


@pytest.fixture
def workers(catalogue):
    """Two app instances on one data home, like two uvicorn workers."""
    add_user(catalogue, "馆长", "admin")
    return create_app(catalogue.home), create_app(catalogue.home)


@pytest.mark.both_databases
def test_sign_out_ends_the_session_in_every_worker(workers):
    first, second = workers
    browser = client_of(first)
    assert sign_in(browser, "馆长").status_code == 303
    cookie = browser.cookies.get("guji_staff")
    assert opens(with_cookie(second, cookie))
    token = csrf_of(browser.get("/staff/").text)
    assert browser.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert not opens(with_cookie(first, cookie)) and not opens(with_cookie(second, cookie))


@pytest.mark.parametrize("command", [["users", "passwd", "馆长", "--password", "another long password"],
                                     ["users", "disable", "馆长"]])
def test_the_command_line_ends_open_sessions(workers, catalogue, command):
    browser = client_of(workers[0])
    assert sign_in(browser, "馆长").status_code == 303 and opens(browser)
    result = CliRunner().invoke(cli, ["--home", str(catalogue.home.root), *command])
    assert result.exit_code == 0, result.output
    assert not opens(browser) and not opens(with_cookie(workers[1], browser.cookies.get("guji_staff")))
    assert catalogue.events(limit=1)[0].detail_json.count('"sessions_ended": 1')


def test_a_session_ends_after_its_idle_limit(workers, catalogue):
    browser = client_of(workers[0])
    sign_in(browser, "馆长")
    with catalogue.sessions.begin() as session:
        session.execute(update(StaffSessionRow).values(expires="2000-01-01T00:00:00Z"))
    assert not opens(browser)


def test_signing_in_again_starts_a_new_session(workers, catalogue):
    browser = client_of(workers[0])
    sign_in(browser, "馆长")
    before = browser.cookies.get("guji_staff")
    sign_in(browser, "馆长")
    assert browser.cookies.get("guji_staff") != before and opens(with_cookie(workers[0], before))
    with catalogue.sessions() as session:
        assert session.query(StaffSessionRow).count() == 2


# ---- the throttle --------------------------------------------------------------------------------


def _let_waits_pass(catalogue) -> None:
    with catalogue.sessions.begin() as session:
        session.execute(update(LoginThrottleRow).values(blocked_until="2000-01-01T00:00:00Z"))


@pytest.mark.both_databases
def test_waits_grow_with_each_failure_and_then_pass(workers, catalogue):
    guesser = client_of(workers[0], "203.0.113.5")
    for _ in range(throttle.FREE_PER_PAIR):
        sign_in(guesser, "馆长", "wrong wrong wrong")
    assert sign_in(guesser, "馆长").headers["retry-after"] in ("29", "30")
    _let_waits_pass(catalogue)
    assert sign_in(guesser, "馆长", "wrong again, wrong").status_code == 401  # allowed once more …
    assert 55 <= int(sign_in(guesser, "馆长").headers["retry-after"]) <= 60  # … and the wait doubled
    _let_waits_pass(catalogue)
    assert sign_in(guesser, "馆长").status_code == 303  # the right password clears that name there
    assert throttle.wait_after(40, throttle.FREE_PER_PAIR) == throttle.LONGEST_WAIT


def test_one_address_trying_many_names_waits(workers, monkeypatch):
    monkeypatch.setattr(throttle, "FREE_PER_ADDRESS", 3)
    sprayer = client_of(workers[0], "203.0.113.6")
    for name in ("甲", "乙", "丙"):
        assert sign_in(sprayer, name, "wrong wrong wrong").status_code == 401
    assert sign_in(sprayer, "丁", "wrong wrong wrong").status_code == 429
    assert sign_in(client_of(workers[0], "198.51.100.7"), "馆长").status_code == 303


@pytest.mark.both_databases
def test_guessing_from_many_addresses_slows_new_addresses_not_the_users_own(workers, monkeypatch):
    monkeypatch.setattr(throttle, "FREE_PER_NAME", 3)
    own = client_of(workers[0], "198.51.100.7")
    assert sign_in(own, "馆长").status_code == 303  # the address 馆长 works from
    for number in range(3):
        guesser = client_of(workers[0], f"203.0.113.{10 + number}")
        assert sign_in(guesser, "馆长", "wrong wrong wrong").status_code == 401
    assert sign_in(client_of(workers[0], "203.0.113.50"), "馆长").status_code == 429
    assert sign_in(client_of(workers[1], "198.51.100.7"), "馆长").status_code == 303


# ---- which address a request comes from --------------------------------------------------------------


def test_forwarded_for_is_believed_only_from_trusted_proxies(catalogue, monkeypatch):
    add_user(catalogue, "馆长", "admin")
    forged = {"X-Forwarded-For": "198.51.100.200"}
    direct = client_of(create_app(catalogue.home), "127.0.0.1")
    for _ in range(throttle.FREE_PER_PAIR):
        direct.headers.update(forged)
        sign_in(direct, "馆长", "wrong wrong wrong")
        forged = {"X-Forwarded-For": forged["X-Forwarded-For"] + "1"}  # a new "address" every time
    assert sign_in(direct, "馆长").status_code == 429  # the header changed nothing: no proxy is trusted
    assert catalogue.events(limit=1)[0].detail_json.count('"address": "127.0.0.1"')

    monkeypatch.setenv("GUJI_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    behind_nginx = client_of(create_app(catalogue.home), "127.0.0.1")
    behind_nginx.headers["X-Forwarded-For"] = "203.0.113.77, 10.1.2.3"  # client, then an inner proxy
    assert sign_in(behind_nginx, "馆长").status_code == 303
    assert catalogue.events(limit=1)[0].detail_json.count('"address": "203.0.113.77"')


def test_a_malformed_trusted_proxies_setting_is_refused_naming_it(catalogue, monkeypatch):
    monkeypatch.setenv("GUJI_TRUSTED_PROXIES", "127.0.0.1, nginx.local")
    with pytest.raises(SettingError, match="GUJI_TRUSTED_PROXIES=.*「nginx.local」不是 IP 地址或网段"):
        create_app(catalogue.home)


def test_guji_serve_leaves_forwarded_headers_to_the_app(catalogue, monkeypatch):
    """uvicorn on its own believes X-Forwarded-For from 127.0.0.1 — whoever connects from there."""
    import uvicorn

    options = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: options.update(kwargs))
    result = CliRunner().invoke(cli, ["--home", str(catalogue.home.root), "serve", "--no-indexer"])
    assert result.exit_code == 0, result.output
    assert options["proxy_headers"] is False


@pytest.mark.both_databases
def test_an_older_data_home_gets_the_new_tables_on_first_open(catalogue):
    with catalogue.engine.begin() as connection:  # as made before schema revisions and these tables
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DROP TABLE staff_sessions"))
        connection.execute(text("DROP TABLE login_throttle"))
        connection.execute(text("DROP TABLE job_outputs"))  # revision 0002's, after the baseline
    home = catalogue.home
    catalogue.close()
    reopened = Catalogue.open(home)
    try:
        assert {"staff_sessions", "login_throttle"} <= set(inspect(reopened.engine).get_table_names())
        add_user(reopened, "馆长", "admin")
        assert sign_in(client_of(create_app(home)), "馆长", PASSWORD).status_code == 303
    finally:
        reopened.close()


@pytest.mark.both_databases
def test_text_holding_u0000_is_answered_not_an_error(workers):
    """PostgreSQL's text cannot hold U+0000, not even in a query: a name, a filter or a search with one
    is a failed sign-in or an empty list there as on SQLite, never a 500."""
    client = client_of(workers[0])
    assert sign_in(client, "馆长\0", "wrong\0password").status_code == 401
    assert client.get("/browse", params={"local_author": "冒\0襄"}).status_code == 200
    assert client.get("/browse", params={"dynasty": "\0"}).status_code == 200
    assert sign_in(client, "馆长").status_code == 303
    assert client.get("/staff/cards", params={"q": "影\0梅"}).status_code == 200
