"""Image serving over HTTP on loopback: guji serve vs iipsrv (FastCGI behind lighttpd) vs lighttpd.

    .venv/bin/python bench/images.py [--duration 10] [--connections 16] [--workers 1,2]
                                     [--width 5000] [--height 7000]

One scan-like page (bench/ingest.py's generator, 600 dpi, default 5000×7000) is ingested with
``guji ingest`` into a data home under bench/work/images, and its pyramidal TIFF is built with
``guji iiif pyramids``. Then, in one run, wrk (``--latency``) measures requests/s and p99 for:

- **static tiles** — every 512 px tile of the page's static tile tree, round robin:
  ``guji serve`` (uvicorn workers) and lighttpd serving the same files as plain files;
- **dynamic regions** — random square regions of any size from 513 to 4096 px, anywhere on the
  page, each asked for at 512×512 (so always resampled, always down: Image API 3 answers 400 to a
  `w,h` larger than the region unless it is asked for with `^`, which iipsrv does not require);
  30,000 distinct URLs, so no request is answered from a cache of finished images; warmed up on
  other regions of the same list;
- **dynamic tiles** — the page's 256 px tile grid at scale factors 1–16 (none pre-built: the
  static tiles are 512 px), shuffled and repeated — a viewer on a level-2 service; here both
  servers' caches of decoded tiles and our cache of finished images take part, as they would
  for readers; a second guji server with that cache off (``GUJI_RENDER_CACHE_MB=0``) shows
  what rendering alone sustains.

Dynamic requests go to ``guji serve`` (pyvips from the pyramid) and to iipsrv (FastCGI behind
lighttpd, ``max-procs`` = the worker count) reading the **same** pyramid.tif through its IIIF
interface, with the same URLs (region/size/rotation/quality).

Each server runs with the same process count (1, then 2 by default); a guji worker renders
in one thread per core. Targets (issue 4): static ≥ 2,500 req/s with p99 ≤ 25 ms with ≥ 2
workers; dynamic ≥ 1.0× iipsrv at the same process count. Prints a table and writes
bench/results/images.json. Needs wrk, lighttpd and iipimage-server (make install).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
WORK = ROOT / "bench" / "work" / "images"
RESULTS = ROOT / "bench" / "results" / "images.json"
IIPSRV = Path("/usr/lib/iipimage-server/iipsrv.fcgi")
CARD = "bench-images"
PAGE = "0001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


# ---------------------------------------------------------------- the page


def prepare(width: int, height: int, env: dict) -> Path:
    """Data home with one ingested page and its pyramid; returns the data home."""
    from bench.ingest import make_page

    home = WORK / f"home-{width}x{height}"
    pyramid = home / "derivatives" / CARD / PAGE / "pyramid.tif"
    if pyramid.exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    scans = WORK / f"scans-{width}x{height}"
    scans.mkdir(parents=True, exist_ok=True)
    if not (scans / "0001.tif").exists():
        make_page(scans / "0001.tif", width, height, seed=7)
    run_env = {**env, "GUJI_HOME": str(home)}
    guji = str(BIN / "guji")
    subprocess.run([guji, "init"], check=True, env=run_env, capture_output=True)
    card = WORK / "card.json"
    card.write_text(json.dumps([{"id": CARD, "record_type": "guji", "edition": {"title": "測試頁"}}]), "utf-8")
    subprocess.run([guji, "cards", "import", str(card), "--editor", "bench", "--reason", "bench"], check=True,
                   env=run_env, capture_output=True)
    subprocess.run([guji, "ingest", str(scans), "--id", CARD, "--workers", "1", "--editor", "bench"], check=True,
                   env=run_env, capture_output=True)
    subprocess.run([guji, "iiif", "pyramids", CARD], check=True, env=run_env, capture_output=True)
    return home


def static_paths(page_dir: Path) -> list[str]:
    """Every 512 px tile of the static tree (as the viewer asks for them)."""
    paths = []
    for tile in sorted(page_dir.glob("*,*,*,*/*/0/default.jpg")):
        paths.append("/".join(tile.relative_to(page_dir).parts))
    return paths


def random_regions(width: int, height: int, count: int, seed: int = 1) -> list[str]:
    """Square regions of any size from 513 to 4096 px, anywhere on the page (a researcher's crops,
    a viewer zooming freely); each is asked for at 512×512, so every one is resampled down."""
    rng = random.Random(seed)
    regions = []
    while len(regions) < count:
        side = rng.randrange(513, min(4096, width, height) + 1)
        regions.append(f"{rng.randrange(0, width - side + 1)},{rng.randrange(0, height - side + 1)},{side},{side}")
    return regions


def grid_tiles(width: int, height: int) -> list[str]:
    """The page's 256 px tile grid at scale factors 1–16 — what a viewer asks of a level-2 service
    with 256 px tiles. None of these is pre-built (the static tiles are 512 px)."""
    tiles = []
    for factor in (1, 2, 4, 8, 16):
        step = 256 * factor
        for y in range(0, height, step):
            for x in range(0, width, step):
                w, h = min(step, width - x), min(step, height - y)
                tiles.append(f"{x},{y},{w},{h}/{-(-w // factor)},{-(-h // factor)}")
    random.Random(2).shuffle(tiles)
    return tiles


# ---------------------------------------------------------------- servers


def start_guji(home: Path, port: int, workers: int, env: dict, **settings: str) -> subprocess.Popen:
    run_env = {**env, "GUJI_HOME": str(home), "GUJI_PUBLIC_URL": f"http://127.0.0.1:{port}", **settings}
    process = subprocess.Popen([str(BIN / "guji"), "serve", "--port", str(port), "--workers", str(workers),
                                "--no-access-log"], env=run_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
    except BaseException:  # a server that did not come up is not left running
        stop(process)
        raise
    return process


def start_lighttpd(home: Path, port: int, workers: int) -> subprocess.Popen:
    """lighttpd: /iiif/image/… as plain files from derivatives/, /fcgi-bin/iipsrv.fcgi → iipsrv."""
    run = WORK / f"lighttpd-{port}"
    run.mkdir(parents=True, exist_ok=True)
    derivatives = home / "derivatives"
    config = run / "lighttpd.conf"
    config.write_text(f"""
