"""The text of a book in three layers, and which one speaks for each page (its *authority*).

=============  ==============================================  =======================================
authority      where it comes from                             stored in the book's OCFL object
=============  ==============================================  =======================================
``imported``   a transcription (`guji text import`)            ``text/source/…`` as given
``corrected``  a person's 校对 of a page (:func:`save_page_correction`)  the entry itself (reason on the version)
``machine``    OCR (`guji ocr`)                                ``ocr/pages.json`` + ``ocr/NNNN.page.xml``
=============  ==============================================  =======================================

``text/pages.json`` (:mod:`ingest.text_model`) is the book's text as read, searched and shown: for
every scanned page the entry of its strongest layer — corrected beats imported beats machine — with
``"authority"`` saying which (absent in files written before OCR existed: imported). Machine text
never replaces a text a person imported or corrected; a new import replaces the imported layer,
keeps corrected pages and falls back to OCR for the pages it does not cover. Earlier versions keep
everything (OCFL).

Where a page has OCR and a curated text, the curated text is aligned to the OCR
(:mod:`ingest.ocr_align`): it gets the OCR's coordinates (:func:`page_text`) and the OCR's agreement
with it is stored per page in ``ocr/quality.json`` (:func:`quality`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from guji.repository import CardNotFound, Catalogue

from .ocr_align import align, cer, han_only
from .ocr_layout import PageLayout
from .text_model import PAGES_FILE, TextRefused, pages_json_bytes

AUTHORITIES = ("corrected", "imported", "machine")  # strongest first
OCR_DIR = "ocr"
OCR_PAGES_FILE = "ocr/pages.json"
RUN_FILE = "ocr/run.json"
QUALITY_FILE = "ocr/quality.json"
MACHINE_LABEL = "机器识别，未校对"  # what a reader is told of machine text


def page_xml_path(page: str) -> str:
    return f"{OCR_DIR}/{page}.page.xml"


def authority(entry: dict) -> str:
    return entry.get("authority") or "imported"


def read_json(catalogue: Catalogue, book_id: str, path: str, paths: set[str] | None = None) -> dict | None:
    paths = paths if paths is not None else set(catalogue.store.logical_paths(book_id))
    if path not in paths:
        return None
    return json.loads(catalogue.store.read_bytes(book_id, path))


def entry_lines_text(entry: dict) -> list[str]:
    """The searchable characters of each line (正文 and 夹注, no 版心/margin), in reading order."""
    out = []
    for line in entry.get("lines") or []:
        if line.get("role") in ("margin",):
            out.append("")
            continue
        out.append("".join(piece[1] for piece in line.get("pieces") or []).replace("/", ""))
    return out


def _covered(entries: list[dict]) -> set[str]:
    pages = set()
    for entry in entries:
        if entry.get("page"):
            pages.add(entry["page"])
        pages.update(entry.get("covers") or [])
    return pages


def compose(curated: list[dict], machine: dict[str, dict], structure: dict | None) -> list[dict]:
    """text/pages.json's entries: the curated entries (imported and corrected, in their reading order,
    text without a scan included) plus machine entries for the scanned pages no curated entry covers."""
    covered = _covered(curated)
    order = {entry["page"]: index for index, entry in enumerate((structure or {}).get("pages") or [])}
    keyed: list[tuple[float, int, int, dict]] = []
    last = -1.0
    for index, entry in enumerate(curated):  # text without a scan stays after the page before it
        last = order.get(entry.get("page"), last) if entry.get("page") else last
        keyed.append((last, 0, index, entry))
    for page, entry in machine.items():
        if page not in covered and (page in order or not order):  # not a page a re-ingest removed
            keyed.append((order.get(page, len(order)), 1, 0, entry))
    keyed.sort(key=lambda item: item[:3])
    merged = [item[3] for item in keyed]
    for index, entry in enumerate(merged):  # machine pages: 正文 runs on to the next machine page
        if authority(entry) == "machine":
            following = merged[index + 1] if index + 1 < len(merged) else None
            runs_on = bool(following and authority(following) == "machine" and following.get("page")
                           and order.get(following["page"], -2) == order.get(entry["page"], -5) + 1)
            entry["continues"] = {"text": runs_on, "note": False}
    return merged


def machine_entry(page: str, layout: PageLayout, label: str | None) -> dict:
    """The machine layer's entry for one page (same model as text/pages.json; one line per OCR line)."""
    lines = []
    for line in layout.lines():
        out: dict = {"pieces": [["note" if line.role == "note" else "text", line.text]]}
        role = {"header": "margin", "margin": "margin", "annotation": "annotation"}.get(line.role)
        if role:
            out["role"] = role
        out["box"] = list(line.box)
        out["confidence"] = round(line.confidence, 3)
        lines.append(out)
    entry = {"page": page, "authority": "machine"}
    if label:
        entry["label"] = label
    entry.update({"source": page_xml_path(page), "source_line": 1, "lines": lines,
                  "continues": {"text": False, "note": False}})
    return entry


