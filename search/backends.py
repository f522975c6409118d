"""The two search backends — whoosh (the default) and tantivy — and which one to open.

The backends build on search/backend.py (the protocol and what they share); this module is the
only one that names them, so the import-linter contract can keep the two apart and below it.
"""

from __future__ import annotations

from guji.repository import Home, InvalidInput
from guji.repository.settings import Settings, current

from .backend import SearchBackend, index_dir

BACKENDS = ("whoosh", "tantivy")
DEFAULT_BACKEND = "whoosh"


def backend_name(name: str | None = None, settings: Settings | None = None) -> str:
    """`name` (a --backend option), else GUJI_SEARCH_BACKEND."""
    chosen = (name or (settings or current()).search_backend or DEFAULT_BACKEND).strip().lower()
    if chosen not in BACKENDS:
        raise InvalidInput(f"unknown search backend {chosen!r} (GUJI_SEARCH_BACKEND): use one of {', '.join(BACKENDS)}")
    return chosen


def open_backend(home: Home, name: str | None = None, *, writable: bool = False) -> SearchBackend:
    """The configured backend over the index of `home` (created empty when a writer opens it)."""
    chosen = backend_name(name)
    directory = index_dir(home, chosen)
    if chosen == "tantivy":
        from .tantivy_backend import TantivyBackend

        return TantivyBackend(directory, writable=writable)
    from .whoosh_backend import WhooshBackend

    return WhooshBackend(directory, writable=writable)
