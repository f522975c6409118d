"""珍贵古籍名录 application dossier (申报书): the card's fields, pre-flight warnings, 书影, as DOCX or PDF.

Which fields the form has and where each comes from is data (``metadata_schemas/crosswalks/
dossier.json``). Pre-flight warnings never block the document; they say what a reviewer would
send back: a grade outside the list's scope (national: 一、二级; provincial: 一至三级), more than
half of the juan missing, a required field left empty, no 书影.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import docx
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from fpdf import FPDF
from fpdf.enums import WrapMode

import metadata_schemas
from repository import Catalogue, atomic_files
from repository.card import grade_label
from repository.card_table import get_path
from repository.parse import int_to_chinese

from . import card_text
from .fonts import MAIN_FAMILY, add_cjk_fonts
from .sample_pages import SamplePage, sample_pages

DEFAULT_PAGES = 2
DEFAULT_IMAGE_WIDTH = 1200
EMPTY = "无"
DOCX_EAST_ASIAN_FONT = "宋体"  # SimSun: present wherever a provincial centre opens the file


@cache
def dossier_definition() -> dict:
    return json.loads((Path(metadata_schemas.SCHEMA_DIR) / "crosswalks" / "dossier.json").read_text("utf-8"))


def scopes() -> dict[str, dict]:
    return dossier_definition()["scopes"]


def setting(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name}={text!r}: give a whole number ≥ 1")
    return int(text)


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


def preflight(card: dict, fields: list[DossierField], scope: str) -> list[str]:
    """What a reviewer would send back, before anything is printed."""
    rules = scopes()[scope]
    warnings = [f"{f.label} is empty: the {rules['label']} form requires it" for f in fields
                if f.required and not f.value]
    level = ((card.get("copy") or {}).get("grade") or {}).get("level")
    if level and level not in rules["grades"]:
        warnings.append(f"定级 {grade_label(card)} is outside the scope of the {rules['label']} "
                        f"({'、'.join(rules['grades'])} only)")
    total = ((card.get("edition") or {}).get("juan") or {}).get("count")
    missing = card_text.missing_juan_count(card)
    if total and missing is not None and missing * 2 > total:
        warnings.append(f"存卷: {missing} of {total} juan are missing (缺{int_to_chinese(missing)}卷, more than "
                        "half) — lists rarely accept a copy this incomplete")
    if card.get("status") == "withdrawn":
        warnings.append("the card is withdrawn (记录状态 已撤销)")
    return warnings


def build_dossier(
    catalogue: Catalogue, card_id: str, *, scope: str = "provincial", pages: list[str] | None = None,
    count: int | None = None, width: int | None = None, applicant: str | None = None,
) -> Dossier:
    """Everything a dossier shows, with its warnings (`count`/`width`: GUJI_DOSSIER_PAGES /
    GUJI_DOSSIER_IMAGE_WIDTH, default 2 pages at 1200 px)."""
    if scope not in scopes():
        raise ValueError(f"unknown list {scope!r}: use {' or '.join(scopes())}")
    count = count or setting("GUJI_DOSSIER_PAGES", DEFAULT_PAGES)
    width = width or setting("GUJI_DOSSIER_IMAGE_WIDTH", DEFAULT_IMAGE_WIDTH)
    stored = catalogue.get(card_id)
    fields = dossier_fields(stored.card, applicant)
    images, image_warnings = sample_pages(catalogue, card_id, pages=pages, count=count, width=width)
    rules = scopes()[scope]
    return Dossier(card_id, stored.version, scope, rules["label"], card_text.title_with_juan(stored.card), fields,
                   images, preflight(stored.card, fields, scope) + image_warnings)


def _caption(index: int, page: SamplePage) -> str:
    return f"书影{int_to_chinese(index)}：{page.label}（第{page.page}页，{page.width}×{page.height}像素）"


# ---- DOCX (python-docx) ---------------------------------------------------------------------------


def dossier_docx(dossier: Dossier) -> bytes:
    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "Times New Roman"
    normal.font.size = Pt(10.5)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), DOCX_EAST_ASIAN_FONT)
    for name in ("Title", "Heading 1"):
        document.styles[name].element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), DOCX_EAST_ASIAN_FONT)
    document.core_properties.title = f"{dossier.scope_label}申报书：{dossier.title}"
    document.core_properties.identifier = f"{dossier.card_id} v{dossier.version}"
    heading = document.add_heading(f"{dossier.scope_label}申报书", level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(dossier.title).alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for item in dossier.fields:
        cells = table.add_row().cells
        cells[0].text = item.label
        cells[1].text = item.value or EMPTY
        cells[0].width, cells[1].width = Cm(3.2), Cm(12.8)
    if dossier.pages:
        document.add_heading("书影", level=1)
        for index, page in enumerate(dossier.pages, start=1):
            document.add_picture(io.BytesIO(page.jpeg), width=Cm(14) if page.width >= page.height else None,
                                 height=Cm(20) if page.width < page.height else None)
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
            document.add_paragraph(_caption(index, page)).alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer = document.add_paragraph(f"Guji {dossier.card_id} v{dossier.version} · {date.today().isoformat()}")
    footer.runs[0].font.size = Pt(8)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ---- PDF (fpdf2, CJK subset embedded) --------------------------------------------------------------


def dossier_pdf(dossier: Dossier) -> bytes:
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=18)
    pdf.set_title(f"{dossier.scope_label}申报书：{dossier.title}")
    pdf.set_creator("Guji")
    add_cjk_fonts(pdf)
    pdf.add_page()
    pdf.set_font(MAIN_FAMILY, size=18)
    pdf.cell(0, 12, f"{dossier.scope_label}申报书", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(MAIN_FAMILY, size=12)
    pdf.multi_cell(0, 7, dossier.title, align="C", wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(MAIN_FAMILY, size=10)
    label_width, line = 30.0, 6.0
    value_width = pdf.epw - label_width
    for item in dossier.fields:
        text = item.value or EMPTY
        rows = pdf.multi_cell(value_width, line, text, dry_run=True, output="LINES", wrapmode=WrapMode.CHAR)
        height = max(len(rows), 1) * line
        if pdf.will_page_break(height):
            pdf.add_page()
        x, y = pdf.get_x(), pdf.get_y()
        pdf.multi_cell(label_width, height, item.label, border=1, align="C", new_x="RIGHT", new_y="TOP")
        pdf.set_xy(x + label_width, y)
        pdf.multi_cell(value_width, line, text, border=1, align="L", wrapmode=WrapMode.CHAR,
                       new_x="LMARGIN", new_y="NEXT", max_line_height=line)
        pdf.set_xy(x, y + height)
    for index, page in enumerate(dossier.pages, start=1):
        pdf.add_page()
        pdf.set_font(MAIN_FAMILY, size=12)
        pdf.cell(0, 8, "书影", new_x="LMARGIN", new_y="NEXT")
        box_width, box_height = pdf.epw, pdf.eph - 30
        scale = min(box_width / page.width, box_height / page.height)
        width, height = page.width * scale, page.height * scale
        pdf.image(io.BytesIO(page.jpeg), x=pdf.l_margin + (box_width - width) / 2, y=pdf.get_y(), w=width, h=height)
        pdf.set_y(pdf.get_y() + height + 3)
        pdf.set_font(MAIN_FAMILY, size=9)
        pdf.multi_cell(0, 5, _caption(index, page), align="C", wrapmode=WrapMode.CHAR)
    return bytes(pdf.output())


def write_dossier(dossier: Dossier, output: Path, format: str) -> Path:
    if format not in ("docx", "pdf"):
        raise ValueError(f"unknown dossier format {format!r}: use docx or pdf")
    data = dossier_docx(dossier) if format == "docx" else dossier_pdf(dossier)
    atomic_files.write_bytes(output, data)
    return output
