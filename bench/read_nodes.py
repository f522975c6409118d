"""Readers against one and two web nodes behind nginx, on PostgreSQL (part ``reads`` of bench/scale.py).

The data home: `make run`'s sample collection (cards, the 七政推步 scans with their tiles, its text)
in a fresh PostgreSQL database. Each node is `guji serve --workers 1` with its own index
(GUJI_INDEX_DIR, built by its indexer from the catalogue when the node starts) and the one key file;
nginx runs the configuration of docs/deployment.md (tests/nginx_front.py) in front of them.
wrk drives ``--connections`` clients for ``--duration`` seconds (after a 3 s warm-up) through nginx:

* **mix** — bench/load.py's reader mix without the full-size downloads: search pages and API,
  record pages, manifests, Image API (info.json from the nodes, pre-built tiles and sizes from nginx);
* **dynamic** — only what the nodes answer: search, record pages, manifests, info.json.

Then **kill**: the dynamic mix against two nodes, one of which is killed (SIGKILL to its whole
process group) half-way through; nginx leaves it out. Nothing may be lost: every request is
answered (wrk's error count), `guji fixity` finds every stored file intact and the card export is
the same before and after.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

from bench.images import fetch, free_port, start_guji, stop
from bench.load import WORK, queries, wrk

ROOT = Path(__file__).resolve().parents[1]
BOOK = "qizheng-tuibu"
KEY = "bench-read-nodes-" + "0123456789abcdef" * 3
SHARES = {"mix": {"search": 0.18, "record": 0.14, "manifest": 0.14, "image": 0.54},
          "dynamic": {"search": 0.4, "record": 0.3, "manifest": 0.2, "info": 0.1}}
LIST_LENGTH = 20_000


def prepare(env: dict) -> None:
    def guji(*args: str) -> None:
        subprocess.run([str(Path(sys.executable).parent / "guji"), *args], check=True, env=env,
                       capture_output=True)

    guji("init")
    guji("cards", "import", str(ROOT / "samples" / "cards.json"), "--reason", "bench")
    guji("ingest", str(ROOT / "samples" / "scans" / BOOK), "--id", BOOK, "--workers", "1")
    guji("text", "import", BOOK, str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"))


def url_lists(home: Path, rng: random.Random) -> dict[str, list[str]]:
    cards = [card["id"] for card in json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))]
    info, images = [], []
    for page in sorted(path for path in (home / "derivatives" / BOOK).iterdir() if not path.name.startswith(".")):
        base = f"/iiif/image/{BOOK}/{page.name}"
        info.append(f"{base}/info.json")
        files = sorted(page.glob("*,*,*,*/*/0/default.jpg")) + sorted(page.glob("full/*,/0/default.jpg"))
        images += [f"{base}/{'/'.join(tile.relative_to(page).parts)}" for tile in files]
    pools = {
        "search": [f"/search?q={urllib.parse.quote(q)}" if n % 2 else f"/api/search?q={urllib.parse.quote(q)}"
                   for n, q in enumerate(queries(2000, rng))],
        "record": [f"/books/{card}" for card in cards],
        "manifest": [f"/iiif/{BOOK}/manifest"],  # the book with scans (the others have no manifest)
        "info": info,
        "image": info + images,
    }
    lists = {}
    for scenario, shares in SHARES.items():
        urls = [rng.choice(pools[kind]) for kind, share in shares.items() for _ in range(round(share * LIST_LENGTH))]
        rng.shuffle(urls)
        lists[scenario] = urls
    return lists


def caught_up(port: int) -> bool:
    status, _, body = fetch(f"http://127.0.0.1:{port}/healthz")
    return status == 200 and json.loads(body).get("index_behind") == 0


def wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def snapshot(env: dict) -> tuple[str, int]:
    """(the card export, fixity's exit code)."""
    guji = str(Path(sys.executable).parent / "guji")
    export = subprocess.run([guji, "cards", "export"], check=True, env=env, capture_output=True, text=True).stdout
    fixity = subprocess.run([guji, "fixity"], env=env, capture_output=True, text=True).returncode
    return export, fixity


def run(duration: float, connections: int, setup: dict[str, str]) -> dict:
    """The measurements (see the module's docstring); `setup`: the GUJI_* and AWS_* variables of the
    setup (bench/scale.py: its database, and storage and queue when it has them)."""
    from nginx_front import front

    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="guji-read-nodes-") as work:
        folder = Path(work)
        home, www, key = folder / "guji-data", folder / "www", folder / "session.key"
        key.write_text(KEY + "\n")
        proxy_port = free_port()
        env = {**{name: value for name, value in os.environ.items() if not name.startswith("GUJI_")},
               **setup, "GUJI_HOME": str(home), "GUJI_EDITOR": "bench",
               "GUJI_SESSION_KEY_FILE": str(key), "GUJI_TRUSTED_PROXIES": "127.0.0.1"}
        prepare(env)
        (www / "iiif").mkdir(parents=True)
        (www / "iiif" / "image").symlink_to(home / "derivatives")
        lists = url_lists(home, random.Random(11))
        rows = []

        def nodes_and_front(count: int, label: str):
            ports = [free_port() for _ in range(count)]
            servers = [start_guji(home, port, 1, env, GUJI_INDEX_DIR=str(folder / f"index-{number}"),
                                  GUJI_PUBLIC_URL=f"http://127.0.0.1:{proxy_port}")
                       for number, port in enumerate(ports, start=1)]
            for port in ports:
                wait(lambda port=port: caught_up(port), 300, f"the index of the node on port {port}")
            return servers, front(folder / f"nginx-{label}", [f"127.0.0.1:{port}" for port in ports], proxy_port, www)

        for count in (1, 2):
            servers, proxy = nodes_and_front(count, str(count))
            try:
                with proxy as base:
                    if count == 1:  # every address of the lists answers (a wrong list would measure errors)
                        for url in sorted({url for urls in lists.values() for url in urls}):
                            status = fetch(base + url)[0]
                            if status != 200:
                                raise RuntimeError(f"{url} answered {status}")
                    for scenario, urls in lists.items():
                        wrk(base, urls, 3, connections)  # warm-up: page cache, manifests, search readers
                        before = os.getloadavg()[0]
                        measured = wrk(base, urls, duration, connections)
                        rows.append({"scenario": scenario, "nodes": count, **measured,
                                     "load_average_before": round(before, 2),
                                     "load_average_after": round(os.getloadavg()[0], 2)})
                        print(f"{scenario:8} {count} node(s)  {measured['requests_per_s']:8.0f} req/s  "
                              f"p95 {measured['p95_ms']:7.1f} ms  errors {measured['errors']}", flush=True)
            finally:
                for server in servers:
                    stop(server)

        export_before, _ = snapshot(env)
        servers, proxy = nodes_and_front(2, "kill")
        victim = servers[1]
        timer = threading.Timer(duration / 2, lambda: os.killpg(victim.pid, signal.SIGKILL))
        try:
            with proxy as base:
                wrk(base, lists["dynamic"], 3, connections)
                timer.start()
                measured = wrk(base, lists["dynamic"], duration, connections)
                victim.wait()
                survivor = fetch(f"{base}/healthz")[0]
        finally:
            timer.cancel()
            for server in servers:
                stop(server)
        export_after, fixity = snapshot(env)
        killed = {"scenario": "dynamic, a node killed half-way", "nodes": 2, **measured,
                  "killed_after_s": duration / 2, "killed_node_status": victim.returncode,
                  "site_answers_after": survivor,
                  "card_export_unchanged": export_after == export_before, "fixity_exit_code": fixity,
                  "load_average_after": round(os.getloadavg()[0], 2)}
        rows.append(killed)
        print(f"kill     2 node(s)  {measured['requests_per_s']:8.0f} req/s  errors {measured['errors']}  "
              f"export unchanged {killed['card_export_unchanged']}  fixity exit {fixity}", flush=True)
    return {"duration_s": duration, "connections": connections, "workers_per_node": 1, "shares": SHARES,
            "rows": rows}