def ocr_text(machine: dict[str, dict], pages: list[str]) -> tuple[str, list[tuple[str, int, int]]]:
    """OCR body text of `pages` joined, and where each character came from: (page, line, index in line)."""
    text = []
    origin = []
    for page in pages:
        entry = machine.get(page)
        for number, line in enumerate((entry or {}).get("lines") or []):
            if line.get("role") in ("margin", "annotation"):
                continue
            joined = "".join(piece[1] for piece in line["pieces"])
            for index, char in enumerate(joined):
                text.append(char)
                origin.append((page, number, index))
    return "".join(text), origin


def quality(entries: list[dict], machine: dict[str, dict]) -> dict:
    """Per page with a curated text and OCR: the OCR's CER against the text (Han characters only)."""
    pages = []
    errors = compared = 0
    for entry in entries:
        if authority(entry) == "machine" or not entry.get("page"):
            continue
        scans = [entry["page"], *[p for p in entry.get("covers") or [] if p != entry["page"]]]
        if not any(page in machine for page in scans):
            continue
        reference_lines = entry_lines_text(entry)
        hypothesis, _ = ocr_text(machine, scans)
        result = align(reference_lines, hypothesis)
        reference = "".join(reference_lines)
        record = {"page": entry["page"], "label": entry.get("label"), "authority": authority(entry),
                  "characters": result.compared, "errors": result.errors,
                  "cer": None if result.cer is None else round(result.cer, 4),
                  "cer_raw": None if result.sparse or not han_only(reference) else
                  round(cer(reference, hypothesis, simplified=False), 4),
                  "aligned": "by line" if result.sparse else "whole page"}
        if len(scans) > 1:
            record["scans"] = scans
        pages.append(record)
        errors += result.errors
        compared += result.compared
    return {"pages": pages, "characters": compared, "errors": errors,
            "cer": round(errors / compared, 4) if compared else None}


# ---- what the web side reads ---------------------------------------------------------------------


@dataclass
class Located:
    page: str  # the scan the character stands on (a whole-leaf text runs over two scans)
    box: list[int]  # [x, y, w, h] in the master's pixels
    confidence: float | None = None


@dataclass
class PageText:
    """One page's authoritative text with everything needed to place it on the scan.

    ``lines`` are text/pages.json's lines (``pieces``, ``role``, ``box``); ``chars[i][k]`` is where
    the k-th character of line i (its pieces joined, ``/`` included) stands, or None (not on a scan,
    not matched). ``version`` is the object's version the text was read from — pass it back to
    :func:`save_page_correction` as ``expected_version``."""

    book_id: str
    page: str
    label: str
    authority: str
    lines: list[dict]
    chars: list[list[Located | None]]
    version: int
    ocr: bool  # whether the page has OCR (coordinates come from it)
    covers: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join("".join(piece[1] for piece in line.get("pieces") or []) for line in self.lines)

    def to_json(self) -> dict:
        return {"book": self.book_id, "page": self.page, "label": self.label, "authority": self.authority,
                "machine_label": MACHINE_LABEL if self.authority == "machine" else None, "version": self.version,
                "ocr": self.ocr, "covers": self.covers, "lines": self.lines,
                "chars": [[None if c is None else {"page": c.page, "box": c.box, "confidence": c.confidence}
                           for c in line] for line in self.chars]}


def _glyphs(catalogue: Catalogue, book_id: str, page: str, digests: dict[str, str], version: int) -> list[list]:
    path = page_xml_path(page)
    if path not in digests:
        return []
    return _glyph_lines(digests[path], str(catalogue.store.content_path(book_id, path, version)))


@lru_cache(maxsize=512)
def _glyph_lines(digest: str, content: str) -> list[list]:
    """The glyphs of a stored PAGE-XML file, line by line (cached by the file's digest: files in OCFL
    never change under their digest)."""
    from pathlib import Path

    from .ocr_pagexml import read_page_xml

    return [line.glyphs for line in read_page_xml(Path(content).read_bytes()).lines()]


