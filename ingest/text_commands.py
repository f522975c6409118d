"""`guji text import` and `guji text show` (assembled in web/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from guji.repository.cli import EditorOption, add_plain_row, console, editor_of, errors, one_of, open_catalogue, warn

commands = typer.Typer()

text_app = typer.Typer(help="书的全文（录入文本）：导入、查看。", no_args_is_help=True)
commands.add_typer(text_app, name="text")


@text_app.command("import")
def text_import(
    ctx: typer.Context,
    book: str = typer.Argument(..., help="书：卡片标识符、索书号或普查编号。"),
    files: list[Path] = typer.Argument(..., help="按阅读顺序排列的文本文件（Kanripo、UTF-8 纯文本、"
                                                  "PAGE-XML、hOCR）。"),
    text_format: str = typer.Option(None, "--format", **one_of("kanripo", "plain", "page-xml", "hocr"),
                                    help="kanripo、plain、page-xml 或 hocr（默认：逐个文件自动识别）。"),
    reason: str = typer.Option(None, "--reason", help="记在新版本上的修改原因。"),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="这部书已有全文时什么都不做"
                                       "（否则会替换它）。"),
    editor: str = EditorOption,
) -> None:
    """导入一部书的全文，与影像逐页对齐。

    生成一个新版本。"""
    from .text_import import TEXT_FORMAT_NAMES, import_text
    from .text_model import PAGES_FILE

    with open_catalogue(ctx) as catalogue:
        book_id = catalogue.resolve(book)
        if skip_existing and PAGES_FILE in catalogue.store.logical_paths(book_id):
            console.print(f"{book_id}: 已有全文，保持原样，未重新导入（--skip-existing）", highlight=False)
            return
        # a file that cannot be imported: TextRefused, each problem named (file and line)
        report = import_text(catalogue, book_id, files, editor=editor_of(ctx, editor), reason=reason,
                             text_format=text_format)
    for note in report.notes:
        errors.print(f"说明：{note}", highlight=False, markup=False)
    for warning in report.warnings:
        warn(warning)
    stored = f"存为第 {report.version} 版" if report.version else "同样的全文已经保存过"
    placed = (f"；{report.pages - report.unscanned} 叶有影像，{report.unscanned} 叶无影像"
              if report.unscanned else "")
    kind = TEXT_FORMAT_NAMES.get(report.format, report.format)
    console.print(f"{book_id}：全文 {report.pages} 叶（{kind}{placed}），{stored}", highlight=False)


@text_app.command("show")
def text_show(
    ctx: typer.Context,
    book: str = typer.Argument(..., help="书：卡片标识符、索书号或普查编号。"),
    page: str = typer.Option(None, "--page", help="只显示这一页（0001 …）。"),
) -> None:
    """逐页显示存储的全文。"""
    from guji.repository.errors import NotFound

    from .text_model import PAGES_FILE

    with open_catalogue(ctx) as catalogue:
        book_id = catalogue.resolve(book)
        if PAGES_FILE not in catalogue.store.logical_paths(book_id):
            raise NotFound(f"{book_id} 还没有全文：用 guji text import {book_id} 文件… 导入")
        document = json.loads(catalogue.store.read_bytes(book_id, PAGES_FILE))
    names = {"imported": "导入", "corrected": "校对", "machine": "机器识别，未校对"}
    table = Table("页", "标签", "文本", "正文 / 夹注", title=f"{book_id}（{document['format']}）")
    for entry in document["pages"]:
        if page and entry["page"] != page:
            continue
        lines = []
        for line in entry["lines"]:
            lines.append("".join(text if kind == "text" else f"({text})" for kind, text in line["pieces"]))
        add_plain_row(table, entry["page"] or "无影像", entry.get("label") or "",
                      names.get(entry.get("authority") or "imported", ""), "\n".join(lines))
    console.print(table)
