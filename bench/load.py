"""The whole site under load: many readers at once searching, opening records, loading manifests,
tiles and full-size page images — `guji serve` driven by wrk over loopback.

    .venv/bin/python bench/load.py [--duration 60] [--connections 64] [--workers 1,2]
                                   [--scenarios mix,search] [--pages 4]
    .venv/bin/python bench/load.py --duration 10 --workers 2      # a quick check

The data home (bench/work/load/, kept between runs) holds the sample collection (`make run`'s
cards, the 七政推步 scans and text) plus a book of `--pages` generated scan-like pages of
5000×7000 px (bench/ingest.py's generator), all ingested and indexed. Scenarios:

- **mix** — what readers ask of a site, in these shares: 18 % search (the /search page and
  /api/search, 1–4 character queries from the sample text and titles), 14 % record pages
  (/books/{id}), 14 % manifests, 54 % Image API (info.json, 512 px tiles, listed sizes) and 1 %
  full-size downloads (`full/max` of a 5000×7000 page, ≈ 7 MB each);
- **mix-no-full** — the same without the full-size downloads (for comparison);
- **search** — search alone, to see how search scales with the worker processes.

Each scenario runs at each worker count: a 3 s warm-up, then `--duration` seconds measured with
wrk (`--connections` connections, 2 threads; a Lua script walks a shuffled URL list and counts
answers ≥ 400). Targets (issue 11): the mix with 0 errors, p95 ≤ 200 ms and p99 ≤ 500 ms at 64
connections; search throughput growing with the workers. The machine's load average before and
after each run is recorded, because wrk and the server share the cores (and, here, other jobs
share the machine). Prints a table and writes bench/results/load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.images import fetch, free_port, start_guji, stop  # noqa: E402

BIN = Path(sys.executable).parent
WORK = ROOT / "bench" / "work" / "load"
RESULTS = ROOT / "bench" / "results" / "load.json"
BOOK = "bench-load"  # the generated book
SAMPLE_BOOK = "qizheng-tuibu"
SHARES = {"search": 0.18, "record": 0.14, "manifest": 0.14, "image": 0.54, "full": 0.01}
LIST_LENGTH = 20_000


def prepare(pages: int, env: dict) -> Path:
    """The data home, made once: samples + `pages` generated 5000×7000 pages, ingested and indexed."""
    from bench.ingest import make_page

    home = WORK / f"home-{pages}"
    if (home / "READY").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    scans = WORK / f"scans-{pages}"
    scans.mkdir(parents=True, exist_ok=True)
    for number in range(1, pages + 1):
        if not (scans / f"{number:04d}.tif").exists():
            make_page(scans / f"{number:04d}.tif", 5000, 7000, seed=number)
    run_env = {**env, "GUJI_HOME": str(home), "GUJI_EDITOR": "bench"}

    def guji(*args: str) -> None:
        subprocess.run([str(BIN / "guji"), *args], check=True, env=run_env, capture_output=True)

    guji("init")
    guji("cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "bench")
    card = WORK / "card.json"
    card.write_text(json.dumps([{"id": BOOK, "record_type": "guji", "edition": {"title": "測試影像"}}]), "utf-8")
    guji("cards", "import", str(card), "--reason", "bench")
    guji("ingest", str(ROOT / "samples" / "scans" / SAMPLE_BOOK), "--id", SAMPLE_BOOK)
    guji("ingest", str(scans), "--id", BOOK)
    guji("text", "import", SAMPLE_BOOK, str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"))
    guji("reindex")
    (home / "READY").write_text("ok\n")
    return home


def queries(count: int, rng: random.Random) -> list[str]:
    """1–4 character queries cut from the sample text and the card titles."""
    text = (ROOT / "samples" / "texts" / "KR3f0006_002.txt").read_text(encoding="utf-8")
    cards = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
    runs = re.findall(r"[\u4e00-\u9fff]{4,}", text) + [c["edition"]["title"] for c in cards]
    found = []
    while len(found) < count:
        run = rng.choice(runs)
        length = rng.randint(1, min(4, len(run)))
        start = rng.randrange(0, len(run) - length + 1)
        found.append(run[start:start + length])
    return found


def image_paths(home: Path) -> tuple[list[str], list[str]]:
    """(info.json, tiles and listed sizes of every page; full/max of the 5000×7000 pages)."""
    requests, full = [], []
    for book in (SAMPLE_BOOK, BOOK):
        for page_dir in sorted((home / "derivatives" / book).iterdir()):
            if page_dir.name.startswith("."):
                continue
            base = f"/iiif/image/{book}/{page_dir.name}"
            requests.append(f"{base}/info.json")
            for tile in sorted(page_dir.glob("*,*,*,*/*/0/default.jpg")):
                requests.append(f"{base}/{'/'.join(tile.relative_to(page_dir).parts)}")
            for size in sorted(page_dir.glob("full/*,/0/default.jpg")):
                requests.append(f"{base}/{'/'.join(size.relative_to(page_dir).parts)}")
            if book == BOOK:
                full.append(f"{base}/full/max/0/default.jpg")
    return requests, full


def url_list(scenario: str, home: Path, rng: random.Random) -> list[str]:
    cards = [c["id"] for c in json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))] + [BOOK]
    images, full = image_paths(home)
    pools = {
        "search": [f"/search?q={urllib.parse.quote(q)}" if n % 2 else f"/api/search?q={urllib.parse.quote(q)}"
                   for n, q in enumerate(queries(2000, rng))],
        "record": [f"/books/{card}" for card in cards],
        "manifest": [f"/iiif/{book}/manifest" for book in (SAMPLE_BOOK, BOOK)],
        "image": images,
        "full": full,
    }
    shares = {"search": 1.0} if scenario == "search" else dict(SHARES)
    if scenario == "mix-no-full":
        shares["image"] += shares.pop("full")
    urls = []
    for kind, share in shares.items():
        urls += [rng.choice(pools[kind]) for _ in range(round(share * LIST_LENGTH))]
    rng.shuffle(urls)
    return urls


LUA = """
local paths = {%s}
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
function init(args)
  math.randomseed(os.time() + id * 7919)
  i = math.random(#paths)
  failed = 0
end
function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
function response(status, headers, body)
  if status >= 400 then failed = failed + 1 end
end
function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do failures = failures + thread:get("failed") end
  local e = summary.errors
  io.write(string.format("GUJI requests=%%d bytes=%%d duration_us=%%d p50=%%d p90=%%d p95=%%d p99=%%d max=%%d " ..
    "http_errors=%%d socket_errors=%%d timeouts=%%d\\n", summary.requests, summary.bytes, summary.duration,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), latency.max,
    failures, e.connect + e.read + e.write, e.timeout))
