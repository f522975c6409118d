"""珍贵古籍名录 application dossier (申报书): the card's fields, pre-flight warnings, 书影, the blocks
left for opinions, signatures and seals, as DOCX or PDF (both A4).

Which fields the form has and where each comes from is data (``metadata_schemas/crosswalks/
dossier.json``). Pre-flight warnings never block the document; they say, in Chinese, what a
reviewer would send back: a grade outside the list's scope (national: 一、二级; provincial: 一至三级),
more than half of the juan missing, a required field left empty, no 书影.

On paper an empty field must not claim anything: a required field left empty prints 未填 (in
grey), an optional one prints blank — never 无, which on an official form would mean "none".
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_ALIGN_VERTICAL, WD_ROW_HEIGHT_RULE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor, Twips
from fpdf import FPDF
from fpdf.enums import WrapMode

from guji import metadata_schemas
from guji.repository import Catalogue, InvalidInput, atomic_files, local_time
from guji.repository.card import grade_label
from guji.repository.card_table import get_path
from guji.repository.parse import int_to_chinese

from . import card_text
from .fonts import MAIN_FAMILY, add_cjk_fonts
from .sample_pages import SamplePage, sample_pages

UNFILLED = "未填"  # a required field left empty; an optional one prints blank
DOCX_EAST_ASIAN_FONT = "宋体"  # SimSun: present wherever a provincial centre opens the file
DOCX_HEADING_FONT = "黑体"  # SimHei, for the title
GREY = 110
A4_WIDTH, A4_HEIGHT = Twips(11906), Twips(16838)  # 210 × 297 mm as Word writes A4 (w:pgSz)


@cache
def dossier_definition() -> dict:
    return json.loads((Path(metadata_schemas.SCHEMA_DIR) / "crosswalks" / "dossier.json").read_text("utf-8"))


def scopes() -> dict[str, dict]:
    return dossier_definition()["scopes"]


def check_scope(scope: str) -> dict:
    """The rules of a list (provincial, national), or InvalidInput naming the lists there are."""
    if scope not in scopes():
        raise InvalidInput(f"没有「{scope}」这种名录：请用 provincial（省级珍贵古籍名录）"
                           "或 national（国家珍贵古籍名录）")
    return scopes()[scope]


def chinese_date(day: date) -> str:
    """2026年12月6日."""
    return local_time.format_date(day)


# ---- field formatters (the `compose` names of dossier.json) -------------------------------------


def _grade(card: dict) -> str:
    grade = (card.get("copy") or {}).get("grade") or {}
    label = grade_label(card)
    if not label:
        return ""
    details = "，".join(part for part in (grade.get("basis"), grade.get("graded_by") and f"定级人{grade['graded_by']}",
                                          grade.get("date")) if part)
    return f"{label}（{details}）" if details else label


COMPOSERS: dict[str, Callable[[dict], str]] = {
    "title_with_juan": card_text.title_with_juan,
    "extant_and_missing": card_text.extant_and_missing_text,
    "volumes": card_text.volumes_text,
    "annotations": card_text.annotations_text,
    "seals": card_text.seals_text,
    "grade": _grade,
    "damage": card_text.damages_text,
}


# ---- the dossier ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DossierField:
    label: str
    value: str
    required: bool

    @property
    def shown(self) -> str:
        """What the form prints: the value; 未填 for a required field left empty; blank otherwise."""
        return self.value or (UNFILLED if self.required else "")


@dataclass(frozen=True)
class Opinion:
    """A block the form leaves for an opinion, a signature and perhaps a seal (申报单位意见 …)."""

    label: str
    signature: str
    seal: str | None = None


@dataclass
class Dossier:
    card_id: str
    version: int
    scope: str
    scope_label: str
    title: str
    fields: list[DossierField]
    pages: list[SamplePage]
    warnings: list[str] = field(default_factory=list)
    opinions: list[Opinion] = field(default_factory=list)
    preparer: str = ""  # 填表人
    contact: str = ""  # 联系方式
    filled_on: date = field(default_factory=local_time.today)  # 填表日期

    def value(self, label: str) -> str:
        return next(f.value for f in self.fields if f.label == label)


def dossier_fields(card: dict, applicant: str | None = None) -> list[DossierField]:
    found = []
    for spec in dossier_definition()["fields"]:
        if spec["label"] == "申报单位" and applicant:
            value = applicant
        elif "compose" in spec:
            value = COMPOSERS[spec["compose"]](card)
        else:
            value = get_path(card, spec["path"])
        found.append(DossierField(spec["label"], str(value).strip() if value not in (None, "") else "",
                                  bool(spec.get("required"))))
    return found


def opinions(scope: str) -> list[Opinion]:
    """The opinion blocks of this list's form: 申报单位意见, 专家意见 (+ 省级古籍保护中心意见 for the national list)."""
    blocks = [*dossier_definition()["opinions"], *check_scope(scope).get("opinions", [])]
    return [Opinion(block["label"], block["signature"], block.get("seal")) for block in blocks]


