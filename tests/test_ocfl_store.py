"""The OCFL object store: versions, optimistic locking, fixity, crash recovery."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from guji.repository.ocfl_store import ObjectStore, PreparedFile, StaleVersionError, StoreError

OCFL_VALIDATE = Path(sys.executable).parent / "ocfl-validate.py"


def ocfl_validate(root: Path) -> subprocess.CompletedProcess:
    """ocfl-py's own command-line validator, as a library's IT person would run it, on the storage root
    and on each object in it: given only a storage root, ocfl-py 2.1 exits 0 however invalid its objects."""
    objects = sorted(str(declaration.parent) for declaration in root.glob("*/0=ocfl_object_1.1"))
    return subprocess.run([sys.executable, str(OCFL_VALIDATE), str(root), *objects], capture_output=True, text=True)


@pytest.fixture
def store(home) -> ObjectStore:
    store = ObjectStore(home)
    store.initialize()
    return store


def test_versions_record_editor_time_and_reason(store):
    assert store.commit("b1", {"card.json": b"one"}, editor="张三", reason="新建", expected_head=0).number == 1
    assert store.commit("b1", {"card.json": b"two"}, editor="李四", reason="改存卷", expected_head=1).number == 2
    versions = store.versions("b1")
    assert [(v.number, v.editor, v.reason) for v in versions] == [(1, "张三", "新建"), (2, "李四", "改存卷")]
    assert all(v.created.endswith("Z") for v in versions)
    assert store.read_bytes("b1", "card.json", 1) == b"one"
    assert store.read_bytes("b1", "card.json") == b"two"
    result = ocfl_validate(store.root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unchanged_content_writes_no_version(store):
    store.commit("b1", {"card.json": b"same"}, editor="a", reason="r", expected_head=0)
    assert store.commit("b1", {"card.json": b"same"}, editor="a", reason="again", expected_head=1) is None
    assert store.head("b1") == 1


def test_unchanged_master_is_not_copied_again(store, tmp_path):
    scan = tmp_path / "0001.tif"
    scan.write_bytes(b"II*\x00" + b"\x01" * 1000)
    store.commit("b1", {"masters/0001.tif": scan, "card.json": b"a"}, editor="a", reason="r", expected_head=0)
    store.commit("b1", {"masters/0001.tif": scan, "card.json": b"b"}, editor="a", reason="r", expected_head=1)
    assert not (store.object_path("b1") / "v2" / "content" / "masters").exists()
    assert store.read_bytes("b1", "masters/0001.tif", 2) == scan.read_bytes()


def test_prepared_file_is_moved_in_with_its_digest_not_read_again(store, home, monkeypatch):
    home.staging.mkdir(parents=True, exist_ok=True)
    staged = home.root / "pending-0001.tif"
    content = b"II*\x00" + os.urandom(4096)
    staged.write_bytes(content)
    digest = hashlib.sha512(content).hexdigest()

    opened = []
    real_open = open

    def watching_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    import builtins
    monkeypatch.setattr(builtins, "open", watching_open)
    version = store.commit("b1", {"masters/0001.tif": PreparedFile(staged, digest), "card.json": b"a"},
                           editor="a", reason="r", expected_head=0)
    monkeypatch.undo()

    assert version.number == 1
    assert not staged.exists()  # moved, not copied
    assert not any(path.endswith("pending-0001.tif") for path in opened)  # and not read to hash it
    assert store.read_bytes("b1", "masters/0001.tif") == content
    assert store.inventory("b1")["manifest"][digest] == ["v1/content/masters/0001.tif"]
    result = ocfl_validate(store.root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unchanged_prepared_file_writes_no_version_and_is_left_to_the_caller(store, home):
    content = b"same scan"
    store.commit("b1", {"masters/0001.tif": content}, editor="a", reason="r", expected_head=0)
    staged = home.root / "again.tif"
    staged.write_bytes(content)
    prepared = PreparedFile(staged, hashlib.sha512(content).hexdigest())
    assert store.commit("b1", {"masters/0001.tif": prepared}, editor="a", reason="r", expected_head=1) is None
    assert staged.exists()


def test_stale_commit_is_refused_and_changes_nothing(store):
    store.commit("b1", {"card.json": b"one"}, editor="a", reason="r", expected_head=0)
    store.commit("b1", {"card.json": b"two"}, editor="b", reason="r", expected_head=1)
    before = (store.object_path("b1") / "inventory.json").read_bytes()
    with pytest.raises(StaleVersionError) as refused:
        store.commit("b1", {"card.json": b"three"}, editor="c", reason="r", expected_head=1)
    assert "v1" in str(refused.value) and "v2" in str(refused.value)
    assert (store.object_path("b1") / "inventory.json").read_bytes() == before
    assert store.read_bytes("b1", "card.json") == b"two"


def test_concurrent_writers_based_on_the_same_version_cannot_both_win(store):
    store.commit("b1", {"card.json": b"base"}, editor="a", reason="r", expected_head=0)
    outcomes = []
    barrier = threading.Barrier(4)

    def write(n):
        barrier.wait()
        try:
            store.commit("b1", {"card.json": f"edit {n}".encode()}, editor=f"e{n}", reason="r", expected_head=1)
            outcomes.append("saved")
        except StaleVersionError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "saved"]
    assert store.head("b1") == 2
    assert ocfl_validate(store.root).returncode == 0


@pytest.mark.parametrize("bad_id", ["", "../etc", "a/b", "with space", "中文", "-lead", "x" * 65])
def test_bad_object_ids_are_refused(store, bad_id):
    with pytest.raises(StoreError, match="标识「.*」不能用"):
        store.commit(bad_id, {"card.json": b"x"}, editor="a", reason="r", expected_head=0)


@pytest.mark.parametrize("bad_path", ["../card.json", "/abs", "a//b", "a/./b"])
def test_bad_logical_paths_are_refused(store, bad_path):
    with pytest.raises(StoreError, match="invalid file name"):
        store.commit("b1", {bad_path: b"x"}, editor="a", reason="r", expected_head=0)
    assert not store.exists("b1")


def test_a_change_needs_a_reason_and_an_editor(store):
    with pytest.raises(StoreError, match="reason"):
        store.commit("b1", {"card.json": b"x"}, editor="a", reason="  ", expected_head=0)
    with pytest.raises(StoreError, match="editor"):
        store.commit("b1", {"card.json": b"x"}, editor="", reason="r", expected_head=0)


def test_fixity_names_the_file_whose_bytes_changed(store):
    store.commit("b1", {"card.json": b"good", "text/0001.txt": b"abc"}, editor="a", reason="r", expected_head=0)
    checked, problems = store.fixity("b1")
    assert (checked, problems) == (2, [])
    stored = store.content_path("b1", "text/0001.txt")
    stored.write_bytes(b"abd")  # one flipped byte
    checked, problems = store.fixity("b1")
    assert [(p.path, p.kind) for p in problems] == [("v1/content/text/0001.txt", "sha512 mismatch")]
    assert "text/0001.txt" in str(problems[0]) and "backup" in str(problems[0])
    stored.unlink()
    assert [p.kind for p in store.fixity("b1")[1]] == ["missing"]


def interrupted_between_the_renames(monkeypatch, save) -> None:
    """Run `save` and stop it (as a power cut would) after its version directory has been renamed into
    the object, before the root inventory is replaced."""

    def crash(*_args, **_kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(ObjectStore, "_install_root_inventory", crash)
    with pytest.raises(KeyboardInterrupt):
        save()
    monkeypatch.undo()


def test_commit_interrupted_before_root_inventory_is_finished_by_recover(store, monkeypatch):
    store.commit("b1", {"card.json": b"one"}, editor="a", reason="r", expected_head=0)
    interrupted_between_the_renames(monkeypatch, lambda: store.commit("b1", {"card.json": b"two"}, editor="a",
                                                                      reason="r", expected_head=1))
    assert (store.home.journal / "b1.ocfl").exists()
    assert store.recover() == ["b1"]
    assert store.head("b1") == 2 and store.read_bytes("b1", "card.json") == b"two"
    assert ocfl_validate(store.root).returncode == 0
    assert list(store.home.staging.iterdir()) == []


def test_while_a_version_is_moved_in_nothing_but_renames_happen(store, monkeypatch):
    """Between the version directory's rename and the root inventory's, the object lists a version
    directory its inventory does not (ocfl-validate E046b); a backup taken then copies an invalid
    object. Everything the second step needs is written and fsynced before the first."""
    import shutil

    from guji.repository import ocfl_store

    store.commit("b1", {"card.json": b"one"}, editor="a", reason="r", expected_head=0)
    done = []
    for module, name in ((os, "rename"), (os, "replace"), (shutil, "copyfile"), (ocfl_store, "_fsync_file"),
                         (ocfl_store, "_fsync_dir"), (ocfl_store, "_write_durably")):
        original = getattr(module, name)

        def recorded(*args, _original=original, _name=name, **kwargs):
            done.append((_name, Path(args[1] if _name in ("rename", "replace") else args[0])))
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, recorded)
    store.commit("b1", {"card.json": b"two"}, editor="a", reason="r", expected_head=1)
    monkeypatch.undo()
    moved_in = done.index(("rename", store.object_path("b1") / "v2"))
    assert done[moved_in + 1:moved_in + 3] == [("replace", store.object_path("b1") / "inventory.json"),
                                               ("replace", store.object_path("b1") / "inventory.json.sha512")]
    assert store.head("b1") == 2 and ocfl_validate(store.root).returncode == 0


def test_a_copy_taken_during_a_save_is_repaired_without_a_journal(store, monkeypatch):
    """A copy of the storage root (no journal/) caught between the two renames: `repair_all` finishes
    the version from the version's own inventory, as `guji recover` does on the copy."""
    store.commit("b1", {"card.json": b"one"}, editor="a", reason="r", expected_head=0)
    store.commit("b2", {"card.json": b"other"}, editor="a", reason="r", expected_head=0)
    interrupted_between_the_renames(monkeypatch, lambda: store.commit("b1", {"card.json": b"two"}, editor="a",
                                                                      reason="r", expected_head=1))
    (store.home.journal / "b1.ocfl").unlink()  # the copy has only ocfl/
    assert "E046b" in ocfl_validate(store.root).stdout
    assert store.recover() == []  # recovery at open goes by the journal
    assert store.repair_all() == (["b1"], [])
    assert store.head("b1") == 2 and store.read_bytes("b1", "card.json") == b"two"
    assert ocfl_validate(store.root).returncode == 0
    assert store.repair_all() == ([], [])


