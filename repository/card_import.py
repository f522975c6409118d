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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter

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
from .errors import Refused
from .local_time import format_time
from .ocfl_store import OBJECT_ID_PATTERN
from .safe_archive import ArchiveRefused, check_zip

SUPPORTED = {".csv": "CSV", ".xlsx": "XLSX", ".json": "JSON"}


class UnreadableFile(Refused):
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
    action: str = "create"  # create | revise | unchanged | existing (left alone: skip_existing) | bad
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
    name: str  # the file as the person named it (messages never show where the server keeps it)

    @property
    def bad(self) -> list[PlanItem]:
        return [item for item in self.items if item.action == "bad"]

    def count(self, action: str) -> int:
        return sum(1 for item in self.items if item.action == action)

    @property
    def problems(self) -> list[RowProblem]:
        return [problem for item in self.bad for problem in item.problems]


# ---- reading files ----------------------------------------------------------------------------

MIB = 1024 * 1024
MAX_TEXT_BYTES = 64 * MIB  # a CSV or JSON file of cards
MAX_ROWS = 100_000  # cards in one file; split larger files
MAX_COLUMNS = 200
MAX_CELL_CHARS = 32_767  # what one Excel cell can hold
EXCEL_MAX_ROWS = 1_048_576  # the last row an Excel sheet has
MAX_WIDE_ROWS = 1_000  # rows reaching past MAX_COLUMNS (empty there) before a sheet is refused
# C0 control characters other than tab and line breaks, and DEL: invisible, and no card field needs them
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Table:
    """A spreadsheet as read: the header row and every non-empty row below it."""

    headers: list[str]
    rows: list[tuple[int, dict[str, Any]]]  # (row number as Excel shows it, header → cell)
    problems: dict[int, list[RowProblem]] = field(default_factory=dict)  # rows whose cells cannot be placed


def read_rows(path: Path, name: str | None = None) -> Table:
    """The file's header and rows. `name` is how messages name the file (default: its own name;
    the web gives the name it was uploaded as, never the path it is kept at)."""
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnreadableFile(f"{name}: 不支持的文件类型 {suffix or '（无扩展名）'}；请用 .csv、.xlsx 或 .json")
    if not path.is_file():
        raise UnreadableFile(f"{name}: 没有这个文件")
    if suffix == ".json":
        return Table([], [(number, item) for number, item in enumerate(_json_cards(path, name), start=1)])
    table = _read_csv(path, name) if suffix == ".csv" else _read_xlsx(path, name)
    return _table_rows(name, table)


def _read_text(path: Path, name: str) -> bytes:
    size = path.stat().st_size
    if size > MAX_TEXT_BYTES:
        raise UnreadableFile(f"{name}: 文件有 {size / MIB:.0f} MB，超过上限 {MAX_TEXT_BYTES // MIB} MB；请分成几个文件")
    return path.read_bytes()


def _read_csv(path: Path, name: str) -> list[tuple[int, list[Any]]]:
    data = _read_text(path, name)
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise UnreadableFile(f"{name}: 既不是 UTF-8 也不是 GBK 文本")
    # strict: a quote that is never closed, or closed in mid-cell, is an error instead of a cell
    # that silently swallows the rows after it.
    reader = csv.reader(io.StringIO(text), strict=True)
    table: list[tuple[int, list[Any]]] = []
    width = 0
    first_line = 1  # the line of the file the current row starts on
    try:
        for row in reader:
            number = len(table) + 1
            width = width or len(row)
            if reader.line_num > first_line:
                _check_swallowed_rows(name, number, first_line, row, width)
            table.append((number, row))
            first_line = reader.line_num + 1
    except csv.Error as error:
        raise UnreadableFile(_csv_problem(name, len(table) + 1, first_line, str(error))) from None
    return table


def _csv_problem(name: str, number: int, line: int, error: str) -> str:
    where = f"{name} 第{number}行（文件第{line}行起）"
    if "unexpected end of data" in error:
        return (f"{where}: 有一个引号（\"）直到文件末尾都没有闭合，它后面的所有行都会被当成这一格的内容；"
                "请检查这一行的引号：一格里的引号要成对，或写成两个引号（\"\"）")
    if "expected after" in error:
        return f"{where}: 一格在引号闭合之后还有别的字符；一格里的引号要成对，或写成两个引号（\"\"）"
    if "field larger than field limit" in error:
        return f"{where}: 有一格超过 {csv.field_size_limit()} 个字符，可能是引号没有配对"
    return f"{where}: 不是有效的 CSV（{error}）"


