"""Optimistic saves under real concurrency, on SQLite and on PostgreSQL: several processes (as on
several web nodes) saving one card. Exactly one save wins each version, the others are told of the
conflict; no edit is lost; the DB's row, versions and events agree with OCFL at the end."""

from __future__ import annotations

import json
import multiprocessing
import threading

import pytest
from sqlalchemy import select
from test_catalogue import minimal_card

from guji.repository import CardConflict, Catalogue
from guji.repository.catalogue_db import CardRow, CardVersionRow

pytestmark = pytest.mark.both_databases

WORKERS = 4
ROUNDS = 4
FREE_EDITS = 3


def _edit(catalogue: Catalogue, token: str, base: int | None = None):
    """Add `token` to the card's notes, from version `base` (default: the head as read now)."""
    stored = catalogue.get("yingmeian")
    if base is not None:
        stored = catalogue.get("yingmeian", base)
    card = json.loads(json.dumps(stored.card))
    edition = card["edition"]
    edition["notes"] = edition.get("notes", "") + f"{token};"
    return catalogue.save("yingmeian", card, editor=token.split("-")[0], reason=f"加 {token}",
                          base_version=stored.version)


def _worker(home_root: str, number: int, barrier, results) -> None:
    try:
        won, conflicts = _saves(home_root, number, barrier)
    except Exception as error:  # reported to the test; the other workers stop waiting for this one
        barrier.abort()
        results.put((number, None, f"{type(error).__name__}: {error}"))
    else:
        results.put((number, won, conflicts))


def _saves(home_root: str, number: int, barrier) -> tuple[list[int], int]:
    catalogue = Catalogue.open(home_root, durable=False)
    won, conflicts = [], 0
    try:
        for round_number in range(ROUNDS):
            base = catalogue.get("yingmeian").version
            barrier.wait(30)  # every worker read the same head: only one of them may build on it
            try:
                won.append(_edit(catalogue, f"w{number}-r{round_number}", base).version)
            except CardConflict:
                conflicts += 1
            barrier.wait(30)
        for edit in range(FREE_EDITS):  # then all at once, each retrying until its edit is in
            while True:
                try:
                    won.append(_edit(catalogue, f"w{number}-f{edit}").version)
                    break
                except CardConflict:
                    conflicts += 1
    finally:
        catalogue.close()
    return won, conflicts


def test_processes_saving_one_card_each_version_has_one_winner_and_nothing_is_lost(catalogue):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(WORKERS), context.Queue()
    processes = [context.Process(target=_worker, args=(str(catalogue.home.root), number, barrier, results))
                 for number in range(WORKERS)]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(30)
    assert [problem for _, won, problem in outcomes if won is None] == []

    wins = sorted(version for _, won, _ in outcomes for version in won)
    total = ROUNDS + WORKERS * FREE_EDITS
    assert wins == list(range(2, total + 2))  # every version won once, by one process
    assert sum(conflicts for _, _, conflicts in outcomes) >= ROUNDS * (WORKERS - 1)  # each round: the others refused

    stored = catalogue.get("yingmeian")
    assert stored.version == total + 1
    notes = stored.card["edition"]["notes"].split(";")[:-1]
    expected = {f"w{n}-f{edit}" for n in range(WORKERS) for edit in range(FREE_EDITS)}
    assert expected <= set(notes) and len(notes) == len(set(notes)) == total  # no edit lost, none twice
    with catalogue.sessions() as session:
        row = session.get(CardRow, "yingmeian")
        assert row.head_version == stored.version and json.loads(row.card_json) == stored.card
        numbers = session.scalars(select(CardVersionRow.number).where(CardVersionRow.card_id == "yingmeian"))
        assert sorted(numbers) == list(range(1, total + 2))
    edits = [json.loads(event.detail_json)["version"] for event in catalogue.events("yingmeian", limit=500)
             if event.kind == "edit"]
    assert sorted(edits) == list(range(2, total + 2))


def test_a_save_that_reaches_the_db_last_never_hides_a_newer_version(catalogue, home):
    """Process A commits v2 to OCFL, process B then saves v3 — and B's DB update lands before A's."""
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    slow = Catalogue.open(home)
    committed, go_on = threading.Event(), threading.Event()
    real_project = slow._project

    def project_later(session, card_id, saved=None):
        committed.set()
        assert go_on.wait(30)
        return real_project(session, card_id, saved)

    slow._project = project_later
    first = threading.Thread(target=_edit, args=(slow, "甲"))
    first.start()
    try:
        assert committed.wait(30)  # A's v2 is in OCFL, its DB update waits
        assert _edit(catalogue, "乙").version == 3
    finally:
        go_on.set()
        first.join(30)
        slow.close()
    stored = catalogue.get("yingmeian")
    assert stored.card["edition"]["notes"] == "甲;乙;"
    [row] = catalogue.list_rows()
    assert row.head_version == 3 and json.loads(row.card_json) == stored.card
    assert [version.number for version in catalogue.history("yingmeian")] == [1, 2, 3]
    with catalogue.sessions() as session:
        numbers = session.scalars(select(CardVersionRow.number).where(CardVersionRow.card_id == "yingmeian"))
        assert sorted(numbers) == [1, 2, 3]
