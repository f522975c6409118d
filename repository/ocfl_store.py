"""The OCFL object store: one book (or one local document) = one OCFL object.

ocfl-py builds inventories and versions; this module adds what ocfl-py leaves to its caller:

* **locking** — writes to one object are serialised with an exclusive lock (ocfl-py has no
  locking): `flock` on `locks/<id>.lock`, or a PostgreSQL advisory lock when the catalogue DB is
  PostgreSQL and several hosts write (see :mod:`.object_locks`);
* **optimistic concurrency** — a commit names the head version it was based on and is refused
  with :class:`StaleVersionError` if someone else committed first;
* **crash safety** — a new version is assembled completely in `staging/` (content, inventory,
  sidecar), then moved into the object with one `rename`; only then is the root inventory
  replaced (by a second `rename`: the new root inventory is ready and fsynced before the first).
  A `journal/<id>.ocfl` file marks a commit in flight, and :meth:`ObjectStore.recover` finishes
  or discards it after a crash, so the object is always either at the old or at the new version
  and `ocfl-validate.py` passes; :meth:`ObjectStore.repair_all` does the same without a journal
  (a copy of the storage root taken during a save);
* **no second read of large files** — a caller that already copied and hashed a file next to the
  store (ingest does, in its worker processes) hands it over as a :class:`PreparedFile`: the commit
  moves it into the version and trusts its digest instead of reading gigabytes of masters again.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import re
import shutil
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from .config import Home
from .errors import Conflict, Damaged, GujiError, InvalidInput, NotFound
from .object_locks import AdvisoryLocks, FileLocks

OBJECT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
LAYOUT = "0002-flat-direct-storage-layout"
INVENTORY = "inventory.json"
SIDECAR = "inventory.json.sha512"
OBJECT_DECLARATION = "0=ocfl_object_1.1"
CARD_FILE = "card.json"  # every object Guji writes holds its catalogue card, from v1 on
# what else the storage root itself holds: its NAMASTE declaration, layout, spec texts, extensions
ROOT_ENTRIES = {"0=ocfl_1.1", "0=ocfl_1.0", "ocfl_layout.json", "ocfl_1.1.md", "ocfl_1.0.md",
                "ocfl_extensions_1.0.md", "extensions"}
# OCFL digest algorithm names → hashlib (a foreign object's fixity block may use any of them)
_HASHES = {
    "md5": lambda: hashlib.md5(usedforsecurity=False), "sha1": lambda: hashlib.sha1(usedforsecurity=False),
    "sha256": hashlib.sha256, "sha512": hashlib.sha512, "sha512/256": lambda: hashlib.new("sha512_256"),
    "blake2b-512": hashlib.blake2b, "blake2b-160": lambda: hashlib.blake2b(digest_size=20),
    "blake2b-256": lambda: hashlib.blake2b(digest_size=32), "blake2b-384": lambda: hashlib.blake2b(digest_size=48),
}


@dataclass(frozen=True)
class PreparedFile:
    """A file the caller has already copied onto the store's file system and hashed.

    :meth:`ObjectStore.commit` moves it into the new version (no copy) and uses `sha512` instead
    of reading the file again; the file is consumed. Only give the store files it may take.
    """

    path: Path
    sha512: str


# ocfl-py is imported by the methods that write or validate (it imports s3fs and botocore, half a
# second): reading an object — what most commands and every web request do — needs only its JSON.
#
# ocfl-py reads every file it adds to compute its digest, and offers no way to hand it a digest
# already known. NewVersion.add looks the function up in its module, so Guji's commits give it one
# that answers from a per-thread table of known digests (PreparedFiles, and files Guji has just
# hashed) and hashes anything else as ocfl-py would. It is installed when the first commit starts —
# importing this module changes nothing in ocfl-py — and only this store's commits fill the table.
_known_digests = threading.local()


def _ocfl():
    """ocfl-py, with NewVersion.add reading known digests from the commit's table (see above)."""
    import ocfl
    import ocfl.new_version

    if not getattr(ocfl.new_version.file_digest, "knows_guji_digests", False):
        original = ocfl.new_version.file_digest

        def file_digest(filename, digest_type="sha512", fs=None):
            known = getattr(_known_digests, "table", None) or {}
            if digest_type == "sha512" and filename in known:
                return known[filename]
            return original(filename, digest_type, fs=fs)

        file_digest.knows_guji_digests = True
        ocfl.new_version.file_digest = file_digest
    return ocfl


