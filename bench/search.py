"""Index the corpus texts with both search backends and a SQLite FTS5 trigram baseline; time queries.

    .venv/bin/python bench/search.py                      # full corpus: all of kanripo/ + daizhige/
    .venv/bin/python bench/search.py --limit-files 2 --queries 200   # a quick run

Corpus: every Kanripo text under ``../shared/corpus/kanripo`` (one book per text, its juan files
in order) and ``daizhige/影梅庵忆语.txt`` (one page), read with the importers of `guji text import`
and turned into index documents exactly as `guji reindex` does. Each backend builds its index with
`rebuild` (timed: *index time*; *size* is the index folder on disk). Queries are substrings of the
texts, 1–6 characters, a third as written (traditional, with the edition's variants), a third in
simplified characters (OpenCC t2s), a third with variants replaced by their standard form; each
is run through `search.service.Searcher.search` — query parsing, books, per-book page counts,
facets, the first page of results with highlighted snippets — and timed after one warm-up pass.

Baseline: SQLite FTS5 with the trigram tokenizer over the same folded keys (so it gets the same
variant/simplified folding for free); ``MATCH`` on the key. It cannot answer one- and two-character
queries (trigrams): those are counted as unanswered. Prints a table; writes bench/results/search.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def load_corpus(limit_files: int | None):
    """(book entries, {book id: [page records]}) for the corpus."""
    from guji.ingest.text_import import _continues, read_pages
    from guji.search.documents import book_document, page_documents

    entries, records = [], {}
    texts = sorted(p for p in (CORPUS / "kanripo").iterdir() if p.is_dir() and p.name.startswith("KR"))
    sources = [(text.name.lower(), sorted(text.glob(f"{text.name}_*.txt"))[:limit_files]) for text in texts]
    sources.append(("yingmeian-yiyu", [CORPUS / "daizhige" / "影梅庵忆语.txt"]))
    for book_id, files in sources:
        text_format, pages = read_pages(files)
        for number, page in enumerate(pages, start=1):
            page.page = f"{number:04d}"
        document = {"format": text_format, "pages": [
            page.to_json(_continues(page, pages[i + 1] if i + 1 < len(pages) else None))
            for i, page in enumerate(pages)]}
        title = next((line.split(":", 1)[1].strip() for line in files[0].read_text(encoding="utf-8").splitlines()[:8]
                      if line.startswith("#+TITLE:")), files[0].stem)
        card = {"id": book_id, "record_type": "guji" if book_id.startswith("kr") else "local_document",
                "edition": {"title": title, "classification": {"bu": {"1": "经部", "2": "史部", "3": "子部",
                                                                       "4": "集部"}.get(book_id[2:3], "史部")}}}
        entries.append((book_document(card), page_documents(book_id, document)))
        records[book_id] = document["pages"]
    return entries, records


def make_queries(records, count: int, seed: int) -> list[dict]:
    import opencc

    from guji.search.analyzer import VARIANTS_FILE, fold
    from guji.search.documents import page_texts

    variants = json.loads(VARIANTS_FILE.read_text(encoding="utf-8"))["fold"]
    t2s = opencc.OpenCC("t2s")
    rng = random.Random(seed)
    runs = []
    for pages in records.values():
        for entry in pages:
            for field in page_texts(entry).values():
                if field.text:
                    runs.append(field.text)
    queries = []
    while len(queries) < count:
        text = rng.choice(runs)
        length = 1 + len(queries) % 6
        start = rng.randrange(max(1, len(text) - 12))
        chunk = "".join(c for c in text[start:start + 24] if fold(c))
        chunk = chunk.replace("&", "")
        if len(chunk) < length or len(fold(chunk[:length])) != length:
            continue
        written = chunk[:length]
        form = ("as written", "simplified", "standard")[len(queries) % 3]
        query = {"as written": written, "simplified": t2s.convert(written),
                 "standard": "".join(variants.get(c, c) for c in written)}[form]
        queries.append({"q": query, "length": length, "form": form})
    return queries


# ---- variant folding: recall and false merges (key level, no index needed) -------------------------

CLAUSE_END = re.compile(r"[，。、；：！？「」『』《》〈〉（）()“”‘’\s¶]+")


def folding_methods() -> dict:
    """The foldings compared: OpenCC t2s alone; the key before the Unihan table (91 hand-kept pairs,
    then t2s, repeated); the generated Unihan table (what search uses now)."""
    import opencc

    from guji.search.analyzer import VARIANTS_FILE, fold

    t2s = opencc.OpenCC("t2s")
    pairs = json.loads(VARIANTS_FILE.read_text(encoding="utf-8"))["fold"]
    cache_a: dict[str, str] = {}
    cache_b: dict[str, str] = {}

    def by_char(cache, rule):
        def key(text: str) -> str:
            out = []
            for char in text:
                if char not in cache:
                    cache[char] = rule(char)
                out.append(cache[char])
            return "".join(out)
        return key

    def t2s_char(char: str) -> str:
        converted = t2s.convert(char)
        return converted if len(converted) == 1 else char

    def before(char: str) -> str:
        for _ in range(3):
            previous, char = char, t2s_char(pairs.get(char, char))
            if char == previous:
                break
        return char

    return {"opencc t2s only": by_char(cache_a, t2s_char), "before: 91 pairs + t2s": by_char(cache_b, before),
            "Unihan table (now)": fold}


def _main_text(path: Path) -> str:
    """A Kanripo file's main text: markers, comments and (double-column) notes dropped."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^#.*$", "", text, flags=re.M)
    text = re.sub(r"<[^>]*>|\([^)]*\)|&KR\d+;|\[[^\]]*\]", "", text)
    return text


