"""登记目录 (census register) rows as XLSX: 普查编号, 索书号, 题名卷数, 著者, 版本, 册数, 存缺卷数.

The columns of the 全国古籍普查登记目录; rows sorted by 普查编号 (cards without one last, by
索书号). Withdrawn cards are left out.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from guji.repository import Catalogue, atomic_files

from . import card_text
from .selection import current_cards

COLUMNS = (
    ("普查编号", card_text.census_number, 22),
    ("索书号", card_text.call_number, 14),
    ("题名卷数", card_text.title_with_juan, 36),
    ("著者", card_text.responsibility_text, 30),
    ("版本", card_text.edition_text, 30),
    ("册数", lambda card: (card.get("copy") or {}).get("volumes"), 6),
    ("存缺卷数", card_text.extant_and_missing_text, 28),
)


def register_rows(catalogue: Catalogue, card_ids: list[str] | None = None) -> list[list]:
    cards = [record.card for record in current_cards(catalogue, card_ids) if not record.withdrawn]
    cards.sort(key=lambda card: (not card_text.census_number(card), card_text.census_number(card),
                                 card_text.call_number(card)))
    return [[value(card) if value(card) not in ("", None) else None for _, value, _ in COLUMNS] for card in cards]


def write_register(catalogue: Catalogue, output: Path, card_ids: list[str] | None = None) -> int:
    rows = register_rows(catalogue, card_ids)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("登记目录")
    sheet.freeze_panes = "A2"
    for index, (_, _, width) in enumerate(COLUMNS):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index + 1)].width = width
    header = []
    for title, _, _ in COLUMNS:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    with atomic_files.replacing(output) as temporary:
        workbook.save(temporary)
    return len(rows)
