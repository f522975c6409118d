"""`guji worker` (assembled in web/cli.py): take jobs from the shared job queue (docs/scale-out.md)."""

from __future__ import annotations

import dataclasses

import typer

from guji.repository.cli import home_of, settings_of

commands = typer.Typer()


@commands.command()
def worker(
    ctx: typer.Context,
    burst: bool = typer.Option(False, "--burst", help="队列空了就停止。"),
    name: str = typer.Option(None, "--name", help="在队列中的名称（默认：随机生成）。"),
) -> None:
    """从共享任务队列领取入藏、OCR、重建切片和打印导卡任务。

    队列由 GUJI_QUEUE 指定；每次领取一页或一项。

    每台工作机每个核运行一个，都连到同一个目录数据库和存储：存储根在本地时共享数据目录，
    在对象存储中时共享 GUJI_INCOMING 和 GUJI_BUILD_DIR（见 docs/scale-out.md）。
    Redis 重启时等它恢复，手头的任务照常做完。Ctrl-C 或 SIGTERM：做完手头的任务再退出。"""
    from guji.repository import Catalogue
    from guji.repository.errors import InvalidInput, NotFound
    from guji.repository.job_queue import run_worker, shown_url
    from guji.repository.settings import use

    settings = settings_of(ctx)
    if not settings.queue_url:
        raise InvalidInput("没有设置任务队列：请把 GUJI_QUEUE 设为 Redis 地址（如 redis://队列主机:6379/0），"
                           "见 docs/scale-out.md")
    home = home_of(ctx)
    if not home.exists():
        raise NotFound(f"没有 Guji 数据目录 {home.root}：请先运行 guji init，或设置 GUJI_HOME")
    Catalogue.open(home, settings=settings).close()  # the database reachable, at the newest revision
    use(dataclasses.replace(settings, home=home.root))  # the jobs' settings: forked work horses inherit them
    # the steps' modules imported once here, not in every work horse (~50 ms CPU each). Safe to fork
    # after: importing pyvips initialises libvips, which starts no thread until it processes an image
    # — which only the horses do
    import pyvips  # noqa: F401

    import guji.ingest.page_jobs  # noqa: F401
    import guji.repository.outputs.print_jobs  # noqa: F401
    import guji.web.staff.queued_jobs  # noqa: F401

    typer.echo(f"任务队列 {shown_url(settings.queue_url)}：等待任务（Ctrl-C 停止）", err=True)
    try:
        run_worker(settings.queue_url, settings.worker_heartbeat, burst=burst, name=name)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
