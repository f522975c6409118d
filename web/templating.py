"""The Jinja2 environment every page is rendered with: i18n, the signed-in user, safe headers.

Autoescaping is on for every template; nothing in Guji's templates marks user data `|safe`.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from guji.repository import local_time, public_url
from guji.repository.version_reasons import readable_reason

from . import event_labels, i18n
from .static_assets import asset_url

HERE = Path(__file__).parent

# Sent with every page Guji renders: no inline scripts anywhere, frames only from this site
# (the record page embeds the viewer page), no MIME sniffing.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _page_context(request: Request) -> dict:
    language = i18n.language_of(request)
    other = "en" if language == "zh" else "zh"
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return {
        "lang": language,
        "_": i18n.translator(language),
        "toggle_language": other,
        "toggle_url": "/lang?" + urlencode({"to": other, "next": here}),
        "public_url": public_url(),
        "site_name": request.app.state.settings.site_name,  # GUJI_SITE_NAME, e.g. 如皋市图书馆古籍数字典藏
        "staff_user": getattr(request.state, "staff_user", None),
    }


def shown(value) -> str:
    """A card value as text: strings as they are, lists and objects as JSON, nothing as —."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


templates = Jinja2Templates(directory=HERE / "templates", context_processors=[_page_context])
templates.env.filters["shown"] = shown


def static_url(name: str) -> str:
    """/static/NAME with its version, so that browsers may keep it for a year (web/static_assets.py)."""
    return asset_url(f"/static/{name}", HERE / "static" / name)


templates.env.globals["static_url"] = static_url


@pass_context
def local_time_filter(context, value) -> str:
    """A stored UTC stamp as the reader reads it: 2026年12月6日 19:57, Beijing time (GUJI_TIMEZONE)."""
    return local_time.format_time(value, context.get("lang", "zh"))


@pass_context
def local_date_filter(context, value) -> str:
    return local_time.format_date(value, context.get("lang", "zh"))


templates.env.filters["local_time"] = local_time_filter
templates.env.filters["reason"] = readable_reason  # Guji's own reasons of older versions, in Chinese
templates.env.globals["event_kind"] = event_labels.event_kind
templates.env.globals["detail_key"] = event_labels.detail_key
templates.env.filters["local_date"] = local_date_filter


def render(request: Request, name: str, context: dict | None = None, status_code: int = 200):
    response = templates.TemplateResponse(request, name, context or {}, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response
