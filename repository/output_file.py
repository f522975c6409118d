"""Files Guji writes for people (exports, registers, dossiers, guide cards): whole or not at all.

An export that fails half way (a damaged card, a full disk, Ctrl-C) must not leave a truncated
file where last month's complete one was. :func:`replaced_when_done` hands out a hidden temporary
path beside the target; only when the block finishes is it renamed over the target (one rename).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_when_done(target: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes `target` only if the block raises nothing."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
