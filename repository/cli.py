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

from .card import card_json_bytes
from .card_export import BUILT_IN_FORMATS, export_cards, extra_formats
from .card_import import (
    ImportRefused,
    UnreadableFile,
    apply_plan,
    default_reject_path,
    plan_import,
    write_rejects,
)
from .card_table import get_path, set_path
from .catalogue import CardConflict, Catalogue
from .config import Home
from .grading import suggest_grade
from .ocfl_store import StoreError
from .process_tree import hold_lifeline

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
    errors.print(f"[red]{kind}:[/red] ", end="")
    errors.print(str(error), highlight=False, markup=False)
    report = getattr(error, "report_path", None)
    if report:
        errors.print(f"report: {report}", highlight=False, markup=False)
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
        _fail("error", error)
    if catalogue.recovered:
        errors.print(f"note: finished {len(catalogue.recovered)} save(s) that a crash had interrupted: "
                     + ", ".join(catalogue.recovered), highlight=False, markup=False)
    try:
        yield catalogue
    except refusals as refused:
        _fail("refused, nothing stored", refused)
    except (StoreError, UnreadableFile, OSError, *failures) as error:
        _fail("error", error)
    finally:
        catalogue.close()


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
    Catalogue.init(home).close()
    console.print(f"{'Data home already exists' if existed else 'Created data home'}: {home.root}")


# ---- cards ----------------------------------------------------------------------------------


