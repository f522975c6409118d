"""IIIF Presentation 3 collections: the top collection, one per 四部 branch, unclassified, local documents.

``/iiif/collection/top`` lists the branch collections that hold at least one book, then
``unclassified`` and ``local`` when they hold any. A branch collection lists every book
classified under that 部 — 古籍 and 地方文献 alike (a 地方志 is 史部地理類 like any other);
``unclassified`` (未分類) lists the books with no 四部 class (or a code of no known 部) — common
in a card catalogue under revision; ``local`` lists the local documents (地方文献) whatever their
class. So every public book with page images is reachable from ``top``. Only books with page
images are listed, since a book without scans has no manifest, and withdrawn cards (记录状态
已撤销) are left out.
"""

from __future__ import annotations

import json

import iiif_prezi3 as prezi

from guji.repository import Catalogue, NotFound
from guji.repository.withdrawal import WITHDRAWN

from . import ids
from .language import bilingual, book_label
from .page_images import has_page_images

# Collection name (ASCII, used in the URL) → 部 code, label in traditional characters, English.
BRANCHES = {
    "jing": ("1", "經部", "Classics (jing)"),
    "shi": ("2", "史部", "Histories (shi)"),
    "zi": ("3", "子部", "Masters (zi)"),
    "ji": ("4", "集部", "Collected writings (ji)"),
    "cong": ("5", "叢部", "Collectanea (cong)"),
}
UNCLASSIFIED = "unclassified"
LOCAL = "local"
TOP = "top"
NAMES = (TOP, *BRANCHES, UNCLASSIFIED, LOCAL)
LABELS = {UNCLASSIFIED: ("未分類", "Unclassified"), LOCAL: ("地方文獻", "Local documents")}


class UnknownCollection(NotFound):
    """No IIIF collection of that name (the message lists the ones there are)."""


def collection_for_code(code: str) -> str | None:
    """The branch collection of a 四部 code: 1.03 → jing, 2.11.03 → shi."""
    branch = code.split(".")[0] if code else ""
    return next((name for name, (bu, _, _) in BRANCHES.items() if bu == branch), None)


def collections_of(classification_code: str | None, record_type: str | None) -> list[str]:
    """The collections (below top) a book belongs to: its 四部 branch, else unclassified; and local
    for a 地方文献."""
    found = [collection_for_code(classification_code or "") or UNCLASSIFIED]
    if record_type == "local_document":
        found.append(LOCAL)
    return found


def _books(catalogue: Catalogue) -> list:
    # page_count (pages in structure.json, imported remote pages included) is in the DB row;
    # only books that have pages are looked at on disk, for published images.
    return [row for row in catalogue.list_rows()
            if row.status != WITHDRAWN and row.page_count and has_page_images(catalogue, row.id)]


def _manifest_ref(row) -> prezi.ManifestRef:
    card = json.loads(row.card_json)
    return prezi.ManifestRef(id=ids.manifest(row.id), type="Manifest", label=book_label(card))


def _label(name: str) -> dict:
    if name in BRANCHES:
        _, label, english = BRANCHES[name]
        return bilingual(label, english)
    return bilingual(*LABELS[name])


def build_collection(catalogue: Catalogue, name: str) -> dict:
    """The collection `name` (top, jing, shi, zi, ji, cong, unclassified, local) as a JSON-ready dict."""
    if name not in NAMES:
        raise UnknownCollection(f"没有名为「{name}」的 IIIF 集合；现有集合：{'、'.join(NAMES)}")
    books = _books(catalogue)
    members = {row.id: collections_of(row.classification_code, row.record_type) for row in books}
    if name == TOP:
        collection = prezi.Collection(id=ids.collection(TOP), label=bilingual("館藏", "Collection"))
        held = {member for found in members.values() for member in found}
        items = [prezi.CollectionRef(id=ids.collection(member), type="Collection", label=_label(member))
                 for member in NAMES[1:] if member in held]
    else:
        collection = prezi.Collection(id=ids.collection(name), label=_label(name),
                                      partOf=[prezi.Class(id=ids.collection(TOP), type="Collection")])
        items = [_manifest_ref(row) for row in books if name in members[row.id]]
    collection.items = items
    return json.loads(collection.json())
