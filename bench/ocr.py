"""OCR benchmark: accuracy, speed and memory of every shipped engine on real 古籍 pages, side by side.

- ``siku_1.png`` (文淵閣四庫全書, two leaves on one scan) against its Kanripo transcription
  ``siku_1.gt.txt``: CER on Han characters, raw and with OpenCC t2s on both sides; the same after
  folding 異體字 (the search analyzer's key) — the body text as laid out (版心 left out).
- 七政推步 (open-guji-cv book7, pages 110–119) against the Kanripo text ``KR3f0006_002.txt``: the
  text has only the headings of these table pages, so the CER is the alignment's (ingest.ocr_align):
  each line placed on the OCR, table cells nobody transcribed not counted.
- a real run: ``guji ocr BOOK --workers N --redo`` (1 and 2 workers) on a book of those 11 pages in
  a temporary data home, as its own process: pages/min over the whole command (start to commit), and
  memory of the run's processes (the command and its workers, sampled every 20 ms from /proc): the
  sum of each process's peak (VmHWM — what the target is judged by: no two peaks can add up to more)
  and the largest sum of their resident memory at one moment.

Needs ../shared/corpus. Prints a table and writes bench/results/ocr.json. Run: ``make bench`` or
``.venv/bin/python bench/ocr.py --workers 1,2``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guji.ingest.ocr_align import align, cer, han_only  # noqa: E402
from guji.ingest.ocr_engine import ENGINES, open_engine  # noqa: E402
from guji.ingest.ocr_image import open_page  # noqa: E402
from guji.ingest.ocr_layout import lay_out  # noqa: E402
from guji.ingest.ocr_tiles import read_lines  # noqa: E402
from guji.search.analyzer import fold  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "images"
SIKU = CORPUS / "siku_wyg_KR1d0087" / "siku_1.png"
SIKU_GT = CORPUS / "siku_wyg_KR1d0087" / "siku_1.gt.txt"
BOOK7 = sorted((CORPUS / "open-guji-cv" / "book7").glob("06054854.cn_page_1[01]?.png"))
BOOK7_GT = CORPUS / "open-guji-cv" / "book7_kanripo_gt" / "KR3f0006_002.txt"
BOOK = "bench-ocr"
GUJI = Path(sys.executable).with_name("guji")


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
    """The page as a run reads it (in strips when large: ingest.ocr_tiles), laid out."""
    source = open_page(path)
    started = time.perf_counter()
    raw = read_lines(engine, source)
    seconds = time.perf_counter() - started
    return lay_out(raw, source.width, source.height, side=side, title=title), seconds


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


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of `pid` in kB (empty when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {key: int(value) for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", text, re.MULTILINE)}


def _family(pid: int) -> list[int]:
    """`pid` and every process under it (/proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                todo.extend(int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split())
        except OSError:
            continue
    return found


class Sampler:
    """Memory of a process and its descendants, every 20 ms: each one's peak (VmHWM, the last seen
    while it lived) and the largest sum of their resident memory at one moment."""

    def __init__(self, pid: int):
        self.pid, self.peaks, self.largest_sum = pid, {}, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.is_set():
            total = 0
            for pid in _family(self.pid):
                status = _status(pid)
                total += status.get("VmRSS", 0)
                self.peaks[pid] = max(self.peaks.get(pid, 0), status.get("VmHWM", 0))
            self.largest_sum = max(self.largest_sum, total)
            time.sleep(0.02)

    def stop(self) -> dict:
        self.done.set()
        self.thread.join()
        parent = self.peaks.pop(self.pid, 0)
        workers = sorted((round(kb / 1024) for kb in self.peaks.values() if kb), reverse=True)
        return {"parent": round(parent / 1024), "workers": workers,
                "total": round(parent / 1024) + sum(workers), "largest_sum_at_once": round(self.largest_sum / 1024)}


def make_book(home: Path) -> int:
    """A data home holding one book of siku_1 and the ten book7 pages, ingested."""
    from guji.ingest.pipeline import ingest_book
    from guji.repository import Catalogue, Home

    folder = home.parent / "scans"
    folder.mkdir()
    for number, path in enumerate([SIKU, *BOOK7], start=1):
        shutil.copyfile(path, folder / f"{number:04d}.png")
    catalogue = Catalogue.init(Home.resolve(home))
    card = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))[0]
    catalogue.create({**card, "id": BOOK}, editor="bench", reason="bench")
    ingest_book(catalogue, folder, BOOK, editor="bench", workers=os.cpu_count() or 1)
    catalogue.close()
    return len(BOOK7) + 1


def throughput(home: Path, pages: int, name: str, workers: int) -> dict:
    """`guji ocr BOOK --engine NAME --workers N --redo` as its own process: pages/min and memory."""
    env = {**os.environ, "GUJI_HOME": str(home)}
    started = time.perf_counter()
    process = subprocess.Popen([str(GUJI), "ocr", BOOK, "--engine", name, "--workers", str(workers), "--redo"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(process.pid)
    _, status, _ = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    memory = sampler.stop()
    output = process.stdout.read() + process.stderr.read()
    if status:
        sys.exit(f"guji ocr --engine {name} --workers {workers} failed:\n{output}")
    return {"workers": workers, "threads_per_worker": max(1, (os.cpu_count() or 1) // workers), "pages": pages,
            "seconds": round(elapsed, 1), "pages_per_minute": round(pages / elapsed * 60, 1), "peak_rss_mb": memory}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "ocr.json"))
    parser.add_argument("--note", default="", help="stored with the results, e.g. what else ran on the machine")
    args = parser.parse_args()
    if not SIKU.is_file() or not BOOK7:
        sys.exit(f"the corpus is missing ({CORPUS}): the OCR benchmark needs ../shared/corpus")
    results = {"note": args.note, "load_average": os.getloadavg(), "cores": os.cpu_count(), "engines": {}}
    with tempfile.TemporaryDirectory() as work:
        home = Path(work) / "home"
        pages = make_book(home)
        for name in args.engines.split(","):
            engine = open_engine(name, threads=os.cpu_count() or 1)
            entry = {"description": engine.describe().to_json(), "siku_1": siku(engine), "book7": book7(engine)}
            del engine
            entry["throughput"] = [throughput(home, pages, name, int(w)) for w in args.workers.split(",")]
            results["engines"][name] = entry
    results["load_average_after"] = os.getloadavg()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"load average before {results['load_average'][0]:.2f}, after {results['load_average_after'][0]:.2f} "
          f"({results['cores']} cores)")
    print(f"{'engine':14} {'siku CER raw':>12} {'t2s':>6} {'+variants':>9} {'s/page':>7} {'book7 CER':>10} "
          f"{'pages/min (workers)':>22} {'peak RSS MB (workers)':>24}")
    for name, entry in results["engines"].items():
        speed = ", ".join(f"{t['pages_per_minute']} ({t['workers']})" for t in entry["throughput"])
        rss = ", ".join(f"{t['peak_rss_mb']['total']} ({t['workers']})" for t in entry["throughput"])
        s = entry["siku_1"]
        print(f"{name:14} {s['cer_raw']:>12.3f} {s['cer_t2s']:>6.3f} {s['cer_t2s_variants']:>9.3f} "
              f"{s['seconds']:>7.1f} {entry['book7']['cer_t2s'] or 0:>10.3f} {speed:>22} {rss:>24}")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
