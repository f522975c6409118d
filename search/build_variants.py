"""Build the 異體字 folding table of the search key (``search/variant_table.json``) from Unihan.

Run by ``make variants`` (which installs Debian's ``unicode-data`` for Unihan); the output is
committed, with its sources, the Unicode version and the date recorded, so a clone needs neither.
Changing the table changes every search key: the index must then be rebuilt (the index remembers
the table's version and says so, see ``search/backend.py``).

Every character is folded to one representative of its class; the classes come from one
union-find over these edges, in this order (the first edges win where later ones conflict):

1. the hand-kept pairs of ``search/variants.json`` (``fold``: 徳→德, 𫝊→傳 …), checked by people;
2. OpenCC t2s, character by character (傳→传, 憶→忆) — what search did before, kept as the base;
3. Unihan ``kZVariant`` (the same abstract character), ``kTraditionalVariant`` /
   ``kSimplifiedVariant``, and ``kSemanticVariant`` (interchangeable in meaning) — except a
   semantic pair that Unihan's sources only call misused for each other (type ``B``).
   ``kSpecializedSemanticVariant`` (the same only in some senses) and ``kSpoofingVariant`` are not used.

Two rules keep distinct words apart, whatever chain of edges would join them:

* **kept apart**: no class may hold both characters of a pair listed under ``kept_apart`` in
  ``search/variants.json`` (己/已/巳, 沈/沉, 予/余 …): an edge that would join them is refused.
* **one standard character per class**: a Unihan edge (3.) may not join two classes that each hold
  a character of GB 2312 (the set of standard simplified characters): Unihan calls 只/隻, 隻/戠 and
  戠/子 variants, and 于/亏, 亏/虧 — chains that would make 子 match 只 and 於 match 虧. Standard
  characters are only joined where OpenCC itself joins them (乾/干, 於/于, which search has always
  matched).

The representative of a class is the character OpenCC's t2s gives for its members (so keys stay
simplified characters where there is one), else a GB 2312 member, else the lowest code point.
"""

from __future__ import annotations

import argparse
import bz2
import hashlib
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import opencc

HERE = Path(__file__).parent
CURATED_FILE = HERE / "variants.json"
TABLE_FILE = HERE / "variant_table.json"
DEFAULT_UNIHAN = Path("/usr/share/unicode/Unihan_Variants.txt.bz2")  # Debian package unicode-data
RULES_VERSION = 1  # bump when the rules above change (the table's version changes with it)
UNIHAN_FIELDS = ("kZVariant", "kTraditionalVariant", "kSimplifiedVariant", "kSemanticVariant")
# every code point OpenCC might map: the BMP and the supplementary ideographic planes
T2S_RANGES = ((0x2E80, 0xFFFF), (0x20000, 0x3FFFF))


@dataclass(frozen=True)
class Edge:
    first: str
    second: str
    source: str  # curated, opencc, kZVariant, kSemanticVariant …


@dataclass
class Unihan:
    version: str
    date: str
    edges: list[Edge]


def _char(scalar: str) -> str:
    return chr(int(scalar[2:], 16))


def read_unihan(lines: Iterable[str]) -> Unihan:
    """The variant edges of Unihan_Variants.txt (lines of the file), with its version and date."""
    version = released = ""
    edges = []
    for line in lines:
        line = line.rstrip("\n")
        if line.startswith("#"):
            if match := re.match(r"#\s*Unicode version:\s*(\S+)", line):
                version = match.group(1)
            elif match := re.match(r"#\s*Date:\s*(\d{4}-\d{2}-\d{2})", line):
                released = match.group(1)
            continue
        if not line.strip():
            continue
        scalar, name, value = line.split("\t")
        if name not in UNIHAN_FIELDS:
            continue
        for item in value.split():
            target, _, sources = item.partition("<")
            types = {part.partition(":")[2] for part in sources.split(",") if sources}
            if name == "kSemanticVariant" and types and all(kind and set(kind) <= {"B"} for kind in types):
                continue  # sources only say the two are misused for each other
            edges.append(Edge(_char(scalar), _char(target), name))
    return Unihan(version, released, edges)


def opencc_edges() -> list[Edge]:
    """OpenCC t2s one character at a time, as the search key has always applied it."""
    converter = opencc.OpenCC("t2s")
    edges = []
    for start, end in T2S_RANGES:
        for code in range(start, end + 1):
            character = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                continue
            converted = converter.convert(character)
            if len(converted) == 1 and converted != character:
                edges.append(Edge(character, converted, "opencc"))
    return edges


def is_standard(character: str) -> bool:
    """A GB 2312 character: one of the standard simplified characters."""
    try:
        character.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(character) == 1 and ord(character) >= 0x2E80


