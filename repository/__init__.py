"""The domain and its storage: catalogue cards, the OCFL object store, the catalogue DB,
revision history, the error kinds, the settings and the CLI toolkit. Imports none of ingest, iiif,
search or web.

The names below are loaded on first use (the catalogue pulls in SQLAlchemy and ocfl-py), so that
`guji --help` and the other command modules start fast."""

from .lazy import lazy_names

_LAZY = {
    "CardWarning": "card", "FieldChange": "card", "card_diff": "card", "normalise_card": "card",
    "CardConflict": "catalogue", "CardError": "catalogue", "CardNotFound": "catalogue", "Catalogue": "catalogue",
    "SaveResult": "catalogue", "StoredCard": "catalogue",
    "Home": "config", "public_url": "config",
    "Ambiguous": "errors", "Conflict": "errors", "Damaged": "errors", "Forbidden": "errors", "Gone": "errors",
    "GujiError": "errors", "InvalidInput": "errors", "NotFound": "errors", "Refused": "errors",
    "SettingError": "errors", "Unavailable": "errors",
    "ObjectStore": "ocfl_store", "PreparedFile": "ocfl_store", "StaleVersionError": "ocfl_store",
    "StoreError": "ocfl_store", "VersionInfo": "ocfl_store",
    "Settings": "settings",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_names(__name__, _LAZY)
