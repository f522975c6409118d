"""How fast the `guji` command starts: `--help`, `--version`, a group's help and a command that does
almost nothing (list one card of a small data home), each run as a fresh process, several times.

    .venv/bin/python bench/cli_start.py [--runs 10] [--guji PATH] [--output cli_start.json]

Also runs each with ``python -X importtime`` once and lists the modules that took longest to import
(cumulative), so a slow start can be traced to its cause. `--guji` measures another installation's
console script (e.g. an older checkout) with the same data home. Prints a table and writes
bench/results/cli_start.json. Times vary with the machine's load: report the load average with them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUJI = Path(sys.executable).parent / "guji"
CASES = {
    "guji --help": ["--help"],
    "guji --version": ["--version"],
    "guji cards --help": ["cards", "--help"],
    "guji cards list --limit 1": ["cards", "list", "--limit", "1"],
}
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def run(guji: Path, arguments: list[str], env: dict) -> float | None:
    """Seconds the command took, or None when it failed (an older guji without --version)."""
    started = time.perf_counter()
    result = subprocess.run([str(guji), *arguments], capture_output=True, env=env)
    seconds = time.perf_counter() - started
    return seconds if result.returncode == 0 else None


def import_offenders(guji: Path, arguments: list[str], env: dict, top: int = 8) -> tuple[float, list[dict]]:
    """Total import time and the top-level imports that took longest (cumulative, ms)."""
    script = guji.read_text(encoding="utf-8").splitlines()
    python = script[0].removeprefix("#!")  # the console script's interpreter
    entry = next(line for line in script if line.startswith("from ") and " import " in line)
    module, function = entry.removeprefix("from ").split(" import ")
    code = f"import sys; sys.argv = ['guji', *{arguments!r}]; from {module} import {function}; {function}()"
    result = subprocess.run([python, "-X", "importtime", "-c", code], capture_output=True, text=True, env=env)
    rows = []
    for line in result.stderr.splitlines():
        match = IMPORT_LINE.match(line)
        if match and len(match.group(3)) == 1:  # imported by the program itself, not by another module
            rows.append({"module": match.group(4), "ms": round(int(match.group(2)) / 1000, 1)})
    rows.sort(key=lambda row: -row["ms"])
    return round(sum(row["ms"] for row in rows), 1), rows[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--guji", type=Path, default=GUJI, help="the console script to measure")
    parser.add_argument("--output", default="cli_start.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        env = {**os.environ, "GUJI_HOME": str(Path(work) / "home"), "GUJI_EDITOR": "bench", "COLUMNS": "100"}
        for setup in (["init"], ["cards", "import", str(ROOT / "samples" / "cards.json")]):
            subprocess.run([str(args.guji), *setup], capture_output=True, env=env, check=True)
        results = []
        for name, arguments in CASES.items():
            if run(args.guji, arguments, env) is None:  # also warms the page cache
                print(f"{name}: fails with {args.guji}, left out")
                continue
            times = [run(args.guji, arguments, env) for _ in range(args.runs)]
            imports, offenders = import_offenders(args.guji, arguments, env)
            results.append({"command": name, "median_s": round(statistics.median(times), 3),
                            "min_s": round(min(times), 3), "max_s": round(max(times), 3),
                            "imports_ms": imports, "slowest_imports": offenders})
    load = os.getloadavg()
    print(f"{args.guji} — {args.runs} runs each, load average {load[0]:.1f}")
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'imports ms':>11}  slowest imports (ms)")
    for row in results:
        slowest = ", ".join(f"{item['module']} {item['ms']:.0f}" for item in row["slowest_imports"][:4])
        print(f"{row['command']:<28} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f} "
              f"{row['imports_ms']:>11.0f}  {slowest}")
    report = {"guji": str(args.guji), "runs": args.runs, "load_average": [round(x, 2) for x in load],
              "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                          "system": platform.platform()}, "results": results}
    out = ROOT / "bench" / "results" / args.output
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
