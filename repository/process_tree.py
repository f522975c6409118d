"""Child processes that end with the process that started them.

Guji starts children in several places: `guji serve` its uvicorn workers and the search indexer,
a web worker the staff workspace's ingest job, ingest its page workers, a whoosh rebuild its
segment writers. A child left running after its parent is gone (``kill -9``, a crash, a SIGTERM
that skipped the cleanup) keeps working on a job nobody waits for, holds hundreds of MB, and
races with the next run. Two ways to tie a child to its parent, both surviving SIGKILL:

* :func:`die_with_parent` — called in the child: the kernel signals it when its parent ends
  (Linux ``PR_SET_PDEATHSIG``). The signal follows the parent *thread* that started the child,
  so use it for children started by a thread that lives as long as its process (the main thread:
  multiprocessing pools, uvicorn's supervisor, forks).
* a **lifeline** pipe — :class:`Child` starts a command with the read end of a pipe whose
  write end only the parent holds; :func:`hold_lifeline`, called early in the child, watches it
  and sends the child SIGTERM when the pipe closes, i.e. when the parent process is gone however
  it ended. Any thread of the parent may start such a child (a web request starting an ingest job).
  The write end is closed on exec, but a plain `fork` of the parent (no exec) would hold it too:
  start other children with spawn or subprocess, as Guji does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

LIFELINE_VARIABLE = "GUJI_LIFELINE_FD"
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have this process receive `sig` when `parent` (the pid that started it) ends; at once if it
    has ended already (then this process was handed to init, or a subreaper, before it got here)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:  # no parent-death signal: a thread notices the new parent
        threading.Thread(target=_poll_parent, args=(parent, sig), daemon=True, name="guji-parent-watch").start()
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def _poll_parent(parent: int, sig: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), sig)


class Child(subprocess.Popen):
    """`subprocess.Popen` for a Guji command that calls :func:`hold_lifeline`: the child ends
    (SIGTERM) when this process ends, however it ends. The write end of the pipe stays open here
    until the child has been reaped (by `wait` or `poll`)."""

    def __init__(self, command: Sequence[str], **options):
        read_end, write_end = os.pipe()  # neither is inheritable (PEP 446); pass_fds hands over the read end
        self.lifeline: int | None = write_end
        env = dict(options.pop("env", None) or os.environ)
        env[LIFELINE_VARIABLE] = str(read_end)
        try:
            super().__init__(command, env=env, pass_fds=(read_end, *options.pop("pass_fds", ())), **options)
        except BaseException:
            self._release()
            raise
        finally:
            os.close(read_end)

    def _release(self) -> None:
        if self.lifeline is not None:
            os.close(self.lifeline)
            self.lifeline = None

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        self._release()
        return code

    def poll(self) -> int | None:
        code = super().poll()
        if code is not None:
            self._release()
        return code


def hold_lifeline(sig: int = signal.SIGTERM) -> bool:
    """In a command started as a :class:`Child`: send this process `sig` once the parent is gone.
    Returns whether there was a lifeline to hold (none when a person started the command)."""
    raw = os.environ.pop(LIFELINE_VARIABLE, None)
    if not raw:
        return False
    try:
        fd = int(raw)
        os.set_inheritable(fd, False)  # not handed on to this process's own children
    except (ValueError, OSError):
        return False

    def watch() -> None:
        try:
            while os.read(fd, 1):  # nothing is ever written: this returns b"" when the parent is gone
                pass
        except OSError:
            pass
        os.kill(os.getpid(), sig)

    threading.Thread(target=watch, daemon=True, name="guji-lifeline").start()
    return True


def stop_child(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds; waits for the child either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()
