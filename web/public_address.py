"""The public address: which base URL the site writes into IIIF ids, permalinks and OAI identifiers,
and a warning when readers reach the site at another address.

A configured ``GUJI_PUBLIC_URL`` always wins: IIIF ids and OAI identifiers must stay the same for
harvesters, whichever address a request came in at. Without it, `guji serve` uses the address it
listens at (:func:`served_url`), so ``guji serve --port 8102`` writes ``http://127.0.0.1:8102``.
A request's Host header never becomes the public URL (anyone can send any Host); instead, a
request whose address differs from the public URL is logged once per address and listed for staff
on the dashboard (:func:`seen_elsewhere`), because a viewer page that points at another address
fails for that reader ("Failed to fetch").

Behind a reverse proxy listed in ``GUJI_TRUSTED_PROXIES`` the address is the proxy's
``X-Forwarded-Host`` / ``X-Forwarded-Proto`` (else its Host header: have the proxy pass it on).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from guji.repository import Home, atomic_files, public_url
from guji.repository.config import PUBLIC_URL, public_url_configured
from guji.repository.settings import Settings

log = logging.getLogger("guji.web")
WILDCARDS = {"", "0.0.0.0", "::", "[::]"}
DEFAULT_PORTS = {"http": 80, "https": 443}
SEEN_FILE = "public-address.json"  # in the data home, shared by the worker processes
REMEMBERED = 20  # addresses kept for the dashboard
PROCESS_LIMIT = 64  # addresses one process warns about (a flood of made-up Host headers costs nothing)
HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]{1,253})(:\d{1,5})?$")


def served_url(host: str, port: int) -> str:
    """The URL of the address `guji serve --host HOST --port PORT` listens at. On every interface
    (0.0.0.0, ::) that is this machine's address on its default route."""
    if host in WILDCARDS:
        host = machine_address()
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 address
    return f"http://{host}" if port == 80 else f"http://{host}:{port}"


def machine_address() -> str:
    """The address other machines most likely reach this one at: the source address of the
    default route (connecting a UDP socket only looks the route up; it sends nothing), else the
    loopback address."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1 (RFC 5737): never a real host
            address = probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"
    return address if address not in WILDCARDS else "127.0.0.1"


def startup_lines(host: str, listening: str) -> list[str]:
    """What `guji serve --host HOST` says about its addresses before it starts (`listening`: its
    :func:`served_url`), in Chinese for staff."""
    lines = [f"网站地址：{listening}" + ("（监听本机所有网络地址）" if host in WILDCARDS else "")]
    if public_url_configured():
        lines.append(f"公开地址（IIIF 标识、永久链接、OAI 标识的开头）：{public_url()}（来自 {PUBLIC_URL}）")
    else:
        lines.append(f"公开地址（IIIF 标识、永久链接、OAI 标识的开头）：{listening}（即网站地址；"
                     f"读者用别的地址或域名访问时，请设置 {PUBLIC_URL}，例如 {PUBLIC_URL}=https://guji.example.cn）")
    return lines


def _address(scheme: str, host: str) -> str:
    """scheme://host[:port] in lower case, without the scheme's default port."""
    host = host.lower()
    name, _, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if name and port.isdigit() and int(port) == DEFAULT_PORTS.get(scheme):
        host = name
    return f"{scheme}://{host}"


def _expected() -> str:
    parts = urlsplit(public_url())
    return _address(parts.scheme, parts.netloc)


class PublicAddressCheck:
    """ASGI middleware: note requests that reached the site at an address other than the public URL."""

    def __init__(self, app, home: Home, trusted_proxies: tuple[str, ...] = ()):
        self.app = app
        self.home = home
        self.networks = [ipaddress.ip_network(entry, strict=False) for entry in trusted_proxies]
        self.warned: set[str] = set()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self.check(scope)
        await self.app(scope, receive, send)

    def _from_proxy(self, scope) -> bool:
        client = scope.get("client")
        if not self.networks or not client:
            return False
        try:
            peer = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(peer in network for network in self.networks)

    def check(self, scope) -> None:
        headers = {name: value for name, value in scope.get("headers") or [] if name in
                   (b"host", b"x-forwarded-host", b"x-forwarded-proto")}
        host, scheme = headers.get(b"host", b""), scope.get("scheme", "http")
        if self._from_proxy(scope):
            host = headers.get(b"x-forwarded-host", host).split(b",")[0].strip()
            scheme = headers.get(b"x-forwarded-proto", scheme.encode()).split(b",")[0].strip().decode("latin-1")
        text = host.decode("latin-1")
        if not HOST.match(text) or scheme not in DEFAULT_PORTS:
            return  # no Host (HTTP/1.0) or a malformed one: not an address anybody reads the site at
        seen, expected = _address(scheme, text), _expected()
        if seen == expected or seen in self.warned or len(self.warned) >= PROCESS_LIMIT:
            return
        self.warned.add(seen)
        how = f"按 {PUBLIC_URL}" if public_url_configured() else f"未设置 {PUBLIC_URL}，按 guji serve 的监听地址"
        log.warning("有请求从 %s 访问本站，而公开地址是 %s（%s）：该地址上的阅读器和 IIIF 链接会指向公开地址。"
                    "若读者确实用 %s 访问，请把 %s 设为它", seen, expected, how, seen, PUBLIC_URL)
        try:
            _remember(self.home, seen, expected)
        except OSError as error:
            log.warning("cannot record the address %s for the staff dashboard: %s", seen, error)


def _remember(home: Home, seen: str, expected: str) -> None:
    path = home.root / SEEN_FILE
    record = _read(path)
    if record.get("public_url") != expected:
        record = {"public_url": expected, "seen": {}}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entry = record["seen"].setdefault(seen, {"first": now})
    entry["last"] = now
    kept = sorted(record["seen"].items(), key=lambda item: item[1]["last"], reverse=True)[:REMEMBERED]
    record["seen"] = dict(kept)
    atomic_files.write_text(path, json.dumps(record, ensure_ascii=False, indent=1))


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) and isinstance(record.get("seen"), dict) else {}


def seen_elsewhere(home: Home) -> list[dict]:
    """The addresses requests came in at that differ from the current public URL, latest first:
    [{"address", "first", "last"}] (for the staff dashboard)."""
    record = _read(home.root / SEEN_FILE)
    if record.get("public_url") != _expected():
        return []  # recorded against another public URL: the setting has changed since
    entries = [{"address": address, **times} for address, times in record["seen"].items()
               if isinstance(times, dict) and HOST.match(address.split("://", 1)[-1])]
    return sorted(entries, key=lambda entry: str(entry.get("last")), reverse=True)


def install(app, home: Home, settings: Settings) -> None:
    """Add the check as the outermost middleware (it sees the proxy's own address)."""
    app.add_middleware(PublicAddressCheck, home=home, trusted_proxies=settings.trusted_proxies)
