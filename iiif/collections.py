"""IIIF Presentation 3 collections: the top collection, one per 四部 branch, local documents.

``/iiif/collection/top`` lists the branch collections that hold at least one book, then
``local``. A branch collection lists every book classified under that 部 — 古籍 and 地方文献
alike (a 地方志 is 史部地理類 like any other) — and ``local`` lists the local documents
(地方文献) whatever their class. Only books with page images are listed, since a book without
scans has no manifest, and withdrawn cards (记录状态 已撤销) are left out.
"""

from __future__ import annotations

import json

import iiif_prezi3 as prezi

from repository import Catalogue
from repository.withdrawal import WITHDRAWN

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
LOCAL = "local"
TOP = "top"
NAMES = (TOP, *BRANCHES, LOCAL)


class UnknownCollection(LookupError):
    pass


def collection_for_code(code: str) -> str | None:
    """The branch collection of a 四部 code: 1.03 → jing, 2.11.03 → shi."""
    branch = code.split(".")[0] if code else ""
    return next((name for name, (bu, _, _) in BRANCHES.items() if bu == branch), None)


def _books(catalogue: Catalogue) -> list:
    # page_count (pages in structure.json, imported remote pages included) is in the DB row;
    # only books that have pages are looked at on disk, for published images.
    return [row for row in catalogue.list_rows()
            if row.status != WITHDRAWN and row.page_count and has_page_images(catalogue, row.id)]


def _manifest_ref(row) -> prezi.ManifestRef:
    card = json.loads(row.card_json)
    return prezi.ManifestRef(id=ids.manifest(row.id), type="Manifest", label=book_label(card))


def build_collection(catalogue: Catalogue, name: str) -> dict:
    """The collection `name` (top, jing, shi, zi, ji, cong, local) as a JSON-ready dict."""
    if name not in NAMES:
        raise UnknownCollection(f"no collection {name!r}: the collections are {', '.join(NAMES)}")
    books = _books(catalogue)
    if name == TOP:
        collection = prezi.Collection(id=ids.collection(TOP), label=bilingual("館藏", "Collection"))
        items = []
        for branch, (_, label, english) in BRANCHES.items():
            if any(collection_for_code(row.classification_code or "") == branch for row in books):
                items.append(prezi.CollectionRef(id=ids.collection(branch), type="Collection",
                                                 label=bilingual(label, english)))
        if any(row.record_type == "local_document" for row in books):
            items.append(prezi.CollectionRef(id=ids.collection(LOCAL), type="Collection",
                                             label=bilingual("地方文獻", "Local documents")))
    elif name == LOCAL:
        collection = prezi.Collection(id=ids.collection(LOCAL), label=bilingual("地方文獻", "Local documents"),
                                      partOf=[prezi.Class(id=ids.collection(TOP), type="Collection")])
        items = [_manifest_ref(row) for row in books if row.record_type == "local_document"]
    else:
        _, label, english = BRANCHES[name]
        collection = prezi.Collection(id=ids.collection(name), label=bilingual(label, english),
                                      partOf=[prezi.Class(id=ids.collection(TOP), type="Collection")])
        items = [_manifest_ref(row) for row in books if collection_for_code(row.classification_code or "") == name]
    collection.items = items
    return json.loads(collection.json())