server.modules = ("mod_alias", "mod_fastcgi", "mod_setenv")
server.document-root = "{run}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{run}/error.log"
server.pid-file = "{run}/lighttpd.pid"
server.max-fds = 4096
server.max-connections = 2048
mimetype.assign = (".jpg" => "image/jpeg", ".json" => "application/json")
alias.url = ("/iiif/image/" => "{derivatives}/")
$HTTP["url"] =~ "^/iiif/image/" {{ setenv.add-response-header = ("Access-Control-Allow-Origin" => "*") }}
fastcgi.server = ("/fcgi-bin/iipsrv.fcgi" => ((
    "socket" => "{run}/iipsrv.socket",
    "bin-path" => "{IIPSRV}",
    "min-procs" => {workers}, "max-procs" => {workers},
    "check-local" => "disable",
    "bin-environment" => ("LOGFILE" => "{run}/iipsrv.log", "VERBOSITY" => "0", "MAX_IMAGE_CACHE_SIZE" => "64",
                          "JPEG_QUALITY" => "85", "MAX_CVT" => "5000", "FILESYSTEM_PREFIX" => "{derivatives}/")
)))
""", encoding="utf-8")
    process = subprocess.Popen(["lighttpd", "-D", "-f", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(f"http://127.0.0.1:{port}/iiif/image/{CARD}/{PAGE}/info.json")
    except BaseException:
        stop(process)
        raise
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------- wrk


def wrk(base: str, paths: list[str], duration: float, connections: int, name: str) -> dict:
    script = WORK / f"{name}.lua"
    listed = ",\n".join(json.dumps(path) for path in paths)
    script.write_text(f"""
