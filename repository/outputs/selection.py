"""Which cards an output is made for: named ones, all, or those revised since a date.

Current cards are read from the catalogue DB projection (one query, no OCFL reads), so printing
thousands of cards does not open thousands of inventories; `--changed-since` looks into the
OCFL inventory of the candidates only, to tell a revised card from a book whose scans were
added (both are new versions of the object, only the first changes `card.json`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select

from guji.repository import Ambiguous, CardNotFound, Catalogue, StoredCard, local_time
from guji.repository.catalogue_db import CardRow
from guji.repository.errors import InvalidInput
from guji.repository.withdrawal import is_withdrawn

CARD_FILE = "card.json"


@dataclass(frozen=True)
class CurrentCard:
    """The head version of one card, as the catalogue DB holds it."""

    id: str
    version: int
    updated: str  # time of the head version, UTC, e.g. 2026-12-01T08:00:00Z
    card: dict

    @classmethod
    def from_stored(cls, stored: StoredCard) -> CurrentCard:
        """Any version read from OCFL (`Catalogue.get`); `updated` is that version's time."""
        created = next(v.created for v in stored.versions if v.number == stored.version)
        return cls(stored.id, stored.version, created, stored.card)

    @property
    def withdrawn(self) -> bool:
        return is_withdrawn(self.card)


class SelectionError(InvalidInput):
    """A card reference or date a person typed that names nothing; says what to type instead."""


def parse_since(text: str) -> datetime:
    """`2024-05-10` (midnight in the library's zone, Beijing time unless GUJI_TIMEZONE says otherwise) or an
    ISO time `2024-05-10T08:00+08:00` (without an offset: the library's zone too)."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=local_time.zone())
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SelectionError(
            f"「{text}」不是日期：请写 2024-05-10 或 2024-05-10T08:00:00+08:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=local_time.zone())


def utc_stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve_references(catalogue: Catalogue, references: list[str]) -> list[str]:
    """Card ids for ids, 索书号, 原索书号 or 普查编号; every unknown reference is named at once."""
    found: list[str] = []
    unknown: list[str] = []
    for reference in references:
        try:
            found.append(catalogue.resolve(reference))
        except (CardNotFound, Ambiguous) as error:
            unknown.append(str(error))
    if unknown:
        raise SelectionError("；".join(unknown))
    return list(dict.fromkeys(found))


def split_references(values: list[str] | None) -> list[str]:
    """`--ids a,b --ids c` and `--ids "a b"` → [a, b, c]."""
    references: list[str] = []
    for value in values or []:
        references.extend(part for part in value.replace("，", ",").replace(",", " ").split() if part)
    return references


def current_cards(catalogue: Catalogue, card_ids: list[str] | None = None) -> Iterator[CurrentCard]:
    """Head versions in 索书号 order (the order guide cards are filed in); `card_ids` keeps its own order."""
    with catalogue.sessions() as session:
        query = select(CardRow.id, CardRow.head_version, CardRow.updated, CardRow.card_json)
        if card_ids is None:
            rows = session.execute(query.order_by(CardRow.call_number, CardRow.id)).all()
        else:
            by_id = {}
            for start in range(0, len(card_ids), 500):
                chunk = card_ids[start:start + 500]
                by_id.update({row.id: row for row in session.execute(query.where(CardRow.id.in_(chunk)))})
            rows = [by_id[card_id] for card_id in card_ids if card_id in by_id]
    for row in rows:
        yield CurrentCard(row.id, row.head_version, row.updated, json.loads(row.card_json))


def card_changed_since(catalogue: Catalogue, card_id: str, since: datetime) -> bool:
    """True if `card.json` of the head version differs from the card as it stood at `since`."""
    inventory = catalogue.store.inventory(card_id)
    stamp = utc_stamp(since)
    ordered = sorted(inventory["versions"].items(), key=lambda item: int(item[0].lstrip("v")))
    before = [version for _, version in ordered if version.get("created", "") < stamp]
    if not before:
        return True  # the card was created after `since`

    def card_digest(version: dict) -> str | None:
        for digest, paths in version["state"].items():
            if CARD_FILE in paths:
                return digest
        return None

    return card_digest(ordered[-1][1]) != card_digest(before[-1])


def select_cards(
    catalogue: Catalogue, references: list[str] | None = None, changed_since: datetime | None = None
) -> list[str]:
    """Ids of the cards to output: the named ones (or all), optionally only those revised since a time."""
    if references:
        card_ids = resolve_references(catalogue, references)
    else:
        card_ids = [card.id for card in current_cards(catalogue)]
    if changed_since is None:
        return card_ids
    stamp = utc_stamp(changed_since)
    with catalogue.sessions() as session:
        recent = set(session.scalars(select(CardRow.id).where(CardRow.updated >= stamp)))
    return [card_id for card_id in card_ids
            if card_id in recent and card_changed_since(catalogue, card_id, changed_since)]
