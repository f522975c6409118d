"""校对 (proofreading) of one scanned page: its lines as staff edit them, the characters the OCR was
unsure of, where each line stands on the scan, and the page's text through the book's versions.

A line is edited as one string: 正文 as it is, a 夹注 in ASCII parentheses with its right and left
sub-columns split by ``/`` — ``侯伯(傳堯舜/五行外)`` — the notation of Kanripo texts, which
:func:`parse_line` turns back into the pieces ``text/pages.json`` stores.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from dataclasses import dataclass, field

from guji.iiif.text_boxes import column_boxes, union
from guji.ingest import PAGES_FILE, PageText
from guji.repository import Catalogue

from ..reading import Line, Run, line_runs

LOW_CONFIDENCE = 0.8  # an OCR character below this is marked for the proofreader
ROLES = ("heading", "margin", "annotation")
ROLE_LABELS = {"heading": "标题", "margin": "版心", "annotation": "眉批"}
_NOTE = re.compile(r"\(([^()]*)\)")


def line_notation(line: dict) -> str:
    """A stored line as staff edit it: 正文 as is, 夹注 in parentheses (``右/左``)."""
    return "".join(text if kind == "text" else f"({text})" for kind, text in line.get("pieces") or [])


def parse_line(text: str, number: int) -> list[list[str]]:
    """Pieces of one edited line; raises ValueError naming the line when its parentheses do not pair."""
    pieces: list[list[str]] = []
    position = 0
    for match in _NOTE.finditer(text):
        if match.start() > position:
            pieces.append(["text", text[position:match.start()]])
        if match.group(1):
            pieces.append(["note", match.group(1)])
        position = match.end()
    if position < len(text):
        pieces.append(["text", text[position:]])
    if any(kind == "text" and ("(" in piece or ")" in piece) for kind, piece in pieces):
        raise ValueError(f"第 {number} 行的括号不成对：夹注请写成 (右行/左行)，正文中的括号请用全角（）")
    return pieces


@dataclass
class ProofLine:
    number: int  # 1-based, as staff count lines
    notation: str
    role: str | None
    shown: Line  # the line with doubtful characters marked
    box: list[int] | None  # where it stands on this scan, [x, y, w, h] in master pixels
    doubtful: int = 0  # characters the OCR was unsure of

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role or "", "")

    def crop(self, book_id: str, page: str, width: int = 400, height: int = 900) -> str | None:
        """The line's region of the scan (Image API), at most `width`×`height`, never enlarged."""
        if not self.box:
            return None
        x, y, w, h = (int(value) for value in self.box)
        if w <= 0 or h <= 0:
            return None
        scale = min(1.0, width / w, height / h)
        size = f"{max(1, round(w * scale))},{max(1, round(h * scale))}"
        return f"/iiif/image/{book_id}/{page}/{x},{y},{w},{h}/{size}/0/default.jpg"


def proof_lines(located: PageText) -> list[ProofLine]:
    """The page's lines for the 校对 form: notation, role, marks and each line's box on this scan."""
    machine = located.authority == "machine"
    lines = []
    for number, (line, chars) in enumerate(zip(located.lines, located.chars, strict=True)):
        def confidence(index: int, chars=chars, line=line) -> float | None:
            char = chars[index] if index < len(chars) else None
            value = char.confidence if char is not None and char.confidence is not None else line.get("confidence")
            return value if machine else None

        def mark(index: int, confidence=confidence) -> str | None:
            value = confidence(index)
            return "low" if value is not None and value < LOW_CONFIDENCE else None

        def detail(index: int, confidence=confidence) -> str | None:
            return f"置信度 {confidence(index):.2f}"

        shown = line_runs(line, number, mark, detail)
        boxes = [box for scan, box in column_boxes(chars) if scan == located.page]
        box = union(boxes) if boxes else line.get("box")
        doubtful = sum(len(run.text) for piece in shown.pieces for column in piece.columns for run in column
                       if run.mark == "low")
        lines.append(ProofLine(number + 1, line_notation(line), line.get("role"), shown, box, doubtful))
    return lines


