"""An application round (申报批次): the books one library applies with to a 珍贵古籍名录 at one time.

A round gives the 申报汇总表 (summary sheet, one row per book, as XLSX and as an A4 PDF) and each
book's dossier (:mod:`repository.outputs.dossier`), packed as one zip with the pre-flight result
of every book (预检结果.txt). The summary sheet lists the books by 普查编号, as the 登记目录 does.

    round = build_round(catalogue, ["maoshi-zhushu", "lidai-shizuan-zuobian"], scope="provincial")
    round.warnings          # {card_id: [pre-flight warnings]} — show these first
    round_zip(round, "docx")  # 申报汇总表.xlsx, 申报汇总表.pdf, 预检结果.txt, 01-毛詩注疏三十卷首一卷.docx …
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import openpyxl
from fpdf.enums import WrapMode
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.page import PageMargins

from guji.repository import Catalogue, InvalidInput, local_time
from guji.repository.card import grade_label

from . import card_text
from .dossier import Dossier, FormPDF, build_dossier, check_scope, chinese_date, dossier_bytes
from .fonts import MAIN_FAMILY

MAX_BOOKS = 500  # one round; a library applies with tens of books, not thousands
Progress = Callable[[int, int], None]

# (header, width in characters for XLSX / mm for the PDF, the text of one book)
COLUMNS: tuple[tuple[str, int, Callable[[dict], str]], ...] = (
    ("普查编号", 22, card_text.census_number),
    ("索书号", 12, card_text.call_number),
    ("题名卷数", 30, card_text.title_with_juan),
    ("著者", 26, card_text.responsibility_text),
    ("版本", 28, card_text.edition_text),
    ("存缺卷数", 20, card_text.extant_and_missing_text),
    ("册数/函数", 12, card_text.volumes_text),
    ("定级", 10, lambda card: grade_label(card) or ""),
    ("备注", 14, lambda card: ""),  # left for the reviewers
)


@dataclass
class RoundBook:
    dossier: Dossier
    card: dict

    @property
    def values(self) -> list[str]:
        return [text(self.card) for _, _, text in COLUMNS]


@dataclass
class ApplicationRound:
    scope: str
    scope_label: str
    name: str  # 批次 as the library calls it, e.g. 第七批; may be empty
    applicant: str  # 申报单位 of the round (else each card's 收藏单位)
    books: list[RoundBook]
    filled_on: date = field(default_factory=local_time.today)

    @property
    def title(self) -> str:
        return f"{self.scope_label}{self.name}申报汇总表"

    @property
    def warnings(self) -> dict[str, list[str]]:
        return {book.dossier.card_id: book.dossier.warnings for book in self.books}

    @property
    def applicants(self) -> str:
        found = dict.fromkeys(book.dossier.value("申报单位") for book in self.books)
        return "、".join(name for name in found if name) or "未填"


def build_round(
    catalogue: Catalogue, card_ids: list[str], *, scope: str = "provincial", name: str = "",
    applicant: str | None = None, preparer: str | None = None, contact: str | None = None,
    count: int | None = None, width: int | None = None, progress: Progress | None = None,
) -> ApplicationRound:
    """Every chosen book's dossier with its pre-flight warnings, in 普查编号 order."""
    rules = check_scope(scope)
    if not card_ids:
        raise InvalidInput("申报批次里没有书：请选择要申报的卡片")
    if len(card_ids) > MAX_BOOKS:
        raise InvalidInput(f"一个申报批次最多 {MAX_BOOKS} 部书，现在选了 {len(card_ids)} 部：请分批申报")
    today = local_time.today()
    books = []
    for done, card_id in enumerate(dict.fromkeys(card_ids), start=1):
        dossier = build_dossier(catalogue, card_id, scope=scope, count=count, width=width, applicant=applicant,
                                preparer=preparer, contact=contact, filled_on=today)
        books.append(RoundBook(dossier, catalogue.get(card_id, dossier.version).card))
        if progress:
            progress(done, len(card_ids))
    books.sort(key=lambda book: (not card_text.census_number(book.card), card_text.census_number(book.card),
                                 card_text.call_number(book.card)))
    return ApplicationRound(scope, rules["label"], name.strip(), (applicant or "").strip(), books, today)


def _heading_lines(application: ApplicationRound) -> list[str]:
    return [f"申报单位：{application.applicants}",
            f"共 {len(application.books)} 部\u3000\u3000填表日期：{chinese_date(application.filled_on)}"]


# ---- 申报汇总表 as XLSX ----------------------------------------------------------------------------


