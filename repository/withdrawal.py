"""Withdrawn cards (记录状态 已撤销): a record made in error, a duplicate, or one merged into another.

A card is withdrawn by saving it with top-level ``status: withdrawn`` as a new version, and
reinstated by saving it without: nothing is ever removed from OCFL, and every version keeps its
editor, time and reason. The catalogue DB projects the status (``cards.status``), so the public
site, the search index and IIIF can leave withdrawn cards out with one indexed condition, and
OAI-PMH reports them as deleted records.
"""

from __future__ import annotations

from sqlalchemy import select

from .catalogue import Catalogue, SaveResult, StoredCard
from .catalogue_db import CardRow
from .errors import InvalidInput
from .ocfl_store import VersionInfo

ACTIVE = "active"
WITHDRAWN = "withdrawn"


def is_withdrawn(card: dict) -> bool:
    return card.get("status") == WITHDRAWN


def withdrawn_status(catalogue: Catalogue, card_id: str) -> bool | None:
    """Whether the card is withdrawn, from the DB projection (one lookup); None for no such card."""
    with catalogue.sessions() as session:
        status = session.scalar(select(CardRow.status).where(CardRow.id == card_id))
    return None if status is None else status == WITHDRAWN


def withdrawn_since(catalogue: Catalogue, stored: StoredCard) -> VersionInfo | None:
    """The version that withdrew the card (the first of the versions it has been withdrawn in
    since), or None if the head version is not withdrawn."""
    if not is_withdrawn(stored.card):
        return None
    versions = [version for version in stored.versions if version.number <= stored.version]
    since = versions[-1]
    for version in reversed(versions[:-1]):
        if not is_withdrawn(catalogue.get(stored.id, version.number).card):
            break
        since = version
    return since


def set_withdrawn(catalogue: Catalogue, card_id: str, withdrawn: bool, *, editor: str, reason: str,
                  base_version: int | None = None) -> SaveResult:
    """Withdraw the card (or reinstate it) as a new version; no version when it already is.

    `base_version` (default: the head) is the version the person saw, as for any edit: a card
    saved by someone else meanwhile raises CardConflict."""
    if not reason.strip():
        raise InvalidInput("撤销或恢复卡片必须写明原因（记入修订记录）")
    stored = catalogue.get(card_id)
    card = dict(stored.card)
    if withdrawn:
        card["status"] = WITHDRAWN
    else:
        card.pop("status", None)
    return catalogue.save(card_id, card, editor=editor, reason=reason.strip(),
                          base_version=stored.version if base_version is None else base_version)
