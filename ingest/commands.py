"""`guji ingest`, `guji watch` and `guji tiles rebuild` (assembled in web/cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from guji.repository.cli import EditorOption, WorkersOption, console, editor_of, open_catalogue, progress, warn

PixelLimitOption = typer.Option(300, "--pixel-limit", min=1, help="Refuse pages larger than this (megapixels).")


def register(app: typer.Typer) -> None:
    tiles_app = typer.Typer(help="IIIF tiles and other derivatives: rebuild.", no_args_is_help=True)
    app.add_typer(tiles_app, name="tiles")

    @app.command()
    def ingest(
        ctx: typer.Context,
        book_dir: Path = typer.Argument(..., help="Folder with the page scans of one book (TIFF, JPEG, PNG)."),
        card_id: str = typer.Option(..., "--id", help="Id of the book's catalogue card."),
        card_file: Path = typer.Option(None, "--card", help="Create the card from this JSON file first (when no "
                                       "card has that id yet), e.g. one card of guji cards export --format json."),
        replace: bool = typer.Option(False, "--replace", help="The folder replaces the book's pages: remove "
                                     "stored pages it has no scan for (earlier versions keep them)."),
        workers: int = WorkersOption,
        pixel_limit: float = PixelLimitOption,
        skip_existing: bool = typer.Option(False, "--skip-existing", help="Do nothing if the book already has "
                                           "page scans (e.g. loading samples again into a live data home)."),
        editor: str = EditorOption,
        ocr: bool = typer.Option(None, "--ocr/--no-ocr", help="Then OCR the book (guji ocr; default: "
                                 "$GUJI_OCR_ON_INGEST, off)."),
    ) -> None:
        """Store a book's page scans as masters (one OCFL version) and build its IIIF tiles."""
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

    @app.command()
    def watch(
        ctx: typer.Context,
        incoming: Path = typer.Argument(..., help="Hot folder: one sub-folder per book, ingested once READY appears."),
        interval: float = typer.Option(10, "--interval", help="Seconds between looks at the folder."),
        once: bool = typer.Option(False, "--once", help="Look once, ingest what is ready, and stop."),
        workers: int = WorkersOption,
        pixel_limit: float = PixelLimitOption,
        editor: str = EditorOption,
    ) -> None:
        """Ingest book folders dropped into INCOMING once they hold a READY file; move them to done/ or failed/."""
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
        card_id: str = typer.Argument(None, help="Object id (default: every object)."),
        workers: int = WorkersOption,
    ) -> None:
        """Rebuild tiles, sizes and thumbnails from the stored masters."""
        from .pipeline import rebuild_tiles

        with open_catalogue(ctx) as catalogue:
            with progress("重建切片") as update:
                pages = rebuild_tiles(catalogue, card_id, workers=workers, progress=update)
            console.print(f"已重建 {pages} 页的切片和缩略图", highlight=False)
