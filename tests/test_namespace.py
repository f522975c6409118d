"""Guji installs one top-level package, ``guji`` (``guji.web`` is web/, ``guji.iiif`` iiif/ …: pyproject.toml's
package-dir), so that it shares an environment with PyPI's ``iiif`` (zimeon's IIIF Image API library) or ``web``
without shadowing them or being shadowed — and no module of the checkout is loaded a second time under a
top-level name (``python -m pytest`` puts the checkout on sys.path, where ``import web`` would still work)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUJI = Path(sys.executable).parent / "guji"
PACKAGES = ("repository", "ingest", "iiif", "search", "web", "metadata_schemas")
CHECKED = (*PACKAGES, "tests", "bench", ".ci")  # every folder with Python in it
# a string naming a module of the six without guji.: "web.cli", "web.commands:worker_app"
MODULE_STRING = re.compile(rf"({'|'.join(PACKAGES)})\.(\w+)(\.\w+)*(:\w+)?")

# the other distributions' modules are named as strings, which .ci/namespace_packages.py leaves alone
PROBE = """
from importlib import import_module
from pathlib import Path

import guji.iiif.manifest
import guji.web.app

iiif, iiif_request, web = (import_module(name) for name in ("iiif", "iiif.request", "web"))
assert (iiif.FAKE, iiif_request.FAKE, web.FAKE) == ("zimeon's iiif", "zimeon's iiif", "web"), (iiif, web)
assert Path(guji.iiif.manifest.__file__).parts[-2:] == ("iiif", "manifest.py"), guji.iiif.manifest.__file__
assert Path(guji.web.app.__file__).parts[-2:] == ("web", "app.py"), guji.web.app.__file__
print("ok")
"""


def _other_distributions(tmp_path: Path) -> dict:
    """An environment whose first sys.path entry holds other distributions' top-level ``iiif`` and ``web``."""
    site = tmp_path / "site-packages"
    for name, label in (("iiif", "zimeon's iiif"), ("web", "web")):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(f"FAKE = {label!r}\n", encoding="utf-8")
    (site / "iiif" / "request.py").write_text("FAKE = \"zimeon's iiif\"\n", encoding="utf-8")  # zimeon's has one
    return {**os.environ, "PYTHONPATH": str(site)}


def test_guji_and_other_iiif_and_web_packages_import_side_by_side(tmp_path):
    env = _other_distributions(tmp_path)
    probe = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert probe.returncode == 0 and probe.stdout == "ok\n", probe.stderr
    shown = subprocess.run([str(GUJI), "--version"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert shown.returncode == 0 and shown.stdout.strip() == f"guji {version('guji')}", shown.stderr
    for command, listed in (([], "iiif"), (["iiif"], "pyramids")):  # `guji iiif --help` imports guji.iiif.commands
        helped = subprocess.run([str(GUJI), *command, "--help"], env=env, cwd=tmp_path, capture_output=True, text=True)
        assert helped.returncode == 0 and listed in helped.stdout, helped.stderr


def test_no_module_of_the_checkout_is_loaded_outside_guji():
    import guji.web.app  # noqa: F401  most of Guji, beside what the tests run before this one loaded

    folders = [ROOT / package for package in PACKAGES]
    loaded_twice = sorted(name for name, module in list(sys.modules.items())
                          if not name.startswith("guji.") and (file := getattr(module, "__file__", None))
                          and any(Path(file).resolve().is_relative_to(folder) for folder in folders))
    assert not loaded_twice, f"imported without guji.: {loaded_twice}"


def _python_files():
    for folder in CHECKED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_every_import_and_module_name_is_under_guji():
    found = []
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    (match := MODULE_STRING.fullmatch(node.value)) and _is_module(*match.group(1, 2)):
                names = [node.value]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name in names
                      if name.split(".")[0] in PACKAGES]
    assert not found, f"{len(found)} names to write as guji.…, such as: " + "; ".join(found[:20])


def _is_module(package: str, name: str) -> bool:
    return (ROOT / package / name).is_dir() or (ROOT / package / f"{name}.py").is_file()


def test_the_distribution_holds_every_folder_of_the_six_under_guji():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["package-dir"] == {f"guji.{package}": package for package in PACKAGES}
    folders = {".".join(("guji", *folder.relative_to(ROOT).parts))
               for package in PACKAGES for folder in [ROOT / package, *(ROOT / package).rglob("*")]
               if folder.is_dir() and folder.name != "__pycache__"
               and any(child.is_file() for child in folder.iterdir())}
    assert set(setuptools["packages"]) == folders
