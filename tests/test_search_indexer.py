"""The indexer: fed by the catalogue's event log, the one writer; and the search CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from urllib.parse import quote

import pytest
from cli_support import guji as run_guji
from process_support import free_port
from search_support import TEXTS
from typer.testing import CliRunner

from guji.ingest.text_import import import_text
from guji.repository import Catalogue
from guji.search.backend import writer_lock
from guji.search.indexer import Indexer
from guji.search.service import Searcher
from guji.web.cli import root as app


@pytest.fixture
def books(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="test", reason="fixture")
    return catalogue


@pytest.mark.parametrize("backend", ["whoosh", "tantivy"])
def test_events_are_applied_in_order_and_only_once(books, sample_cards, backend):
    indexer = Indexer(books, backend)
    first = indexer.run_once()
    assert first.indexed == len(sample_cards) and indexer.behind() == 0
    searcher = Searcher(books.home, backend)
    assert [b.book_id for b in searcher.search("影梅庵").books] == ["yingmeian-yiyu"]

    stored = books.get("yingmeian-yiyu")
    card = json.loads(json.dumps(stored.card))
    card["edition"]["title"] = "影梅庵憶語新校本"
    books.save("yingmeian-yiyu", card, editor="test", reason="题名改正", base_version=stored.version)
    import_text(books, "maoshi-zhushu", [TEXTS / "KR1c0004_009.txt"], editor="test")
    books.fixity()
    assert indexer.behind() == 2  # edit, text import (not fixity, which changes nothing the index holds)
    second = indexer.run_once()
    assert second.indexed == 2 and second.events == 3
    # a reader that was open before looks for the new index generation within a second or so
    assert _poll(lambda: [b.book_id for b in searcher.search("新校本").books]) == ["yingmeian-yiyu"]
    assert _poll(lambda: [b.book_id for b in searcher.search("廛本亦作").books]) == ["maoshi-zhushu"]
    assert indexer.run_once().events == 0
    searcher.close()
    indexer.close()


def test_rebuild_matches_incremental_indexing(books):
    import_text(books, "yingmeian-yiyu", [TEXTS / "影梅庵忆语.txt"], editor="test")
    incremental = Indexer(books, "tantivy")
    incremental.run_once()
    searcher = Searcher(books.home, "tantivy")
    before = searcher.search("冒襄").to_json()
    incremental.rebuild()
    after = searcher.search("冒襄").to_json()
    assert [b["id"] for b in after["books"]] == [b["id"] for b in before["books"]] == ["yingmeian-yiyu"]
    assert after["total_pages"] == before["total_pages"] == 1
    assert books.events(limit=1)[0].kind == "reindex"
    searcher.close()
    incremental.close()


def test_reindex_all_nodes_has_every_node_rebuild_its_own_index(books, tmp_path):
    """Two web nodes, each with an index of its own (GUJI_INDEX_DIR) on one catalogue; node B's has lost a
    book. `guji reindex --all-nodes` asks both through the event log, and each indexer rebuilds its own."""
    node_b_catalogue = Catalogue.open(replace(books.home, index_root=tmp_path / "node-b"))
    nodes = [Indexer(books, "whoosh"), Indexer(node_b_catalogue, "whoosh")]
    for node in nodes:
        assert node.run_once().built
    nodes[1].backend.delete(["yingmeian-yiyu"])  # a damaged replica, which no event would mend
    lost = Searcher(node_b_catalogue.home, "whoosh")
    assert lost.search("影梅庵").books == []
    asked = run_guji(books.home.root, "reindex", "--all-nodes", "--editor", "管理员")
    assert "已请求各网站节点重建检索索引" in asked.output
    assert books.events(limit=1)[0].kind == "reindex-request" and books.events(limit=1)[0].actor == "管理员"
    assert all(node.behind() == 1 for node in nodes)
    for node in nodes:
        done = node.run_once()
        assert done.requested and done.indexed == 6 and node.behind() == 0
        assert not node.run_once().requested  # once per request
    assert _poll(lambda: [b.book_id for b in lost.search("影梅庵").books]) == ["yingmeian-yiyu"]
    lost.close()
    for node in nodes:
        node.close()
    node_b_catalogue.close()


def test_only_one_writer_at_a_time(books):
    first = Indexer(books, "whoosh")
    writer = first.backend._writer()  # holds the whoosh lock like a running indexer would
    try:
        second = Indexer(books, "whoosh")
        with pytest.raises(Exception, match="another process is writing the search index"):
            second.run_once()
        second.close()
    finally:
        writer.cancel()
        first.close()


def test_a_second_indexer_waits_for_the_first_to_end(books):
    """A restarted server's indexer must not fight the old one (still finishing its pass) for the index."""
    import fcntl

    lock = writer_lock(books.home, "whoosh")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as first:  # held as a running indexer holds it
        fcntl.flock(first, fcntl.LOCK_EX)
        second = Indexer(books, "whoosh")
        waited, loops = [], iter(range(3))
        second.run(0, stop=lambda: next(loops, None) is None, waiting=lambda: waited.append(True))
        assert waited == [True] and second.last_event == 0  # told once, indexed nothing
    loops = iter(range(1))
    second.run(0, stop=lambda: next(loops, None) is None)
    assert second.last_event > 0 and second.behind() == 0
    second.close()


