"""IIIF: Presentation 3 manifests and collections, the Image API service, Content Search.

    ids          every IIIF URL, from GUJI_PUBLIC_URL
    manifest     build_manifest(catalogue, id) — iiif-prezi3, from card + structure.json + info.json
    collections  build_collection(catalogue, name) — top, the 四部 branches, local documents
    image_api    parse_request(...) and service_info(...) — Image API 3 rules
    image_render render(source, request, ...) — pyvips, from a page's pyramidal TIFF
    importer     import_manifest(catalogue, file_or_url, id) — Presentation 2/3 from elsewhere
    language     language maps (zh-Hant as catalogued, zh-Hans via OpenCC) and metadata pairs

The heavier modules load on first use, so `guji` commands that do not need them start fast.
"""

from guji.repository.lazy import lazy_names

from . import ids

_LAZY = {
    "build_manifest": "manifest", "NoPageImages": "manifest", "BookWithdrawn": "manifest",
    "build_collection": "collections",
    "UnknownCollection": "collections", "parse_request": "image_api", "ImageRequestError": "image_api",
    "import_manifest": "importer", "ManifestRefused": "source_manifest",
}

__all__ = ["ids", *_LAZY]

__getattr__ = lazy_names(__name__, _LAZY)
