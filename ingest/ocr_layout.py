"""Reading order and page parts of a 古籍 page, rebuilt from the engine's unordered text lines.

Engines give boxes, not reading order. The rules, on the boxes alone (tested on synthetic box sets):

1. **Bands.** A horizontal strip with no text across the whole width separates stacked parts of a
   scan: two leaves photographed one above the other (a reprint page), the 眉批 (notes written above
   the frame) and what is printed below it (a reprint's page number, a ruler or colour chart). The
   tall bands are the page's body; a short band above the first one is 眉批 (kept apart from the
   body), a short band below or between is margin (kept, not read as text).
2. **Columns.** Within a band, lines whose horizontal extents overlap by half the narrower one share
   a column slot; slots are read right to left.
3. **版心.** The centre fold of a whole leaf carries the running header (书名, 卷次, 叶次): a slot in
   the middle of the band whose text looks like one (``卷…``, a bare leaf number, ``…全書``, the
   book's title) splits the band into side a (right) and side b (left). A half-leaf scan keeps a
   strip of the 版心 at its outer edge — the left edge of an a side, the right edge of a b side.
   Either way it is a ``header`` region, never body text; its leaf number labels the page.
4. **Within a column**: top to bottom; a line much narrower than the column's widest line, or a pair
   of narrow lines side by side, is 夹注 (small double-column notes): each run of side-by-side notes
   is read right sub-column first, then left.

Character boxes: when the engine gives none, :func:`place_characters` divides the line along its
reading direction into equal cells (woodblock and 四库 manuscript characters stand on a regular grid).
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from dataclasses import dataclass, field

from guji.repository.parse import ParseError, chinese_to_int

from .ocr_engine import Box, RawLine

BAND_GAP = 0.45  # an empty strip at least this many column widths tall separates bands
MINOR_BAND = 0.3  # a band less tall than this share of the tallest is 眉批 or margin
NOTE_WIDTH = 0.72  # narrower than this share of its column's widest line: 夹注
HORIZONTAL = 1.3  # a line this many times wider than tall runs across the page, not down it
CENTRE = (0.33, 0.67)  # where a whole leaf's 版心 can stand, as a share of the band's width
NUMERALS = "〇零一二三四五六七八九十百千廿卅"
_JUAN = re.compile(rf"卷\s*([{NUMERALS}]+)")
_LEAF = re.compile(rf"^[{NUMERALS}]{{1,5}}$")
_BANNER = ("四庫全書", "四庫", "全書")  # 欽定四庫全書 and the 版心 banners of other 丛书


@dataclass
class Glyph:
    text: str
    box: Box
    confidence: float | None = None


@dataclass
class Line:
    text: str
    box: Box
    confidence: float
    glyphs: list[Glyph]
    role: str = "text"  # text (正文) | note (夹注) | header (版心) | annotation (眉批) | margin

    @property
    def vertical(self) -> bool:
        return self.box[3] >= self.box[2]


@dataclass
class Region:
    kind: str  # body | header | annotation | margin
    lines: list[Line]
    side: str | None = None  # "a" (right half of a leaf) or "b" (left half), when the scan shows both

    @property
    def box(self) -> Box:
        return union([line.box for line in self.lines])


@dataclass
class RunningHeader:
    """What the 版心 says: 书名, 卷 number, leaf (叶) number, and which side of the scan it stood."""

    text: str
    title: str | None = None
    juan: int | None = None
    leaf: int | None = None
    position: str = "centre"  # centre (a whole leaf), left or right (the edge of a half-leaf scan)

    def to_json(self) -> dict:
        return {key: value for key, value in {"text": self.text, "title": self.title, "juan": self.juan,
                                              "leaf": self.leaf, "position": self.position}.items()
                if value is not None}


@dataclass
class PageLayout:
    width: int
    height: int
    regions: list[Region] = field(default_factory=list)  # in reading order
    headers: list[RunningHeader] = field(default_factory=list)  # one per 版心 (two stacked leaves: two)

    def lines(self) -> list[Line]:
        return [line for region in self.regions for line in region.lines]

    def body_text(self) -> str:
        """正文 and 夹注 in reading order, without 版心, 眉批 and margin."""
        return "".join(line.text for line in self.lines() if line.role in ("text", "note"))

    @property
    def sides(self) -> list[str]:
        return sorted({region.side for region in self.regions if region.side})


def union(boxes: list[Box]) -> Box:
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return x0, y0, x1 - x0, y1 - y0


def place_characters(text: str, box: Box) -> list[Box]:
    """Equal cells along the line's reading direction: down a vertical line, across a horizontal one."""
    count = len(text)
    if not count:
        return []
    x, y, w, h = box
    if h >= w:
        edges = [y + round(h * i / count) for i in range(count + 1)]
        return [(x, edges[i], w, max(1, edges[i + 1] - edges[i])) for i in range(count)]
    edges = [x + round(w * i / count) for i in range(count + 1)]
    return [(edges[i], y, max(1, edges[i + 1] - edges[i]), h) for i in range(count)]


