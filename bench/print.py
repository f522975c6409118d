"""Print guide cards (导卡) for N catalogue cards into one PDF; report seconds and cards/s.

    .venv/bin/python bench/print.py [--cards 2000]

Setup (not timed): a fresh data home with N cards whose titles, 卷数 and authors come from the
Kanripo catalogue in ../shared/corpus when it is there (else a few built-in real titles), saved
without fsync. Timed: `print_guide_cards` over all of them — reading the DB projection, laying
out four cards per A4 sheet, subsetting and embedding the CJK font, writing the file. Prints a
table and writes bench/results/print-N.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cards import kanripo_books  # noqa: E402

from guji.repository import Catalogue, Home  # noqa: E402
from guji.repository.outputs.guide_cards import print_guide_cards  # noqa: E402


def bench_cards(count: int) -> list[dict]:
    books = kanripo_books()
    cards = []
    for n in range(count):
        title, extent, people = books[n % len(books)]
        cards.append({
            "id": f"bench-{n:05d}",
            "record_type": "guji",
            "edition": {"title": title, "juan": {"raw": extent.replace(" ", "")}, "responsibility_raw": people,
                        "edition_type": "写本", "edition_statement": "清乾隆四十四年寫本"},
            "copy": {"call_number": f"善{n + 1:05d}", "census_number": f"320000-0101-{n + 1:07d}",
                     "volumes": 1 + n % 8, "cases": 1 + n % 3, "extant_juan": {"raw": "存卷一至五"}},
        })
    return cards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        home = Home.resolve(Path(work) / "home")
        Catalogue.init(home).close()
        catalogue = Catalogue.open(home, durable=False)
        setup = time.perf_counter()
        catalogue.save_many(((card, 0) for card in bench_cards(args.cards)), editor="bench",
                            reason_of=lambda card: "bench")
        setup_seconds = time.perf_counter() - setup

        start = time.perf_counter()
        result = print_guide_cards(catalogue, output=Path(work) / "cards.pdf")
        seconds = time.perf_counter() - start
        catalogue.close()
    figures = {
        "cards": result.cards,
        "sheets": result.sheets,
        "print_seconds": round(seconds, 2),
        "cards_per_second": round(result.cards / seconds, 1),
        "pdf_bytes": len(result.pdf),
        "warnings": len(result.warnings),
        "setup_seconds": round(setup_seconds, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }
    width = max(len(key) for key in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    target = ROOT / "bench" / "results" / f"print-{args.cards}.json"
    target.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"written {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
