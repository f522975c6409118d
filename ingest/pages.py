"""Find the page scans in a book folder and refuse bad input before anything is stored.

The checks here are the cheap ones, run on every file before any work starts: zero-byte files,
files that are not TIFF/JPEG/PNG images, headers that cannot be read, decompression bombs
(more pixels than the limit), duplicate page numbers, a `structure.json` that names missing
files, and a vendor checksum file that lists missing files. Decoding every pixel (corrupt or
truncated images) and comparing vendor checksums happen while the pages are processed, still
before anything is stored (see :mod:`ingest.pipeline`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from guji.repository.errors import Refused

DEFAULT_PIXEL_LIMIT = 300_000_000  # 300 megapixels

IGNORED_NAMES = {"thumbs.db", ".ds_store", "desktop.ini"}
SILENTLY_IGNORED = {"READY"}  # the hot folder's marker (ingest.watch)
STRUCTURE_FILE = "structure.json"
CHECKSUM_NAMES = {"md5sums.txt", "manifest-md5.txt", "sha256sums.txt", "manifest-sha256.txt",
                  "sha512sums.txt", "manifest-sha512.txt", "checksums.md5", "checksums.sha256"}
CHECKSUM_SUFFIXES = {".md5": "md5", ".sha256": "sha256", ".sha512": "sha512"}
DIGEST_LENGTHS = {32: "md5", 64: "sha256", 128: "sha512"}

# Recognised by content, not by name.
SIGNATURES = [
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"II+\x00", "TIFF"), (b"MM\x00+", "TIFF"),
    (b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"),
]
OTHER_FORMATS = [
    (b"GIF8", "GIF"), (b"BM", "BMP"), (b"%PDF", "PDF"), (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"), (b"RIFF", "RIFF/WebP"), (b"PK\x03\x04", "ZIP"),
]
EXTENSIONS = {".tif": "TIFF", ".tiff": "TIFF", ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}


class BookRefused(Refused):
    """The book folder cannot be ingested as it is. `problems` name each file and the reason;
    nothing was stored."""

    def __init__(self, book_dir: Path, problems: list[str], report_path: Path | None = None):
        self.book_dir = book_dir
        self.problems = problems
        self.report_path = report_path
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{book_dir}：拒收，什么都没有保存（{len(problems)} 处问题）：\n{lines}")


@dataclass(frozen=True)
class PageScan:
    """One page scan in the book folder, in reading order."""

    number: int  # 1, 2, 3 … in reading order
    path: Path
    size: int  # bytes
    format: str  # TIFF, JPEG or PNG
    width: int
    height: int
    bands: int
    sample_format: str  # libvips band format: uchar, ushort …
    vendor_digests: dict[str, str] = field(default_factory=dict)  # algorithm → hex, from a checksum file

    @property
    def page(self) -> str:
        """The page folder name in the derivatives: 0001, 0002 …"""
        return f"{self.number:04d}"

    @property
    def master(self) -> str:
        """Logical path of the master in the OCFL object (original extension, lower case)."""
        return f"masters/{self.page}{self.path.suffix.lower()}"


@dataclass
class BookScan:
    book_dir: Path
    pages: list[PageScan]
    warnings: list[str]
    structure: dict | None  # the book folder's own structure.json, if any
    checksum_files: list[str]


def natural_key(name: str) -> tuple:
    """Sort key that orders 1.png, 2.png, 10.png; equal keys mean the same page number
    (0001.tif and 0001.jpg, or 1.png and 001.png)."""
    stem = name.rsplit(".", 1)[0].lower()
    # [0-9] only: str.isdigit() is true for ²/①, which int() refuses
    return tuple((0, int(part), "") if part.isascii() and part.isdigit() else (1, 0, part)
                 for part in re.split(r"([0-9]+)", stem) if part)


def sniff_format(path: Path) -> tuple[str | None, str | None]:
    """(supported format, other known format) from the first bytes of the file."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name, None
    for signature, name in OTHER_FORMATS:
        if head.startswith(signature):
            return None, name
    return None, None


