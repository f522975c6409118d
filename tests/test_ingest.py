"""Ingest: real scans → masters in OCFL (bit for bit) + static IIIF derivatives; bad input refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pyvips
from cli_support import guji as run_guji
from process_support import descendants, wait_until_gone

from guji.ingest import BookRefused, ingest_book, rebuild_tiles
from guji.ingest.pages import natural_key
from guji.repository import CardNotFound, Conflict

ROOT = Path(__file__).resolve().parents[1]
SCANS = Path(__file__).parent / "fixtures" / "scans"
GUJI = Path(sys.executable).parent / "guji"
OCFL_VALIDATE = Path(sys.executable).parent / "ocfl-validate.py"
CARD = "maoshi-zhushu"
EDITOR = "数字化员"


def ocfl_validate(root: Path) -> subprocess.CompletedProcess:
    """ocfl-validate.py on the storage root and on each object (given only a root, ocfl-py 2.1 exits 0
    however invalid its objects are)."""
    objects = sorted(str(declaration.parent) for declaration in root.glob("*/0=ocfl_object_1.1"))
    return subprocess.run([sys.executable, str(OCFL_VALIDATE), str(root), *objects], capture_output=True, text=True)


@pytest.fixture
def card(catalogue, sample_cards) -> str:
    first = next(c for c in sample_cards if c["id"] == CARD)
    catalogue.create(first, editor="编目员", reason="新建")
    return CARD


@pytest.fixture
def book(tmp_path) -> Path:
    """The real fixture scans: 1.png, 2.png, 10.png (RGB PNG) and v01_024.jpg (grayscale JPEG)."""
    folder = tmp_path / "book"
    shutil.copytree(SCANS, folder, ignore=shutil.ignore_patterns("*.md"), copy_function=shutil.copyfile)
    return folder


def _published_pages(home, object_id: str) -> list[str]:
    folder = home.derivatives / object_id
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def _size(path: Path) -> tuple[int, int]:
    image = pyvips.Image.new_from_file(str(path))
    return image.width, image.height


def test_natural_order():
    names = ["10.png", "2.png", "1.png", "v01_024.jpg", "v01_003.jpg"]
    assert sorted(names, key=natural_key) == ["1.png", "2.png", "10.png", "v01_003.jpg", "v01_024.jpg"]
    assert natural_key("0001.tif") == natural_key("1.jpg")


def test_superscript_and_circled_digits_in_names_are_letters_not_numbers():
    # str.isdigit() is true for ² and ①, int() refuses them: such a name used to crash the scan
    names = ["page².png", "page1.png", "①.png"]
    assert sorted(names, key=natural_key) == ["page1.png", "page².png", "①.png"]


def test_ingest_stores_masters_bit_for_bit_and_builds_derivatives(catalogue, home, card, book):
    (book / "Thumbs.db").write_bytes(b"\x00" * 10)
    report = ingest_book(catalogue, book, card, EDITOR, workers=2)
    store = catalogue.store

    assert report.version == 2
    expected = {"masters/0001.png": "1.png", "masters/0002.png": "2.png", "masters/0003.png": "10.png",
                "masters/0004.jpg": "v01_024.jpg"}
    for master, name in expected.items():
        assert store.read_bytes(card, master) == (book / name).read_bytes()
    assert any("Thumbs.db" in warning for warning in report.warnings)
    result = ocfl_validate(store.root)
    assert result.returncode == 0, result.stdout + result.stderr

    structure = json.loads(store.read_bytes(card, "structure.json"))
    assert [(p["file"], p["leaf"]) for p in structure["pages"]] == [
        ("1.png", "1a"), ("2.png", "1b"), ("10.png", "2a"), ("v01_024.jpg", "2b")]

    # The report: in the object and as a file staff can open.
    staff = json.loads(report.path.read_text(encoding="utf-8"))
    stored_reports = [p for p in store.logical_paths(card) if p.startswith("reports/ingest-")]
    assert len(stored_reports) == 1
    first = staff["pages"][0]
    assert first["file"] == "1.png" and first["bytes"] == (book / "1.png").stat().st_size
    assert first["digests"]["sha512"] == hashlib.sha512((book / "1.png").read_bytes()).hexdigest()
    assert (first["width"], first["height"]) == _size(book / "1.png")

    # The DB follows OCFL; the event is recorded.
    assert catalogue.get(card).version == 2
    assert next(r for r in catalogue.list_rows() if r.id == card).head_version == 2
    assert any(e.kind == "ingest" for e in catalogue.events(card))

    # Derivatives: tiles, full/max, listed sizes, thumbnail; no stray files.
    assert _published_pages(home, card) == ["0001", "0002", "0003", "0004"]
    for page, name in [("0001", "1.png"), ("0004", "v01_024.jpg")]:
        folder = home.derivatives / card / page
        width, height = _size(book / name)
        info = json.loads((folder / "info.json").read_text())
        assert info["id"] == f"iiif/image/{card}/{page}"
        assert (info["width"], info["height"]) == (width, height)
        assert info["tiles"][0]["width"] == 512
        assert _size(folder / "full" / "max" / "0" / "default.jpg") == (width, height)
        assert _size(folder / "0,0,512,512" / "512,512" / "0" / "default.jpg") == (512, 512)
        listed = [(s["width"], s["height"]) for s in info["sizes"]]
        assert [w for w, _ in listed] == [w for w in (150, 300, 600, 1200) if w < width] + [width]
        for w, h in listed:
            assert _size(folder / "full" / f"{w},{h}" / "0" / "default.jpg") == (w, h)
            if w != width:
                assert _size(folder / "full" / f"{w}," / "0" / "default.jpg") == (w, h)
        thumb = _size(folder / "thumbnail.jpg")
        assert thumb[0] <= 200 and thumb[1] <= 300
    assert not list(home.derivatives.rglob("vips-properties.xml"))
    gray = pyvips.Image.new_from_file(str(home.derivatives / card / "0004" / "full" / "max" / "0" / "default.jpg"))
    assert gray.bands == 1 and gray.format == "uchar"


def test_rerun_writes_no_new_version(catalogue, home, card, book):
    ingest_book(catalogue, book, card, EDITOR, workers=1)
    inventory = (catalogue.store.object_path(card) / "inventory.json").read_bytes()
    info_mtime = (home.derivatives / card / "0001" / "info.json").stat().st_mtime_ns
    again = ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert again.version is None
    assert {page.action for page in again.pages} == {"unchanged"}
    assert (catalogue.store.object_path(card) / "inventory.json").read_bytes() == inventory
    assert (home.derivatives / card / "0001" / "info.json").stat().st_mtime_ns == info_mtime
    assert again.path.exists()


def test_sixteen_bit_gray_alpha_and_icc(catalogue, home, card, tmp_path):
    folder = tmp_path / "generated"
    folder.mkdir()
    rgb = pyvips.Image.new_from_file(str(SCANS / "1.png")).crop(0, 0, 700, 900)
    (rgb.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16").tiffsave(str(folder / "0001.tif"))
    gray16 = (rgb.colourspace("b-w").cast("ushort") * 257).cast("ushort").copy(interpretation="grey16")
    gray16.pngsave(str(folder / "0002.png"))
    rgb.bandjoin(255).pngsave(str(folder / "0003.png"))  # RGBA
    rgb.icc_export(output_profile="srgb").tiffsave(str(folder / "0004.tif"))  # with an embedded ICC profile
    assert pyvips.Image.new_from_file(str(folder / "0004.tif")).get_typeof("icc-profile-data")

    report = ingest_book(catalogue, folder, card, EDITOR, workers=1)
    assert report.version == 2
    for page, bands in [("0001", 3), ("0002", 1), ("0003", 3), ("0004", 3)]:
        full = pyvips.Image.new_from_file(str(home.derivatives / card / page / "full" / "max" / "0" / "default.jpg"))
        assert (full.width, full.height, full.bands, full.format) == (700, 900, bands, "uchar")
    staff = json.loads(report.path.read_text(encoding="utf-8"))
    assert staff["pages"][0]["bits"] == 16
    # Brightness survives the 16 → 8 bit conversion.
    tile = pyvips.Image.new_from_file(str(home.derivatives / card / "0001" / "full" / "max" / "0" / "default.jpg"))
    assert abs(tile.avg() - rgb.avg()) < 3


def test_book_structure_json_sets_order_and_labels(catalogue, card, book):
    (book / "structure.json").write_text(json.dumps({
        "pages": [{"file": "v01_024.jpg", "label": "封面"}, {"file": "1.png"}, {"file": "2.png"},
                  {"file": "10.png"}],
        "ranges": [{"label": "卷一", "files": ["1.png", "2.png", "10.png"]}],
    }), encoding="utf-8")
    ingest_book(catalogue, book, card, EDITOR, workers=1)
    structure = json.loads(catalogue.store.read_bytes(card, "structure.json"))
    assert [(p["page"], p["file"], p["label"]) for p in structure["pages"]][:2] == [
        ("0001", "v01_024.jpg", "封面"), ("0002", "1.png", "1b")]
    assert structure["ranges"] == [{"label": "卷一", "pages": ["0002", "0003", "0004"]}]
    assert catalogue.store.read_bytes(card, "masters/0001.jpg") == (book / "v01_024.jpg").read_bytes()


def test_book_structure_json_naming_a_missing_scan_is_refused(catalogue, home, card, book):
    (book / "structure.json").write_text(json.dumps({"pages": [
        {"file": "1.png"}, {"file": "2.png"}, {"file": "3.png"}, {"file": "10.png"}, {"file": "v01_024.jpg"}]}))
    with pytest.raises(BookRefused) as refused:
        ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert refused.value.problems == [
        "structure.json：pages[2] 写的「3.png」不是文件夹里的影像"]
    assert catalogue.store.head(card) == 1 and _published_pages(home, card) == []


def test_missing_card_is_a_clear_error(catalogue, book):
    with pytest.raises(CardNotFound, match="没有标识为「nobody」的卡片"):
        ingest_book(catalogue, book, "nobody", EDITOR, workers=1)


# ---- bad input: refused, naming the file; nothing stored ---------------------------------------


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _zero_byte(book: Path) -> str:
    (book / "2.png").write_bytes(b"")
    return "2.png"


def _not_an_image(book: Path) -> str:
    (book / "notes.txt").write_text("扫描说明", encoding="utf-8")
    return "notes.txt"


def _text_named_tif(book: Path) -> str:
    (book / "0005.tif").write_text("not really a tiff", encoding="utf-8")
    return "0005.tif"


def _unsupported_format(book: Path) -> str:
    pyvips.Image.new_from_file(str(book / "1.png")).crop(0, 0, 50, 50).gifsave(str(book / "11.gif"))
    return "11.gif"


def _truncated_png(book: Path) -> str:
    _truncate(book / "10.png")
    return "10.png"


def _truncated_jpeg(book: Path) -> str:
    _truncate(book / "v01_024.jpg")
    return "v01_024.jpg"


def _duplicate_page_number(book: Path) -> str:
    shutil.copy(book / "1.png", book / "001.png")
    return "001.png"


def _checksum_mismatch(book: Path) -> str:
    lines = [f"{hashlib.md5((book / n).read_bytes()).hexdigest()}  {n}" for n in ("1.png", "2.png", "10.png")]
    lines.append(f"{'0' * 32}  v01_024.jpg")
    (book / "md5sums.txt").write_text("\n".join(lines) + "\n")
    return "v01_024.jpg"


@pytest.mark.parametrize("spoil", [
    _zero_byte, _not_an_image, _text_named_tif, _unsupported_format, _truncated_png, _truncated_jpeg,
    _duplicate_page_number, _checksum_mismatch,
], ids=lambda f: f.__name__.lstrip("_"))
def test_bad_input_is_refused_naming_the_file(catalogue, home, card, book, spoil):
    name = spoil(book)
    with pytest.raises(BookRefused) as refused:
        ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert any(problem.startswith(name) or f" {name}" in problem for problem in refused.value.problems), \
        refused.value.problems
    assert name in str(refused.value)
    assert catalogue.store.head(card) == 1
    assert catalogue.store.logical_paths(card) == ["card.json"]
    assert _published_pages(home, card) == []
    assert refused.value.report_path and refused.value.report_path.exists()


def test_a_refused_ingest_leaves_no_pending_work_behind(catalogue, home, card, book, sample_cards):
    """Pages made before the refusal (copies of masters, tiles) are removed with it: only a killed run
    leaves `.pending` (for the next run to reuse); a book refused on its first ingest leaves no folder."""
    _truncate(book / "10.png")  # found while the pages are made: the other pages are done by then
    with pytest.raises(BookRefused):
        ingest_book(catalogue, book, card, EDITOR, workers=2)
    assert not (home.derivatives / card).exists()
    new_card = {**next(c for c in sample_cards if c["id"] == "yingmeian-yiyu"), "id": "new-book"}
    with pytest.raises(BookRefused):  # the card is not created either
        ingest_book(catalogue, book, "new-book", EDITOR, workers=1, card=new_card)
    assert not (home.derivatives / "new-book").exists()

    shutil.copy(SCANS / "10.png", book / "10.png")
    ingest_book(catalogue, book, card, EDITOR, workers=2)
    (book / "2.png").write_bytes((book / "2.png").read_bytes()[:5000])  # a changed page, truncated
    with pytest.raises(BookRefused):
        ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert sorted(p.name for p in (home.derivatives / card).iterdir()) == ["0001", "0002", "0003", "0004"]
    assert catalogue.store.head(card) == 2


def test_decompression_bomb_over_the_pixel_limit(catalogue, home, card, book):
    with pytest.raises(BookRefused) as refused:
        ingest_book(catalogue, book, card, EDITOR, workers=1, pixel_limit=3_000_000)
    assert any(p.startswith("v01_024.jpg：") and "百万像素" in p for p in refused.value.problems)
    assert not any(p.startswith("1.png") for p in refused.value.problems)
    assert catalogue.store.head(card) == 1 and _published_pages(home, card) == []


def test_matching_vendor_checksums_are_kept_in_the_report(catalogue, card, book):
    lines = [f"{hashlib.sha256((book / n).read_bytes()).hexdigest()}  {n}"
             for n in ("1.png", "2.png", "10.png", "v01_024.jpg")]
    (book / "checksums.sha256").write_text("\n".join(lines) + "\n")
    report = ingest_book(catalogue, book, card, EDITOR, workers=1)
    pages = json.loads(report.path.read_text(encoding="utf-8"))["pages"]
    assert pages[0]["digests"]["sha256"] == hashlib.sha256((book / "1.png").read_bytes()).hexdigest()


def test_bagit_bag_is_validated_and_its_payload_ingested(catalogue, card, book):
    import bagit

    bagit.make_bag(str(book), checksums=["sha256"])
    report = ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert report.version == 2
    assert catalogue.store.read_bytes(card, "masters/0003.png") == (book / "data" / "10.png").read_bytes()
    pages = json.loads(report.path.read_text(encoding="utf-8"))["pages"]
    assert pages[0]["digests"]["sha256"] == hashlib.sha256((book / "data" / "1.png").read_bytes()).hexdigest()


def test_bag_with_a_changed_payload_file_is_refused(catalogue, home, card, book):
    import bagit

    bagit.make_bag(str(book), checksums=["md5"])
    pyvips.Image.new_from_file(str(book / "data" / "1.png")).flip("vertical").pngsave(str(book / "data" / "2.png"))
    with pytest.raises(BookRefused) as refused:
        ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert any("data/2.png" in problem for problem in refused.value.problems), refused.value.problems
    assert catalogue.store.head(card) == 1 and _published_pages(home, card) == []


def test_a_changed_page_makes_a_new_version_and_old_pages_are_not_copied(catalogue, home, card, book):
    ingest_book(catalogue, book, card, EDITOR, workers=1)
    pyvips.Image.new_from_file(str(SCANS / "1.png")).flip("horizontal").pngsave(str(book / "2.png"))
    report = ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert report.version == 3
    assert {p.page: p.action for p in report.pages} == {"0001": "unchanged", "0002": "built",
                                                         "0003": "unchanged", "0004": "unchanged"}
    content = catalogue.store.object_path(card) / "v3" / "content"
    assert sorted(p.name for p in (content / "masters").iterdir()) == ["0002.png"]
    source = json.loads((home.derivatives / card / "0002" / "source.json").read_text())
    assert source["sha512"] == hashlib.sha512((book / "2.png").read_bytes()).hexdigest()


def test_a_page_missing_from_the_folder_is_refused_unless_replace(catalogue, home, card, book):
    ingest_book(catalogue, book, card, EDITOR, workers=1)
    (book / "10.png").unlink()  # page 0003; v01_024.jpg becomes page 0003 as a .jpg
    with pytest.raises(BookRefused) as refused:
        ingest_book(catalogue, book, card, EDITOR, workers=1)
    assert any(p.startswith("masters/0004.jpg：") and "--replace" in p for p in refused.value.problems)
    assert catalogue.store.head(card) == 2

    report = ingest_book(catalogue, book, card, EDITOR, workers=1, replace=True)
    assert report.version == 3
    masters = [p for p in catalogue.store.logical_paths(card) if p.startswith("masters/")]
    assert masters == ["masters/0001.png", "masters/0002.png", "masters/0003.jpg"]
    assert catalogue.store.read_bytes(card, "masters/0003.jpg") == (book / "v01_024.jpg").read_bytes()
    assert catalogue.store.read_bytes(card, "masters/0003.png", version=2) == (SCANS / "10.png").read_bytes()
    assert _published_pages(home, card) == ["0001", "0002", "0003"]
    assert _size(home.derivatives / card / "0003" / "full" / "max" / "0" / "default.jpg") == _size(book / "v01_024.jpg")
    assert ocfl_validate(catalogue.store.root).returncode == 0


def test_card_file_creates_the_card_at_ingest(catalogue, sample_cards, book, tmp_path):
    card = next(c for c in sample_cards if c["id"] == CARD)
    report = ingest_book(catalogue, book, "new-book", EDITOR, workers=1, card={**card, "id": "new-book"})
    assert report.version == 2
    assert catalogue.get("new-book").card["edition"]["title"] == card["edition"]["title"]
    assert [v.reason for v in catalogue.history("new-book")][0].startswith("入藏影像时新建")
    with pytest.raises(Conflict, match="的卡片已存在"):
        ingest_book(catalogue, book, "new-book", EDITOR, workers=1, card=card)


def test_card_file_with_a_bad_folder_creates_nothing(catalogue, sample_cards, book):
    (book / "2.png").write_bytes(b"")
    with pytest.raises(BookRefused):
        ingest_book(catalogue, book, "new-book", EDITOR, workers=1, card={**sample_cards[0], "id": "new-book"})
    assert not catalogue.exists("new-book")


def test_tiles_rebuild_from_stored_masters(catalogue, home, card, book):
    ingest_book(catalogue, book, card, EDITOR, workers=1)
    shutil.rmtree(home.derivatives / card / "0003")
    (home.derivatives / card / "0009").mkdir()  # a page folder with no master
    assert rebuild_tiles(catalogue, card, workers=1) == 4
    assert _published_pages(home, card) == ["0001", "0002", "0003", "0004"]
    assert _size(home.derivatives / card / "0003" / "full" / "max" / "0" / "default.jpg") == _size(book / "10.png")


# ---- the command line, and a real SIGKILL -------------------------------------------------------


def guji(home, *args: str):
    """`guji ARGS…` in-process (cli_support.guji); the kill -9 tests start the ingest they kill as a process."""
    return run_guji(home.root, *args, check=False, env={"GUJI_EDITOR": EDITOR})


def test_cli_errors_are_clear(catalogue, home, card, book, tmp_path):
    missing = guji(home, "ingest", str(book), "--id", "nobody")
    assert missing.returncode == 3 and "没有标识为「nobody」的卡片" in missing.stderr
    assert "Traceback" not in missing.stderr
    (book / "2.png").write_bytes(b"")
    refused = guji(home, "ingest", str(book), "--id", card)
    assert refused.returncode == 1 and "2.png：文件是 0 字节" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_sigkill_mid_ingest_then_rerun_completes(catalogue, home, card, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    base = pyvips.Image.new_from_file(str(SCANS / "1.png"))
    page = base.resize(2.2)  # ≈ 2540×3430 px: a page takes long enough to kill the run between pages
    for number in range(1, 7):  # two workers: the kill comes after the first page, four are not begun
        page.rot180().embed(number, number, page.width, page.height).tiffsave(
            str(folder / f"{number:04d}.tif"), compression="lzw")
    process = subprocess.Popen(
        [str(GUJI), "ingest", str(folder), "--id", card, "--workers", "2"],
        env={**os.environ, "GUJI_HOME": str(home.root), "GUJI_EDITOR": EDITOR},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    pending = home.derivatives / card / ".pending"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            # a finished page folder (staged master copies appear before it)
            if pending.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in pending.iterdir()):
                break
            assert process.poll() is None, "ingest finished before it could be killed"
            time.sleep(0.02)
        else:  # before, the kill then came at whatever point the run had reached
            raise AssertionError("no page was finished within 60 s: the kill would not fall between pages")
        workers = descendants(process.pid)
        assert workers, "the page workers"
        os.kill(process.pid, signal.SIGKILL)  # the command only: its page workers must end with it
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    wait_until_gone(workers)  # not left finishing pages (for minutes, holding hundreds of MB)

    # Killed mid-run: nothing visible changed and the repository is valid.
    catalogue.close()
    from guji.repository import Catalogue
    reopened = Catalogue.open(home)
    assert reopened.store.head(card) == 1
    assert _published_pages(home, card) == []
    assert ocfl_validate(reopened.store.root).returncode == 0
    reopened.close()

    rerun = guji(home, "ingest", str(folder), "--id", card, "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    reopened = Catalogue.open(home)
    try:
        assert reopened.store.head(card) == 2
        assert len([p for p in reopened.store.logical_paths(card) if p.startswith("masters/")]) == 6
        assert reopened.store.read_bytes(card, "masters/0005.tif") == (folder / "0005.tif").read_bytes()
        assert _published_pages(home, card) == [f"{n:04d}" for n in range(1, 7)]
        result = ocfl_validate(reopened.store.root)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(Path(rerun.stdout.split("报告：")[1].strip()).read_text(encoding="utf-8"))
        assert "reused" in {p["derivatives"] for p in report["pages"]}
    finally:
        reopened.close()


def test_a_new_run_waits_until_the_page_workers_of_a_killed_run_are_gone(catalogue, card):
    """A killed run's lock is free at once, while its workers take a moment longer to die: the next run
    must not start cleaning `.pending` while one of them may still write there."""
    from guji.ingest.pipeline import ingest_lock, workers_lock_path

    catalogue.home.locks.mkdir(parents=True, exist_ok=True)
    leftover = subprocess.Popen(  # holds the lock a page worker holds while it lives
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_SH); "
         "print('working', flush=True); sys.stdin.read()", str(workers_lock_path(catalogue, card))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert leftover.stdout.readline().strip() == "working"
    entered = threading.Event()

    def next_run() -> None:
        with ingest_lock(catalogue, card):
            entered.set()

    thread = threading.Thread(target=next_run)
    thread.start()
    try:
        assert not entered.wait(0.3), "the next run started while a worker of the killed run was alive"
    finally:
        leftover.kill()
        leftover.wait()
    thread.join(30)
    assert entered.is_set()


@pytest.mark.both_databases
def test_one_ingest_per_book_on_every_host_of_the_site(catalogue, card, database, tmp_path):
    """Two hosts — data homes of their own (their own locks/ folders) on one catalogue database — cannot
    ingest one book at once on PostgreSQL (an advisory lock); on SQLite the site is one machine."""
    from dataclasses import replace

    from guji.ingest.pipeline import IngestBusy, ingest_lock
    from guji.repository import Catalogue

    other_host = catalogue.home if database == "sqlite" else replace(catalogue.home, root=tmp_path / "host-b")
    if database != "sqlite":
        Catalogue.init(other_host).close()
    other = Catalogue.open(other_host)
    try:
        with ingest_lock(catalogue, card):
            with pytest.raises(IngestBusy, match="正在入藏或重建切片"), ingest_lock(other, card):
                pass
            with ingest_lock(other, "another-book"):  # other books are free
                pass
        with ingest_lock(other, card):  # and this one once the first host is done
            pass
    finally:
        other.close()


def test_sigkill_during_the_ocfl_commit_leaves_old_or_new_version(catalogue, home, card, book, tmp_path):
    """Kill the ingest while the store moves the version in (the slowest moment of the commit is
    fsyncing the masters in staging): the object is at v1 or v2, never in between."""
    scans = tmp_path / "many"
    scans.mkdir()
    base = pyvips.Image.new_from_file(str(SCANS / "1.png"))
    for number in range(1, 31):
        base.embed(number, 0, base.width + 40, base.height).pngsave(str(scans / f"{number:04d}.png"), compression=1)
    process = subprocess.Popen(
        [str(GUJI), "ingest", str(scans), "--id", card, "--workers", "2"],
        env={**os.environ, "GUJI_HOME": str(home.root), "GUJI_EDITOR": EDITOR},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # the commit has started once a version is being staged
            if home.staging.is_dir() and any(p.name.startswith(f"{card}~") for p in home.staging.iterdir()):
                break
            assert process.poll() is None, "ingest finished before it could be killed"
            time.sleep(0.005)
        else:  # before, the kill then came at whatever point the run had reached
            raise AssertionError("no version was staged within 120 s: the kill would not fall in the commit")
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()

    catalogue.close()
    from guji.repository import Catalogue
    reopened = Catalogue.open(home)  # runs recovery
    try:
        assert reopened.store.head(card) in (1, 2)
        result = ocfl_validate(reopened.store.root)
        assert result.returncode == 0, result.stdout + result.stderr
        if reopened.store.head(card) == 1:
            assert _published_pages(home, card) == []
    finally:
        reopened.close()
    rerun = guji(home, "ingest", str(scans), "--id", card, "--workers", "2")
    assert rerun.returncode == 0, rerun.stderr
    reopened = Catalogue.open(home)
    try:
        assert reopened.store.head(card) == 2
        assert reopened.store.read_bytes(card, "masters/0030.png") == (scans / "0030.png").read_bytes()
        assert _published_pages(home, card) == [f"{n:04d}" for n in range(1, 31)]
    finally:
        reopened.close()


def test_watch_ingests_ready_folders_and_moves_them(catalogue, home, card, tmp_path):
    incoming = tmp_path / "incoming"
    for name in ("a-good", "b-bad", "c-not-ready"):
        shutil.copytree(SCANS, incoming / name, ignore=shutil.ignore_patterns("*.md"), copy_function=shutil.copyfile)
    (incoming / "a-good" / "READY").write_text(f"{card}\n")
    (incoming / "b-bad" / "READY").write_text(f"{card}\n")
    (incoming / "b-bad" / "2.png").write_bytes(b"")

    result = guji(home, "watch", str(incoming), "--once", "--workers", "1")
    assert result.returncode == 1, result.stdout + result.stderr  # one folder failed
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in incoming.iterdir()) == ["c-not-ready", "done", "failed"]
    done = json.loads((incoming / "done" / "a-good" / "ingest-report.json").read_text(encoding="utf-8"))
    assert done["status"] == "stored" and len(done["pages"]) == 4
    assert "2.png：文件是 0 字节" in (incoming / "failed" / "b-bad" / "ERRORS.txt").read_text(encoding="utf-8")
    failed = json.loads((incoming / "failed" / "b-bad" / "ingest-report.json").read_text(encoding="utf-8"))
    assert failed["status"] == "refused"
    catalogue.close()
    from guji.repository import Catalogue
    reopened = Catalogue.open(home)
    try:
        assert reopened.store.head(card) == 2
    finally:
        reopened.close()


def test_the_sample_collection_ingests_as_make_run_does(catalogue, home, sample_cards):
    """`make run` ingests every folder of samples/scans into the card of the same id."""
    for card in sample_cards:
        catalogue.create(card, editor="samples", reason="示例数据导入")
    folders = sorted(p for p in (ROOT / "samples" / "scans").iterdir() if p.is_dir())
    assert folders, "samples/scans has no book"
    for folder in folders:
        report = ingest_book(catalogue, folder, folder.name, "samples", workers=2)
        structure = json.loads(catalogue.store.read_bytes(folder.name, "structure.json"))
        assert len(structure["pages"]) == len(report.pages) == len(list(folder.glob("*.png")))
        assert structure["viewingDirection"] == "right-to-left"
    structure = json.loads(catalogue.store.read_bytes("qizheng-tuibu", "structure.json"))
    assert [p["leaf"] for p in structure["pages"][:3]] == ["1a", "1b", "2a"]
    assert structure["ranges"] == [{"label": "卷二", "juan": 2, "pages": [f"{n:04d}" for n in range(1, 10)]}]
    assert ocfl_validate(catalogue.store.root).returncode == 0


def test_two_ingests_of_a_book_in_the_same_second_both_store(catalogue, card, book, monkeypatch):
    """The run's report names the run: a second ingest within the same clock second is not taken for
    a retry of the first (which a queue's retried commit recognises by that report, storing nothing)."""
    import datetime as real

    from guji.ingest import pipeline

    ticks = iter(range(1, 1000))

    class SameSecond(real.datetime):
        @classmethod
        def now(cls, tz=None):
            return real.datetime(2026, 12, 6, 10, 0, 0, next(ticks), tzinfo=tz)

    monkeypatch.setattr(pipeline, "datetime", SameSecond)
    assert ingest_book(catalogue, book, card, EDITOR, workers=1).version == 2
    shutil.copyfile(SCANS / "2.png", book / "1.png")  # page 0001 changed
    assert ingest_book(catalogue, book, card, EDITOR, workers=1).version == 3
    assert catalogue.store.read_bytes(card, "masters/0001.png") == (SCANS / "2.png").read_bytes()
