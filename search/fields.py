"""The searchable fields: what a user may type before ':' and what each field holds.

Book (catalogue record) fields are read from a card (see `search.documents`); page fields from
an imported text. Names are accepted in simplified and traditional Chinese and in English —
they are matched by their search key, so 題名, 题名 and title all name the same field.
"""

from __future__ import annotations

from dataclasses import dataclass

from .analyzer import fold


@dataclass(frozen=True)
class Field:
    name: str  # internal name (ASCII: used as the backends' field name)
    label: str  # 题名 …
    kind: str  # "book" (catalogue record) or "page" (text)
    aliases: tuple[str, ...] = ()
    facet: bool = False  # counted in facets and usable as an exact filter


FIELDS: tuple[Field, ...] = (
    Field("title", "题名", "book", ("題名", "书名", "書名", "title")),
    Field("author", "著者", "book", ("作者", "责任者", "責任者", "author")),
    Field("edition", "版本", "book", ("edition",)),
    Field("call_number", "索书号", "book", ("索書號", "原索书号", "原索書號", "call_number")),
    Field("census_number", "普查编号", "book", ("普查編號", "census_number")),
    Field("list_number", "名录号", "book", ("名錄號", "名录编号", "名錄編號", "list_number")),
    Field("sibu", "四部", "book", ("分类", "分類", "类目", "類目", "sibu", "class"), facet=True),
    Field("dynasty", "朝代", "book", ("dynasty",), facet=True),
    Field("edition_type", "版本类型", "book", ("版本類型", "edition_type"), facet=True),
    Field("grade", "定级", "book", ("定級", "级别", "級別", "grade"), facet=True),
    Field("record_type", "文献类型", "book", ("文獻類型", "record_type", "type"), facet=True),
    Field("local_author", "地方人士", "book", ("地方著者", "local_author"), facet=True),
    Field("place", "地域", "book", ("地方", "place")),
    Field("notes", "附注", "book", ("附註", "notes")),
    Field("text", "正文", "page", ("全文", "text")),
    Field("note", "夹注", "page", ("夾注", "小注", "注文", "note")),
)

BY_NAME = {field.name: field for field in FIELDS}
BOOK_FIELDS = tuple(field.name for field in FIELDS if field.kind == "book")
PAGE_FIELDS = tuple(field.name for field in FIELDS if field.kind == "page")
FACETS = tuple(field.name for field in FIELDS if field.facet)
_BY_KEY = {fold(spelling): field for field in FIELDS for spelling in (field.name, field.label, *field.aliases)}


def field_named(written: str) -> Field | None:
    """The field a user means by `written` (著者, 著者, author …), or None."""
    return _BY_KEY.get(fold(written))

