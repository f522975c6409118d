"""Guide cards (导卡): catalogue cards of 12.5 × 7.5 cm, four to an A4 sheet, with cut marks.

Each card shows 索书号 (top left), 题名卷数, 著者, 版本, 存卷, 册数/函数 and 普查编号, in a CJK
font embedded as a subset (see :mod:`repository.outputs.fonts`). A field too long for the card is set in a
smaller size (down to 60 %) and, if it still does not fit, cut with "…" and reported. A small
circle marks where the rod hole (穿杆孔) is punched; no text is printed there.

Use :func:`print_guide_cards` (returns :class:`PrintResult` with the PDF bytes, optionally
writing a file) from the CLI and from the staff web pages alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import WrapMode

from guji.repository import Catalogue, InvalidInput, atomic_files, local_time

from . import card_text
from .fonts import MAIN_FAMILY, GlyphCoverage, add_cjk_fonts
from .selection import CurrentCard, current_cards

Progress = Callable[[int, int], None]

CARD_WIDTH = 125.0  # mm, the standard catalogue card
CARD_HEIGHT = 75.0
SHEET_WIDTH, SHEET_HEIGHT = 297.0, 210.0  # A4 landscape: 2 × 2 cards
COLUMNS, ROWS = 2, 2
CARDS_PER_SHEET = COLUMNS * ROWS
MARGIN_X = (SHEET_WIDTH - COLUMNS * CARD_WIDTH) / 2  # 23.5 mm
MARGIN_Y = (SHEET_HEIGHT - ROWS * CARD_HEIGHT) / 2  # 30 mm
CUT_MARK_LENGTH, CUT_MARK_GAP = 6.0, 2.0

PADDING = 6.0  # mm inside the card edge
CALL_NUMBER_WIDTH = 24.0  # left column for 索书号
HOLE_DIAMETER, HOLE_FROM_BOTTOM = 6.0, 8.0  # rod-hole guide, centred
POINT = 25.4 / 72  # mm per typographic point
LINE_SPACING = 1.45
MIN_SCALE = 0.6
ALL_WITHDRAWN = "所选卡片都已撤销，没有导卡可打印"  # the cards chosen, withdrawn every one


@dataclass(frozen=True)
class GuideCard:
    """What one printed card shows."""

    id: str
    version: int
    call_number: str
    title_with_juan: str
    responsibility: str
    edition: str
    extant_juan: str
    volumes: str
    census_number: str

    @classmethod
    def from_card(cls, card_id: str, version: int, card: dict) -> GuideCard:
        return cls(
            id=card_id,
            version=version,
            call_number=card_text.call_number(card),
            title_with_juan=card_text.title_with_juan(card),
            responsibility=card_text.responsibility_text(card),
            edition=card_text.edition_text(card),
            extant_juan=card_text.extant_juan_text(card),
            volumes=card_text.volumes_text(card),
            census_number=card_text.census_number(card),
        )

    def body(self) -> list[tuple[str, str, float]]:
        """(field label, text, point size) of the lines right of the 索书号 column."""
        lines = [("题名卷数", self.title_with_juan, 12.0), ("著者", self.responsibility, 10.0),
                 ("版本", self.edition, 10.0), ("存卷", self.extant_juan, 10.0), ("册数/函数", self.volumes, 10.0)]
        return [line for line in lines if line[1]]


@dataclass
class PrintResult:
    pdf: bytes
    cards: int
    sheets: int
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None


class GuideCardSheet:
    """An FPDF document that lays out guide cards four to a sheet."""

    def __init__(self, printed_on: str):
        self.pdf = FPDF(orientation="L", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_creator("Guji")
        self.pdf.set_title("导卡")
        add_cjk_fonts(self.pdf)
        self.printed_on = printed_on
        self.coverage = GlyphCoverage()
        self.count = 0
        self.warnings: list[str] = []

    def add(self, card: GuideCard) -> None:
        slot = self.count % CARDS_PER_SHEET
        if slot == 0:
            self.pdf.add_page()
            self._cut_marks()
        x = MARGIN_X + (slot % COLUMNS) * CARD_WIDTH
        y = MARGIN_Y + (slot // COLUMNS) * CARD_HEIGHT
        self._card(card, x, y)
        self.count += 1
        missing = self.coverage.missing("".join(text for _, text, _ in card.body()) + card.call_number)
        if missing:
            shown = "、".join(f"「{c}」U+{ord(c):04X}" for c in missing)
            self.warnings.append(f"{card.id}：字体中没有{shown}，印为空白")

    def output(self) -> bytes:
        return bytes(self.pdf.output())

    @property
    def sheets(self) -> int:
        return self.pdf.page

    # ---- drawing -----------------------------------------------------------------------

    def _cut_marks(self) -> None:
        pdf = self.pdf
        pdf.set_draw_color(0)
        pdf.set_line_width(0.2)
        right, bottom = MARGIN_X + COLUMNS * CARD_WIDTH, MARGIN_Y + ROWS * CARD_HEIGHT
        for column in range(COLUMNS + 1):
            x = MARGIN_X + column * CARD_WIDTH
            pdf.line(x, MARGIN_Y - CUT_MARK_GAP, x, MARGIN_Y - CUT_MARK_GAP - CUT_MARK_LENGTH)
            pdf.line(x, bottom + CUT_MARK_GAP, x, bottom + CUT_MARK_GAP + CUT_MARK_LENGTH)
        for row in range(ROWS + 1):
            y = MARGIN_Y + row * CARD_HEIGHT
            pdf.line(MARGIN_X - CUT_MARK_GAP, y, MARGIN_X - CUT_MARK_GAP - CUT_MARK_LENGTH, y)
            pdf.line(right + CUT_MARK_GAP, y, right + CUT_MARK_GAP + CUT_MARK_LENGTH, y)

    def _card(self, card: GuideCard, x: float, y: float) -> None:
        pdf = self.pdf
        # rod-hole guide
        pdf.set_draw_color(170)
        pdf.set_line_width(0.15)
        hole_x = x + CARD_WIDTH / 2
        hole_y = y + CARD_HEIGHT - HOLE_FROM_BOTTOM
        pdf.circle(hole_x, hole_y, HOLE_DIAMETER / 2)

        pdf.set_text_color(0)
        self._text_block(card.call_number, x + PADDING, y + PADDING, CALL_NUMBER_WIDTH - 2, 11.0, max_lines=4,
                         card=card, label="索书号")

        body_x = x + PADDING + CALL_NUMBER_WIDTH
        body_width = CARD_WIDTH - 2 * PADDING - CALL_NUMBER_WIDTH
        body_top = y + PADDING
        body_bottom = hole_y - HOLE_DIAMETER / 2 - 2
        self._body(card, body_x, body_top, body_width, body_bottom - body_top)

        footer_y = y + CARD_HEIGHT - PADDING - 3.5
        if card.census_number:
            pdf.set_font(MAIN_FAMILY, size=8)
            pdf.set_xy(x + PADDING, footer_y)
            pdf.cell(hole_x - HOLE_DIAMETER - x - PADDING, 3.5, f"普查编号 {card.census_number}")
        pdf.set_font(MAIN_FAMILY, size=5.5)
        pdf.set_text_color(110)
        stamp = f"{card.id} v{card.version} · {self.printed_on}"
        pdf.set_xy(hole_x + HOLE_DIAMETER, footer_y + 0.8)
        pdf.cell(x + CARD_WIDTH - PADDING - hole_x - HOLE_DIAMETER, 3, stamp, align="R")
        pdf.set_text_color(0)

    def _wrap(self, text: str, width: float, size: float) -> list[str]:
        self.pdf.set_font(MAIN_FAMILY, size=size)
        if self.pdf.get_string_width(text) <= width:
            return [text]  # one line: no need for the (slower) dry-run layout
        return self.pdf.multi_cell(width, size * POINT, text, dry_run=True, output="LINES",
                                   wrapmode=WrapMode.CHAR, align="L")

    def _body(self, card: GuideCard, x: float, y: float, width: float, height: float) -> None:
        lines = card.body()
        scale = 1.0
        while True:
            wrapped = [(label, self._wrap(text, width, size * scale), size * scale) for label, text, size in lines]
            needed = sum(len(rows) * size * POINT * LINE_SPACING for _, rows, size in wrapped)
            if needed <= height or scale <= MIN_SCALE:
                break
            scale = round(scale - 0.05, 2)
        top = y
        for label, rows, size in wrapped:
            line_height = size * POINT * LINE_SPACING
            self.pdf.set_font(MAIN_FAMILY, size=size)
            for index, row in enumerate(rows):
                if top + line_height > y + height + 0.01:
                    self.warnings.append(f"{card.id}：{label}太长，卡片上印不下，印到「{''.join(rows[:index])}」为止")
                    return
                self.pdf.set_xy(x, top)
                self.pdf.cell(width, line_height, row)
                top += line_height

    def _text_block(self, text: str, x: float, y: float, width: float, size: float, *, max_lines: int,
                    card: GuideCard, label: str) -> None:
        if not text:
            return
        rows = self._wrap(text, width, size)
        if len(rows) > max_lines:
            self.warnings.append(f"{card.id}：{label}「{text}」太长，卡片上只印了前{max_lines}行")
            rows = rows[:max_lines]
        line_height = size * POINT * 1.25
        for index, row in enumerate(rows):
            self.pdf.set_xy(x, y + index * line_height)
            self.pdf.cell(width, line_height, row)


def render_guide_cards(
    cards: Iterable[GuideCard], *, total: int | None = None, progress: Progress | None = None,
    printed_on: str | None = None,
) -> PrintResult:
    """Lay out `cards` in the order given; returns the PDF."""
    sheet = GuideCardSheet(printed_on or local_time.format_date(local_time.today()))
    for card in cards:
        sheet.add(card)
        if progress:
            progress(sheet.count, total or sheet.count)
    if sheet.count == 0:
        raise InvalidInput("没有可打印的导卡（所选卡片都已撤销，或没有选卡片）")
    return PrintResult(sheet.output(), sheet.count, sheet.sheets, sheet.warnings)


def _filing_key(card: CurrentCard) -> tuple[str, str]:
    return (card_text.call_number(card.card), card.id)


def print_guide_cards(
    catalogue: Catalogue,
    card_ids: list[str] | None = None,
    *,
    output: Path | None = None,
    progress: Progress | None = None,
) -> PrintResult:
    """Guide cards for `card_ids` (default: every card), in 索书号 order; withdrawn cards are left out.

    Returns the PDF bytes (for a web response) and writes them to `output` when given.
    """
    cards = sorted(
        (card for card in current_cards(catalogue, card_ids) if card.card.get("status") != "withdrawn"),
        key=_filing_key,
    )
    result = render_guide_cards(
        (GuideCard.from_card(card.id, card.version, card.card) for card in cards),
        total=len(cards), progress=progress,
    )
    if output is not None:
        atomic_files.write_bytes(output, result.pdf)
        result.path = output
    return result
