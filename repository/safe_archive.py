"""Zip containers from users (.xlsx and other Office files) checked before any library reads them.

A zip *bomb* is a small file whose members inflate to gigabytes (a 2 MB `.xlsx` whose
`sheet1.xml` is 2 GiB of XML). :func:`check_zip` refuses one quickly and in flat memory:

1. the central directory: how many members, each member's declared size, their sum, and the
   inflation ratio (a real spreadsheet's XML compresses 5–20×; a bomb 1000×);
2. every member is then inflated once, in 1 MiB blocks that are counted and dropped, because the
   directory can lie: reading stops as soon as a member yields more than its declared size or
   a limit, and a CRC mismatch (a damaged file) is refused too;
3. Office XML never carries a ``<!DOCTYPE`` or ``<!ENTITY`` (the way XXE and "billion laughs"
   attacks come in), so a member that holds one is refused whatever the XML parser would do.

Messages name the file as the person knows it (`name`), never a path on the server.

:func:`extract_zip` unpacks a zip of page scans uploaded by staff with the same checks, and refuses
members that would land outside the target folder (absolute names, ``..``, a drive letter, a
backslash), symbolic links and other special files, duplicate names and control characters.
"""

from __future__ import annotations

import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from .errors import Refused

MIB = 1024 * 1024
BLOCK = MIB
_XML_MEMBER = re.compile(r"\.(xml|rels|vml)$", re.IGNORECASE)
XML_DECLARATION = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)  # shared with outputs.safe_xml


@dataclass(frozen=True)
class ArchiveLimits:
    members: int = 2000  # an .xlsx holds a few dozen parts; thousands is not a spreadsheet
    member_bytes: int = 256 * MIB  # largest inflated member
    total_bytes: int = 512 * MIB  # all members together, inflated
    ratio: int = 100  # inflated ÷ compressed, for members larger than ratio_grace
    ratio_grace: int = MIB  # small members may compress very well and harm no one
    scan_xml: bool = True  # refuse XML members with a DOCTYPE or ENTITY declaration (Office files)
    # What the messages say the zip should be and what to do about it (default: an .xlsx from a user).
    zip_note: str = "（Excel 工作簿 .xlsx 是 zip 格式）"
    not_this: str = "这不像是一个 Excel 工作簿"
    unlock: str = "请在 Excel 中取消密码后另存"
    remedy: str = "请在 Excel 中重新另存为 .xlsx"


LIMITS = ArchiveLimits()


class ArchiveRefused(Refused):
    """A zip file Guji will not open; the message names the file and the reason, in Chinese."""


def _size(count: int) -> str:
    return f"{count / MIB:.0f} MB" if count >= MIB else f"{count} 字节"


