"""Every setting of a Guji installation: one frozen object, read from the environment once.

The entry point of a process reads it — the `guji` command (:func:`main` of web/cli.py), a web
worker (web/commands.py), an ingest job (web/staff/jobs.py) — with :meth:`Settings.from_environ`,
which checks every ``GUJI_*`` variable and refuses a bad value with a message naming it
(:class:`~repository.errors.SettingError`). It is then passed down: the CLI context and the web
app hold it, and every :class:`~repository.catalogue.Catalogue` carries it (``catalogue.settings``),
which is how the functions that work on the collection reach it. The URL builders, which get no
catalogue, ask :func:`current` — the settings the entry point installed with :func:`use`.

docs/settings.md lists every setting (its table is generated from the fields here).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import SettingError

# Variables Guji sets for its own child processes; not settings a person chooses.
INTERNAL = {
    "GUJI_SERVE_PID": "set by `guji serve` for its web workers, which end when it ends",
    "GUJI_SERVED_URL": "set by `guji serve` for its processes: the address it listens at, the public URL "
                       "while GUJI_PUBLIC_URL is not set (web/public_address.py)",
    "GUJI_LIFELINE_FD": "the pipe a child process watches to end with its parent (repository/process_tree.py)",
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class _Bad(ValueError):
    """A value a parser cannot use; the message says what the value must be (Chinese)."""


def _text(value: str) -> str:
    return value


def _path(value: str) -> Path:
    return Path(value).expanduser()


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
            raise _Bad(f"应为 {low} 到 {high} 之间的整数")
        return int(value)

    return parse


def _positive(what: str, example: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if not 0 < number <= 1_000_000_000:  # also refuses nan and inf
            raise _Bad(f"应为大于 0 的{what}，如 {example}")
        return number

    return parse


_megabytes = _positive("兆字节数", "64 或 0.5")
_hours = _positive("小时数", "72 或 0.5")


def _switch(value: str) -> bool:
    lowered = value.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise _Bad(f"应为 {'、'.join(TRUE_WORDS)}（开）或 {'、'.join(FALSE_WORDS)}（关）")


def _one_of(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise _Bad(f"应为 {'、'.join(choices)} 之一")
        return lowered

    return parse


def _public_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or any(character.isspace() for character in value):
        raise _Bad("不是网站地址：应写成 http(s)://主机名[:端口]，例如 https://guji.example.cn 或 "
                   "http://192.168.1.20:8000")
    try:
        _ = parts.port  # urlsplit checks the port only when asked
    except ValueError:
        raise _Bad("其中的端口不是 1–65535 的数字") from None
    return value.rstrip("/")


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _Bad("不是时区名：请写 IANA 时区名，如 Asia/Shanghai（北京时间）或 Asia/Taipei；"
                   "不设则用北京时间") from None
    return value


def _networks(value: str) -> tuple[str, ...]:
    entries = tuple(entry.strip() for entry in value.split(",") if entry.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False) if "/" in entry else ipaddress.ip_address(entry)
        except ValueError:
            raise _Bad(f"「{entry}」不是 IP 地址或网段（如 127.0.0.1 或 10.0.0.0/8）；请列出 Guji 前面的反向代理，"
                       "用逗号分隔") from None
    return entries


def _storage(value: str) -> str:
    from .object_bucket import S3Location

    try:
        return str(S3Location.parse(value))
    except ValueError as error:
        raise _Bad(str(error)) from None


def _redis_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        _ = parts.port
    except ValueError:
        raise _Bad("其中的端口不是 1–65535 的数字") from None
    network = parts.scheme in ("redis", "rediss")
    if not (network or parts.scheme == "unix") or (network and not parts.hostname) \
            or (network and not re.fullmatch(r"(/[0-9]{1,5})?/?", parts.path)) \
            or any(character.isspace() or not character.isprintable() for character in value):
        raise _Bad("不是 Redis 地址：应写成 redis://主机名:6379/0（有密码时 redis://:密码@主机名:6379/0，"
                   "TLS 用 rediss://）；不设则任务在本机运行")
    return value


def _setting(variable: str, parse: Callable[[str], Any], default: Any, description: str, shown_default: str = "",
             internal: bool = False):
    """A field read from `variable` by `parse`; `description` and `shown_default` are for docs/settings.md
    (`internal`: set by Guji for its own processes, listed apart)."""
    return field(default=default, metadata={"variable": variable, "parse": parse, "description": description,
                                            "default": shown_default or ("—" if default in (None, "", ()) else
                                                                         str(default)), "internal": internal})


@dataclass(frozen=True)
class Settings:
    """The settings of one Guji installation (docs/settings.md)."""

    # where things are
    home: Path | None = _setting("GUJI_HOME", _path, None, "the data home (`--home` wins)", "./guji-data")
    database_url: str | None = _setting("GUJI_DATABASE_URL", _text, None, "SQLAlchemy URL of the catalogue database",
                                        "catalogue.sqlite in the data home")
    storage: str | None = _setting("GUJI_STORAGE", _storage, None,
                                   "where the OCFL storage root and the tiles are: s3://bucket/prefix on an "
                                   "S3-compatible object store (endpoint and keys: the AWS_* variables; "
                                   "docs/scale-out.md)", "ocfl/ and derivatives/ in the data home")
    fixity_read_mb_per_second: float | None = _setting(
        "GUJI_FIXITY_READ_MB_S", _positive("兆字节每秒", "100 或 20"), None,
        "how fast `guji fixity` may read stored files (MB/s), so a check does not starve readers",
        "unlimited on a local disk, 100 on S3")
    storage_cache_mb: float = _setting("GUJI_STORAGE_CACHE_MB", _megabytes, 20480.0,
                                       "with GUJI_STORAGE=s3://…: local disk for masters fetched from the store to "
                                       "make tiles, pyramids and OCR from (MB; oldest out first)", "20480 (20 GB)")
    mirror_mb: float = _setting("GUJI_MIRROR_MB", _megabytes, 20480.0,
                                "with GUJI_STORAGE=s3://…: local disk for the tiles and sizes a web node fetched from "
                                "the bucket (MB; least recently used out first)", "20480 (20 GB)")
    incoming: Path | None = _setting("GUJI_INCOMING", _path, None,
                                     "where the staff workspace's ingest page finds book folders",
                                     "incoming/ in the data home")
    build_dir: Path | None = _setting("GUJI_BUILD_DIR", _path, None,
                                      "with GUJI_STORAGE=s3://… and `guji worker`s on several hosts: a folder they "
                                      "all see at this path (a shared file system, like GUJI_INCOMING), where ingest "
                                      "copies the masters and makes the tiles before they go to the bucket "
                                      "(docs/scale-out.md)", "derivatives/ in the data home")
    index_dir: Path | None = _setting("GUJI_INDEX_DIR", _path, None,
                                      "this node's search index: a local folder each web node keeps for itself, "
                                      "fed from the shared event log (docs/deployment.md)", "index/ in the data home")
    session_key_file: Path | None = _setting("GUJI_SESSION_KEY_FILE", _path, None,
                                             "the file with the key that signs staff cookies and forms: the same "
                                             "file on every web node (docs/deployment.md)",
                                             "secrets/session.key in the data home, made on first use")
    mirador_dir: Path | None = _setting("GUJI_MIRADOR_DIR", _path, None,
                                        "Mirador's dist folder (for a packaged install)", "node_modules/mirador/dist")
    # the public site
    public_url: str | None = _setting("GUJI_PUBLIC_URL", _public_url, None,
                                      "the address the public reaches the site at: IIIF ids, permalinks and OAI "
                                      "identifiers start with it (docs/web.md)",
                                      "the address `guji serve` listens at (http://127.0.0.1:8000)")
    served_url: str | None = _setting("GUJI_SERVED_URL", _public_url, None, INTERNAL["GUJI_SERVED_URL"],
                                      internal=True)
    timezone: str = _setting("GUJI_TIMEZONE", _timezone, "Asia/Shanghai",
                             "the time zone people read times in (IANA name); stored times stay UTC",
                             "Asia/Shanghai (北京时间)")
    site_name: str = _setting("GUJI_SITE_NAME", _text, "古籍与地方文献数字典藏",
                              "the site's name in the page header, e.g. 如皋市图书馆古籍数字典藏")
    trusted_proxies: tuple[str, ...] = _setting("GUJI_TRUSTED_PROXIES", _networks, (),
                                                "reverse proxies whose X-Forwarded-For is believed (addresses or "
                                                "networks, comma-separated; docs/web.md)")
    upload_limit_mb: float = _setting("GUJI_UPLOAD_LIMIT_MB", _megabytes, 10.0,
                                      "largest request to the staff workspace (MB): a form, a revision sheet")
    upload_file_limit_mb: float = _setting("GUJI_UPLOAD_FILE_LIMIT_MB", _megabytes, 1024.0,
                                           "largest file of scans uploaded from the browser, and the largest file "
                                           "inside an uploaded zip (MB)")
    upload_book_limit_mb: float = _setting("GUJI_UPLOAD_BOOK_LIMIT_MB", _megabytes, 204800.0,
                                           "largest upload of one book from the browser: all its files, or its "
                                           "zip unpacked (MB)", "204800 (200 GB)")
    upload_expiry_hours: float = _setting("GUJI_UPLOAD_EXPIRY_HOURS", _hours, 72.0,
                                          "an upload of scans nobody continued for this long is removed, and so "
                                          "is a revision sheet previewed but never applied (hours)")
    render_threads: int | None = _setting("GUJI_RENDER_THREADS", _whole(1, 256), None,
                                          "threads per web process that render dynamic IIIF images", "one per core")
    render_cache_mb: float = _setting("GUJI_RENDER_CACHE_MB", _megabytes, 64.0,
                                      "memory per web process for rendered IIIF images (MB)")
    tile_cache_mb: float = _setting("GUJI_TILE_CACHE_MB", _megabytes, 128.0,
                                    "memory per web process for decoded pyramid tiles (MB)")
    # who
    editor: str | None = _setting("GUJI_EDITOR", _text, None, "who the CLI records as editor (`--editor` wins)",
                                  "the login name")
    # ingest and OCR
    ingest_workers: int | None = _setting("GUJI_INGEST_WORKERS", _whole(1, 256), None,
                                          "worker processes of an ingest job started from the staff workspace",
                                          "one per core")
    ocr_workers: int | None = _setting("GUJI_OCR_WORKERS", _whole(1, 256), None,
                                       "worker processes of an OCR job started from the staff workspace",
                                       "one per core")
    ocr_engine: str = _setting(  # checked against the engines there are when one is opened (ingest/ocr_engine.py)
        "GUJI_OCR_ENGINE", str.lower, "faster-paddle", "OCR engine: faster-paddle or rapidocr (`--engine` wins)")
    ocr_max_side: int = _setting("GUJI_OCR_MAX_SIDE", _whole(1000, 6000), 3000,
                                 "long side (pixels) of the image text detection sees: more is more accurate and "
                                 "slower (large pages are read in strips, so memory stays bounded: docs/ocr.md)")
    ocr_on_ingest: bool = _setting("GUJI_OCR_ON_INGEST", _switch, False,
                                   "OCR every book right after its ingest (`--ocr` / `--no-ocr` win)", "off")
    # the shared job queue (docs/scale-out.md)
    queue_url: str | None = _setting("GUJI_QUEUE", _redis_url, None,
                                     "Redis URL of the shared job queue: the staff workspace's ingest and OCR jobs "
                                     "go to `guji worker` processes on any machine (docs/scale-out.md)",
                                     "none: jobs run on the web server's machine")
    worker_heartbeat: int = _setting("GUJI_WORKER_HEARTBEAT", _whole(1, 300), 10,
                                     "seconds between a `guji worker`'s signs of life; the job of a worker silent "
                                     "for three of them is given to another worker")
    # search
    search_backend: str = _setting("GUJI_SEARCH_BACKEND", _one_of("whoosh", "tantivy"), "whoosh",
                                   "search engine: whoosh or tantivy (`--backend` wins)")
    whoosh_processes: int | None = _setting("GUJI_WHOOSH_PROCS", _whole(1, 4), None,
                                            "writer processes of a whoosh rebuild", "one per core, at most 4")
    # OAI-PMH
    oai_page_size: int = _setting("GUJI_OAI_PAGE_SIZE", _whole(1, 100_000), 100, "records per OAI-PMH page")
    oai_repository_name: str = _setting("GUJI_OAI_REPOSITORY_NAME", _text, "Guji 古籍与地方文献数字化典藏",
                                        "repositoryName in OAI-PMH Identify")
    oai_admin_email: str = _setting("GUJI_OAI_ADMIN_EMAIL", _text, "", "adminEmail in OAI-PMH Identify",
                                    "oai-admin@ the public host")
    oai_sets: bool = _setting("GUJI_OAI_SETS", _switch, True,
                              "whether OAI-PMH offers sets (四部 branches, local documents)", "on")
    # printed outputs
    cjk_font: Path | None = _setting("GUJI_CJK_FONT", _path, None,
                                     "the CJK font file embedded in guide-card and dossier PDFs",
                                     "Debian's AR PL UMing")
    cjk_font_index: int = _setting("GUJI_CJK_FONT_INDEX", _whole(0, 255), 0, "which face of a font collection (.ttc)")
    dossier_pages: int = _setting("GUJI_DOSSIER_PAGES", _whole(1, 50), 2, "书影 per dossier (`--count` wins)")
    dossier_image_width: int = _setting("GUJI_DOSSIER_IMAGE_WIDTH", _whole(100, 4000), 1200,
                                        "书影 width in pixels (`--width` wins)")

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings in `environ` (default: this process's environment). An empty variable is unset;
        a value that cannot be used raises SettingError naming the variable and what it must be."""
        environ = os.environ if environ is None else environ
        values = {}
        for item in fields(cls):
            written = (environ.get(item.metadata["variable"]) or "").strip()
            if not written:
                continue
            try:
                values[item.name] = item.metadata["parse"](written)
            except _Bad as bad:
                shown = written if len(written) <= 60 else written[:60] + "…"
                raise SettingError(f"设置 {item.metadata['variable']}={shown!r} 无法使用：{bad}（见 docs/settings.md）",
                                   english=f"{item.metadata['variable']}={shown!r} cannot be used") from None
        if values.get("build_dir") and not values.get("storage"):
            raise SettingError("设置 GUJI_BUILD_DIR 只在 GUJI_STORAGE=s3://… 时使用：存储根在本机时，"
                               "切片就做在数据目录的 derivatives/ 中并从那里提供；"
                               "请去掉 GUJI_BUILD_DIR（见 docs/scale-out.md）",
                               english="GUJI_BUILD_DIR is used only with GUJI_STORAGE=s3://…")
        return cls(**values)

    @property
    def upload_limit(self) -> int:
        """The upload limit in bytes."""
        return int(self.upload_limit_mb * 1024 * 1024)

    @property
    def public_address(self) -> str:
        """The base URL every absolute URL Guji writes starts with: GUJI_PUBLIC_URL, else the address
        `guji serve` listens at, else its default address."""
        return self.public_url or self.served_url or "http://127.0.0.1:8000"


def documented() -> list[dict]:
    """Each setting as docs/settings.md lists it: variable, field, default, description (the internal
    variables aside: INTERNAL)."""
    return [{"variable": item.metadata["variable"], "field": item.name, "default": item.metadata["default"],
             "description": item.metadata["description"], "required": item.default is MISSING}
            for item in fields(Settings) if not item.metadata["internal"]]


_installed: Settings | None = None


def use(settings: Settings | None) -> None:
    """Make `settings` this process's (the entry point calls it once, after reading them)."""
    global _installed
    _installed = settings


def current() -> Settings:
    """The settings the process's entry point installed; without one (a library caller, a test) they are
    read from the environment as it is now."""
    return _installed if _installed is not None else Settings.from_environ()
