"""`guji ocr` and `guji ocr-report` (assembled in web/cli.py)."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from guji.repository.cli import EditorOption, WorkersOption, console, editor_of, open_catalogue, progress, warn


def print_report(report) -> None:
    """The summary of one OCR run (also used by `guji ingest --ocr`)."""
    for warning in report.warnings:
        warn(warning, "注意")
    skipped = sum(1 for page in report.pages if page.action == "skipped")
    stored = f"存为 v{report.version}" if report.version else "没有新内容需要存储"
    engine = f"{report.engine['name']} {report.engine['version']}"
    console.print(f"{report.book_id}：识别 {report.read} 页，跳过已识别 {skipped} 页，失败 {len(report.failed)} 页，"
                  f"{stored}（{engine}，{report.seconds:.1f} 秒）", highlight=False)
    if report.quality and report.quality.get("cer") is not None:
        console.print(f"与已有文本的一致性：CER {report.quality['cer']:.3f}（{report.quality['characters']} 字）",
                      highlight=False)
    if report.path:
        console.print(f"报告：{report.path}", highlight=False)


def _engine(value: str) -> str:
    """An engine there is (the engines are a seam: ingest/ocr_engine.py ENGINES)."""
    from .ocr_engine import ENGINES

    if value.strip().lower() not in ENGINES:
        raise typer.BadParameter(f"没有名为「{value}」的 OCR 引擎：可用的有 {'、'.join(ENGINES)}")
    return value.strip().lower()


commands = typer.Typer()


@commands.command()
def ocr(
    ctx: typer.Context,
    book: str = typer.Argument(..., help="书：卡片标识符、索书号或普查编号。"),
    pages: str = typer.Option(None, "--pages", help="只识别这些页，如 0001-0010 或 3,5,7-9。"),
    engine: str = typer.Option(None, "--engine", parser=_engine, metavar="faster-paddle|rapidocr",
                               help="OCR 引擎（默认：$GUJI_OCR_ENGINE，否则 faster-paddle）。"),
    redo: bool = typer.Option(False, "--redo", help="同一引擎已识别过的页也重新识别。"),
    workers: int = WorkersOption,
    reason: str = typer.Option(None, "--reason", help="记在新版本上的修改原因。"),
    editor: str = EditorOption,
) -> None:
    """OCR 识别一部书的影像（可续做；生成一个新版本）。

    每页存一份 PAGE-XML；没有人工文本的页用机器识别文本。"""
    from .ocr_run import ocr_book

    with open_catalogue(ctx) as catalogue:
        book_id = catalogue.resolve(book)
        with progress(f"识别 {book_id}") as update:
            report = ocr_book(catalogue, book_id, pages=pages, engine=engine, redo=redo, workers=workers,
                              editor=editor_of(ctx, editor), progress=update, reason=reason)
    print_report(report)
    if report.failed and not report.read and not any(p.action == "skipped" for p in report.pages):
        raise typer.Exit(1)


@commands.command("ocr-report")
def ocr_report(
    ctx: typer.Context,
    book: str = typer.Argument(..., help="书：卡片标识符、索书号或普查编号。"),
    as_json: bool = typer.Option(False, "--json", help="以 JSON 输出报告。"),
) -> None:
    """逐页报告文本来源、OCR 置信度和字错率。

    文本来源：校对/导入/机器；字错率（CER）是 OCR 文本相对人工文本而言。"""
    from .ocr_run import ocr_quality

    with open_catalogue(ctx) as catalogue:
        report = ocr_quality(catalogue, catalogue.resolve(book))
    if as_json:
        console.print_json(json.dumps(report, ensure_ascii=False))
        return
    names = {"corrected": "校对", "imported": "导入", "machine": "机器识别，未校对", None: "无文本"}
    table = Table("页", "标签", "文本", "OCR 置信度", "CER", "字数", "注意",
                  title=f"{report['book']} 文字识别质量"
                        + (f"（全书 CER {report['cer']:.3f}）" if report.get("cer") is not None else ""))
    for page in report["pages"]:
        table.add_row(page["page"], page["label"] or "", names.get(page["authority"], page["authority"]),
                      "" if page["confidence"] is None else f"{page['confidence']:.2f}",
                      "" if page["cer"] is None else f"{page['cer']:.3f}",
                      "" if page["characters"] is None else str(page["characters"]),
                      "；".join(page["warnings"]))
    console.print(table)
