"""The `guji` command: every package's commands, assembled in one place.

Each entry names the module that holds a command (in its module-level ``commands`` Typer), so that
`guji ingest` imports the ingest pipeline but not the web app, and `guji --help` imports no more
than the command modules themselves (measured in bench/cli_start.py). This module sits in the top
layer (web), the only one allowed to name every other package; the modules are named as strings
and imported by :class:`repository.cli.GujiGroup` on demand.

docs/cli.md is generated from the help of these commands (`make docs`).
"""

from __future__ import annotations

import typer

from guji.repository.cli import CliState, GujiGroup, report

REPOSITORY = "guji.repository.cli"
OUTPUTS = "guji.repository.outputs.commands"
INGEST = "guji.ingest.commands"
TEXT = "guji.ingest.text_commands"
OCR = "guji.ingest.ocr_commands"
SEARCH = "guji.search.commands"
IIIF = "guji.iiif.commands"
SERVE = "guji.web.commands"
USERS = "guji.web.staff.commands"
JOBS = "guji.web.staff.job_commands"
WORKER = "guji.web.worker"

# name → (module, name in the module's command tree …), or (help, {name: entry}) for a group whose
# commands come from several modules; listed in the order `guji --help` shows them.
COMMANDS = {
    "init": (REPOSITORY, "init"),
    "cards": ("编目卡片：导入导出、查看修改、定级、导卡、登记目录、撤销。", {
        "import": (REPOSITORY, "cards", "import"),
        "export": (REPOSITORY, "cards", "export"),
        "show": (REPOSITORY, "cards", "show"),
        "list": (REPOSITORY, "cards", "list"),
        "edit": (REPOSITORY, "cards", "edit"),
        "grade": (REPOSITORY, "cards", "grade"),
        "print": (OUTPUTS, "cards", "print"),
        "register": (OUTPUTS, "cards", "register"),
        "withdraw": (OUTPUTS, "cards", "withdraw"),
    }),
    "history": (REPOSITORY, "history"),
    "diff": (REPOSITORY, "diff"),
    "ingest": (INGEST, "ingest"),
    "watch": (INGEST, "watch"),
    "tiles": (INGEST, "tiles"),
    "text": (TEXT, "text"),
    "ocr": (OCR, "ocr"),
    "ocr-report": (OCR, "ocr-report"),
    "search": (SEARCH, "search"),
    "indexer": (SEARCH, "indexer"),
    "reindex": (SEARCH, "reindex"),
    "iiif": (IIIF, "iiif"),
    "dossier": (OUTPUTS, "dossier"),
    "dossier-round": (OUTPUTS, "dossier-round"),
    "export": (OUTPUTS, "export"),
    "validate-xml": (OUTPUTS, "validate-xml"),
    "serve": (SERVE, "serve"),
    "worker": (WORKER, "worker"),
    "jobs": (JOBS, "jobs"),
    "users": (USERS, "users"),
    "rebuild-db": (REPOSITORY, "rebuild-db"),
    "fixity": (REPOSITORY, "fixity"),
    "recover": (REPOSITORY, "recover"),
}

def chinese_help_words() -> None:
    """Typer's and click's fixed words in Chinese (web/cli_chinese.py), just before a help page or an
    error panel is drawn."""
    from .cli_chinese import use_chinese

    use_chinese()


class Guji(GujiGroup):
    """The root group: every command of COMMANDS, and the one CLI error handler."""

    lazy = COMMANDS

    # Typer draws a help page while the command line is read: for `--help` anywhere in it and for a
    # group given no command (click's NoArgsIsHelpError, whose help is drawn when it is raised); usage
    # errors and Ctrl-C are drawn after they are raised here.
    def make_context(self, info_name, args, parent=None, **extra):
        if not args or "--help" in args:
            chinese_help_words()
        try:
            return super().make_context(info_name, args, parent, **extra)
        except (typer.TyperException, typer.Abort):
            chinese_help_words()
            raise

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        if not rest and hasattr(command, "list_commands"):  # `guji cards`: the group's help
            chinese_help_words()
        return name, command, rest

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Abort, KeyboardInterrupt, EOFError):
            chinese_help_words()
            raise


root = typer.Typer(
    cls=Guji,
    help="Guji：古籍与地方文献数字化典藏库。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"guji {version('guji')}")
        raise typer.Exit()


@root.callback()
def main_callback(
    ctx: typer.Context,
    home: str = typer.Option(None, "--home", help="数据目录（默认：$GUJI_HOME，否则 ./guji-data）。"),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="显示版本号后退出。"),
) -> None:
    from guji.repository.settings import current

    ctx.obj = CliState(current(), home)  # the settings main() read for this process


cli = typer.main.get_command(root)  # tests invoke `root` in-process with typer's CliRunner


def main() -> None:
    """The `guji` console script: read the settings once, then run the command."""
    from guji.repository.errors import SettingError
    from guji.repository.process_tree import hold_lifeline
    from guji.repository.settings import Settings, use

    hold_lifeline()  # started by another Guji process (the indexer `guji serve` runs): end with it
    try:
        use(Settings.from_environ())
    except SettingError as error:
        report(error)
        raise SystemExit(error.exit_code) from None
    cli(prog_name="guji")


if __name__ == "__main__":  # python -m guji.web.cli …
    main()
