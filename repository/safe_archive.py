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
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
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
        raise ArchiveRefused(f"{name}: 不是有效的 zip 文件（Excel 工作簿 .xlsx 是 zip 格式）；文件可能已损坏或不完整，"
                             "请在 Excel 中重新另存为 .xlsx") from None
    with archive:
        members = archive.infolist()
        _check_directory(members, name, limits)
        for member in members:
            _inflate_counting(archive, member, name, limits)


def _check_directory(members: list[zipfile.ZipInfo], name: str, limits: ArchiveLimits) -> None:
    if len(members) > limits.members:
        raise ArchiveRefused(f"{name}: 压缩包内有 {len(members)} 个文件，超过上限 {limits.members}；"
                             "这不像是一个 Excel 工作簿")
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise ArchiveRefused(f"{name}: 文件已加密（设了打开密码）；请在 Excel 中取消密码后另存")
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


def _inflate_counting(archive: zipfile.ZipFile, member: zipfile.ZipInfo, name: str, limits: ArchiveLimits) -> None:
    """Inflate one member block by block, counting what comes out (the directory can lie)."""
    allowed = min(member.file_size, limits.member_bytes)
    scan = bool(_XML_MEMBER.search(member.filename))
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
        raise ArchiveRefused(f"{name}: 其中的 {member.filename} {reason}；请在 Excel 中重新另存为 .xlsx") from None
    if count > allowed:
        raise ArchiveRefused(
            f"{name}: 其中的 {member.filename} 解压出的数据比文件目录所记的 {_size(member.file_size)} 更多"
            f"（目录与内容不符，疑似“压缩炸弹”），拒绝读取")