@cards_app.command("import")
def cards_import(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="CSV, XLSX or JSON file of cards."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Import the good rows; write bad ones to a reject file."),
    reject_file: Path = typer.Option(None, "--reject-file", help="Where --skip-bad writes bad rows."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would happen."),
    reason: str = typer.Option(None, "--reason", help="Reason recorded on new cards (default: 导入 FILE)."),
    editor: str = EditorOption,
) -> None:
    """Import cards; rows matching existing cards with a 修改原因 column are a batch revision."""
    editor = editor or default_editor()
    with open_catalogue(ctx) as catalogue:
        plan = plan_import(catalogue, file, default_reason=reason)
        if plan.ignored_headers:
            errors.print(f"[yellow]ignored columns:[/yellow] {', '.join(plan.ignored_headers)}")
        for item in plan.bad:
            for problem in item.problems:
                errors.print(f"[red]{file.name} {problem}[/red]")
        for item in plan.items:
            for warning in item.warnings:
                errors.print(f"[yellow]{file.name} 第{item.row}行 warning: {warning}[/yellow]")
        summary = (f"{plan.count('create')} new, {plan.count('revise')} revised, "
                   f"{plan.count('unchanged')} unchanged, {len(plan.bad)} bad")
        if dry_run:
            for item in plan.items:
                if item.action == "revise":
                    for change in item.changes:
                        console.print(f"{item.card_id} {change.label}: {change.old!r} → {change.new!r}")
            console.print(f"dry run: {summary}; nothing written")
            raise typer.Exit(1 if plan.bad else 0)
        try:
            with _progress("importing") as update:
                apply_plan(catalogue, plan, editor=editor, skip_bad=skip_bad, progress=update)
        except ImportRefused as refused:
            errors.print(f"[red]refused:[/red] {refused}")
            raise typer.Exit(1) from None
        if plan.bad:
            target = write_rejects(plan, reject_file or default_reject_path(file))
            errors.print(f"[yellow]{len(plan.bad)} bad rows written to {target}[/yellow]")
        console.print(f"imported {file.name}: {summary}")


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
        errors.print(f"[red]error:[/red] unknown format {format!r}: use {', '.join(known)}")
        raise typer.Exit(2)
    if (format in ("csv", "xlsx") or getattr(plugged.get(format), "needs_file", False)) and output is None:
        errors.print(f"[red]error:[/red] {format} export needs -o FILE")
        raise typer.Exit(2)
    with open_catalogue(ctx) as catalogue:
        card_ids = [catalogue.resolve(i) for i in ids] if ids else None
        count = export_cards(catalogue, format, output or sys.stdout, card_ids=card_ids, headers=headers)
    if output:
        console.print(f"exported {count} cards to {output}")


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
        from .card import field_label, flatten

        table = Table(title=f"{stored.id}  v{stored.version} of v{stored.head}", show_header=False)
        for path, value in flatten(stored.card).items():
            if value not in (None, "", [], {}):
                table.add_row(field_label(path), path, str(value))
        console.print(table)
        suggestion = suggest_grade(stored.card)
        if suggestion:
            console.print(f"grade suggestion (advisory): {suggestion.label} — rule {suggestion.rule_id}: "
                          f"{suggestion.explanation}")


@cards_app.command("list")
def cards_list(ctx: typer.Context, limit: int = typer.Option(50, help="At most this many cards.")) -> None:
    """List cards by 索书号."""
    with open_catalogue(ctx) as catalogue:
        table = Table("id", "索书号", "题名卷数", "著者", "版本", "v")
        for row in catalogue.list_rows(limit):
            table.add_row(row.id, row.call_number or "", row.title_with_juan, row.responsibility,
                          row.edition_statement, str(row.head_version))
        console.print(table)


def _assign(card: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise typer.BadParameter(f"{assignment!r}: write FIELD=VALUE, e.g. copy.extant_juan.raw=存卷一至五")
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
            card = json.loads(from_file.read_text(encoding="utf-8"))
        elif assignments:
            card = json.loads(json.dumps(stored.card))
            for assignment in assignments:
                _assign(card, assignment)
        else:
            card = _edit_in_editor(stored.card)
        try:
            result = catalogue.save(stored.id, card, editor=editor, reason=reason, base_version=base)
        except CardConflict as conflict:
            errors.print(f"[red]conflict:[/red] {conflict}")
            for change in conflict.changes:
                errors.print(f"  {change.label} ({change.path}): stored {change.old!r} | yours {change.new!r}")
            raise typer.Exit(1) from None
        for warning in result.warnings:
            errors.print(f"[yellow]warning:[/yellow] {warning}")
        if result.changed:
            console.print(f"saved {stored.id} v{result.version}")
        else:
            console.print(f"{stored.id}: nothing changed, no new version")


def _edit_in_editor(card: dict) -> dict:
    editor_command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False) as fh:
        fh.write(card_json_bytes(card))
    try:
        subprocess.run([*editor_command.split(), fh.name], check=True)
        return json.loads(Path(fh.name).read_text(encoding="utf-8"))
    finally:
        os.unlink(fh.name)


@cards_app.command("grade")
def cards_grade(ctx: typer.Context, reference: str = typer.Argument(..., help="Card id or 索书号.")) -> None:
    """Suggest a grade (定级, advisory) and say which rule of the standard fired."""
    with open_catalogue(ctx) as catalogue:
        stored = catalogue.get(catalogue.resolve(reference))
        suggestion = suggest_grade(stored.card)
        if suggestion is None:
            console.print("no suggestion: the card lacks a 版本类型 or a date the rules can use")
            raise typer.Exit(1)
        console.print(f"{suggestion.label}  (rule {suggestion.rule_id})\n{suggestion.basis}\n{suggestion.explanation}")


# ---- history ---------------------------------------------------------------------------------


@app.command()
def history(ctx: typer.Context, reference: str = typer.Argument(..., help="Card id, 索书号 or 原索书号.")) -> None:
    """Every version of a card: who, when, why."""
    with open_catalogue(ctx) as catalogue:
        card_id = catalogue.resolve(reference)
        table = Table("version", "time (UTC)", "editor", "reason", title=card_id)
        for version in catalogue.history(card_id):
            table.add_row(version.label, version.created, version.editor, version.reason)
        console.print(table)


def _version(text: str) -> int:
    try:
        return int(text.lower().lstrip("v"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a version: write v1, v2 … or 1, 2 …") from None


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
        table = Table("field", "path", version_a, version_b, title=card_id)
        for change in changes:
            table.add_row(change.label, change.path, _show(change.old), _show(change.new))
        console.print(table if changes else "no differences")


def _show(value) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# ---- maintenance ----------------------------------------------------------------------------


@app.command("rebuild-db")
def rebuild_db(ctx: typer.Context) -> None:
    """Recompute the catalogue DB from OCFL (users and the event log are kept)."""
    with open_catalogue(ctx) as catalogue, _progress("rebuilding") as update:
        count = catalogue.rebuild_db(progress=update, actor=default_editor())
    console.print(f"rebuilt the catalogue DB from {count} OCFL objects")


@app.command()
def fixity(
    ctx: typer.Context,
    ocfl_validate: bool = typer.Option(False, "--ocfl", help="Also run ocfl-py's validator on the whole root."),
) -> None:
    """Re-verify every stored file against its digests and report."""
    with open_catalogue(ctx) as catalogue:
        with _progress("checking") as update:
            report = catalogue.fixity(progress=update, actor=default_editor())
        for problem in report.problems:
            errors.print(f"[red]FAIL[/red] {problem}")
        console.print(f"fixity: {report.objects} objects, {report.files} files, {len(report.problems)} problems")
        failed = not report.ok
        if ocfl_validate:
            problems = catalogue.store.validate()
            for problem in problems:
                errors.print(f"[red]OCFL[/red] {problem}")
            console.print(f"OCFL validation: {'passed' if not problems else f'{len(problems)} errors'}")
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
            errors.print(f"[red]FAIL[/red] {problem}")
        finished = sorted(set(catalogue.recovered) | set(repaired))
        console.print(f"recover: {len(catalogue.store.object_ids())} objects checked, {len(finished)} interrupted "
                      "save(s) finished" + (f": {', '.join(finished)}" if finished else ""), highlight=False)
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
