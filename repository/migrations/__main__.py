"""For developers: write the next schema revision from the difference between the models and the
newest revision.

    .venv/bin/python -m guji.repository.migrations revision "uploads: a table of browser uploads"

Builds a throwaway SQLite database at the newest revision, compares it with the models of
:mod:`repository.catalogue_db` and writes ``versions/NNNN_<slug>.py`` (numbered after the last
one). Read and adjust it — autogenerate does not see renames, and data must be moved by hand —
then run the tests on both engines (``tests/test_migrations.py`` checks that a new database
matches the models on SQLite and PostgreSQL).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from . import config, head


def revision(message: str) -> Path:
    number = f"{int(head()) + 1:04d}"
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40] or "change"
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'head.sqlite'}")
        with engine.begin() as connection:
            command.upgrade(config(connection), "head")
            script = command.revision(config(connection), message=message, autogenerate=True, rev_id=number)
        engine.dispose()
    written = Path(script.path)
    target = written.with_name(f"{number}_{slug}.py")
    written.rename(target)
    return target


def main(arguments: list[str]) -> int:
    if len(arguments) != 2 or arguments[0] != "revision":
        print(__doc__)
        return 2
    print(f"written: {revision(arguments[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
