"""Chinese first, with an English toggle.

Interface text is written in Chinese in the templates (`{{ _("浏览") }}`); `messages/en.json`
maps each Chinese string to its English form. Catalogue data (titles, names, editions) is never
translated. The language comes from `?lang=` (shareable links), then the `lang` cookie set by
`/lang`, and is Chinese otherwise.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import Request

LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh"
COOKIE = "lang"
MESSAGES = Path(__file__).parent / "messages"


@cache
def catalogue(language: str) -> dict[str, str]:
    path = MESSAGES / f"{language}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def language_of(request: Request) -> str:
    chosen = request.query_params.get("lang") or request.cookies.get(COOKIE) or DEFAULT_LANGUAGE
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def translate(text: str, language: str, **values) -> str:
    """`text` (Chinese) in `language`; `{name}` placeholders are filled from `values`."""
    if language != DEFAULT_LANGUAGE:
        text = catalogue(language).get(text, text)
    return text.format(**values) if values else text


def translator(language: str):
    def _(text: str, **values) -> str:
        return translate(text, language, **values)

    return _
