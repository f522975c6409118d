"""`guji export bag`: any OCFL version of one object as a BagIt bag (package `bagit`), for transfer.

The payload (``data/``) is the version's logical state — ``card.json``, ``structure.json``,
``masters/…``, ``text/…``, ``reports/…`` — exactly as OCFL holds it. The bag is assembled in a hidden
folder beside the target and renamed into place only after bagit's sha512 of every payload file
equals the digest the OCFL inventory recorded, so a bag on disk is always complete and faithful.
bag-info.txt says which object, version, editor, time and reason it is.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import bagit

from guji.repository import Catalogue, local_time
from guji.repository.errors import Damaged, GujiError, InvalidInput

from . import card_text

Progress = Callable[[int, int], None]
logging.getLogger("bagit").setLevel(logging.WARNING)  # bagit narrates every file at INFO


class BagExportError(GujiError):
    """A bag that could not be written; nothing is left at the target."""


class BagTargetExists(BagExportError, InvalidInput):
    """The folder named for the bag exists and is not empty."""


class BagMismatch(BagExportError, Damaged):
    """A file copied into the bag does not match the digest OCFL recorded."""


@dataclass
class BagResult:
    path: Path
    object_id: str
    version: int
    files: int
    bytes: int


def export_bag(
    catalogue: Catalogue, card_id: str, target: Path, *, version: int | None = None,
    progress: Progress | None = None, processes: int = 1,
) -> BagResult:
    """Write version `version` (default: head) of `card_id` as a BagIt bag at `target` (a new folder)."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BagTargetExists(f"{target} already exists and is not an empty folder: choose a new folder for the bag")
    stored = catalogue.get(card_id, version)  # raises CardNotFound for a bad id or version
    info = next(v for v in stored.versions if v.number == stored.version)
    store = catalogue.store
    digests = store.digests(card_id, stored.version)
    work = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        total_bytes = 0
        for done, logical in enumerate(sorted(digests), start=1):
            destination = work / logical
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(store.content_path(card_id, logical, stored.version), destination)
            total_bytes += destination.stat().st_size
            if progress:
                progress(done, len(digests) + 1)
        bag_info = {
            "Source-Organization": (stored.card.get("copy") or {}).get("holding_institution") or "Guji",
            "External-Identifier": card_id,
            "External-Description": card_text.title_with_juan(stored.card) or card_id,
            "Bagging-Date": local_time.today().isoformat(),  # BagIt's YYYY-MM-DD, the library's day
            "Guji-OCFL-Object": card_id,
            "Guji-OCFL-Version": f"v{stored.version}",
            "Guji-OCFL-Head-Version": f"v{stored.head}",
            "Guji-OCFL-Version-Created": info.created,
            "Guji-OCFL-Version-Editor": info.editor,
            "Guji-OCFL-Version-Message": info.reason,
        }
        bag = bagit.make_bag(str(work), bag_info=bag_info, checksums=["sha512"], processes=processes)
        _check_against_ocfl(bag, digests, card_id, stored.version)
        if progress:
            progress(len(digests) + 1, len(digests) + 1)
        if target.exists():
            target.rmdir()
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return BagResult(target, card_id, stored.version, len(digests), total_bytes)


def _check_against_ocfl(bag: bagit.Bag, digests: dict[str, str], card_id: str, version: int) -> None:
    entries = bag.payload_entries()
    for logical, digest in digests.items():
        entry = entries.get(f"data/{logical}")
        if entry is None or entry.get("sha512") != digest:
            raise BagMismatch(
                f"{card_id} v{version}/{logical}: the copy in the bag does not match the sha512 OCFL recorded; "
                "no bag was written. Run `guji fixity` and restore the file from a backup if it reports it"
            )
