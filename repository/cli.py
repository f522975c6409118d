"""What every `guji` command shares, and the repository's own commands.

The commands of every package are assembled in one place, web/cli.py (the `guji` console script),
which imports a command's module only when that command runs (or its help is shown), so the CLI
starts fast. A command module holds its commands on a module-level ``commands`` Typer and takes
from here what all commands share: the
consoles, :func:`open_catalogue`, the options every command spells the same way (``--editor``,
``--workers``), :func:`one_of` for options with a fixed set of values (a usage error, exit code 2,
names the values) and :func:`progress`. Errors are not caught in commands: the one CLI handler
(:class:`GujiGroup`) prints a GujiError as its kind's title and message and exits with its exit
code (docs/cli.md), and reports anything else as an internal error with the traceback logged.

Heavy modules (the catalogue, ocfl-py, spreadsheets) are imported inside the commands.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from difflib import get_close_matches
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import typer.main
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from .errors import INTERNAL_EXIT_CODE, GujiError
from .settings import Settings, current

if TYPE_CHECKING:
    from .catalogue import Catalogue
    from .config import Home

console = Console()
errors = Console(stderr=True)


# ---- the context every command gets -----------------------------------------------------------


@dataclass
class CliState:
    """What the root command read: the settings (once per process) and `--home`."""

    settings: Settings
    home: str | None = None


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState(current())


def settings_of(ctx: typer.Context) -> Settings:
    return state(ctx).settings


def home_of(ctx: typer.Context) -> Home:
    from .config import Home

    return Home.resolve(state(ctx).home, state(ctx).settings)


def editor_of(ctx: typer.Context, given: str | None) -> str:
    """`--editor`, else GUJI_EDITOR, else the login name."""
    return given or settings_of(ctx).editor or getpass.getuser()


def default_editor() -> str:
    """GUJI_EDITOR or the login name (commands use :func:`editor_of`, which also takes `--editor`)."""
    return current().editor or getpass.getuser()


@contextmanager
def open_catalogue(ctx: typer.Context) -> Iterator[Catalogue]:
    """The catalogue of the command's data home (with its settings), closed afterwards."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    from .catalogue import Catalogue
    from .database import unavailable

    catalogue = Catalogue.open(home_of(ctx), settings=settings_of(ctx))
    if catalogue.recovered:
        errors.print(f"提示：已补完 {len(catalogue.recovered)} 次被中断的保存：" + "、".join(catalogue.recovered),
                     highlight=False, markup=False)
    try:
        yield catalogue
    except (OperationalError, InterfaceError) as error:  # the database went away during the command
        raise unavailable(error, catalogue.engine.url) from None
    finally:
        catalogue.close()


# ---- shared options and output ------------------------------------------------------------------


EditorOption = typer.Option(None, "--editor", help="修改人（默认：$GUJI_EDITOR，否则登录名）。")
WorkersOption = typer.Option(None, "--workers", min=1, help="并行进程数，每个占一个核（默认：核数）。")


def one_of(*values: str, what: str = "") -> dict:
    """Options for a `typer.Option` whose value must be one of `values`: the help shows them, and any
    other value is a usage error (exit code 2) that names them — `typer.Option("json", "--format",
    **one_of("json", "csv"))`. `what` adds what the values mean (e.g. 古籍 / 地方文献)."""

    def parse(value: str) -> str:
        if value not in values:
            raise typer.BadParameter(f"「{value}」不可用：请用 {'、'.join(values)}{what}")
        return value

    return {"parser": parse, "metavar": "|".join(values)}


def add_plain_row(table: Table, *values: object) -> None:
    """A table row of catalogue text (titles, reasons, cells): shown as typed, never read as rich
    markup — a reason such as "[/b]" would otherwise stop the command with a MarkupError."""
    table.add_row(*(Text(str(value)) for value in values))


def warn(message: str, prefix: str = "提示") -> None:
    """A yellow note on stderr; `message` is printed as it is (file names and cells may hold "[…]")."""
    errors.print(f"[yellow]{prefix}：[/yellow]", end="")
    errors.print(message, highlight=False, markup=False)


def rate_text(per_second: float | None, unit: str) -> str:
    """"12.3 页/分", or "/秒" from one a second on; "– 页/分" until there is a rate."""
    if not per_second:
        return f"– {unit}/分"
    return f"{per_second:.1f} {unit}/秒" if per_second >= 1 else f"{per_second * 60:.1f} {unit}/分"