def preflight(card: dict, fields: list[DossierField], scope: str) -> list[str]:
    """What a reviewer would send back, before anything is printed (in Chinese, one sentence each)."""
    rules = check_scope(scope)
    warnings = [f"「{f.label}」未填：{rules['label']}申报书要求填写"
                for f in fields if f.required and not f.value]
    level = ((card.get("copy") or {}).get("grade") or {}).get("level")
    if level and level not in rules["grades"]:
        warnings.append(f"定级为{grade_label(card)}，不在{rules['label']}的申报范围内（只收{'、'.join(rules['grades'])}古籍）")
    total = ((card.get("edition") or {}).get("juan") or {}).get("count")
    missing = card_text.missing_juan_count(card)
    if total and missing is not None and missing * 2 > total:
        warnings.append(f"存卷：全书{int_to_chinese(total)}卷，缺{int_to_chinese(missing)}卷，超过一半；"
                        "残缺过甚的复本一般难以入选名录")
    if card.get("status") == "withdrawn":
        warnings.append("这张卡片已撤销（记录状态：已撤销），不应再申报")
    return warnings


def build_dossier(
    catalogue: Catalogue, card_id: str, *, scope: str = "provincial", pages: list[str] | None = None,
    count: int | None = None, width: int | None = None, applicant: str | None = None,
    preparer: str | None = None, contact: str | None = None, filled_on: date | None = None,
) -> Dossier:
    """Everything a dossier shows, with its warnings (`count`/`width`: GUJI_DOSSIER_PAGES /
    GUJI_DOSSIER_IMAGE_WIDTH, default 2 pages at 1200 px)."""
    rules = check_scope(scope)
    count = count or catalogue.settings.dossier_pages
    width = width or catalogue.settings.dossier_image_width
    stored = catalogue.get(card_id)
    fields = dossier_fields(stored.card, applicant)
    images, image_warnings = sample_pages(catalogue, card_id, pages=pages, count=count, width=width)
    return Dossier(card_id, stored.version, scope, rules["label"], card_text.title_with_juan(stored.card), fields,
                   images, preflight(stored.card, fields, scope) + image_warnings, opinions(scope),
                   (preparer or "").strip(), (contact or "").strip(), filled_on or local_time.today())


def caption(index: int, page: SamplePage) -> str:
    return f"书影{int_to_chinese(index)}：{page.label}（第{page.page}页，{page.width}×{page.height}像素）"


def stamp(dossier: Dossier) -> str:
    """The small print at the foot of every page: which card version, when."""
    return f"卡片 {dossier.card_id} 第{dossier.version}版 · 生成于 {chinese_date(dossier.filled_on)}"


def preparer_line(dossier: Dossier) -> str:
    blank = "\u3000" * 6
    return (f"填表人：{dossier.preparer or blank}\u3000\u3000联系方式：{dossier.contact or blank}"
            f"\u3000\u3000填表日期：{chinese_date(dossier.filled_on)}")