local paths = {{
{listed}
}}
local i = 0
function init(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  i = math.random(#paths)
end
function request()
  i = i + 1
  if i > #paths then i = 1 end
  return wrk.format("GET", paths[i])
end
""", encoding="utf-8")
    threads = max(1, min(2, connections))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", "-s",
               str(script), base]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"requests_per_s": rate, "p99_ms": round(p99_ms, 2), "non_2xx": int(errors.group(1)) if errors else 0}


def check(url: str, what: str) -> None:
    status, content_type, body = fetch(url)
    if status != 200 or not content_type.startswith("image/jpeg"):
        raise RuntimeError(f"{what}: {url} answered {status} {content_type}: {body[:200]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default="1,2", help="process counts to compare, e.g. 1,2")
    parser.add_argument("--width", type=int, default=5000)
    parser.add_argument("--height", type=int, default=7000)
    parser.add_argument("--regions", type=int, default=30000,
                        help="distinct random regions (no URL is asked for twice in a run of normal length)")
    args = parser.parse_args()
    for tool in ("wrk", "lighttpd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing: make install (Debian package {tool})")
    if not IIPSRV.exists():
        sys.exit(f"{IIPSRV} is missing: make install (Debian package iipimage-server)")

    env = {k: v for k, v in os.environ.items() if not k.startswith("GUJI_")}
    WORK.mkdir(parents=True, exist_ok=True)
    home = prepare(args.width, args.height, env)
    page_dir = home / "derivatives" / CARD / PAGE
    tiles = static_paths(page_dir)
    regions = [f"{region}/512,512" for region in random_regions(args.width, args.height, args.regions)]
    grid = grid_tiles(args.width, args.height)
    ours_static = [f"/iiif/image/{CARD}/{PAGE}/{path}" for path in tiles]
    pyramid = f"{CARD}/{PAGE}/pyramid.tif"

    def ours(requests: list[str]) -> list[str]:
        return [f"/iiif/image/{CARD}/{PAGE}/{request}/0/default.jpg" for request in requests]

    def iipsrv(requests: list[str]) -> list[str]:
        return [f"/fcgi-bin/iipsrv.fcgi?IIIF={pyramid}/{request}/0/default.jpg" for request in requests]

    rows = []
    for workers in [int(w) for w in args.workers.split(",")]:
        guji_port, uncached_port, light_port = free_port(), free_port(), free_port()
        guji_server = start_guji(home, guji_port, workers, env)
        # The same server without its cache of finished images: what rendering alone sustains.
        uncached = start_guji(home, uncached_port, workers, env, GUJI_RENDER_CACHE_MB="0")
        light = start_lighttpd(home, light_port, workers)
        try:
            guji_base, light_base = f"http://127.0.0.1:{guji_port}", f"http://127.0.0.1:{light_port}"
            uncached_base = f"http://127.0.0.1:{uncached_port}"
            check(guji_base + ours_static[0], "guji static")
            check(light_base + ours_static[0], "lighttpd static")
            check(guji_base + ours(regions)[0], "guji dynamic")
            check(light_base + iipsrv(regions)[0], "iipsrv dynamic")
            runs = [
                ("static tiles", "guji serve", guji_base, ours_static),
                ("static tiles", "lighttpd (plain files)", light_base, ours_static),
                ("dynamic regions", "guji serve (pyvips)", guji_base, ours(regions)),
                ("dynamic regions", "iipsrv (FastCGI, lighttpd)", light_base, iipsrv(regions)),
                ("dynamic tiles", "guji serve (pyvips)", guji_base, ours(grid)),
                ("dynamic tiles", "guji serve, no image cache", uncached_base, ours(grid)),
                ("dynamic tiles", "iipsrv (FastCGI, lighttpd)", light_base, iipsrv(grid)),
            ]
            for kind, server, base, paths in runs:
                # Warm up on other requests than the measured ones (opens the pyramid, fills the
                # decoded-tile caches as a reader would; the regions measured are still new).
                warm = paths[len(paths) // 2:] if kind == "dynamic regions" else paths
                measured_paths = paths[: len(paths) // 2] if kind == "dynamic regions" else paths
                wrk(base, warm, min(2.0, args.duration), args.connections, "warmup")
                measured = wrk(base, measured_paths, args.duration, args.connections, "run")
                rows.append({"kind": kind, "server": server, "processes": workers, **measured})
                print(f"{kind:16} {server:28} {workers} proc  {measured['requests_per_s']:9.0f} req/s  "
                      f"p99 {measured['p99_ms']:7.1f} ms  non-2xx {measured['non_2xx']}", flush=True)
        finally:
            stop(guji_server)
            stop(uncached)
            stop(light)

    print()
    print(f"{'':16} {'server':28} {'proc':>4} {'req/s':>9} {'p99 ms':>8} {'vs iipsrv':>9}")
    for row in rows:
        ratio = " (errors!)" if row["non_2xx"] else ""  # a rate that includes error answers compares nothing
        if row["kind"].startswith("dynamic") and row["server"].startswith("guji"):
            other = next(r for r in rows if r["server"].startswith("iipsrv") and r["kind"] == row["kind"]
                         and r["processes"] == row["processes"])
            row["vs_iipsrv"] = round(row["requests_per_s"] / other["requests_per_s"], 2)
            ratio = f"{row['vs_iipsrv']:.2f}×" + ratio
        print(f"{row['kind']:16} {row['server']:28} {row['processes']:>4} {row['requests_per_s']:>9.0f} "
              f"{row['p99_ms']:>8.1f} {ratio:>9}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "page": {"width": args.width, "height": args.height, "static_tiles": len(tiles), "regions": len(regions),
                 "grid_tiles": len(grid)},
        "duration_s": args.duration, "connections": args.connections, "results": rows,
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
