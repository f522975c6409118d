"""`guji cards export`: cards as JSON (complete) or as CSV/XLSX rows (the import columns).

Every exported card carries its `id` and `version`; a spreadsheet edited and imported again
with a 修改原因 column is a batch revision, and the 基于版本 column makes the import refuse
rows whose card was changed by someone else in the meantime.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import IO

import openpyxl
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from . import atomic_files
from .card_table import export_columns, format_cell
from .catalogue import Catalogue, StoredCard
from .errors import InvalidInput


def _cards(catalogue: Catalogue, card_ids: list[str] | None) -> Iterator[StoredCard]:
    if card_ids is None:
        card_ids = [row.id for row in catalogue.list_rows()]
    for card_id in card_ids:
        yield catalogue.get(card_id)


BUILT_IN_FORMATS = ("json", "csv", "xlsx")


def extra_formats() -> dict[str, Callable[..., int]]:
    """Formats other packages add through the `guji.card_formats` entry-point group (MODS, Dublin
    Core, MARCXML …): name → writer(catalogue, output, card_ids) returning the count. A writer whose
    output is binary says so with a `needs_file = True` attribute (no stdout then)."""
    return {entry.name: entry.load() for entry in entry_points(group="guji.card_formats")}


def export_cards(
    catalogue: Catalogue,
    format: str,
    output: Path | IO[str],
    card_ids: list[str] | None = None,
    headers: str = "zh",
) -> int:
    """Write cards to `output` (a path, or a text stream for JSON). Returns the count."""
    if format not in BUILT_IN_FORMATS:
        writer = extra_formats().get(format)
        if writer is None:
            raise InvalidInput(f"unknown export format {format!r}")
        return writer(catalogue, output, card_ids)
    cards = list(_cards(catalogue, card_ids))
    if format == "json":
        data = [{**stored.card, "id": stored.id, "version": stored.version} for stored in cards]
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
        if isinstance(output, Path):
            with atomic_files.replacing(output) as temporary:
                temporary.write_text(text, encoding="utf-8")
        else:
            output.write(text)
        return len(cards)
    columns = export_columns()
    header_row = [c.header if headers == "zh" else c.key for c in columns]
    rows = [[format_cell(c, stored.card, stored.version) for c in columns] for stored in cards]
    assert isinstance(output, Path), "CSV and XLSX need an output file"
    with atomic_files.replacing(output) as temporary:
        if format == "csv":
            # UTF-8 with BOM so that Excel on Chinese Windows opens it correctly.
            with open(temporary, "w", encoding="utf-8-sig", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(header_row)
                writer.writerows([["" if v is None else v for v in row] for row in rows])
        else:
            workbook = openpyxl.Workbook(write_only=True)
            sheet = workbook.create_sheet("卡片")
            sheet.freeze_panes = "A2"
            sheet.append([_bold(sheet, header) for header in header_row])
            for row in rows:
                sheet.append(row)
            workbook.save(temporary)
    return len(cards)


def _bold(sheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = Font(bold=True)
    return cell
