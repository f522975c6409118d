"""`guji cards import`: cards from CSV, XLSX or JSON — new cards and batch revisions.

Everything is checked before anything is written: each row becomes a *plan item* (create,
revise, unchanged or bad). By default a file with any bad row is refused whole, naming every
row, column and reason; `skip_bad` imports the good rows and writes the bad ones to a reject
file. A row that matches an existing card (by 记录号/id, or by 索书号 including former ones) and
has a 修改原因 is a **batch revision**: one new version per changed card, with that reason.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl

from .card import CardWarning, FieldChange, card_diff, normalise_card
from .card_table import (
    CLEAR,
    CLEAR_MARK,
    CellError,
    Column,
    apply_row,
    cell_text,
    column_for_header,
    column_for_path,
    columns,
    format_cell,
    read_cell,
    split_title_with_juan,
)
from .catalogue import CardError, CardNotFound, Catalogue, SaveResult, new_card_id
from .ocfl_store import OBJECT_ID_PATTERN

SUPPORTED = {".csv": "CSV", ".xlsx": "XLSX", ".json": "JSON"}


class UnreadableFile(Exception):
    """The file as a whole cannot be read (wrong type, no header row, unreadable)."""


@dataclass(frozen=True)
class RowProblem:
    row: int  # spreadsheet row number as Excel shows it (header = 1), or JSON item number
    column: str  # header as written in the file, or "" for the whole row
    message: str

    def __str__(self) -> str:
        where = f"第{self.row}行" + (f"「{self.column}」列" if self.column else "")
        return f"{where}: {self.message}"


@dataclass
class PlanItem:
    row: int
    source: dict[str, Any]  # the row as read, header → cell
    action: str = "create"  # create | revise | unchanged | bad
    card_id: str | None = None
    card: dict | None = None
    base_version: int = 0
    reason: str = ""
    changes: list[FieldChange] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[CardWarning] = field(default_factory=list)
    headers: dict[Column, str] = field(default_factory=dict)  # column → header as in the file


@dataclass
class ImportPlan:
    path: Path
    items: list[PlanItem]
    headers: list[str]
    ignored_headers: list[str]

    @property
    def bad(self) -> list[PlanItem]:
        return [item for item in self.items if item.action == "bad"]

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def problems(self) -> list[RowProblem]:
        return [problem for item in self.bad for problem in item.problems]


# ---- reading files ----------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Headers and (row number, header → cell) for every non-empty row."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(f"{path.name}: unsupported file type {suffix or '(none)'}; use .csv, .xlsx or .json")
    if not path.is_file():
        raise UnreadableFile(f"{path}: no such file")
    if suffix == ".json":
        return _read_json(path)
    if suffix == ".csv":
        table = _read_csv(path)
    else:
        table = _read_xlsx(path)
    return _table_rows(path, table)


def _read_csv(path: Path) -> list[tuple[int, list[Any]]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise UnreadableFile(f"{path.name}: not UTF-8 or GB18030 text")
    return list(enumerate(csv.reader(io.StringIO(text)), start=1))


def _read_xlsx(path: Path) -> list[tuple[int, list[Any]]]:
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a broken file
        raise UnreadableFile(f"{path.name}: cannot be opened as an Excel workbook ({error})") from None
    try:
        sheet = workbook.worksheets[0]
        return [(number, list(row)) for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        workbook.close()


def _table_rows(path: Path, table: list[tuple[int, list[Any]]]):
    table = [(number, row) for number, row in table if any(cell_text(c) for c in row)]
    if not table:
        raise UnreadableFile(f"{path.name}: the file has no rows")
    header_number, header_row = table[0]
    headers = [cell_text(h) for h in header_row]
    if not any(column_for_header(h) for h in headers):
        raise UnreadableFile(
            f"{path.name}: row {header_number} should be the header row (索书号, 题名, 卷数, 著者, 版本 …), "
            f"but none of its cells is a known column: {', '.join(h for h in headers if h)}"
        )
    rows = []
    for number, row in table[1:]:
        values = {headers[i]: row[i] for i in range(min(len(headers), len(row))) if headers[i]}
        rows.append((number, values))
    return headers, rows


def _json_cards(path: Path, single: bool = False) -> list[dict]:
    """The cards of a JSON file: an array, or {"cards": [...]}; with `single` also one card object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UnreadableFile(f"{path.name}: not valid UTF-8 JSON ({error})") from None
    if isinstance(data, dict) and isinstance(data.get("cards"), list):
        data = data["cards"]
    elif single and isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UnreadableFile(f"{path.name}: expected a JSON array of cards (or {{\"cards\": [...]}})")
    return data


def _read_json(path: Path):
    return [], [(number, item) for number, item in enumerate(_json_cards(path), start=1)]