def test_web_nodes_on_one_data_home_each_run_the_indexer_of_their_own_index(books, tmp_path):
    """Two nodes sharing the data home, each with its own GUJI_INDEX_DIR: neither waits for the other."""
    running = threading.Event()
    first = Indexer(books, "whoosh")
    thread = threading.Thread(target=first.run, kwargs={"interval": 0.05, "stop": running.is_set})
    thread.start()
    try:
        _poll(lambda: first.last_event > 0)  # the first node's indexer holds its index's lock
        other = Catalogue.open(replace(books.home, index_root=tmp_path / "node-b-index"), settings=books.settings)
        second = Indexer(other, "whoosh")
        waited, loops = [], iter(range(1))
        second.run(0, stop=lambda: next(loops, None) is None, waiting=lambda: waited.append(True))
        assert not waited and second.behind() == 0
        assert second.directory == tmp_path / "node-b-index" / "whoosh" != first.directory
        second.close()
        other.close()
    finally:
        running.set()
        thread.join()
        first.close()


def test_a_new_nodes_index_builds_itself_from_the_catalogue(books, sample_cards, tmp_path):
    """The catalogue moved into a new database with `guji rebuild-db` has no event per card: a new
    node's empty index is built from the catalogue itself, then follows the log from there."""
    moved = Catalogue.open(replace(books.home, database=f"sqlite:///{tmp_path / 'moved.sqlite'}",
                                   index_root=tmp_path / "new-node-index"), settings=books.settings)
    moved.rebuild_db()
    assert {event.kind for event in moved.events(limit=100)} <= {"init", "rebuild-db", "db-upgrade"}
    indexer = Indexer(moved, "whoosh")
    done = indexer.run_once()
    assert done.built and done.indexed == len(sample_cards) and indexer.behind() == 0
    searcher = Searcher(moved.home, "whoosh")
    assert [b.book_id for b in searcher.search("影梅庵").books] == ["yingmeian-yiyu"]
    moved.create({"id": "qinhuai", "record_type": "guji", "edition": {"title": "秦淮佳丽录"}}, editor="test",
                 reason="fixture")
    following = indexer.run_once()
    assert not following.built and following.indexed == 1
    assert _poll(lambda: [b.book_id for b in searcher.search("秦淮佳丽").books]) == ["qinhuai"]
    assert not any(event.kind == "reindex" for event in moved.events(limit=100))  # a node's replica, not an edit
    searcher.close()
    indexer.close()
    moved.close()


def test_a_whoosh_reader_open_across_a_rebuild_answers_from_the_new_index(books):
    """A rebuild keeps the index folder (same schema) and its generations go on counting; a reader
    that cached columns and page hits before the rebuild does not reuse them afterwards."""
    import_text(books, "yingmeian-yiyu", [TEXTS / "影梅庵忆语.txt"], editor="test")
    indexer = Indexer(books, "whoosh")
    indexer.run_once()
    searcher = Searcher(books.home, "whoosh")
    assert searcher.search("秦淮佳丽").total_pages == 1  # fills the reader's caches
    toc_before = sorted(path.name for path in indexer.directory.glob("_MAIN_*.toc"))
    indexer.rebuild()
    toc_after = sorted(path.name for path in indexer.directory.glob("_MAIN_*.toc"))
    assert int(toc_after[-1].split("_")[-1].split(".")[0]) > int(toc_before[-1].split("_")[-1].split(".")[0])
    books.create({"id": "qinhuai", "record_type": "guji", "edition": {"title": "秦淮佳丽录"}},
                 editor="test", reason="fixture")
    indexer.run_once()
    assert _poll(lambda: sorted(b.book_id for b in searcher.search("秦淮佳丽").books) == ["qinhuai",
                                                                                          "yingmeian-yiyu"])
    assert searcher.search("秦淮佳丽").total_pages == 1
    searcher.close()
    indexer.close()