def clauses(text: str, shortest: int = 4, longest: int = 10) -> list[str]:
    found = [c for c in CLAUSE_END.split(text) if shortest <= len(c) <= longest]
    return list(dict.fromkeys(found))


def folding_report(limit_files: int | None = None) -> dict:
    """Recall of traditional queries on the simplified 影梅庵忆语, of simplified and traditional queries
    across three editions of 毛詩 (tls, 四部叢刊, 文淵閣四庫), and merges of characters one edition
    uses side by side (a proxy for false merges), for each folding."""
    import opencc

    methods = folding_methods()
    report: dict = {"methods": list(methods)}
    # 1. traditional → simplified: 影梅庵忆语 (simplified) searched as a reader of a traditional edition types it
    yingmeian = (CORPUS / "daizhige" / "影梅庵忆语.txt").read_text(encoding="utf-8")
    sentences = clauses(yingmeian)
    converters = {name: opencc.OpenCC(name) for name in ("s2t", "s2tw", "s2hk")}
    queries = [(name, converter.convert(sentence)) for sentence in sentences for name, converter in converters.items()]
    trad = {}
    for name, key in methods.items():
        target = key(yingmeian)
        found = [query for _, query in queries if key(query) in target]
        trad[name] = {"queries": len(queries), "found": len(found), "recall": round(len(found) / len(queries), 4)}
    missed = [q for _, q in queries if methods["Unihan table (now)"](q) not in methods["Unihan table (now)"](yingmeian)]
    report["traditional_queries_on_simplified_text"] = {
        "corpus": "daizhige/影梅庵忆语.txt (simplified); queries: its clauses of 4–10 characters in traditional "
                  "characters by OpenCC s2t, s2tw and s2hk", "results": trad, "still_missed_examples": missed[:10]}

    # 2. the same verses in three editions of 毛詩: tls (standard forms), SBCK, WYG (the editions' own variants)
    editions = {}
    for text_id, label in (("KR1c0001", "tls"), ("KR1c0002", "SBCK"), ("KR1c0004", "WYG")):
        files = sorted((CORPUS / "kanripo" / text_id).glob(f"{text_id}_*.txt"))[:limit_files]
        editions[label] = "".join(_main_text(path) for path in files)
    verses = clauses(editions["tls"], 4, 8)
    to_simplified = opencc.OpenCC("t2s")
    cross = {}
    for name, key in methods.items():
        targets = {label: key(text) for label, text in editions.items() if label != "tls"}
        row = {}
        for label, target in targets.items():
            as_written = sum(1 for verse in verses if key(verse) in target)
            simplified = sum(1 for verse in verses if key(to_simplified.convert(verse)) in target)
            row[label] = {"traditional_found": as_written, "simplified_found": simplified}
        cross[name] = row
    best = {label: max(cross[name][label]["traditional_found"] for name in methods) for label in ("SBCK", "WYG")}
    for name in methods:
        for label in ("SBCK", "WYG"):
            entry = cross[name][label]
            entry["traditional_recall"] = round(entry["traditional_found"] / best[label], 4)
            entry["simplified_recall"] = round(entry["simplified_found"] / best[label], 4)
    report["verses_across_editions"] = {
        "corpus": "毛詩: KR1c0001 (tls, standard forms) clauses of 4–8 characters searched in the main text of "
                  "KR1c0002 (四部叢刊) and KR1c0004 (文淵閣四庫全書), as written and in simplified characters; "
                  "recall relative to the most any folding finds (verses an edition words differently are found "
                  "by none)", "verses": len(verses), "results": cross}

    # 3. false merges (proxy): pairs a folding joins though one edition writes both, each ≥ 3 times
    counts = {label: Counter(text) for label, text in editions.items()}
    counts["影梅庵忆语"] = Counter(yingmeian)
    characters = {c for counter in counts.values() for c in counter if unicodedata.category(c) == "Lo"}
    plain = methods["opencc t2s only"]
    merges = {}
    for name, key in methods.items():
        classes: dict[str, set[str]] = {}
        for char in characters:
            classes.setdefault(key(char), set()).add(char)
        suspect = []
        for members in classes.values():
            for first, second in itertools.combinations(sorted(members), 2):
                if plain(first) == plain(second):
                    continue  # OpenCC joins them as well: accepted for search
                side_by_side = max(min(c[first], c[second]) for c in counts.values())
                if side_by_side >= 3:
                    suspect.append((side_by_side, first + second))
        suspect.sort(reverse=True)
        merges[name] = {"pairs_beyond_opencc_used_side_by_side": len(suspect),
                        "top": [pair for _, pair in suspect[:40]]}
    report["merges_of_characters_an_edition_uses_side_by_side"] = {
        "note": "a proxy for false merges: an edition that writes both forms (each ≥ 3 times) may use them as two "
                "words — or just mix two forms of one; review the top pairs and add distinct words to "
                "kept_apart in search/variants.json", "results": merges}
    return report


