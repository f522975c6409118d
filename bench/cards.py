"""Import 2,000 catalogue cards from XLSX, then batch-revise all of them; report cards/s and size.

    .venv/bin/python bench/cards.py [--cards 2000] [--no-fsync]

Titles, authors and editions come from the Kanripo catalogue in ../shared/corpus when it is
there (falls back to a few built-in real titles). Prints a table and writes
bench/results/cards.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guji.repository import Catalogue, Home  # noqa: E402
from guji.repository.card_export import export_cards  # noqa: E402
from guji.repository.card_import import apply_plan, plan_import  # noqa: E402

CATALOGUE_DIR = ROOT.parent / "shared" / "corpus" / "kanripo" / "catalog"
FALLBACK = [("毛詩注疏", "30 卷", "（漢）毛亨,（漢）鄭玄,（唐）孔穎達,（唐）陸德明"),
            ("詩序", "2 卷", "（周）卜商,（宋）朱熹"), ("影梅庵憶語", "一卷", "（清）冒襄")]


def kanripo_books() -> list[tuple[str, str, str]]:
    books = []
    for path in sorted(CATALOGUE_DIR.glob("KR*.txt")):
        text = path.read_text(encoding="utf-8")
        for block in re.split(r"\n\*\*\* ", text)[1:]:
            title = block.split()[1].split("-")[0] if len(block.split()) > 1 else ""
            extent = re.search(r":EXTENT:\s*(\d+ 卷)", block)
            people = re.search(r":_RESP:\s*(\S.*)", block)
            if title and extent and people:
                books.append((title, extent.group(1), people.group(1).strip()))
    return books or FALLBACK


def write_cards(path: Path, count: int, books: list[tuple[str, str, str]]) -> None:
    """An XLSX of `count` new cards, as a cataloguer's spreadsheet has them."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["索书号", "题名", "卷数", "著者", "版本", "存卷", "行款版式", "普查编号", "册数"])
    for n in range(count):
        title, extent, people = books[n % len(books)]
        sheet.append([f"善{n + 1:05d}", title, extent, people, "清乾隆四十四年寫本", "存卷一至五",
                      "半葉八行行二十一字白口四周雙邊", f"320000-0101-{n + 1:07d}", 1 + n % 8])
    workbook.save(path)


def write_revision(catalogue: Catalogue, path: Path, count: int | None = None) -> Path:
    """The catalogue exported to XLSX, its first `count` rows (default: all) with a new 存卷 and a
    修改原因 — the batch revision after an expert review."""
    export_cards(catalogue, "xlsx", path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.active
    headers = [cell.value for cell in sheet[1]]
    extant, reason = headers.index("存卷") + 1, len(headers) + 1
    sheet.cell(row=1, column=reason, value="修改原因")
    last = sheet.max_row if count is None else count + 1
    for row in range(2, last + 1):
        sheet.cell(row=row, column=extant, value="存卷一至八")
        sheet.cell(row=row, column=reason, value="专家审校")
    if last < sheet.max_row:
        sheet.delete_rows(last + 1, sheet.max_row - last)
    workbook.save(path)
    return path


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--no-fsync", action="store_true", help="skip fsync (measures everything else)")
    args = parser.parse_args()
    books = kanripo_books()
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        source = work_path / "cards.xlsx"
        write_cards(source, args.cards, books)

        home = Home.resolve(work_path / "home")
        Catalogue.init(home).close()
        catalogue = Catalogue.open(home, durable=not args.no_fsync)

        start = time.perf_counter()
        plan = plan_import(catalogue, source)
        apply_plan(catalogue, plan, editor="bench")
        import_seconds = time.perf_counter() - start

        revision = write_revision(catalogue, work_path / "revision.xlsx")

        start = time.perf_counter()
        plan = plan_import(catalogue, revision)
        apply_plan(catalogue, plan, editor="bench")
        revise_seconds = time.perf_counter() - start
        assert plan.count("revise") == args.cards

        ocfl_bytes = directory_size(home.ocfl_root)
        db_bytes = sum(p.stat().st_size for p in home.root.glob("catalogue.sqlite*"))
        catalogue.close()

    result = {
        "cards": args.cards,
        "fsync": not args.no_fsync,
        "import_seconds": round(import_seconds, 2),
        "import_cards_per_second": round(args.cards / import_seconds, 1),
        "batch_revision_seconds": round(revise_seconds, 2),
        "batch_revision_cards_per_second": round(args.cards / revise_seconds, 1),
        "ocfl_bytes": ocfl_bytes,
        "ocfl_bytes_per_card": round(ocfl_bytes / args.cards),
        "db_bytes": db_bytes,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "titles_from": "kanripo catalogue" if books is not FALLBACK else "built-in",
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results" / f"cards{'-nofsync' if args.no_fsync else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