def signature_lines(opinion: Opinion) -> list[str]:
    """The lines at the foot of an opinion block, right-aligned: signature, seal, date."""
    lines = [f"{opinion.signature}：" + "\u3000" * 8]
    if opinion.seal:
        lines.append(f"{opinion.seal}" + "\u3000" * 8)
    lines.append("年\u3000\u3000月\u3000\u3000日" + "\u3000" * 2)
    return lines


# ---- DOCX (python-docx) ---------------------------------------------------------------------------


def _east_asian(element, font: str) -> None:
    element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def a4_document(*, landscape: bool = False) -> docx.Document:
    """A new document on A4 paper (python-docx's template is US Letter) with 宋体 as the East Asian font."""
    document = docx.Document()
    section = document.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = A4_HEIGHT, A4_WIDTH
    else:
        section.page_width, section.page_height = A4_WIDTH, A4_HEIGHT
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin = section.right_margin = Mm(20)
    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10.5)  # 五号
    _east_asian(normal.element, DOCX_EAST_ASIAN_FONT)
    return document


def docx_title(document: docx.Document, text: str, size: float = 18) -> None:
    """A centred title in 黑体 (not Word's blue "Title" style)."""
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = True
    run.font.size = Pt(size)
    _east_asian(run._element, DOCX_HEADING_FONT)


def _cell_text(cell, text: str, *, grey: bool = False, align=None) -> None:
    cell.text = ""
    run = cell.paragraphs[0].add_run(text)
    if grey:
        run.font.color.rgb = RGBColor(GREY, GREY, GREY)
    if align is not None:
        cell.paragraphs[0].alignment = align


def dossier_docx(dossier: Dossier) -> bytes:
    document = a4_document()
    document.core_properties.title = f"{dossier.scope_label}申报书：{dossier.title}"
    document.core_properties.identifier = f"{dossier.card_id} v{dossier.version}"
    document.core_properties.language = "zh-CN"
    docx_title(document, f"{dossier.scope_label}申报书")
    document.add_paragraph(dossier.title).alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for item in dossier.fields:
        cells = table.add_row().cells
        _cell_text(cells[0], item.label, align=WD_ALIGN_PARAGRAPH.CENTER)
        _cell_text(cells[1], item.shown, grey=not item.value)
        cells[0].width, cells[1].width = Cm(4.0), Cm(13.0)
    for opinion in dossier.opinions:
        row = table.add_row()
        row.height, row.height_rule = Cm(4.2), WD_ROW_HEIGHT_RULE.AT_LEAST
        cells = row.cells
        _cell_text(cells[0], opinion.label, align=WD_ALIGN_PARAGRAPH.CENTER)
        cells[1].vertical_alignment = WD_ALIGN_VERTICAL.BOTTOM  # the opinion is written above the signature
        first, *rest = signature_lines(opinion)
        _cell_text(cells[1], first, align=WD_ALIGN_PARAGRAPH.RIGHT)
        for line in rest:
            cells[1].add_paragraph(line).alignment = WD_ALIGN_PARAGRAPH.RIGHT
        cells[0].width, cells[1].width = Cm(4.0), Cm(13.0)
    document.add_paragraph(preparer_line(dossier))
    if dossier.pages:
        document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        docx_title(document, "书影", size=14)
        for index, page in enumerate(dossier.pages, start=1):
            document.add_picture(io.BytesIO(page.jpeg), width=Cm(15) if page.width >= page.height else None,
                                 height=Cm(21) if page.width < page.height else None)
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            document.add_paragraph(caption(index, page)).alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer = document.sections[0].footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    footer.add_run(stamp(dossier)).font.size = Pt(8)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ---- PDF (fpdf2, CJK subset embedded) --------------------------------------------------------------


