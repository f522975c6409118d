"""What the test suite costs: CPU time (user + sys of pytest and every process it started and waited
for), wall time, and the costliest tests and test files by CPU time.

    .venv/bin/python bench/test_suite.py [--label after] [--top 20] [--nice 10] [-- PYTEST ARGS…]

Runs ``python -m pytest -q -p no:cacheprovider --durations=0 -p pytest_cpu`` once (under ``nice``: the
machine is shared), prints a table and adds the run under ``--label`` to bench/results/test_suite.json
(runs with other labels are kept, so a before/after pair sits in one file). Arguments after ``--`` go to
pytest (e.g. a single file); pytest's whole output goes to build/test_suite.log. Each test's CPU time
comes from bench/pytest_cpu.py (setup and teardown included: a session fixture counts towards the
first test that needs it). CPU time is the measure to compare: wall time grows with the machine's
load, so the load average is recorded with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "test_suite.json"
LOG = ROOT / "build" / "test_suite.log"  # pytest's whole output, every test's duration included
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def children_cpu() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime, usage.ru_stime


def run(pytest_args: list[str], top: int, nice: int) -> dict:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", "-p", "pytest_cpu",
               *pytest_args]
    if nice:
        command = ["nice", "-n", str(nice), *command]
    with tempfile.TemporaryDirectory() as work:
        per_test_file = Path(work) / "per-test.json"
        # the plugin alone on the path: bench/ itself holds modules named like the packages (ingest.py …)
        shutil.copy(ROOT / "bench" / "pytest_cpu.py", work)
        env = {**os.environ, "PYTEST_CPU_OUT": str(per_test_file),
               "PYTHONPATH": os.pathsep.join(filter(None, [work, os.environ.get("PYTHONPATH")]))}
        user0, sys0 = children_cpu()
        load = os.getloadavg()
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        user1, sys1 = children_cpu()
        per_test = json.loads(per_test_file.read_text(encoding="utf-8")) if per_test_file.exists() else {}
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text(result.stdout + result.stderr, encoding="utf-8")
    per_file: dict[str, float] = defaultdict(float)
    for name, times in per_test.items():
        per_file[name.split("::")[0]] += times["cpu_s"]
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    counts = {kind.rstrip("s") if kind.startswith("error") else kind: int(n) for n, kind in SUMMARY.findall(summary)}
    slowest = sorted(per_test.items(), key=lambda item: -item[1]["cpu_s"])[:top]
    return {
        "command": " ".join(command[command.index("-m") - 1:]).replace(sys.executable, "python"),
        "exit_code": result.returncode,
        "counts": counts,
        "cpu_user_s": round(user1 - user0, 1),
        "cpu_sys_s": round(sys1 - sys0, 1),
        "cpu_s": round(user1 - user0 + sys1 - sys0, 1),
        "wall_s": round(wall, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "slowest": [{"test": name, **times} for name, times in slowest],
        "files": [{"file": name, "cpu_s": round(cpu, 1)}
                  for name, cpu in sorted(per_file.items(), key=lambda item: -item[1])[:top]],
        "summary": summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="latest", help="the name this run is kept under in the results")
    parser.add_argument("--top", type=int, default=20, help="how many of the costliest tests and files to list")
    parser.add_argument("--nice", type=int, default=10, help="niceness of the run (0: not niced)")
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()
    report = run(args.pytest_args, args.top, args.nice)
    print(f"{report['command']}")
    print(f"{'exit':<6} {'user s':>8} {'sys s':>7} {'CPU s':>7} {'CPU min':>8} {'wall s':>7}  load  tests")
    counts = ", ".join(f"{n} {kind}" for kind, n in report["counts"].items())
    load = report["load_average_at_start"][0]
    print(f"{report['exit_code']:<6} {report['cpu_user_s']:>8.1f} {report['cpu_sys_s']:>7.1f} {report['cpu_s']:>7.1f} "
          f"{report['cpu_s'] / 60:>8.2f} {report['wall_s']:>7.1f}  {load:>4.1f}  {counts}")
    print(f"\ncostliest {len(report['slowest'])} tests (setup + call + teardown):")
    print(f"{'CPU s':>7} {'wall s':>7}  test")
    for row in report["slowest"]:
        print(f"{row['cpu_s']:>7.2f} {row['wall_s']:>7.2f}  {row['test']}")
    print(f"\ncostliest {len(report['files'])} files:")
    for row in report["files"]:
        print(f"{row['cpu_s']:>7.1f}  {row['file']}")
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {"runs": {}}
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "system": platform.platform()}
    results["runs"][args.label] = report
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS} ({args.label})")


if __name__ == "__main__":
    main()