def check_zip(source: str | Path | IO[bytes], name: str, limits: ArchiveLimits = LIMITS) -> None:
    """Refuse `source` (a path or an open binary file) unless it is a zip whose members stay
    within `limits` when inflated. `name` is how messages name the file."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ArchiveRefused(f"{name}: 不是有效的 zip 文件{limits.zip_note}；文件可能已损坏或不完整，"
                             f"{limits.remedy}") from None
    with archive:
        members = archive.infolist()
        _check_directory(members, name, limits)
        for member in members:
            _inflate_counting(archive, member, name, limits)


def _check_directory(members: list[zipfile.ZipInfo], name: str, limits: ArchiveLimits) -> None:
    if len(members) > limits.members:
        raise ArchiveRefused(f"{name}: 压缩包内有 {len(members)} 个文件，超过上限 {limits.members}；"
                             f"{limits.not_this}")
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise ArchiveRefused(f"{name}: 文件已加密（设了打开密码）；{limits.unlock}")
        if member.file_size > limits.member_bytes:
            raise ArchiveRefused(
                f"{name}: 其中的 {member.filename} 解压后有 {_size(member.file_size)}，超过上限 "
                f"{_size(limits.member_bytes)}（疑似“压缩炸弹”）；请拆成几个较小的文件")
        if member.file_size > limits.ratio_grace and member.file_size > limits.ratio * max(member.compress_size, 1):
            raise ArchiveRefused(
                f"{name}: 其中的 {member.filename} 从 {_size(member.compress_size)} 解压成 {_size(member.file_size)}，"
                f"压缩比超过 {limits.ratio}:1（疑似“压缩炸弹”），拒绝读取")
        total += member.file_size
    if total > limits.total_bytes:
        raise ArchiveRefused(f"{name}: 解压后共 {_size(total)}，超过上限 {_size(limits.total_bytes)}；"
                             "请拆成几个较小的文件")


def _inflate_counting(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, limits: ArchiveLimits,
                      sink: IO[bytes] | None = None) -> int:
    """Inflate one member block by block, counting what comes out (the directory can lie), into
    `sink` if given; returns the count."""
    allowed = min(member.file_size, limits.member_bytes)
    scan = limits.scan_xml and bool(_XML_MEMBER.search(member.filename))
    tail = b""
    count = 0
    try:
        # ZipExtFile stops at the declared size; reading it ourselves also catches a damaged file
        # (CRC) and checks the bytes a parser would see.
        with archive.open(member) as stream:
            while block := stream.read(BLOCK):
                count += len(block)
                if count > allowed:
                    break
                if sink is not None:
                    sink.write(block)
                if scan:
                    window = (tail + block).replace(b"\x00", b"")  # UTF-16 XML: look past the zero bytes
                    match = XML_DECLARATION.search(window)
                    if match:
                        kind = match.group(1).decode().upper()
                        raise ArchiveRefused(
                            f"{name}: 其中的 {member.filename} 含有 <!{kind} …> 声明；Excel 文件从不需要它，"
                            "这是 XXE（外部实体）攻击的写法，拒绝读取")
                    tail = window[-16:]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as error:
        reason = "已加密" if isinstance(error, RuntimeError) else \
            "用了不支持的压缩方式" if isinstance(error, NotImplementedError) else "已损坏（校验不符或数据不完整）"
        raise ArchiveRefused(f"{name}: 其中的 {member.filename} {reason}；{limits.remedy}") from None
    if count > allowed:
        raise ArchiveRefused(
            f"{name}: 其中的 {member.filename} 解压出的数据比文件目录所记的 {_size(member.file_size)} 更多"
            f"（目录与内容不符，疑似“压缩炸弹”），拒绝读取")
    return count


# ---- unpacking ----------------------------------------------------------------------------------

_DRIVE = re.compile(r"^[A-Za-z]:")
_UTF8_NAMES = 0x800  # general purpose flag bit 11: the member names are UTF-8
NAME_BYTES = 255  # the longest file name most file systems take


def member_name(member: zipfile.ZipInfo) -> str:
    """The member's name as its maker wrote it. Without the UTF-8 flag zipfile reads names as
    cp437; Windows' own zip (and most Chinese tools) write them in the system code page, GBK."""
    if member.flag_bits & _UTF8_NAMES:
        return member.filename
    raw = member.filename.encode("cp437")
    for encoding in ("utf-8", "gbk"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return member.filename


def _member_parts(member: zipfile.ZipInfo, shown: str, name: str) -> tuple[str, ...]:
    """The path components of a member, or ArchiveRefused for a name that leaves the folder."""
    kind = stat.S_IFMT(member.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise ArchiveRefused(f"{name}: 其中的 {shown} 是符号链接；压缩包中只能有文件和文件夹")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveRefused(f"{name}: 其中的 {shown} 是特殊文件（设备或管道）；压缩包中只能有文件和文件夹")
    if "\\" in shown or shown.startswith("/") or _DRIVE.match(shown):
        raise ArchiveRefused(f"{name}: 其中的 {shown} 是绝对路径或含反斜杠，会解压到文件夹之外；请重新打包")
    if any(ord(character) < 32 or ord(character) == 127 for character in shown):
        raise ArchiveRefused(f"{name}: 其中有文件名含控制字符（{shown!r}）；请改名后重新打包")
    parts = tuple(part for part in shown.rstrip("/").split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise ArchiveRefused(f"{name}: 其中的 {shown} 含有“..”或空的路径段，会解压到文件夹之外；请重新打包")
    if any(len(part.encode()) > NAME_BYTES for part in parts):
        raise ArchiveRefused(f"{name}: 其中的 {shown} 有超过 {NAME_BYTES} 字节的名称；请改短后重新打包")
    return parts


def extract_zip(source: Path, name: str, target: Path, limits: ArchiveLimits,
                skip: Callable[[tuple[str, ...]], bool] = lambda parts: False) -> int:
    """Unpack the zip `source` into `target`, a folder this makes (it must not exist), after the
    checks of :func:`check_zip` and of every member name; members for which `skip(parts)` is true
    are left out. Returns the number of files written. On refusal `target` is removed again and
    ArchiveRefused names the member and the reason."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
        raise ArchiveRefused(f"{name}: 不是有效的 zip 文件；文件可能已损坏或不完整，{limits.remedy}") from None
    target.mkdir(parents=True)
    try:
        with archive:
            members = archive.infolist()
            _check_directory(members, name, limits)
            return _extract_members(archive, members, name, target, limits, skip)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise


def _extract_members(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], name: str, target: Path,
                     limits: ArchiveLimits, skip: Callable[[tuple[str, ...]], bool]) -> int:
    seen: set[tuple[str, ...]] = set()
    written = total = 0
    root = target.resolve()
    for member in members:
        shown = member_name(member)
        parts = _member_parts(member, shown, name)
        if skip(parts):
            continue
        if parts in seen:
            raise ArchiveRefused(f"{name}: {shown} 在压缩包中出现了两次；请重新打包")
        seen.add(parts)
        path = root.joinpath(*parts)
        if root not in path.parents:  # cannot happen after the checks above; never write outside
            raise ArchiveRefused(f"{name}: 其中的 {shown} 会解压到文件夹之外；请重新打包")
        try:
            if member.is_dir() or stat.S_ISDIR(member.external_attr >> 16):
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as sink:  # x: never over a file or a link already there
                total += _inflate_counting(archive, member, name, limits, sink)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise ArchiveRefused(f"{name}: {PurePosixPath(*parts)} 既是文件又是文件夹（名称冲突）；"
                                 "请重新打包") from None
        if total > limits.total_bytes:
            raise ArchiveRefused(f"{name}: 解压后超过上限 {_size(limits.total_bytes)}（目录与内容不符），拒绝解压")
        written += 1
    return written