def read_one_card(path: Path) -> dict:
    """One card from a JSON file — an object, or an array holding one, as `guji cards export
    --format json` writes it (its `version` and any 修改原因 are dropped: they are not card fields)."""
    cards = _json_cards(path, single=True)
    if len(cards) != 1:
        raise UnreadableFile(f"{path.name}: holds {len(cards)} cards; give a file with exactly one card")
    card = dict(cards[0])
    for key in ("version", "修改原因", "reason"):
        card.pop(key, None)
    return card


# ---- planning ---------------------------------------------------------------------------------


def plan_import(catalogue: Catalogue, path: Path | str, default_reason: str | None = None) -> ImportPlan:
    """Read `path` and decide, row by row, what an import would do. Writes nothing."""
    path = Path(path)
    headers, rows = read_rows(path)
    ignored = [h for h in headers if h and column_for_header(h) is None]
    default_reason = default_reason or f"导入 {path.name}"
    is_json = path.suffix.lower() == ".json"
    items = []
    seen: dict[str, int] = {}
    for number, row in rows:
        item = PlanItem(row=number, source=row)
        if is_json:
            _plan_json_item(catalogue, item, default_reason)
        else:
            _plan_row(catalogue, item, default_reason)
        if item.card is not None and item.action != "bad":
            _check_duplicates(item, seen)
        if item.action != "bad" and item.card is not None:
            _validate(catalogue, item)
        items.append(item)
    return ImportPlan(path, items, headers, ignored)


def _plan_row(catalogue: Catalogue, item: PlanItem, default_reason: str) -> None:
    values: dict[Column, Any] = {}
    headers_of: dict[Column, str] = {}
    for header, cell in item.source.items():
        column = column_for_header(header)
        if column is None:
            continue
        headers_of[column] = header
        text = cell_text(cell)
        if not text:
            continue  # an empty cell leaves the field as it is
        if text == CLEAR_MARK:
            values[column] = CLEAR
            continue
        try:
            if column.key == "title_with_juan":
                values[column] = split_title_with_juan(text)
            else:
                values[column] = read_cell(column, cell)
        except CellError as error:
            item.problems.append(RowProblem(item.row, header, str(error)))
    if item.problems:
        item.action = "bad"
        return
    by_key = {column.key: value for column, value in values.items()}
    reason = by_key.pop("reason", None)
    reason = reason if isinstance(reason, str) else None
    based_on = by_key.get("version")
    existing = _match_existing(catalogue, item, by_key, headers_of)
    if item.action == "bad":
        return
    item.headers = headers_of
    if existing is None:
        if "title" not in by_key and "title_with_juan" not in by_key:
            item.problems.append(RowProblem(item.row, "题名", "新卡片必须有题名"))
            item.action = "bad"
            return
        card = {"id": by_key.get("id") or new_card_id(), "record_type": "guji", "edition": {}}
        item.card = apply_row(card, values)
        item.card_id = item.card["id"]
        item.reason = reason or default_reason
        return
    stored = catalogue.get(existing)
    item.card_id = existing
    item.base_version = stored.version
    if based_on is not None and based_on != stored.version:
        last = stored.versions[-1]
        item.problems.append(RowProblem(
            item.row, headers_of.get(_column("version"), "基于版本"),
            f"这一行基于 v{based_on}，但卡片 {existing} 已由 {last.editor} 于 {last.created} 改为 "
            f"v{stored.version}（{last.reason}）；请重新导出后再修改",
        ))
        item.action = "bad"
        return
    # A cell still showing what export wrote leaves its field alone: some cells (批校题跋, 破损)
    # show a structured field in a shorter form than the card holds.
    unchanged = {
        column for column in values
        if column.path and cell_text(item.source[headers_of[column]])
        == cell_text(format_cell(column, stored.card, stored.version))
    }
    item.card = apply_row(stored.card, {c: v for c, v in values.items() if c not in unchanged})
    _settle_revision(item, stored.card, reason)


def _plan_json_item(catalogue: Catalogue, item: PlanItem, default_reason: str) -> None:
    card = dict(item.source)
    reason = card.pop("修改原因", None) or card.pop("reason", None)
    based_on = card.pop("version", None)
    existing = None
    if card.get("id") and catalogue.exists(str(card["id"])):
        existing = str(card["id"])
    elif (card.get("copy") or {}).get("call_number"):
        try:
            existing = catalogue.resolve(card["copy"]["call_number"])
        except CardNotFound:
            existing = None
    if existing is None:
        card.setdefault("id", new_card_id())
        item.card, item.card_id, item.reason = card, card["id"], reason or default_reason
        return
    stored = catalogue.get(existing)
    item.card_id, item.base_version = existing, stored.version
    if based_on is not None and based_on != stored.version:
        item.problems.append(RowProblem(item.row, "version",
                                        f"based on v{based_on} but card {existing} is now v{stored.version}"))
        item.action = "bad"
        return
    card["id"] = existing
    item.card = card
    _settle_revision(item, stored.card, reason)


