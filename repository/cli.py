"""The `guji` command line. Commands of other packages (`serve`, later `ingest` …) plug in
through the `guji.commands` entry-point group, so `repository` imports none of them."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import InterfaceError, OperationalError

from .card import card_json_bytes
from .card_export import BUILT_IN_FORMATS, export_cards, extra_formats
from .card_import import (
    ImportRefused,
    UnreadableFile,
    apply_plan,
    default_reject_path,
    plan_import,
    read_one_card,
    write_rejects,
)
from .card_table import get_path, set_path
from .catalogue import CardConflict, Catalogue
from .config import Home
from .database import unavailable
from .grading import assess_grade
from .local_time import format_time
from .ocfl_store import StoreError
from .parse import in_language
from .process_tree import hold_lifeline
from .version_reasons import readable_reason

app = typer.Typer(
    help="Guji: rare-book (古籍) and local-document (地方文献) repository.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
cards_app = typer.Typer(help="Catalogue cards: import, export, show, edit.", no_args_is_help=True)
app.add_typer(cards_app, name="cards")

console = Console()
errors = Console(stderr=True)


def _home(ctx: typer.Context) -> Home:
    return Home.resolve(ctx.obj.get("home") if ctx.obj else None)


def _fail(kind: str, error: Exception) -> NoReturn:
    errors.print(f"[red]{kind}：[/red]", end="")
    errors.print(str(error), highlight=False, markup=False, soft_wrap=True)  # no line break inside a message
    report = getattr(error, "report_path", None)
    if report:
        errors.print(f"报告：{report}", highlight=False, markup=False)
    raise typer.Exit(1) from None


@contextmanager
def open_catalogue(
    ctx: typer.Context,
    *,
    refusals: tuple[type[Exception], ...] = (),
    failures: tuple[type[Exception], ...] = (),
) -> Iterator[Catalogue]:
    """Open the catalogue for a command, and turn every expected failure into a clear message
    and exit code 1 — never a traceback. Commands of other packages use it too.

    `refusals`: errors meaning the input was refused whole (printed as "refused, nothing stored");
    `failures`: further errors a person can act on, besides the store's own and OSError.
    """
    try:
        catalogue = Catalogue.open(_home(ctx))
    except StoreError as error:
        _fail("错误", error)
    if catalogue.recovered:
        errors.print(f"提示：已补完 {len(catalogue.recovered)} 次被中断的保存：" + "、".join(catalogue.recovered),
                     highlight=False, markup=False)
    try:
        yield catalogue
    except refusals as refused:
        _fail("拒绝，什么都没有保存", refused)
    except (StoreError, UnreadableFile, OSError, *failures) as error:
        _fail("错误", error)
    except (OperationalError, InterfaceError) as error:  # the database went away during the command
        _fail("错误", unavailable(error, catalogue.engine.url))
    finally:
        catalogue.close()


def add_plain_row(table: Table, *values: object) -> None:
    """A table row of catalogue text (titles, reasons, cells): shown as typed, never read as rich
    markup — a reason such as "[/b]" would otherwise stop the command with a MarkupError."""
    table.add_row(*(Text(str(value)) for value in values))


@contextmanager
def _progress(description: str):
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed}/s"),
        TimeRemainingColumn(), console=errors, transient=not errors.is_terminal,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def default_editor() -> str:
    return os.environ.get("GUJI_EDITOR") or getpass.getuser()


EditorOption = typer.Option(None, "--editor", help="Who makes the change (default: $GUJI_EDITOR or login name).")


@app.callback()
def main_callback(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="Data home (default: $GUJI_HOME or ./guji-data)."),
) -> None:
    ctx.obj = {"home": home}


@app.command()
def init(ctx: typer.Context) -> None:
    """Create a data home: OCFL storage root and catalogue database."""
    home = _home(ctx)
    existed = home.exists()
    try:
        Catalogue.init(home).close()
    except StoreError as error:
        _fail("错误", error)
    console.print(f"{'数据目录已存在' if existed else '已建立数据目录'}：{home.root}", highlight=False)


# ---- cards ----------------------------------------------------------------------------------


@cards_app.command("import")
def cards_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, XLSX or JSON file of cards."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Import the good rows; write bad ones to a reject file."),
    reject_file: Path = typer.Option(None, "--reject-file", help="Where --skip-bad writes bad rows."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would happen."),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="Leave cards already in the catalogue as "
                                       "they are (even if the file differs); import only the new ones."),
    reason: str = typer.Option(None, "--reason", help="Reason recorded on new cards (default: 导入 FILE)."),
    editor: str = EditorOption,
) -> None:
    """Import cards; rows matching existing cards with a 修改原因 column are a batch revision."""
    editor = editor or default_editor()
    with open_catalogue(ctx) as catalogue:
        plan = plan_import(catalogue, file, default_reason=reason, skip_existing=skip_existing)
        # cells are printed as they are: a cell holding "[/red]" is text, not rich markup
        if plan.ignored_headers:
            errors.print(f"未识别的列（已忽略）: {'、'.join(plan.ignored_headers)}", style="yellow", markup=False)
        for item in plan.bad:
            for problem in item.problems:
                errors.print(f"{file.name} {problem}", style="red", markup=False, highlight=False)
        for item in plan.items:
            for warning in item.warnings:
                errors.print(f"{file.name} 第{item.row}行 提示：{in_language(str(warning))}", style="yellow",
                             markup=False,
                             highlight=False)
        summary = (f"新建 {plan.count('create')} 张，修改 {plan.count('revise')} 张，"
                   f"无变化 {plan.count('unchanged')} 张，错误 {len(plan.bad)} 行")
        if plan.count("existing"):
            summary += f"；{plan.count('existing')} 张卡片已在目录中，保持原样（--skip-existing）"
        if dry_run:
            for item in plan.items:
                if item.action == "revise":
                    for change in item.changes:
                        console.print(f"{item.card_id} {change.label}: {change.old!r} → {change.new!r}", markup=False)
            console.print(f"试运行（dry run）：{summary}；什么也没有写入")
            raise typer.Exit(1 if plan.bad else 0)
        try:
            with _progress("导入") as update:
                apply_plan(catalogue, plan, editor=editor, skip_bad=skip_bad, progress=update)
        except ImportRefused as refused:
            errors.print("[red]拒收:[/red] ", end="")
            errors.print(str(refused), highlight=False, markup=False)
            raise typer.Exit(1) from None
        if plan.bad:
            target = write_rejects(plan, reject_file or default_reject_path(file))
            errors.print(f"[yellow]{len(plan.bad)} 个错误行已写入 {target}[/yellow]", highlight=False)
        console.print(f"已导入 {file.name}：{summary}", highlight=False)


@cards_app.command("export")
def cards_export(
    ctx: typer.Context,
    format: str = typer.Option("json", "--format", "-f",
                               help="json, csv, xlsx, or a plugged-in format (mods, dc, marcxml, marc)."),
    output: Path = typer.Option(None, "--output", "-o", help="Output file (JSON and XML go to stdout without it)."),
    ids: list[str] = typer.Option(None, "--id", help="Only these cards (id, 索书号 or 普查编号); repeatable."),
    headers: str = typer.Option("zh", "--headers", help="Spreadsheet headers: zh (索书号 …) or en (call_number …)."),
) -> None:
    """Export cards (each with its id and version) as JSON, CSV or XLSX, or MODS, DC, MARCXML, MARC."""
    plugged = extra_formats()
    known = (*BUILT_IN_FORMATS, *plugged)
    if format not in known:
        errors.print(f"[red]错误：[/red]没有「{format}」这种格式：可用 {'、'.join(known)}", highlight=False)
        raise typer.Exit(2)
    if (format in ("csv", "xlsx") or getattr(plugged.get(format), "needs_file", False)) and output is None:
        errors.print(f"[red]错误：[/red]导出 {format} 需要用 -o 指定文件", highlight=False)
        raise typer.Exit(2)
    with open_catalogue(ctx) as catalogue:
        card_ids = [catalogue.resolve(i) for i in ids] if ids else None
        count = export_cards(catalogue, format, output or sys.stdout, card_ids=card_ids, headers=headers)
    if output:
        console.print(f"已导出 {count} 张卡片：{output}", highlight=False)


@cards_app.command("show")
def cards_show(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="Card id, 索书号, 原索书号 or 普查编号."),
    version: int = typer.Option(None, "--version", "-v", help="Show this version (default: current)."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored card JSON."),
) -> None:
    """Show one card."""
    with open_catalogue(ctx) as catalogue:
        stored = catalogue.get(catalogue.resolve(reference), version)
        if as_json:
            sys.stdout.write(card_json_bytes(stored.card).decode())
            return
        from .card import card_entries

        title = f"{stored.id}  第 {stored.version} 版（共 {stored.head} 版）"
        table = Table("字段", "路径（--set 用）", "内容", title=title)
        for label, path, value in card_entries(stored.card):
            add_plain_row(table, label, path, value)
        console.print(table)
        assessment = assess_grade(stored.card)
        if assessment.suggestion:
            suggestion = assessment.suggestion
            console.print(f"定级建议（仅供参考）：{suggestion.label}（规则 {suggestion.rule_id}）"
                          f"{suggestion.explanation}", highlight=False)


@cards_app.command("list")
def cards_list(ctx: typer.Context, limit: int = typer.Option(50, help="At most this many cards.")) -> None:
    """List cards by 索书号."""
    with open_catalogue(ctx) as catalogue:
        table = Table("标识符", "索书号", "题名卷数", "著者", "版本", "版次")
        for row in catalogue.list_rows(limit):
            add_plain_row(table, row.id, row.call_number or "", row.title_with_juan, row.responsibility,
                          row.edition_statement, f"v{row.head_version}")
        console.print(table)


def _assign(card: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise typer.BadParameter(f"「{assignment}」：请写 字段=值，如 copy.extant_juan.raw=存卷一至五")
    path, value = assignment.split("=", 1)
    try:
        parsed = json.loads(value) if value[:1] in "[{" or value in ("null", "true", "false") or \
            value.lstrip("-").isdigit() else value
    except json.JSONDecodeError:
        parsed = value
    keys = path.strip().split(".")
    set_path(card, ".".join(keys), parsed)
    node = get_path(card, ".".join(keys[:-1])) if len(keys) > 1 else card
    if keys[-1] == "raw" and isinstance(node, dict):  # a new raw string: parsed parts are recomputed on save
        for key in list(node):
            if key != "raw":
                node.pop(key)


@cards_app.command("edit")
def cards_edit(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="Card id, 索书号 or 普查编号."),
    reason: str = typer.Option(..., "--reason", "-r", help="修改原因: why this change is made (required)."),
    assignments: list[str] = typer.Option(None, "--set", help="FIELD=VALUE, e.g. copy.extant_juan.raw=存卷一至五."),
    from_file: Path = typer.Option(None, "--from-file", help="Replace the card with this JSON file."),
    base_version: int = typer.Option(None, "--base-version", help="Version the edit is based on (default: current)."),
    editor: str = EditorOption,
) -> None:
    """Edit a card (by --set, --from-file, or in $EDITOR); every save is a new version."""
    editor = editor or default_editor()
    with open_catalogue(ctx) as catalogue:
        stored = catalogue.get(catalogue.resolve(reference))
        base = base_version or stored.version
        if from_file:
            card = read_one_card(from_file)  # as `cards export --format json` writes it
        elif assignments:
            card = json.loads(json.dumps(stored.card))
            for assignment in assignments:
                _assign(card, assignment)
        else:
            card = _edit_in_editor(stored.card)
        try:
            result = catalogue.save(stored.id, card, editor=editor, reason=reason, base_version=base)
        except CardConflict as conflict:
            errors.print("[red]保存冲突：[/red]", end="")
            errors.print(str(conflict), markup=False, highlight=False)
            for change in conflict.changes:
                errors.print(f"  {change.label}（{change.path}）：已保存的 {change.old!r} | 你的 {change.new!r}",
                             markup=False, highlight=False)
            raise typer.Exit(1) from None
        for warning in result.warnings:
            errors.print("[yellow]提示：[/yellow]", end="")
            errors.print(in_language(str(warning)), markup=False, highlight=False)
        if result.changed:
            console.print(f"已保存 {stored.id} v{result.version}", highlight=False)
        else:
            console.print(f"{stored.id}：没有改动，不生成新版本", highlight=False)


def _edit_in_editor(card: dict) -> dict:
    editor_command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as fh:
        fh.write(card_json_bytes(card))
    try:
        subprocess.run([*editor_command.split(), fh.name], check=True)
        return read_one_card(Path(fh.name))
    finally:
        os.unlink(fh.name)


@cards_app.command("grade")
def cards_grade(ctx: typer.Context, reference: str = typer.Argument(..., help="Card id or 索书号.")) -> None:
    """Suggest a grade (定级, advisory) and say which rule of the standard fired."""
    with open_catalogue(ctx) as catalogue:
        stored = catalogue.get(catalogue.resolve(reference))
        assessment = assess_grade(stored.card)
        suggestion = assessment.suggestion
        if suggestion is None:
            console.print(f"没有定级建议：{assessment.reason}", highlight=False)
            raise typer.Exit(1)
        console.print(f"定级建议：{suggestion.label}（规则 {suggestion.rule_id}）\n依据：{suggestion.basis}\n"
                      f"说明：{suggestion.explanation}", highlight=False)


# ---- history ---------------------------------------------------------------------------------


@app.command()
def history(ctx: typer.Context, reference: str = typer.Argument(..., help="Card id, 索书号 or 原索书号.")) -> None:
    """Every version of a card: who, when, why."""
    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        table = Table("版次", "时间", "修改人", "修改原因", title=card_id)
        for version in catalogue.history(card_id):
            add_plain_row(table, version.label, format_time(version.created), version.editor,
                          readable_reason(version.reason))
        console.print(table)


def _version(text: str) -> int:
    try:
        return int(text.lower().lstrip("v"))
    except ValueError:
        raise typer.BadParameter(f"「{text}」不是版次：请写 v1、v2 … 或 1、2 …") from None


@app.command()
def diff(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="Card id or 索书号."),
    version_a: str = typer.Argument(..., help="Older version, e.g. v1."),
    version_b: str = typer.Argument(..., help="Newer version, e.g. v3."),
) -> None:
    """Field-level differences between two versions (old → new)."""
    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        changes = catalogue.diff(card_id, _version(version_a), _version(version_b))
        table = Table("字段", "路径", version_a, version_b, title=card_id)
        for change in changes:
            add_plain_row(table, change.label, change.path, _show(change.old, change.path),
                          _show(change.new, change.path))
        console.print(table if changes else f"{card_id}：{version_a} 与 {version_b} 之间没有字段变化")


def _show(value, path: str = "") -> str:
    from .card import display_value

    return "—" if value is None else display_value(value, path)


# ---- maintenance ----------------------------------------------------------------------------


@app.command("rebuild-db")
def rebuild_db(ctx: typer.Context) -> None:
    """Recompute the catalogue DB from OCFL, swapped in only when complete (users and the event log
    are kept); folders of the storage root that are not Guji's cards are skipped and named."""
    with open_catalogue(ctx) as catalogue:
        with _progress("重建") as update:
            report = catalogue.rebuild_db(progress=update, actor=default_editor())
    for entry in report.skipped:
        errors.print("[yellow]跳过[/yellow] ", end="")
        errors.print(str(entry), highlight=False, markup=False)
    skipped = f"；跳过 {len(report.skipped)} 个不是卡片的目录（见上）" if report.skipped else ""
    console.print(f"已从 OCFL 重建目录数据库：{report.cards} 张卡片{skipped}", highlight=False)


