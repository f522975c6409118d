"""Large pages are read in overlapping strips (ingest.ocr_tiles): every column once, whole.

A tiny synthetic page and an engine that "detects" each dark vertical bar in the image it is given,
as a detector would: a bar that runs over the image's edge comes back cut at the edge.
"""

from __future__ import annotations

import numpy
import pytest
import pyvips

from guji.ingest import ocr_tiles
from guji.ingest.ocr_engine import RawLine
from guji.ingest.ocr_image import open_page
from guji.ingest.ocr_tiles import plan_strips, read_lines

WIDTH, HEIGHT = 300, 60
# (left, right, grey level): the grey level names the bar, so a bar read twice shows as a repeated text
BARS = [(20, 30, 10), (60, 72, 60), (88, 98, 20), (98, 118, 30), (160, 176, 40), (270, 285, 50)]


class BarEngine:
    """Finds runs of dark pixel columns; text = the bar's grey level, box = the run in the image given."""

    max_side = 10_000  # detection at full size: strips are planned in image pixels
    name = "bars"

    def __init__(self):
        self.widths: list[int] = []

    def recognise(self, image) -> list[RawLine]:
        self.widths.append(image.width)
        darkest = image.numpy()[:, :, 0].min(axis=0)
        lines, x = [], 0
        while x < image.width:
            if darkest[x] < 128:
                start = x
                while x < image.width and darkest[x] == darkest[start]:
                    x += 1
                lines.append(RawLine(f"bar{darkest[start]}", (start, 5, x - start, HEIGHT - 10), 0.9))
            else:
                x += 1
        return lines


@pytest.fixture
def page(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr_tiles, "DETECTION_PIXELS", 120 * HEIGHT)  # strips of ~120 px, not the whole 300
    monkeypatch.setattr(ocr_tiles, "OVERLAP", 40)
    monkeypatch.setattr(ocr_tiles, "MIN_STRIP", 1)
    pixels = numpy.full((HEIGHT, WIDTH, 3), 255, dtype=numpy.uint8)
    for left, right, grey in BARS:
        pixels[5:HEIGHT - 5, left:right] = grey
    path = tmp_path / "page.png"
    pyvips.Image.new_from_array(pixels, interpretation="srgb").write_to_file(str(path))
    return path


def test_a_column_across_a_strip_edge_is_read_once_and_whole(page):
    strips = plan_strips(WIDTH, HEIGHT, BarEngine.max_side, ocr_tiles.DETECTION_PIXELS, ocr_tiles.OVERLAP)
    assert len(strips) > 2
    inner_edges = [right for _, right in strips[:-1]] + [left for left, _ in strips[1:]]
    assert sum(left < edge < right for left, right, _ in BARS for edge in inner_edges) >= 3  # bars cut by a strip
    assert strips[1][0] < 88 and 98 < strips[0][1]  # one bar lies whole in two strips' overlap

    engine = BarEngine()
    lines = read_lines(engine, open_page(page))

    assert max(engine.widths) < WIDTH  # the detector never saw the whole page
    found = sorted((line.box[0], line.box[0] + line.box[2], line.text) for line in lines)
    assert found == [(left, right, f"bar{grey}") for left, right, grey in BARS]


def test_a_page_within_the_budget_is_read_whole(page, monkeypatch):
    monkeypatch.setattr(ocr_tiles, "DETECTION_PIXELS", WIDTH * HEIGHT)
    engine = BarEngine()
    assert len(read_lines(engine, open_page(page))) == len(BARS) and engine.widths == [WIDTH]


def test_strips_cover_the_page_and_overlap_by_more_than_a_column():
    # a 26-megapixel two-leaf scan, detected at 3000 px on its long side
    strips = plan_strips(4296, 6065, 3000)
    scale = 3000 / 6065
    assert strips[0][0] == 0 and strips[-1][1] == 4296
    for (_, right), (next_left, _) in zip(strips, strips[1:], strict=False):
        assert (right - next_left) * scale >= ocr_tiles.OVERLAP - 1
    assert all((right - left) * scale * 3000 <= ocr_tiles.DETECTION_PIXELS * 1.01 for left, right in strips)
    assert plan_strips(1000, 1400, 3000) == [(0, 1000)]
