"""Text detection in overlapping vertical strips, so that a worker's memory is bounded on any page.

The detector's memory grows with the pixels it sees — about 200 bytes per detector pixel for
PP-OCRv6 small, whatever the runtime's settings: 1.3 GB for a 26-megapixel two-leaf scan detected
at 3000 px. A page whose detector image would exceed :data:`DETECTION_PIXELS` is therefore read in
vertical strips of the page's full height, cut from the engine's image at full resolution:

- a strip keeps the page's height, so (on a page taller than wide) it is detected at exactly the
  page's scale and recognised from the same full-resolution pixels — the same lines, at most
  :data:`DETECTION_PIXELS` at a time;
- neighbouring strips share :data:`OVERLAP` detector pixels, wider than any column of text, so every
  column stands whole in at least one strip (columns run down the page: a vertical cut meets few);
- lines from the strips are merged (:func:`merge`): a line cut by a strip's inner edge gives way to
  the whole one its neighbour saw; a line seen whole by two strips is kept once, from the strip whose
  half of the overlap holds its centre.

Boxes come back in the pixels of the image given (the caller scales them to the master's).
"""

from __future__ import annotations

import math

from .ocr_engine import Box, RawLine
from .ocr_image import PageSource

DETECTION_PIXELS = 1_600_000  # per detector run: ~0.35 GB for PP-OCRv6 small (a half-leaf scan's worth)
OVERLAP = 160  # detector pixels shared by neighbouring strips; a column of text is 40–120
MIN_STRIP = 736  # image pixels: faster-paddle enlarges an image whose short side is less (det_min_side)
EDGE = 3  # detector pixels: a line this close to a strip's inner edge was cut by it
SAME = 0.5  # two lines sharing this share of the smaller one's area are one line seen twice


def plan_strips(width: int, height: int, max_side: int, pixels: int = DETECTION_PIXELS,
                overlap: int = OVERLAP) -> list[tuple[int, int]]:
    """[(left, right)] in image pixels: the whole width when the page's detector image fits in `pixels`,
    else overlapping strips of the full height, each within `pixels` (and at least MIN_STRIP wide)."""
    if width * height * min(1.0, max_side / max(width, height)) ** 2 <= pixels:
        return [(0, width)]
    scale = min(1.0, max_side / height)  # a strip no wider than the page is tall: the height is its long side
    strip = max(pixels / (height * scale), 3 * overlap, MIN_STRIP * scale)  # in detector pixels
    if width * scale <= strip:
        return [(0, width)]
    count = math.ceil((width * scale - overlap) / (strip - overlap))
    each = min(width, math.ceil((width * scale + (count - 1) * overlap) / count / scale))
    lefts = [round(i * (width - each) / (count - 1)) for i in range(count)]
    return [(left, left + each) for left in lefts]


def read_lines(engine, source: PageSource) -> list[RawLine]:
    """The engine's lines on the page `source` (in its pixels), read strip by strip when the detector
    image would exceed DETECTION_PIXELS; engines that declare no ``max_side`` read the whole page."""
    max_side = getattr(engine, "max_side", None)
    if not max_side:
        return engine.recognise(source.image())
    strips = plan_strips(source.width, source.height, max_side, DETECTION_PIXELS, OVERLAP)
    if len(strips) == 1:
        return engine.recognise(source.image())
    edge = EDGE / min(1.0, max_side / source.height)  # in image pixels
    return merge([_read_strip(engine, source, left, right) for left, right in strips], strips, edge=edge)


def _read_strip(engine, source: PageSource, left: int, right: int) -> list[RawLine]:
    lines = engine.recognise(source.image(left, right - left))
    for line in lines:
        line.box = _shift(line.box, left)
        if line.chars:
            line.chars = [_shift(box, left) for box in line.chars]
    return lines


def _shift(box: Box, dx: int) -> Box:
    return (box[0] + dx, box[1], box[2], box[3])


def _shared(a: Box, b: Box) -> float:
    """The share of the smaller box's area that lies in both."""
    dx = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    dy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if dx <= 0 or dy <= 0:
        return 0.0
    return dx * dy / max(1, min(a[2] * a[3], b[2] * b[3]))


def merge(found: list[list[RawLine]], strips: list[tuple[int, int]], edge: float = 6.0) -> list[RawLine]:
    """One list of lines from the lines each strip gave (in page pixels), each line once."""
    last = len(strips) - 1
    bounds = [-math.inf] + [(strips[i][1] + strips[i + 1][0]) / 2 for i in range(last)] + [math.inf]
    whole: list[tuple[float, int, RawLine]] = []  # (distance of its centre from its strip's half, strip, line)
    cut: list[tuple[int, RawLine]] = []
    for index, lines in enumerate(found):
        left, right = strips[index]
        for line in lines:
            x, _, w, _ = line.box
            if (index > 0 and x <= left + edge) or (index < last and x + w >= right - edge):
                cut.append((index, line))
                continue
            centre = x + w / 2
            whole.append((max(0.0, bounds[index] - centre, centre - bounds[index + 1]), index, line))
    whole.sort(key=lambda item: item[0])  # lines in their own strip's half first: they win
    kept: list[tuple[int, RawLine]] = []
    for _, index, line in whole:
        if not _seen(line, index, kept):
            kept.append((index, line))
    # a line cut by every strip that saw it (wider than the overlap: a horizontal caption) is kept once
    for index, line in sorted(cut, key=lambda item: -item[1].box[2] * item[1].box[3]):
        if not _seen(line, index, kept):
            kept.append((index, line))
    return [line for _, line in kept]


def _seen(line: RawLine, strip: int, kept: list[tuple[int, RawLine]]) -> bool:
    """Whether another strip's kept line is this one (the same strip's lines are never merged)."""
    return any(index != strip and _shared(line.box, other.box) >= SAME for index, other in kept)