def edited_lines(texts: list[str], roles: list[str]) -> tuple[list[dict], list[str]]:
    """The lines a 校对 form sent (one string per line, its role beside it) as text/pages.json lines,
    and the problems found (each naming its line). Empty lines are left out."""
    lines, problems = [], []
    for number, text in enumerate(texts, start=1):
        text = text.strip()
        if not text:
            continue
        if any(unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp") for char in text):
            problems.append(f"第 {number} 行含有控制字符或分段符，请删去后再保存")
            continue
        try:
            pieces = parse_line(text, number)
        except ValueError as error:
            problems.append(str(error))
            continue
        line: dict = {"pieces": pieces}
        role = roles[number - 1] if number - 1 < len(roles) else ""
        if role in ROLES:
            line["role"] = role
        lines.append(line)
    return lines, problems


# ---- the page's text through the book's versions ---------------------------------------------------


@dataclass
class PageVersion:
    number: int
    created: str
    editor: str
    reason: str
    authority: str | None  # None: the page had no text in this version
    lines: list[dict] = field(default_factory=list)

    @property
    def texts(self) -> list[str]:
        return [line_notation(line) for line in self.lines]


def _entry(entries: list[dict], page: str) -> dict | None:
    return next((entry for entry in entries if entry.get("page") == page), None)


def page_versions(catalogue: Catalogue, book_id: str, page: str) -> list[PageVersion]:
    """The versions of the book in which the text of scan `page` changed (the first one it had
    included), oldest first."""
    found: list[PageVersion] = []
    last_digest = None
    last_text = None
    for version in catalogue.store.versions(book_id):
        digest = catalogue.store.digests(book_id, version.number).get(PAGES_FILE)
        if digest == last_digest:
            continue
        last_digest = digest
        entry = None
        if digest is not None:
            entries = json.loads(catalogue.store.read_bytes(book_id, PAGES_FILE, version.number)).get("pages") or []
            entry = _entry(entries, page)
        text = json.dumps([entry.get("authority"), entry.get("lines")], ensure_ascii=False) if entry else None
        if text == last_text:
            continue
        last_text = text
        found.append(PageVersion(version.number, version.created, version.editor, version.reason,
                                 (entry.get("authority") or "imported") if entry else None,
                                 list(entry.get("lines") or []) if entry else []))
    return found


def text_at(catalogue: Catalogue, book_id: str, page: str, version: int) -> list[dict] | None:
    """The lines of scan `page`'s own text in `version` (None: no text then)."""
    if PAGES_FILE not in catalogue.store.digests(book_id, version):
        return None
    entries = json.loads(catalogue.store.read_bytes(book_id, PAGES_FILE, version)).get("pages") or []
    entry = _entry(entries, page)
    return list(entry.get("lines") or []) if entry else None


@dataclass
class DiffRow:
    kind: str  # equal | replace | delete | insert
    old: list[Run]
    new: list[Run]
    old_number: int | None = None
    new_number: int | None = None


def _char_runs(text: str, spans: list[tuple[int, int]], mark: str) -> list[Run]:
    runs: list[Run] = []
    position = 0
    for start, end in spans:
        if start > position:
            runs.append(Run(text[position:start]))
        if end > start:
            runs.append(Run(text[start:end], mark))
        position = end
    if position < len(text):
        runs.append(Run(text[position:]))
    return runs


def line_diff(old: list[str], new: list[str]) -> list[DiffRow]:
    """Line by line, and within a changed line character by character: what `new` changed of `old`."""
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows += [DiffRow("equal", [Run(old[i1 + k])], [Run(new[j1 + k])], i1 + k + 1, j1 + k + 1)
                     for k in range(i2 - i1)]
            continue
        pairs = max(i2 - i1, j2 - j1)
        for k in range(pairs):
            before = old[i1 + k] if i1 + k < i2 else None
            after = new[j1 + k] if j1 + k < j2 else None
            if before is not None and after is not None:
                chars = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
                removed = [(a1, a2) for op, a1, a2, _, _ in chars if op != "equal"]
                added = [(b1, b2) for op, _, _, b1, b2 in chars if op != "equal"]
                rows.append(DiffRow("replace", _char_runs(before, removed, "del"), _char_runs(after, added, "ins"),
                                    i1 + k + 1, j1 + k + 1))
            elif before is not None:
                rows.append(DiffRow("delete", [Run(before, "del")], [], i1 + k + 1, None))
            else:
                rows.append(DiffRow("insert", [], [Run(after or "", "ins")], None, j1 + k + 1))
    return rows
