"""Kanripo (mandoku) text files: ``<pb:KR1c0004_WYG_001-1a>`` page markers, ``¶`` line ends,
full-width indentation, ``(右行/左行)`` double-column small notes (夹注), ``&KR0518;`` gaiji.

``#`` lines are comments or file properties (``#+TITLE:``), ``:PROPERTIES:`` … ``:END:`` drawers
are metadata, ``*`` lines are an editor's section headings. A note may run over several lines;
``[門@里]`` describes one character by its parts (its parentheses are not a note).
"""

from __future__ import annotations

import re

from .text_model import TextLine, TextPage, TextRefused

# KR1c0004 _ WYG _ 001 - 1a : text id, edition, 卷, 叶 (leaf) and side
PAGE_MARKER = re.compile(r"<pb:([^<>\s]*)>")
_MARKER_PARTS = re.compile(r"^(?P<text>KR[0-9A-Za-z]+)_(?P<edition>[^_]+)_(?P<juan>[^_-]+)-(?P<leaf>\d+[a-z]?)$")
_HEADING = re.compile(r"^(\*+)\s+(.*)$")
_INDENT = "\u3000"


def looks_like_kanripo(text: str) -> bool:
    return "<pb:" in text or "mode: mandoku" in text[:200]


def _marker_fields(marker: str, where: str) -> dict[str, str]:
    match = _MARKER_PARTS.match(marker)
    if not match:
        raise TextRefused([f"{where}：页标记 <pb:{marker}> 不合格式：应为 <pb:KR1c0004_WYG_001-1a>"
                           "（文献_版本_卷-叶 与 a/b 面）"])
    return {"marker": marker, "juan": match["juan"], "leaf": match["leaf"],
            "label": f"{match['juan']}-{match['leaf']}"}


def parse_kanripo(text: str, source: str) -> list[TextPage]:
    """The pages of one Kanripo file, in order; raises TextRefused naming file and line."""
    pages: list[TextPage] = []
    page: TextPage | None = None
    in_note = False
    in_drawer = False
    note_opened_at = 0

    def current(line_number: int) -> TextPage:
        nonlocal page
        if page is None:
            page = TextPage(source, line_number)
            pages.append(page)
        return page

    for line_number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source} 第 {line_number} 行"
        stripped = raw.strip()
        if in_drawer:
            in_drawer = stripped.upper() != ":END:"
            continue
        if stripped.upper() == ":PROPERTIES:":
            in_drawer = True
            continue
        if raw.startswith("#") or "<pb:" in raw and ">" not in raw[raw.index("<pb:"):]:
            if raw.startswith("#"):
                continue
            raise TextRefused([f"{where}：页标记「<pb:」没有用「>」结束"])
        line = TextLine()
        heading = _HEADING.match(raw)
        body = raw
        if heading and not in_note:
            line.role = "heading"
            body = heading.group(2)
        position = 0
        segments: list[tuple[str, str | None]] = []  # (text, marker that follows it)
        for match in PAGE_MARKER.finditer(body):
            segments.append((body[position:match.start()], match.group(1)))
            position = match.end()
        segments.append((body[position:], None))
        first_segment = True
        for segment, marker in segments:
            segment = segment.replace("¶", "")
            if first_segment:
                stripped_indent = segment.lstrip(_INDENT)
                line.indent = len(segment) - len(stripped_indent)
                segment = stripped_indent
                first_segment = False
            in_note, note_opened_at = _pieces(segment, line, in_note, note_opened_at, where, line_number)
            if marker is not None:
                if line.pieces:
                    current(line_number).lines.append(line)
                    line = TextLine()
                fields = _marker_fields(marker, where)
                if page is not None and page.marker is None and page.is_empty():
                    page.marker = fields["marker"]  # content before the first marker joins its page
                else:
                    page = TextPage(source, line_number)
                    pages.append(page)
                for key, value in fields.items():
                    setattr(page, key, value)
        if line.pieces and any(piece[1].strip() for piece in line.pieces):
            current(line_number).lines.append(line)
    if in_note:
        raise TextRefused([f"{source} 第 {note_opened_at} 行：双行夹注的「(」没有用「)」结束"])
    return [page for page in pages if page.marker or not page.is_empty()]


def _pieces(segment: str, line: TextLine, in_note: bool, opened_at: int, where: str,
            line_number: int) -> tuple[bool, int]:
    """Split a stretch of one line into 正文 and 夹注 pieces; returns whether a note is still open."""
    buffer: list[str] = []
    index = 0
    closes = True  # False once no ']' is left: looking again for each '[' would be quadratic
    while index < len(segment):
        char = segment[index]
        if char == "[" and closes:
            close = segment.find("]", index)
            closes = close != -1
            if closes:  # [門@里]: one character described by its parts, brackets and all
                buffer.append(segment[index:close + 1])
                index = close + 1
                continue
        if char == "(" and not in_note:
            line.add("text", "".join(buffer))
            buffer = []
            in_note, opened_at = True, line_number
        elif char == ")" and in_note:
            line.add("note", "".join(buffer))
            buffer = []
            in_note = False
        elif char == ")":
            raise TextRefused([f"{where}：第 {index + 1} 列的「)」前面没有双行夹注的「(」"])
        else:
            buffer.append(char)
        index += 1
    line.add("note" if in_note else "text", "".join(buffer).rstrip(" \t") if not in_note else "".join(buffer))
    return in_note, opened_at
