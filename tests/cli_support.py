"""The `guji` command in tests: in-process through typer's CliRunner (:func:`guji`), or as a real process
(:func:`guji_process`) where the process is the point — serving, kill -9, process trees, the console
script itself. A process costs about 0.6 CPU-seconds of imports before it does anything; in-process the
modules are already loaded.

Both return what a shell sees: ``returncode``, ``stdout``, ``stderr`` (in-process also ``output``, the two
interleaved); with ``check`` (the default) a
command that fails fails the test with its output. The environment of the command is the test's, with
``GUJI_HOME`` (when a home is given), ``GUJI_EDITOR=测试员``, ``COLUMNS=200`` and ``env`` on top.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

GUJI = Path(sys.executable).parent / "guji"


@dataclass(frozen=True)
class Ran:
    """A command run in-process, read like a finished process."""

    returncode: int
    stdout: str
    stderr: str
    output: str  # stdout and stderr as they interleaved


def command_env(home: Path | None, env: dict | None = None) -> dict[str, str | None]:
    """What a test's `guji` command sees on top of the test's environment (None: a variable unset)."""
    return {**({"GUJI_HOME": str(home)} if home is not None else {}), "GUJI_EDITOR": "测试员", "COLUMNS": "200",
            **(env or {})}


def guji(home: Path | None, *args: str, check: bool = True, env: dict | None = None, input: str | None = None) -> Ran:
    """Run `guji ARGS…` in this process, as the console script would (web.cli.root)."""
    from typer.testing import CliRunner

    from guji.web.cli import root

    result = CliRunner(env=command_env(home, env)).invoke(root, list(args), input=input)
    # an exception that escaped the command goes to stderr with its traceback, as Python prints it
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    raised = "".join(traceback.format_exception(*result.exc_info)) if escaped else ""
    ran = Ran(result.exit_code, result.stdout, result.stderr + raised, result.output + raised)
    if check and ran.returncode != 0:
        raise AssertionError(f"guji {' '.join(args)} failed ({ran.returncode}):\n{ran.stdout}\n{ran.stderr}")
    return ran


def guji_process(home: Path | None, *args: str, check: bool = True,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `guji ARGS…` as a real process (the console script of this virtualenv)."""
    full_env = {**os.environ, **command_env(home, env)}
    result = subprocess.run([str(GUJI), *args], capture_output=True, text=True,
                            env={name: value for name, value in full_env.items() if value is not None})
    if check and result.returncode != 0:
        raise AssertionError(f"guji {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def command_paths(group, prefix=(), groups=False):
    """Every command of the assembled CLI (web/cli.py), as the words that run it; with `groups` also
    every group (`cards`, `users` …) before its commands."""
    import typer

    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        is_group = hasattr(command, "list_commands")
        if groups or not is_group:
            yield (*prefix, name)
        if is_group:
            yield from command_paths(command, (*prefix, name), groups)
