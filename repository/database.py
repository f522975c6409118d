"""The catalogue database's engine: SQLite in the data home by default, PostgreSQL for larger sites.

`GUJI_DATABASE_URL` chooses it (read by :attr:`repository.config.Home.database_url`), e.g.
``postgresql+psycopg://guji:secret@db.example:5432/guji``. Both run the same SQLAlchemy models
and the same Alembic migrations (:mod:`repository.migrations`).

Whatever goes wrong reaching the database — a URL that cannot be read, a driver Guji does not
support, a server that does not answer, a wrong password, a database that does not exist, a server
that went away mid-request — becomes one :class:`DatabaseUnavailable` whose Chinese message names
the setting and shows the URL without its password.
"""

from __future__ import annotations

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, NoSuchModuleError, OperationalError

from .errors import Unavailable

SETTING = "GUJI_DATABASE_URL"
SUPPORTED = ("sqlite", "postgresql")
CONNECT_TIMEOUT_SECONDS = 10  # libpq waits forever for a host that drops packets


class DatabaseUnavailable(Unavailable):
    """The catalogue database cannot be used (bad setting, server down, wrong credentials …).
    Nothing was written; the web site answers 503 while it lasts (web/errors.py)."""


def shown_url(url: str | URL) -> str:
    """The URL as it may be printed: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "（无法识别的地址）"


def make_engine(url: str) -> Engine:
    """An engine for `url`; raises DatabaseUnavailable naming the setting when it cannot be read."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"{SETTING} 无法识别：应形如 postgresql+psycopg://用户名:密码@主机:5432/数据库名"
            "（不设置则使用数据目录中的 SQLite）") from None
    if parsed.get_backend_name() not in SUPPORTED:
        raise DatabaseUnavailable(
            f"{SETTING}（{shown_url(parsed)}）的数据库类型「{parsed.get_backend_name()}」不受支持："
            "请用 postgresql+psycopg://… 或 sqlite:///…")
    options: dict = {}
    if parsed.get_backend_name() == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise DatabaseUnavailable(
                f"{SETTING}（{shown_url(parsed)}）应以 postgresql+psycopg:// 开头（Guji 使用 psycopg 3 驱动）")
        # a connection the server dropped (restart, failover) is noticed and replaced before use
        options.update(pool_pre_ping=True, pool_recycle=3600)
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, NoSuchModuleError, ImportError, TypeError, ValueError) as error:
        raise DatabaseUnavailable(f"{SETTING}（{shown_url(parsed)}）无法使用：{_first_line(error)}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "before_cursor_execute", _without_nul, retval=True)
    return engine


def _without_nul(_connection, _cursor, statement, parameters, _context, executemany):
    """PostgreSQL's text cannot hold U+0000, not even as a query's parameter: a search, a sign-in name
    or a form field carrying one would fail the request. It is sent as U+FFFD instead (as the
    projection stores it on SQLite too, see catalogue_db.fitted)."""
    # executemany: a list of rows — except for SQLAlchemy's "insertmanyvalues" batches, which arrive as
    # one mapping of numbered parameters (several events added in one transaction)
    if executemany and isinstance(parameters, list | tuple):
        return statement, [_replace_nul(each) for each in parameters]
    return statement, _replace_nul(parameters)


def _replace_nul(parameters):
    if isinstance(parameters, dict):
        if any(isinstance(value, str) and "\0" in value for value in parameters.values()):
            return {key: value.replace("\0", "\ufffd") if isinstance(value, str) else value
                    for key, value in parameters.items()}
    elif isinstance(parameters, list | tuple):
        if any(isinstance(value, str) and "\0" in value for value in parameters):
            return type(parameters)(value.replace("\0", "\ufffd") if isinstance(value, str) else value
                                    for value in parameters)
    return parameters


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
    cursor = dbapi_connection.cursor()
    # the wait first: switching a new file to WAL takes a lock that other processes opening it hold
    # too (sqlite3's own 5 s wait ran out on a loaded machine when three processes opened at once)
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def is_outage(error: BaseException) -> bool:
    """An error of reaching the database (rather than of a statement Guji sent)."""
    if isinstance(error, DatabaseUnavailable | OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


# libpq's and SQLite's words for why a connection failed → what to tell the person
_REASONS = (
    (("password authentication failed", "no password supplied", "authentication failed"),
     "用户名或密码不对：请核对 {setting} 中的用户名和密码"),
    (("does not exist",), "{detail}：请先创建（见 docs/scale-out.md「PostgreSQL」），或改正 {setting}"),
    (("could not translate host name", "name or service not known", "temporary failure in name resolution"),
     "找不到主机「{host}」：请核对 {setting} 中的主机名"),
    (("connection refused",), "主机 {host} 的端口 {port} 拒绝连接：PostgreSQL 没有启动，或端口不对"),
    (("timeout expired", "timed out", "no route to host", "network is unreachable"),
     "连接主机 {host} 超时：请确认服务器已启动、网络可达"),
    (("server closed the connection", "terminating connection", "the database system is shutting down",
      "the database system is starting up", "connection is lost", "consuming input failed",
      "connection already closed", "the connection is closed"),
     "数据库服务器断开了连接（可能正在重启）：稍后会自动重连"),
    (("unable to open database file",), "打不开 SQLite 数据库文件：请确认数据目录存在且可写"),
    (("database is locked",), "SQLite 数据库正忙（另一个进程长时间占用）：请稍后重试"),
)


def unavailable(error: BaseException, url: str | URL) -> DatabaseUnavailable:
    """The Chinese message for an error reaching the database at `url` (never with its password)."""
    if isinstance(error, DatabaseUnavailable):
        return error
    original = getattr(error, "orig", None) or error
    detail = _first_line(original)
    try:
        parsed = make_url(url)
        host, port = parsed.host or "localhost", parsed.port or 5432
    except ArgumentError:
        host, port = "?", "?"
    lowered = detail.lower()
    for needles, message in _REASONS:
        if any(needle in lowered for needle in needles):
            reason = message.format(setting=SETTING, host=host, port=port, detail=_quoted_missing(detail))
            break
    else:
        reason = detail or type(original).__name__
    return DatabaseUnavailable(f"目录数据库无法使用（{SETTING} = {shown_url(url)}）：{reason}")


def _quoted_missing(detail: str) -> str:
    """`database "guji" does not exist` → 数据库「guji」不存在 (and the same for a role)."""
    for english, chinese in (("database", "数据库"), ("role", "用户")):
        marker = f'{english} "'
        if marker in detail:
            name = detail.split(marker, 1)[1].split('"', 1)[0]
            return f"{chinese}「{name}」不存在"
    return detail


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("(Background on this error", "[SQL:", "[parameters:")):
            # libpq prefixes "connection to server at "host" (addr), port N failed: FATAL:  …"
            return line.split("FATAL:", 1)[-1].strip() if "FATAL:" in line else line
    return ""
