"""Several web nodes behind a load balancer (docs/deployment.md): what one node knows, every node
knows — staff sessions and the key that signs them, the catalogue; the nginx front of the docs.
Two real `guji serve` nodes, each with its own index fed from the shared event log, are started by
tests/test_scale_out.py (an edit on node A found by node B's search)."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import add_user, sign_in

from guji.repository import Catalogue, Home
from guji.repository.settings import Settings
from guji.web import create_app
from guji.web.cli import root as cli
from guji.web.staff import accounts

BASE = "http://127.0.0.1:8000"
CARD = "jingchuan-wenji"
KEY = "9f1c0e8b7a6d5c4b3a29180716f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d\n"


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch):
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def node(tmp_path, name: str, **settings) -> tuple[Home, Settings]:
    """A node's own data home on a database all nodes share."""
    chosen = Settings(database_url=f"sqlite:///{tmp_path / 'shared.sqlite'}", **settings)
    home = Home.resolve(tmp_path / name, chosen)
    Catalogue.init(home, settings=chosen).close()
    return home, chosen


def signed_in_elsewhere(tmp_path, **settings) -> bool:
    """Sign in on node A; does node B open the staff workspace with A's cookie?"""
    first, second = node(tmp_path, "node-a", **settings), node(tmp_path, "node-b", **settings)
    catalogue = Catalogue.open(first[0], settings=first[1])
    add_user(catalogue, "馆长", "admin")
    catalogue.close()
    browser = TestClient(create_app(*first), base_url=BASE)
    assert sign_in(browser, "馆长").status_code == 303
    other = TestClient(create_app(*second), base_url=BASE)
    other.cookies.set("guji_staff", browser.cookies.get("guji_staff"), domain="127.0.0.1", path="/staff")
    return other.get("/staff/users", follow_redirects=False).status_code == 200


def test_nodes_that_share_the_key_file_share_staff_sessions(tmp_path):
    key = tmp_path / "session.key"
    key.write_text(KEY)
    assert signed_in_elsewhere(tmp_path, session_key_file=key)


def test_nodes_with_keys_of_their_own_do_not(tmp_path):
    """Why the setting is there: each data home makes its own key, and its cookies open nothing elsewhere."""
    assert not signed_in_elsewhere(tmp_path)


@pytest.mark.parametrize("content, says", [(None, "不存在"), ("short\n", "至少 32 个"),
                                           ("a" * 40 + "\x00" + "b" * 40, "至少 32 个")])
def test_serve_refuses_a_key_file_it_cannot_use_before_starting(tmp_path, content, says):
    home = tmp_path / "guji-data"
    Catalogue.init(Home.resolve(home)).close()
    key = tmp_path / "session.key"
    if content is not None:
        key.write_text(content)
    # 192.0.2.1 (TEST-NET) is no address of this machine: a serve that did not check would fail to listen
    result = CliRunner().invoke(cli, ["--home", str(home), "serve", "--host", "192.0.2.1", "--no-indexer"],
                                env={"GUJI_SESSION_KEY_FILE": str(key)})
    assert result.exit_code == 2, result.output
    assert "GUJI_SESSION_KEY_FILE" in result.output and says in result.output
    assert "Traceback" not in result.output
    assert not key.exists() or key.read_text() == content  # never made or changed by a node


# ---- two real nodes ----------------------------------------------------------------------------


def test_the_documented_nginx_front_is_a_configuration_nginx_accepts(tmp_path):
    from nginx_front import check, documented_block, site_config

    assert "proxy_set_header X-Forwarded-For" in documented_block()
    main = site_config(tmp_path / "nginx", ["127.0.0.1:8001", "127.0.0.1:8002"], 8080, tmp_path / "www")
    checked = check(main)
    assert checked.returncode == 0, checked.stderr
    assert main.read_text().count("max_fails=3") == 2
