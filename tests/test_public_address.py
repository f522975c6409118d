"""The public URL: the address `guji serve` listens at unless GUJI_PUBLIC_URL is set, and a warning for
staff (log and dashboard, never readers) when requests reach the site at another address."""

from __future__ import annotations

import logging

import lxml.html
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import load_samples, staff_client

from guji.repository import public_url
from guji.web import create_app, public_address
from guji.web.cli import root as cli


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv("GUJI_PUBLIC_URL", raising=False)
    monkeypatch.delenv("GUJI_SERVED_URL", raising=False)


def test_the_served_address_is_the_default_and_a_configured_url_always_wins(unset, monkeypatch):
    assert public_url() == "http://127.0.0.1:8000"  # CLI commands without a server: guji serve's default
    assert public_address.served_url("127.0.0.1", 8102) == "http://127.0.0.1:8102"
    assert public_address.served_url("::1", 8102) == "http://[::1]:8102"
    assert public_address.served_url("guji.local", 80) == "http://guji.local"
    everywhere = public_address.served_url("0.0.0.0", 8102)
    assert everywhere.endswith(":8102") and "0.0.0.0" not in everywhere  # an address a browser can open
    monkeypatch.setenv("GUJI_SERVED_URL", "http://127.0.0.1:8102")
    assert public_url() == "http://127.0.0.1:8102"
    monkeypatch.setenv("GUJI_PUBLIC_URL", "https://guji.example.cn/")
    assert public_url() == "https://guji.example.cn"  # IIIF ids and OAI identifiers stay put for harvesters


def test_manifests_and_permalinks_use_the_served_address(monkeypatch, iiif_catalogue):
    monkeypatch.delenv("GUJI_PUBLIC_URL")  # which the fixture sets
    monkeypatch.setenv("GUJI_SERVED_URL", "http://127.0.0.1:8102")
    client = TestClient(create_app(iiif_catalogue.home), base_url="http://127.0.0.1:8102")
    book = iiif_catalogue.list_rows()[0].id
    manifest = client.get(f"/iiif/{book}/manifest").json()
    assert manifest["id"] == f"http://127.0.0.1:8102/iiif/{book}/manifest"
    assert f'href="http://127.0.0.1:8102/books/{book}"' in client.get(f"/books/{book}").text


def test_serve_says_which_public_url_it_uses_and_refuses_a_malformed_one(unset, monkeypatch, catalogue):
    lines = public_address.startup_lines("0.0.0.0", "http://10.1.2.3:8102")
    assert lines[0] == "网站地址：http://10.1.2.3:8102（监听本机所有网络地址）"
    assert "即网站地址" in lines[1] and "请设置 GUJI_PUBLIC_URL" in lines[1]
    monkeypatch.setenv("GUJI_PUBLIC_URL", "https://guji.example.cn")
    assert public_address.startup_lines("127.0.0.1", "http://127.0.0.1:8000")[1].endswith(
        "https://guji.example.cn（来自 GUJI_PUBLIC_URL）")
    for wrong in ("guji.example.cn", "ftp://guji.example.cn", "http://guji.example.cn:99999", "http://x/?a=1"):
        monkeypatch.setenv("GUJI_PUBLIC_URL", wrong)
        result = CliRunner().invoke(cli, ["--home", str(catalogue.home.root), "serve"])
        assert result.exit_code == 2, wrong  # a setting that cannot be used: refused before anything starts
        assert "GUJI_PUBLIC_URL" in result.output and "例如 https://guji.example.cn" in result.output \
            or "端口" in result.output, result.output


def dashboard_notice(client: TestClient) -> list[str]:
    html = client.get("/staff/", headers={"host": "127.0.0.1:8000"}).text
    return [" ".join(item.text_content().split()) for item in
            lxml.html.fromstring(html).cssselect(".public-address li")]


def test_requests_at_another_address_warn_in_the_log_and_on_the_dashboard(unset, catalogue, sample_cards,
                                                                            caplog):
    load_samples(catalogue, sample_cards)
    staff = staff_client(catalogue, "馆长", "admin")
    assert dashboard_notice(staff) == []
    reader = TestClient(create_app(catalogue.home), base_url="http://192.168.1.5:8102")
    with caplog.at_level(logging.WARNING, logger="guji.web"):
        assert reader.get("/books/jingchuan-wenji").status_code == 200  # readers see nothing of it
        reader.get("/")
    warnings = [record.getMessage() for record in caplog.records if "192.168.1.5" in record.getMessage()]
    assert len(warnings) == 1  # once per address, not per request
    assert "http://192.168.1.5:8102" in warnings[0] and "http://127.0.0.1:8000" in warnings[0]
    notice = dashboard_notice(staff)
    assert len(notice) == 1 and notice[0].split("（")[0] == "http://192.168.1.5:8102"
    # made-up Host headers are not addresses and are not listed
    reader.get("/", headers={"host": "<script>alert(1)</script>"})
    reader.get("/", headers={"host": "127.0.0.1:80"})  # the default port is the same address as none
    assert {item.split("（")[0] for item in dashboard_notice(staff)} == {"http://192.168.1.5:8102", "http://127.0.0.1"}


def test_the_dashboard_forgets_addresses_seen_under_an_older_public_url(unset, monkeypatch, catalogue, sample_cards):
    load_samples(catalogue, sample_cards)
    staff = staff_client(catalogue, "馆长", "admin")
    TestClient(create_app(catalogue.home), base_url="https://guji.example.cn").get("/")
    assert dashboard_notice(staff)[0].startswith("https://guji.example.cn")
    monkeypatch.setenv("GUJI_PUBLIC_URL", "https://guji.example.cn")  # the admin set it, as the notice asks
    assert [item.split("（")[0] for item in dashboard_notice(staff)] == ["http://127.0.0.1:8000"]  # staff's own


def test_behind_a_trusted_proxy_the_forwarded_host_is_the_address(unset, monkeypatch, catalogue, sample_cards):
    load_samples(catalogue, sample_cards)
    monkeypatch.setenv("GUJI_PUBLIC_URL", "https://guji.example.cn")
    monkeypatch.setenv("GUJI_TRUSTED_PROXIES", "127.0.0.1")
    proxied = TestClient(create_app(catalogue.home), base_url="http://127.0.0.1:8000", client=("127.0.0.1", 5000))
    forwarded = {"x-forwarded-host": "guji.example.cn", "x-forwarded-proto": "https", "x-forwarded-for": "10.0.0.9"}
    proxied.get("/", headers=forwarded)
    assert public_address.seen_elsewhere(catalogue.home) == []
    proxied.get("/", headers={**forwarded, "x-forwarded-proto": "http"})  # mixed content for the viewer
    assert [entry["address"] for entry in public_address.seen_elsewhere(catalogue.home)] == ["http://guji.example.cn"]
    stranger = TestClient(create_app(catalogue.home), base_url="http://127.0.0.1:8000", client=("10.9.9.9", 5000))
    stranger.get("/", headers={"x-forwarded-host": "evil.example", "x-forwarded-proto": "https"})  # not believed
    seen = [entry["address"] for entry in public_address.seen_elsewhere(catalogue.home)]
    assert "https://evil.example" not in seen and "http://127.0.0.1:8000" in seen
