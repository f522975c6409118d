"""`guji text import`: transcriptions into a book's OCFL object, aligned to its scanned pages.

Every file is read and checked before anything is stored; a bad file refuses the whole import
(naming file and line) and leaves the object as it was. One import is one OCFL version holding
``text/pages.json`` (see :mod:`ingest.text_model`) and the files as given (``text/source/…``);
it replaces any earlier transcription of the book, but not a person's 校对 of a page nor the OCR of
pages it does not cover (:mod:`ingest.text_layers`). The search indexer picks the new version up
from the ``text-import`` event.

Alignment, when the object has a ``structure.json`` (the book was ingested):

- a PAGE-XML or hOCR page whose image file name is one of the scans goes to that scan;
- page markers that name a 卷 and leaf (Kanripo ``<pb:…_002-3a>``) go to the scan of that leaf
  when the scans have leaf labels (:mod:`ingest.text_leaves`); text of leaves without a scan is
  kept without a page, with a warning;
- otherwise the n-th page of the text is the n-th scanned page (more text pages than scans is
  refused).

Without scans the text's own pages are numbered 0001, 0002 ….
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from guji.repository import CardNotFound, Catalogue
from guji.repository.version_reasons import TEXT_FORMAT_NAMES

from .text_kanripo import looks_like_kanripo, parse_kanripo
from .text_layers import with_other_layers
from .text_leaves import align_by_leaf, has_leaves
from .text_model import PAGES_FILE, SOURCE_DIR, TEXT_DIR, TextPage, TextRefused, pages_json_bytes
from .text_ocr import looks_like_hocr, looks_like_page_xml, parse_hocr, parse_page_xml
from .text_plain import parse_plain

FORMATS = ("kanripo", "plain", "page-xml", "hocr")
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass
class TextImportReport:
    book_id: str
    format: str
    pages: int
    version: int | None  # None: the stored text was already the same
    warnings: list[str]
    notes: list[str] = field(default_factory=list)  # how the text was placed, worth knowing
    unscanned: int = 0  # text pages stored without a page (their leaf has no scan)


def detect_format(path: Path, data: bytes) -> str:
    suffix = path.suffix.lower()
    if suffix == ".xml" or looks_like_page_xml(data):
        return "page-xml" if looks_like_page_xml(data) else "hocr" if looks_like_hocr(data) else "page-xml"
    if suffix in (".hocr", ".html", ".htm", ".xhtml") or looks_like_hocr(data[:20000]):
        return "hocr"
    return "kanripo" if looks_like_kanripo(data[:1_000_000].decode("utf-8", "ignore")) else "plain"


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TextRefused([f"{path.name} 第 {line} 行：不是 UTF-8 编码（第 {error.start} 字节）；"
                           "请把文件另存为 UTF-8"]) \
            from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise TextRefused([f"{path.name} 第 {line} 行：有 NUL 字符，这不是文本文件"])
    return text.lstrip("\ufeff")


def read_pages(files: list[Path], text_format: str | None = None) -> tuple[str, list[TextPage]]:
    """Parse every file (in the order given) into pages; raises TextRefused listing every bad file."""
    problems: list[str] = []
    pages: list[TextPage] = []
    formats: set[str] = set()
    names = [path.name for path in files]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}：给了两次（文件名不能相同：它们都存在 text/source/ 下）")
    for path in files:
        try:
            if not path.is_file():
                raise TextRefused([f"{path}：没有这个文件"])
            if path.stat().st_size > MAX_FILE_BYTES:
                raise TextRefused([f"{path.name}：超过 {MAX_FILE_BYTES // 2**20} MB，请分成几个文件"])
            data = path.read_bytes()
            chosen = text_format or detect_format(path, data)
            if chosen not in FORMATS:
                raise TextRefused([f"没有「{chosen}」这种全文格式：可用 {'、'.join(FORMATS)}"])
            formats.add(chosen)
            if chosen == "page-xml":
                found = parse_page_xml(data, path.name)
            elif chosen == "hocr":
                found = parse_hocr(data, path.name)
            elif chosen == "kanripo":
                found = parse_kanripo(_decode(path, data), path.name)
            else:
                found = parse_plain(_decode(path, data), path.name)
            if not found or all(page.is_empty() for page in found):
                raise TextRefused([f"{path.name}：里面没有文字"])
            pages.extend(found)
        except TextRefused as refused:
            problems.extend(refused.problems)
        except OSError as error:
            problems.append(f"{path}：读不出来（{error.strerror}）")
    if len(formats) > 1 and not problems:
        problems.append(f"这些文件格式不一（{'、'.join(sorted(formats))}）：请一次只导入一种格式")
    if problems:
        raise TextRefused(problems)
    return formats.pop(), pages


def align(pages: list[TextPage], structure: dict | None, warnings: list[str],
          notes: list[str] | None = None) -> None:
    """Give every text page its page number ("0001") in the book, or None when its leaf has no scan."""
    if not structure or not structure.get("pages"):
        for number, page in enumerate(pages, start=1):
            page.page = f"{number:04d}"
        return
    scans = structure["pages"]
    by_image = {}
    for entry in scans:
        for name in (entry.get("file"), entry.get("master")):
            if name:
                by_image[Path(name).name] = entry["page"]
                by_image[Path(name).stem] = entry["page"]
    if all(page.image and (page.image in by_image or Path(page.image).stem in by_image) for page in pages):
        for page in pages:
            page.page = by_image.get(page.image) or by_image[Path(page.image).stem]
        numbers = [page.page for page in pages]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise TextRefused([f"全文中有几页都对应影像第 {'、'.join(duplicates)} 页"])
        pages.sort(key=lambda page: page.page)
        return
    if has_leaves(structure) and any(page.leaf for page in pages):
        align_by_leaf(pages, structure, warnings, notes if notes is not None else [])
        return
    if len(pages) > len(scans):
        last = pages[len(scans)]
        raise TextRefused([f"全文有 {len(pages)} 页，而这部书只有 {len(scans)} 页影像：全文第 {len(scans) + 1} 页"
                           f"（{last.source} 第 {last.source_line} 行{'，' + last.marker if last.marker else ''}）"
                           "没有对应的影像。请先入藏缺少的影像，或只导入与影像对应的文件"])
    if len(pages) < len(scans):
        warnings.append(f"全文只对应这部书 {len(scans)} 页影像中的前 {len(pages)} 页")
    for page, entry in zip(pages, scans, strict=False):
        page.page = entry["page"]
        if not page.label and entry.get("label"):
            page.label = entry["label"]


def _continues(page: TextPage, following: TextPage | None) -> dict[str, bool]:
    """Whether the page's 正文 and 夹注 run on onto the next page (same file, consecutive pages)."""
    if following is None or following.source != page.source or following.image or page.image:
        return {"text": False, "note": False}
    return {"text": True, "note": page.last_kind() == "note" and following.first_kind() == "note"}