def _check_swallowed_rows(name: str, number: int, first_line: int, row: list[str], width: int) -> None:
    """A quoted cell may hold line breaks; one holding whole lines with a full row's worth of
    commas is a quote that opened and closed in the wrong places and swallowed rows."""
    if width < 3:
        return
    for column, cell in enumerate(row):
        for offset, line in enumerate(cell.split("\n")[1:], start=1):
            if line.count(",") >= width - 1:
                raise UnreadableFile(
                    f"{name} 第{number}行（文件第{first_line}行起）第{column + 1}格: 引号里的内容跨了多行，"
                    f"其中文件第{first_line + offset}行「{line[:40]}」看起来是完整的一行卡片——"
                    "多半是一个引号没有配对，把后面的行吞进了这一格；请检查引号。"
                    "若这一格确实要换行并含这么多英文逗号，请改用 .xlsx 文件"
                )


def _read_xlsx(path: Path, name: str) -> list[tuple[int, list[Any]]]:
    try:
        check_zip(path, name)  # before openpyxl inflates anything: a zip bomb is refused here
    except ArchiveRefused as refused:
        raise UnreadableFile(str(refused)) from None
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many types for a broken file; their text may hold the path
        raise UnreadableFile(f"{name}: 不能作为 Excel 工作簿打开（{type(error).__name__}）；"
                             "请在 Excel 中打开它并另存为 .xlsx 后再试") from None
    try:
        if not workbook.worksheets:
            raise UnreadableFile(f"{name}: 工作簿里没有工作表")
        table = _sheet_rows(workbook.worksheets[0], name)
        _refuse_cards_on_other_sheets(workbook.worksheets, name)
        return table
    except UnreadableFile:
        raise
    except Exception as error:  # a sheet's XML that openpyxl cannot parse
        raise UnreadableFile(f"{name}: 工作表内容无法读取（{type(error).__name__}）；"
                             "请在 Excel 中打开它并另存为 .xlsx 后再试") from None
    finally:
        workbook.close()


def _sheet_rows(sheet, name: str) -> list[tuple[int, list[Any]]]:
    """The non-empty rows of a sheet, as many cells wide as they have (the sheet's declared
    size is ignored: it can claim 16,384 columns × 1,048,576 rows)."""
    sheet.reset_dimensions()
    table: list[tuple[int, list[Any]]] = []
    wide = 0
    for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
        if number > EXCEL_MAX_ROWS:
            raise UnreadableFile(f"{name}: 工作表「{sheet.title}」的行号超过了 Excel 的最大行数 "
                                 f"{EXCEL_MAX_ROWS}，文件已损坏")
        if len(row) > MAX_COLUMNS:
            beyond = next((i for i in range(MAX_COLUMNS, len(row)) if cell_text(row[i])), None)
            if beyond is not None:
                raise UnreadableFile(f"{name} 第{number}行第{get_column_letter(beyond + 1)}列有内容："
                                     f"一张表最多 {MAX_COLUMNS} 列；请删去多余的列")
            wide += 1
            if wide > MAX_WIDE_ROWS:
                raise UnreadableFile(f"{name}: 工作表「{sheet.title}」有大量超出第 {MAX_COLUMNS} 列的空单元格；"
                                     "请删去多余的列后另存")
            row = row[:MAX_COLUMNS]
        if any(cell_text(cell) for cell in row):
            table.append((number, list(row)))
            if len(table) > MAX_ROWS + 1:
                raise UnreadableFile(f"{name}: 超过 {MAX_ROWS} 行；一次最多导入 {MAX_ROWS} 张卡片，请分成几个文件")
    return table


def _refuse_cards_on_other_sheets(sheets: list, name: str) -> None:
    """Only the first sheet is read: a later sheet with card columns would be lost without a word."""
    for sheet in sheets[1:]:
        sheet.reset_dimensions()
        for row in sheet.iter_rows(max_row=50, max_col=MAX_COLUMNS, values_only=True):
            known = [cell_text(cell) for cell in row if column_for_header(cell_text(cell))]
            if known:
                raise UnreadableFile(
                    f"{name}: 工作表「{sheet.title}」也有卡片的列（{'、'.join(known[:5])}），但只读取第一个工作表"
                    f"「{sheets[0].title}」；请把卡片合并到第一个工作表，或每个工作表另存为一个文件")
            if any(cell_text(cell) for cell in row):
                break


