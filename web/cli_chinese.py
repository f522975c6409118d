"""The fixed words of the `guji` command line in Chinese: Typer's help and error panels, and the
sentences of the click that Typer carries inside it (``typer._click``: "Usage:", the help option's
"Show this message and exit.", usage errors such as "No such command 'x'.").

Typer's panel words are module constants of ``typer.rich_utils``, read each time a panel is drawn.
The vendored click writes its sentences as plain English literals (no gettext catalogue), so they
are put into Chinese where they are drawn: the usage line's prefix, the help option's text, and the
message of a usage error just before its panel is printed. A sentence not listed stays as click
wrote it (a later Typer's new message is shown, not lost).

:func:`use_chinese` is called only before a help page or an error panel is drawn (web/cli.py):
importing ``typer.rich_utils`` costs a command that just runs about 40 ms (bench/cli_start.py).
"""

from __future__ import annotations

import re

HELP_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "命令行有误",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "DEPRECATED_STRING": "（已停用）",
    "ABORTED_TEXT": "已中止。",
    "RICH_HELP": "用 [blue]'{command_path} {help_option}'[/] 查看帮助。",
}
USAGE = "用法："
HELP_OPTION = "显示本帮助后退出。"
METAVARS = (("[OPTIONS]", "[选项]"), ("COMMAND [ARGS]...", "命令 [参数]…"))

# click's usage errors: whole message → Chinese (the first pattern that matches)
USAGE_ERRORS = [
    (r"No such command (.+?)\.(?: Did you mean (.+)\?)?", lambda m: f"没有命令 {m[1]}。{_guess(m[2])}"),
    (r"No such option: (\S+)(?: Did you mean (.+)\?)?", lambda m: f"没有选项 {m[1]}。{_guess(m[2])}"),
    (r"No such option: (\S+) \(Possible options: (.+)\)", lambda m: f"没有选项 {m[1]}（可选：{m[2]}）。"),
    (r"Missing option (.+)\.", lambda m: f"缺少选项 {m[1]}。"),
    (r"Missing argument (.+)\.", lambda m: f"缺少参数 {m[1]}。"),
    (r"Missing parameter: (.+)", lambda m: f"缺少 {m[1]}。"),
    (r"Option (.+) requires an argument\.", lambda m: f"选项 {m[1]} 后面要写一个值。"),
    (r"Option (.+) requires (\d+) arguments\.", lambda m: f"选项 {m[1]} 后面要写 {m[2]} 个值。"),
    (r"Option (.+) does not take a value\.", lambda m: f"选项 {m[1]} 不带值。"),
    (r"Got unexpected extra argument(?:s|\(s\))? \((.+)\)", lambda m: f"多余的参数：{m[1]}。"),
    (r"Invalid value for (.+?): (.+)", lambda m: f"{m[1]} 的值不对：{_reason(m[2])}"),
    (r"Invalid value: (.+)", lambda m: f"值不对：{_reason(m[1])}"),
]
# the reason inside "Invalid value for …": Typer's checks of numbers, choices and paths
VALUE_ERRORS = [
    (r"Input should be a valid integer.*", lambda m: "应是整数"),
    (r"Input should be a valid number.*", lambda m: "应是数字"),
    (r"Input should be a valid boolean.*", lambda m: "应是 true 或 false"),
    (r"Input should be greater than or equal to (\S+)", lambda m: f"应不小于 {m[1]}"),
    (r"Input should be greater than (\S+)", lambda m: f"应大于 {m[1]}"),
    (r"Input should be less than or equal to (\S+)", lambda m: f"应不大于 {m[1]}"),
    (r"Input should be less than (\S+)", lambda m: f"应小于 {m[1]}"),
    (r"Value (.+) is not a valid (\w+)\.", lambda m: f"{m[1]} 不是有效的 {m[2]}"),
    (r"(.+) is not one of (.+)\.", lambda m: f"{m[1]} 不在可选值之中：{m[2]}"),
    (r"(?:File|Directory|Path) (.+) does not exist\.?", lambda m: f"{m[1]} 不存在"),
    (r"(?:File|Directory|Path) (.+) is a directory\.?", lambda m: f"{m[1]} 是文件夹，不是文件"),
    (r"(?:File|Directory|Path) (.+) is a file\.?", lambda m: f"{m[1]} 是文件，不是文件夹"),
]
_chinese = [False]


def _guess(suggestion: str | None) -> str:
    return f"是不是 {suggestion}？" if suggestion else ""


def _first(rules, text: str) -> str | None:
    for pattern, chinese in rules:
        match = re.fullmatch(pattern, text, re.S)
        if match:
            return chinese(match)
    return None


def _reason(text: str) -> str:
    return _first(VALUE_ERRORS, text.strip()) or text


def translate(message: str) -> str:
    """A usage error of click in Chinese (unchanged when it is none of the known sentences)."""
    return _first(USAGE_ERRORS, message.strip()) or message


def use_chinese() -> None:
    """Put Typer's panel words and the vendored click's sentences into Chinese (once per process)."""
    try:
        from typer import rich_utils
    except ImportError:  # Typer without rich: click's plain help, nothing to set
        return
    for name, words in HELP_WORDS.items():
        if hasattr(rich_utils, name):
            setattr(rich_utils, name, words)
    if _chinese[0]:
        return
    _chinese[0] = True
    _patch_click()
    drawn = rich_utils.rich_format_error

    def chinese_error(error) -> None:
        message = translate(error.format_message())
        error.format_message = lambda: message  # this error only, as it is drawn
        drawn(error)

    rich_utils.rich_format_error = chinese_error


def _patch_click() -> None:
    try:
        from typer._click.core import Command
        from typer._click.formatting import HelpFormatter
    except ImportError:  # a Typer that no longer carries click: its words are its own
        return
    write_usage = HelpFormatter.write_usage

    def chinese_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        for english, chinese in METAVARS:
            args = args.replace(english, chinese)
        write_usage(self, prog, args, USAGE if prefix is None else prefix)

    HelpFormatter.write_usage = chinese_usage
    help_option = Command.get_help_option

    def chinese_help_option(self, ctx):
        option = help_option(self, ctx)
        if option is not None:
            option.help = HELP_OPTION
        return option

    Command.get_help_option = chinese_help_option
