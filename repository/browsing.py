"""The public collection as the catalogue DB answers it: figures, recent cards, browse pages and the
counts behind each facet (web/collection.py turns them into pages, labels and facet trees).

Every query reads the projection (`cards`), so it is as fast as SQL and agrees with what
`guji rebuild-db` recomputes from OCFL. Withdrawn cards are left out of every figure, list and count.
:class:`~repository.catalogue.Catalogue` offers these as methods; nothing outside the repository
queries the tables itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql import Select

from .catalogue_db import CardRow
from .withdrawal import WITHDRAWN

if TYPE_CHECKING:
    from .catalogue import Catalogue

UNKNOWN = "未详"  # cards without the facet's value

# facet (its query parameter) → the column it counts
FACET_COLUMNS = {
    "class": CardRow.classification_code, "dynasty": CardRow.dynasty, "edition_type": CardRow.edition_type,
    "record_type": CardRow.record_type, "local_type": CardRow.local_type, "place": CardRow.local_place,
    "local_author": CardRow.local_author,
}


@dataclass(frozen=True)
class Filters:
    """What a browse page is narrowed to; every field optional."""

    classification: str | None = None  # 四部 code: 部 "2" or 类 "2.07" (its 属 are included)
    dynasty: str | None = None
    edition_type: str | None = None
    record_type: str | None = None  # guji | local_document
    local_type: str | None = None
    local_author: str | None = None
    place: str | None = None

    def query_items(self) -> dict[str, str]:
        names = {"classification": "class"}
        return {names.get(key, key): value for key, value in vars(self).items() if value}

    @property
    def empty(self) -> bool:
        return not self.query_items()


@dataclass
class Figures:
    titles: int  # 种
    guji: int
    local_documents: int
    volumes: int  # 册
    digitised: int  # titles with page scans
    pages: int
    graded: int  # titles with a 定级


def public(query: Select) -> Select:
    """Only cards the public may see (not withdrawn)."""
    return query.where(CardRow.status != WITHDRAWN)


def _apply(query: Select, filters: Filters, skip: str | None = None) -> Select:
    query = public(query)
    if filters.classification and skip != "class":
        code = filters.classification
        query = query.where(CardRow.classification_code.is_(None) if code == UNKNOWN else
                            or_(CardRow.classification_code == code, CardRow.classification_code.like(f"{code}.%")))
    for key, column in (("dynasty", CardRow.dynasty), ("edition_type", CardRow.edition_type),
                        ("record_type", CardRow.record_type), ("local_type", CardRow.local_type),
                        ("local_author", CardRow.local_author), ("place", CardRow.local_place)):
        value = getattr(filters, key)
        if value and skip != key:
            query = query.where(column.is_(None) if value == UNKNOWN else column == value)
    return query


def figures(catalogue: Catalogue) -> Figures:
    with catalogue.sessions() as session:
        row = session.execute(public(select(
            func.count(CardRow.id),
            func.sum(case((CardRow.record_type == "local_document", 1), else_=0)),
            func.coalesce(func.sum(CardRow.volumes), 0),
            func.sum(case((CardRow.page_count > 0, 1), else_=0)),
            func.coalesce(func.sum(CardRow.page_count), 0),
            func.sum(case((CardRow.grade.is_not(None), 1), else_=0)),
        ))).one()
    titles, local, volumes, digitised, pages, graded = (value or 0 for value in row)
    return Figures(titles, titles - local, local, volumes, digitised, pages, graded)


def recent(catalogue: Catalogue, limit: int = 6) -> list[CardRow]:
    """Newest cards first (by the date of their first version)."""
    with catalogue.sessions() as session:
        query = public(select(CardRow)).order_by(CardRow.created.desc(), CardRow.call_number).limit(limit)
        return list(session.scalars(query))


def facet_counts(catalogue: Catalogue, facet: str, filters: Filters) -> list[tuple[str | None, int]]:
    """(value, count) of one facet over the cards `filters` leave — the facet's own filter aside."""
    column = FACET_COLUMNS[facet]
    with catalogue.sessions() as session:
        query = _apply(select(column, func.count(CardRow.id)), filters, facet).group_by(column)
        return [(value, count) for value, count in session.execute(query)]


def browse(catalogue: Catalogue, filters: Filters, page: int, page_size: int) -> tuple[int, int, int, list[CardRow]]:
    """(total, page, pages, rows): one page of the cards `filters` leave, in 索书号 order."""
    with catalogue.sessions() as session:
        total = session.scalar(_apply(select(func.count(CardRow.id)), filters))
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        query = _apply(select(CardRow), filters).order_by(CardRow.call_number, CardRow.id)
        rows = list(session.scalars(query.offset((page - 1) * page_size).limit(page_size)))
    return total, page, pages, rows