@contextmanager
def progress(description: str, unit: str = "页") -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for `description`; yields update(done, total). The rate reads
    "12.3 页/分" (or "/秒" when more than one a second); it is not shown until there is one."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            return Text(rate_text(task.finished_speed or task.speed, unit))

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate(),
                  TimeRemainingColumn(), console=errors, transient=not errors.is_terminal) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


# ---- assembling commands: a group that imports a command's module when it is needed --------------

# A command: (module, name, …) — the named command (or group, then its subcommand) of the module's
# `commands` Typer; or a group of such entries, (help, {name: entry}).
Entry = tuple


def _module_commands(module_name: str):
    """The click group of a command module's commands (built once)."""
    module = import_module(module_name)
    group = getattr(module, "_guji_group", None)
    if group is None:
        group = module._guji_group = typer.main.get_group(module.commands)
    return group


class GujiGroup(TyperGroup):
    """A group whose commands are listed in `lazy` (name → Entry) and imported only when a command
    is run or its help shown. The root group is also the one CLI handler: a GujiError becomes its
    kind's title and message on stderr and its exit code; anything else is a bug, reported as such
    with the traceback written to a log file."""

    lazy: dict[str, Entry] = {}

    def list_commands(self, ctx) -> list[str]:
        return [*self.commands, *(name for name in self.lazy if name not in self.commands)]

    def get_command(self, ctx, name: str):
        if name not in self.commands and name in self.lazy:
            entry = self.lazy[name]
            if isinstance(entry[1], dict):
                help_text, members = entry
                command = GujiGroup(name=name, help=help_text, no_args_is_help=True,
                                    rich_markup_mode=self.rich_markup_mode)
                command.lazy = members
            else:
                command = _module_commands(entry[0])
                for part in entry[1:]:
                    command = command.commands[part]
            self.commands[name] = command
        return self.commands.get(name)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except typer.TyperException as error:  # "No such command": suggest from every command, loaded or not
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches and "Did you mean" not in error.message:
                error.message = f"{error.message.rstrip('.')}. Did you mean {', '.join(map(repr, matches))}?"
            raise

    def invoke(self, ctx):
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except GujiError as error:
            report(error)
            raise typer.Exit(error.exit_code) from None
        except OSError as error:  # a file given on the command line that cannot be read or written
            errors.print(f"无法完成：{error.filename or ''}：{error.strerror or error}", highlight=False,
                         markup=False)
            raise typer.Exit(1) from None
        except (typer.TyperException, typer.Exit, typer.Abort):  # click's usage errors, exits and aborts
            raise
        except Exception as error:  # a bug: never "error:" as if the user had done something wrong
            log = _log_traceback(error)
            errors.print(f"内部错误（程序缺陷，不是操作有误）：{type(error).__name__}。完整记录已写入 {log}，"
                         "请把它交给维护人员；数据没有被部分修改（每次保存要么完整、要么没有发生）。",
                         highlight=False, markup=False)
            raise typer.Exit(INTERNAL_EXIT_CODE) from None


def report(error: GujiError) -> None:
    """A GujiError as a person reads it: the kind's title, the message, then its notes and report."""
    errors.print(f"[red]{error.title}：[/red]", end="")  # the kind's title, or a closer one (检索式有误)
    errors.print(str(error), highlight=False, markup=False, soft_wrap=True)  # no line break inside a message
    for note in error.notes:
        errors.print(f"  {note}", highlight=False, markup=False, soft_wrap=True)
    report_path = getattr(error, "report_path", None)
    if report_path:
        errors.print(f"报告：{report_path}", highlight=False, markup=False)


def _log_traceback(error: Exception) -> Path:
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
    path = Path(tempfile.gettempdir()) / f"guji-error-{stamp}-{os.getpid()}.log"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as log:
        log.write(f"guji {' '.join(sys.argv[1:])}\n")
        log.write("".join(traceback.format_exception(error)))
    return path


# ---- the repository's commands ------------------------------------------------------------------

commands = typer.Typer()
cards_app = typer.Typer()
commands.add_typer(cards_app, name="cards")


@commands.command()
def init(ctx: typer.Context) -> None:
    """建立数据目录：OCFL 存储根和目录数据库。"""
    from .catalogue import Catalogue

    home = home_of(ctx)
    existed = home.root.exists() if home.storage else home.exists()  # S3: the bucket is asked by init
    Catalogue.init(home, settings=settings_of(ctx)).close()
    console.print(f"{'数据目录已存在' if existed else '已建立数据目录'}：{home.root}", highlight=False)


