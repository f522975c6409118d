"""Plain UTF-8 text without page markers: the whole file is one page, one line per line."""

from __future__ import annotations

from .text_model import TextLine, TextPage

_INDENT = "\u3000"


def parse_plain(text: str, source: str) -> list[TextPage]:
    page = TextPage(source, 1, label=None)
    for raw in text.splitlines():
        body = raw.rstrip()
        if not body.strip():
            continue
        content = body.lstrip(_INDENT + " ")
        line = TextLine(indent=len(body) - len(content))
        line.add("text", content)
        page.lines.append(line)
    return [page]
