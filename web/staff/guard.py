"""Who may use the staff workspace: signed session cookies, CSRF tokens, roles.

Every route of the staff router is a :class:`StaffRoute`, which checks — before the route's own
code runs — that the request carries a valid session of an enabled user (only the sign-in page
is open) and, for every POST, a valid CSRF token. So a new staff route cannot forget either.

* The session cookie (HttpOnly, SameSite=Lax, path /staff, Secure when the public URL is https)
  carries a random token, signed with itsdangerous; the session itself is a row of the catalogue
  DB (:mod:`web.staff.sessions`), so sign-out, a new password or a disabled account end it in
  every worker process and on every node at once. The signing key is kept in the data home
  (``secrets/session.key``, mode 0600), shared by all worker processes, or — several web nodes —
  in the one file ``GUJI_SESSION_KEY_FILE`` names on every node. A session ends after
  :data:`~web.staff.sessions.IDLE_LIMIT` without use.
* The CSRF token is an HMAC of the user's name and password hash (before sign-in: of a random
  nonce in the session): every form carries it, and it stays valid when a session is renewed by
  signing in again in another tab, so a form being edited is never lost to an expired session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute
from itsdangerous import BadSignature, URLSafeTimedSerializer

from guji.repository import Damaged, Forbidden, Home, SettingError, public_url
from guji.repository.settings import Settings, current

from ..errors import problem_response
from ..params import whole_number
from ..proxies import client_address
from ..templating import render
from .accounts import Accounts, StaffUser
from .sessions import IDLE_LIMIT, StaffSessions

COOKIE = "guji_staff"
COOKIE_PATH = "/staff"
OPEN_PATHS = {"/staff/login"}  # reachable without a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


KEY_LENGTH = 32  # characters at least in a configured key file (a made key: 64 hex digits, 256 bits)


def session_key(home: Home, settings: Settings | None = None) -> bytes:
    """The key that signs staff cookies and forms. With ``GUJI_SESSION_KEY_FILE`` (several web nodes:
    every node must sign with the same key) it is read from that file, which must exist; otherwise it
    is the data home's, created on first use (readable by its owner only)."""
    configured = (settings or current()).session_key_file
    if configured is not None:
        return _configured_key(configured)
    path = home.root / "secrets" / "session.key"
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it first
        else:
            with os.fdopen(descriptor, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
    for _ in range(500):  # another worker may be writing it this very moment
        key = Path(path).read_text().strip()
        if key:
            return key.encode()
        time.sleep(0.01)
    raise Damaged(f"{path} is empty: delete it and start again (a new key signs everybody out)")


def _configured_key(path: Path) -> bytes:
    """The key in the file GUJI_SESSION_KEY_FILE names; never made here (a node that made its own key
    would sign cookies no other node accepts)."""
    named = f"设置 GUJI_SESSION_KEY_FILE 指向的文件 {path}"
    make = ("可以这样生成，再把同一个文件复制到每个网站节点："
            "python3 -c 'import secrets; print(secrets.token_hex(32))' > 文件")
    try:
        with open(path, "rb") as file:
            key = file.read(4097).strip()
    except FileNotFoundError:
        raise SettingError(f"{named}不存在；{make}", english=f"GUJI_SESSION_KEY_FILE: {path} does not exist") from None
    except OSError as error:
        raise SettingError(f"{named}无法读取（{error.strerror}）：请让运行 Guji 的用户能读它",
                           english=f"GUJI_SESSION_KEY_FILE: {path} cannot be read") from None
    if not KEY_LENGTH <= len(key) <= 4096 or not all(33 <= byte < 127 for byte in key):
        raise SettingError(f"{named}应只有一行密钥：至少 {KEY_LENGTH} 个字母、数字或符号；{make}",
                           english=f"GUJI_SESSION_KEY_FILE: {path} holds no usable key")
    return key


class Guard:
    """Sessions and CSRF for one data home."""

    def __init__(self, home: Home, accounts: Accounts):
        self.accounts = accounts
        self.sessions = StaffSessions(accounts.catalogue)
        self.key = session_key(home, accounts.catalogue.settings)
        self.serializer = URLSafeTimedSerializer(self.key, salt="guji-staff-session")
        self.secure = public_url().startswith("https://")

    # ---- the cookie ----------------------------------------------------------------------

    def read(self, request: Request) -> dict:
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return {}
        try:
            data = self.serializer.loads(cookie, max_age=int(IDLE_LIMIT.total_seconds()))
        except BadSignature:  # also SignatureExpired
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, response: Response, data: dict) -> None:
        response.set_cookie(COOKIE, self.serializer.dumps(data), max_age=int(IDLE_LIMIT.total_seconds()),
                            path=COOKIE_PATH, httponly=True, samesite="lax", secure=self.secure)

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=self.secure)

    def sign_in(self, request: Request, response: Response, user: StaffUser) -> None:
        """Start a session for `user` (a new one, also when the browser had one: no session fixation)."""
        self.write(response, {"session": self.sessions.start(user, client_address(request))})

    def sign_out(self, request: Request, response: Response) -> None:
        token = self.read(request).get("session")
        if isinstance(token, str):
            self.sessions.end(token)
        self.clear(response)

    def user_of(self, request: Request) -> StaffUser | None:
        """The user of the request's open session (None: not signed in). When the session's expiry
        moved on, `request.state.renew_cookie` says to send the cookie again with a fresh max-age."""
        token = self.read(request).get("session")
        found = self.sessions.find(token) if isinstance(token, str) else None
        request.state.renew_cookie = bool(found and found.renewed)
        return found.user if found else None

    def anonymous_nonce(self, request: Request) -> str | None:
        nonce = self.read(request).get("nonce")
        return nonce if isinstance(nonce, str) else None

    # ---- CSRF ----------------------------------------------------------------------------

    def csrf_token(self, user: StaffUser | None = None, nonce: str | None = None) -> str:
        subject = f"user|{user.name}|{user.password_hash}" if user else f"anon|{nonce}"
        return hmac.new(self.key, f"csrf|{subject}".encode(), hashlib.sha256).hexdigest()

    async def csrf_ok(self, request: Request, user: StaffUser | None) -> bool:
        sent = request.headers.get(CSRF_HEADER)
        if not sent:
            content_type = request.headers.get("content-type", "")
            if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
                sent = (await request.form()).get(CSRF_FIELD)
        if not isinstance(sent, str) or not sent:
            return False
        if user is not None:
            expected = self.csrf_token(user)
        else:
            nonce = self.anonymous_nonce(request)
            if not nonce:
                return False
            expected = self.csrf_token(nonce=nonce)
        return hmac.compare_digest(sent, expected)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/staff/api/")


