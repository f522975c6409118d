"""Zip bombs for tests, built in milliseconds.

A deflate stream cut with a full flush ends on a byte boundary and refers to nothing before it,
so one compressed chunk repeated N times inflates to N copies of its input: 300 MiB of XML from
0.3 MB of zip. The zip itself is written by hand (local headers, central directory), which also
lets a test make the directory lie about a member's size.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"


def _raw_deflate(data: bytes, final: bool = True) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def repeated_member(head: bytes, block: bytes, copies: int, tail: bytes) -> tuple[bytes, int, int]:
    """(raw deflate, crc32, inflated size) of head + block × copies + tail."""
    chunk = _raw_deflate(block, final=False)
    crc = zlib.crc32(head)
    for _ in range(copies):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(tail, crc)
    data = _raw_deflate(head, final=False) + chunk * copies + _raw_deflate(tail)
    return data, crc, len(head) + len(block) * copies + len(tail)


def write_zip(path: Path, members: list[tuple[str | bytes, bytes, int, int]]) -> Path:
    """members: (name, raw deflate data, crc32, inflated size as the directory declares it); a name
    given as bytes is written as it is, without the UTF-8 flag (as old and Windows zips do)."""
    out = io.BytesIO()
    central = io.BytesIO()
    for name, data, crc, declared in members:
        offset = out.tell()
        encoded = name if isinstance(name, bytes) else name.encode()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), declared,
                              len(encoded), 0) + encoded + data)
        central.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), declared,
                                  len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central.getvalue()),
                          start, 0))
    path.write_bytes(out.getvalue())
    return path


def xlsx_bomb(path: Path, mib: int = 300, declared: int | None = None) -> Path:
    """A real workbook (header 索书号, 题名 and one card) whose sheet1.xml carries `mib` MiB of
    blank space between its rows; `declared` makes the directory claim another size."""
    workbook = openpyxl.Workbook()
    workbook.active.append(["索书号", "题名"])
    workbook.active.append(["炸弹0001", "某書"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    members = []
    with zipfile.ZipFile(buffer) as source:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == SHEET:
                head, tail = content.split(b"</row>", 1)
                data, crc, size = repeated_member(head + b"</row>", b" " * (1 << 20), mib, tail)
                members.append((info.filename, data, crc, size if declared is None else declared))
            else:
                data = _raw_deflate(content)
                members.append((info.filename, data, zlib.crc32(content), len(content)))
    return write_zip(path, members)
