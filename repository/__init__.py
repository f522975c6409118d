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
from .errors import (
    Ambiguous,
    Conflict,
    Damaged,
    Forbidden,
    Gone,
    GujiError,
    InvalidInput,
    NotFound,
    Refused,
    SettingError,
    Unavailable,
)
from .ocfl_store import ObjectStore, PreparedFile, StaleVersionError, StoreError, VersionInfo
from .settings import Settings

__all__ = [
    "Ambiguous",
    "Catalogue",
    "CardConflict",
    "CardError",
    "CardNotFound",
    "CardWarning",
    "Conflict",
    "Damaged",
    "FieldChange",
    "Forbidden",
    "Gone",
    "GujiError",
    "Home",
    "InvalidInput",
    "NotFound",
    "ObjectStore",
    "PreparedFile",
    "Refused",
    "SaveResult",
    "SettingError",
    "Settings",
    "StaleVersionError",
    "StoreError",
    "StoredCard",
    "Unavailable",
    "VersionInfo",
    "card_diff",
    "normalise_card",
    "public_url",
]