@dataclass
class Classes:
    """Union-find over characters that never puts a kept-apart pair into one class."""

    kept_apart: list[tuple[str, str]]
    parent: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    refused: list[tuple[Edge, str]] = field(default_factory=list)

    def find(self, character: str) -> str:
        self.parent.setdefault(character, character)
        self.members.setdefault(character, {character})
        root = character
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[character] != root:  # path compression
            self.parent[character], character = root, self.parent[character]
        return root

    def union(self, edge: Edge, *, standard_rule: bool) -> bool:
        first, second = self.find(edge.first), self.find(edge.second)
        if first == second:
            return True
        a, b = self.members[first], self.members[second]
        for left, right in self.kept_apart:
            if (left in a and right in b) or (left in b and right in a):
                self.refused.append((edge, f"kept apart: {left}/{right}"))
                return False
        if standard_rule:
            standard_a = sorted(c for c in a if is_standard(c))
            standard_b = sorted(c for c in b if is_standard(c))
            if standard_a and standard_b:
                self.refused.append((edge, f"two standard characters: {standard_a[0]}/{standard_b[0]}"))
                return False
        if len(a) < len(b):
            first, second = second, first
        self.parent[second] = first
        self.members[first] = self.members[first] | self.members.pop(second)
        return True

    def classes(self) -> list[set[str]]:
        return [members for root, members in self.members.items() if self.parent.get(root) == root]


def _representative(members: set[str], simplified: dict[str, str]) -> str:
    targets = {simplified[m] for m in members if m in simplified and simplified[m] in members}
    fixed = sorted(t for t in targets if simplified.get(t, t) == t)
    if fixed:
        return min(fixed, key=lambda c: (not is_standard(c), ord(c)))
    return min(members, key=lambda c: (not is_standard(c), not 0x4E00 <= ord(c) <= 0x9FFF, ord(c)))


def build_table(unihan: Unihan, curated: dict, opencc: list[Edge]) -> tuple[dict[str, str], list[tuple[Edge, str]]]:
    """character → representative for every character whose key is another one; and the refused edges."""
    kept = [tuple(entry["pair"]) for entry in curated.get("kept_apart", [])]
    classes = Classes(kept)
    for variant, standard in curated.get("fold", {}).items():
        if not classes.union(Edge(variant, standard, "curated"), standard_rule=False):
            raise ValueError(f"variants.json: fold {variant}→{standard} joins a kept-apart pair")
    for edge in opencc:
        classes.union(edge, standard_rule=False)
    order = {name: index for index, name in enumerate(UNIHAN_FIELDS)}
    for edge in sorted(unihan.edges, key=lambda e: order[e.source]):  # stable: file order within a field
        classes.union(edge, standard_rule=True)
    simplified = {edge.first: edge.second for edge in opencc}
    table = {}
    for members in classes.classes():
        if len(members) < 2:
            continue
        representative = _representative(members, simplified)
        table.update({member: representative for member in members if member != representative})
    return dict(sorted(table.items())), classes.refused


def table_version(table: dict[str, str]) -> str:
    digest = hashlib.sha256(json.dumps(table, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
    return f"{RULES_VERSION}-{digest[:12]}"


def table_document(table: dict[str, str], unihan: Unihan, today: date | None = None) -> dict:
    return {
        "description": "Generated by search/build_variants.py (make variants) — do not edit by hand: edit "
                       "search/variants.json (hand-kept pairs and kept-apart words) and run `make variants`, then "
                       "`guji reindex`. Each character → the character its search key uses.",
        "version": table_version(table),
        "generated": (today or date.today()).isoformat(),
        "sources": {
            "unihan": f"Unihan_Variants.txt, Unicode {unihan.version} ({unihan.date}): "
                      f"{', '.join(UNIHAN_FIELDS)} (Debian package unicode-data)",
            "opencc": f"OpenCC t2s, opencc {_opencc_version()}, one character at a time",
            "curated": "search/variants.json (fold, kept_apart)",
            "rules": f"search/build_variants.py, rules version {RULES_VERSION}",
        },
        "characters": len(table),
        "fold": table,
    }


def _opencc_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opencc")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unihan", type=Path, default=DEFAULT_UNIHAN, help="Unihan_Variants.txt or .txt.bz2")
    parser.add_argument("--output", type=Path, default=TABLE_FILE)
    parser.add_argument("--report", action="store_true", help="List the refused edges.")
    arguments = parser.parse_args(argv)
    if not arguments.unihan.is_file():
        print(f"{arguments.unihan} not found: install the Debian package unicode-data "
              "(`make variants` does) or give --unihan", file=sys.stderr)
        return 1
    opener = bz2.open if arguments.unihan.suffix == ".bz2" else open
    with opener(arguments.unihan, "rt", encoding="utf-8") as handle:
        unihan = read_unihan(handle)
    curated = json.loads(CURATED_FILE.read_text(encoding="utf-8"))
    table, refused = build_table(unihan, curated, opencc_edges())
    document = table_document(table, unihan)
    arguments.output.write_text(json.dumps(document, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"{arguments.output}: {len(table)} characters, version {document['version']}, "
          f"{len(refused)} edges refused")
    if arguments.report:
        for edge, why in refused:
            print(f"{edge.source}\t{edge.first}\t{edge.second}\t{why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
