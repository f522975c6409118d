"""The online collection as the public sees it: figures, recent items, browsing facets.

Everything here reads the catalogue DB projection (`cards`), so it is as fast as a SQL query and
always agrees with what `guji rebuild-db` recomputes from OCFL. Withdrawn cards (记录状态 已撤销,
`guji cards withdraw`) are left out of every figure, list and count. Browsing facets:

* 四部 — 部 (code ``1``) and 类 (code ``1.03``) of the card's classification code;
* 朝代 — the dynasty the edition was made in (版本朝代, from 出版时间);
* 版本类型 — the controlled edition type (刻本, 写本 …);
* 地方文献 — local documents by type (地方志, 地方著述, 家谱) and place (地域);
* 地方人士 — the local author of a local document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from sqlalchemy import case, func, or_, select
from sqlalchemy.sql import Select

import metadata_schemas
from repository import Catalogue
from repository.catalogue_db import CardRow
from repository.withdrawal import WITHDRAWN

PAGE_SIZE = 20
UNKNOWN = "未详"  # cards without the facet's value


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
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False
    children: list[FacetValue] = field(default_factory=list)


@dataclass
class Facet:
    key: str  # the query parameter
    title: str  # 四部分类, 朝代 …
    values: list[FacetValue]


@dataclass
class BrowseResult:
    filters: Filters
    total: int
    page: int
    pages: int
    rows: list[CardRow]
    facets: list[Facet]


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


@cache
def _dynasty_rank() -> dict[str, int]:
    """Chronological order of dynasties, from the reign-era table (traditional and simplified names)."""
    rank: dict[str, int] = {}
    for position, dynasty in enumerate(metadata_schemas.vocabulary("reign_eras")["dynasties"]):
        for name in (dynasty["name"], dynasty.get("simplified"), *dynasty.get("aliases", [])):
            if name:
                rank.setdefault(name, position)
    return rank


def _counts(catalogue: Catalogue, column, filters: Filters, skip: str) -> list[tuple[str | None, int]]:
    with catalogue.sessions() as session:
        query = _apply(select(column, func.count(CardRow.id)), filters, skip).group_by(column)
        return [(value, count) for value, count in session.execute(query)]


def _simple_facet(catalogue: Catalogue, key: str, title: str, column, filters: Filters,
                  order=None, labels: dict[str, str] | None = None) -> Facet:
    selected = getattr(filters, {"class": "classification", "place": "place"}.get(key, key))
    values = []
    for value, count in _counts(catalogue, column, filters, key):
        shown = value if value is not None else UNKNOWN
        values.append(FacetValue(shown, (labels or {}).get(shown, shown), count, selected == shown))
    values.sort(key=order or (lambda item: (item.value == UNKNOWN, -item.count, item.value)))
    return Facet(key, title, values)


def _classification_facet(catalogue: Catalogue, filters: Filters) -> Facet:
    """部 with their 类 below, counts summed up the tree."""
    by_bu: dict[str, FacetValue] = {}
    lei_of: dict[str, FacetValue] = {}
    unclassified = 0
    for code, count in _counts(catalogue, CardRow.classification_code, filters, "class"):
        node = metadata_schemas.classification_by_code(code) if code else None
        if node is None:
            unclassified += count
            continue
        bu_code = code.split(".")[0]
        bu = by_bu.setdefault(bu_code, FacetValue(bu_code, node["bu"], 0))
        bu.count += count
        if node["level"] != "部":
            lei_code = ".".join(code.split(".")[:2])
            lei = lei_of.get(lei_code)
            if lei is None:
                lei = lei_of[lei_code] = FacetValue(lei_code, node["lei"] or lei_code, 0)
                bu.children.append(lei)
            lei.count += count
    chosen = filters.classification or ""
    for item in [*by_bu.values(), *lei_of.values()]:
        item.selected = chosen == item.value or chosen.startswith(item.value + ".")
    for bu in by_bu.values():
        bu.children.sort(key=lambda item: item.value)
    values = sorted(by_bu.values(), key=lambda item: item.value)
    if unclassified:
        values.append(FacetValue(UNKNOWN, UNKNOWN, unclassified))
    return Facet("class", "四部分类", values)


RECORD_TYPE_LABELS = metadata_schemas.vocabulary("record_type").get("x-labels") or {}


def facets(catalogue: Catalogue, filters: Filters) -> list[Facet]:
    rank = _dynasty_rank()
    return [
        _classification_facet(catalogue, filters),
        _simple_facet(catalogue, "dynasty", "朝代", CardRow.dynasty, filters,
                      order=lambda item: (rank.get(item.value, len(rank)), item.value)),
        _simple_facet(catalogue, "edition_type", "版本类型", CardRow.edition_type, filters),
        _simple_facet(catalogue, "record_type", "文献类型", CardRow.record_type, filters,
                      labels=RECORD_TYPE_LABELS),
        _without_unknown(_simple_facet(catalogue, "local_type", "地方文献", CardRow.local_type, filters)),
        _without_unknown(_simple_facet(catalogue, "place", "地域", CardRow.local_place, filters)),
        _without_unknown(_simple_facet(catalogue, "local_author", "地方人士", CardRow.local_author, filters)),
    ]


def _without_unknown(facet: Facet) -> Facet:
    """Local-document facets only make sense for local documents: drop the 未详 bucket of the rest."""
    facet.values = [value for value in facet.values if value.value != UNKNOWN]
    return facet


def browse(catalogue: Catalogue, filters: Filters, page: int = 1, page_size: int = PAGE_SIZE) -> BrowseResult:
    with catalogue.sessions() as session:
        total = session.scalar(_apply(select(func.count(CardRow.id)), filters))
        pages = max(1, -(-total // page_size))
        page = min(max(1, page), pages)
        query = _apply(select(CardRow), filters).order_by(CardRow.call_number, CardRow.id)
        rows = list(session.scalars(query.offset((page - 1) * page_size).limit(page_size)))
    return BrowseResult(filters, total, page, pages, rows, facets(catalogue, filters))


def filter_label(key: str, value: str) -> str:
    """How a chosen filter reads in the page heading (class codes become 部/类 names)."""
    if key == "class":
        node = metadata_schemas.classification_by_code(value)
        return "·".join(node["path"]) if node else value
    if key == "record_type":
        return RECORD_TYPE_LABELS.get(value, value)
    return value
