"""One-off migration script (issue 14 item 8): install Guji's six top-level folders as ``guji.<package>``.

The folders ``repository/ ingest/ iiif/ search/ web/ metadata_schemas/`` stay where they are; the
installed distribution provides only the ``guji`` package, ``guji.web`` being ``web/`` and so on
(setuptools ``package-dir``), so that installing Guji beside PyPI's ``iiif`` (zimeon's Image API
library) or ``web`` can shadow neither. This script rewrites the tree to match, idempotently:

- every absolute import of the six packages in ``*.py`` (``from web.app import …`` → ``from guji.web.app
  import …``; ``import metadata_schemas`` → ``from guji import metadata_schemas``; ``import iiif.ids`` →
  ``import guji.iiif.ids``, and the file's ``iiif.ids…`` attribute chains with it);
- every dotted module string — in the string literals of ``*.py`` (``"web.staff.queued_jobs.job_failed"``,
  ``[sys.executable, "-m", "web.cli"]``, ``"web.commands:worker_app"``), the code and cog blocks and the
  ``python -m …`` commands of README.md and docs/*.md, the Makefile, ``.importlinter`` and pyproject.toml
  (the script entry point, entry points, package data, [tool.importlinter]) — whose first two parts name a
  module, a folder or a name of the package's ``__init__`` (never ``search.html`` or ``ingest.json``);
- the bare package names inside [tool.importlinter] strings (``"ingest | search"``) and package-data keys;
- pyproject.toml's package mapping: [tool.setuptools] ``packages`` (generated: every folder of the six, data
  folders included) and [tool.setuptools.package-dir], in place of ``packages.find``; and ruff's isort is
  told that ``guji`` is first-party (there is no guji/ folder for it to see), then sorts the imports.

Relative imports, file paths (``web/static/…``, ``ROOT / "web"``) and prose — comments, docstrings,
Markdown text, import-linter contract names — are left alone (``:mod:`ingest.pyramid``` still says which
folder), and so are names already rewritten (``guji.web.cli``): running it again changes nothing. A module name computed
at run time (``".".join(path.parts)``) is not seen: the test tests/test_namespace.py finds what is left
by importing and by reading every import statement.

Run from anywhere, on the whole checkout (tracked and new, not ignored files):

    python3 .ci/namespace_packages.py           # rewrite, list the files changed
    python3 .ci/namespace_packages.py --check   # change nothing; exit 1 and list files if any would change

then ``make install`` (pyproject.toml changed), ``make docs``, ``ruff check .``, ``lint-imports``.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import shutil
import subprocess
import sys
import tokenize
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "guji"
PACKAGES = ("repository", "ingest", "iiif", "search", "web", "metadata_schemas")
SELF = Path(__file__).resolve()
LINE_LENGTH = 120  # ruff's, pyproject.toml

_NAMES = "|".join(PACKAGES)
# a dotted name starting with one of the packages, not part of a longer name, a path or guji.…
DOTTED = re.compile(rf"(?<![\w.\-/\\])({_NAMES})((?:\.[A-Za-z_]\w*)+)")
BARE = re.compile(rf"(?<![\w.\-/\\])({_NAMES})(?![\w\-/])")
# imports inside Markdown code and cog blocks, and inside strings of code (``"from repository import Home"``)
MD_FROM = re.compile(rf"(?<![\w.])(from\s+)({_NAMES})(?=\s+import\b)")
CODE_BLOCK = re.compile(r"(?ms)(^\s*```.*?^\s*```|\[\[\[cog.*?\]\]\])")
RUN_MODULE = re.compile(rf"(?<![\w-])-m\s+(?:{_NAMES})(?:\.\w+)+")
MD_IMPORT = re.compile(rf"(?m)^(\s*(?:>>> |\.\.\. )?)import\s+({_NAMES})(\s+as\s+\w+)?[ \t]*$")


@cache
def _init_names(package: str) -> frozenset[str]:
    """Names a package's __init__ defines, imports or hands out lazily (``_LAZY`` keys)."""
    init = ROOT / package / "__init__.py"
    if not init.is_file():
        return frozenset()
    names: set[str] = set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(target.id for target in targets if isinstance(target, ast.Name))
            if isinstance(node.value, ast.Dict):
                names.update(key.value for key in node.value.keys
                             if isinstance(key, ast.Constant) and isinstance(key.value, str))
    return frozenset(names)


def names_module(package: str, rest: str) -> bool:
    """Whether ``package.rest`` names a module, a folder or a name of the package (not ``search.html``)."""
    second = rest.split(".")[1]
    folder = ROOT / package
    return ((folder / second).is_dir() or (folder / f"{second}.py").is_file()
            or second in _init_names(package))


def rewrite_text(text: str) -> str:
    """The dotted module names of a string, a comment or a document, under the namespace."""
    def dotted(match: re.Match) -> str:
        package, rest = match.groups()
        return f"{NAMESPACE}.{package}{rest}" if names_module(package, rest) else match.group(0)
    return DOTTED.sub(dotted, text)


