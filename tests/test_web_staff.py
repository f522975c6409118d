"""The staff workspace: sign-in, roles, CSRF, card editing, history, conflicts, live checks."""

from __future__ import annotations

import re
from datetime import timedelta

import lxml.html
from fastapi.testclient import TestClient
from starlette.routing import Route
from web_helpers import PASSWORD, add_user, csrf_of, form_values, sign_in, staff_client

from guji.web import create_app
from guji.web.staff.accounts import Accounts
from guji.web.staff.throttle import FREE_PER_PAIR, wait_after

CARD = "jingchuan-wenji"


# `samples`, `cataloguer`, `admin`: conftest.py


def all_routes(routes, prefix=""):
    """(path, method) of every route the app registered, also inside included routers."""
    for route in routes:
        if hasattr(route, "original_router"):  # FastAPI's lazily included routers
            yield from all_routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):
            for method in route.methods or ():
                yield prefix + route.path, method


def concrete(path: str) -> str:
    return path.replace("{card_id}", CARD).replace("{job_id}", "1").replace("{name}", "张三")


def edit_form(client: TestClient, card_id: str = CARD) -> tuple[str, dict[str, list[str]]]:
    page = client.get(f"/staff/cards/{card_id}/edit")
    assert page.status_code == 200, page.text
    return form_values(page.text, "#card-form")


def text_of(html: str, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in lxml.html.fromstring(html).cssselect(selector)]


# ---- who may come in ------------------------------------------------------------------------


def test_every_staff_route_requires_sign_in(samples):
    client = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    routes = sorted({(path, method) for path, method in all_routes(client.app.routes) if path.startswith("/staff")})
    assert len(routes) >= 20  # the walk really found the workspace
    for path, method in routes:
        if path == "/staff/login":
            continue
        response = client.request(method, concrete(path), data={"reason": "x"} if method == "POST" else None,
                                  follow_redirects=False)
        if path.startswith("/staff/api/"):
            assert response.status_code == 401, (method, path, response.status_code)
        else:
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/staff/login?next="), (method, path)
    assert samples.get(CARD).version == 1  # nothing was changed by any of them


def test_admin_pages_are_403_for_cataloguers(cataloguer, admin):
    for path in ("/staff/users", "/staff/ingest", "/staff/ingest/1", "/staff/api/jobs/1"):
        assert cataloguer.get(path).status_code == 403, path
        assert admin.get(path).status_code in (200, 404), path
    token = csrf_of(cataloguer.get("/staff/").text)
    refused = cataloguer.post("/staff/users", data={"csrf_token": token, "name": "新人", "role": "admin"})
    assert refused.status_code == 403 and "仅限管理员" in refused.text
    assert cataloguer.get("/staff/cards/nonesuch/edit").status_code == 404


def test_sign_in_sets_a_signed_httponly_samesite_cookie_and_sign_out_ends_it(samples):
    add_user(samples, "张三")
    client = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    response = sign_in(client, "张三")
    assert response.status_code == 303 and response.headers["location"] == "/staff/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/staff" in cookie
    assert client.get("/staff/", follow_redirects=False).status_code == 200
    value = client.cookies.get("guji_staff")
    client.cookies.clear()
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.cookies.set("guji_staff", tampered, domain="127.0.0.1", path="/staff")
    assert client.get("/staff/", follow_redirects=False).status_code == 303  # a tampered cookie is no session
    client.cookies.clear()
    client.cookies.set("guji_staff", value, domain="127.0.0.1", path="/staff")
    token = csrf_of(client.get("/staff/").text)
    assert client.post("/staff/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/staff/", follow_redirects=False).status_code == 303
    assert [e.kind for e in samples.events(limit=3)][:2] == ["logout", "login"]


def test_wrong_password_unknown_user_and_redirect_target(samples):
    add_user(samples, "张三")
    client = TestClient(create_app(samples.home), base_url="http://127.0.0.1:8000")
    assert sign_in(client, "张三", "wrong password").status_code == 401
    assert sign_in(client, "nobody").status_code == 401
    page = client.get("/staff/login", params={"next": "//evil.example/"})
    action, values = form_values(page.text)
    assert values["next"] == ["/staff/"]
    values.update(name=["张三"], password=[PASSWORD], next=["https://evil.example/"])
    assert client.post(action, data=values, follow_redirects=False).headers["location"] == "/staff/"