def read_checksum_file(path: Path) -> tuple[str | None, dict[str, str], list[str]]:
    """Parse an `md5sum`/`sha256sum` style file: (algorithm, name → digest, problems)."""
    algorithm = CHECKSUM_SUFFIXES.get(path.suffix.lower())
    for name in ("md5", "sha256", "sha512"):
        if algorithm is None and name in path.name.lower():
            algorithm = name
    digests: dict[str, str] = {}
    problems = []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        return None, {}, [f"{path.name}：校验和文件不是 UTF-8 文本"]
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^([0-9a-fA-F]+)\s+\*?(.+?)\s*$", line)
        if not match or len(match.group(1)) not in DIGEST_LENGTHS:
            problems.append(f"{path.name} 第 {line_number} 行：不是「校验和  文件名」的格式：{line[:80]!r}")
            continue
        digest, name = match.group(1).lower(), match.group(2)
        name = name[2:] if name.startswith("./") else name
        line_algorithm = DIGEST_LENGTHS[len(digest)]
        if algorithm is None:
            algorithm = line_algorithm
        elif line_algorithm != algorithm:
            problems.append(f"{path.name} 第 {line_number} 行：{algorithm} 文件里混有 {line_algorithm} 校验和")
            continue
        digests[name] = digest
    return algorithm, digests, problems


def is_bag(book_dir: Path) -> bool:
    return (Path(book_dir) / "bagit.txt").is_file()


def open_bag(bag_dir: Path) -> tuple[Path, dict[str, dict[str, str]]]:
    """Validate a BagIt bag (every payload file against its manifests) and return its payload
    folder and the manifest digests (file name in the payload → algorithm → digest)."""
    import bagit

    try:
        bag = bagit.Bag(str(bag_dir))
        bag.validate()
    except bagit.BagValidationError as error:
        details = [str(detail) for detail in (error.details or [])]
        if not details:  # e.g. Payload-Oxum: bagit stops before naming the file; find it
            details = [str(error), *_bag_file_problems(bag_dir, bag)]
        raise BookRefused(bag_dir, [f"BagIt: {detail}" for detail in details]) from None
    except bagit.BagError as error:
        raise BookRefused(bag_dir, [f"BagIt: {error}"]) from None
    digests: dict[str, dict[str, str]] = {}
    for path, by_algorithm in bag.payload_entries().items():
        relative = path.split("/", 1)[1] if path.startswith("data/") else path
        if "/" not in relative:
            digests[relative] = {alg: d.lower() for alg, d in by_algorithm.items() if alg in ("md5", "sha256",
                                                                                             "sha512", "sha1")}
    return Path(bag_dir) / "data", digests


