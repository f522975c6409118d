"""Helpers for web tests: signed-in staff clients, forms read from pages like a browser would."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import lxml.html
from fastapi.testclient import TestClient

from guji.web import create_app
from guji.web.staff.accounts import Accounts

FIXTURES = Path(__file__).parent / "fixtures"
PASSWORD = "correct horse battery"


def form_values(html: str, selector: str = "form") -> tuple[str, dict[str, list[str]]]:
    """The action and the fields a browser would submit for the first form matching `selector`."""
    document = lxml.html.fromstring(html)
    form = document.cssselect(selector)[0]
    values: dict[str, list[str]] = {}
    for name, value in form.form_values():
        values.setdefault(name, []).append(value)
    return form.get("action"), values


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def add_user(catalogue, name: str = "张三", role: str = "cataloguer", password: str = PASSWORD) -> None:
    Accounts(catalogue).add(name, role, password, actor="test")


def sign_in(client: TestClient, name: str, password: str = PASSWORD):
    page = client.get("/staff/login")
    return client.post("/staff/login", data={"csrf_token": csrf_of(page.text), "name": name, "password": password},
                       follow_redirects=False)


def wait_for_job(client: TestClient, job_id: int) -> dict:
    """Poll the job's status endpoint (as the job page does) until it has finished."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(f"/staff/api/jobs/{job_id}").json()
        if status["status"] not in ("queued", "running"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def staff_client(catalogue, name: str = "张三", role: str = "cataloguer") -> TestClient:
    add_user(catalogue, name, role)
    client = TestClient(create_app(catalogue.home), base_url="http://127.0.0.1:8000")
    response = sign_in(client, name)
    assert response.status_code == 303, response.text
    return client


# The web tests' expected figures and lists were counted by hand from these five sample cards;
# samples added later (e.g. 七政推步 with its scans) do not change them.
WEB_SAMPLE_IDS = ("maoshi-zhushu", "jingchuan-wenji", "lidai-shizuan-zuobian", "yingmeian-yiyu",
                  "pingyang-xianzhi-longqing")


# 重刊荊川先生文集's scans in the `collection` fixture (conftest.py): 卷一 on 0001–0002, 卷二 on 0003.
WEB_COLLECTION_RANGES = [{"label": "卷一", "files": ["1.png", "2.png"]}, {"label": "卷二", "files": ["10.png"]}]


def load_samples(catalogue, sample_cards) -> None:
    for card in sample_cards:
        if card["id"] in WEB_SAMPLE_IDS:
            catalogue.create(card, editor="示例", reason="导入示例")


def ingest_fixture_scans(catalogue, card_id: str, folder: Path, ranges: list[dict] | None = None) -> Path:
    """Copy the three open-guji-cv PNG scans into `folder` (with a structure.json giving 卷 ranges)
    and ingest them into `card_id`."""
    from guji.ingest.pipeline import ingest_book

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("1.png", "2.png", "10.png"):
        shutil.copy(FIXTURES / "scans" / name, folder / name)
    if ranges is not None:
        structure = {"pages": [{"file": name} for name in ("1.png", "2.png", "10.png")], "ranges": ranges}
        (folder / "structure.json").write_text(json.dumps(structure, ensure_ascii=False), encoding="utf-8")
    ingest_book(catalogue, folder, card_id, "数字化组", workers=1)
    return folder