# The store's errors are typed by meaning (NotFound, InvalidInput, Conflict, Damaged); `StoreError`
# is the older name of their common root, kept for the callers that catch "any store problem".
StoreError = GujiError


class StaleVersionError(Conflict):
    """The object moved on since the version a change was based on."""

    def __init__(self, object_id: str, expected: int, current: int):
        super().__init__(
            f"{object_id}: this change was based on version v{expected}, but the object is now at "
            f"v{current} (someone else saved first). Nothing was written; reload and redo the change."
        )
        self.object_id = object_id
        self.expected = expected
        self.current = current


@dataclass(frozen=True)
class VersionInfo:
    """Who changed an object, when and why (one OCFL version)."""

    number: int
    created: str
    editor: str
    reason: str

    @property
    def label(self) -> str:
        return f"v{self.number}"


@dataclass(frozen=True)
class FixityProblem:
    object_id: str
    path: str
    kind: str  # "missing", "unreadable" (actual: why) or "<algorithm> mismatch"
    expected: str
    actual: str

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.object_id}/{self.path}: file is missing"
        if self.kind == "unreadable":
            return f"{self.object_id}/{self.path}: {self.actual}"
        return (f"{self.object_id}/{self.path}: {self.kind} — recorded {self.expected[:16]}…, "
                f"file now has {self.actual[:16]}…; restore this file from a backup")


@dataclass(frozen=True)
class ForeignEntry:
    """A folder of the storage root that is not one of Guji's objects, and why."""

    name: str  # the folder's name in the storage root
    reason: str
    kind: str  # "ocfl": an OCFL object of another system; "damaged": unreadable inventory; "other"

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def check_object_id(object_id: str) -> str:
    if not isinstance(object_id, str) or not OBJECT_ID_PATTERN.match(object_id):
        shown = str(object_id)[:80]
        raise InvalidInput(f"标识「{shown}」不能用：只能用 1–64 个 ASCII 字母、数字和 . _ -，以字母或数字开头",
                           english=f"invalid id {shown!r}: use 1–64 ASCII letters, digits, '.', '_' or '-', "
                                   "starting with a letter or digit")
    return object_id


def version_number(label: str) -> int:
    return int(label.lstrip("v"))


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, data: bytes, durable: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