def test_repeated_failures_slow_down_that_address_but_never_lock_out_the_real_user(samples):
    """Five wrong passwords for 张三 from one address make that address wait (even with the right
    password); 张三 signing in from another address is not held up."""
    add_user(samples, "张三")
    app = create_app(samples.home)
    guesser = TestClient(app, base_url="http://127.0.0.1:8000", client=("203.0.113.5", 40000))
    for _ in range(FREE_PER_PAIR):
        assert sign_in(guesser, "张三", "guess guess guess").status_code == 401
    throttled = sign_in(guesser, "张三")
    # the first wait is 30 s from the fifth failure, stamped to the whole second: what is left of it when
    # the next try comes depends on the clock (before, "30" was asserted and failed across a second's turn)
    assert wait_after(FREE_PER_PAIR, FREE_PER_PAIR) == timedelta(seconds=30)
    left = int(throttled.headers["retry-after"])
    assert throttled.status_code == 429 and f"登录失败次数过多，请 {left} 秒后再试" in throttled.text
    assert 1 <= left <= 30
    assert sign_in(guesser, "张三").status_code == 429
    kinds = [event.kind for event in samples.events(limit=10)]
    assert kinds.count("login-failed") == FREE_PER_PAIR and kinds[:2] == ["login-throttled", "login-failed"]
    owner = TestClient(app, base_url="http://127.0.0.1:8000", client=("198.51.100.7", 40000))
    assert sign_in(owner, "张三").status_code == 303


def test_disabling_a_user_or_changing_the_password_ends_their_sessions(samples):
    client = staff_client(samples, "张三")
    accounts = Accounts(samples)
    accounts.set_disabled("张三", True, actor="test")
    assert client.get("/staff/", follow_redirects=False).status_code == 303
    assert sign_in(client, "张三").status_code == 401
    accounts.set_disabled("张三", False, actor="test")
    assert sign_in(client, "张三").status_code == 303
    accounts.set_password("张三", "another long password", actor="test")
    assert client.get("/staff/", follow_redirects=False).status_code == 303


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(cataloguer, samples):
    _, values = edit_form(cataloguer)
    values["copy.extant_juan.raw"] = ["存十卷（卷一至十）"]
    values["reason"] = ["核对"]
    del values["csrf_token"]
    refused = cataloguer.post(f"/staff/cards/{CARD}/edit", data=values)
    assert refused.status_code == 403 and "CSRF" in refused.text
    values["csrf_token"] = ["0" * 64]
    assert cataloguer.post(f"/staff/cards/{CARD}/edit", data=values).status_code == 403
    assert samples.get(CARD).version == 1


# ---- editing ----------------------------------------------------------------------------------


