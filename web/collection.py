"""The online collection as the public sees it: figures, recent items, browsing facets.

The catalogue answers the queries (Catalogue.figures, .browse, .facet_counts: repository/browsing.py
reads the DB projection, as fast as SQL and always in agreement with `guji rebuild-db`); this module
gives them labels and order. Withdrawn cards (记录状态 已撤销, `guji cards withdraw`) are left out of
every figure, list and count. Browsing facets:

* 四部 — 部 (code ``1``) and 类 (code ``1.03``) of the card's classification code;
* 朝代 — the dynasty the edition was made in (版本朝代, from 出版时间);
* 版本类型 — the controlled edition type (刻本, 写本 …);
* 地方文献 — local documents by type (地方志, 地方著述, 家谱) and place (地域);
* 地方人士 — the local author of a local document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from guji import metadata_schemas
from guji.repository import Catalogue
from guji.repository.browsing import UNKNOWN, Figures, Filters

PAGE_SIZE = 20


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
    rows: list  # rows of the catalogue DB (Catalogue.browse)
    facets: list[Facet]


def figures(catalogue: Catalogue) -> Figures:
    return catalogue.figures()


def recent(catalogue: Catalogue, limit: int = 6) -> list:
    """Newest cards first (by the date of their first version)."""
    return catalogue.recent(limit)


@cache
def _dynasty_rank() -> dict[str, int]:
    """Chronological order of dynasties, from the reign-era table (traditional and simplified names)."""
    rank: dict[str, int] = {}
    for position, dynasty in enumerate(metadata_schemas.vocabulary("reign_eras")["dynasties"]):
        for name in (dynasty["name"], dynasty.get("simplified"), *dynasty.get("aliases", [])):
            if name:
                rank.setdefault(name, position)
    return rank


def _simple_facet(catalogue: Catalogue, key: str, title: str, filters: Filters,
                  order=None, labels: dict[str, str] | None = None) -> Facet:
    selected = getattr(filters, {"class": "classification", "place": "place"}.get(key, key))
    values = []
    for value, count in catalogue.facet_counts(key, filters):
        shown = value if value is not None else UNKNOWN
        values.append(FacetValue(shown, (labels or {}).get(shown, shown), count, selected == shown))
    values.sort(key=order or (lambda item: (item.value == UNKNOWN, -item.count, item.value)))
    return Facet(key, title, values)


def _classification_facet(catalogue: Catalogue, filters: Filters) -> Facet:
    """部 with their 类 below, counts summed up the tree."""
    by_bu: dict[str, FacetValue] = {}
    lei_of: dict[str, FacetValue] = {}
    unclassified = 0
    for code, count in catalogue.facet_counts("class", filters):
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
        _simple_facet(catalogue, "dynasty", "朝代", filters,
                      order=lambda item: (rank.get(item.value, len(rank)), item.value)),
        _simple_facet(catalogue, "edition_type", "版本类型", filters),
        _simple_facet(catalogue, "record_type", "文献类型", filters, labels=RECORD_TYPE_LABELS),
        _without_unknown(_simple_facet(catalogue, "local_type", "地方文献", filters)),
        _without_unknown(_simple_facet(catalogue, "place", "地域", filters)),
        _without_unknown(_simple_facet(catalogue, "local_author", "地方人士", filters)),
    ]


def _without_unknown(facet: Facet) -> Facet:
    """Local-document facets only make sense for local documents: drop the 未详 bucket of the rest."""
    facet.values = [value for value in facet.values if value.value != UNKNOWN]
    return facet


def browse(catalogue: Catalogue, filters: Filters, page: int = 1, page_size: int = PAGE_SIZE) -> BrowseResult:
    total, page, pages, rows = catalogue.browse(filters, page, page_size)
    return BrowseResult(filters, total, page, pages, rows, facets(catalogue, filters))


def filter_label(key: str, value: str) -> str:
    """How a chosen filter reads in the page heading (class codes become 部/类 names)."""
    if key == "class":
        node = metadata_schemas.classification_by_code(value)
        return "·".join(node["path"]) if node else value
    if key == "record_type":
        return RECORD_TYPE_LABELS.get(value, value)
    return value
