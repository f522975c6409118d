"""A package's public names, imported on first use (PEP 562), so that importing the package for one
light module (the CLI's command modules do) does not import its heavy ones."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def lazy_names(package: str, modules: dict[str, str]) -> Callable[[str], object]:
    """The `__getattr__` of `package` for `modules` (public name → the submodule that defines it)."""

    def __getattr__(name: str):
        if name in modules:
            return getattr(import_module(f".{modules[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
