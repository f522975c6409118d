"""OCR benchmark: accuracy, speed and memory of every shipped engine on real 古籍 pages, side by side.

- ``siku_1.png`` (文淵閣四庫全書, two leaves on one scan) against its Kanripo transcription
  ``siku_1.gt.txt``: CER on Han characters, raw and with OpenCC t2s on both sides; the same after
  folding 異體字 (the search analyzer's key) — the body text as laid out (版心 left out).
- 七政推步 (open-guji-cv book7, pages 110–119) against the Kanripo text ``KR3f0006_002.txt``: the
  text has only the headings of these table pages, so the CER is the alignment's (ingest.ocr_align):
  each line placed on the OCR, table cells nobody transcribed not counted.
- pages/min with 1 and 2 worker processes on siku_1 and the book7 pages (through ingest.ocr_run's worker code),
  and peak RSS: the workers' peaks (/proc VmHWM) plus the parent's resident memory.

Needs ../shared/corpus. Prints a table and writes bench/results/ocr.json. Run: ``make bench`` or
``.venv/bin/python bench/ocr.py --workers 1,2``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import active_children, get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.ocr_align import align, cer, han_only  # noqa: E402
from ingest.ocr_engine import ENGINES, open_engine  # noqa: E402
from ingest.ocr_image import page_image  # noqa: E402
from ingest.ocr_layout import lay_out  # noqa: E402
from search.analyzer import fold  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "images"
SIKU = CORPUS / "siku_wyg_KR1d0087" / "siku_1.png"
SIKU_GT = CORPUS / "siku_wyg_KR1d0087" / "siku_1.gt.txt"
BOOK7 = sorted((CORPUS / "open-guji-cv" / "book7").glob("06054854.cn_page_1[01]?.png"))
BOOK7_GT = CORPUS / "open-guji-cv" / "book7_kanripo_gt" / "KR3f0006_002.txt"


def kanripo_leaves(text: str) -> dict[str, list[str]]:
    """Leaf ("1a") → its lines, markup removed (notes kept, in their order)."""
    leaves: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        marker = re.match(r"<pb:[^>]*_(\d+)-(\d+[ab])>", line)
        if marker:
            current = marker.group(2)
            leaves[current] = []
            continue
        if current and not line.startswith("#"):
            leaves[current].append(re.sub(r"[()/¶　\s]|&[A-Z0-9]+;", "", line))
    return leaves


def read(engine, path: Path, side: str | None = None, title: str | None = None):
    image, scale, _ = page_image(path)
    started = time.perf_counter()
    raw = engine.recognise(image)
    seconds = time.perf_counter() - started
    return lay_out(raw, image.width, image.height, side=side, title=title), seconds


def siku(engine) -> dict:
    layout, seconds = read(engine, SIKU)
    gt = re.sub(r"<pb:[^>]*>|&[A-Z0-9]+;", "", SIKU_GT.read_text(encoding="utf-8"))
    body = layout.body_text()
    everything = "".join(line.text for line in layout.lines())
    return {"seconds": round(seconds, 1), "characters": len(han_only(gt)),
            "cer_raw": round(cer(gt, body, simplified=False), 4), "cer_t2s": round(cer(gt, body), 4),
            "cer_t2s_with_header": round(cer(gt, everything), 4),
            "cer_t2s_variants": round(cer(fold(han_only(gt)), fold(han_only(body)), simplified=False), 4),
            "headers": [header.to_json() for header in layout.headers]}


def book7(engine) -> dict:
    leaves = kanripo_leaves(BOOK7_GT.read_text(encoding="utf-8"))
    errors = compared = 0
    seconds = 0.0
    for number, path in enumerate(BOOK7):
        leaf = f"{number // 2 + 1}{'a' if number % 2 == 0 else 'b'}"
        layout, spent = read(engine, path, side=leaf[-1], title="七政推步")
        seconds += spent
        whole = f"{number // 2 + 1}a"
        if leaf.endswith("b"):
            continue  # the whole-leaf text of leaf N (on its a marker) is aligned over both scans below
        following = BOOK7[number + 1] if number + 1 < len(BOOK7) else None
        text = layout.body_text()
        if following:
            text += read(engine, following, side="b", title="七政推步")[0].body_text()
        result = align(leaves.get(whole, []), text)
        errors += result.errors
        compared += result.compared
    return {"pages": len(BOOK7), "seconds_per_page": round(seconds / len(BOOK7), 2), "characters": compared,
            "cer_t2s": round(errors / compared, 4) if compared else None}


def _memory_mb(pid: int, field: str) -> float:
    try:
        match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(match.group(1)) / 1024 if match else 0.0


def _peak_rss_mb(workers: list[int]) -> dict:
    """Each worker's peak (VmHWM) and their sum plus what the parent holds now (its own peak was set
    by the accuracy runs before, which load both engines in this process)."""
    peaks = [round(_memory_mb(pid, "VmHWM")) for pid in workers]
    return {"workers": peaks, "total": round(sum(peaks) + _memory_mb(os.getpid(), "VmRSS"))}


def throughput(name: str, workers: int) -> dict:
    """Pages/min over the book7 pages with `workers` processes, as ocr_run runs them."""
    from ingest import ocr_run

    with tempfile.TemporaryDirectory() as cache:
        tasks = [ocr_run.PageTask("bench", f"{i + 1:04d}", str(path), f"{i:016d}", f"{cache}/{i}.json", "七政推步",
                                  "a" if i % 2 == 0 else "b", None) for i, path in enumerate([SIKU, *BOOK7])]
        threads = max(1, (os.cpu_count() or 1) // workers)
        started = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                 initializer=ocr_run._worker_init, initargs=(name, threads)) as pool:
            results = list(pool.map(ocr_run.read_page, tasks))
            peak = _peak_rss_mb([child.pid for child in active_children()])
        elapsed = time.perf_counter() - started
    failed = [r.problem for r in results if r.problem]
    return {"workers": workers, "threads_per_worker": threads, "pages": len(tasks),
            "pages_per_minute": round(len(tasks) / elapsed * 60, 1), "peak_rss_mb": peak, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "ocr.json"))
    args = parser.parse_args()
    if not SIKU.is_file() or not BOOK7:
        sys.exit(f"the corpus is missing ({CORPUS}): the OCR benchmark needs ../shared/corpus")
    results = {"load_average": os.getloadavg(), "cores": os.cpu_count(), "engines": {}}
    for name in args.engines.split(","):
        engine = open_engine(name, threads=os.cpu_count() or 1)
        entry = {"description": engine.describe().to_json(), "siku_1": siku(engine), "book7": book7(engine)}
        del engine
        entry["throughput"] = [throughput(name, int(w)) for w in args.workers.split(",")]
        results["engines"][name] = entry
    results["load_average_after"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"load average before {results['load_average'][0]:.2f}, after {results['load_average_after'][0]:.2f} "
          f"({results['cores']} cores)")
    print(f"{'engine':14} {'siku CER raw':>12} {'t2s':>6} {'+variants':>9} {'s/page':>7} {'book7 CER':>10} "
          f"{'pages/min (workers)':>22} {'peak RSS MB':>14}")
    for name, entry in results["engines"].items():
        speed = ", ".join(f"{t['pages_per_minute']} ({t['workers']})" for t in entry["throughput"])
        rss = ", ".join(f"{t['peak_rss_mb']['total']:.0f}" for t in entry["throughput"])
        s = entry["siku_1"]
        print(f"{name:14} {s['cer_raw']:>12.3f} {s['cer_t2s']:>6.3f} {s['cer_t2s_variants']:>9.3f} "
              f"{s['seconds']:>7.1f} {entry['book7']['cer_t2s'] or 0:>10.3f} {speed:>22} {rss:>14}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
