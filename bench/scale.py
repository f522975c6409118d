"""One machine's engines against the engines of a larger site, on the same workload, in one run.

    .venv/bin/python bench/scale.py [--cards 2000] [--revise 500] [--setups sqlite,postgresql] [--no-fsync]
                                    [--parts catalogue,reads] [--duration 60] [--connections 64]
                                    [--pages 100] [--queue-workers 1,2] [--output scale.json]

Workloads (each setup gets a fresh data home): import ``--cards`` new cards from XLSX; a batch
revision of ``--revise`` of them (a 修改原因 column, one new version each); ``guji rebuild-db``
(the whole projection recomputed from OCFL and swapped in). The OCFL storage root is the local
file system in every setup, with fsync as a site runs it (``--no-fsync``: without, which leaves
the databases' share of the time; results then go to scale-nofsync.json).

Setups:

* ``sqlite`` — the catalogue DB in the data home (the default);
* ``postgresql`` — a PostgreSQL cluster started for the run (tests/postgres_support.py), with
  fsync and synchronous commit on, over TCP on 127.0.0.1.

More setups plug in as further entries of :data:`SETUPS`: a context manager that yields the
environment variables of that setup. Prints a table and writes bench/results/scale.json.

Part ``reads`` (bench/read_nodes.py): ``--connections`` readers for ``--duration`` seconds through
nginx in front of one and then two web nodes on PostgreSQL, and a run in which one of two nodes is
killed half-way; writes bench/results/scale-nodes.json.

Ingest on the shared job queue (``--pages``, 0 to leave it out): a book of ``--pages`` generated
scan-like JPEG pages (bench/ingest.py's pages, 2000 × 3000) ingested as a staff job through a Redis
queue (tests/redis_support.py) by 1, then 2 `guji worker` processes (``--queue-workers``), each into
a fresh data home; the time from the job's start to its row saying done, and the speed-up. With
it, the CPU seconds each kind of process spent meanwhile (the workers with their work horses, and
PostgreSQL, moto's S3 server and Redis when the setup runs them on the same machine), and the
load average at its end: what the two cores were busy with besides the workers.
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

from guji.repository import Catalogue, Home  # noqa: E402
from guji.repository.card_import import apply_plan, plan_import  # noqa: E402


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


@contextlib.contextmanager
def postgresql_s3_redis_setup() -> Iterator[dict[str, str]]:
    """The larger site of docs/scale-out.md ("All together"): PostgreSQL, an S3 API (moto's server,
    in memory) for the storage root and the tiles, and a Redis queue."""
    from redis_support import RedisServer
    from s3_support import TEST_KEYS, S3Server

    from guji.repository.object_bucket import Bucket, S3Location

    s3, redis = S3Server(), RedisServer()
    with postgresql_setup() as database:
        try:
            s3.start()
            redis.start()
            environment = {**database, **TEST_KEYS, "AWS_ENDPOINT_URL": s3.url, "GUJI_QUEUE": redis.url,
                           "GUJI_STORAGE": f"s3://guji-bench-{time.monotonic_ns() % 10**9}/guji"}
            saved = {name: os.environ.get(name) for name in environment}
            os.environ.update(environment)
            try:
                Bucket(S3Location.parse(environment["GUJI_STORAGE"])).create()
            finally:
                _restore(saved)
            yield environment
        finally:
            redis.remove()
            s3.stop()


# name → context manager yielding the environment of that setup (see the module's docstring)
SETUPS: dict[str, Callable[[], contextlib.AbstractContextManager[dict[str, str]]]] = {
    "sqlite": sqlite_setup,
    "postgresql": postgresql_setup,
    "postgresql-s3-redis": postgresql_s3_redis_setup,
}


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def import_file(catalogue: Catalogue, path: Path, expected: str, count: int) -> None:
    plan = plan_import(catalogue, path)
    assert plan.count(expected) == count, (expected, plan.count(expected), plan.bad[:3])
    apply_plan(catalogue, plan, editor="bench")


def run_setup(name: str, cards: int, revise: int, books, durable: bool, pages: int = 0,
              worker_counts: tuple[int, ...] = (1, 2)) -> dict:
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
            _restore(saved)
        queued = queue_ingest(pages, list(worker_counts), environment) if pages else {}
    return {
        **queued,
        "import_seconds": round(import_seconds, 2),
        "import_cards_per_second": round(cards / import_seconds, 1),
        "batch_revision_seconds": round(revise_seconds, 2),
        "batch_revision_cards_per_second": round(revise / revise_seconds, 1),
        "rebuild_db_seconds": round(rebuild_seconds, 2),
    }


def reads(duration: float, connections: int, setups: list[str]) -> None:
    """Part ``reads``: web nodes behind nginx (bench/read_nodes.py) on each setup with a shared database
    (not sqlite); writes scale-nodes.json."""
    from read_nodes import run

    result = {"rows": []}
    for name in [name for name in setups if name != "sqlite"]:
        with SETUPS[name]() as environment:
            measured = run(duration, connections, environment)
        result.update({key: value for key, value in measured.items() if key != "rows"})
        result["rows"] += [{**row, "scenario": f"{name}: {row['scenario']}"} for row in measured["rows"]]
    print(f"\n{'scenario':52} {'nodes':>5} {'req/s':>8} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>6} "
          f"{'load':>5}")
    for row in result["rows"]:
        print(f"{row['scenario']:52} {row['nodes']:>5} {row['requests_per_s']:>8.0f} {row['p50_ms']:>7.1f} "
              f"{row['p95_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['errors']:>6} "
              f"{row.get('load_average_after', 0):>5.1f}")
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    out = ROOT / "bench" / "results" / "scale-nodes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
# the direct children of this process by what they run (their cmdline), for the CPU accounting
ROLES = (("guji worker", "workers"), ("postgres", "postgresql"), ("moto.server", "moto"),
         ("redis-server", "redis"))


def children_cpu() -> dict[str, float]:
    """CPU seconds so far of this process's children, summed by role (:data:`ROLES`), each with its
    whole process tree: its own time, its live descendants' and that of the descendants it has waited
    for (a worker's finished work horses, PostgreSQL's closed backends); ``bench``: this process."""
    import resource

    tick = os.sysconf("SC_CLK_TCK")
    parent, spent, command = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, UnicodeDecodeError):
            continue  # ended meanwhile
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])
        spent[pid] = sum(int(value) for value in fields[11:15]) / tick  # utime stime cutime cstime

    def tree(pid: int) -> float:
        return spent.get(pid, 0.0) + sum(tree(child) for child, up in parent.items() if up == pid)

    usage = resource.getrusage(resource.RUSAGE_SELF)
    totals = {"bench": usage.ru_utime + usage.ru_stime}
    for pid, up in parent.items():
        if up == os.getpid():
            role = next((name for needle, name in ROLES if needle in command.get(pid, "")), "other")
            totals[role] = totals.get(role, 0.0) + tree(pid)
    return totals


def queue_ingest(pages: int, worker_counts: list[int], setup: dict[str, str]) -> dict:
    """Seconds to ingest a book of `pages` pages through the job queue with each number of workers, on
    `setup` (its own Redis when it has none; with the storage in a bucket each worker has a data home of
    its own and they share only the incoming folder and GUJI_BUILD_DIR, as hosts of their own would)."""
    import importlib.util
    import shutil
    import subprocess

    from redis_support import RedisServer

    from guji.repository.process_tree import Child
    from guji.web.staff import jobs

    spec = importlib.util.spec_from_file_location("ingest_bench", ROOT / "bench" / "ingest.py")  # not the package
    ingest_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ingest_bench)
    card = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))[0]

    results = {}
    server = None if setup.get("GUJI_QUEUE") else RedisServer()
    saved = {key: os.environ.get(key) for key in (*setup, "GUJI_HOME", "GUJI_QUEUE", "GUJI_INCOMING", "GUJI_BUILD_DIR")}
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        book = folder / "book"
        book.mkdir()
        for number in range(1, pages + 1):
            ingest_bench.make_page(book / f"{number:04d}.jpg", 2000, 3000, seed=number)
        try:
            if server:
                server.start()
            shared = {"GUJI_QUEUE": setup.get("GUJI_QUEUE") or server.url, "GUJI_INCOMING": str(folder / "incoming")}
            if setup.get("GUJI_STORAGE"):
                shared["GUJI_BUILD_DIR"] = str(folder / "build")
            # the setup's variables first: Home.resolve reads GUJI_DATABASE_URL and GUJI_STORAGE from them
            os.environ.update({**setup, **shared, "GUJI_HOME": str(folder / "home")})
            home = Home.resolve(folder / "home")
            Catalogue.init(home).close()
            catalogue = Catalogue.open(home)
            for count in worker_counts:
                book_id = f"bench-book-{count}"
                catalogue.create({**card, "id": book_id}, editor="bench", reason="bench")
                shutil.copytree(book, folder / "incoming" / book_id)
                own_homes = bool(setup.get("GUJI_STORAGE"))
                # Child: the workers end with this run, however it ends (repository/process_tree.py)
                workers = [Child([str(Path(sys.executable).parent / "guji"), "worker"],
                                            env={**os.environ, "GUJI_HOME": str(folder / f"worker-{number}")
                                                 if own_homes else str(home.root)},
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                           for number in range(1, count + 1)]
                time.sleep(5)  # the workers started and waiting (their start is not the ingest's time)
                start, cpu_before = time.perf_counter(), children_cpu()
                job_id = jobs.start_ingest(catalogue, book_id, book_id, "bench")
                deadline = time.monotonic() + max(600, 10 * pages)  # a job that never ends: say so, do not hang
                pages_done = None  # when the last page was counted: the commit's time follows
                while (row := jobs.job(catalogue, job_id)).status in jobs.ACTIVE:
                    if pages_done is None and row.total and row.done == row.total:
                        pages_done = time.perf_counter()
                    if time.monotonic() > deadline:
                        raise SystemExit(f"queue ingest with {count} worker(s): job #{job_id} still "
                                         f"{row.status} ({row.done}/{row.total}) after {max(600, 10 * pages)} s")
                    time.sleep(0.1)
                end, cpu_after = time.perf_counter(), children_cpu()
                seconds = end - start
                row = jobs.job(catalogue, job_id)
                assert row.status == "done" and catalogue.store.head(book_id) == 2, row.message
                for worker in workers:
                    worker.terminate()
                    worker.wait()
                results[f"queue_{count}_workers_seconds"] = round(seconds, 2)
                results[f"queue_{count}_workers_pages_per_second"] = round(pages / seconds, 2)
                # the book's commit (one worker: the OCFL version, the tiles published) after the last page
                results[f"queue_{count}_workers_commit_seconds"] = round(end - (pages_done or end), 2)
                # where the two cores went meanwhile: the workers (with their work horses), each server
                results[f"queue_{count}_workers_cpu_seconds"] = {
                    role: round(cpu_after[role] - cpu_before.get(role, 0.0), 1) for role in sorted(cpu_after)}
                results[f"queue_{count}_workers_load_average"] = round(os.getloadavg()[0], 2)
            catalogue.close()
        finally:
            if server:
                server.remove()
            _restore(saved)
    if len(worker_counts) > 1:
        first, last = worker_counts[0], worker_counts[-1]
        results[f"queue_speedup_{first}_to_{last}"] = round(results[f"queue_{first}_workers_seconds"]
                                                            / results[f"queue_{last}_workers_seconds"], 2)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--revise", type=int, default=500)
    parser.add_argument("--setups", default=",".join(SETUPS), help=f"comma-separated, of: {', '.join(SETUPS)}")
    parser.add_argument("--no-fsync", action="store_true", help="OCFL writes without fsync (the databases keep theirs)")
    parser.add_argument("--parts", default="catalogue,reads",
                        help="catalogue (the workloads above and the queue ingest), reads (web nodes)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of each read run")
    parser.add_argument("--connections", type=int, default=64, help="readers at once")
    parser.add_argument("--pages", type=int, default=100, help="pages of the queue ingest (0: leave it out)")
    parser.add_argument("--queue-workers", default="1,2", help="numbers of guji worker processes, comma-separated")
    parser.add_argument("--output", help="file name in bench/results (default scale.json, scale-nofsync.json)")
    args = parser.parse_args()
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if parts - {"catalogue", "reads"}:
        parser.error(f"unknown parts {sorted(parts - {'catalogue', 'reads'})}: use catalogue, reads")
    chosen = [name.strip() for name in args.setups.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in SETUPS]
    if unknown or args.revise > args.cards:
        parser.error(f"unknown setups {unknown}" if unknown else "--revise cannot exceed --cards")
    if "reads" in parts:
        reads(args.duration, args.connections, chosen)
    if "catalogue" not in parts:
        return
    books = kanripo_books()
    counts = tuple(int(n) for n in args.queue_workers.split(","))
    results = {name: run_setup(name, args.cards, args.revise, books, not args.no_fsync, args.pages, counts)
               for name in chosen}

    metrics = [metric for metric, value in next(iter(results.values())).items() if not isinstance(value, dict)]
    width = max(len(metric) for metric in metrics)
    print(f"{'':<{width}}  " + "  ".join(f"{name:>12}" for name in chosen))
    for metric in metrics:
        print(f"{metric:<{width}}  " + "  ".join(f"{results[name][metric]:>12}" for name in chosen))
    for name in chosen:
        for metric, value in results[name].items():
            if isinstance(value, dict):  # CPU seconds by process
                print(f"{name} {metric}: " + ", ".join(f"{role} {seconds}" for role, seconds in value.items()))
    output = {
        "cards": args.cards,
        "revised": args.revise,
        "ocfl_fsync": not args.no_fsync,
        "setups": results,
        "queue_ingest_pages": args.pages,
        "note": "a shared, loaded machine: figures are indicative only (see load_average_at_end)",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_end": [round(value, 2) for value in os.getloadavg()],
    }
    out = ROOT / "bench" / "results" / (args.output or f"scale{'-nofsync' if args.no_fsync else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(output, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
