"""Which address a request comes from, when Guji sits behind a reverse proxy (nginx, lighttpd).

Behind a proxy every request arrives from the proxy's address, and the client's is in the
``X-Forwarded-For`` header the proxy adds. Anyone can send that header too, so it is believed
only from the proxies named in ``GUJI_TRUSTED_PROXIES`` (addresses or networks, separated by
commas: ``127.0.0.1`` or ``10.0.0.0/8, ::1``; default none — the header is ignored). The client
is then the right-most address in the header that is not itself a trusted proxy (uvicorn's
``ProxyHeadersMiddleware`` reads it so; `guji serve` turns uvicorn's own reading off, which would
otherwise believe the header from 127.0.0.1 whoever sends it).

The sign-in throttle (:mod:`web.staff.throttle`) counts failures per address: without this
setting behind a proxy, every client shares the proxy's address.
"""

from __future__ import annotations

import ipaddress
import logging
import os

from fastapi import FastAPI, Request
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

SETTING = "GUJI_TRUSTED_PROXIES"
log = logging.getLogger("guji.web")
_warned = False


def trusted_proxies() -> list[str]:
    """The addresses and networks of `GUJI_TRUSTED_PROXIES`; a malformed entry is an error naming it."""
    entries = [entry.strip() for entry in (os.environ.get(SETTING) or "").split(",") if entry.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError:
            raise ValueError(f"{SETTING}: {entry!r} is not an IP address or network (e.g. 127.0.0.1 or "
                             "10.0.0.0/8); list the reverse proxies in front of Guji, separated by commas") from None
    return entries


def install(app: FastAPI) -> None:
    """Believe X-Forwarded-For (and X-Forwarded-Proto) from the trusted proxies only."""
    proxies = trusted_proxies()
    if proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)


def client_address(request: Request) -> str:
    """The client's address (the proxy's when the proxy is not trusted: see GUJI_TRUSTED_PROXIES)."""
    global _warned
    address = request.client.host if request.client else "unknown"
    if not _warned and "x-forwarded-for" in request.headers and not os.environ.get(SETTING):
        _warned = True
        log.warning("requests carry X-Forwarded-For but %s is not set: if Guji runs behind a reverse proxy, "
                    "name it there, or every client shares the proxy's address (sign-in throttling)", SETTING)
    return address[:64]
