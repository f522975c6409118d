"""What the index holds: one document per book (its catalogue record) and one per page of text.

Both are built here from what the repository stores — the card (DB projection of OCFL) and
``text/pages.json`` — so every backend indexes exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guji.repository.card import edition_type_of, grade_label, responsibility_text, title_with_juan
from guji.repository.parse import parse_reign_date

from .analyzer import PARAGRAPH_BREAK, fold

BRIDGE_REACH = 15  # key characters on each side of a page break that a phrase may run across
RECORD_TYPE_LABELS = {"guji": "古籍", "local_document": "地方文献"}


@dataclass
class BookDocument:
    book_id: str
    fields: dict[str, list[str]]  # searchable field → its texts
    facets: dict[str, str]  # facet field → value (absent when the card has none)
    title: str  # 题名卷数, for display
    responsibility: str = ""
    edition: str = ""
    call_number: str = ""
    year: int | None = None

    def display(self) -> dict:
        return {"id": self.book_id, "title": self.title, "responsibility": self.responsibility,
                "edition": self.edition, "call_number": self.call_number, "year": self.year,
                "facets": dict(self.facets)}


@dataclass
class FieldText:
    """One searchable text of a page (正文 or 夹注) and where on the page each part came from."""

    text: str = ""
    line_offsets: list[int] = field(default_factory=list)  # start offset in `text` of each part
    line_numbers: list[int] = field(default_factory=list)  # the page line each part came from
    line_starts: list[int] = field(default_factory=list)  # where the part starts in its line (pieces joined)

    def append(self, text: str, line: int, separator: str, start: int = 0) -> None:
        if self.text and separator:
            self.text += separator
        self.line_offsets.append(len(self.text))
        self.line_numbers.append(line)
        self.line_starts.append(start)
        self.text += text


@dataclass
class PageDocument:
    book_id: str
    page: str  # "0001"; "" for text whose leaf has no scan (found in the book, shown as 'no scan')
    seq: int  # reading order within the book
    label: str
    texts: dict[str, FieldText]  # "text" (正文), "note" (夹注)
    boxes: list[list[int] | None]  # per page line: [x, y, w, h] or None
    following: dict[str, str] = field(default_factory=dict)  # field → start of the next page's text
    authority: str = "imported"  # whose text: imported, corrected (校对) or machine (OCR, not checked)
    _keys: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def doc_key(self) -> str:
        """Unique within the book: the page, or the text's position for text without a scan."""
        return self.page or f"text-{self.seq:05d}"

    def key(self, name: str) -> str:
        if name not in self._keys:
            self._keys[name] = fold(self.texts[name].text) if name in self.texts else ""
        return self._keys[name]

    def bridge_sides(self, name: str) -> tuple[str, str] | None:
        """(end of this page's key, start of the next page's key) when the text runs on."""
        if name not in self.following or name not in self.texts:
            return None
        left = self.key(name).rsplit(PARAGRAPH_BREAK, 1)[-1][-BRIDGE_REACH:]
        right = fold(self.following[name]).split(PARAGRAPH_BREAK, 1)[0][:BRIDGE_REACH]
        return (left, right) if left and right else None


def _texts(values) -> list[str]:
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def edition_dynasty(card: dict) -> str | None:
    """朝代 of the edition: the parsed date's dynasty, else read from 出版时间 or the 版本 statement."""
    edition = card.get("edition") or {}
    date = (edition.get("publication") or {}).get("date") or {}
    if date.get("dynasty"):
        return date["dynasty"]
    for raw in (date.get("raw"), edition.get("edition_statement")):
        if raw:
            try:
                parsed = parse_reign_date(raw)
            except Exception:  # noqa: BLE001 - a date the parser cannot read has no dynasty
                continue
            if parsed and parsed.get("dynasty"):
                return parsed["dynasty"]
    return None


