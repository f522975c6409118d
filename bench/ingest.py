"""Ingest N scan-like 600-dpi pages; compare our pipeline with a bare pyvips script and a Pillow tiler.

    .venv/bin/python bench/ingest.py [--pages 8] [--width 5000] [--height 7000] [--format tif|jpg]
    .venv/bin/python bench/ingest.py --pages 300 --format jpg --methods ours --output ingest-300.json

Generates RGB TIFF (or JPEG) pages (paper-coloured background with noise and dark text-like strokes,
so the JPEG sizes are realistic; beyond `--distinct` pages, the others are byte-level variants of
those, each with its own digest, so a 300-page book does not take an hour to generate), then
measures, each in its own subprocess, on the same pages:

- ``guji ingest``: :func:`ingest.pipeline.ingest_book` (digests, OCFL version, derivatives) into a
  temporary data home, with 1 and with 2 workers;
- ``guji derivatives``: only :func:`ingest.derivatives.build_page` (no digests, no OCFL), with 1
  and with 2 worker processes;
- ``bare pyvips``: a plain script making the same derivatives (dzsave iiif3 512 px tiles, full/max,
  the listed sizes, the thumbnail) — the floor — once as one process with libvips' own threads
  (what a bare script does), once as one process per core, one libvips thread each;
- ``Pillow``: a Pillow-only tiler making the same tiles and sizes.

Peak RSS is the largest sum of RSS over the measured process and all its descendants (sampled
every 20 ms from /proc), so worker processes count. Prints a table and writes
bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (150, 300, 600, 1200)
TILE = 512
QUALITY = 85
THUMB = (200, 300)
CARD = "bench-book"


# ---------------------------------------------------------------- page generation


def make_page(path: Path, width: int, height: int, seed: int) -> None:
    """A scan-like page: warm paper with noise, vertical columns of dark blobby strokes, a frame."""
    import pyvips

    # Strokes: low-resolution noise, enlarged and thresholded → blobs a few pixels to ~40 px wide.
    cell = 6
    small = pyvips.Image.gaussnoise(width // cell + 1, height // cell + 1, sigma=40, mean=128, seed=seed)
    strokes = (small.resize(cell, kernel="linear") > 190).crop(0, 0, width, height)
    # Keep strokes in vertical text columns inside a frame (半葉八行), gaps between columns.
    margin_x, margin_y = width // 10, height // 12
    columns = 8
    col_w = (width - 2 * margin_x) // columns
    mask = pyvips.Image.black(width, height)
    for c in range(columns):
        mask = mask.draw_rect(255, margin_x + c * col_w + col_w // 6, margin_y, col_w * 2 // 3,
                              height - 2 * margin_y, fill=True)
        mask = mask.draw_rect(255, margin_x + c * col_w, margin_y, 4, height - 2 * margin_y, fill=True)
    mask = mask.draw_rect(255, margin_x - 20, margin_y - 20, width - 2 * margin_x + 40,
                          height - 2 * margin_y + 40, fill=False)
    ink = (strokes & mask).cast("uchar") / 255  # 0 or 1
    noise = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0, seed=seed + 1)
    paper = pyvips.Image.black(width, height, bands=3) + [232, 220, 194]
    page = paper + noise.bandjoin([noise, noise]) - ink * [190, 185, 170]
    page = page.cast("uchar").copy(interpretation="srgb", xres=600 / 25.4, yres=600 / 25.4)
    if path.suffix == ".jpg":
        page.jpegsave(str(path), Q=92)
    else:
        page.tiffsave(str(path), compression="none", resunit="inch")


# ---------------------------------------------------------------- methods (run in a subprocess)


def run_ours(pages: Path, work: Path, workers: int) -> None:
    from guji.ingest.pipeline import ingest_book
    from guji.repository import Catalogue, Home

    home = Home.resolve(work / "home")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    card = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))[0]
    catalogue.create({**card, "id": CARD}, editor="bench", reason="bench")
    report = ingest_book(catalogue, pages, CARD, editor="bench", workers=workers)
    assert report.built == len(_sources(pages)), report
    catalogue.close()


def _build_one(source: Path, target: Path) -> None:
    from guji.ingest.derivatives import build_page

    build_page(source, target, object_id=CARD, page=target.name, digest="0" * 128, source_name=source.name)


def _pool(workers: int):
    """Spawned worker processes, one libvips thread each — as the pipeline runs them."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from guji.ingest.page_work import _worker_init

    return ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_init)


def _sources(pages: Path) -> list[Path]:
    return sorted(p for p in pages.iterdir() if p.suffix in (".tif", ".jpg"))


