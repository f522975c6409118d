"""`guji ingest`, `guji watch` and `guji tiles rebuild` (assembled in web/cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from guji.repository.cli import EditorOption, WorkersOption, console, editor_of, open_catalogue, progress, warn

PixelLimitOption = typer.Option(300, "--pixel-limit", min=1, help="拒收大于此值的页（百万像素）。")


commands = typer.Typer()

tiles_app = typer.Typer(help="IIIF 切片等衍生影像：重建。", no_args_is_help=True)
commands.add_typer(tiles_app, name="tiles")


@commands.command()
def ingest(
    ctx: typer.Context,
    book_dir: Path = typer.Argument(..., help="一部书的扫描影像文件夹（TIFF、JPEG、PNG）。"),
    card_id: str = typer.Option(..., "--id", help="这部书的卡片标识符。"),
    card_file: Path = typer.Option(None, "--card", help="先用这个 JSON 文件建立卡片（该标识符还没有卡片时），"
                                   "如 guji cards export --format json 导出的一张卡片。"),
    replace: bool = typer.Option(False, "--replace", help="以文件夹替换这部书的影像："
                                 "文件夹里没有的已存页删去（旧版本仍保留）。"),
    workers: int = WorkersOption,
    pixel_limit: float = PixelLimitOption,
    skip_existing: bool = typer.Option(False, "--skip-existing", help="这部书已有影像时什么都不做"
                                       "（如向在用的数据目录再次载入示例）。"),
    editor: str = EditorOption,
    ocr: bool = typer.Option(None, "--ocr/--no-ocr", help="入藏后接着 OCR 识别（即 guji ocr；默认："
                             "$GUJI_OCR_ON_INGEST，不识别）。"),
) -> None:
    """入藏一部书的扫描影像，并生成 IIIF 切片。

    影像存为母版，一次入藏是一个 OCFL 版本。"""
    from guji.repository.card_import import read_one_card

    from .pipeline import ingest_book

    editor = editor_of(ctx, editor)
    with open_catalogue(ctx) as catalogue:
        if skip_existing and catalogue.exists(card_id):
            pages = len((catalogue.structure(card_id) or {}).get("pages") or [])
            if pages:
                console.print(f"{card_id}: 已有 {pages} 页影像，保持原样，未重新入藏（--skip-existing）",
                              highlight=False)
                return
        card = read_one_card(card_file) if card_file else None
        with progress(f"入藏 {card_id}") as update:
            report = ingest_book(catalogue, book_dir, card_id, editor, workers=workers,
                                 progress=update, pixel_limit=int(pixel_limit * 1_000_000), card=card,
                                 replace=replace)
        for warning in report.warnings:
            warn(warning)  # file names may hold "[…]": printed as they are
        stored = f"存为第 {report.version} 版" if report.version else "没有新内容要保存"
        console.print(f"{card_id}：{len(report.pages)} 页，生成 {report.built} 页的切片和缩略图，{stored}"
                      f"（{report.seconds:.1f} 秒）", highlight=False)
        console.print(f"报告：{report.path}", highlight=False)
        if ocr if ocr is not None else catalogue.settings.ocr_on_ingest:
            from .ocr_commands import print_report
            from .ocr_run import ocr_book

            with progress(f"文字识别 {card_id}") as update:  # a failure here is told after the scans were stored
                print_report(ocr_book(catalogue, card_id, workers=workers, editor=editor, progress=update))


@commands.command()
def watch(
    ctx: typer.Context,
    incoming: Path = typer.Argument(..., help="待入藏文件夹：每部书一个子文件夹，出现 READY 文件后入藏。"),
    interval: float = typer.Option(10, "--interval", help="查看文件夹的间隔（秒）。"),
    once: bool = typer.Option(False, "--once", help="只查看一次，入藏已就绪的书后停止。"),
    workers: int = WorkersOption,
    pixel_limit: float = PixelLimitOption,
    editor: str = EditorOption,
) -> None:
    """监视待入藏文件夹 INCOMING，书到即入藏。

    子文件夹里出现 READY 文件即入藏，完成后移到 done/ 或 failed/。"""
    from guji.repository.errors import NotFound

    from .watch import watch as watch_folder

    def announce(outcome) -> None:
        colour = "green" if outcome.status == "done" else "red"
        status = {"done": "完成", "failed": "失败"}.get(outcome.status, outcome.status)
        console.print(f"[{colour}]{status}[/{colour}] ", end="")
        console.print(f"{outcome.folder} → {outcome.card_id}: {outcome.message} ({outcome.moved_to})",
                      highlight=False, markup=False)

    editor = editor_of(ctx, editor)
    with open_catalogue(ctx) as catalogue:
        if not incoming.is_dir():
            raise NotFound(f"没有文件夹 {incoming}")
        try:
            outcomes = watch_folder(catalogue, incoming, editor, interval=interval,
                                    once=once, workers=workers, pixel_limit=int(pixel_limit * 1_000_000),
                                    announce=announce)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
    if once and any(outcome.status == "failed" for outcome in outcomes):
        raise typer.Exit(1)


@tiles_app.command("rebuild")
def tiles_rebuild(
    ctx: typer.Context,
    card_id: str = typer.Argument(None, help="对象标识符（默认：所有对象）。"),
    workers: int = WorkersOption,
    here: bool = typer.Option(False, "--here", help="在本机重建，即使设置了任务队列 GUJI_QUEUE。"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="交给任务队列时：等它完成（默认），"
                              "或排队后立即返回任务编号。"),
) -> None:
    """从存储的母版重建切片、各尺寸影像和缩略图。

    设置了 GUJI_QUEUE 时交给任务队列，每页一项，由各台工作机分担（--here：在本机）；
    --workers 是本机重建时的进程数。"""
    from guji.repository.job_records import wait as wait_for

    from .page_jobs import start_rebuild
    from .pipeline import rebuild_tiles

    with open_catalogue(ctx) as catalogue:
        if catalogue.settings.queue_url and not here:
            job_id = start_rebuild(catalogue, card_id, editor_of(ctx, None))
            follow = f"/staff/ingest/{job_id}"
            if not wait:
                console.print(f"已交给任务队列：任务 #{job_id}（重建切片）；进度见工作台 "
                              f"{catalogue.settings.public_address}{follow}", highlight=False)
                return
            row = wait_for(catalogue, job_id, f"重建切片（任务 #{job_id}）", "页", follow)
            console.print(f"已重建 {row.done} 页的切片和缩略图（任务 #{job_id}）", highlight=False)
            return
        with progress("重建切片") as update:
            pages = rebuild_tiles(catalogue, card_id, workers=workers, progress=update)
        console.print(f"已重建 {pages} 页的切片和缩略图", highlight=False)
