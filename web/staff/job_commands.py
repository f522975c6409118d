"""`guji jobs list | wait` (assembled in web/cli.py): the jobs of the staff jobs page, from a shell —
what an IT person needs after stopping a waiting `guji tiles rebuild` or `guji cards print`, or to
see what the workers of the shared queue are doing."""

from __future__ import annotations

import typer
from rich.table import Table

from guji.repository.cli import console, open_catalogue

from ..params import DB_INT_MAX

commands = typer.Typer()

jobs_app = typer.Typer(help="任务（入藏、文字识别、重建切片、打印导卡）：列出、等待。", no_args_is_help=True)
commands.add_typer(jobs_app, name="jobs")

STATUS_LABELS = {"queued": "排队中", "running": "进行中", "done": "完成", "failed": "失败"}
UNITS = {"ingest": "页", "ocr": "页", "tiles": "页", "print": "张"}


def follow_page(kind: str, job_id: int) -> str:
    """The staff page that follows a job (a print job's offers its PDF)."""
    return f"/staff/outputs/jobs/{job_id}" if kind == "print" else f"/staff/ingest/{job_id}"


@jobs_app.command("list")
def list_jobs(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="列出最近的多少项。"),
    active: bool = typer.Option(False, "--active", help="只列排队中和进行中的。"),
) -> None:
    """列出最近的任务：编号、种类、对象、状态、进度、发起人、时间（北京时间）。"""
    from guji.repository.local_time import format_time

    from .jobs import ACTIVE, KIND_LABELS, jobs, source_text

    with open_catalogue(ctx) as catalogue:
        rows = [row for row in jobs(catalogue, limit) if not active or row.status in ACTIVE]
    if not rows:
        console.print("没有" + ("排队中或进行中的" if active else "") + "任务", highlight=False)
        return
    table = Table("编号", "种类", "对象", "内容", "状态", "进度", "发起人", "开始", box=None, header_style="bold")
    for row in rows:
        progress = f"{row.done} / {row.total}" if row.total else ""
        table.add_row(f"#{row.id}", KIND_LABELS.get(row.kind, row.kind), row.object_id or "全部", source_text(row),
                      STATUS_LABELS.get(row.status, row.status), progress, row.actor, format_time(row.created))
    console.print(table)


@jobs_app.command("wait")
def wait_job(
    ctx: typer.Context,
    job_id: int = typer.Argument(..., min=1, max=DB_INT_MAX, help="任务编号（见 guji jobs list）。"),
) -> None:
    """等一项任务完成，显示进度；失败时显示原因，退出码同该错误的种类。

    Ctrl-C 只停止等待，任务照常进行。"""
    from guji.repository.errors import NotFound
    from guji.repository.job_records import wait

    from .jobs import KIND_LABELS, job

    with open_catalogue(ctx) as catalogue:
        row = job(catalogue, job_id)  # a job its process or queue lost is marked failed first
        if row is None:
            raise NotFound(f"没有任务 #{job_id}：用 guji jobs list 查看任务编号")
        label = KIND_LABELS.get(row.kind, row.kind)
        row = wait(catalogue, job_id, f"{label}（任务 #{job_id}）", UNITS.get(row.kind, "项"),
                   follow_page(row.kind, job_id))
        console.print(f"任务 #{job_id}（{label}）已完成：{row.message}", highlight=False, markup=False)
