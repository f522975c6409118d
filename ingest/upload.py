"""Book folders sent from a browser: one upload session per book, its files sent in chunks that are
each verified, so that a broken connection resumes at the last chunk received.

The staff ingest page (web/staff/upload_pages.py, with static/upload.js at the other end) drives it:

1. :func:`open_session` — the book's name, its card and its files (relative path and size) become a
   session in ``<incoming>/.uploads/<token>/`` once the names, the sizes and the free disk space are
   checked. The same person sending the same list for the same card again gets the same session
   back: that is how an upload resumes after a closed browser.
2. :func:`put_chunk` — each chunk carries its SHA-256, checked before the chunk is appended; its
   offset must be where the file ends now (otherwise :class:`UploadRefused` says how much has
   arrived, and the browser goes on from there).
3. :func:`complete_file` — the SHA-256 of the whole file (the browser hashes as it reads) is checked
   against the file put together here; the file then moves into the session's book folder.
4. :func:`finish` — when every file is complete, the book folder moves into the incoming directory
   with an ``upload.sha256`` listing what arrived, which the ingest checks the scans against again.
   A zip sent alone stays a zip in the folder: the ingest job unpacks it (:func:`ingest.watch.unpack_zip`).

:func:`expire` removes sessions nobody has added to for ``GUJI_UPLOAD_EXPIRY_HOURS``. The
``.uploads`` folder is hidden, so neither the ingest page nor `guji watch` takes it for a book.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from guji.repository import atomic_files
from guji.repository.errors import Refused

UPLOADS = ".uploads"
SESSION = "session.json"
CHECKSUMS = "upload.sha256"  # read by ingest.pages as a vendor checksum file (suffix .sha256)
MIB = 1024 * 1024
GIB = 1024 * MIB
CHUNK_BYTES = 8 * MIB
MAX_FILES = 10_000
RESERVE_BYTES = GIB  # left free on the disk whatever an upload needs
NAME_BYTES = 255
TOKEN = re.compile(r"^[0-9a-f]{32}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")
RESERVED_FOLDERS = {"done", "failed"}  # where ingested folders go in the incoming directory (ingest.watch)
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]")


@dataclass(frozen=True)
class UploadLimits:
    file_bytes: int  # one file (GUJI_UPLOAD_FILE_LIMIT_MB)
    book_bytes: int  # all files of the book, or its zip (GUJI_UPLOAD_BOOK_LIMIT_MB)
    chunk_bytes: int = CHUNK_BYTES
    expiry_seconds: float = 72 * 3600
    files: int = MAX_FILES
    reserve_bytes: int = RESERVE_BYTES


class UploadRefused(Refused):
    """A request the upload cannot take; the message (Chinese) names the file and what to do, `status`
    the HTTP answer (400, 409, 413, 422, 507), and `received` (when given) how many bytes of the file
    are here, to resume from."""

    def __init__(self, message: str, status: int = 400, received: int | None = None):
        super().__init__(message)
        self.status = status
        self.received = received

    @property
    def extensions(self) -> dict:
        return {} if self.received is None else {"received": self.received}


def _size(count: int) -> str:
    return f"{count / GIB:.1f} GB" if count >= GIB else f"{count / MIB:.1f} MB"


def book_name(name: str, fallback: str) -> str:
    """A folder name for the book from the dropped folder's or the zip's name: characters that
    cannot be in a file name become _, leading dots and blanks go (never a hidden folder)."""
    name = unicodedata.normalize("NFC", str(name or ""))
    if name.lower().endswith(".zip"):
        name = name[:-4]
    name = _UNSAFE_NAME.sub("_", name).strip().lstrip(".").strip()[:100]
    while len(name.encode()) > 200:
        name = name[:-1]
    if name.lower() in RESERVED_FOLDERS:
        name = f"{fallback}-{name}"
    return name or fallback


def relative_path(path: object) -> str:
    """A file's path inside the book folder as the browser sends it (`a/b.tif`), or UploadRefused:
    never absolute, never `..`, no hidden parts, no control characters."""
    if not isinstance(path, str) or not path or len(path) > 1000:
        raise UploadRefused(f"文件路径 {str(path)[:80]!r} 无效：应是书籍文件夹内的相对路径")
    shown = path[:200]
    if "\\" in path or path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UploadRefused(f"「{shown}」是绝对路径或含反斜杠：只能上传书籍文件夹里的文件")
    if any(ord(character) < 32 or ord(character) == 127 for character in path):
        raise UploadRefused(f"文件名 {shown!r} 含控制字符，请改名后再上传")
    parts = unicodedata.normalize("NFC", path).split("/")
    if len(parts) > 8:
        raise UploadRefused(f"「{shown}」的文件夹层次太深（最多 8 层）")
    for part in parts:
        if part in ("", ".", ".."):
            raise UploadRefused(f"「{shown}」含有“..”或空的路径段：只能上传书籍文件夹里的文件")
        if part.startswith("."):
            raise UploadRefused(f"「{shown}」是隐藏文件：请不要上传以“.”开头的文件")
        if len(part.encode()) > NAME_BYTES:
            raise UploadRefused(f"「{shown}」的名称超过 {NAME_BYTES} 字节，请改短后再上传")
    return "/".join(parts)


def _files(files: object, limits: UploadLimits) -> list[dict]:
    """The declared file list, checked: [{"path", "size"}] in the order sent."""
    if not isinstance(files, list) or not files:
        raise UploadRefused("没有要上传的文件：请选择一部书的文件夹或一个 zip 压缩包")
    if len(files) > limits.files:
        raise UploadRefused(f"一次上传 {len(files)} 个文件，超过上限 {limits.files}；请分几次上传", 413)
    checked: list[dict] = []
    seen: dict[str, str] = {}
    for entry in files:
        if not isinstance(entry, dict):
            raise UploadRefused("文件清单格式不对：每项应有 path 和 size")
        path = relative_path(entry.get("path"))
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise UploadRefused(f"「{path}」的大小 {size!r} 不是字节数")
        if path.casefold() in seen:
            raise UploadRefused(f"「{path}」与「{seen[path.casefold()]}」重名：同一文件夹里不能有只差大小写的两个文件")
        seen[path.casefold()] = path
        if path == CHECKSUMS:
            raise UploadRefused(f"「{CHECKSUMS}」是上传时生成的校验文件名，请把同名文件改名后再上传")
        if path == "READY":  # a hot folder's marker: `guji watch` would take the folder too
            raise UploadRefused("READY 是收件目录自动入藏（guji watch）的标记文件，请不要上传它")
        checked.append({"path": path, "size": size, "sha256": None})
    paths = {entry["path"] for entry in checked}
    for path in paths:  # a file cannot also be a folder (a and a/b)
        parent = path.rsplit("/", 1)[0] if "/" in path else None
        while parent:
            if parent in paths:
                raise UploadRefused(f"「{parent}」既是文件又是文件夹（名称冲突）")
            parent = parent.rsplit("/", 1)[0] if "/" in parent else None
    is_zip = len(checked) == 1 and checked[0]["path"].lower().endswith(".zip")
    for entry in checked:
        if not is_zip and entry["size"] > limits.file_bytes:
            raise UploadRefused(f"「{entry['path']}」有 {_size(entry['size'])}，超过单个文件的上限 "
                                f"{_size(limits.file_bytes)}（GUJI_UPLOAD_FILE_LIMIT_MB）", 413)
    total = sum(entry["size"] for entry in checked)
    if total > limits.book_bytes:
        raise UploadRefused(f"这部书共 {_size(total)}，超过一次上传的上限 {_size(limits.book_bytes)}"
                            "（GUJI_UPLOAD_BOOK_LIMIT_MB）；请分册上传", 413)
    return checked


class UploadSession:
    """One book being uploaded: `<incoming>/.uploads/<token>/` with session.json, parts/ (files
    arriving) and book/ (files complete, at their relative paths)."""

    def __init__(self, folder: Path, meta: dict):
        self.folder = folder
        self.meta = meta

    token = property(lambda self: self.folder.name)
    owner = property(lambda self: self.meta["owner"])
    card_id = property(lambda self: self.meta["card_id"])
    name = property(lambda self: self.meta["name"])
    files = property(lambda self: self.meta["files"])
    book = property(lambda self: self.folder / "book")

    def part(self, index: int) -> Path:
        return self.folder / "parts" / str(index)

    def entry(self, index: int) -> dict:
        if not 0 <= index < len(self.files):
            raise UploadRefused(f"这次上传没有第 {index} 个文件", 404)
        return self.files[index]

    def received(self, index: int) -> int:
        entry = self.entry(index)
        if entry["sha256"]:
            return entry["size"]
        try:
            return self.part(index).stat().st_size
        except FileNotFoundError:
            return 0

    def remaining(self) -> int:
        return sum(entry["size"] - self.received(index) for index, entry in enumerate(self.files))

    def save(self) -> None:
        atomic_files.write_text(self.folder / SESSION, json.dumps(self.meta, ensure_ascii=False))

    @contextmanager
    def locked(self) -> Iterator[None]:
        """One request at a time changes a session (two web workers may get chunks of one upload)."""
        with open(self.folder / "lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self.meta = json.loads((self.folder / SESSION).read_text(encoding="utf-8"))
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def status(self) -> dict:
        files = [{"index": index, "path": entry["path"], "size": entry["size"], "received": self.received(index),
                  "done": bool(entry["sha256"])} for index, entry in enumerate(self.files)]
        return {"id": self.token, "card_id": self.card_id, "name": self.name, "created": self.meta["created"],
                "files": files, "size": sum(entry["size"] for entry in self.files),
                "received": sum(entry["received"] for entry in files)}


def uploads_dir(incoming: Path) -> Path:
    return Path(incoming) / UPLOADS


def _load(folder: Path) -> UploadSession | None:
    try:
        meta = json.loads((folder / SESSION).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return UploadSession(folder, meta) if isinstance(meta, dict) and isinstance(meta.get("files"), list) else None


def sessions(incoming: Path, owner: str | None = None) -> list[UploadSession]:
    """The upload sessions in progress (of `owner`), oldest first."""
    root = uploads_dir(incoming)
    if not root.is_dir():
        return []
    found = [session for entry in sorted(root.iterdir()) if TOKEN.match(entry.name)
             and (session := _load(entry)) is not None and (owner is None or session.owner == owner)]
    return sorted(found, key=lambda session: session.meta.get("created", ""))


def find(incoming: Path, token: str, owner: str) -> UploadSession:
    """The session `token` of `owner` (someone else's is as good as missing)."""
    session = _load(uploads_dir(incoming) / token) if TOKEN.match(token or "") else None
    if session is None or session.owner != owner:
        raise UploadRefused("找不到这次上传（可能已完成、已取消或因长时间未继续而被清理）；请重新选择文件夹上传", 404)
    return session


def _check_space(incoming: Path, data_home: Path, upload_bytes: int, stored_bytes: int,
                 limits: UploadLimits) -> None:
    """Refuse unless the disks have room for `upload_bytes` more of uploads (besides what other
    uploads still have to send), the `stored_bytes` the ingest copies into the data home, and the
    reserve on each."""
    root = uploads_dir(incoming)
    places = {root.stat().st_dev: root}
    needs = {root.stat().st_dev: upload_bytes + sum(session.remaining() for session in sessions(incoming))
             + limits.reserve_bytes}
    home_device = Path(data_home).stat().st_dev
    places.setdefault(home_device, Path(data_home))
    needs[home_device] = needs.get(home_device, limits.reserve_bytes) + stored_bytes
    for device, needed in needs.items():
        free = shutil.disk_usage(places[device]).free
        if free < needed:
            where = "收件目录" if places[device] == root else "数据目录"
            raise UploadRefused(f"磁盘空间不足：这次上传和入藏需要约 {_size(needed)}（含 {_size(limits.reserve_bytes)}"
                                f" 余量），{where}所在的磁盘只剩 {_size(free)}；请先清理磁盘或分册上传", 507)


def open_session(incoming: Path, data_home: Path, owner: str, card_id: str, name: str, files: object,
                 limits: UploadLimits) -> UploadSession:
    """A new upload session, or the one of `owner` for the same card and the same files (resume)."""
    checked = _files(files, limits)
    name = book_name(name, card_id)
    listing = [(entry["path"], entry["size"]) for entry in checked]
    for session in sessions(incoming, owner):
        if session.card_id == card_id and [(e["path"], e["size"]) for e in session.files] == listing:
            return session
    root = uploads_dir(incoming)
    root.mkdir(parents=True, exist_ok=True)
    total = sum(size for _, size in listing)
    is_zip = len(listing) == 1 and listing[0][0].lower().endswith(".zip")
    _check_space(incoming, data_home, total * 2 if is_zip else total, total, limits)  # a zip is unpacked beside it
    folder = root / secrets.token_hex(16)
    (folder / "parts").mkdir(parents=True)
    (folder / "book").mkdir()
    session = UploadSession(folder, {"owner": owner, "card_id": card_id, "name": name, "files": checked,
                                     "created": datetime.now(UTC).isoformat(timespec="seconds")})
    session.save()
    return session


def put_chunk(session: UploadSession, index: int, offset: int, data: bytes, sha256: str,
              limits: UploadLimits) -> int:
    """Append one verified chunk to file `index` at `offset`; returns the bytes of the file now here."""
    entry = session.entry(index)
    if not data:
        raise UploadRefused(f"「{entry['path']}」的这一块是空的", received=session.received(index))
    if len(data) > limits.chunk_bytes:
        raise UploadRefused(f"每块最多 {_size(limits.chunk_bytes)}", 413)
    if hashlib.sha256(data).hexdigest() != str(sha256).lower():
        raise UploadRefused(f"「{entry['path']}」从第 {offset} 字节起的一块在传输中损坏（SHA-256 不符），请重传这一块",
                            422, received=session.received(index))
    with session.locked():
        entry = session.entry(index)
        received = session.received(index)
        if entry["sha256"] or offset != received:
            raise UploadRefused(f"「{entry['path']}」已收到 {received} 字节，请从那里接着传", 409, received=received)
        if received + len(data) > entry["size"]:
            raise UploadRefused(f"「{entry['path']}」比上传开始时说的 {entry['size']} 字节更长：文件在上传过程中"
                                "被改动了？请重新选择文件夹上传", 409, received=received)
        if shutil.disk_usage(session.folder).free < len(data) + limits.reserve_bytes:
            raise UploadRefused("磁盘空间不足，上传已暂停；请清理收件目录所在的磁盘后继续", 507, received=received)
        with open(session.part(index), "ab") as part:
            part.write(data)
            part.flush()
            os.fsync(part.fileno())  # a chunk acknowledged is a chunk kept, also across a crash
        return received + len(data)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()


def complete_file(session: UploadSession, index: int, sha256: str) -> None:
    """Check the whole file `index` against the SHA-256 the browser computed, then keep it."""
    sha256 = str(sha256 or "").lower()
    if not DIGEST.match(sha256):
        raise UploadRefused("缺少文件的 SHA-256 校验值（64 位十六进制）")
    with session.locked():
        entry = session.entry(index)
        if entry["sha256"]:
            if entry["sha256"] != sha256:
                raise UploadRefused(f"「{entry['path']}」已收齐，但校验值与这次给出的不同", 409, received=entry["size"])
            return
        part = session.part(index)
        if entry["size"] == 0:
            part.touch()
        received = session.received(index)
        if received != entry["size"]:
            raise UploadRefused(f"「{entry['path']}」只收到 {received} / {entry['size']} 字节", 409, received=received)
        if _sha256_of(part) != sha256:
            part.unlink()
            raise UploadRefused(f"「{entry['path']}」整体校验不符：收到的内容与您电脑上的文件不同（文件在上传过程中"
                                "被改动过？）。已丢弃收到的部分，将重新上传这个文件", 422, received=0)
        target = session.book.joinpath(*entry["path"].split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(part, target)
        entry["sha256"] = sha256
        session.save()


def finish(session: UploadSession, incoming: Path) -> str:
    """Move the complete book folder into the incoming directory; returns its folder name there."""
    with session.locked():
        missing = [entry["path"] for entry in session.files if not entry["sha256"]]
        if missing:
            raise UploadRefused(f"还有 {len(missing)} 个文件没有收齐（如「{missing[0]}」），请继续上传", 409)
        top = [entry for entry in session.files if "/" not in entry["path"]]
        a_zip = len(top) == len(session.files) == 1 and top[0]["path"].lower().endswith(".zip")  # unpacked later
        if top and not a_zip and not (session.book / "bagit.txt").is_file():
            lines = [f"{entry['sha256']}  {entry['path']}\n" for entry in top]
            (session.book / CHECKSUMS).write_text("".join(lines), encoding="utf-8")
        target = Path(incoming) / session.name
        if target.exists():
            target = Path(incoming) / f"{session.name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
        if target.exists():
            raise UploadRefused(f"收件目录中已有文件夹「{target.name}」，请稍后再试", 409)
        os.rename(session.book, target)
    shutil.rmtree(session.folder, ignore_errors=True)
    return target.name


def cancel(session: UploadSession) -> None:
    with session.locked():
        shutil.rmtree(session.folder / "parts", ignore_errors=True)
        shutil.rmtree(session.book, ignore_errors=True)
    shutil.rmtree(session.folder, ignore_errors=True)


def _last_activity(folder: Path) -> float:
    times = [folder.stat().st_mtime]
    for place in (folder / SESSION, folder / "parts", *(folder / "parts").glob("*")):
        try:
            times.append(place.stat().st_mtime)
        except FileNotFoundError:
            continue
    return max(times)


def expire(incoming: Path, expiry_seconds: float, now: float | None = None) -> list[str]:
    """Remove upload sessions nobody has added to for `expiry_seconds`; returns their book names."""
    root = uploads_dir(incoming)
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for folder in root.iterdir():
        try:
            if not folder.is_dir() or now - _last_activity(folder) < expiry_seconds:
                continue
        except FileNotFoundError:
            continue  # finished or cancelled meanwhile
        session = _load(folder)
        removed.append(session.name if session else folder.name)
        shutil.rmtree(folder, ignore_errors=True)
    return removed