def test_cli_search_reindex_and_indexer(books, home):
    runner = CliRunner()
    base = ["--home", str(home.root)]
    assert runner.invoke(app, [*base, "reindex"]).exit_code == 0
    result = runner.invoke(app, [*base, "search", "著者:冒襄", "--json"])
    assert result.exit_code == 0, result.output
    assert [b["id"] for b in json.loads(result.stdout)["books"]] == ["yingmeian-yiyu"]
    table = runner.invoke(app, [*base, "search", "荊川"])
    assert table.exit_code == 0 and "2 种，0 叶" in table.stdout  # 荊川 is in two records
    assert "四部: 史部 (1)  集部 (1)" in table.stdout
    bad = runner.invoke(app, [*base, "search", '"荊川'])
    assert bad.exit_code == 2 and "引号没有配对" in bad.output
    import_text(books, "jingchuan-wenji", [TEXTS / "KR4e0190_001.txt"], editor="test")
    behind = runner.invoke(app, [*base, "search", "游盤山賦"])
    assert "0 种" in behind.stdout and "还没有处理最近的 1 个目录事件" in behind.output
    once = runner.invoke(app, [*base, "indexer", "--once"])
    assert once.exit_code == 0 and "索引 1 部书" in once.stdout
    assert "1 种，1 叶" in runner.invoke(app, [*base, "search", "游盤山賦"]).stdout



def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def _poll(check, timeout: float = 60.0):
    """Poll `check` until it answers something true (a server starting, an index catching up)."""
    deadline = time.monotonic() + timeout
    problem = None
    while True:
        try:
            value = check()
            if value:
                return value
        except OSError as error:
            problem = error
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting (last problem: {problem})")
        time.sleep(0.2)


def test_a_card_edit_is_searchable_within_seconds_on_a_running_site(books, home):
    port = free_port()
    env = {**os.environ, "GUJI_HOME": str(home.root), "GUJI_EDITOR": "test"}
    guji = [sys.executable, "-m", "guji.web.cli"]
    log = open(home.root / "serve.log", "wb")  # noqa: SIM115 - closed when the server stops
    server = subprocess.Popen([*guji, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    try:
        search = f"http://127.0.0.1:{port}/api/search?q="
        _poll(lambda: _get_json(search + quote("影梅庵"))["total_books"] == 1)  # the side indexer caught up
        run_guji(home.root, "cards", "edit", "yingmeian-yiyu", "--set", "edition.title=影梅庵憶語重校本",
                 "--reason", "题名改正", env={"GUJI_EDITOR": "test"})  # in-process: the server is what runs apart
        started = time.monotonic()
        found = _poll(lambda: _get_json(search + quote("重校本"))["books"])
        assert [b["id"] for b in found] == ["yingmeian-yiyu"]
        print(f"edit searchable after {time.monotonic() - started:.1f} s")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
        log.close()
        print((home.root / "serve.log").read_text(errors="replace")[-2000:])
    # it ran until told to stop, then stopped in order (web/commands.py: SIGTERM ends serve with 128 + 15 once
    # its indexer is stopped); before, `returncode is not None` after wait() could not fail
    assert server.returncode == 128 + signal.SIGTERM, f"guji serve ended with {server.returncode} (log above)"


def test_an_index_of_another_layout_asks_for_a_reindex(books, home):
    indexer = Indexer(books, "tantivy")
    indexer.run_once()
    from guji.search.backend import STATE_FILE

    state = json.loads((indexer.directory / STATE_FILE).read_text())
    (indexer.directory / STATE_FILE).write_text(json.dumps({**state, "schema": 0}))
    with pytest.raises(Exception, match="run `guji reindex`"):
        indexer.run_once()
    searcher = Searcher(books.home, "tantivy")
    with pytest.raises(Exception, match="run `guji reindex`"):
        searcher.search("影梅庵")
    indexer.rebuild()
    assert [b.book_id for b in searcher.search("影梅庵").books] == ["yingmeian-yiyu"]
    searcher.close()
    indexer.close()


def test_an_index_built_with_another_variant_table_is_rebuilt_by_the_indexer(books):
    """The search key changes with the 異體字 table: the index records the table's version; an index
    built with another one is reported and rebuilt whole by the indexer, not patched event by event."""
    from guji.search.analyzer import key_version
    from guji.search.backend import index_dir, read_state, stale_key, write_state

    import_text(books, "yingmeian-yiyu", [TEXTS / "影梅庵忆语.txt"], editor="test")
    indexer = Indexer(books, "tantivy")
    indexer.run_once()
    directory = index_dir(books.home, "tantivy")
    assert read_state(directory)["key"] == key_version() and stale_key(directory) is None
    write_state(directory, key="1-000000000000")  # as an index built with an older table
    assert "1-000000000000" in stale_key(directory) and "guji reindex" in stale_key(directory)
    searched = CliRunner().invoke(app, ["--home", str(books.home.root), "search", "爱生于昵", "--backend", "tantivy"])
    assert "检索索引是用异体字表 1-000000000000 建的" in searched.output
    done = indexer.run_once()
    assert done.rebuilt and done.indexed == 6
    assert read_state(directory)["key"] == key_version() and stale_key(directory) is None
    searcher = Searcher(books.home, "tantivy")
    assert [b.book_id for b in searcher.search("愛生於暱").books] == ["yingmeian-yiyu"]  # 暱 = 昵 (Unihan)
    searcher.close()
    indexer.close()
