"""The staff's list of cards: filtered, sorted and paged in the catalogue DB (the `cards` projection).

Staff find their way through thousands of cards by 索书号, 分类, 版本类型, 存卷, the last change
and who made it. Everything here is one SQL query on indexed columns of the projection, so a
page of 50 costs the same for 50 cards as for 50,000; withdrawn cards are listed too (marked),
as staff must be able to find and reinstate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, or_, select

from .catalogue_db import CardIdentifierRow, CardRow
from .local_time import day_start_utc

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# sort key → the column it orders by (ties: 索书号, then id)
SORTS = {
    "call_number": CardRow.call_number,
    "title": CardRow.title,
    "classification": CardRow.classification_code,
    "edition_type": CardRow.edition_type,
    "extant_juan": CardRow.extant_juan,
    "updated": CardRow.updated,
    "editor": CardRow.updated_by,
}


@dataclass(frozen=True)
class CardListQuery:
    text: str = ""  # part of a 题名 or of any number (索书号, 原索书号, 普查编号, 名录编号)
    classification: str = ""  # a 四部 code: 部 "3", 类 "3.06" (its 属 included)
    edition_type: str = ""
    extant_juan: str = ""  # part of the 存卷 as typed, e.g. 存 (incomplete copies) or 卷一
    editor: str = ""  # who made the last change
    changed_since: date | None = None  # last change on or after this day (the library's date)
    sort: str = "call_number"
    descending: bool = False
    page: int = 1
    page_size: int = PAGE_SIZE


@dataclass
class CardListPage:
    rows: list[CardRow]
    total: int
    query: CardListQuery
    editors: list[str] = field(default_factory=list)  # everyone who made a last change, for the filter
    edition_types: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.query.page_size))


def card_list(catalogue, query: CardListQuery) -> CardListPage:
    """One page of the cards `query` asks for, with the total and the values the filters offer."""
    conditions = []
    text = query.text.strip()
    if text:
        pattern = f"%{text}%"
        by_identifier = select(CardIdentifierRow.card_id).where(CardIdentifierRow.value.like(pattern))
        conditions.append(or_(CardRow.title.like(pattern), CardRow.id.in_(by_identifier)))
    if query.classification:
        code = query.classification
        conditions.append(or_(CardRow.classification_code == code, CardRow.classification_code.like(f"{code}.%")))
    if query.edition_type:
        conditions.append(CardRow.edition_type == query.edition_type)
    if query.extant_juan.strip():
        conditions.append(CardRow.extant_juan.like(f"%{query.extant_juan.strip()}%"))
    if query.editor:
        conditions.append(CardRow.updated_by == query.editor)
    if query.changed_since:
        conditions.append(CardRow.updated >= day_start_utc(query.changed_since))
    column = SORTS.get(query.sort, CardRow.call_number)
    ordered = [column.desc() if query.descending else column.asc()]
    if column is not CardRow.call_number:
        ordered.append(CardRow.call_number.asc())
    ordered.append(CardRow.id.asc())
    with catalogue.sessions() as session:
        total = session.scalar(select(func.count(CardRow.id)).where(*conditions))
        rows = list(session.scalars(select(CardRow).where(*conditions).order_by(*ordered)
                                    .offset((query.page - 1) * query.page_size).limit(query.page_size)))
        editors = sorted(session.scalars(select(CardRow.updated_by).distinct()))
        edition_types = sorted(v for v in session.scalars(select(CardRow.edition_type).distinct()) if v)
    return CardListPage(rows, total or 0, query, editors, edition_types)
