"""Aligning a transcription's page markers to the scans by 卷 and leaf (叶), not by order.

A Kanripo marker ``<pb:KR3f0006_WYG_002-3a>`` names 卷 002, leaf 3, side a. A book's
``structure.json`` gives each scan its ``leaf`` ("1a", "1b" for cut half-leaves, "1" for a whole
leaf) and its 卷 ranges may carry the 卷 number (``"juan": 2``). A marker goes to the scan with
its leaf — within its 卷 when the ranges carry 卷 numbers — so a transcription of 28 leaves finds
the five leaves that were scanned, wherever they are in the book.

Two ways of cutting a leaf meet here:

- **whole-leaf transcriptions.** The Wenyuange (WYG) transcriptions mostly put one ``a`` marker per
  leaf: its text runs over both half-leaves. When most leaves of a file's 卷 have an ``a`` marker
  and no ``b`` marker, the text of such a leaf stays on its ``a`` scan and ``covers`` names both
  scans; the ``b`` scan has no text of its own (where the half-leaf break falls is not marked).
  Otherwise (most leaves marked on both sides) a missing ``b`` marker just means that half has no
  text.
- **whole-leaf scans.** A scan with leaf "3" takes the markers 3a and 3b, whose text is joined.

Text whose leaf has no scan is neither dropped nor refused: it is stored without a page
(``"page": null``) — searchable within the book, shown as having no scan — and the import
warns, naming the leaves (``leaves 6a–28b of 卷二 have no scan``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from guji.repository.parse import ParseError, chinese_to_int, int_to_chinese

from .text_model import TextPage, TextRefused

_LEAF = re.compile(r"^\s*(\d+)\s*([a-z]?)\s*$")


@dataclass(frozen=True)
class Leaf:
    number: int
    side: str  # "a", "b" … or "" for a whole leaf

    def __str__(self) -> str:
        return f"{self.number}{self.side}"


def parse_leaf(value: object) -> Leaf | None:
    """ "3a" → Leaf(3, "a"), "3" → Leaf(3, ""); None for anything else (書衣, 前1 …)."""
    match = _LEAF.match(str(value)) if value is not None else None
    return Leaf(int(match[1]), match[2]) if match else None


def juan_number(value: object) -> int | None:
    """卷 number of a marker or range: 2, "002", "二" → 2; None when it is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().removeprefix("卷")
    if text.isascii() and text.isdigit():  # not ², which int() refuses
        return int(text)
    try:
        return chinese_to_int(text)
    except (ParseError, ValueError):
        return None


def has_leaves(structure: dict | None) -> bool:
    """Whether any scan of the structure has a leaf a marker can be matched to."""
    return any(parse_leaf(entry.get("leaf")) for entry in (structure or {}).get("pages") or [])


class ScanLeaves:
    """The book's scans by (卷, leaf): 卷 is None when no range carries a 卷 number."""

    def __init__(self, structure: dict):
        self.pages: list[dict] = list(structure.get("pages") or [])
        self.position = {entry["page"]: index for index, entry in enumerate(self.pages)}
        self.juan_of: dict[str, int] = {}
        self.juan_label: dict[int, str] = {}
        for item in structure.get("ranges") or []:
            number = juan_number(item.get("juan"))
            if number is None:
                continue
            self.juan_label.setdefault(number, str(item.get("label") or f"卷{int_to_chinese(number)}"))
            for page in item.get("pages") or []:
                self.juan_of.setdefault(str(page), number)
        self.by_juan = bool(self.juan_label)
        self.scans: dict[tuple[int | None, Leaf], list[dict]] = defaultdict(list)
        for entry in self.pages:
            leaf = parse_leaf(entry.get("leaf"))
            if leaf is None:
                continue
            juan = self.juan_of.get(entry["page"]) if self.by_juan else None
            if self.by_juan and juan is None:
                continue  # a scan outside every numbered 卷 (書衣, 序 …) takes no 卷 marker
            self.scans[(juan, leaf)].append(entry)

    def scope(self, juan: int | None) -> tuple[bool, int | None]:
        """(whether the book has scans of this 卷, the key to look them up under)."""
        if not self.by_juan:
            return True, None
        return juan in self.juan_label, juan

    def find(self, juan: int | None, leaf: Leaf, after: int) -> dict | None:
        """The scan of `leaf`: the first one after scan position `after` when several have it."""
        found = self.scans.get((juan, leaf)) or []
        later = [entry for entry in found if self.position[entry["page"]] > after]
        return (later or found or [None])[0]

    def name_juan(self, juan: int | None, written: str | None) -> str:
        if juan is not None and juan in self.juan_label:
            return self.juan_label[juan]
        if juan is not None:
            return f"卷{int_to_chinese(juan)}"
        return f"卷 {written}" if written else ""