def run_derivatives(pages: Path, work: Path, workers: int) -> None:
    """Only the derivatives (no digests, no OCFL), in `workers` processes like the pipeline."""
    sources = _sources(pages)
    targets = [work / f"{n:04d}" for n in range(1, len(sources) + 1)]
    with _pool(workers) as pool:
        list(pool.map(_build_one, sources, targets))


def _bare_page(source: Path, out: Path) -> None:
    """The plain way: decode once into memory, then every output from that copy."""
    import pyvips

    out.mkdir()
    image = pyvips.Image.new_from_file(str(source), access="sequential").copy_memory()
    image.dzsave(str(out / "page"), layout="iiif3", tile_size=TILE, suffix=f".jpg[Q={QUALITY}]", keep="none")
    full = out / "page" / "full"
    (full / "max" / "0").mkdir(parents=True)
    image.jpegsave(str(full / "max" / "0" / "default.jpg"), Q=QUALITY, keep="none")
    for w in SIZES:
        small = image.thumbnail_image(w, height=10 * image.height)
        for name in (f"{small.width},", f"{small.width},{small.height}"):
            (full / name / "0").mkdir(parents=True)
            small.jpegsave(str(full / name / "0" / "default.jpg"), Q=QUALITY, keep="none")
    image.thumbnail_image(THUMB[0], height=THUMB[1]).jpegsave(str(out / "page" / "thumbnail.jpg"),
                                                               Q=QUALITY, keep="none")


def run_bare(pages: Path, work: Path, workers: int) -> None:
    """One process with libvips' default threads (workers 1), or a process per page per core."""
    sources = _sources(pages)
    targets = [work / f"{n:04d}" for n in range(1, len(sources) + 1)]
    if workers == 1:
        for source, target in zip(sources, targets, strict=True):
            _bare_page(source, target)
        return
    with _pool(workers) as pool:
        list(pool.map(_bare_page, sources, targets))