@app.command()
def fixity(
    ctx: typer.Context,
    ocfl_validate: bool = typer.Option(False, "--ocfl", help="Also run ocfl-py's validator on the whole root."),
) -> None:
    """Re-verify every stored file against its digests and report."""
    with open_catalogue(ctx) as catalogue:
        with _progress("核对") as update:
            report = catalogue.fixity(progress=update, actor=default_editor())
        for entry in report.foreign:
            errors.print("[yellow]不是 Guji 的对象[/yellow] ", end="")
            errors.print(str(entry) + ("（已核对它的文件）" if entry.kind == "ocfl" else ""), highlight=False,
                         markup=False)
        for problem in report.problems:
            errors.print("[red]不符[/red] ", end="")
            errors.print(str(problem), highlight=False, markup=False)
        foreign = f"；{len(report.foreign)} 个目录不是 Guji 的对象（见上）" if report.foreign else ""
        console.print(f"固定性检查：{report.objects} 个对象，{report.files} 个文件，{len(report.problems)} 处问题"
                      f"{foreign}", highlight=False)
        failed = not report.ok
        if ocfl_validate:
            problems = catalogue.store.validate()
            for problem in problems:
                errors.print(f"[red]OCFL[/red] {problem}")
            console.print(f"OCFL 校验：{'通过' if not problems else f'{len(problems)} 处错误'}")
            failed = failed or bool(problems)
    if failed:
        raise typer.Exit(1)


@app.command()
def recover(ctx: typer.Context) -> None:
    """Finish saves a crash interrupted, in every object. Run it before copying the data home for a
    backup, and on a copy or a restored backup (docs/storage.md)."""
    with open_catalogue(ctx) as catalogue:
        repaired, problems = catalogue.repair()
        for problem in problems:
            errors.print(f"[red]不符[/red] {problem}")
        finished = sorted(set(catalogue.recovered) | set(repaired))
        checked = len(catalogue.store.object_ids())
        console.print(f"补完检查：查看了 {checked} 个对象，补完 {len(finished)} 次被中断的保存"
                      + (f"：{'、'.join(finished)}" if finished else ""), highlight=False)
    if problems:
        raise typer.Exit(1)


def _register_plugins() -> None:
    for entry in entry_points(group="guji.commands"):
        entry.load()(app)


def main() -> None:
    hold_lifeline()  # started by another Guji process (the indexer `guji serve` runs): end with it
    _register_plugins()
    app()


if __name__ == "__main__":
    main()
