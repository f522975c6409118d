"""A pytest plugin for bench/test_suite.py: the CPU time (user + sys of the test process, its threads
and the child processes it waited for) and the wall time of each test, setup and teardown included
(a module or session fixture counts towards the test that first needs it, or last holds it).

    python -m pytest -p pytest_cpu …   (its folder on PYTHONPATH; PYTEST_CPU_OUT names the JSON file)
"""

from __future__ import annotations

import json
import os
import resource
import time

import pytest

_times: dict[str, dict] = {}


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    cpu, wall = _cpu(), time.perf_counter()
    yield
    _times[item.nodeid] = {"cpu_s": round(_cpu() - cpu, 3), "wall_s": round(time.perf_counter() - wall, 3)}


def pytest_sessionfinish(session, exitstatus):
    if output := os.environ.get("PYTEST_CPU_OUT"):
        with open(output, "w", encoding="utf-8") as handle:
            json.dump(_times, handle, ensure_ascii=False)