class ObjectStore:
    """An OCFL 1.1 storage root holding one object per catalogue record."""

    def __init__(self, home: Home, durable: bool = True, locks: FileLocks | AdvisoryLocks | None = None):
        self.home = home
        self.locks = locks or FileLocks(home.locks)
        self.root = home.ocfl_root
        # fsync every file and directory of a commit (survives a power cut). Benchmarks may
        # turn this off to measure the rest.
        self.durable = durable

    # ---- storage root -------------------------------------------------------------------

    def initialize(self) -> bool:
        """Create the storage root if it does not exist. Returns True if it was created."""
        for folder in (self.home.staging, self.home.journal, self.home.locks):
            folder.mkdir(parents=True, exist_ok=True)
        if (self.root / "0=ocfl_1.1").exists():
            return False
        self.root.parent.mkdir(parents=True, exist_ok=True)
        _ocfl().StorageRoot(root=str(self.root), layout_name=LAYOUT).initialize()
        return True

    def object_path(self, object_id: str) -> Path:
        return self.root / check_object_id(object_id)

    def exists(self, object_id: str) -> bool:
        return (self.object_path(object_id) / OBJECT_DECLARATION).exists()

    def object_ids(self) -> list[str]:
        """Every object Guji wrote in the storage root, sorted (see :meth:`survey`)."""
        return self.survey()[0]

    def survey(self) -> tuple[list[str], list[ForeignEntry]]:
        """Guji's objects (sorted ids), and every other folder of the storage root with the reason
        it is not one: an OCFL object of another system (OCFL 1.0, an id that is not its folder's
        name, no card.json), an object whose inventory cannot be read, or no OCFL object at all.
        Commands that walk every object use the first list and report the second."""
        if not self.root.exists():
            return [], []
        ours, foreign = [], []
        for entry in sorted(os.scandir(self.root), key=lambda entry: entry.name):
            if entry.name in ROOT_ENTRIES or not entry.is_dir():
                continue
            problem = self._not_ours(Path(entry.path))
            if problem is None:
                ours.append(entry.name)
            else:
                foreign.append(problem)
        return ours, foreign

    def _not_ours(self, folder: Path) -> ForeignEntry | None:
        name = folder.name
        declarations = sorted(p.name for p in folder.glob("0=ocfl_object_*"))
        if not declarations:
            return ForeignEntry(name, "不是 OCFL 对象（没有 0=ocfl_object_… 声明文件）", "other")
        if declarations != [OBJECT_DECLARATION]:
            version = declarations[0].removeprefix("0=ocfl_object_")
            return ForeignEntry(name, f"OCFL {version} 对象，不是 Guji 写的（Guji 只写 OCFL 1.1）", "ocfl")
        try:
            inventory = json.loads((folder / INVENTORY).read_bytes())
            state = self._state(inventory, None)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, GujiError) as error:
            missing = isinstance(error, FileNotFoundError)
            reason = "没有 inventory.json" if missing else "inventory.json 无法读取或已损坏"
            return ForeignEntry(name, f"{reason}；请用 guji fixity --ocfl 检查，并从备份恢复", "damaged")
        if inventory.get("id") != name or not OBJECT_ID_PATTERN.match(name):
            shown = str(inventory.get("id"))[:80]
            return ForeignEntry(name, f"别的系统写的 OCFL 对象（id「{shown}」不是它的目录名）", "ocfl")
        if CARD_FILE not in state:
            return ForeignEntry(name, f"OCFL 对象里没有 {CARD_FILE}，不是 Guji 的卡片对象", "ocfl")
        return None

    # ---- reading ------------------------------------------------------------------------

    def inventory(self, object_id: str) -> dict:
        path = self.object_path(object_id) / INVENTORY
        try:
            inventory = json.loads(path.read_bytes())
        except FileNotFoundError:
            raise NotFound(f"no object {object_id!r} in the storage root") from None
        except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON: damaged, not missing
            raise Damaged(f"{object_id}/{INVENTORY} 无法读取（{type(error).__name__}）：存储已损坏，请运行 "
                          "guji fixity --ocfl，并从备份恢复这个对象") from None
        versions = inventory.get("versions") if isinstance(inventory, dict) else None
        if not isinstance(versions, dict) or not isinstance(inventory.get("manifest"), dict) \
                or inventory.get("head") not in versions:
            raise Damaged(f"{object_id}/{INVENTORY} 不是完整的 OCFL 清单：存储已损坏，请运行 guji fixity --ocfl，"
                          "并从备份恢复这个对象")
        return inventory

    def head(self, object_id: str) -> int:
        """The current version number, 0 if the object does not exist."""
        if not self.exists(object_id):
            return 0
        return version_number(self.inventory(object_id)["head"])

    def versions(self, object_id: str, inventory: dict | None = None) -> list[VersionInfo]:
        inventory = inventory or self.inventory(object_id)
        result = []
        for label, version in sorted(inventory["versions"].items(), key=lambda kv: version_number(kv[0])):
            result.append(
                VersionInfo(
                    number=version_number(label),
                    created=version.get("created", ""),
                    editor=(version.get("user") or {}).get("name", ""),
                    reason=version.get("message", ""),
                )
            )
        return result

    def _state(self, inventory: dict, version: int | None) -> dict[str, str]:
        """Logical path → digest for one version (default: head)."""
        label = f"v{version}" if version is not None else inventory["head"]
        if label not in inventory["versions"]:
            raise NotFound(f"{inventory['id']} has no version {label} (head is {inventory['head']})")
        return {
            logical: digest
            for digest, paths in inventory["versions"][label]["state"].items()
            for logical in paths
        }

    def logical_paths(self, object_id: str, version: int | None = None) -> list[str]:
        return sorted(self._state(self.inventory(object_id), version))

    def content_path(self, object_id: str, logical_path: str, version: int | None = None) -> Path:
        """The file on disk that holds `logical_path` in `version` (default: head)."""
        inventory = self.inventory(object_id)
        state = self._state(inventory, version)
        if logical_path not in state:
            raise NotFound(f"{object_id} has no file {logical_path!r} in that version")
        relative = inventory["manifest"][state[logical_path]][0]
        return self.object_path(object_id) / relative

    def read_bytes(self, object_id: str, logical_path: str, version: int | None = None) -> bytes:
        return self.content_path(object_id, logical_path, version).read_bytes()

    def digests(self, object_id: str, version: int | None = None) -> dict[str, str]:
        """Logical path → sha512 for one version."""
        return self._state(self.inventory(object_id), version)

    # ---- writing ------------------------------------------------------------------------

    def lock(self, object_id: str) -> contextlib.AbstractContextManager[None]:
        """Exclusive lock on one object, across processes (and hosts, with PostgreSQL's locks)."""
        return self.locks.object(check_object_id(object_id))

    def commit(
        self,
        object_id: str,
        files: Mapping[str, bytes | Path | PreparedFile],
        *,
        editor: str,
        reason: str,
        expected_head: int | None,
        deletions: tuple[str, ...] = (),
        created: datetime | None = None,
    ) -> VersionInfo | None:
        """Write a new version with `files` (logical path → bytes, a file to copy, or a
        :class:`PreparedFile` to move in) added or replaced and `deletions` removed. Unchanged
        files are not copied again.

        `expected_head` is the version the change was based on (0 for a new object); `None`
        skips the check (callers that hold the lock and re-read, e.g. ingest). Returns the
        new version, or None when nothing differs from the head.
        """
        check_object_id(object_id)
        if not reason or not reason.strip():
            raise InvalidInput("every change needs a reason (修改原因)")
        if not editor or not editor.strip():
            raise InvalidInput("every change needs an editor (修改人)")
        with self.lock(object_id):
            current = self.head(object_id)
            if expected_head is not None and expected_head != current:
                raise StaleVersionError(object_id, expected_head, current)
            if current == 0 and os.path.lexists(self.object_path(object_id)):
                raise Conflict(f"存储根里已有名为 {object_id} 的目录，但它不是 Guji 的对象（见 guji fixity）；"
                                 "请换一个记录号")
            work = self.home.staging / f"{object_id}~{uuid.uuid4().hex[:12]}"
            try:
                return self._commit_locked(
                    object_id, files, deletions, editor, reason, created, current, work
                )
            finally:
                shutil.rmtree(work, ignore_errors=True)

    def _commit_locked(self, object_id, files, deletions, editor, reason, created, current, work):
        sources = work / "src"
        sources.mkdir(parents=True)
        # Source paths are given to ocfl-py relative to "/" so that masters can be read where
        # they lie, without a second copy.
        source_of: dict[str, str] = {}
        known: dict[str, str] = {}  # source → sha512, for PreparedFiles (moved in, not read again)
        for index, (logical, data) in enumerate(sorted(files.items())):
            _check_logical_path(logical)
            if isinstance(data, bytes):
                source = sources / str(index)
                source.write_bytes(data)
            elif isinstance(data, PreparedFile):
                source = Path(data.path).resolve()
                known[str(source).lstrip("/")] = data.sha512
            else:
                source = Path(data).resolve()
            source_of[logical] = str(source).lstrip("/")

        when = (created or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        ocfl = _ocfl()
        if current == 0:
            new_version = ocfl.NewVersion.first_version(srcdir="/", identifier=object_id)
            existing: dict[str, str] = {}
        else:
            new_version = ocfl.Object().start_new_version(
                objdir=str(self.object_path(object_id)), srcdir="/", carry_content_forward=True
            )
            existing = {
                logical: digest
                for digest, paths in new_version.inventory.current_version.state.items()
                for logical in paths
            }
        head_label = new_version.inventory.head
        changed = False
        for logical in deletions:
            if logical in existing:
                new_version.delete(logical)
                changed = True
        digests = dict(known)  # every source's sha512 once hashed: ocfl-py's add takes it from here
        _known_digests.table = digests
        try:
            for logical, source in source_of.items():
                digest = digests.setdefault(source, known.get(source) or _sha512(Path("/" + source)))
                if existing.get(logical) == digest:
                    continue
                if logical in existing:
                    new_version.delete(logical)
                new_version.add(source, logical, content_path=f"{head_label}/content/{logical}")
                changed = True
        finally:
            _known_digests.table = None
        if not changed and current > 0:
            return None

        new_version.created = when
        new_version.message = reason.strip()
        new_version.user_name = editor.strip()
        new_version.user_address = "urn:guji:user:" + quote(editor.strip(), safe="")
        inventory_bytes = _inventory_bytes(new_version.inventory)

        # Assemble the complete version directory in staging.
        staged_version = work / head_label
        for source, content_path in new_version.files_to_copy.items():
            target = work / content_path
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.startswith(str(sources).lstrip("/")) or source in known:
                _move("/" + source, target)
            else:
                shutil.copyfile("/" + source, target)
            if self.durable:
                _fsync_file(target)
        self._write_inventory(staged_version, inventory_bytes)

        if current == 0:
            return self._create_object(object_id, work, staged_version, inventory_bytes, new_version)
        return self._add_version(object_id, staged_version, inventory_bytes, new_version)

    def _write_inventory(self, directory: Path, inventory_bytes: bytes) -> None:
        _write_durably(directory / INVENTORY, inventory_bytes, self.durable)
        sidecar = f"{hashlib.sha512(inventory_bytes).hexdigest()} {INVENTORY}\n".encode()
        _write_durably(directory / SIDECAR, sidecar, self.durable)

    def _create_object(self, object_id, work, staged_version, inventory_bytes, new_version):
        staged_object = work / "object"
        staged_object.mkdir()
        (staged_object / OBJECT_DECLARATION).write_text("ocfl_object_1.1\n")
        os.replace(staged_version, staged_object / staged_version.name)
        self._write_inventory(staged_object, inventory_bytes)
        if self.durable:
            _fsync_dir(staged_object)
        # One rename makes the whole object appear at once.
        os.rename(staged_object, self.object_path(object_id))
        if self.durable:
            _fsync_dir(self.root)
        return self._version_info(new_version)

    def _add_version(self, object_id, staged_version, inventory_bytes, new_version):
        """Move the version in and make it the head. Between the version directory's `rename` and the
        root inventory's, the object has a version its inventory does not list (`ocfl-validate`
        E046b); the root inventory and sidecar are therefore written and fsynced beforehand, so
        that this window holds nothing but the renames themselves."""
        object_dir = self.object_path(object_id)
        journal = self.home.journal / f"{object_id}.ocfl"
        prepared = self._prepare_root_inventory(staged_version.parent, staged_version)
        _write_durably(journal, staged_version.name.encode(), self.durable)
        os.rename(staged_version, object_dir / staged_version.name)
        self._install_root_inventory(object_dir, prepared)
        journal.unlink()
        return self._version_info(new_version)

    def _prepare_root_inventory(self, work: Path, version_dir: Path) -> list[tuple[Path, str]]:
        """Copies of a version's inventory and sidecar, fsynced in `work` (on the store's file
        system), ready to be renamed over the object's root inventory."""
        prepared = []
        for name in (INVENTORY, SIDECAR):
            temporary = work / f"root-{name}"
            shutil.copyfile(version_dir / name, temporary)
            if self.durable:
                _fsync_file(temporary)
            prepared.append((temporary, name))
        return prepared

    def _install_root_inventory(self, object_dir: Path, prepared: list[tuple[Path, str]]) -> None:
        for temporary, name in prepared:
            os.replace(temporary, object_dir / name)
        if self.durable:
            _fsync_dir(object_dir)

    def _promote_head_inventory(self, object_dir: Path, head_label: str) -> None:
        """Make the root inventory and sidecar identical to those of version `head_label`."""
        work = self.home.staging / f"{object_dir.name}~{uuid.uuid4().hex[:12]}"
        work.mkdir(parents=True)
        try:
            self._install_root_inventory(object_dir, self._prepare_root_inventory(work, object_dir / head_label))
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _version_info(new_version) -> VersionInfo:
        return VersionInfo(
            number=version_number(new_version.inventory.head),
            created=new_version.created,
            editor=new_version.user_name,
            reason=new_version.message,
        )

    # ---- recovery -----------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Finish commits interrupted by a crash and clear stale staging files.

        A version directory that reached the object is complete (it was moved in whole), so
        the interrupted commit is finished by promoting its inventory; otherwise the object
        was never touched. Returns the ids of objects that had a commit in flight.
        """
        touched = []
        if self.home.journal.exists():
            for journal in sorted(self.home.journal.glob("*.ocfl")):
                object_id = journal.stem
                with self.lock(object_id):
                    if journal.exists():
                        try:
                            self._repair(object_id)
                        except GujiError:
                            continue  # damaged: left for `guji recover` and `guji fixity` to report
                        journal.unlink()
                        touched.append(object_id)
        if self.home.staging.exists():
            for leftover in self.home.staging.iterdir():
                object_id = leftover.name.split("~")[0]  # "~" never occurs in an id
                with self.lock(object_id):
                    if leftover.is_dir():
                        shutil.rmtree(leftover, ignore_errors=True)
                    else:
                        leftover.unlink(missing_ok=True)
        return touched

    def repair_all(self) -> tuple[list[str], list[str]]:
        """Finish, in every object, a commit whose version directory is in the object but not yet
        in its root inventory — with or without a journal entry: a copy of the storage root taken
        during a save, or restored from such a copy, has none. Returns the ids of the objects
        repaired, and the problems found in others (nothing is deleted)."""
        repaired, problems = [], []
        for object_id in self.object_ids():
            with self.lock(object_id):  # a save in progress finishes first
                try:
                    if self._repair(object_id):
                        repaired.append(object_id)
                except GujiError as error:
                    problems.append(str(error))
                    continue
                (self.home.journal / f"{object_id}.ocfl").unlink(missing_ok=True)
        return repaired, problems

    def _repair(self, object_id: str) -> bool:
        """Make the newest version directory's inventory the root inventory, if it is not. Never
        deletes: a version directory whose inventory does not match its own sidecar is reported."""
        object_dir = self.object_path(object_id)
        labels = [p.name for p in object_dir.glob("v*") if p.is_dir() and p.name[1:].isdigit()]
        if not labels:
            return False
        newest = max(labels, key=version_number)
        staged = object_dir / newest
        try:
            inventory_bytes = (staged / INVENTORY).read_bytes()
            sidecar_bytes = (staged / SIDECAR).read_bytes()
        except FileNotFoundError:
            raise Damaged(f"{object_id}/{newest}: the version has no inventory; restore the object from a "
                             "backup") from None
        if hashlib.sha512(inventory_bytes).hexdigest() != sidecar_bytes.split()[0].decode():
            raise Damaged(f"{object_id}/{newest}: the version's inventory does not match its sidecar "
                             f"({SIDECAR}); restore the object from a backup")
        try:
            root_bytes = (object_dir / INVENTORY).read_bytes()
            root_sidecar = (object_dir / SIDECAR).read_bytes()
        except FileNotFoundError:
            root_bytes = root_sidecar = b""
        if root_bytes == inventory_bytes and root_sidecar == sidecar_bytes:
            return False
        if root_bytes and version_number(json.loads(root_bytes).get("head", "v0")) > version_number(newest):
            raise Damaged(f"{object_id}: the root inventory names a version newer than {newest}, which is "
                             "missing; restore the object from a backup")
        self._promote_head_inventory(object_dir, newest)
        return True

    # ---- checking -----------------------------------------------------------------------

    def fixity(self, object_id: str) -> tuple[int, list[FixityProblem]]:
        """Re-compute every content file's digests (the manifest's and any extra fixity digests such
        as a vendor's md5) and compare. Returns (files checked, problems). `object_id` may also name
        a folder of another system's OCFL object (from :meth:`survey`)."""
        if "/" in object_id or object_id in ("", ".", ".."):
            raise InvalidInput(f"invalid object folder {object_id!r}")
        object_dir = self.root / object_id
        try:
            inventory = json.loads((object_dir / INVENTORY).read_bytes())
            manifest = inventory["manifest"].items()
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return 0, [FixityProblem(object_id, INVENTORY, "unreadable", "", "inventory.json 无法读取或已损坏")]
        expected: dict[str, dict[str, str]] = {}
        for digest, paths in manifest:
            for path in paths:
                expected.setdefault(path, {})[inventory.get("digestAlgorithm", "sha512")] = digest
        for algorithm, block in (inventory.get("fixity") or {}).items():
            for digest, paths in block.items():
                for path in paths:
                    expected.setdefault(path, {})[algorithm] = digest
        problems = []
        for path, digests in sorted(expected.items()):
            target = object_dir / path
            if not target.is_file():
                problems.append(FixityProblem(object_id, path, "missing", "", ""))
                continue
            hashers = {name: _HASHES[name]() for name in digests if name in _HASHES}  # others cannot be checked
            with open(target, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    for hasher in hashers.values():
                        hasher.update(block)
            for name, hasher in hashers.items():
                if hasher.hexdigest() != digests[name].lower():
                    problems.append(FixityProblem(object_id, path, f"{name} mismatch", digests[name],
                                                  hasher.hexdigest()))
        return len(expected), problems

    def validate(self, object_id: str | None = None, check_digests: bool = True) -> list[str]:
        """Run ocfl-py's validator on one object or on the whole root; returns error messages."""
        import ocfl
        import ocfl.validator

        if object_id is not None:
            validator = ocfl.validator.Validator(check_digests=check_digests)
            if validator.validate_object(str(self.object_path(object_id))):
                return []
            return [f"{object_id}: {line}" for line in str(validator).splitlines() if line.strip()]
        root = ocfl.StorageRoot(root=str(self.root))
        root.open_root_fs()
        root.check_root_structure()
        _, _, errors = root.validate_hierarchy(check_digests=check_digests)
        return [f"{path}: {message}" for path, message in errors]


def _move(source: str, target: Path) -> None:
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.copyfile(source, target)  # another file system: copy, then drop the original
        os.unlink(source)


def _check_logical_path(logical: str) -> None:
    parts = logical.split("/")
    if not logical or logical.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"invalid file name in object: {logical!r}")


def _sha512(path: Path) -> str:
    digest = hashlib.sha512()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _inventory_bytes(inventory) -> bytes:
    """Serialise exactly as ocfl-py does, so the root and version copies are byte-identical."""
    buffer = io.StringIO()
    inventory.write_json(buffer)
    return buffer.getvalue().encode("utf-8")