def summary_xlsx(application: ApplicationRound) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "申报汇总表"
    last = openpyxl.utils.get_column_letter(len(COLUMNS) + 1)
    sheet.append([application.title])
    sheet.merge_cells(f"A1:{last}1")
    sheet["A1"].font = Font(bold=True, size=16)
    sheet["A1"].alignment = Alignment(horizontal="center")
    for line in _heading_lines(application):
        sheet.append([line])
    header = ["序号", *(title for title, _, _ in COLUMNS)]
    sheet.append(header)
    header_row = sheet.max_row
    thin = Side(style="thin")
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center")
    for index, book in enumerate(application.books, start=1):
        sheet.append([index, *(value or None for value in book.values)])
    for row in sheet.iter_rows(min_row=header_row, max_row=sheet.max_row, max_col=len(COLUMNS) + 1):
        for cell in row:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            if cell.row > header_row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 6
    for index, (_, width, _) in enumerate(COLUMNS, start=2):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(index)].width = width
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.page_margins = PageMargins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    sheet.print_title_rows = f"{header_row}:{header_row}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---- 申报汇总表 as PDF (A4 landscape) ----------------------------------------------------------------


def summary_pdf(application: ApplicationRound) -> bytes:
    pdf = FormPDF(f"{application.title} · 生成于 {chinese_date(application.filled_on)}", orientation="L")
    pdf.set_title(application.title)
    pdf.set_lang("zh-CN")
    pdf.add_page()
    pdf.set_font(MAIN_FAMILY, size=16)
    pdf.cell(0, 10, application.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(MAIN_FAMILY, size=10)
    for line in _heading_lines(application):
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    total = 6 + sum(width for _, width, _ in COLUMNS)
    widths = [pdf.epw * width / total for width in (6, *(width for _, width, _ in COLUMNS))]
    headers = ["序号", *(title for title, _, _ in COLUMNS)]
    pdf.set_font(MAIN_FAMILY, size=9)
    line = 5.0

    def table_row(cells: list[str], *, bold_header: bool = False) -> None:
        wrapped = [pdf.multi_cell(width - 1, line, text or " ", dry_run=True, output="LINES",
                                  wrapmode=WrapMode.CHAR) for width, text in zip(widths, cells, strict=True)]
        height = max(len(rows) for rows in wrapped) * line + 1
        if pdf.will_page_break(height):
            pdf.add_page()
            if not bold_header:
                table_row(headers, bold_header=True)
        x, y = pdf.l_margin, pdf.get_y()
        for width, rows in zip(widths, wrapped, strict=True):
            pdf.rect(x, y, width, height)
            for number, text in enumerate(rows):
                pdf.set_xy(x + 0.5, y + 0.5 + number * line)
                pdf.cell(width - 1, line, text, align="C" if bold_header else "L")
            x += width
        pdf.set_xy(pdf.l_margin, y + height)

    table_row(headers, bold_header=True)
    for index, book in enumerate(application.books, start=1):
        table_row([str(index), *book.values])
    return bytes(pdf.output())


# ---- the whole round as one zip ----------------------------------------------------------------------


_UNSAFE = re.compile(r"[\\/:*?\"<>|\x00-\x1f\s]+")


def dossier_file_name(index: int, book: RoundBook, format: str) -> str:
    """01-毛詩注疏三十卷首一卷-maoshi-zhushu.docx: readable, safe on Windows and in a zip."""
    title = _UNSAFE.sub("", card_text.title_with_juan(book.card))[:40] or "无题名"
    return f"{index:02d}-{title}-{book.dossier.card_id}.{format}"


def preflight_report(application: ApplicationRound) -> str:
    """预检结果.txt: every book's pre-flight warnings, in the order of the summary sheet."""
    lines = [f"{application.title} 预检结果（{chinese_date(application.filled_on)}）", ""]
    for index, book in enumerate(application.books, start=1):
        dossier = book.dossier
        lines.append(f"{index}. {dossier.title}（{dossier.card_id}，第{dossier.version}版）")
        lines.extend(f"   - {warning}" for warning in dossier.warnings)
        if not dossier.warnings:
            lines.append("   预检通过")
    return "\n".join(lines) + "\n"


def round_zip(application: ApplicationRound, format: str = "docx", progress: Progress | None = None) -> bytes:
    """申报汇总表.xlsx + .pdf, 预检结果.txt and one dossier per book (DOCX or PDF) in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("申报汇总表.xlsx", summary_xlsx(application))
        archive.writestr("申报汇总表.pdf", summary_pdf(application))
        archive.writestr("预检结果.txt", preflight_report(application).encode("utf-8-sig"))  # BOM: Notepad reads it
        for index, book in enumerate(application.books, start=1):
            archive.writestr(f"申报书/{dossier_file_name(index, book, format)}", dossier_bytes(book.dossier, format))
            if progress:
                progress(index, len(application.books))
    return buffer.getvalue()