class FormPDF(FPDF):
    """An A4 form with a small grey stamp and the page number at the foot of every page."""

    def __init__(self, foot: str, orientation: str = "P"):
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self.foot = foot
        self.set_auto_page_break(True, margin=18)
        self.set_creator("Guji")
        add_cjk_fonts(self)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(MAIN_FAMILY, size=7)
        self.set_text_color(GREY)
        self.cell(0, 5, f"{self.foot}　第 {self.page_no()} 页", align="R")
        self.set_text_color(0)

    def row(self, label: str, text: str, label_width: float, *, line: float = 6.0, min_height: float = 0.0,
            grey: bool = False, below: list[str] | None = None) -> None:
        """One row of a two-column form table: the label centred on the left, the text wrapped on the
        right, and optionally lines (signature, seal, date) set right-aligned at the foot of the cell."""
        value_width = self.epw - label_width
        rows = self.multi_cell(value_width, line, text or " ", dry_run=True, output="LINES", wrapmode=WrapMode.CHAR)
        labels = self.multi_cell(label_width - 2, line, label, dry_run=True, output="LINES", wrapmode=WrapMode.CHAR)
        height = max(len(rows) * line + len(below or []) * line, len(labels) * line, min_height)
        if self.will_page_break(height):
            self.add_page()
        x, y = self.get_x(), self.get_y()
        self.rect(x, y, label_width, height)
        self.rect(x + label_width, y, value_width, height)
        top = y + (height - len(labels) * line) / 2  # the label centred in its cell
        for number, label_line in enumerate(labels):
            self.set_xy(x + 1, top + number * line)
            self.cell(label_width - 2, line, label_line, align="C")
        self.set_xy(x + label_width, y)
        if grey:
            self.set_text_color(GREY)
        self.multi_cell(value_width, line, text, align="L", wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)
        for index, text_line in enumerate(reversed(below or []), start=1):
            self.set_xy(x + label_width, y + height - index * line - 1)
            self.cell(value_width - 4, line, text_line, align="R")
        self.set_xy(x, y + height)


def dossier_pdf(dossier: Dossier) -> bytes:
    pdf = FormPDF(stamp(dossier))
    pdf.set_title(f"{dossier.scope_label}申报书：{dossier.title}")
    pdf.set_lang("zh-CN")
    pdf.add_page()
    pdf.set_font(MAIN_FAMILY, size=18)
    pdf.cell(0, 12, f"{dossier.scope_label}申报书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(MAIN_FAMILY, size=12)
    pdf.multi_cell(0, 7, dossier.title, align="C", wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(MAIN_FAMILY, size=10)
    label_width = 40.0
    for item in dossier.fields:
        pdf.row(item.label, item.shown, label_width, grey=not item.value)
    for opinion in dossier.opinions:
        pdf.row(opinion.label, "", label_width, min_height=40, below=signature_lines(opinion))
    pdf.ln(3)
    pdf.multi_cell(0, 6, preparer_line(dossier), wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    for index, page in enumerate(dossier.pages, start=1):
        pdf.add_page()
        pdf.set_font(MAIN_FAMILY, size=14)
        pdf.cell(0, 9, "书影", align="C", new_x="LMARGIN", new_y="NEXT")
        box_width, box_height = pdf.epw, pdf.eph - 30
        scale = min(box_width / page.width, box_height / page.height)
        width, height = page.width * scale, page.height * scale
        pdf.image(io.BytesIO(page.jpeg), x=pdf.l_margin + (box_width - width) / 2, y=pdf.get_y(), w=width, h=height)
        pdf.set_y(pdf.get_y() + height + 3)
        pdf.set_font(MAIN_FAMILY, size=9)
        pdf.multi_cell(0, 5, caption(index, page), align="C", wrapmode=WrapMode.CHAR)
    return bytes(pdf.output())


FORMATS = ("docx", "pdf")


def dossier_bytes(dossier: Dossier, format: str) -> bytes:
    if format not in FORMATS:
        raise InvalidInput(f"申报书格式「{format}」不可用：请用 docx 或 pdf")
    return dossier_docx(dossier) if format == "docx" else dossier_pdf(dossier)


def write_dossier(dossier: Dossier, output: Path, format: str) -> Path:
    data = dossier_bytes(dossier, format)
    atomic_files.write_bytes(output, data)
    return output
