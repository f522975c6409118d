"""Hostile and malformed requests: every route answers with a page or JSON that says what is wrong —
never a 500, a traceback, a server path or raw pydantic JSON on a page for readers.

One data home for the module (the sample cards and a book with four scans, tests/iiif_fixtures.py).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from iiif_fixtures import BOOK
from web_helpers import add_user, csrf_of, sign_in

from guji.repository import Catalogue
from guji.web import create_app

HUGE = "9" * 23  # more than any database integer (2**63 − 1)


@pytest.fixture(scope="module")
def app(iiif_home):
    return create_app(iiif_home)


@pytest.fixture
def client(app, iiif_public_url):
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def admin(app, iiif_home):
    catalogue = Catalogue.open(iiif_home)
    try:
        add_user(catalogue, "馆长", "admin")
    finally:
        catalogue.close()
    client = TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1:8000")
    assert sign_in(client, "馆长").status_code == 303
    return client


def page_text(response) -> str:
    return re.sub(r"<[^>]+>", " ", response.text)


def assert_no_server_detail(response) -> None:
    assert "Traceback" not in response.text and "/tmp/" not in response.text and "site-packages" not in response.text


# ---- bad parameters on pages and in the API ------------------------------------------------------


def test_a_bad_parameter_on_a_page_is_a_chinese_page_naming_it(client):
    response = client.get("/browse?page=abc")
    assert response.status_code == 422 and response.headers["content-type"].startswith("text/html")
    text = page_text(response)
    assert "参数「page」" in text and "「abc」" in text and "应为整数" in text, text
    assert '"detail"' not in response.text  # not pydantic's JSON
    english = client.get("/browse?page=0&lang=en")
    assert "The parameter “page”" in page_text(english) and "must not be less than 1" in page_text(english)


def test_a_bad_parameter_in_the_api_is_a_problem_naming_it(client):
    response = client.get("/api/browse?page=abc")
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["errors"][0]["loc"] == ["query", "page"] and problem["errors"][0]["value"] == "abc"
    assert problem["status"] == 422 and "page" in problem["detail"] and problem["type"] == "about:blank"
    assert client.get(f"/api/cards?limit={HUGE}").status_code == 422


def test_unknown_addresses_are_a_chinese_page_for_readers_and_json_for_programs(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and "没有这个页面" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/api/no-such-thing").json() == {"type": "about:blank", "title": "未找到 (Not found)",
                                                       "status": 404, "detail": "Not Found"}
    assert client.post("/browse").status_code == 405


def test_an_unexpected_error_is_a_plain_page_without_details(client, monkeypatch):
    from guji.web import collection

    def broken(*args, **kwargs):
        raise RuntimeError("/srv/guji-data/catalogue.sqlite is locked")

    monkeypatch.setattr(collection, "figures", broken)
    response = client.get("/")
    assert response.status_code == 500 and "服务器处理这个请求时出错" in response.text
    assert "catalogue.sqlite" not in response.text and "RuntimeError" not in response.text


# ---- numbers from URLs and forms ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["%C2%B2", "%D9%A3", HUGE, "-1", "abc", "0002x"])
def test_the_viewer_opens_the_first_page_for_any_page_it_does_not_have(client, value):
    for name in ("page", "canvas"):
        response = client.get(f"/books/{BOOK}/viewer?{name}={value}")
        assert response.status_code == 200, (name, value, response.text[:200])
        assert "/canvas/" not in response.text


def test_the_viewer_opens_a_page_it_has(client):
    assert "/canvas/0002" in client.get(f"/books/{BOOK}/viewer?page=2").text
    assert "/canvas/0003" in client.get(f"/books/{BOOK}/viewer?canvas=0003").text
    assert "/canvas/" not in client.get(f"/books/{BOOK}/viewer?page=9").text  # the book has four pages


def test_numbers_beyond_the_database_are_refused_by_name(admin):
    job_page = admin.get(f"/staff/ingest/{HUGE}")
    assert job_page.status_code == 422 and "参数「job_id」" in page_text(job_page)
    assert "工作台" in job_page.text  # shown in the staff layout
    job_json = admin.get(f"/staff/api/jobs/{HUGE}")
    assert job_json.status_code == 422 and job_json.json()["errors"][0]["loc"] == ["path", "job_id"]
    assert admin.get(f"/staff/audit?before={HUGE}").status_code == 422
    assert admin.get("/staff/ingest/12345").status_code == 404


def test_non_ascii_digits_in_staff_forms_are_reported_not_crashed_on(admin):
    response = admin.get(f"/staff/cards/{BOOK}/outputs?width=%C2%B2")
    assert response.status_code == 422 and "书影宽度「²」" in response.text


def test_a_merge_form_with_json_nested_too_deep_is_refused(admin):
    token = csrf_of(admin.get("/staff/").text)
    response = admin.post(f"/staff/cards/{BOOK}/merge", data={
        "csrf_token": token, "origin_version": "1", "head_version": "1", "mine_json": "[" * 100_000})
    assert response.status_code == 400 and "合并表单不完整" in response.text


def test_an_impossible_year_or_volume_count_is_refused_and_the_catalogue_still_opens(iiif_home):
    """A reign year of 20 digits gave a Gregorian year SQLite cannot hold: the card was written to OCFL,
    its projection failed, and every later open of the catalogue failed with it."""
    catalogue = Catalogue.open(iiif_home)
    try:
        for number, card in enumerate([
            {"edition": {"title": "某書", "publication": {"date": {"raw": f"清嘉慶{HUGE}年"}}}},
            {"edition": {"title": "某書"}, "copy": {"volumes": int(HUGE)}},
        ]):
            with pytest.raises(Exception, match="maximum"):
                catalogue.create({"id": f"huge-{number}", "record_type": "guji", **card}, editor="t", reason="t")
            assert not catalogue.exists(f"huge-{number}")
    finally:
        catalogue.close()
    Catalogue.open(iiif_home).close()


# ---- over-long searches ---------------------------------------------------------------------------


def test_a_very_long_search_gets_a_chinese_page(client):
    """A pasted 10,000 characters: the search boxes keep 1,000 (a 9 KB URL, well inside the 64 KB request
    line uvicorn's httptools parser accepts); a longer query made by hand (7,000 characters, a 63 KB URL)
    still gets the reader a Chinese page."""
    response = client.get("/search", params={"q": "一" * 7_000})
    assert response.status_code == 400
    assert "检索词有 7000 个字，最多可用 256 个" in response.text
    home = client.get("/").text
    assert home.count('name="q" maxlength="1000"') == 2  # the header box and the home page's
    assert client.get("/api/search", params={"q": "一" * 7_000}).json()["parameter"] == "q"


# ---- every route, hostile values (a cheap fuzz: a few hundred requests) --------------------------------

HOSTILE = ["%00", "%01", "%FF", "%C2%B2", HUGE, "-1", "..", "x" * 300, "%E4%B8%80" * 120, "%2e%2e%2fetc"]
MANUAL_QUERIES = {  # routes reading request.query_params themselves (no declared parameters)
    "/search": ["q", "page", "per_page", "f", "sort"], "/api/search": ["q", "page", "per_page", "f", "sort"],
    "/iiif/search/{book_id}": ["q"], "/iiif/search/{book_id}/v2": ["q"],
    "/oai": ["verb", "identifier", "set", "from", "resumptionToken"],
    "/staff/cards/{card_id}/outputs": ["width", "pages", "list", "applicant"],
}
VALID = {"card_id": BOOK, "book": BOOK, "book_id": BOOK, "name": "top", "job_id": "1"}


def _routes(app):
    from fastapi.routing import APIRoute
    from starlette.routing import Route

    def walk(routes, prefix=""):
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Route):
                declared = []
                if isinstance(route, APIRoute):
                    dependant = route.dependant
                    declared = [p.alias for d in [dependant, *dependant.dependencies] for p in d.query_params]
                for method in route.methods or ():
                    yield prefix + route.path, method, declared

    return [(path, method, declared) for path, method, declared in walk(app.routes)
            if not path.startswith(("/docs", "/redoc", "/openapi", "/static", "/staff/login", "/staff/logout"))]


def _fill(path: str, name: str | None = None, value: str = "") -> str:
    for parameter in re.findall(r"{(\w+)}", path):
        path = path.replace(f"{{{parameter}}}", value if parameter == name else VALID.get(parameter, "x"))
    return path


def test_no_route_answers_500_to_hostile_values(admin):
    """Every parameter of every route gets three of the hostile values (taken in turn, so that each
    value meets many parameters): the whole loop lives in a few hundred in-process requests."""
    turn = iter(range(10**6))

    def some() -> list[str]:
        start = next(turn) * 3
        return [HOSTILE[(start + offset) % len(HOSTILE)] for offset in range(3)]

    requests = []
    for path, method, declared in _routes(admin.app):
        if path == "/iiif/image/{rest:path}":
            for index in range(4):
                for value in HOSTILE:
                    segments = ["full", "max", "0", "default.jpg"]
                    segments[index] = value
                    requests.append(("GET", f"/iiif/image/{BOOK}/0001/" + "/".join(segments), None))
            continue
        names = re.findall(r"{(\w+)}", path)
        queries = sorted(set(declared) | set(MANUAL_QUERIES.get(path, [])))
        for name in names:
            requests += [(method, _fill(path, name, value), None) for value in some()]
        if method == "GET":
            requests += [(method, f"{_fill(path)}?{query}={value}", None) for query in queries for value in some()]
        else:  # every form field the staff workspace reads, at once
            fields = ["name", "reason", "base_version", "origin_version", "head_version", "ids", "references",
                      "changed_since", "pages", "width", "format", "version", "folder", "card_id", "action",
                      "role", "mine_json", "fingerprint", "token", "copy.volumes", "edition.title"]
            requests += [(method, _fill(path), dict.fromkeys(fields, value)) for value in some()]
    token = csrf_of(admin.get("/staff/").text)
    failures = []
    for method, url, form in requests:
        if form is not None:
            form = {key: value.replace("%00", "\x00").replace("%FF", "\udcff".encode("utf-8", "surrogatepass")
                                                                 .decode("latin-1")) for key, value in form.items()}
            response = admin.post(url, data={**form, "csrf_token": token}, follow_redirects=False)
        else:
            response = admin.request(method, url, follow_redirects=False)
        if response.status_code >= 500 or "Traceback" in response.text:
            failures.append((method, url[:120], response.status_code))
    assert len(requests) > 250  # the walk found the routes
    assert failures == []
    assert admin.get("/staff/", follow_redirects=False).status_code == 200  # still signed in: nothing broke


def test_search_unavailable_names_no_server_folder(catalogue, monkeypatch):
    """An index of another layout: the error names the index folder; readers and programs are told to
    come back later, the log gets the folder and what to do."""
    import json as json_module

    from guji.search.backend import STATE_FILE, index_dir
    from guji.search.service import Searcher

    folder = index_dir(catalogue.home, Searcher(catalogue.home).backend_name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / STATE_FILE).write_text(json_module.dumps({"schema": -1}), encoding="utf-8")
    client = TestClient(create_app(catalogue.home))
    for address in ("/api/search?q=詩", f"/iiif/search/{BOOK}?q=詩", "/search?q=詩"):
        response = client.get(address)
        assert response.status_code in (503, 404), address
        assert str(catalogue.home.root) not in response.text and "guji reindex" not in response.text, address
    assert client.get("/api/search?q=詩").status_code == 503
