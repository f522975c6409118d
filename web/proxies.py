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

import logging

from fastapi import FastAPI, Request
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from guji.repository.settings import Settings

SETTING = "GUJI_TRUSTED_PROXIES"  # checked in repository/settings.py: addresses or networks
log = logging.getLogger("guji.web")
_warned = False


def install(app: FastAPI, settings: Settings) -> None:
    """Believe X-Forwarded-For (and X-Forwarded-Proto) from the trusted proxies only."""
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))


def client_address(request: Request) -> str:
    """The client's address (the proxy's when the proxy is not trusted: see GUJI_TRUSTED_PROXIES)."""
    global _warned
    address = request.client.host if request.client else "unknown"
    if not _warned and "x-forwarded-for" in request.headers and not request.app.state.settings.trusted_proxies:
        _warned = True
        log.warning("requests carry X-Forwarded-For but %s is not set: if Guji runs behind a reverse proxy, "
                    "name it there, or every client shares the proxy's address (sign-in throttling)", SETTING)
    return address[:64]