def print_folding(console, report: dict) -> None:
    from rich.table import Table

    table = Table("folding", "trad → simp recall (影梅庵)", "毛詩 tls → 四部叢刊", "毛詩 tls → 四庫",
                  "simp → 四部叢刊", "simp → 四庫", "side-by-side merges",
                  title="variant folding: recall and merges of characters one edition uses side by side")
    for name in report["methods"]:
        cross = report["verses_across_editions"]["results"][name]
        table.add_row(name, f"{report['traditional_queries_on_simplified_text']['results'][name]['recall']:.2%}",
                      f"{cross['SBCK']['traditional_recall']:.2%}", f"{cross['WYG']['traditional_recall']:.2%}",
                      f"{cross['SBCK']['simplified_recall']:.2%}", f"{cross['WYG']['simplified_recall']:.2%}",
                      str(report["merges_of_characters_an_edition_uses_side_by_side"]["results"][name][
                          "pairs_beyond_opencc_used_side_by_side"]))
    console.print(table)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summary(times: list[float], queries: list[dict]) -> dict:
    by_length = {}
    for length in range(1, 7):
        chosen = [t for t, q in zip(times, queries, strict=True) if q["length"] == length]
        if chosen:
            by_length[str(length)] = {"p50_ms": round(statistics.median(chosen), 3),
                                      "p95_ms": round(percentile(chosen, 0.95), 3)}
    return {"p50_ms": round(statistics.median(times), 3), "p95_ms": round(percentile(times, 0.95), 3),
            "by_length": by_length}


def bench_backend(name: str, entries, queries, work: Path) -> dict:
    from guji.repository import Home
    from guji.search.backend import index_dir
    from guji.search.backends import open_backend
    from guji.search.service import Searcher

    home = Home(work / name)
    backend = open_backend(home, name, writable=True)
    started = time.perf_counter()
    backend.rebuild(iter(entries))
    build = time.perf_counter() - started
    backend.close()
    size = folder_size(index_dir(home, name))
    searcher = Searcher(home, name)
    totals = []
    for query in queries:  # warm-up (opens readers, fills caches)
        totals.append(searcher.search(query["q"]).total_pages)
    times = []
    for query in queries:
        started = time.perf_counter()
        searcher.search(query["q"])
        times.append((time.perf_counter() - started) * 1000)
    searcher.close()
    return {"build_s": round(build, 2), "size_bytes": size, **summary(times, queries), "pages_found": totals}