# ---- cards ----------------------------------------------------------------------------------


@cards_app.command("import")
def cards_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="卡片文件：CSV、XLSX 或 JSON。"),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="只导入无误的行，有错的行写入退回文件。"),
    reject_file: Path = typer.Option(None, "--reject-file", help="--skip-bad 写出错行的退回文件。"),
    dry_run: bool = typer.Option(False, "--dry-run", help="试运行：只报告将做什么，不写入。"),
    skip_existing: bool = typer.Option(False, "--skip-existing", help="目录中已有的卡片保持原样"
                                       "（即使文件里不同），只导入新卡片。"),
    reason: str = typer.Option(None, "--reason", help="记在新卡片上的修改原因（默认：导入 FILE）。"),
    editor: str = EditorOption,
) -> None:
    """导入卡片（也可批量修改）。

    与已有卡片对应、且有「修改原因」列的行，作为批量修改。"""
    from .card_import import apply_plan, default_reject_path, plan_import, write_rejects
    from .parse import in_language

    editor = editor_of(ctx, editor)
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
        with progress("导入", "张") as update:  # a file with bad rows: ImportRefused, nothing imported
            apply_plan(catalogue, plan, editor=editor, skip_bad=skip_bad, progress=update)
        if plan.bad:
            target = write_rejects(plan, reject_file or default_reject_path(file))
            errors.print(f"[yellow]{len(plan.bad)} 个错误行已写入 {target}[/yellow]", highlight=False)
        console.print(f"已导入 {file.name}：{summary}", highlight=False)


def _export_format(value: str) -> str:
    """json, csv, xlsx or a format plugged in through the `guji.card_formats` entry points."""
    from .card_export import BUILT_IN_FORMATS, extra_formats

    known = (*BUILT_IN_FORMATS, *extra_formats())
    if value not in known:
        raise typer.BadParameter(f"「{value}」不可用：请用 {'、'.join(known)}")
    return value


@cards_app.command("export")
def cards_export(
    ctx: typer.Context,
    format: str = typer.Option("json", "--format", "-f", parser=_export_format, metavar="FORMAT",
                               help="json、csv、xlsx，或插件提供的格式（mods、dc、marcxml、marc）。"),
    output: Path = typer.Option(None, "--output", "-o", help="输出文件（不给时 JSON 和 XML 输出到标准输出）。"),
    ids: list[str] = typer.Option(None, "--id", help="只导出这些卡片（标识符、索书号或普查编号），可重复。"),
    headers: str = typer.Option("zh", "--headers", **one_of("zh", "en"),
                                help="表格列名：zh（索书号 …）或 en（call_number …）。"),
) -> None:
    """导出卡片：JSON、CSV、XLSX、MODS、DC、MARCXML、MARC。

    每张卡片带标识符和版次。"""
    from .card_export import export_cards, extra_formats
    from .errors import InvalidInput

    if output is None and (format in ("csv", "xlsx") or getattr(extra_formats().get(format), "needs_file", False)):
        raise InvalidInput(f"导出 {format} 需要用 -o 指定文件")
    with open_catalogue(ctx) as catalogue:
        card_ids = [catalogue.resolve(i) for i in ids] if ids else None
        count = export_cards(catalogue, format, output or sys.stdout, card_ids=card_ids, headers=headers)
    if output:
        console.print(f"已导出 {count} 张卡片：{output}", highlight=False)


@cards_app.command("show")
def cards_show(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="卡片标识符、索书号、原索书号或普查编号。"),
    version: int = typer.Option(None, "--version", "-v", help="显示这一版（默认：当前版）。"),
    as_json: bool = typer.Option(False, "--json", help="输出存储的卡片 JSON。"),
) -> None:
    """查看一张卡片。"""
    from .card import card_entries, card_json_bytes
    from .grading import assess_grade

    with open_catalogue(ctx) as catalogue:
        stored = catalogue.get(catalogue.resolve(reference), version)
        if as_json:
            sys.stdout.write(card_json_bytes(stored.card).decode())
            return

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
def cards_list(ctx: typer.Context, limit: int = typer.Option(50, help="最多列出的卡片数。")) -> None:
    """按索书号列出卡片。"""
    with open_catalogue(ctx) as catalogue:
        table = Table("标识符", "索书号", "题名卷数", "著者", "版本", "版次")
        for row in catalogue.list_rows(limit):
            add_plain_row(table, row.id, row.call_number or "", row.title_with_juan, row.responsibility,
                          row.edition_statement, f"v{row.head_version}")
        console.print(table)