def rewrite_code(text: str) -> str:
    """Python (or shell) lines in a document: imports and dotted names."""
    text = MD_FROM.sub(lambda m: f"{m.group(1)}{NAMESPACE}.{m.group(2)}", text)
    text = MD_IMPORT.sub(lambda m: f"{m.group(1)}from {NAMESPACE} import {m.group(2)}{m.group(3) or ''}", text)
    return rewrite_text(text)


def rewrite_markdown(text: str) -> str:
    """Code blocks and cog blocks as code; in the text only ``python -m …`` commands."""
    parts = CODE_BLOCK.split(text)  # odd items are the blocks
    for index, part in enumerate(parts):
        parts[index] = rewrite_code(part) if index % 2 else run_module(part)
    return "".join(parts)


def run_module(text: str) -> str:
    """Only the ``python -m …`` commands of prose (Markdown text, docstrings, comments)."""
    return RUN_MODULE.sub(lambda m: rewrite_text(m.group(0)), text)


class Unhandled(Exception):
    """Something the script does not rewrite: said on stderr, for a person to do."""


def rewrite_python(text: str, path: Path) -> str:
    tree = ast.parse(text)
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno: int, col_bytes: int) -> int:  # ast columns count UTF-8 bytes
        line = lines[lineno - 1]
        return starts[lineno - 1] + len(line.encode("utf-8")[:col_bytes].decode("utf-8"))

    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in characters
    bound_through_namespace: set[str] = set()  # `import iiif.ids`: the file's `iiif.…` chains need guji.
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] in PACKAGES:
            start = offset(node.lineno, node.col_offset)
            match = re.compile(r"from\s+").match(text, start)
            if not match or not text.startswith(node.module, match.end()):
                raise Unhandled(f"{path}:{node.lineno}: from-import not on one line")
            edits.append((match.end(), match.end(), f"{NAMESPACE}."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top not in PACKAGES:
                    continue
                start = offset(alias.lineno, alias.col_offset)
                if "." in alias.name:
                    edits.append((start, start, f"{NAMESPACE}."))
                    if not alias.asname:
                        bound_through_namespace.add(top)
                elif len(node.names) == 1:  # import metadata_schemas [as m] → from guji import metadata_schemas [as m]
                    edits.append((offset(node.lineno, node.col_offset), start, f"from {NAMESPACE} import "))
                else:
                    raise Unhandled(f"{path}:{node.lineno}: `import {alias.name}` among other names")
    if bound_through_namespace:
        assigned = {target.id for node in ast.walk(tree) for target in _bound_names(node)}
        if clash := bound_through_namespace & assigned:
            raise Unhandled(f"{path}: {sorted(clash)} is both imported as a package and a variable")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id in bound_through_namespace:
                start = offset(node.value.lineno, node.value.col_offset)
                edits.append((start, start, f"{NAMESPACE}."))
    docstrings = {offset(node.lineno, node.col_offset) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                  and isinstance(node.value.value, str)}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            start = starts[token.start[0] - 1] + token.start[1]
            rewrite = run_module if start in docstrings or token.type == tokenize.COMMENT else rewrite_code
            end = starts[token.end[0] - 1] + token.end[1]
            new = rewrite(token.string)
            if new != token.string:
                edits.append((start, end, new))
    for start, end, replacement in sorted(edits, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _bound_names(node: ast.AST):
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
        yield node
    elif isinstance(node, ast.arg):
        yield ast.Name(id=node.arg)


def packages_list() -> list[str]:
    """Every folder of the six packages holding a file git knows (modules and data: templates, static …)."""
    folders = {Path(name).parent for name in _files() if name.split("/")[0] in PACKAGES}
    names = {".".join((NAMESPACE, *each.parts)) for folder in folders for each in (folder, *folder.parents)
             if each.parts}
    return sorted(names)


# the old table with the comment above it, or the tables this script wrote
SETUPTOOLS = re.compile(r"(?ms)(?:^#[^\n]*\n)*^\[tool\.setuptools\.packages\.find\]\n.*?(?=^\[)"
                        r"|(?:^#[^\n]*\n)*^\[tool\.setuptools\]\n.*?^\[tool\.setuptools\.package-dir\]\n.*?(?=^\[|^#)")


def setuptools_tables() -> str:
    mapping = "".join(f'"{NAMESPACE}.{package}" = "{package}"\n' for package in PACKAGES)
    packages = "".join(f'    "{name}",\n' for name in packages_list())
    return (f"# The distribution installs one package, {NAMESPACE}: {NAMESPACE}.web is web/ and so on, so that no\n"
            "# top-level name can shadow (or be shadowed by) another distribution's (PyPI's iiif, web …). `packages`\n"
            "# is every folder of the six, the folders of data files too (setuptools installs only the files of\n"
            "# packages it knows); .ci/namespace_packages.py wrote it and tests/test_namespace.py checks it.\n"
            f"[tool.setuptools]\npackages = [\n{packages}]\n\n[tool.setuptools.package-dir]\n{mapping}\n")


ISORT = (f"[tool.ruff.lint.isort]\n"
         f"known-first-party = [\"{NAMESPACE}\"]  # no {NAMESPACE}/ folder: web/ is {NAMESPACE}.web\n\n")


def rewrite_pyproject(text: str) -> str:
    text = SETUPTOOLS.sub(lambda _: setuptools_tables(), text, count=1)
    if "[tool.ruff.lint.isort]" not in text:
        text = re.sub(r"(?m)^(?=\[tool\.ruff\.lint\.flake8-bugbear\])", ISORT, text, count=1)
    if "[tool.ruff.lint.isort]" not in text:
        raise Unhandled("pyproject.toml: add [tool.ruff.lint.isort] known-first-party = [\"guji\"]")
    text = rewrite_text(text)
    out, section = [], ""
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            section = line.strip("[]\n ")
        if section == "tool.setuptools.package-data":
            line = re.sub(rf"^({_NAMES})(\s*=)", rf'"{NAMESPACE}.\1"\2', line)
        elif section.startswith("tool.importlinter") and not re.match(r"\s*name\s*=", line):
            line = re.sub(r'"[^"\n]*"', lambda m: BARE.sub(rf"{NAMESPACE}.\1", m.group(0)), line)
        out.append(line)
    return "".join(out)


def rewrite_importlinter_ini(text: str) -> str:
    out = []
    for line in rewrite_text(text).splitlines(keepends=True):
        if not line.lstrip().startswith(("#", ";", "[")) and not re.match(r"\s*name\s*[:=]", line):
            line = BARE.sub(rf"{NAMESPACE}.\1", line)
        out.append(line)
    return "".join(out)


@cache
def _files() -> tuple[str, ...]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True, text=True).stdout
    return tuple(name for name in listed.split("\0") if name and (ROOT / name).is_file())


def targets() -> list[tuple[Path, object]]:
    chosen = []
    for name in _files():
        path = ROOT / name
        top = name.split("/")[0]
        if path == SELF or top in ("samples", "node_modules") or name.startswith("tests/fixtures/"):
            continue
        if name.endswith(".py"):
            chosen.append((path, rewrite_python))
        elif name == "pyproject.toml":
            chosen.append((path, lambda text, _: rewrite_pyproject(text)))
        elif name == ".importlinter":
            chosen.append((path, lambda text, _: rewrite_importlinter_ini(text)))
        elif name == "Makefile" or name == ".ci/run":
            chosen.append((path, lambda text, _: rewrite_text(text)))
        elif name == "README.md" or (top == "docs" and name.endswith(".md")):
            chosen.append((path, lambda text, _: rewrite_markdown(text)))
    return chosen


def sort_imports(names: list[str]) -> str | None:
    """``guji.…`` imports sort where ``web.…`` did not (``from guji import metadata_schemas`` first), and a longer
    one is wrapped: ruff's isort (the checkout's .venv, else on PATH). What went wrong, if anything."""
    venv = ROOT / ".venv" / "bin" / "ruff"
    ruff = str(venv) if venv.exists() else shutil.which("ruff")
    if not ruff:
        return "ruff not found (make install, or run with .venv/bin/python): run `ruff check --select I --fix .`"
    done = subprocess.run([ruff, "check", "--select", "I", "--fix", "--quiet", *names], cwd=ROOT)
    return "ruff could not sort every file's imports: run `ruff check --select I --fix .`" if done.returncode else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    args = parser.parse_args()
    changed, unhandled, before = [], [], {}
    for path, rewrite in targets():
        text = path.read_text(encoding="utf-8")
        try:
            new = rewrite(text, path.relative_to(ROOT))
        except Unhandled as problem:
            unhandled.append(str(problem))
            continue
        if new != text:
            changed.append(str(path.relative_to(ROOT)))
            before[path] = text
            if not args.check:
                path.write_text(new, encoding="utf-8")
    python_files = [name for name in changed if name.endswith(".py")]
    if python_files and not args.check and (problem := sort_imports(python_files)):
        unhandled.append(problem)
    for path, text in before.items():  # what the imports' sorting did not wrap
        old_lines, new = set(text.splitlines()), path.read_text(encoding="utf-8") if not args.check else ""
        unhandled += [f"{path.relative_to(ROOT)}:{number}: longer than {LINE_LENGTH} characters now: wrap it"
                      for number, line in enumerate(new.splitlines(), 1)
                      if path.suffix == ".py" and len(line) > LINE_LENGTH and line not in old_lines]
    for name in changed:
        print(("would change " if args.check else "changed ") + name)
    for problem in unhandled:
        print(f"NOT HANDLED (do it by hand): {problem}", file=sys.stderr)
    print(f"{len(changed)} file(s) {'to change' if args.check else 'changed'}, {len(unhandled)} not handled",
          file=sys.stderr)
    return 1 if unhandled or (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
