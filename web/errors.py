"""The app's one exception handler: one answer for every request a route refuses or fails.

* **A GujiError** raised anywhere below a route (no such card, a withdrawn book, a bad query, a
  busy search index …): its kind gives the HTTP status (repository/errors.py). Routes raise; they
  do not translate errors themselves.
* **Bad parameters** (FastAPI's RequestValidationError: `/browse?page=abc`, a job number beyond
  any database integer …): 422, naming each parameter and what it must be.
* **No such address / method** (Starlette's HTTPException from routing).
* **The catalogue database out of reach** (PostgreSQL restarting, the network down, SQLite busy
  past its timeout): 503 with ``Retry-After``, saying the site recovers by itself. Nothing is
  retried here: the engine checks each pooled connection before use, so the first request after
  the database is back is answered normally.
* **Anything unexpected** (a 500): says so without any detail; the traceback goes to the server
  log only, never to the reader.

Programs (the JSON API, IIIF, OAI-PMH's side routes, the staff API) get RFC 9457 problem details,
``application/problem+json``: ``{"type", "title", "status", "detail", …}``, where ``type`` is
``/problems/<kind>`` on this site (a page describing the kind) or ``about:blank`` for a plain HTTP
error, and a refused parameter list is in ``errors``. People get a Chinese page (English with the
language switch), in the staff layout under /staff/ when signed in. OAI-PMH's own error conditions
stay in the protocol's XML (repository/outputs/oai.py). Errors of kinds with a 5xx status
(damaged storage, an unavailable index, a bad setting) show a general note; their message, which
may name server paths, goes to the log.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from guji.repository import GujiError, public_url
from guji.repository.database import DatabaseUnavailable, is_outage, unavailable
from guji.repository.errors import KINDS, kind_of

from . import i18n
from .templating import render

log = logging.getLogger("guji.web")
PROBLEM_JSON = "application/problem+json"
CORS = {"Access-Control-Allow-Origin": "*"}

# Addresses answered with JSON (or XML); every other address is a page for people.
DATA_PREFIXES = ("/api/", "/staff/api/", "/iiif/", "/oai", "/healthz", "/openapi.json", "/viewer/")
VALUE_SHOWN = 40  # characters of a refused value repeated on the page

# pydantic error types → what the value must be ({…} filled from the error's ctx)
PROBLEMS = {
    "int_parsing": "应为整数（0–9 的数字）",
    "int_from_float": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "greater_than_equal": "不能小于 {ge}",
    "greater_than": "应大于 {gt}",
    "less_than_equal": "不能大于 {le}",
    "less_than": "应小于 {lt}",
    "string_too_long": "最多 {max_length} 个字符",
    "string_too_short": "至少 {min_length} 个字符",
    "missing": "缺少这个参数",
}


def wants_data(request: Request) -> bool:
    """True for the JSON API, IIIF, OAI-PMH and other addresses programs read."""
    path = request.url.path
    return path.startswith(DATA_PREFIXES) or path == "/oai"


def _shown(value) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = "".join(char if char.isprintable() else "�" for char in text)
    return text if len(text) <= VALUE_SHOWN else text[:VALUE_SHOWN] + "…"


def parameter_problems(error: RequestValidationError) -> list[dict]:
    """Each refused parameter: its name, the value given and what it must be (interface text with
    `{placeholders}` from `context`, so the page can translate it)."""
    problems = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        name = ".".join(location[1:]) if len(location) > 1 else ".".join(location)
        context = {key: value for key, value in (item.get("ctx") or {}).items() if isinstance(value, int | float | str)}
        must = PROBLEMS.get(item.get("type", ""), "值无效")
        try:
            must.format(**context)
        except (KeyError, IndexError):
            must, context = "值无效", {}
        value = "" if item.get("type") == "missing" else _shown(item.get("input", ""))
        problems.append({"name": name, "value": value, "must": must, "context": context})
    return problems


def page(request: Request, status: int, title: str, message: str, *, values: dict | None = None,
         problems: list[dict] | None = None):
    """The error page: staff layout for a signed-in staff member under /staff/, public layout otherwise."""
    context = {"status": status, "title": title, "message": message, "values": values or {},
               "problems": problems or []}
    if request.url.path.startswith("/staff/") and getattr(request.state, "guard", None) is not None \
            and getattr(request.state, "staff_user", None) is not None:
        from .staff.common import staff_render

        return staff_render(request, "staff/refused.html", context, status_code=status)
    return render(request, "error.html", context, status_code=status)


TITLES = {400: "请求有误", 403: "没有权限", 404: "未找到", 405: "不支持此操作", 409: "冲突", 410: "已撤销",
          413: "内容过大", 415: "不支持的文件类型", 422: "参数有误", 429: "请求过于频繁", 500: "服务器出错",
          503: "暂不可用"}
TITLES_ENGLISH = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Method not allowed", 409: "Conflict",
                  410: "Gone", 413: "Content too large", 415: "Unsupported media type", 422: "Unprocessable content",
                  429: "Too many requests", 500: "Internal server error", 503: "Service unavailable"}
# What a person reads for an error of a 5xx kind (the message itself goes to the log)
SERVER_SIDE = {
    "damaged": "存储的数据有损坏，无法读取；已记入服务器日志，请告知管理员（guji fixity 可查明）",
    "unavailable": "这项服务暂时不可用，请稍后再试；原因已记入服务器日志",
}
SERVER_ERROR = "服务器处理这个请求时出错，请稍后再试；问题已记入服务器日志"


def problem_type(slug: str | None) -> str:
    return f"{public_url()}/problems/{slug}" if slug else "about:blank"


def problem_response(status: int, detail: str, *, title: str | None = None, slug: str | None = None,
                     headers: dict | None = None, cors: bool = False, **extensions) -> JSONResponse:
    """RFC 9457 problem details (`extensions`: further members, e.g. `errors`, `parameter`)."""
    body = {"type": problem_type(slug), "title": title or f"{TITLES.get(status, '无法完成')} "
            f"({TITLES_ENGLISH.get(status, 'Error')})", "status": status, "detail": detail, **extensions}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON,
                        headers={**(CORS if cors else {}), **(headers or {})})


def _cors(request: Request) -> bool:
    return request.url.path.startswith("/iiif/")  # viewers on other sites read IIIF answers, errors too


async def guji_error(request: Request, error: GujiError):
    """A GujiError raised by a route: its kind decides the status, the title and what is shown."""
    kind = kind_of(error)
    status = error.status
    english = i18n.language_of(request) == "en"
    headers = {"Retry-After": "60"} if status == 503 else {}
    if status >= 500:
        log.error("%s %s: %s: %s", request.method, request.url.path, type(error).__name__, error)
    if not error.public:  # damaged storage, the index, a setting: the message may name server paths
        shown = SERVER_SIDE.get(kind.slug, SERVER_ERROR)
    else:
        shown = error.english if english and error.english else str(error)
    if wants_data(request):
        extensions = {"detail_en": error.english} if error.english and error.public else {}
        extensions.update(error.extensions if error.public else {})
        return problem_response(status, shown, title=f"{kind.title} ({kind.title_english})", slug=kind.slug,
                                headers=headers, cors=_cors(request), **extensions)
    response = page(request, status, kind.title_english if english else kind.title, shown)
    response.headers.update(headers)
    return response


async def validation_error(request: Request, error: RequestValidationError):
    problems = parameter_problems(error)
    if wants_data(request):
        listed = [{"name": item["name"], "value": item["value"], "must": item["must"].format(**item["context"]),
                   "loc": list(raw.get("loc", ()))} for item, raw in zip(problems, error.errors(), strict=True)]
        detail = "；".join(f"{item['name']}：{item['must']}" for item in listed)
        return problem_response(422, f"参数有误：{detail}", errors=listed, cors=_cors(request))
    return page(request, 422, TITLES[422], "地址或表单中的参数有误，请改正后重试：", problems=problems)


async def http_error(request: Request, error: StarletteHTTPException):
    if error.status_code < 400:
        return JSONResponse({"detail": error.detail}, status_code=error.status_code, headers=error.headers)
    if wants_data(request):
        return problem_response(error.status_code, str(error.detail), headers=error.headers, cors=_cors(request))
    if error.status_code == 404:
        message = "没有这个页面：请检查地址，或从首页、浏览和检索找到所需的藏品"
    elif error.status_code == 405:
        message = "这个地址不接受此类请求"
    else:
        message = "无法完成这个请求"
    response = page(request, error.status_code, TITLES.get(error.status_code, "无法完成"), message)
    response.headers.update(getattr(error, "headers", None) or {})
    return response


RETRY_AFTER_SECONDS = "30"
DATABASE_DOWN = "目录数据库暂时无法连接：网站会在它恢复后自动恢复，请稍后再试"


async def database_unavailable(request: Request, error: Exception):
    """503 while the catalogue database is out of reach; one line in the log (no traceback)."""
    catalogue = getattr(request.app.state, "catalogue", None)
    log.warning("503 %s: %s", request.url.path, unavailable(error, catalogue.engine.url if catalogue else ""))
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if wants_data(request):
        return problem_response(503, f"catalogue database unavailable, retry later ({DATABASE_DOWN})",
                                slug="unavailable", headers=headers, cors=_cors(request))
    response = page(request, 503, TITLES[503], DATABASE_DOWN)
    response.headers.update(headers)
    return response


async def server_error(request: Request, error: Exception):
    """A 500: the log gets the traceback (Starlette re-raises after this answer), the reader a plain note."""
    if is_outage(error):  # raised outside a route (middleware): the same 503
        return await database_unavailable(request, error)
    if wants_data(request):
        return problem_response(500, "internal error: the server log has the details (服务器内部错误)",
                                cors=_cors(request))
    return render(request, "error.html", {"status": 500, "title": TITLES[500], "values": {}, "problems": [],
                                          "message": SERVER_ERROR}, status_code=500)


def problem_page(request: Request, slug: str):
    """/problems/<kind>: what a problem type of the JSON API means (the `type` of its problem details)."""
    kind = next((kind for kind in KINDS if kind.slug == slug), None)
    if kind is None:
        raise StarletteHTTPException(404)
    return render(request, "problem.html", {"kind": kind, "kinds": KINDS})


def install(app: FastAPI) -> None:
    app.add_exception_handler(GujiError, guji_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for outage in (OperationalError, InterfaceError, DatabaseUnavailable):
        app.add_exception_handler(outage, database_unavailable)
    app.add_exception_handler(Exception, server_error)
    app.add_api_route("/problems/{slug}", problem_page, methods=["GET"], include_in_schema=False)
