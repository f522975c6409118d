"""One machine's engines against the engines of a larger site, on the same workload, in one run.

    .venv/bin/python bench/scale.py [--cards 2000] [--revise 500] [--setups sqlite,postgresql] [--no-fsync]

Workloads (each setup gets a fresh data home): import ``--cards`` new cards from XLSX; a batch
revision of ``--revise`` of them (a 修改原因 column, one new version each); ``guji rebuild-db``
(the whole projection recomputed from OCFL and swapped in). The OCFL storage root is the local
file system in every setup, with fsync as a site runs it (``--no-fsync``: without, which leaves
the databases' share of the time; results then go to scale-nofsync.json).

Setups:

* ``sqlite`` — the catalogue DB in the data home (the default);
* ``postgresql`` — a PostgreSQL cluster started for the run (tests/postgres_support.py), with
  fsync and synchronous commit on, over TCP on 127.0.0.1.

More setups (S3-compatible storage, a Redis job queue, several web nodes) plug in as further
entries of :data:`SETUPS`: a context manager that yields the environment variables of that
setup. Prints a table and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

from cards import kanripo_books, write_cards, write_revision  # noqa: E402

from repository import Catalogue, Home  # noqa: E402
from repository.card_import import apply_plan, plan_import  # noqa: E402


@contextlib.contextmanager
def sqlite_setup() -> Iterator[dict[str, str]]:
    yield {}


@contextlib.contextmanager
def postgresql_setup() -> Iterator[dict[str, str]]:
    from postgres_support import PostgresServer, server_binaries

    binaries = server_binaries()
    if binaries is None:
        raise SystemExit("PostgreSQL server binaries are missing: apt-get install postgresql")
    server = PostgresServer(binaries, durable=True)
    try:
        server.start()
        yield {"GUJI_DATABASE_URL": server.new_database()}
    finally:
        server.remove()


# name → context manager yielding the environment of that setup (see the module's docstring)
SETUPS: dict[str, Callable[[], contextlib.AbstractContextManager[dict[str, str]]]] = {
    "sqlite": sqlite_setup,
    "postgresql": postgresql_setup,
}


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def import_file(catalogue: Catalogue, path: Path, expected: str, count: int) -> None:
    plan = plan_import(catalogue, path)
    assert plan.count(expected) == count, (expected, plan.count(expected), plan.bad[:3])
    apply_plan(catalogue, plan, editor="bench")


def run_setup(name: str, cards: int, revise: int, books, durable: bool) -> dict:
    with SETUPS[name]() as environment, tempfile.TemporaryDirectory() as work:
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            folder = Path(work)
            source = folder / "cards.xlsx"
            write_cards(source, cards, books)
            home = Home.resolve(folder / "home")
            Catalogue.init(home).close()
            catalogue = Catalogue.open(home, durable=durable)
            try:
                import_seconds = timed(lambda: import_file(catalogue, source, "create", cards))
                revision = write_revision(catalogue, folder / "revision.xlsx", revise)
                revise_seconds = timed(lambda: import_file(catalogue, revision, "revise", revise))
                rebuild_seconds = timed(catalogue.rebuild_db)
                assert catalogue.count() == cards
            finally:
                catalogue.close()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    return {
        "import_seconds": round(import_seconds, 2),
        "import_cards_per_second": round(cards / import_seconds, 1),
        "batch_revision_seconds": round(revise_seconds, 2),
        "batch_revision_cards_per_second": round(revise / revise_seconds, 1),
        "rebuild_db_seconds": round(rebuild_seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--revise", type=int, default=500)
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of: {', '.join(SETUPS)}")
    parser.add_argument("--no-fsync", action="store_true", help="OCFL writes without fsync (the databases keep theirs)")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.setups.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SETUPS]
    if unknown or args.revise > args.cards:
        parser.error(f"unknown setups {unknown}" if unknown else "--revise cannot exceed --cards")
    books = kanripo_books()
    results = {name: run_setup(name, args.cards, args.revise, books, not args.no_fsync) for name in chosen}

    metrics = list(next(iter(results.values())))
    width = max(len(metric) for metric in metrics)
    print(f"{'':<{width}}  " + "  ".join(f"{name:>12}" for name in chosen))
    for metric in metrics:
        print(f"{metric:<{width}}  " + "  ".join(f"{results[name][metric]:>12}" for name in chosen))
    output = {
        "cards": args.cards,
        "revised": args.revise,
        "ocfl_fsync": not args.no_fsync,
        "setups": results,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    out = ROOT / "bench" / "results" / f"scale{'-nofsync' if args.no_fsync else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(output, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
