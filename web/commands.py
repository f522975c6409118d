"""`guji serve` (assembled in web/cli.py)."""

from __future__ import annotations

import inspect
import os
import signal
import sys

import typer

from guji.repository.cli import home_of, settings_of

SERVE_PID = "GUJI_SERVE_PID"  # the `guji serve` process, for its uvicorn workers


def worker_app():
    """The app as uvicorn builds it in each worker: a worker process ends with `guji serve`."""
    from guji.repository.process_tree import die_with_parent
    from guji.repository.settings import Settings, use

    from .app import create_app

    serve_pid = int(os.environ.get(SERVE_PID) or 0)
    if serve_pid and serve_pid != os.getpid():  # a worker process (with --workers 1 the app runs in serve itself)
        die_with_parent(serve_pid, signal.SIGTERM)  # SIGTERM: uvicorn finishes the requests in flight
    settings = Settings.from_environ()  # the worker's settings, read once (`guji serve` checked them already)
    use(settings)
    return create_app(settings=settings)


def _exit_on_sigterm(signum, frame) -> None:
    # uvicorn (one worker, in this process) shuts down on SIGTERM and then raises it again; end with
    # an exception rather than the default action, so that the indexer is stopped below.
    raise SystemExit(128 + signum)


commands = typer.Typer()


@commands.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="监听地址。"),
    port: int = typer.Option(8000, help="监听端口。"),
    workers: int = typer.Option(2, help="Uvicorn 工作进程数。"),
    indexer: bool = typer.Option(True, "--indexer/--no-indexer", help="同时运行检索索引进程。"),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="记录每个请求的访问日志。"),
) -> None:
    """运行网站和 API 服务。"""
    import uvicorn

    from guji.repository import Catalogue
    from guji.repository.config import SERVED_URL
    from guji.repository.errors import NotFound
    from guji.repository.process_tree import Child, stop_child

    from . import public_address
    from .staff.guard import session_key

    home = home_of(ctx)
    if not home.exists():
        raise NotFound(f"没有 Guji 数据目录 {home.root}：请先运行 guji init")
    # the database reachable and at the newest schema revision, and the key that signs staff
    # cookies readable (GUJI_SESSION_KEY_FILE), before any worker starts
    Catalogue.open(home, settings=settings_of(ctx)).close()
    session_key(home, settings_of(ctx))
    # Workers are separate processes: they find the data home through the environment.
    os.environ["GUJI_HOME"] = str(home.root)
    os.environ[SERVE_PID] = str(os.getpid())
    # without GUJI_PUBLIC_URL, the URLs the site writes start with the address it listens at
    os.environ[SERVED_URL] = public_address.served_url(host, port)
    for line in public_address.startup_lines(host, os.environ[SERVED_URL]):
        typer.echo(line)
    options = {}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # a worker on a busy machine may need more than uvicorn's 5 s to start the app
        options["timeout_worker_healthcheck"] = 60
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The search index has one writer: the indexer, run beside the (read-only) web workers. It
    # ends with this process even when this process is killed (its lifeline, see process_tree).
    side = Child([sys.executable, "-m", "guji.web.cli", "indexer"]) if indexer else None
    try:
        # proxy_headers=False: uvicorn would believe X-Forwarded-For from 127.0.0.1 whoever sent it;
        # the app believes it from GUJI_TRUSTED_PROXIES only (web/proxies.py)
        uvicorn.run("guji.web.commands:worker_app", factory=True, host=host, port=port, workers=workers,
                    access_log=access_log, proxy_headers=False, **options)
    finally:
        if side is not None:
            stop_child(side)