def _printable(char: str) -> bool:
    return unicodedata.category(char) not in ("Cc", "Cs", "Cn") or char == " "


def to_line(raw: RawLine) -> Line:
    """A laid-out line: control characters an engine may emit are dropped (with their boxes)."""
    boxes = raw.chars if raw.chars and len(raw.chars) == len(raw.text) else place_characters(raw.text, raw.box)
    confidences = raw.char_confidences if raw.chars and raw.char_confidences else [None] * len(boxes)
    glyphs = [Glyph(char, box, conf) for char, box, conf in zip(raw.text, boxes, confidences, strict=False)
              if _printable(char)]
    return Line("".join(glyph.text for glyph in glyphs), raw.box, raw.confidence, glyphs)


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def column_unit(lines: list[Line]) -> float:
    """The width of a column of 正文 (median width of the wider half of the vertical lines)."""
    widths = sorted(line.box[2] for line in lines if line.vertical and len(line.text) >= 2) or \
        sorted(min(line.box[2], line.box[3]) for line in lines)
    upper = widths[len(widths) // 2:]
    return float(statistics.median(upper)) if upper else 1.0


def bands(lines: list[Line], unit: float) -> list[list[Line]]:
    """Split lines into horizontal bands at empty strips ≥ BAND_GAP column widths tall."""
    ordered = sorted(lines, key=lambda line: line.box[1])
    groups: list[list[Line]] = []
    bottom = None
    for line in ordered:
        top = line.box[1]
        if bottom is None or top - bottom >= BAND_GAP * unit:
            groups.append([])
            bottom = top
        groups[-1].append(line)
        bottom = max(bottom, line.box[1] + line.box[3])
    return groups


def slots(lines: list[Line]) -> list[list[Line]]:
    """Column slots, right to left: lines whose x-extents overlap by half the narrower one."""
    parent = list(range(len(lines)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_x = sorted(range(len(lines)), key=lambda i: lines[i].box[0])
    for position, i in enumerate(by_x):
        xi, _, wi, _ = lines[i].box
        for j in by_x[position + 1:]:
            xj, _, wj, _ = lines[j].box
            if xj >= xi + wi:
                break
            if _overlap(xi, xi + wi, xj, xj + wj) >= 0.5 * min(wi, wj):
                parent[find(j)] = find(i)
    groups: dict[int, list[Line]] = {}
    for i in range(len(lines)):
        groups.setdefault(find(i), []).append(lines[i])
    return sorted(groups.values(), key=lambda group: -centre_x(group))


def centre_x(group: list[Line]) -> float:
    x, _, w, _ = union([line.box for line in group])
    return x + w / 2


def header_like(text: str, title: str | None) -> bool:
    """Whether a line reads like part of a 版心: 卷次, a bare leaf number, a banner, the book's title."""
    text = text.strip()
    if not text:
        return False
    if _JUAN.search(text) or _LEAF.match(text) or any(banner in text for banner in _BANNER):
        return True
    return bool(title) and len(text) >= 2 and (text in title or title[:4] in text)


def header_score(group: list[Line], title: str | None) -> float:
    chars = sum(len(line.text) for line in group) or 1
    return sum(len(line.text) for line in group if header_like(line.text, title)) / chars


def read_header(group: list[Line], position: str, title: str | None) -> RunningHeader:
    ordered = sorted(group, key=lambda line: line.box[1])
    header = RunningHeader(" ".join(line.text for line in ordered), position=position)
    names = []
    for line in ordered:
        text = line.text.strip()
        juan = _JUAN.search(text)
        if juan:
            header.juan = _number(juan.group(1))
            text = (text[:juan.start()] + text[juan.end():]).strip()
        if _LEAF.match(text):
            header.leaf = _number(text) if header.leaf is None else header.leaf
            continue
        if text and not any(banner in text for banner in _BANNER):
            names.append(text)
    header.title = "".join(names) or None
    return header


def _number(text: str) -> int | None:
    try:
        value = chinese_to_int(text.replace("廿", "二十").replace("卅", "三十"))
    except (ParseError, ValueError):
        return None
    return value if 0 < value < 10000 else None


def column_lines(group: list[Line]) -> list[Line]:
    """One column slot in reading order, with 夹注 marked: top to bottom; side-by-side notes right first."""
    widest = max(line.box[2] for line in group)
    narrow = [line for line in group if line.box[2] < NOTE_WIDTH * widest]
    paired = set()
    for i, a in enumerate(group):
        for b in group[i + 1:]:
            if _overlap(a.box[1], a.box[1] + a.box[3], b.box[1], b.box[1] + b.box[3]) > 0.3 * min(a.box[3], b.box[3]) \
                    and _overlap(a.box[0], a.box[0] + a.box[2], b.box[0], b.box[0] + b.box[2]) < 0.5 * min(a.box[2],
                                                                                                            b.box[2]):
                paired.update((id(a), id(b)))
    notes = {id(line) for line in narrow} | paired
    ordered: list[Line] = []
    pending: list[Line] = []  # a run of notes that overlap vertically

    def flush() -> None:
        if not pending:
            return
        middle = centre_x(pending)
        right = sorted((n for n in pending if n.box[0] + n.box[2] / 2 >= middle), key=lambda n: n.box[1])
        left = sorted((n for n in pending if n.box[0] + n.box[2] / 2 < middle), key=lambda n: n.box[1])
        if len(pending) > 1 and (not right or not left):
            right, left = sorted(pending, key=lambda n: n.box[1]), []
        ordered.extend(right + left)
        pending.clear()

    for line in sorted(group, key=lambda line: line.box[1]):
        if id(line) in notes:
            line.role = "note"
            if pending and line.box[1] >= max(n.box[1] + n.box[3] for n in pending):
                flush()
            pending.append(line)
        else:
            flush()
            line.role = "text"
            ordered.append(line)
    flush()
    return ordered


def note_pairs(columns: list[list[Line]], unit: float) -> list[list[Line]]:
    """A column of 夹注 only (two narrow sub-columns side by side) is one slot, not two columns."""
    merged: list[list[Line]] = []
    for group in columns:
        if merged:
            previous = merged[-1]
            x0, y0, w0, h0 = union([line.box for line in previous])
            x1, y1, w1, h1 = union([line.box for line in group])
            narrow = max(line.box[2] for line in previous + group) < NOTE_WIDTH * unit
            if narrow and _overlap(y0, y0 + h0, y1, y1 + h1) > 0 and max(x0 + w0, x1 + w1) - min(x0, x1) <= 1.25 * unit:
                previous.extend(group)
                continue
        merged.append(list(group))
    return merged


def _body(group_slots: list[list[Line]], side: str | None) -> Region:
    lines = [line for group in group_slots for line in column_lines(group)]
    return Region("body", lines, side)


def lay_out(raw_lines: list[RawLine], width: int, height: int, *, title: str | None = None,
            side: str | None = None) -> PageLayout:
    """Regions of one page in reading order. `side` ("a"/"b", from the leaf in structure.json) says
    at which edge a half-leaf scan keeps its strip of 版心; `title` (the book's) helps recognise it."""
    page = PageLayout(width, height)
    lines = [line for line in (to_line(raw) for raw in raw_lines) if line.text.strip()]
    # horizontal text on a page of vertical columns: a reprint's page number, a ruler, a colour chart
    across = [line for line in lines if line.box[2] > HORIZONTAL * line.box[3] and len(line.text) >= 2]
    lines = [line for line in lines if not any(line is other for other in across)]
    if across and not lines:  # a page set horizontally: top to bottom, left to right
        page.regions.append(Region("body", sorted(across, key=lambda line: (line.box[1], line.box[0]))))
        return page
    for line in across:
        line.role = "margin"
    if not lines:
        return page
    unit = column_unit(lines)
    for kind, group in _classify_bands(bands(lines, unit)):
        if kind == "body":
            page.regions.extend(_band_regions(page, group, title, side, unit))
            continue
        for line in group:
            line.role = kind
        page.regions.append(Region(kind, sorted(group, key=lambda line: (-line.box[0], line.box[1]))))
    # 眉批 above the body come after it in reading order; margins last
    order = {"body": 0, "header": 0, "annotation": 1, "margin": 2}
    page.regions.sort(key=lambda region: order[region.kind])
    if across:
        page.regions.append(Region("margin", sorted(across, key=lambda line: (line.box[1], line.box[0]))))
    return page


def _classify_bands(groups: list[list[Line]]) -> list[tuple[str, list[Line]]]:
    """Body bands are wide (half the text's width) and tall; a band above the first is 眉批; a
    narrow band below a body band is the lower part of its columns (an author's line set low, a
    column's last characters after a gap) and joins it."""
    boxes = [union([line.box for line in group]) for group in groups]
    extent = union(boxes)
    tallest = max(box[3] for box in boxes)
    body = [box[2] >= 0.5 * extent[2] and box[3] >= MINOR_BAND * tallest for box in boxes]
    if not any(body):
        body[max(range(len(boxes)), key=lambda i: boxes[i][2] * boxes[i][3])] = True
    first = body.index(True)
    out: list[tuple[str, list[Line]]] = []
    for index, group in enumerate(groups):
        if body[index]:
            out.append(("body", list(group)))
        elif index < first:
            out.append(("annotation", list(group)))
        else:
            next(lines for kind, lines in reversed(out) if kind == "body").extend(group)
    return out


def _band_regions(page: PageLayout, band: list[Line], title: str | None, side: str | None,
                  unit: float) -> list[Region]:
    columns = note_pairs(slots(band), unit)
    x, _, w, _ = union([line.box for line in band])
    regions: list[Region] = []
    # a whole leaf: a 版心 slot near the middle
    # (the 版心 is cut by its 鱼尾 into pieces — banner, 书名 and 卷, leaf number — and has columns of
    # text on both sides; a 卷端 title column standing mid-page is one line)
    middle = [(abs(centre_x(group) - (x + w / 2)), i) for i, group in enumerate(columns)
              if CENTRE[0] <= (centre_x(group) - x) / max(w, 1) <= CENTRE[1] and len(group) >= 2
              and min(i, len(columns) - 1 - i) >= 2 and header_score(group, title) >= 0.5]
    if middle:
        _, index = min(middle)
        regions.append(_header_region(page, columns[index], "centre", title))
        if columns[:index]:
            regions.insert(0, _body(columns[:index], "a"))
        if columns[index + 1:]:
            regions.append(_body(columns[index + 1:], "b"))
        return regions
    # a half leaf: a strip of 版心 at the outer edge (left of an a side, right of a b side)
    edges = {"a": [len(columns) - 1], "b": [0]}.get(side or "", [0, len(columns) - 1])
    header_index = None
    for index in edges:
        # a strip of 版心 is cut by the scan's edge (narrower than a column) or by its 鱼尾 (several
        # pieces); with the side unknown it must be narrow: a 卷端's first column reads 欽定四庫全書 too
        narrow = max(line.box[2] for line in columns[index]) < NOTE_WIDTH * unit
        shaped = narrow or (side in ("a", "b") and len(columns[index]) >= 2)
        if len(columns) >= 3 and shaped and header_score(columns[index], title) >= 0.5:
            header_index = index
            break
    body = [group for i, group in enumerate(columns) if i != header_index]
    if body:
        regions.append(_body(body, None))
    if header_index is not None:
        regions.append(_header_region(page, columns[header_index], "right" if header_index == 0 else "left", title))
    return regions


def _header_region(page: PageLayout, group: list[Line], position: str, title: str | None) -> Region:
    for line in group:
        line.role = "header"
    page.headers.append(read_header(group, position, title))
    return Region("header", sorted(group, key=lambda line: line.box[1]))
