"""IIIF Content Search inside one book: API 1.0 (what Mirador 4 reads) and 2.0.

Hits come from `search.service.Searcher.search_book` — the same Chinese key as collection search,
so simplified, traditional and variant forms all match. Every match becomes one annotation per
column of the scan it spans (:mod:`iiif.text_boxes`), targeting the canvas of the manifest (ids from
`iiif.ids`) with ``#xywh=`` around just the matched characters — where the page's characters are
located (OCR, or a transcription aligned to the OCR: `locate`). Otherwise one annotation per page
line the match covers, with the line's box when the transcription has one (PAGE-XML, hOCR), or the
whole canvas.

Text whose leaf has no scan (``page`` null in ``text/pages.json``) has no canvas: Mirador could not
show it. Those hits are listed apart, under ``textWithoutScan`` (label, match, context and the
record page that shows the text), so a reader is told where they are; ``within.total`` counts the
hits on canvases.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from guji.search.service import PageHit, Searcher

from . import ids
from .text_boxes import column_boxes, fragment

# the characters of a page, located on its scans: chars[line][index] → (.page, .box) or None
Locate = Callable[[str], list[list] | None]

V1_CONTEXT = ["http://iiif.io/api/presentation/2/context.json", "http://iiif.io/api/search/1/context.json"]
V2_CONTEXT = "http://iiif.io/api/search/2/context.json"
CONTEXT_CHARS = 12
MAX_PAGES = 2000


def _targets(book_id: str, hit: PageHit, match, chars: list[list] | None) -> list[str]:
    if chars:
        located = [chars[line][index] if line < len(chars) and index < len(chars[line]) else None
                   for line, index in match.places]
        columns = column_boxes(located)
        if columns:
            return [f"{ids.canvas(book_id, page)}#{fragment(box)}" for page, box in columns]
    canvas = ids.canvas(book_id, hit.page)
    boxes = [hit.boxes[line] for line in match.lines if line < len(hit.boxes) and hit.boxes[line]]
    if not boxes:
        return [canvas]
    return [f"{canvas}#{fragment(box)}" for box in boxes]


def match_context(hit: PageHit, match) -> tuple[str, str]:
    """Text just before and after a match (for the hit's before/after)."""
    text = hit.texts.get(match.field, "")
    before = text[max(0, match.start - CONTEXT_CHARS):match.start].replace("\n", "").replace("\u2029", " ")
    # a phrase that runs onto the next page already holds that part (runs_on) in its match
    after = "" if match.runs_on else text[match.end:match.end + CONTEXT_CHARS]
    after = after.replace("\n", "").replace("\u2029", " ")
    return before, after


def _self_id(base: str, query: str, extra: dict[str, str]) -> str:
    return f"{base}?{urlencode({'q': query, **extra})}"


class _Answer:
    """The hits of one query in one book: on canvases (with their targets) and without a scan."""

    def __init__(self, searcher: Searcher, book_id: str, query: str, locate: Locate | None):
        _, pages = searcher.search_book(book_id, query, limit=MAX_PAGES)
        self.on_canvases: list[tuple[PageHit, int, object, list[str]]] = []
        self.without_scan: list[dict] = []
        for hit in pages:
            if hit.page is None:  # text whose leaf has no scan: no canvas to point at
                for match in hit.matches:
                    before, after = match_context(hit, match)
                    reading = urlencode({"text": hit.seq, "q": query})
                    self.without_scan.append({"label": hit.label, "match": match.text + match.runs_on,
                                              "before": before, "after": after,
                                              "url": f"{ids.record_page(book_id)}?{reading}#reading"})
                continue
            chars = locate(hit.page) if locate and hit.matches else None
            for number, match in enumerate(hit.matches, start=1):
                self.on_canvases.append((hit, number, match, _targets(book_id, hit, match, chars)))

    def extend(self, answer: dict) -> dict:
        if self.without_scan:
            answer["textWithoutScan"] = self.without_scan
        return answer


def search_v1(searcher: Searcher, book_id: str, query: str, ignored: list[str] | None = None,
              locate: Locate | None = None) -> dict:
    """A Content Search 1.0 ``sc:AnnotationList`` with ``resources`` and ``hits``; `locate(page)` gives
    the located characters of a page (for boxes around just the matched characters)."""
    service = ids.search_service(book_id)
    resources, hits = [], []
    found = _Answer(searcher, book_id, query, locate)
    for hit, number, match, targets in found.on_canvases:
        annotation_ids = []
        for index, target in enumerate(targets, start=1):
            annotation_id = f"{service}/annotation/{hit.page}-{number}-{index}"
            annotation_ids.append(annotation_id)
            resources.append({"@id": annotation_id, "@type": "oa:Annotation", "motivation": "sc:painting",
                              "resource": {"@type": "cnt:ContentAsText", "chars": match.text + match.runs_on},
                              "on": target, "label": hit.label})
        before, after = match_context(hit, match)
        hits.append({"@type": "search:Hit", "annotations": annotation_ids, "match": match.text + match.runs_on,
                     "before": before, "after": after})
    answer = {"@context": V1_CONTEXT, "@id": _self_id(service, query, {}), "@type": "sc:AnnotationList",
              "within": {"@type": "sc:Layer", "total": len(hits)}, "resources": resources, "hits": hits}
    if ignored:
        answer["within"]["ignored"] = ignored
    return found.extend(answer)


def search_v2(searcher: Searcher, book_id: str, query: str, ignored: list[str] | None = None,
              locate: Locate | None = None) -> dict:
    """A Content Search 2.0 ``AnnotationPage`` of highlighting annotations (+ TextQuoteSelector context)."""
    service = ids.search_service_v2(book_id)
    items, contexts = [], []
    found = _Answer(searcher, book_id, query, locate)
    for hit, number, match, targets in found.on_canvases:
        before, after = match_context(hit, match)
        for index, target in enumerate(targets, start=1):
            annotation_id = f"{service}/annotation/{hit.page}-{number}-{index}"
            canvas, _, region = target.partition("#")
            source = {"id": canvas, "type": "Canvas",
                      "partOf": [{"id": ids.manifest(book_id), "type": "Manifest"}]}
            if region:
                target_value = {"type": "SpecificResource", "source": source,
                                "selector": [{"type": "FragmentSelector", "conformsTo":
                                              "http://www.w3.org/TR/media-frags/", "value": region}]}
            else:
                target_value = {"type": "SpecificResource", "source": source}
            items.append({"id": annotation_id, "type": "Annotation", "motivation": "highlighting",
                          "label": {"none": [hit.label]},
                          "body": {"type": "TextualBody", "value": match.text + match.runs_on,
                                   "format": "text/plain"},
                          "target": target_value})
            contexts.append({"id": f"{annotation_id}/context", "type": "Annotation", "motivation": "contextualizing",
                             "target": {"type": "SpecificResource", "source": {"id": annotation_id,
                                                                                "type": "Annotation"},
                                        "selector": [{"type": "TextQuoteSelector", "prefix": before,
                                                      "exact": match.text + match.runs_on, "suffix": after}]}})
    answer = {"@context": V2_CONTEXT, "id": _self_id(service, query, {}), "type": "AnnotationPage", "items": items}
    if contexts:
        answer["annotations"] = [{"type": "AnnotationPage", "items": contexts}]
    if ignored:
        answer["ignored"] = ignored
    return found.extend(answer)