@lru_cache(maxsize=16)
def _stored_json(digest: str, content: str) -> dict:
    """A stored JSON file, parsed once per digest (Content Search asks for many pages of one book).
    Shared between callers: read it, never change it."""
    from pathlib import Path

    return json.loads(Path(content).read_bytes())


def _read_only_json(catalogue: Catalogue, book_id: str, path: str, digests: dict[str, str],
                    version: int) -> dict | None:
    if path not in digests:
        return None
    return _stored_json(digests[path], str(catalogue.store.content_path(book_id, path, version)))


def page_text(catalogue: Catalogue, book_id: str, page: str) -> PageText | None:
    """The authoritative text of scan `page` ("0001") with a place on the scan for every character
    the OCR found; None when the page has no text at all."""
    version = catalogue.store.head(book_id)  # everything below is read from this one version
    digests = catalogue.store.digests(book_id, version)
    document = _read_only_json(catalogue, book_id, PAGES_FILE, digests, version)
    if not document:
        return None
    entry = next((e for e in document["pages"] if e.get("page") == page), None)
    if entry is None:
        return None
    entry = copy.deepcopy(entry)  # the parsed file is shared (cached): the caller gets its own lines
    scans = [page, *[p for p in entry.get("covers") or [] if p != page]]
    glyphs = {scan: _glyphs(catalogue, book_id, scan, digests, version) for scan in scans}
    lines = entry.get("lines") or []
    chars: list[list[Located | None]] = []
    if authority(entry) == "machine":
        for number, line in enumerate(lines):
            row = glyphs[page][number] if number < len(glyphs[page]) else []
            joined = "".join(piece[1] for piece in line.get("pieces") or [])
            chars.append([Located(page, list(g.box), g.confidence) if k < len(row) and (g := row[k]) else None
                          for k in range(len(joined))])
    else:
        machine = _read_only_json(catalogue, book_id, OCR_PAGES_FILE, digests, version) or {"pages": []}
        by_page = {e["page"]: e for e in machine["pages"]}
        hypothesis, origin = ocr_text(by_page, scans)
        joined_lines = ["".join(piece[1] for piece in line.get("pieces") or []) for line in lines]
        searchable = [("" if line.get("role") == "margin" else joined) for line, joined in zip(lines, joined_lines,
                                                                                                 strict=True)]
        result = align(searchable, hypothesis) if hypothesis else None
        offset = 0
        for joined in searchable:
            row: list[Located | None] = []
            for k in range(len(joined)):
                target = result.mapping[offset + k] if result else None
                located = None
                if target is not None and joined[k] != "/":
                    scan, number, index = origin[target]
                    glyph_lines = glyphs.get(scan) or []
                    if number < len(glyph_lines) and index < len(glyph_lines[number]):
                        glyph = glyph_lines[number][index]
                        located = Located(scan, list(glyph.box), glyph.confidence)
                row.append(located)
            offset += len(joined)
            chars.append(row)
        for row, joined in zip(chars, joined_lines, strict=True):  # margin lines: no place
            row.extend([None] * (len(joined) - len(row)))
    return PageText(book_id, page, entry.get("label") or page, authority(entry), lines, chars, version,
                    bool(glyphs.get(page)), list(entry.get("covers") or []))


# ---- 校对: a person's correction of one page ---------------------------------------------------------


@dataclass
class CorrectionResult:
    book_id: str
    page: str
    version: int | None  # None: the text was already the same


def _lines_from(text_or_lines) -> list[dict]:
    if isinstance(text_or_lines, str):
        raw = text_or_lines.replace("\r\n", "\n").split("\n")
        return [{"pieces": [["text", line]]} for line in raw if line.strip()]
    lines = []
    for line in text_or_lines:
        if isinstance(line, str):
            if line.strip():
                lines.append({"pieces": [["text", line]]})
            continue
        pieces = [[kind, text] for kind, text in line.get("pieces") or [] if kind in ("text", "note") and text]
        if not pieces:
            continue
        out: dict = {"pieces": pieces}
        if line.get("role") in ("heading", "margin", "annotation"):
            out["role"] = line["role"]
        lines.append(out)
    return lines


