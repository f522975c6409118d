"""Reasons of versions written by Guji itself before they were Chinese only, as staff and readers read them.

Older data homes keep version reasons such as ``入藏影像 ingest 9 new or changed page scan(s) of 9 from
qizheng-tuibu`` in their OCFL inventories (stored as written, never changed). Pages and the CLI show
them in the Chinese form Guji writes now; any other reason — a person's — is shown as typed.
"""

from __future__ import annotations

import re

TEXT_FORMAT_NAMES = {"kanripo": "Kanripo", "plain": "纯文本", "page-xml": "PAGE-XML", "hocr": "hOCR"}  # 全文格式
_INGEST = re.compile(r"入藏影像 ingest (\d+) new or changed page scan\(s\) of (\d+) from (.+?)"
                     r"(?:, (\d+) page\(s\) removed)?")
_TEXT = re.compile(r"导入全文 import ([\w-]+) text: (\d+) pages from (.+)")
_FIXED = {
    "入藏影像时新建 card created at ingest": "入藏影像时新建卡片",
    "按版心叶次恢复页面标签 page labels from the 版心": "按版心叶次恢复页面标签",
}


def readable_reason(reason: str | None) -> str:
    text = str(reason or "")
    if text in _FIXED:
        return _FIXED[text]
    if match := _INGEST.fullmatch(text):
        changed, total, folder, removed = match.groups()
        removed_text = f"，移除 {removed} 叶" if removed else ""
        return f"入藏影像：{folder} 的 {total} 叶中新增或更换 {changed} 叶{removed_text}"
    if match := _TEXT.fullmatch(text):
        kind, pages, sources = match.groups()
        return f"导入全文（{TEXT_FORMAT_NAMES.get(kind, kind)}）：{pages} 叶，来自 {'、'.join(sources.split(', '))}"
    return text