def _table_rows(name: str, table: list[tuple[int, list[Any]]]) -> Table:
    table = [(number, row) for number, row in table if any(cell_text(c) for c in row)]
    if not table:
        raise UnreadableFile(f"{name}: 文件里没有任何一行内容")
    if len(table) > MAX_ROWS + 1:
        raise UnreadableFile(f"{name}: 超过 {MAX_ROWS} 行；一次最多导入 {MAX_ROWS} 张卡片，请分成几个文件")
    header_number, header_row = table[0]
    headers = [cell_text(h) for h in header_row]
    if not any(column_for_header(h) for h in headers):
        raise UnreadableFile(
            f"{name}: 第{header_number}行应是表头（索书号、题名、卷数、著者、版本 …），"
            f"但其中没有一格是认得的列名：{'、'.join(h for h in headers if h)[:200]}"
        )
    _check_headers(name, header_number, headers)
    result = Table(headers, [])
    for number, row in table[1:]:
        values = {headers[i]: row[i] for i in range(min(len(headers), len(row))) if headers[i]}
        problems = _misplaced_cells(number, headers, row) + _unreadable_cells(number, values)
        if problems:
            result.problems[number] = problems
        result.rows.append((number, values))
    return result


def _check_headers(name: str, number: int, headers: list[str]) -> None:
    """Two headers for one field would let one cell silently overwrite the other."""
    if len(headers) > MAX_COLUMNS:
        raise UnreadableFile(f"{name} 第{number}行（表头）有 {len(headers)} 列，一张表最多 {MAX_COLUMNS} 列")
    seen: dict[str, str] = {}
    for header in headers:
        column = column_for_header(header)
        if column is None:
            continue
        if column.key in seen:
            first = seen[column.key]
            same = f"「{header}」出现了两次" if first == header else f"「{first}」和「{header}」是同一列"
            raise UnreadableFile(f"{name} 第{number}行（表头）: {same}；每一列只能有一个表头，请删去或合并其中一列")
        seen[column.key] = header


def _misplaced_cells(number: int, headers: list[str], row: list[Any]) -> list[RowProblem]:
    """Cells with no header above them: beyond the header row's last column, or under an empty header."""
    problems = []
    beyond = [(i, row[i]) for i in range(len(headers), len(row)) if cell_text(row[i])]
    if beyond:
        shown = "、".join(f"「{cell_text(cell)[:20]}」" for _, cell in beyond[:3])
        problems.append(RowProblem(number, "", (
            f"有 {len(beyond)} 格在表头之外（第{get_column_letter(beyond[0][0] + 1)}列起：{shown}），表头只有 "
            f"{len(headers)} 列；请删去多余的格，或给它们加上列名（若是 CSV，多半是这一行多了逗号）")))
    for i in range(min(len(headers), len(row))):
        if not headers[i] and cell_text(row[i]):
            problems.append(RowProblem(number, get_column_letter(i + 1), (
                f"这一列没有表头，其中的「{cell_text(row[i])[:20]}」不知该放进哪个字段；请补上列名或删去")))
    return problems


def _unreadable_cells(number: int, values: dict[str, Any]) -> list[RowProblem]:
    problems = []
    for header, cell in values.items():
        if not isinstance(cell, str):
            continue
        if len(cell) > MAX_CELL_CHARS:
            problems.append(RowProblem(number, header, f"有 {len(cell)} 个字符，超过一格的上限 {MAX_CELL_CHARS}"))
        control = _CONTROL.search(cell)
        if control:
            problems.append(RowProblem(number, header, (
                f"第{control.start() + 1}个字符是看不见的控制字符 U+{ord(control.group()):04X}"
                "（多半是从别处粘贴带进来的）；请删去后再导入")))
    return problems