def book_document(card: dict) -> BookDocument:
    """The index document of a catalogue card (its fields: see `search.fields`)."""
    edition = card.get("edition") or {}
    copy_part = card.get("copy") or {}
    local = card.get("local_document") or {}
    classification = edition.get("classification") or {}
    publication = edition.get("publication") or {}
    date = publication.get("date") or {}
    people = edition.get("responsibilities") or []
    grade = grade_label(card)
    dynasty = edition_dynasty(card)
    edition_type = edition_type_of(card)[0]  # typed, else read from the 版本 statement
    record_type = RECORD_TYPE_LABELS.get(card.get("record_type", "guji"), card.get("record_type", ""))
    fields = {
        "title": _texts([edition.get("title"), title_with_juan(card),
                         *[t.get("title") for t in edition.get("other_titles") or []],
                         *[c.get("title") for c in edition.get("contents") or []], edition.get("series")]),
        "author": _texts([responsibility_text(card), *[p.get("name") for p in people],
                          *[c.get("responsibility") for c in edition.get("contents") or []]]),
        "edition": _texts([edition.get("edition_statement"), publication.get("publisher"), publication.get("place"),
                           date.get("raw"), edition_type]),
        "call_number": _texts([copy_part.get("call_number"), *(copy_part.get("former_call_numbers") or [])]),
        "census_number": _texts([copy_part.get("census_number")]),
        "list_number": _texts([listing.get("number") for listing in copy_part.get("lists") or []]),
        "sibu": _texts([classification.get("bu"), classification.get("lei"), classification.get("shu"),
                        classification.get("code")]),
        "dynasty": _texts([dynasty]),
        "edition_type": _texts([edition_type]),
        "grade": _texts([grade, (copy_part.get("grade") or {}).get("level")]),
        "record_type": _texts([record_type, local.get("type")]),
        "local_author": _texts([local.get("author")]),
        "place": _texts([local.get("place"), publication.get("place")]),
        "notes": _texts([edition.get("notes"), copy_part.get("provenance")]),
    }
    facets = {
        "sibu": classification.get("bu"),
        "dynasty": dynasty,
        "edition_type": edition_type,
        "grade": (copy_part.get("grade") or {}).get("level"),
        "record_type": record_type,
        "local_author": local.get("author"),
    }
    title = title_with_juan(card) or edition.get("title") or card.get("id", "")
    return BookDocument(
        book_id=card["id"], fields=fields, facets={k: v for k, v in facets.items() if v},
        title=title, responsibility=responsibility_text(card), edition=edition.get("edition_statement") or "",
        call_number=copy_part.get("call_number") or "", year=date.get("start"),
    )


def page_texts(entry: dict) -> dict[str, FieldText]:
    """正文 and 夹注 of one page of ``text/pages.json``.

    正文 runs on across lines and around notes; a heading stands apart (a paragraph break on each
    side). 夹注 runs on across lines while no 正文 comes between two notes; a note after 正文 starts
    a new run, so a phrase never joins two different notes. ``/`` (the column split) is dropped.
    """
    text, note = FieldText(), FieldText()
    text_since_note = False
    previous_heading = False

    def add_note(piece: str, number: int, start: int, separator: str) -> None:
        for column, part in enumerate(piece.split("/")):  # right column, then left: each keeps its place
            if part:
                note.append(part, number, separator if column == 0 else "", start)
            start += len(part) + 1

    for number, line in enumerate(entry.get("lines") or []):
        if line.get("role") == "margin":
            continue
        position = 0  # where each piece starts in the line (its pieces joined): for character boxes
        if line.get("role") == "annotation":  # 眉批 (OCR): searched with the notes, never joined to 正文
            for _, piece in line.get("pieces") or []:
                add_note(piece, number, position, PARAGRAPH_BREAK)
                position += len(piece)
            text_since_note = False
            continue
        heading = line.get("role") == "heading"
        first_piece = True
        for kind, piece in line.get("pieces") or []:
            if kind == "note":
                add_note(piece, number, position, PARAGRAPH_BREAK if text_since_note else "")
                text_since_note = False
            else:
                separator = PARAGRAPH_BREAK if heading or previous_heading else ("\n" if first_piece else "")
                text.append(piece, number, separator, position)
                text_since_note = True
            position += len(piece)
            first_piece = False
        previous_heading = heading
    return {"text": text, "note": note}


def page_documents(book_id: str, document: dict) -> list[PageDocument]:
    """The page documents of one book from its ``text/pages.json``."""
    entries = document.get("pages") or []
    texts = [page_texts(entry) for entry in entries]
    pages = []
    for seq, entry in enumerate(entries):
        continues = entry.get("continues") or {}
        following = {}
        if seq + 1 < len(entries):
            for name in ("text", "note"):
                if continues.get(name) and texts[seq + 1][name].text:
                    following[name] = texts[seq + 1][name].text[: BRIDGE_REACH * 3]
        pages.append(PageDocument(
            book_id=book_id, page=entry.get("page") or "", seq=seq,
            label=entry.get("label") or entry.get("page") or f"{seq + 1}",
            texts=texts[seq], boxes=[line.get("box") for line in entry.get("lines") or []], following=following,
            authority=entry.get("authority") or "imported",
        ))
    return pages