def _settle_revision(item: PlanItem, stored_card: dict, reason: str | None) -> None:
    normalised, _ = normalise_card(item.card)
    item.changes = card_diff(stored_card, normalised)
    if not item.changes:
        item.action = "unchanged"
    elif not reason:
        item.problems.append(RowProblem(
            item.row, "",
            f"卡片 {item.card_id}（索书号 {(stored_card.get('copy') or {}).get('call_number', '—')}）已存在且内容不同；"
            "如要修改，请加「修改原因」列并填写原因",
        ))
        item.action = "bad"
    else:
        item.action, item.reason = "revise", reason


def _column(key: str) -> Column:
    return next(c for c in columns() if c.key == key)


def _match_existing(catalogue: Catalogue, item: PlanItem, by_key: dict, headers_of: dict) -> str | None:
    card_id = by_key.get("id")
    if card_id:
        if not OBJECT_ID_PATTERN.match(str(card_id)):
            item.problems.append(RowProblem(item.row, headers_of[_column("id")],
                                            f"记录号「{card_id}」只能由字母、数字、.、_、- 组成"))
            item.action = "bad"
            return None
        if catalogue.exists(card_id):
            return card_id
        if by_key.get("reason"):
            item.problems.append(RowProblem(item.row, headers_of[_column("id")], f"没有记录号为 {card_id} 的卡片"))
            item.action = "bad"
        return None
    call_number = by_key.get("call_number")
    if call_number:
        try:
            return catalogue.resolve(call_number)
        except CardNotFound:
            return None
    return None


def _check_duplicates(item: PlanItem, seen: dict[str, int]) -> None:
    keys = [f"id:{item.card_id}"]
    call_number = (item.card.get("copy") or {}).get("call_number")
    if call_number:
        keys.append(f"索书号:{call_number}")
    for key in keys:
        if key in seen:
            label = key.split(":", 1)
            item.problems.append(RowProblem(item.row, "", f"{label[0]} {label[1]} 与第{seen[key]}行重复"))
            item.action = "bad"
            return
    for key in keys:
        seen[key] = item.row


def _validate(catalogue: Catalogue, item: PlanItem) -> None:
    try:
        _, item.warnings = catalogue.prepare(item.card)
    except CardError as error:
        for problem in error.problems:
            column = column_for_path(problem["path"])
            header = item.headers.get(column) if column else None
            item.problems.append(RowProblem(item.row, header or problem["path"], problem["message"]))
        item.action = "bad"


# ---- applying ---------------------------------------------------------------------------------


def apply_plan(
    catalogue: Catalogue,
    plan: ImportPlan,
    *,
    editor: str,
    skip_bad: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[SaveResult]:
    """Write the plan. Refuses (writes nothing) if any row is bad, unless `skip_bad`."""
    if plan.bad and not skip_bad:
        raise ImportRefused(plan)
    work = [item for item in plan.items if item.action in ("create", "revise")]
    reasons = {id(item.card): item.reason for item in work}
    results = catalogue.save_many(
        ((item.card, item.base_version) for item in work),
        editor=editor,
        reason_of=lambda card: reasons[id(card)],
        progress=progress,
        total=len(work),
    )
    catalogue.record_event(
        "import", editor, None, file=plan.path.name, created=plan.count("create"), revised=plan.count("revise"),
        unchanged=plan.count("unchanged"), rejected=len(plan.bad),
    )
    return results


class ImportRefused(Exception):
    def __init__(self, plan: ImportPlan):
        self.plan = plan
        super().__init__(
            f"{plan.path.name}: {len(plan.bad)} of {len(plan.items)} rows are bad, so nothing was imported "
            "(fix them, or use --skip-bad to import the rest and write the bad rows to a reject file)"
        )


def write_rejects(plan: ImportPlan, target: Path) -> Path:
    """The bad rows, as they were read, with a 错误原因 column — fix them and import this file."""
    reason_header = "错误原因"
    bad = plan.bad
    if plan.path.suffix.lower() == ".json":
        items = [{**item.source, reason_header: "；".join(str(p) for p in item.problems)} for item in bad]
        target.write_text(json.dumps(items, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return target
    headers = [h for h in plan.headers if h] + [reason_header]
    rows = [[*(cell_text(item.source.get(h)) for h in headers[:-1]),
             "；".join(str(p) for p in item.problems)] for item in bad]
    if target.suffix.lower() == ".xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        workbook.save(target)
    else:
        with open(target, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            writer.writerows(rows)
    return target


def default_reject_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects{path.suffix}")
