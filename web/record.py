"""One book's public record: the card as a Chinese catalogue prints it, its 卷 contents and pages,
a permalink and a citation.

A printed catalogue card (卡片目录, 善本书目) reads, line by line::

    重刊荊川先生文集十七卷外集三卷        题名卷数
    （明）唐順之撰                        （朝代）著者 著作方式
    明萬曆元年純白齋刻本                  版本
    半葉十行行二十字 框高20.1、宽14.2厘米 行款版式, 版框
    8册 1函                               册数/函数
    线装                                  装帧
    存十七卷（卷一至十七）                存卷
    钤印 …                                钤印
    索书号 示善0002 · 普查编号 …
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlencode

import guji.iiif.ids
from guji import metadata_schemas
from guji.repository import Catalogue, StoredCard, local_time, public_url
from guji.repository.card import responsibility_text, title_with_juan
from guji.repository.outputs import card_text
from guji.repository.page_labels import card_script, page_entry_label


@dataclass
class CardLine:
    key: str  # which part of the printed card: title, responsibility, edition …
    label: str  # Chinese label, as on a card form
    text: str


@dataclass
class Section:
    """One entry of the 卷 contents: a range of structure.json and where it starts."""

    label: str
    first_page: str | None
    pages: int
    children: list[Section] = field(default_factory=list)


@dataclass
class PageEntry:
    page: str  # 0001
    label: str  # 叶一a, 葉一上, 卷一 葉一a … (repository.page_labels)


@dataclass
class BookRecord:
    id: str
    version: int
    card: dict
    title: str  # 题名卷数
    lines: list[CardLine]
    call_number: str | None
    census_number: str | None
    former_call_numbers: list[str]
    pages: list[PageEntry]
    contents: list[Section]
    classification: dict | None
    rights: str | None
    rights_label: str | None

    @property
    def has_pages(self) -> bool:
        return bool(self.pages)

    # ---- links -------------------------------------------------------------------------

    @property
    def permalink(self) -> str:
        return f"{public_url()}/books/{self.id}"

    @property
    def manifest_url(self) -> str:
        return guji.iiif.ids.manifest(self.id)

    def viewer_path(self, page: str | None = None, query: str = "", lang: str | None = None) -> str:
        """The viewer page, at `page`, searching for `query` (its hits highlighted on the scans); `lang`
        en for the English site (otherwise the viewer follows the site's cookie)."""
        params = {key: value for key, value in (("page", page), ("q", query), ("lang", "en" if lang == "en" else ""))
                  if value}
        return f"/books/{self.id}/viewer" + (f"?{urlencode(params)}" if params else "")

    def image_path(self, page: str) -> str:
        """The whole page as JPEG (Image API `full/max`), for download."""
        return f"/iiif/image/{self.id}/{page}/full/max/0/default.jpg"

    def citation(self, today: datetime | None = None) -> str:
        """A citation after GB/T 7714-2015 (electronic monograph [M/OL]) with the permalink."""
        holding = self.card.get("copy") or {}
        edition = self.card.get("edition") or {}
        date = (today or local_time.now()).strftime("%Y-%m-%d")  # the access date, in Beijing time
        parts = []
        responsibility = responsibility_text(self.card)
        if responsibility:
            parts.append(responsibility)
        parts.append(f"{self.title}[M/OL]")
        if edition.get("edition_statement"):
            parts.append(edition["edition_statement"])
        where = holding.get("holding_institution") or ""
        if self.call_number:
            where = f"{where}{'，' if where else ''}索书号 {self.call_number}"
        parts.append(f"{where} [{date}]" if where else f"[{date}]")
        parts.append(self.permalink)
        return ". ".join(parts) + "."


def card_lines(card: dict) -> list[CardLine]:
    """The printed card, line by line (one formatter for every output: :mod:`repository.outputs.card_text`)."""
    return [CardLine(key, label, text) for key, label, text in card_text.card_lines(card)]


def _sections(ranges: list, known_pages: set[str]) -> list[Section]:
    sections = []
    for item in ranges or []:
        if not isinstance(item, dict):
            continue
        pages = [str(page) for page in item.get("pages") or [] if str(page) in known_pages]
        children = _sections(item.get("ranges") or item.get("items") or [], known_pages)
        first = pages[0] if pages else (children[0].first_page if children else None)
        count = len(pages) + sum(child.pages for child in children)
        sections.append(Section(str(item.get("label") or "—"), first, count, children))
    return sections


def book_record(catalogue: Catalogue, stored: StoredCard) -> BookRecord:
    card = stored.card
    holding = card.get("copy") or {}
    structure = catalogue.structure(stored.id) or {}
    script = card_script(card)  # 叶一a or 葉一上 for pages that have only their default label
    pages = [
        PageEntry(str(page["page"]), page_entry_label(page, script))
        for page in structure.get("pages") or [] if isinstance(page, dict) and page.get("page")
    ]
    code = ((card.get("edition") or {}).get("classification") or {}).get("code")
    rights = card.get("rights")
    rights_labels = metadata_schemas.vocabulary("rights").get("x-labels") or {}
    return BookRecord(
        id=stored.id, version=stored.version, card=card, title=title_with_juan(card),
        lines=card_lines(card),
        call_number=holding.get("call_number"), census_number=holding.get("census_number"),
        former_call_numbers=list(holding.get("former_call_numbers") or []),
        pages=pages, contents=_sections(structure.get("ranges") or [], {p.page for p in pages}),
        classification=metadata_schemas.classification_by_code(code) if code else None,
        rights=rights, rights_label=rights_labels.get(rights) if rights else None,
    )