def save_page_correction(catalogue: Catalogue, book_id: str, page: str, lines, *, editor: str, reason: str,
                         expected_version: int | None = None) -> CorrectionResult:
    """Store a person's corrected text of scan `page` as a new version (authority ``corrected``).

    `lines`: the text (one line per text line) or a list of lines as in text/pages.json (``pieces``
    with ``text``/``note``, optional ``role``). `reason` is required; `expected_version` (from
    :class:`PageText`) refuses the save with ``repository.StaleVersionError`` when someone saved first.
    Raises :class:`TextRefused` for a page that is not a scan of the book, empty text or no reason."""
    if not catalogue.exists(book_id):
        raise CardNotFound(f"没有编号为 {book_id!r} 的书")
    problems = []
    if not (reason or "").strip():
        problems.append("请填写校对理由（reason）：每次保存都记录为新版本并注明理由")
    new_lines = _lines_from(lines)
    if not new_lines:
        problems.append(f"第 {page} 页的校对文本为空：若此页确无文字，请注明理由后保存一行说明，或不保存")
    if any(len("".join(p[1] for p in line["pieces"])) > 10_000 for line in new_lines) or len(new_lines) > 2000:
        problems.append("校对文本过长：一页不超过 2000 行、每行不超过 10000 字")
    for line in new_lines:
        for _, text in line["pieces"]:
            if any(ord(char) < 32 for char in text):
                problems.append("校对文本含有控制字符，请删去后再保存")
                break
    structure = catalogue.structure(book_id) or {}
    scans = {entry["page"]: entry for entry in structure.get("pages") or []}
    if page not in scans:
        problems.append(f"第 {page!r} 页不是此书的扫描页")
    if problems:
        raise TextRefused(problems)
    paths = set(catalogue.store.logical_paths(book_id))
    document = read_json(catalogue, book_id, PAGES_FILE, paths) or {"format": "corrected", "sources": [], "pages": []}
    machine = {e["page"]: e for e in (read_json(catalogue, book_id, OCR_PAGES_FILE, paths) or {"pages": []})["pages"]}
    entries = document["pages"]
    previous = next((e for e in entries if e.get("page") == page), None)
    corrected = {"page": page, "authority": "corrected",
                 "label": (previous or {}).get("label") or scans[page].get("label") or page}
    for key in ("marker", "juan", "leaf", "covers"):
        if previous and previous.get(key):
            corrected[key] = previous[key]
    corrected.update({"source": "校对", "source_line": 1, "lines": new_lines,
                      "corrected": {"editor": editor, "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                    "from": authority(previous) if previous else None},
                      "continues": (previous or {}).get("continues") or {"text": False, "note": False}})
    if previous is not None:
        entries = [corrected if e is previous else e for e in entries]
    else:
        entries = compose([*[e for e in entries if authority(e) != "machine"], corrected], machine, structure)
    files = {PAGES_FILE: pages_json_bytes(document.get("format") or "corrected", document.get("sources") or [],
                                          entries)}
    if machine:
        files[QUALITY_FILE] = (json.dumps(quality(entries, machine), ensure_ascii=False, indent=1) + "\n").encode()
    version = catalogue.commit_files(book_id, files, editor=editor, reason=f"校对第 {page} 页：{reason.strip()}",
                                     event="text-correction", expected_head=expected_version, page=page)
    return CorrectionResult(book_id, page, version.number if version else None)


def with_other_layers(catalogue: Catalogue, book_id: str, imported: list[dict],
                      structure: dict | None) -> tuple[list[dict], dict[str, bytes], int]:
    """A new import's entries joined with the layers it does not replace: corrected pages keep their
    correction, pages the import does not cover keep their OCR. Returns (entries, other files to store
    — the quality report when there is OCR —, how many corrected pages were kept)."""
    paths = set(catalogue.store.logical_paths(book_id))
    existing = (read_json(catalogue, book_id, PAGES_FILE, paths) or {"pages": []})["pages"]
    corrected = {e["page"]: e for e in existing if authority(e) == "corrected" and e.get("page")}
    kept = 0
    curated = []
    for entry in imported:
        entry["authority"] = "imported"
        if entry.get("page") in corrected:
            curated.append(corrected.pop(entry["page"]))
            kept += 1
        else:
            curated.append(entry)
    curated.extend(corrected.values())
    kept += len(corrected)
    machine_document = read_json(catalogue, book_id, OCR_PAGES_FILE, paths)
    machine = {e["page"]: e for e in (machine_document or {"pages": []})["pages"]}
    entries = compose(curated, machine, structure)
    files: dict[str, bytes] = {}
    if machine:
        files[QUALITY_FILE] = (json.dumps(quality(entries, machine), ensure_ascii=False, indent=1) + "\n").encode()
    return entries, files, kept