def import_text(catalogue: Catalogue, book_id: str, files: list[Path], *, editor: str,
                reason: str | None = None, text_format: str | None = None) -> TextImportReport:
    """Import transcription files into book `book_id` (one new OCFL version)."""
    if not files:
        raise TextRefused(["没有给出文件：请写一个或几个全文文件"])
    if not catalogue.exists(book_id):
        raise CardNotFound(f"no card with id {book_id!r}: create the card first, then import its text")
    chosen, pages = read_pages([Path(f) for f in files], text_format)
    store = catalogue.store
    stored = set(store.logical_paths(book_id))
    structure = catalogue.structure(book_id)
    warnings: list[str] = []
    notes: list[str] = []
    align(pages, structure, warnings, notes)
    entries = [page.to_json(_continues(page, pages[i + 1] if i + 1 < len(pages) else None))
               for i, page in enumerate(pages)]
    entries, layer_files, kept = with_other_layers(catalogue, book_id, entries, structure)
    if kept:
        notes.append(f"{kept} 页保留了校对后的文本（校对优先于导入）")
    sources = [Path(f).name for f in files]
    new_files: dict[str, bytes | Path] = {PAGES_FILE: pages_json_bytes(chosen, sources, entries), **layer_files}
    for path in files:
        new_files[f"{SOURCE_DIR}/{Path(path).name}"] = Path(path)
    deletions = tuple(sorted(p for p in stored if p.startswith(TEXT_DIR + "/") and p not in new_files))
    kind = TEXT_FORMAT_NAMES.get(chosen, chosen)
    reason = reason or f"导入全文（{kind}）：{len(pages)} 叶，来自 {'、'.join(sources)}"
    version = catalogue.commit_files(book_id, new_files, editor=editor, reason=reason, event="text-import",
                                     deletions=deletions, format=chosen, pages=len(pages), sources=sources)
    unscanned = sum(1 for page in pages if structure and page.page is None)
    return TextImportReport(book_id, chosen, len(pages), version.number if version else None, warnings, notes,
                            unscanned)
