"""The OCFL storage root on an S3-compatible object store (`GUJI_STORAGE=s3://bucket/prefix`).

The objects are laid out exactly as on disk, under ``<prefix>ocfl/`` (the tiles under
``<prefix>derivatives/``, see :mod:`ingest.shared_tiles`): ``ocfl/<id>/inventory.json``,
``ocfl/<id>/v3/content/card.json`` … — any OCFL tool that reads S3 reads them.

An object store has no rename, no fsync and no ``flock``; what stands for them here:

* **write new, then switch** — a version is assembled and hashed in the local `staging/` folder as
  on disk, then uploaded in this order: its content files, its own ``vN/inventory.json`` and
  sidecar, and last the root ``inventory.json`` and sidecar (a new object's
  ``0=ocfl_object_1.1`` after them). Each PUT is atomic and durable when it returns; the store
  checks each one's SHA-256 on arrival. Readers only read the root inventory, so until the
  switch they see the previous version, whole, and after it the new one.
* **locks** — the same per-object locks as on disk (:mod:`.object_locks`): PostgreSQL advisory
  locks with a PostgreSQL catalogue (every host), ``flock`` in the data home with SQLite (one host
  only: two hosts writing one bucket need PostgreSQL).
* **recovery** — `journal/<id>.ocfl` (local) marks a commit in flight, as on disk, and
  :meth:`S3ObjectStore._repair` looks at the object itself: a newest version whose inventory
  (checked against its sidecar) is not the root inventory yet is finished by switching it; a
  newest version that has no inventory never finished uploading, was never listed by any
  inventory, and is dropped. `guji recover` does the same for every object.

Masters and other files the code works on as local files (tiles, pyramids, OCR, bags) are fetched
once into a local cache (``storage-cache/`` in the data home, named by their sha512 and checked
against it, oldest out first beyond ``GUJI_STORAGE_CACHE_MB``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from .config import Home
from .errors import Damaged, NotFound
from .object_bucket import Bucket, KeyMissing, ReadRate, S3Location, StorageUnavailable
from .ocfl_store import (
    INVENTORY,
    LAYOUT,
    OBJECT_DECLARATION,
    OBJECT_ID_PATTERN,
    ROOT_ENTRIES,
    SIDECAR,
    ForeignEntry,
    ObjectStore,
    _ocfl,
    check_object_id,
    version_number,
)

ROOT = "ocfl/"
ROOT_DECLARATION = "0=ocfl_1.1"
DEFAULT_FIXITY_RATE = 100 * 1024 * 1024  # bytes per second `guji fixity` reads from S3 unless set
VERSION_FOLDER = re.compile(r"^v[0-9]+$")
CONTENT_TYPES = {".json": "application/json", ".xml": "application/xml", ".txt": "text/plain; charset=utf-8",
                 ".tif": "image/tiff", ".tiff": "image/tiff", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
                 ".png": "image/png", ".jp2": "image/jp2"}


def content_type(name: str) -> str | None:
    return CONTENT_TYPES.get(Path(name).suffix.lower())


class S3ObjectStore(ObjectStore):
    """:class:`~repository.ocfl_store.ObjectStore` with its storage root in a bucket."""

    def __init__(self, home: Home, bucket: Bucket, durable: bool = True, locks=None,
                 fixity_rate: float | None = None, cache_bytes: int = 20480 << 20):
        super().__init__(home, durable=durable, locks=locks, fixity_rate=fixity_rate or DEFAULT_FIXITY_RATE)
        self.bucket = bucket
        self.cache = home.root / "storage-cache"
        self.cache_bytes = cache_bytes

    def _key(self, object_id: str, relative: str = "") -> str:
        return f"{ROOT}{object_id}/{relative}"

    # ---- storage root -------------------------------------------------------------------

    def check(self) -> None:
        """Reach the bucket (StorageUnavailable naming what is wrong)."""
        self.bucket.check()

    def root_exists(self) -> bool:
        return self.bucket.exists(ROOT + ROOT_DECLARATION)

    def initialize(self) -> bool:
        for folder in (self.home.staging, self.home.journal, self.home.locks):
            folder.mkdir(parents=True, exist_ok=True)
        self.bucket.check()
        if self.root_exists():
            return False
        with tempfile.TemporaryDirectory(dir=self.home.staging) as work:  # ocfl-py writes the root's files
            root = Path(work) / "ocfl"
            _ocfl().StorageRoot(root=str(root), layout_name=LAYOUT).initialize()
            files = sorted(path for path in root.rglob("*") if path.is_file())
            for path in sorted(files, key=lambda path: path.name == ROOT_DECLARATION):  # the declaration last
                self.bucket.upload(path, ROOT + path.relative_to(root).as_posix())
        return True

    def exists(self, object_id: str) -> bool:
        return self.bucket.exists(self._key(check_object_id(object_id), OBJECT_DECLARATION))

    def survey(self) -> tuple[list[str], list[ForeignEntry]]:
        folders, _ = self.bucket.listing(ROOT)
        ours, foreign = [], []
        for name in sorted(folders):
            if name in ROOT_ENTRIES:
                continue
            _, names = self.bucket.listing(f"{ROOT}{name}/")
            declarations = sorted(entry for entry in names if entry.startswith("0=ocfl_object_"))
            problem = self._judge(name, declarations, lambda name=name: self._read(self._key(name, INVENTORY)))
            if problem is None:
                ours.append(name)
            else:
                foreign.append(problem)
        return ours, foreign

    def _read(self, key: str) -> bytes:
        try:
            return self.bucket.read(key)
        except KeyMissing:
            raise FileNotFoundError(key) from None

    # ---- reading ------------------------------------------------------------------------

    def _root_inventory_bytes(self, object_id: str) -> bytes:
        return self._read(self._key(object_id, INVENTORY))

    def inventory_stamp(self, object_id: str) -> int | str:
        found = self.bucket.head(self._key(check_object_id(object_id), INVENTORY))
        return found["etag"] if found else 0

    def _stored_file(self, object_id: str, logical_path: str, version: int | None) -> tuple[str, str]:
        """(digest, content path relative to the object) of one logical file."""
        inventory = self.inventory(object_id)
        state = self._state(inventory, version)
        if logical_path not in state:
            raise NotFound(f"{object_id} has no file {logical_path!r} in that version")
        digest = state[logical_path]
        return digest, inventory["manifest"][digest][0]

    def read_bytes(self, object_id: str, logical_path: str, version: int | None = None) -> bytes:
        _, relative = self._stored_file(object_id, logical_path, version)
        try:
            return self.bucket.read(self._key(object_id, relative))
        except KeyMissing:
            raise Damaged(f"{object_id}/{relative} 在对象存储中不见了：存储已损坏，请运行 guji fixity，"
                          "并从备份恢复这个对象") from None

    def content_path(self, object_id: str, logical_path: str, version: int | None = None) -> Path:
        """A local copy of the file (fetched once into the cache, checked against its sha512)."""
        digest, relative = self._stored_file(object_id, logical_path, version)
        cached = self.cache / digest[:2] / (digest + Path(relative).suffix.lower())
        if cached.exists():
            os.utime(cached)  # recently used: kept longest
            return cached
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.parent / f".{cached.name}.{uuid.uuid4().hex[:12]}"
        hasher = hashlib.sha512()
        try:
            with open(partial, "wb") as handle:
                for block in self.bucket.stream(self._key(object_id, relative)):
                    hasher.update(block)
                    handle.write(block)
            if hasher.hexdigest() != digest:
                raise Damaged(f"{object_id}/{relative} 在对象存储中的内容与清单的 sha512 不符：请运行 guji fixity，"
                              "并从备份恢复这个文件")
            os.replace(partial, cached)
        except KeyMissing:
            raise Damaged(f"{object_id}/{relative} 在对象存储中不见了：请运行 guji fixity，"
                          "并从备份恢复这个对象") from None
        finally:
            partial.unlink(missing_ok=True)
        self._trim_cache(keep=cached)
        return cached

    def _trim_cache(self, keep: Path) -> None:
        """Drop the least recently used copies beyond the cache's budget (a reader that has one open
        keeps reading it; the next one fetches it again)."""
        entries = []
        for path in self.cache.glob("*/*"):
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.name.startswith("."):
                entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries, key=lambda entry: entry[0]):
            if total <= self.cache_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size

    # ---- writing ------------------------------------------------------------------------

    def _occupied(self, object_id: str) -> bool:
        folders, names = self.bucket.listing(self._key(object_id))
        if not folders and not names:
            return False
        if not names and set(folders) == {"v1"} and self._drop_unfinished(object_id, "v1", head=0):
            return False  # a first version whose upload a crash cut short, never an object: gone
        return True

    def _start_next_version(self, ocfl, object_id: str):
        inventory = ocfl.Inventory(data=self.inventory(object_id))
        return ocfl.NewVersion.next_version(inventory=inventory, srcdir="/", carry_content_forward=True)

    def _upload_version(self, object_id: str, staged_version: Path) -> None:
        """The version's content files first, its inventory and sidecar last."""
        label = staged_version.name
        content = sorted(path for path in staged_version.rglob("*") if path.is_file()
                         and path.name not in (INVENTORY, SIDECAR))
        for path in content:
            relative = path.relative_to(staged_version).as_posix()
            self.bucket.upload(path, self._key(object_id, f"{label}/{relative}"), content_type(path.name))
        for name in (INVENTORY, SIDECAR):
            self.bucket.write(self._key(object_id, f"{label}/{name}"), (staged_version / name).read_bytes(),
                              content_type(name))

    def _switch_root_inventory(self, object_id: str, inventory_bytes: bytes, sidecar_bytes: bytes) -> None:
        self.bucket.write(self._key(object_id, INVENTORY), inventory_bytes, "application/json")
        self.bucket.write(self._key(object_id, SIDECAR), sidecar_bytes)

    def _create_object(self, object_id, work, staged_version, inventory_bytes, new_version):
        return self._upload(object_id, staged_version, new_version, new_object=True)

    def _add_version(self, object_id, staged_version, inventory_bytes, new_version):
        return self._upload(object_id, staged_version, new_version, new_object=False)

    def _upload(self, object_id, staged_version, new_version, new_object: bool):
        journal = self.home.journal / f"{object_id}.ocfl"
        journal.parent.mkdir(parents=True, exist_ok=True)
        journal.write_bytes(staged_version.name.encode())
        self._upload_version(object_id, staged_version)
        self._switch_root_inventory(object_id, (staged_version / INVENTORY).read_bytes(),
                                    (staged_version / SIDECAR).read_bytes())
        if new_object:  # the object appears, whole, with its declaration
            self.bucket.write(self._key(object_id, OBJECT_DECLARATION), b"ocfl_object_1.1\n")
        journal.unlink()
        return self._version_info(new_version)

    # ---- recovery -----------------------------------------------------------------------

    def _repairable_ids(self) -> list[str]:
        ours, foreign = self.survey()
        # a new object whose upload stopped before its declaration: no NAMASTE file yet
        unfinished = [entry.name for entry in foreign if entry.kind == "other" and OBJECT_ID_PATTERN.match(entry.name)]
        return sorted(ours + unfinished)

    def _repair(self, object_id: str) -> bool:
        folders, names = self.bucket.listing(self._key(object_id))
        labels = [folder for folder in folders if VERSION_FOLDER.match(folder)]
        if not labels:
            return False
        newest = max(labels, key=version_number)
        try:
            root_bytes = self._read(self._key(object_id, INVENTORY))
            root_sidecar = self._read(self._key(object_id, SIDECAR))
            head = version_number(json.loads(root_bytes).get("head", "v0"))
        except FileNotFoundError:
            root_bytes = root_sidecar = b""
            head = 0
        except (ValueError, AttributeError):
            raise Damaged(f"{object_id}/{INVENTORY} 无法读取：请从备份恢复这个对象") from None
        try:
            inventory_bytes = self._read(self._key(object_id, f"{newest}/{INVENTORY}"))
            sidecar_bytes = self._read(self._key(object_id, f"{newest}/{SIDECAR}"))
        except FileNotFoundError:
            if version_number(newest) > head and self._drop_unfinished(object_id, newest, head):
                return True
            raise Damaged(f"{object_id}/{newest}: the version has no inventory; restore the object from a "
                          "backup") from None
        if hashlib.sha512(inventory_bytes).hexdigest() != sidecar_bytes.split()[0].decode():
            raise Damaged(f"{object_id}/{newest}: the version's inventory does not match its sidecar "
                          f"({SIDECAR}); restore the object from a backup")
        declared = OBJECT_DECLARATION in names
        if root_bytes == inventory_bytes and root_sidecar == sidecar_bytes and declared:
            return False
        if head > version_number(newest):
            raise Damaged(f"{object_id}: the root inventory names a version newer than {newest}, which is "
                          "missing; restore the object from a backup")
        self._switch_root_inventory(object_id, inventory_bytes, sidecar_bytes)
        if not declared:
            self.bucket.write(self._key(object_id, OBJECT_DECLARATION), b"ocfl_object_1.1\n")
        return True

    def _drop_unfinished(self, object_id: str, label: str, head: int) -> bool:
        """Remove the files of version `label`, whose upload stopped before its inventory (so no
        inventory lists them). Only a version after the head; returns whether it did."""
        if version_number(label) <= head:
            return False
        _, names = self.bucket.listing(self._key(object_id, f"{label}/"), delimiter=None)
        if INVENTORY in names:
            return False
        self.bucket.delete([self._key(object_id, f"{label}/{name}") for name in names])
        return True

    # ---- checking -----------------------------------------------------------------------

    def _content_blocks(self, object_id: str, path: str, rate: ReadRate) -> Iterator[bytes]:
        try:
            yield from self.bucket.stream(self._key(object_id, path), rate)
        except KeyMissing:
            raise FileNotFoundError(path) from None

    def validate(self, object_id: str | None = None, check_digests: bool = True) -> list[str]:
        """ocfl-py's validator on each of Guji's objects (or one), reading the bucket through ocfl-py's own
        S3 support (s3fs) at the same endpoint."""
        import ocfl.validator
        from fsspec.implementations.dirfs import DirFileSystem
        from s3fs import S3FileSystem

        filesystem = S3FileSystem(endpoint_url=self.bucket.client.meta.endpoint_url, skip_instance_cache=True)
        base = f"{self.bucket.location.bucket}/{self.bucket.location.prefix}{ROOT}"
        problems = []
        for current in [object_id] if object_id is not None else self.survey()[0]:
            validator = ocfl.validator.Validator(check_digests=check_digests)
            try:
                valid = validator.validate_object(DirFileSystem(base + current, filesystem))
            except OSError as error:
                raise StorageUnavailable(f"OCFL 校验读不到对象存储（{self.bucket.location}）："
                                         f"{type(error).__name__}") from None
            if not valid:
                problems += [f"{current}: {line}" for line in str(validator).splitlines() if line.strip()]
        return problems


def open_store(home: Home, *, durable: bool, locks, settings) -> ObjectStore:
    """The storage root GUJI_STORAGE names: a bucket, or `ocfl/` in the data home."""
    rate = settings.fixity_read_mb_per_second * 1024 * 1024 if settings.fixity_read_mb_per_second else None
    if not home.storage:
        return ObjectStore(home, durable=durable, locks=locks, fixity_rate=rate)
    return S3ObjectStore(home, Bucket(S3Location.parse(home.storage)), durable=durable, locks=locks,
                         fixity_rate=rate, cache_bytes=int(settings.storage_cache_mb * 1024 * 1024))
