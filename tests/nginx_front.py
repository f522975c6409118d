"""nginx in front of web nodes, configured by the file docs/deployment.md shows (its ``nginx`` block):
checked with ``nginx -t`` by tests/test_web_nodes.py, run in front of the nodes by bench/scale.py.

The documented block names two nodes (10.0.0.11:8000, 10.0.0.12:8000), port 80 and /srv/guji/www;
:func:`site_config` puts this run's nodes, port and document root in their places and wraps the block
in a main configuration of its own (no daemon, logs and temporary files in the run's folder). nginx
runs under ``setpriv --pdeathsig SIGTERM``: it ends with the process that started it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "deployment.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DOCUMENTED_NODES = ("10.0.0.11:8000", "10.0.0.12:8000")


def documented_block() -> str:
    """The ``nginx`` code block of docs/deployment.md."""
    return re.search(r"```nginx\n(.*?)```", DOCUMENT.read_text(encoding="utf-8"), re.S).group(1)


def site_config(folder: Path, nodes: list[str], port: int, www: Path) -> Path:
    """The documented configuration for `nodes` (host:port) on 127.0.0.1:`port`, serving `www`;
    written with its main configuration into `folder`; returns the main file."""
    block = documented_block()
    server_lines = [line for line in block.splitlines() if line.strip().startswith(f"server {DOCUMENTED_NODES[0]}")]
    template = server_lines[0]
    block = re.sub(r"^.*server 10\.0\.0\.1[12]:8000.*\n", "", block, flags=re.M)
    block = block.replace("upstream guji_nodes {\n", "upstream guji_nodes {\n" + "".join(
        template.replace(DOCUMENTED_NODES[0], node) + "\n" for node in nodes))
    block = block.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("/srv/guji/www", str(www))
    folder.mkdir(parents=True, exist_ok=True)
    temporary = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in
                          ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = folder / "nginx.conf"
    main.write_text(f"""daemon off;
{"user root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
{temporary}
{block}
}}
""", encoding="utf-8")
    return main


def check(main: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` of the configuration (its output says what is wrong)."""
    return subprocess.run([NGINX, "-t", "-q", "-c", str(main), "-p", str(main.parent)], capture_output=True,
                          text=True)


@contextmanager
def front(folder: Path, nodes: list[str], port: int, www: Path):
    """nginx in front of `nodes` until the block ends; yields its base URL."""
    main = site_config(folder, nodes, port, www)
    checked = check(main)
    if checked.returncode:
        raise RuntimeError(f"nginx refuses the configuration: {checked.stderr}")
    process = subprocess.Popen(["setpriv", "--pdeathsig", "SIGTERM", "--", NGINX, "-c", str(main), "-p",
                                str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not come up: {(folder / 'error.log').read_text()}") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