def bench_fts5(entries, queries, work: Path) -> dict:
    from guji.search.analyzer import PARAGRAPH_BREAK, fold

    path = work / "fts5.sqlite"
    connection = sqlite3.connect(path)
    started = time.perf_counter()
    connection.execute("CREATE VIRTUAL TABLE pages USING fts5(book UNINDEXED, page UNINDEXED, body, "
                       "tokenize='trigram')")
    rows = []
    for _, pages in entries:
        for page in pages:
            key = PARAGRAPH_BREAK.join(page.key(name) for name in ("text", "note"))
            rows.append((page.book_id, page.page, key))
    connection.executemany("INSERT INTO pages VALUES (?, ?, ?)", rows)
    connection.commit()
    build = time.perf_counter() - started
    times, unanswered, totals = [], {}, []
    for repeat in range(2):
        for query in queries:
            key = fold(query["q"]).replace('"', "")
            started = time.perf_counter()
            found = connection.execute("SELECT count(*) FROM pages WHERE body MATCH ?", (f'"{key}"',)).fetchone()[0]
            elapsed = (time.perf_counter() - started) * 1000
            if repeat:
                times.append(elapsed)
                totals.append(found)
                if found == 0:
                    unanswered[str(query["length"])] = unanswered.get(str(query["length"]), 0) + 1
    connection.close()
    return {"build_s": round(build, 2), "size_bytes": path.stat().st_size, **summary(times, queries),
            "unanswered": sum(unanswered.values()), "unanswered_by_length": unanswered, "pages_found": totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit-files", type=int, default=None, help="At most this many files per Kanripo text.")
    parser.add_argument("--queries", type=int, default=240, help="Number of queries (≥ 200 for the report).")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--backends", default="tantivy,whoosh")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "search.json")
    parser.add_argument("--folding-only", action="store_true",
                        help="Only the variant-folding measures (no index), written to search-folding.json.")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"no corpus at {CORPUS}")
    from rich.console import Console
    from rich.table import Table

    console = Console()
    folding = folding_report(args.limit_files)
    print_folding(console, folding)
    if args.folding_only:
        output = args.output.with_name("search-folding.json") if args.output.name == "search.json" else args.output
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]), **folding},
                                     ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)
        return
    started = time.perf_counter()
    entries, records = load_corpus(args.limit_files)
    prepare = time.perf_counter() - started
    pages = sum(len(p) for _, p in entries)
    characters = sum(len(t.text) for _, p in entries for page in p for t in page.texts.values())
    queries = make_queries(records, args.queries, args.seed)
    console.print(f"{len(entries)} books, {pages:,} pages, {characters:,} characters of text "
                  f"(read and prepared in {prepare:.1f} s); {len(queries)} queries", highlight=False)
    work = Path(tempfile.mkdtemp(prefix="guji-bench-search-"))
    results = {}
    try:
        for name in args.backends.split(","):
            console.print(f"indexing with {name} …", highlight=False)
            results[name] = bench_backend(name, entries, queries, work)
        results["sqlite-fts5-trigram"] = bench_fts5(entries, queries, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    agreement = None
    if "tantivy" in results and "whoosh" in results:
        agreement = results["tantivy"]["pages_found"] == results["whoosh"]["pages_found"]
    table = Table("engine", "index s", "size MB", "p50 ms", "p95 ms", "p95 1-char", "p95 2–6 char", "unanswered",
                  title="search: index build and query latency (search with facets and snippets)")
    for name, result in results.items():
        by_length = result["by_length"]
        longer = max((v["p95_ms"] for k, v in by_length.items() if k != "1"), default=0)
        table.add_row(name, f"{result['build_s']:.2f}", f"{result['size_bytes'] / 2**20:.1f}",
                      f"{result['p50_ms']:.2f}", f"{result['p95_ms']:.2f}",
                      f"{by_length.get('1', {}).get('p95_ms', 0):.2f}",
                      f"{longer:.2f}", str(result.get("unanswered", 0)))
    console.print(table)
    if agreement is not None:
        console.print(f"whoosh and tantivy found the same number of pages for every query: {agreement}")
    for result in results.values():
        result.pop("pages_found", None)
    report = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "corpus": {"books": len(entries), "pages": pages, "characters": characters,
                   "limit_files": args.limit_files, "prepare_s": round(prepare, 2)},
        "queries": {"count": len(queries), "lengths": "1-6", "forms": ["as written", "simplified", "standard"]},
        "results": results, "backends_agree": agreement, "folding": folding,
        "note": "fts5 answers on the same folded keys; it cannot match 1–2 character queries (trigrams)",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    console.print(f"wrote {args.output}", highlight=False)


if __name__ == "__main__":
    main()