def _whole_leaf_files(pages: list[TextPage]) -> set[tuple[str, str | None]]:
    """(source, 卷) of the text files that mark one ``a`` per leaf (WYG style): most of their
    leaves have an ``a`` marker and no ``b`` marker."""
    sides: dict[tuple[str, str | None], dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for page in pages:
        leaf = parse_leaf(page.leaf)
        if leaf is not None:
            sides[(page.source, page.juan)][leaf.number].add(leaf.side)
    whole = set()
    for key, leaves in sides.items():
        a_only = sum(1 for found in leaves.values() if found == {"a"})
        both = sum(1 for found in leaves.values() if {"a", "b"} <= found)
        if a_only > both:
            whole.add(key)
    return whole


def _runs(items: list[str | None]) -> str:
    """"6a, 7a … 28b" (consecutive in the text) → "6a–28b"; separate runs by commas."""
    return "、".join(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in _split_runs(items))


def _split_runs(items: list[str | None]) -> list[list[str]]:
    runs: list[list[str]] = []
    for item in items:
        if item is None:
            if runs and runs[-1]:
                runs.append([])
            continue
        if not runs:
            runs.append([])
        runs[-1].append(item)
    return [run for run in runs if run]


def _pages_text(numbers: list[str], position: dict[str, int]) -> str:
    """"0002, 0004" or "0010–0012" (consecutive scans joined)."""
    ordered = sorted(numbers, key=position.__getitem__)
    runs: list[list[str]] = []
    for number in ordered:
        if runs and position[number] == position[runs[-1][-1]] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return "、".join(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def align_by_leaf(pages: list[TextPage], structure: dict, warnings: list[str], notes: list[str]) -> None:
    """Give each text page the scan of its 卷 and leaf (``page``), or None when it has no scan.

    Joins the text of both sides of a whole-leaf scan; raises TextRefused when two text pages
    claim the same scan (the same marker twice)."""
    scans = ScanLeaves(structure)
    whole_leaf = _whole_leaf_files(pages)
    cursor = -1
    claims: dict[str, list[TextPage]] = defaultdict(list)
    for page in pages:
        page.page = None
        leaf = parse_leaf(page.leaf)
        if leaf is None:
            continue
        known, juan = scans.scope(juan_number(page.juan))
        if not known:
            continue
        scan = scans.find(juan, leaf, cursor)
        if scan is None and leaf.side in ("a", "b", ""):
            # a whole-leaf scan takes both sides; a marker without a side takes the a scan
            scan = scans.find(juan, Leaf(leaf.number, ""), cursor) or (
                scans.find(juan, Leaf(leaf.number, "a"), cursor) if not leaf.side else None)
        if scan is None:
            continue
        page.page = scan["page"]
        claims[scan["page"]].append(page)
        cursor = scans.position[scan["page"]]

    joined: list[TextPage] = []
    for number, claimants in claims.items():
        if len(claimants) == 1:
            continue
        leaves = [parse_leaf(page.leaf) for page in claimants]
        scan_leaf = parse_leaf(scans.pages[scans.position[number]].get("leaf"))
        sides_of_one_leaf = (scan_leaf is not None and not scan_leaf.side
                             and len({page.juan for page in claimants}) == 1
                             and len({leaf.side for leaf in leaves}) == len(leaves))
        if not sides_of_one_leaf:
            where = "；".join(f"{page.source} 第 {page.source_line} 行（{page.marker or page.label}）"
                              for page in claimants)
            raise TextRefused([f"全文中有几页都对应影像第 {number} 页：{where}。全文的每一页只能导入一次"])
        first = claimants[0]
        for other in claimants[1:]:
            first.lines.extend(other.lines)
            joined.append(other)
        first.label = f"{first.label}–{claimants[-1].leaf}"
        notes.append(f"影像 {number} 是整叶：{scans.name_juan(juan_number(first.juan), first.juan)} "
                     f"{'、'.join(p.leaf or '' for p in claimants)} 的全文合在这一页上")
    for page in joined:
        pages.remove(page)

    # whole-leaf transcriptions: the text of an a-only leaf covers its b scan too
    covered: dict[str, list[TextPage]] = defaultdict(list)
    marked = {(page.source, page.juan, str(parse_leaf(page.leaf))) for page in pages if parse_leaf(page.leaf)}
    claimed = set(claims)
    for page in pages:
        leaf = parse_leaf(page.leaf)
        if page.page is None or leaf is None or leaf.side != "a" or (page.source, page.juan) not in whole_leaf:
            continue
        if (page.source, page.juan, f"{leaf.number}b") in marked:
            continue
        _, juan = scans.scope(juan_number(page.juan))
        b_scan = scans.find(juan, Leaf(leaf.number, "b"), scans.position[page.page])
        if b_scan is None or b_scan["page"] in claimed:
            continue
        page.covers = [page.page, b_scan["page"]]
        claimed.add(b_scan["page"])
        covered[scans.name_juan(juan_number(page.juan), page.juan)].append(page)
    for juan_name, leaves in covered.items():
        numbers = [str(parse_leaf(page.leaf).number) for page in leaves]
        notes.append(f"全文按整叶标记（每叶一个 a 标记），影像是半叶：{juan_name}第 {_runs(_consecutive(numbers))} 叶的"
                     f"全文存在其 a 半叶（{_pages_text([p.page for p in leaves], scans.position)}）上；b 半叶"
                     f"（{_pages_text([p.covers[1] for p in leaves], scans.position)}）没有单独的全文")

    _warn_unscanned(pages, scans, warnings)
    _warn_scans_without_text(pages, scans, claimed, warnings)


def _consecutive(numbers: list[str]) -> list[str | None]:
    """Leaf numbers with None between non-consecutive ones (for `_runs`)."""
    out: list[str | None] = []
    for number in numbers:
        if out and out[-1] is not None and int(number) != int(out[-1]) + 1:
            out.append(None)
        out.append(number)
    return out


def _warn_unscanned(pages: list[TextPage], scans: ScanLeaves, warnings: list[str]) -> None:
    """One warning naming the leaves whose text has no scan, 卷 by 卷, in the text's order."""
    by_juan: dict[str, list[str | None]] = {}
    unlinked = 0
    for page in pages:
        name = scans.name_juan(juan_number(page.juan), page.juan) if page.juan else ""
        sequence = by_juan.setdefault(name, [])
        if page.page is None:
            unlinked += 1
            sequence.append(page.leaf or f"（{page.source} 第 {page.source_line} 行，在第一个页标记之前）")
        elif sequence and sequence[-1] is not None:
            sequence.append(None)  # a scanned page breaks the run
    if not unlinked:
        return
    parts = []
    for name, sequence in by_juan.items():
        leaves = [item for item in sequence if item is not None]
        if not leaves:
            continue
        parts.append(f"{name}第 {_runs(sequence)} 叶")
    linked = len(pages) - unlinked
    warnings.append(f"{'；'.join(parts)}没有影像：这些叶的全文（全文 {len(pages)} 叶中的 {unlinked} 叶）"
                    "保存时不对应影像，可在书内检索到，显示为「无影像」"
                    + ("" if linked else "。全文没有一叶对上已扫描的叶：请核对全文与影像是否同一卷"))


def _warn_scans_without_text(pages: list[TextPage], scans: ScanLeaves, claimed: set[str],
                             warnings: list[str]) -> None:
    """Scans of the 卷 the text is of that got no text."""
    juans = {scans.scope(juan_number(page.juan))[1] for page in pages if page.page}
    if not juans:
        return
    empty = [entry["page"] for entry in scans.pages if entry["page"] not in claimed
             and (not scans.by_juan or scans.juan_of.get(entry["page"]) in juans)]
    if empty:
        leaves = [str(entry.get("leaf") or entry["page"]) for entry in scans.pages if entry["page"] in set(empty)]
        named = f"（叶 {'、'.join(leaves)}）" if len(leaves) <= 12 else ""
        warnings.append(f"{len(empty)} 页影像没有全文：{_pages_text(empty, scans.position)}{named}")
