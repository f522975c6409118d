"""Where a stretch of text stands on its scans: one box per column it spans.

A page's characters are located by the OCR (``ingest.page_text``: for every character its scan and
``[x, y, w, h]`` in the master's pixels, or nothing). A phrase of a vertical 古籍 page runs down one
column and may go on at the top of the next column to its left, and a 夹注 fills its right
sub-column before its left one: a single box around all of it would cover the columns between, so
the characters are grouped into columns — consecutive characters on the same scan whose boxes
overlap horizontally — and each column gets the box around its characters.

Anything with ``page`` and ``box`` attributes is a located character here (``ingest.Located``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

Box = list[int]  # [x, y, w, h]


class LocatedCharacter(Protocol):
    page: str
    box: Box


def union(boxes: Iterable[Box]) -> Box:
    boxes = list(boxes)
    left = min(box[0] for box in boxes)
    top = min(box[1] for box in boxes)
    right = max(box[0] + box[2] for box in boxes)
    bottom = max(box[1] + box[3] for box in boxes)
    return [left, top, right - left, bottom - top]


def _same_column(column: Box, box: Box) -> bool:
    """Whether `box` continues the column: half of the narrower one's width overlaps, and it does not
    start above the column's top (a phrase never runs back up a column)."""
    overlap = min(column[0] + column[2], box[0] + box[2]) - max(column[0], box[0])
    return overlap * 2 >= min(column[2], box[2]) and box[1] + box[3] > column[1]


def column_groups(characters: Iterable[LocatedCharacter | None]) -> list[tuple[str, Box, list[int]]]:
    """(scan page, box, indexes of the characters) per column the located `characters` stand in, in
    reading order; characters without a place are skipped (a box still spans them when their
    neighbours in the column are found)."""
    columns: list[tuple[str, Box, list[int]]] = []
    for index, character in enumerate(characters):
        if character is None or not character.box or character.box[2] <= 0 or character.box[3] <= 0:
            continue
        box = list(character.box)
        if columns and columns[-1][0] == character.page and _same_column(columns[-1][1], box):
            page, column, indexes = columns[-1]
            columns[-1] = (page, union([column, box]), [*indexes, index])
        else:
            columns.append((character.page, box, [index]))
    return columns


def column_boxes(characters: Iterable[LocatedCharacter | None]) -> list[tuple[str, Box]]:
    """(scan page, box) per column the located `characters` stand in (see :func:`column_groups`)."""
    return [(page, box) for page, box, _ in column_groups(characters)]


def fragment(box: Box) -> str:
    """The media fragment of a box: ``xywh=x,y,w,h``."""
    x, y, w, h = (int(value) for value in box)
    return f"xywh={x},{y},{w},{h}"