def _json_cards(path: Path, name: str, single: bool = False) -> list[dict]:
    """The cards of a JSON file: an array, or {"cards": [...]}; with `single` also one card object."""
    try:
        data = json.loads(_read_text(path, name).decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        where = f"（第{error.lineno}行第{error.colno}列：{error.msg}）" \
            if isinstance(error, json.JSONDecodeError) else ""
        raise UnreadableFile(f"{name}: 不是有效的 UTF-8 JSON{where}") from None
    if isinstance(data, dict) and isinstance(data.get("cards"), list):
        data = data["cards"]
    elif single and isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise UnreadableFile(f"{name}: 应是卡片的 JSON 数组（或 {{\"cards\": [...]}}）")
    if len(data) > MAX_ROWS:
        raise UnreadableFile(f"{name}: 有 {len(data)} 张卡片；一次最多导入 {MAX_ROWS} 张，请分成几个文件")
    return data


def read_one_card(path: Path) -> dict:
    """One card from a JSON file — an object, or an array holding one, as `guji cards export
    --format json` writes it (its `version` and any 修改原因 are dropped: they are not card fields)."""
    cards = _json_cards(path, path.name, single=True)
    if len(cards) != 1:
        raise UnreadableFile(f"{path.name}: 有 {len(cards)} 张卡片；请给一个只含一张卡片的文件")
    card = dict(cards[0])
    for key in ("version", "修改原因", "reason"):
        card.pop(key, None)
    return card


# ---- planning ---------------------------------------------------------------------------------


def plan_import(
    catalogue: Catalogue, path: Path | str, default_reason: str | None = None, *, name: str | None = None,
    skip_existing: bool = False,
) -> ImportPlan:
    """Read `path` and decide, row by row, what an import would do. Writes nothing.

    `name`: how messages name the file (default: its file name). `skip_existing`: rows matching
    a card already in the catalogue are left alone (action ``existing``) instead of revising it."""
    path = Path(path)
    name = name or path.name
    table = read_rows(path, name)
    ignored = [h for h in table.headers if h and column_for_header(h) is None]
    default_reason = default_reason or f"导入 {name}"
    is_json = path.suffix.lower() == ".json"
    items = []
    seen: dict[str, int] = {}
    for number, row in table.rows:
        item = PlanItem(row=number, source=row)
        item.problems.extend(table.problems.get(number, ()))
        if is_json:
            item.problems.extend(_unreadable_json(number, row))
        if item.problems:
            item.action = "bad"
        elif is_json:
            _plan_json_item(catalogue, item, default_reason, skip_existing)
        else:
            _plan_row(catalogue, item, default_reason, skip_existing)
        if item.action not in ("bad", "existing") and item.card is not None:
            _validate(catalogue, item)
        if item.card is not None and item.action not in ("bad", "existing"):
            _check_duplicates(item, seen)  # after _validate: the card's fields have their kinds
        items.append(item)
    return ImportPlan(path, items, table.headers, ignored, name)


def _unreadable_json(number: int, card: dict) -> list[RowProblem]:
    """Control characters and oversized strings anywhere in a JSON card, named by their path."""
    problems = []
    stack: list[tuple[str, Any]] = [("", card)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), inner) for key, inner in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", inner) for index, inner in enumerate(value))
        elif isinstance(value, str):
            problems.extend(_unreadable_cells(number, {path: value}))
    return sorted(problems, key=lambda problem: problem.column)


def _plan_row(catalogue: Catalogue, item: PlanItem, default_reason: str, skip_existing: bool) -> None:
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
    if existing is not None and skip_existing:
        item.action, item.card_id = "existing", existing
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
            f"这一行基于 v{based_on}，但卡片 {existing} 已由 {last.editor} 于 {format_time(last.created)} 改为 "
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


def _plan_json_item(catalogue: Catalogue, item: PlanItem, default_reason: str, skip_existing: bool) -> None:
    card = dict(item.source)
    reason = card.pop("修改原因", None) or card.pop("reason", None)
    based_on = card.pop("version", None)
    existing = None
    card_id = card.get("id")
    copy_part = card.get("copy")
    call_number = copy_part.get("call_number") if isinstance(copy_part, dict) else None
    if card_id is not None and not (isinstance(card_id, str) and OBJECT_ID_PATTERN.match(card_id)):
        item.problems.append(RowProblem(item.row, "id", f"记录号「{card_id}」只能由字母、数字、.、_、- 组成"))
        item.action = "bad"
        return
    if card_id and catalogue.exists(card_id):
        existing = card_id
    elif isinstance(call_number, str) and call_number.strip():
        try:
            existing = catalogue.resolve(call_number)
        except CardNotFound:
            existing = None
    if existing is None:
        card.setdefault("id", new_card_id())
        item.card, item.card_id, item.reason = card, card["id"], reason or default_reason
        return
    if skip_existing:
        item.action, item.card_id = "existing", existing
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
        "import", editor, None, file=plan.name, created=plan.count("create"), revised=plan.count("revise"),
        unchanged=plan.count("unchanged"), rejected=len(plan.bad),
    )
    return results


class ImportRefused(Refused):
    """A file with bad rows, imported whole or not at all: nothing was imported."""

    def __init__(self, plan: ImportPlan):
        self.plan = plan
        super().__init__(
            f"{plan.name}: {len(plan.items)} 行中有 {len(plan.bad)} 行有错，所以什么也没有导入"
            "（改正后再导入；或用 --skip-bad 导入其余的行，并把错误行写进一个拒收文件）"
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