def login_redirect(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/staff/login?next={quote(here)}", status_code=303)


class StaffRoute(APIRoute):
    """The route class of every staff router: sign-in and CSRF are checked before the route's own code.
    The app's :class:`Guard` and its upload limit (GUJI_UPLOAD_LIMIT_MB, the largest request body
    accepted) are in ``app.state`` (web/staff/workspace.py puts the guard there)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            guard: Guard = request.app.state.guard
            upload_limit = request.app.state.settings.upload_limit
            open_route = request.url.path in OPEN_PATHS
            user = guard.user_of(request)
            request.state.staff_user = user
            request.state.guard = guard
            if user is None and not open_route:
                if is_api(request):
                    return problem_response(401, "请先登录 (sign in first)")
                return login_redirect(request)
            if request.method not in SAFE_METHODS:
                if not await _body_within(request, upload_limit):
                    return _refuse(request, 413, "上传内容过大：上限 {limit} MB",
                                   limit=upload_limit // (1024 * 1024))
                if not await guard.csrf_ok(request, user):
                    return _refuse(request, 403, "表单已失效（CSRF 校验失败）：请刷新页面后重试")
            response = await handler(request)  # a GujiError (Forbidden …): the app's error handler
            if request.state.renew_cookie and COOKIE not in response.headers.get("set-cookie", ""):
                guard.write(response, guard.read(request))  # the same session, with a fresh max-age
            return response

        return guarded


async def _body_within(request: Request, limit: int) -> bool:
    """Refuse bodies over `limit` before parsing them: by Content-Length, or — for a chunked
    body — by reading at most `limit` bytes (kept on the request for the form parser)."""
    length = request.headers.get("content-length")
    if length is not None:
        size = whole_number(length)
        return size is not None and size <= limit
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return False
    request._body = bytes(body)  # Starlette reads a cached body instead of the consumed stream
    return True


def _refuse(request: Request, status: int, message: str, **values) -> Response:
    if is_api(request):
        return problem_response(status, message.format(**values))
    return render(request, "staff/refused.html", {"status": status, "message": message, "values": values},
                  status_code=status)


async def require_admin(request: Request) -> StaffUser:
    """A dependency for admin-only routes (raises Forbidden, shown as a 403 page)."""
    user: StaffUser | None = request.state.staff_user
    if user is None or not user.is_admin:
        raise Forbidden("此功能仅限管理员使用")
    return user


async def current_user(request: Request) -> StaffUser:
    """The signed-in user (the route class has already refused requests without one)."""
    return request.state.staff_user


async def guard_of(request: Request) -> Guard:
    """The app's guard (sessions and CSRF of its data home)."""
    return request.app.state.guard


async def accounts_of(request: Request) -> Accounts:
    """The staff accounts of the app's data home."""
    return request.app.state.guard.accounts


# What a staff route asks for (`user: UserDep`); async, so FastAPI calls them in the event loop.
UserDep = Annotated[StaffUser, Depends(current_user)]
AdminDep = Annotated[StaffUser, Depends(require_admin)]
GuardDep = Annotated[Guard, Depends(guard_of)]
AccountsDep = Annotated[Accounts, Depends(accounts_of)]


def csrf_for(request: Request) -> str:
    guard: Guard = request.state.guard
    user = request.state.staff_user
    return guard.csrf_token(user) if user else guard.csrf_token(nonce=guard.anonymous_nonce(request) or "")