end
"""


def wrk(base: str, paths: list[str], duration: float, connections: int) -> dict:
    script = WORK / "load.lua"
    script.write_text(LUA % ",\n".join(json.dumps(path) for path in paths), encoding="utf-8")
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(duration))}s",
               "--timeout", "10s", "-s", str(script), base]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    fields = dict(re.findall(r"(\w+)=(\d+)", out.split("GUJI", 1)[1]))
    value = {name: int(number) for name, number in fields.items()}
    seconds = value["duration_us"] / 1e6
    return {
        "requests": value["requests"], "requests_per_s": round(value["requests"] / seconds, 1),
        "mb_per_s": round(value["bytes"] / seconds / 1e6, 1),
        **{f"{p}_ms": round(value[p] / 1000, 1) for p in ("p50", "p90", "p95", "p99", "max")},
        "errors": value["http_errors"] + value["socket_errors"] + value["timeouts"],
        "http_errors": value["http_errors"], "socket_errors": value["socket_errors"], "timeouts": value["timeouts"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds measured per run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", default="1,2", help="worker process counts, e.g. 1,2")
    parser.add_argument("--scenarios", default="mix,search", help="mix, mix-no-full, search")
    parser.add_argument("--pages", type=int, default=4, help="generated 5000×7000 pages")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: make install (Debian package wrk)")
    scenarios = [name.strip() for name in args.scenarios.split(",")]
    if unknown := set(scenarios) - {"mix", "mix-no-full", "search"}:
        sys.exit(f"unknown scenario(s) {', '.join(sorted(unknown))}: use mix, mix-no-full, search")

    env = {k: v for k, v in os.environ.items() if not k.startswith("GUJI_")}
    WORK.mkdir(parents=True, exist_ok=True)
    home = prepare(args.pages, env)
    full_size = (home / "derivatives" / BOOK / "0001" / "full" / "max" / "0" / "default.jpg").stat().st_size
    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_guji(home, port, workers, env)
        try:
            for scenario in scenarios:
                urls = url_list(scenario, home, random.Random(11))
                for url in sorted(set(urls), key=urls.index)[:50]:
                    status, _, body = fetch(base + url)
                    if status != 200:
                        raise RuntimeError(f"{url} answered {status}: {body[:200]!r}")
                wrk(base, urls, 3, args.connections)  # warm-up: page cache, manifests, search readers
                before = os.getloadavg()
                measured = wrk(base, urls, args.duration, args.connections)
                after = os.getloadavg()
                row = {"scenario": scenario, "workers": workers, **measured,
                       "load_average_before": round(before[0], 2), "load_average_after": round(after[0], 2)}
                rows.append(row)
                print(f"{scenario:12} {workers} workers  {row['requests_per_s']:8.0f} req/s  p95 {row['p95_ms']:7.1f} "
                      f"ms  p99 {row['p99_ms']:7.1f} ms  errors {row['errors']}  load {row['load_average_after']}",
                      flush=True)
        finally:
            stop(server)

    print()
    print(f"{'scenario':12} {'workers':>7} {'req/s':>8} {'MB/s':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'max ms':>7} {'errors':>6} {'load':>5}")
    for row in rows:
        print(f"{row['scenario']:12} {row['workers']:>7} {row['requests_per_s']:>8.0f} {row['mb_per_s']:>6.0f} "
              f"{row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['max_ms']:>7.0f} "
              f"{row['errors']:>6} {row['load_average_after']:>5.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": args.duration, "connections": args.connections,
        "shares": SHARES, "generated_pages": args.pages, "full_max_bytes": full_size, "results": rows,
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
