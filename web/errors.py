"""One answer for every request the app refuses before (or instead of) a route's own page.

* **Bad parameters** (FastAPI's RequestValidationError: `/browse?page=abc`, a job number beyond
  any database integer …): pages answer with a Chinese page naming the parameter and what it
  must be; the JSON API, IIIF and OAI keep FastAPI's JSON (`{"detail": [...]}`, 422).
* **No such address / method** (Starlette's HTTPException from routing): pages get the same
  page, JSON routes the usual `{"detail": …}`.
* **The catalogue database out of reach** (PostgreSQL restarting, the network down, SQLite busy
  past its timeout): 503 with ``Retry-After``, a page saying the site recovers by itself (JSON for
  data addresses). Nothing is retried here: the engine checks each pooled connection before use,
  so the first request after the database is back is answered normally.
* **Anything unexpected** (a 500): a page or JSON that says so without any detail; the traceback
  goes to the server log only, never to the reader.

Staff pages (under /staff/, signed in) are shown in the staff layout.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from repository.database import DatabaseUnavailable, is_outage, unavailable

from .templating import render

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


TITLES = {400: "请求有误", 404: "未找到", 405: "不支持此操作", 410: "已撤销", 413: "内容过大", 422: "参数有误",
          429: "请求过于频繁", 500: "服务器出错", 503: "暂不可用"}


async def validation_error(request: Request, error: RequestValidationError):
    if wants_data(request):
        return await request_validation_exception_handler(request, error)
    return page(request, 422, TITLES[422], "地址或表单中的参数有误，请改正后重试：", problems=parameter_problems(error))


async def http_error(request: Request, error: StarletteHTTPException):
    if wants_data(request) or error.status_code < 400:
        return await http_exception_handler(request, error)
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
log = logging.getLogger("guji.web")


async def database_unavailable(request: Request, error: Exception):
    """503 while the catalogue database is out of reach; one line in the log (no traceback)."""
    catalogue = getattr(request.app.state, "catalogue", None)
    log.warning("503 %s: %s", request.url.path, unavailable(error, catalogue.engine.url if catalogue else ""))
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if wants_data(request):
        return JSONResponse({"detail": f"catalogue database unavailable, retry later ({DATABASE_DOWN})"},
                            status_code=503, headers=headers)
    response = render(request, "error.html", {"status": 503, "title": TITLES[503], "values": {}, "problems": [],
                                              "message": DATABASE_DOWN}, status_code=503)
    response.headers.update(headers)
    return response


async def server_error(request: Request, error: Exception):
    """A 500: the log gets the traceback (Starlette re-raises after this answer), the reader a plain note."""
    if is_outage(error):  # raised outside a route (middleware): the same 503
        return await database_unavailable(request, error)
    if wants_data(request):
        return JSONResponse({"detail": "internal error: the server log has the details (服务器内部错误)"},
                            status_code=500)
    return render(request, "error.html", {"status": 500, "title": TITLES[500], "values": {}, "problems": [],
                                          "message": "服务器处理这个请求时出错，请稍后再试；问题已记入服务器日志"},
                  status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for outage in (OperationalError, InterfaceError, DatabaseUnavailable):
        app.add_exception_handler(outage, database_unavailable)
    app.add_exception_handler(Exception, server_error)
