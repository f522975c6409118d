"""The domain and its storage: catalogue cards, the OCFL object store, the catalogue DB,
revision history and the `guji` CLI. Imports none of ingest, iiif, search or web."""

from .card import CardWarning, FieldChange, card_diff, normalise_card
from .catalogue import (
    CardConflict,
    CardError,
    CardNotFound,
    Catalogue,
    SaveResult,
    StoredCard,
)
from .config import Home, public_url
from .ocfl_store import ObjectStore, PreparedFile, StaleVersionError, StoreError, VersionInfo

__all__ = [
    "Catalogue",
    "CardConflict",
    "CardError",
    "CardNotFound",
    "CardWarning",
    "FieldChange",
    "Home",
    "ObjectStore",
    "PreparedFile",
    "SaveResult",
    "StaleVersionError",
    "StoreError",
    "StoredCard",
    "VersionInfo",
    "card_diff",
    "normalise_card",
    "public_url",
]