def test_repair_reports_a_damaged_version_inventory_and_deletes_nothing(store):
    store.commit("b1", {"card.json": b"one"}, editor="a", reason="r", expected_head=0)
    store.commit("b1", {"card.json": b"two"}, editor="a", reason="r", expected_head=1)
    inventory = store.object_path("b1") / "v2" / "inventory.json"
    inventory.write_bytes(inventory.read_bytes().replace(b'"two"', b'"tw0"', 1) + b" ")
    repaired, problems = store.repair_all()
    assert repaired == [] and len(problems) == 1
    assert "b1/v2" in problems[0] and "sidecar" in problems[0] and "backup" in problems[0]
    assert (store.object_path("b1") / "v2").is_dir()


WRITER = """
import sys
from guji.repository.config import Home
from guji.repository.ocfl_store import ObjectStore
store = ObjectStore(Home.resolve(sys.argv[1]))
store.initialize()
head = store.head("b1")
for n in range(head + 1, head + 400):
    store.commit("b1", {"card.json": f"edit {n}".encode() * 50, f"text/{n % 7}.txt": str(n).encode()},
                 editor="writer", reason=f"edit {n}", expected_head=n - 1)
    print(n, flush=True)
"""


def test_sigkill_during_commits_leaves_a_valid_resumable_object(store):
    store.commit("b1", {"card.json": b"start"}, editor="a", reason="r", expected_head=0)
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(store.home.root)], stdout=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    for _ in range(25):  # wait (by reading its output) until it is well into its commits
        assert process.stdout.readline(), "writer stopped early"
    process.send_signal(signal.SIGKILL)
    process.wait()
    store.recover()
    result = ocfl_validate(store.root)
    assert result.returncode == 0, result.stdout + result.stderr
    head = store.head("b1")
    assert head >= 26
    assert store.commit("b1", {"card.json": b"after"}, editor="a", reason="r", expected_head=head).number == head + 1
    assert ocfl_validate(store.root).returncode == 0