def _assign(card: dict, assignment: str) -> None:
    from .card_table import get_path, set_path

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
    reference: str = typer.Argument(..., help="卡片标识符、索书号或普查编号。"),
    reason: str = typer.Option(..., "--reason", "-r", help="修改原因（必填）。"),
    assignments: list[str] = typer.Option(None, "--set", help="字段=值，如 copy.extant_juan.raw=存卷一至五。"),
    from_file: Path = typer.Option(None, "--from-file", help="用这个 JSON 文件替换整张卡片。"),
    base_version: int = typer.Option(None, "--base-version", help="修改所依据的版次（默认：当前版）。"),
    editor: str = EditorOption,
) -> None:
    """修改卡片，每次保存生成新版本。

    用 --set、--from-file，或在 $EDITOR 中编辑。"""
    from .card_import import read_one_card
    from .parse import in_language

    editor = editor_of(ctx, editor)
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
        # someone saved first: CardConflict, shown with both sides of every field (its notes)
        result = catalogue.save(stored.id, card, editor=editor, reason=reason, base_version=base)
        for warning in result.warnings:
            warn(in_language(str(warning)))
        if result.changed:
            console.print(f"已保存 {stored.id} v{result.version}", highlight=False)
        else:
            console.print(f"{stored.id}：没有改动，不生成新版本", highlight=False)


def _edit_in_editor(card: dict) -> dict:
    from .card import card_json_bytes
    from .card_import import read_one_card

    editor_command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as fh:
        fh.write(card_json_bytes(card))
    try:
        subprocess.run([*editor_command.split(), fh.name], check=True)
        return read_one_card(Path(fh.name))
    finally:
        os.unlink(fh.name)


@cards_app.command("grade")
def cards_grade(ctx: typer.Context, reference: str = typer.Argument(..., help="卡片标识符或索书号。")) -> None:
    """定级建议（仅供参考），并说明依据标准的哪一条。"""
    from .grading import assess_grade

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


@commands.command()
def history(ctx: typer.Context, reference: str = typer.Argument(..., help="卡片标识符、索书号或原索书号。")) -> None:
    """卡片的各个版本：修改人、时间、原因。"""
    from .local_time import format_time
    from .version_reasons import readable_reason

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


@commands.command()
def diff(
    ctx: typer.Context,
    reference: str = typer.Argument(..., help="卡片标识符或索书号。"),
    version_a: str = typer.Argument(..., help="较早的版次，如 v1。"),
    version_b: str = typer.Argument(..., help="较新的版次，如 v3。"),
) -> None:
    """两个版本之间逐字段的差异（旧 → 新）。"""
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


@commands.command("rebuild-db")
def rebuild_db(ctx: typer.Context) -> None:
    """从 OCFL 重建目录数据库。

    全部算完才替换旧库（保留用户和事件日志）；存储根中不是 Guji 卡片的目录跳过并列出。"""
    with open_catalogue(ctx) as catalogue:
        with progress("重建", "张") as update:
            report = catalogue.rebuild_db(progress=update, actor=editor_of(ctx, None))
    for entry in report.skipped:
        errors.print("[yellow]跳过[/yellow] ", end="")
        errors.print(str(entry), highlight=False, markup=False)
    skipped = f"；跳过 {len(report.skipped)} 个不是卡片的目录（见上）" if report.skipped else ""
    console.print(f"已从 OCFL 重建目录数据库：{report.cards} 张卡片{skipped}", highlight=False)


@commands.command()
def fixity(
    ctx: typer.Context,
    ocfl_validate: bool = typer.Option(False, "--ocfl", help="另用 ocfl-py 的校验器检查整个存储根。"),
) -> None:
    """固定性检查：按摘要值逐一核对存储的文件并报告。"""
    with open_catalogue(ctx) as catalogue:
        with progress("核对", "个对象") as update:
            report = catalogue.fixity(progress=update, actor=editor_of(ctx, None))
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


@commands.command()
def recover(ctx: typer.Context) -> None:
    """补完被中断的保存（检查每个对象）。

    复制数据目录做备份之前运行，在副本或恢复的备份上也运行（docs/storage.md）。"""
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