def test_edit_extant_juan_with_a_reason_then_history_and_public_page_show_it(cataloguer, samples):
    action, values = edit_form(cataloguer)
    assert values["copy.extant_juan.raw"] == ["存十七卷（卷一至十七）"]
    values["copy.extant_juan.raw"] = ["存十卷（卷一至十）"]
    values["reason"] = ["据原书卷端核对存卷"]
    saved = cataloguer.post(action, data=values, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/staff/cards/{CARD}/history?saved=2"
    stored = samples.get(CARD)
    assert stored.version == 2 and stored.versions[-1].editor == "张三"
    assert stored.versions[-1].reason == "据原书卷端核对存卷"
    assert stored.card["copy"]["extant_juan"] == {
        "raw": "存十卷（卷一至十）", "count": 10, "ranges": [{"section": None, "start": 1, "end": 10, "label": None}]}
    history = cataloguer.get(saved.headers["location"]).text
    rows = {row.get("data-path"): [cell.text_content() for cell in row.cssselect("td")]
            for row in lxml.html.fromstring(history).cssselect("table.diff tr[data-path]")}
    assert rows["copy.extant_juan.raw"] == ["存十七卷（卷一至十七）", "存十卷（卷一至十）"]
    assert rows["copy.extant_juan.count"] == ["17", "10"]
    public = TestClient(create_app(samples.home)).get(f"/books/{CARD}").text
    assert "存卷 存十卷（卷一至十）" in text_of(public, ".catalogue-card .card-line")
    assert samples.events(CARD)[0].kind == "edit"


def test_a_save_without_a_reason_is_refused_and_keeps_what_was_typed(cataloguer, samples):
    action, values = edit_form(cataloguer)
    values["copy.extant_juan.raw"] = ["存十卷（卷一至十）"]
    values["reason"] = ["  "]
    refused = cataloguer.post(action, data=values)
    assert refused.status_code == 422
    assert "请填写修改原因" in text_of(refused.text, "[data-error-for=reason]")[0]
    _, shown = form_values(refused.text, "#card-form")
    assert shown["copy.extant_juan.raw"] == ["存十卷（卷一至十）"]
    assert samples.get(CARD).version == 1


def test_invalid_fields_are_shown_inline_and_nothing_is_saved(cataloguer, samples):
    action, values = edit_form(cataloguer)
    values["copy.census_number"] = ["12345"]
    values["copy.volumes"] = ["八册"]
    values["reason"] = ["测试"]
    refused = cataloguer.post(action, data=values)
    assert refused.status_code == 422
    document = lxml.html.fromstring(refused.text)
    census = document.cssselect('[data-error-for="copy.census_number"]')[0].text_content()
    volumes = document.cssselect('[data-error-for="copy.volumes"]')[0].text_content()
    assert "古籍普查编号" in census and "册数 应为整数" in volumes
    _, shown = form_values(refused.text, "#card-form")
    assert shown["copy.volumes"] == ["八册"] and shown["copy.census_number"] == ["12345"]
    assert samples.get(CARD).version == 1


def test_every_sample_card_survives_the_form_unchanged(cataloguer, samples, sample_cards):
    for card in sample_cards:
        if not samples.exists(card["id"]):
            samples.create(card, editor="示例", reason="导入示例")
        action, values = edit_form(cataloguer, card["id"])
        values["reason"] = ["只是打开再保存"]
        response = cataloguer.post(action, data=values)
        assert response.status_code == 200 and "没有改动任何字段" in response.text, card["id"]
        assert samples.get(card["id"]).version == 1


def test_list_fields_checkboxes_and_classification_from_the_form(cataloguer, samples):
    action, values = edit_form(cataloguer, "lidai-shizuan-zuobian")
    values["edition.other_titles[0].type"] = ["书衣题名"]
    values["edition.other_titles[0].title"] = ["左編"]
    values["copy.distinctions"] = ["稀见"]
    values["edition.classification.code"] = ["2.07"]
    values["copy.volumes"] = ["24"]
    values["reason"] = ["补录"]
    assert cataloguer.post(action, data=values, follow_redirects=False).status_code == 303
    card = samples.get("lidai-shizuan-zuobian").card
    assert card["edition"]["other_titles"] == [{"type": "书衣题名", "title": "左編"}]
    assert card["copy"]["distinctions"] == ["稀见"] and card["copy"]["volumes"] == 24
    assert card["edition"]["classification"] == {"code": "2.07", "bu": "史部", "lei": "传记类"}
    action, values = edit_form(cataloguer, "lidai-shizuan-zuobian")
    values["edition.other_titles[0]._delete"] = ["1"]
    values["reason"] = ["删去"]
    assert cataloguer.post(action, data=values, follow_redirects=False).status_code == 303
    assert "other_titles" not in samples.get("lidai-shizuan-zuobian").card["edition"]


def test_a_new_card_from_the_form(cataloguer, samples):
    action, values = form_values(cataloguer.get("/staff/cards/new").text, "#card-form")
    assert action == "/staff/cards/new"
    values.update({"new_id": ["rugao-test"], "record_type": ["local_document"], "edition.title": ["如皋縣志"],
                   "edition.juan.raw": ["十卷"], "local_document.type": ["地方志"], "local_document.place": ["如皋"],
                   "reason": ["新编"]})
    created = cataloguer.post(action, data=values, follow_redirects=False)
    assert created.status_code == 303, created.text
    card = samples.get("rugao-test").card
    assert card["edition"]["juan"]["count"] == 10 and card["local_document"] == {"type": "地方志", "place": "如皋"}
    values["reason"] = ["再建"]
    duplicate = cataloguer.post(action, data=values)
    assert duplicate.status_code == 422 and "已存在" in duplicate.text


# ---- live checks --------------------------------------------------------------------------------


def test_parse_preview_uses_the_save_parsers(cataloguer):
    def preview(kind, text):
        response = cataloguer.get("/staff/api/parse", params={"kind": kind, "text": text})
        assert response.status_code == 200
        return response.json()

    layout = preview("layout", "半葉十行行二十字小字雙行同白口左右雙邊單黑魚尾")
    assert layout["ok"] and layout["parsed"]["lines_per_half_leaf"] == {"min": 10, "max": 10}
    assert layout["summary"] == "半叶 10 行 · 每行 20 字 · 小字双行，字数同 · 白口 · 左右双边 · 单黑鱼尾"
    extant = preview("extant_juan", "存卷一至五、卷八")
    assert extant["summary"] == "存 6 卷：卷1–5、卷8"
    assert preview("date", "明萬曆二十四年")["summary"] == "1596 年（明萬曆 24 年）"
    assert preview("date", "清道光")["parsed"]["start"] == 1821
    bad = preview("date", "某朝")
    assert not bad["ok"] and "未能识别年代" in bad["error"]
    stated = preview("extant_juan", "存五卷（卷一至十）")
    assert stated["ok"] and "请核对" in stated["warnings"][0]
    assert cataloguer.get("/staff/api/parse", params={"kind": "nonesuch", "text": "x"}).status_code == 400


def test_check_reports_field_problems_warnings_and_the_changes_a_save_would_make(cataloguer):
    _, values = edit_form(cataloguer)
    values["copy.extant_juan.raw"] = ["存五卷（卷一至十）"]
    values["copy.census_number"] = ["12345"]
    response = cataloguer.post("/staff/api/check", data=values, headers={"X-CSRF-Token": values["csrf_token"][0]})
    result = response.json()
    by_name = {field["name"]: field for field in result["fields"]}
    assert "6位-4位-7位" in by_name["copy.census_number"]["error"]
    assert "请核对" in by_name["copy.extant_juan.raw"]["warnings"][0]
    assert {change["path"] for change in result["changes"]} >= {"copy.extant_juan.raw", "copy.census_number"}
    assert result["reason_missing"] is True


# ---- history and conflicts -------------------------------------------------------------------------


def test_history_compares_any_two_versions(cataloguer, samples):
    stored = samples.get(CARD)
    for number, raw in enumerate(("存十卷（卷一至十）", "存五卷（卷一至五）"), start=1):
        card = samples.get(CARD).card
        card["copy"]["extant_juan"] = {"raw": raw}
        samples.save(CARD, card, editor="李四", reason=f"第{number}次", base_version=stored.version + number - 1)
    page = cataloguer.get(f"/staff/cards/{CARD}/history", params={"a": 1, "b": 3}).text
    cells = {row.get("data-path"): [c.text_content() for c in row.cssselect("td")]
             for row in lxml.html.fromstring(page).cssselect("table.diff tr[data-path]")}
    assert cells["copy.extant_juan.raw"] == ["存十七卷（卷一至十七）", "存五卷（卷一至五）"]
    assert [cells[p] for p in cells if p == "copy.extant_juan.count"] == [["17", "5"]]
    versions = text_of(page, "table.history tr td:nth-child(2)")
    assert versions == ["v3", "v2", "v1"]


def test_someone_saved_first_both_edits_are_kept_by_the_merge(samples):
    zhang = staff_client(samples, "张三")
    li = staff_client(samples, "李四")
    action, mine = edit_form(zhang)
    _, theirs = edit_form(li)
    theirs["copy.call_number"] = ["示善0099"]
    theirs["reason"] = ["改号"]
    assert li.post(action, data=theirs, follow_redirects=False).status_code == 303
    mine["copy.extant_juan.raw"] = ["存十卷（卷一至十）"]
    mine["reason"] = ["核对存卷"]
    conflict = zhang.post(action, data=mine)
    assert conflict.status_code == 409
    assert "李四" in conflict.text and "改号" in conflict.text
    rows = {row.get("data-path"): row.get("class") for row in
            lxml.html.fromstring(conflict.text).cssselect("table.conflict tr[data-path]")}
    # their new 索书号 also moved the old one into 原索书号
    assert rows == {"copy.call_number": "theirs", "copy.former_call_numbers": "theirs", "copy.extant_juan": "mine"}
    assert samples.get(CARD).version == 2  # nothing of mine written yet, nothing of theirs lost
    merge_action, values = form_values(conflict.text, "form.merge")
    merged = zhang.post(merge_action, data=values, follow_redirects=False)
    assert merged.status_code == 303
    card = samples.get(CARD).card
    assert card["copy"]["call_number"] == "示善0099" and card["copy"]["extant_juan"]["raw"] == "存十卷（卷一至十）"
    assert samples.get(CARD).versions[-1].editor == "张三"


def test_both_changed_the_same_field_and_the_choice_decides(samples):
    zhang = staff_client(samples, "张三")
    li = staff_client(samples, "李四")
    action, mine = edit_form(zhang)
    _, theirs = edit_form(li)
    theirs["copy.extant_juan.raw"] = ["存十六卷（卷一至十六）"]
    theirs["reason"] = ["李四核对"]
    li.post(action, data=theirs)
    mine["copy.extant_juan.raw"] = ["存十卷（卷一至十）"]
    mine["reason"] = ["张三核对"]
    conflict = zhang.post(action, data=mine)
    document = lxml.html.fromstring(conflict.text)
    row = document.cssselect('table.conflict tr[data-path="copy.extant_juan"]')[0]
    assert row.get("class") == "both"
    assert [c.text_content() for c in row.cssselect("td")][:3] == [
        "存十七卷（卷一至十七）", "存十六卷（卷一至十六）", "存十卷（卷一至十）"]
    merge_action, values = form_values(conflict.text, "form.merge")
    values["choice.copy.extant_juan"] = ["theirs"]
    zhang.post(merge_action, data=values)
    stored = samples.get(CARD)
    # choosing theirs for the only changed field leaves their version as it is: no empty version
    assert stored.card["copy"]["extant_juan"]["raw"] == "存十六卷（卷一至十六）" and stored.version == 2
    values["choice.copy.extant_juan"] = ["mine"]
    values["head_version"] = ["2"]
    zhang.post(merge_action, data=values)
    assert samples.get(CARD).card["copy"]["extant_juan"]["raw"] == "存十卷（卷一至十）"
    assert samples.get(CARD).version == 3


def test_a_tampered_merge_form_is_refused(cataloguer, samples):
    token = csrf_of(cataloguer.get("/staff/").text)
    response = cataloguer.post(f"/staff/cards/{CARD}/merge", data={
        "csrf_token": token, "origin_version": "1", "head_version": "1", "mine_json": "not json", "reason": "x"})
    assert response.status_code == 400
    bad_card = cataloguer.post(f"/staff/cards/{CARD}/merge", data={
        "csrf_token": token, "origin_version": "1", "head_version": "1", "reason": "x",
        "mine_json": '{"record_type": "guji", "edition": {"title": ""}}'})
    assert bad_card.status_code == 422 and samples.get(CARD).version == 1


def test_staff_pages_escape_what_users_typed(cataloguer, samples):
    action, values = edit_form(cataloguer)
    values["edition.notes"] = ["<script>alert('notes')</script>"]
    values["reason"] = ["<img src=x onerror=alert(1)>"]
    cataloguer.post(action, data=values)
    for path in (f"/staff/cards/{CARD}/edit", f"/staff/cards/{CARD}/history", "/staff/", "/staff/audit"):
        page = cataloguer.get(path).text
        assert "<script>alert('notes')</script>" not in page and "<img src=x" not in page, path
    assert re.search(r"&lt;img src=x", cataloguer.get(f"/staff/cards/{CARD}/history").text)


def test_line_breaks_from_a_browser_textarea_are_stored_as_typed(cataloguer, samples):
    action, values = edit_form(cataloguer, "yingmeian-yiyu")
    values["edition.notes"] = ["第一行\r\n第二行"]  # browsers submit textarea line breaks as CRLF
    values["reason"] = ["补附注"]
    assert cataloguer.post(action, data=values, follow_redirects=False).status_code == 303
    assert samples.get("yingmeian-yiyu").card["edition"]["notes"] == "第一行\n第二行"
    action, values = edit_form(cataloguer, "yingmeian-yiyu")
    values["edition.notes"] = [values["edition.notes"][0].replace("\n", "\r\n")]
    values["reason"] = ["再存一次"]
    assert "没有改动任何字段" in cataloguer.post(action, data=values).text


def test_malformed_edit_forms_are_refused_with_a_message(cataloguer, samples):
    action, values = edit_form(cataloguer)
    values["reason"] = ["x"]
    stale_base = cataloguer.post(action, data={**values, "base_version": ["99"]})
    assert stale_base.status_code == 400 and "基于版本" in stale_base.text
    checked = cataloguer.post("/staff/api/check", data={**values, "base_version": ["99"]})
    assert checked.status_code == 200
    _, new = form_values(cataloguer.get("/staff/cards/new").text, "#card-form")
    new.update({"new_id": ["../etc"], "edition.title": ["某書"], "reason": ["新编"]})
    bad_id = cataloguer.post("/staff/cards/new", data=new)
    assert bad_id.status_code == 422 and "不能用：只能用 1–64 个 ASCII 字母" in bad_id.text
    assert samples.get(CARD).version == 1 and samples.count() == 5