def _bag_file_problems(bag_dir: Path, bag) -> list[str]:
    import hashlib

    problems = []
    for path, by_algorithm in sorted(bag.payload_entries().items()):
        target = Path(bag_dir) / path
        if not target.is_file():
            problems.append(f"{path} 列在清单里，但文件不在")
            continue
        for algorithm, expected in by_algorithm.items():
            digest = hashlib.new(algorithm)
            with open(target, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023
                    digest.update(block)
            if digest.hexdigest() != expected.lower():
                problems.append(f"{path} 的 {algorithm} 校验不符：应为 {expected}，实为 {digest.hexdigest()}")
    return problems


@dataclass
class _Listing:
    """The entries of a book folder sorted by kind (the first step of :func:`scan_book`)."""

    candidates: list[tuple[Path, str]] = field(default_factory=list)  # page scans and their sniffed format
    checksum_files: list[Path] = field(default_factory=list)
    structure_file: Path | None = None
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def scan_book(book_dir: Path, pixel_limit: int = DEFAULT_PIXEL_LIMIT) -> BookScan:
    """List and check the page scans of `book_dir` (a folder or a BagIt bag); raises
    :class:`BookRefused` naming every bad file. The steps: sort the folder's entries
    (:func:`list_entries`), then duplicate page numbers, the vendor's checksum files, each image's
    header (size, pixel limit), the order of the folder's own structure.json."""
    book_dir = Path(book_dir)
    if not book_dir.is_dir():
        raise BookRefused(book_dir, [f"{book_dir}: no such folder"])
    bag_digests: dict[str, dict[str, str]] = {}
    if is_bag(book_dir):
        book_dir, bag_digests = open_bag(book_dir)
    listing = list_entries(book_dir)
    problems, warnings = listing.problems, listing.warnings
    problems.extend(duplicate_numbers(listing.candidates))
    vendor, checksum_problems = vendor_checksums(book_dir, listing.checksum_files)
    problems.extend(checksum_problems)
    headers, header_problems = read_headers(listing.candidates, pixel_limit)
    problems.extend(header_problems)
    if listing.checksum_files:
        listed = "、".join(f.name for f in listing.checksum_files)
        warnings.extend(f"{path.name}：没有列在 {listed} 里"
                        for path, _ in listing.candidates if path.name not in vendor)
    ordered = [path for path, _ in listing.candidates]
    structure = None
    if listing.structure_file is not None:
        structure, structure_problems = read_structure(listing.structure_file, [p.name for p in ordered])
        problems.extend(structure_problems)
        if not structure_problems:
            position = {entry["file"]: index for index, entry in enumerate(structure["pages"])}
            ordered.sort(key=lambda p: position[p.name])
    if not listing.candidates and not problems:
        problems.append(f"{book_dir}：没有找到书页影像（TIFF、JPEG 或 PNG）")
    if problems:
        raise BookRefused(book_dir, problems)

    for name, digests in bag_digests.items():
        vendor.setdefault(name, {}).update(digests)
    formats = dict((path.name, found) for path, found in listing.candidates)
    pages = [PageScan(number, path, path.stat().st_size, formats[path.name], *headers[path.name],
                      vendor.get(path.name, {})) for number, path in enumerate(ordered, start=1)]
    checksum_names = [f.name for f in listing.checksum_files] + (["BagIt manifest"] if bag_digests else [])
    return BookScan(book_dir, pages, warnings, structure, checksum_names)


def list_entries(book_dir: Path) -> _Listing:
    """Sort the folder's entries: page scans (recognised by content, named by the right extension),
    checksum files, structure.json; system files and sub-folders are skipped with a warning, empty
    files and other formats are problems."""
    listing = _Listing()
    for entry in sorted(book_dir.iterdir(), key=lambda p: natural_key(p.name)):
        name = entry.name
        if name in SILENTLY_IGNORED:
            continue
        if name.lower() in IGNORED_NAMES or name.startswith(".") or name.startswith("._"):
            listing.warnings.append(f"{name}：已跳过（系统或隐藏文件，不是书页）")
        elif entry.is_dir():
            listing.warnings.append(f"{name}/：已跳过（不读子文件夹）")
        elif name == STRUCTURE_FILE:
            listing.structure_file = entry
        elif name.lower() in CHECKSUM_NAMES or entry.suffix.lower() in CHECKSUM_SUFFIXES:
            listing.checksum_files.append(entry)
        elif (problem := _scan_problem(entry)) is not None:
            listing.problems.append(problem)
        else:
            listing.candidates.append((entry, EXTENSIONS[entry.suffix.lower()]))
    return listing


def _scan_problem(entry: Path) -> str | None:
    """Why a file that should be a page scan is not one (empty, another format, a wrong extension)."""
    name = entry.name
    if entry.stat().st_size == 0:
        return f"{name}：文件是 0 字节（影像没有拷贝完整）；请重新拷贝"
    found, other = sniff_format(entry)
    if found is None and other:
        return f"{name}：不支持的格式（{other}）；书页请用 TIFF、JPEG 或 PNG"
    if found is None:
        return f"{name}：不是图像（不是 TIFF、JPEG 或 PNG）；请把它移出文件夹"
    named = EXTENSIONS.get(entry.suffix.lower())
    if named != found:
        return f"{name}：文件是 {found} 图像，文件名却写作 {named or repr(entry.suffix)}；请改用正确的扩展名"
    return None


def duplicate_numbers(candidates: list[tuple[Path, str]]) -> list[str]:
    """Two files whose names give the same page number (0001.tif and 0001.jpg, 1.png and 001.png)."""
    by_key: dict[tuple, list[str]] = {}
    for path, _ in candidates:
        by_key.setdefault(natural_key(path.name), []).append(path.name)
    return [f"{'、'.join(names)}：页码重复；只保留其中一个" for names in by_key.values() if len(names) > 1]


def vendor_checksums(book_dir: Path, checksum_files: list[Path]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The vendor's checksums (file name → algorithm → digest) and what is wrong with its files."""
    vendor: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for checksum_file in checksum_files:
        algorithm, digests, checksum_problems = read_checksum_file(checksum_file)
        problems.extend(checksum_problems)
        for name, digest in digests.items():
            if not (book_dir / name).is_file():
                problems.append(f"{name}：列在 {checksum_file.name} 里，但不在文件夹中")
            elif algorithm:
                vendor.setdefault(name, {})[algorithm] = digest
    return vendor, problems


def read_headers(candidates: list[tuple[Path, str]], pixel_limit: int
                 ) -> tuple[dict[str, tuple[int, int, int, str]], list[str]]:
    """Each scan's header — width, height, bands, band format — read without decoding the pixels;
    unreadable headers and images over `pixel_limit` (decompression bombs) are problems."""
    import pyvips

    headers: dict[str, tuple[int, int, int, str]] = {}
    problems: list[str] = []
    for path, found in candidates:
        try:
            image = pyvips.Image.new_from_file(str(path), access="sequential")
        except pyvips.Error as error:
            problems.append(f"{path.name}：{found} 图像已损坏，读不出文件头（{_first_line(error)}）；请重新扫描或拷贝")
            continue
        pixels = image.width * image.height
        if pixels > pixel_limit:
            problems.append(
                f"{path.name}：{image.width}×{image.height} = {pixels / 1e6:.0f} 百万像素，超过上限 "
                f"{pixel_limit / 1e6:g} 百万像素（解压炸弹？）；请检查影像，或调高 --pixel-limit")
            continue
        headers[path.name] = (image.width, image.height, image.bands, image.format)
    return headers, problems


def read_structure(path: Path, scan_names: list[str]) -> tuple[dict | None, list[str]]:
    """Light validation of a book folder's own structure.json:
    `{"pages": [{"file": "1.tif", "label": "封面"}, …], "ranges": [{"label": "卷一", "files": [...]}]}`
    — every scan listed exactly once, every listed file present."""
    try:
        structure = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [f"{path.name}：不是有效的 JSON（{error}）"]
    if not isinstance(structure, dict) or not isinstance(structure.get("pages"), list):
        return None, [f'{path.name}：应是含 "pages" 列表的对象']
    problems = []
    seen: set[str] = set()
    for index, entry in enumerate(structure["pages"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            problems.append(f'{path.name}：pages[{index}] 缺少 "file"（文件名）')
            continue
        if entry["file"] not in scan_names:
            problems.append(f"{path.name}：pages[{index}] 写的「{entry['file']}」不是文件夹里的影像")
        if entry["file"] in seen:
            problems.append(f"{path.name}：「{entry['file']}」列了两次")
        seen.add(entry["file"])
    for name in scan_names:
        if name not in seen:
            problems.append(f"{path.name}：影像「{name}」没有列在 pages 里")
    for index, entry in enumerate(structure.get("ranges") or []):
        files = entry.get("files") if isinstance(entry, dict) else None
        if not isinstance(files, list) or not isinstance(entry.get("label"), str):
            problems.append(f'{path.name}：ranges[{index}] 需要 "label"（名称）和 "files" 列表')
            continue
        for name in files:
            if name not in scan_names:
                problems.append(f"{path.name}：ranges[{index}] 写的「{name}」不是文件夹里的影像")
    return structure, problems


def _first_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith("unable to call")]
    return "; ".join(meaningful or lines)[:200]