def test_guji_recover_finishes_an_interrupted_save_and_says_so(catalogue, sample_cards, monkeypatch):
    from typer.testing import CliRunner

    from guji.web.cli import root as app

    card = sample_cards[0]
    catalogue.create(card, editor="a", reason="r")
    edited = {**card, "rights": "http://rightsstatements.org/vocab/NoC-NC/1.0/"}
    interrupted_between_the_renames(monkeypatch, lambda: catalogue.save(card["id"], edited, editor="a", reason="r",
                                                                        base_version=1))
    (catalogue.home.journal / f"{card['id']}.ocfl").unlink()  # as in a copy of the data home without journal/
    home = ["--home", str(catalogue.home.root)]
    first = CliRunner().invoke(app, [*home, "recover"])
    assert first.exit_code == 0, first.output
    assert f"补完 1 次被中断的保存：{card['id']}" in first.output
    assert catalogue.get(card["id"]).version == 2
    again = CliRunner().invoke(app, [*home, "recover"])
    assert again.exit_code == 0 and "补完 0 次被中断的保存" in again.output


def test_reading_needs_no_ocfl_py_and_importing_the_store_changes_nothing_in_it():
    """ocfl-py (with s3fs, half a second to import) is loaded by writes and validation only, and
    its file_digest is wrapped when Guji's first commit starts, not when the store is imported."""
    code = ("import sys, guji.repository.catalogue, guji.repository.ocfl_store; assert 'ocfl' not in sys.modules; "
            "import ocfl.new_version; assert not hasattr(ocfl.new_version.file_digest, 'knows_guji_digests')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