def run_pillow(pages: Path, work: Path) -> None:
    """IIIF level-0 tiles and sizes with Pillow only (single-threaded, like most Pillow tilers)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None

    def save(image, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "JPEG", quality=QUALITY)

    for n, source in enumerate(_sources(pages), 1):
        out = work / f"{n:04d}" / "page"
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        width, height = image.size
        save(image, out / "full" / "max" / "0" / "default.jpg")
        scale, level = 1, image
        while True:
            region = TILE * scale
            for y in range(0, height, region):
                for x in range(0, width, region):
                    w, h = min(region, width - x), min(region, height - y)
                    tw, th = math.ceil(w / scale), math.ceil(h / scale)
                    tile = level.crop((x // scale, y // scale, x // scale + tw, y // scale + th))
                    save(tile, out / f"{x},{y},{w},{h}" / f"{tw}," / "0" / "default.jpg")
            if level.width <= TILE and level.height <= TILE:
                break
            scale *= 2
            level = image.reduce(scale) if scale <= 8 else level.reduce(2)
        for w in SIZES:
            h = round(height * w / width)
            small = image.resize((w, h), Image.Resampling.LANCZOS, reducing_gap=3.0)
            save(small, out / "full" / f"{w}," / "0" / "default.jpg")
            save(small, out / "full" / f"{w},{h}" / "0" / "default.jpg")
        thumb = image.copy()
        thumb.thumbnail(THUMB)
        save(thumb, out / "thumbnail.jpg")
        (out / "info.json").write_text(json.dumps({"width": width, "height": height}))


# ---------------------------------------------------------------- measuring


def tree_rss(pid: int) -> int:
    """Sum of RSS (bytes) of `pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss.get(current, 0)
        todo.extend(children.get(current, []))
    return total


def measure(method: str, workers: int, pages: Path, work: Path) -> dict:
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--run", method, "--workers", str(workers),
                             "--pages-dir", str(pages), "--work-dir", str(work)], env=env)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    shutil.rmtree(work, ignore_errors=True)
    if status != 0:
        raise SystemExit(f"{method} (workers {workers}) failed with status {status}")
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak / 2**20),
            "max_single_process_rss_mb": round(usage.ru_maxrss / 1024)}


METHODS = [("guji ingest", "ours", 1), ("guji ingest", "ours", 2), ("guji derivatives", "derivatives", 1),
           ("guji derivatives", "derivatives", 2),
           ("bare pyvips", "bare", 1), ("bare pyvips", "bare", 2), ("Pillow", "pillow", 1)]


def make_variant(base: Path, path: Path, number: int) -> None:
    """A copy of `base` with different bytes (and so its own digest): a JPEG comment segment right
    after the start-of-image marker, or 8 pixel bytes of an uncompressed TIFF strip."""
    data = bytearray(base.read_bytes())
    stamp = f"page {number:08d}".encode()
    if base.suffix == ".jpg":
        comment = b"\xff\xfe" + (len(stamp) + 2).to_bytes(2, "big") + stamp
        data[2:2] = comment
    else:
        data[4096:4104] = number.to_bytes(8, "big")
    path.write_bytes(bytes(data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--width", type=int, default=5000)
    parser.add_argument("--height", type=int, default=7000)
    parser.add_argument("--format", choices=["tif", "jpg"], default="tif", help="page format (tif: uncompressed)")
    parser.add_argument("--distinct", type=int, default=16, help="pages generated from scratch; the rest are variants")
    parser.add_argument("--methods", nargs="*", default=["ours", "derivatives", "bare", "pillow"],
                        help="methods to run: ours derivatives bare pillow")
    parser.add_argument("--output", default="ingest.json", help="file name in bench/results/")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--pages-dir", help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()

    logging.getLogger("pyvips").setLevel(logging.ERROR)  # libvips chatters at INFO
    if args.run:  # one measurement, in its own process
        pages, work = Path(args.pages_dir), Path(args.work_dir)
        if args.run == "ours":
            run_ours(pages, work, args.workers)
        elif args.run == "derivatives":
            run_derivatives(pages, work, args.workers)
        elif args.run == "bare":
            run_bare(pages, work, args.workers)
        else:
            run_pillow(pages, work)
        return

    import pyvips

    with tempfile.TemporaryDirectory(prefix="guji-bench-") as tmp:
        tmp_path = Path(tmp)
        pages = tmp_path / "book"
        pages.mkdir()
        started = time.perf_counter()
        for n in range(args.pages):
            path = pages / f"{n + 1:04d}.{args.format}"
            if n < args.distinct:
                make_page(path, args.width, args.height, seed=n * 2 + 1)
            else:
                make_variant(pages / f"{n % args.distinct + 1:04d}.{args.format}", path, n + 1)
        print(f"generated {args.pages} pages of {args.width}×{args.height} RGB {args.format.upper()} in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
        rows = []
        for label, method, workers in METHODS:
            if method not in args.methods:
                continue
            print(f"measuring {label} ({workers} worker{'s' * (workers > 1)}) …", file=sys.stderr)
            row = {"method": label, "workers": workers,
                   **measure(method, workers, pages, tmp_path / f"work-{method}-{workers}")}
            row["pages_per_minute"] = round(args.pages * 60 / row["seconds"], 1)
            rows.append(row)

    def seconds(method: str, workers: int) -> float | None:
        return next((r["seconds"] for r in rows if r["method"] == method and r["workers"] == workers), None)

    bare = seconds("bare pyvips", 1)
    for row in rows:
        row["ratio_to_bare_pyvips"] = round(row["seconds"] / bare, 2) if bare else None
    header = f"{'method':<18} {'workers':>7} {'seconds':>8} {'pages/min':>9} {'× bare':>7} {'peak RSS MB':>11}"
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r['ratio_to_bare_pyvips']:.2f}" if r["ratio_to_bare_pyvips"] else "–"
        print(f"{r['method']:<18} {r['workers']:>7} {r['seconds']:>8.2f} {r['pages_per_minute']:>9.1f} "
              f"{ratio:>7} {r['peak_rss_mb']:>11}")

    one, two = seconds("guji ingest", 1), seconds("guji ingest", 2)
    derivatives, derivatives_2 = seconds("guji derivatives", 1), seconds("guji derivatives", 2)
    bare_2 = seconds("bare pyvips", 2)
    cores = os.cpu_count() or 1

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 2) if a and b else None

    targets = {
        # guji ingest at its default (one worker per core) against the bare script as one writes it
        f"ingest_{cores}_workers_vs_bare_le_1.15": ratio(seconds("guji ingest", cores), bare),
        # … and against the bare script run like the pipeline (one process per core)
        f"ingest_{cores}_workers_vs_bare_{cores}_processes": ratio(seconds("guji ingest", cores), bare_2),
        "speedup_2_workers_ge_1.8": ratio(one, two),
        "derivatives_speedup_2_workers": ratio(derivatives, derivatives_2),
        "peak_rss_mb_le_600": max((r["peak_rss_mb"] for r in rows if r["method"].startswith("guji")), default=None),
    }
    print()
    for key, value in targets.items():
        print(f"{key:<34} {value}")
    result = {
        "pages": args.pages, "distinct_pages": min(args.distinct, args.pages), "format": args.format,
        "width": args.width, "height": args.height, "page_bytes": args.width * args.height * 3,
        "rows": rows, "targets": targets,
        "libvips": ".".join(str(pyvips.version(i)) for i in range(3)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    out = ROOT / "bench" / "results" / args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
