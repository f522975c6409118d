"""The audit log in words staff read: each event kind and detail key named in Chinese (and English for
the English switch), values as text rather than JSON. The events table itself keeps its short English
codes (create, text-import, user-add …): they are what `guji` and the API filter by."""

from __future__ import annotations

import json

from guji.repository.parse import in_language
from guji.repository.version_reasons import TEXT_FORMAT_NAMES, readable_reason

# kind → (中文, English)
EVENT_KINDS = {
    "init": ("建立数据目录", "data home created"),
    "create": ("新建卡片", "card created"),
    "edit": ("修改卡片", "card edited"),
    "import": ("导入卡片", "cards imported"),
    "ingest": ("入藏影像", "scans ingested"),
    "tiles-rebuild": ("重建切片", "tiles rebuilt"),
    "text-import": ("导入全文", "text imported"),
    "text-correction": ("校对全文", "text corrected"),
    "ocr": ("文字识别", "OCR"),
    "iiif-import": ("导入 IIIF 清单", "IIIF manifest imported"),
    "fixity": ("固定性检查", "fixity check"),
    "fixity-failure": ("固定性检查发现问题", "fixity failure"),
    "rebuild-db": ("重建目录数据库", "catalogue DB rebuilt"),
    "recover": ("补完中断的保存", "interrupted saves finished"),
    "reindex": ("重建检索索引", "search index rebuilt"),
    "reindex-request": ("请各节点重建检索索引", "search index rebuild asked of every node"),
    "login": ("登录", "sign-in"),
    "login-failed": ("登录失败", "failed sign-in"),
    "login-throttled": ("登录被限速", "sign-in slowed down"),
    "logout": ("退出", "sign-out"),
    "user-add": ("添加用户", "user added"),
    "user-disable": ("停用或启用用户", "user disabled or enabled"),
    "user-password": ("设置密码", "password set"),
    "user-role": ("更改角色", "role changed"),
}
# detail key → (中文, English)
DETAIL_KEYS = {
    "reason": ("原因", "reason"), "version": ("版次", "version"), "warnings": ("提示", "warnings"),
    "file": ("文件", "file"), "created": ("新建", "created"), "revised": ("修改", "revised"),
    "unchanged": ("无变化", "unchanged"), "rejected": ("错误行", "rejected"), "pages": ("叶数", "pages"),
    "changed": ("新增或更换", "changed"), "removed": ("移除", "removed"), "book_dir": ("文件夹", "folder"),
    "format": ("格式", "format"), "sources": ("来源文件", "sources"), "address": ("地址", "address"),
    "role": ("角色", "role"), "user": ("用户", "user"), "root": ("数据目录", "data home"),
    "sessions_ended": ("结束的会话", "sessions ended"), "cards": ("卡片", "cards"), "skipped": ("跳过", "skipped"),
    "objects": ("对象", "objects"), "files": ("文件数", "files"), "problems": ("问题", "problems"),
    "disabled": ("已停用", "disabled"), "name": ("用户名", "name"), "engine": ("引擎", "engine"),
    "origin": ("来源", "origin"), "page": ("叶", "page"), "indexed": ("已索引", "indexed"),
}
TRUE_FALSE = {"zh": ("是", "否"), "en": ("yes", "no")}
VALUES = {"role": {"admin": "管理员", "cataloguer": "编目员"},
          "format": TEXT_FORMAT_NAMES}


def event_kind(kind: str, language: str = "zh") -> str:
    names = EVENT_KINDS.get(kind)
    return names[1 if language == "en" else 0] if names else kind


def detail_key(key: str, language: str = "zh") -> str:
    names = DETAIL_KEYS.get(key)
    return names[1 if language == "en" else 0] if names else key


def detail_value(value, language: str = "zh", key: str = "") -> str:
    if key == "reason":
        return readable_reason(str(value))
    if key in VALUES and isinstance(value, str) and language != "en":
        return VALUES[key].get(value, value)
    if key == "warnings" and isinstance(value, list):  # the parsers' warnings, without their English gloss
        return "；".join(in_language(str(item), language) for item in value)
    if isinstance(value, bool):
        return TRUE_FALSE[language if language == "en" else "zh"][0 if value else 1]
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return "、".join(str(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
