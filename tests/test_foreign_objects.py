"""A storage root that holds more than Guji's own objects — OCFL objects of other systems (the
official OCFL fixtures, 1.0 and 1.1), a stray folder, a card that cannot be read — and
`rebuild-db` interrupted half way. Every command that walks all objects skips and reports what is
not Guji's; `rebuild-db` swaps the new projection in only once it is complete."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from conftest import FIXTURES
from sqlalchemy import inspect, text
from test_catalogue import dump_projection

from guji.repository import CardNotFound, StoreError
from guji.repository import projection_rebuild as rebuild_module
from guji.repository.catalogue_db import UserRow
from guji.repository.outputs.oai import OAIRepository

OCFL_FIXTURES = FIXTURES / "ocfl"
OCFL_10 = "ocfl-1.0-minimal_one_version_one_file"
OCFL_11 = "ocfl-1.1-minimal_one_version_one_file"


@pytest.fixture
def mixed_root(catalogue, sample_cards):
    """The sample cards, one edited, plus every kind of folder that is not a Guji card."""
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    card = catalogue.get(sample_cards[0]["id"]).card
    card["copy"]["volumes"] = 9
    catalogue.save(card["id"], card, editor="李四", reason="核对册数", base_version=1)
    root = catalogue.store.root
    for name in (OCFL_10, OCFL_11):
        shutil.copytree(OCFL_FIXTURES / name, root / name)
    catalogue.store.commit("no-card", {"a_file.txt": b"written by a script, no card"}, editor="脚本",
                           reason="test", expected_head=0)
    (root / "stray").mkdir()
    (root / "stray" / "notes.txt").write_text("not an object")
    return catalogue


NOT_CARDS = {OCFL_10: "OCFL 1.0 对象", OCFL_11: "id「ark:123/abc」不是它的目录名", "no-card": "没有 card.json",
             "stray": "不是 OCFL 对象"}


def test_survey_names_every_folder_that_is_not_a_guji_card(mixed_root, sample_cards):
    ours, foreign = mixed_root.store.survey()
    assert ours == sorted(card["id"] for card in sample_cards) == mixed_root.store.object_ids()
    assert {entry.name: entry.reason for entry in foreign}.keys() == NOT_CARDS.keys()
    for entry in foreign:
        assert NOT_CARDS[entry.name] in entry.reason


def test_rebuild_db_skips_and_reports_foreign_objects_and_keeps_every_card(mixed_root, sample_cards):
    before = dump_projection(mixed_root)
    report = mixed_root.rebuild_db()
    assert report.cards == len(sample_cards)
    assert sorted(entry.name for entry in report.skipped) == sorted(NOT_CARDS)
    assert dump_projection(mixed_root) == before
    event = mixed_root.events(limit=1)[0]
    assert event.kind == "rebuild-db" and len(json.loads(event.detail_json)["skipped"]) == len(NOT_CARDS)


def test_rebuild_keeps_what_ocfl_does_not_hold_and_cards_saved_while_it_ran(mixed_root, sample_cards, monkeypatch):
    with mixed_root.sessions.begin() as session:
        session.add(UserRow(name="管理员", role="admin", password_hash="x", created="2024-01-01T00:00:00Z"))
    ids = sorted(card["id"] for card in sample_cards)
    real_project = mixed_root._project

    def project(session, card_id, saved=None):
        real_project(session, card_id, saved)
        if card_id == ids[-1] and session.bind is not mixed_root.engine and not edited:
            # a cataloguer saves a card the rebuild has already staged
            edited.append(mixed_root.get(ids[0]))
            card = json.loads(json.dumps(edited[0].card))
            card["copy"]["volumes"] = 42
            mixed_root.save(ids[0], card, editor="王五", reason="重新清点", base_version=edited[0].version)

    edited: list = []
    monkeypatch.setattr(mixed_root, "_project", project)
    mixed_root.rebuild_db()
    assert edited
    row = next(row for row in mixed_root.list_rows() if row.id == ids[0])
    assert row.head_version == edited[0].version + 1 and json.loads(row.card_json)["copy"]["volumes"] == 42
    with mixed_root.sessions() as session:
        assert session.get(UserRow, "管理员") is not None


def test_a_card_that_cannot_be_read_is_skipped_and_the_rest_rebuilt(mixed_root, sample_cards):
    victim = sample_cards[1]["id"]
    card_file = mixed_root.store.content_path(victim, "card.json")
    card_file.write_bytes(b"{ not json")
    report = mixed_root.rebuild_db()
    assert report.cards == len(sample_cards) - 1
    assert [entry.name for entry in report.skipped if entry.kind == "damaged"] == [victim]
    assert mixed_root.count() == len(sample_cards) - 1
    with pytest.raises(StoreError, match="card.json 无法读取"):
        mixed_root.get(victim)


@pytest.mark.both_databases
def test_a_rebuild_that_fails_before_the_swap_leaves_the_catalogue_as_it_was(mixed_root, monkeypatch):
    before = dump_projection(mixed_root)
    real_project = mixed_root._project
    calls = []

    def project_then_die(session, card_id, saved=None):
        calls.append(card_id)
        if len(calls) == 3:
            raise KeyboardInterrupt  # like kill: not an error a card can cause, so it is not skipped
        return real_project(session, card_id, saved)

    monkeypatch.setattr(mixed_root, "_project", project_then_die)
    with pytest.raises(KeyboardInterrupt):
        mixed_root.rebuild_db()
    assert dump_projection(mixed_root) == before


@pytest.mark.both_databases
def test_a_rebuild_that_fails_during_the_swap_rolls_back_even_a_schema_upgrade(mixed_root, monkeypatch):
    before = dump_projection(mixed_root)
    with mixed_root.engine.begin() as connection:  # a data home of an older Guji
        connection.execute(text("ALTER TABLE cards DROP COLUMN page_count"))
    older = dump_projection(mixed_root)

    def die(*args, **kwargs):  # the last step of the swap: rows deleted, tables recreated, rows inserted
        raise KeyboardInterrupt

    monkeypatch.setattr(rebuild_module, "add_event", die)
    with pytest.raises(KeyboardInterrupt):
        mixed_root.rebuild_db()
    columns = [column["name"] for column in inspect(mixed_root.engine).get_columns("cards")]
    assert "page_count" not in columns  # the DROP and CREATE were rolled back with the rest
    assert dump_projection(mixed_root) == older
    monkeypatch.undo()
    mixed_root.rebuild_db()
    assert dump_projection(mixed_root) == before


def test_fixity_checks_and_names_every_object(mixed_root, sample_cards):
    report = mixed_root.fixity()
    assert report.ok and report.objects == len(sample_cards) + 3  # the two fixtures and no-card checked
    assert sorted(entry.name for entry in report.foreign) == sorted(NOT_CARDS)
    (mixed_root.store.root / OCFL_10 / "v1" / "content" / "a_file.txt").write_text("changed")
    [problem] = mixed_root.fixity().problems
    assert problem.object_id == OCFL_10 and problem.path == "v1/content/a_file.txt"


def test_a_foreign_object_is_never_read_or_written_as_a_card(mixed_root):
    with pytest.raises(CardNotFound, match="没有 card.json"):
        mixed_root.get(OCFL_11)
    with pytest.raises(CardNotFound):
        mixed_root.commit_files(OCFL_11, {"text/x.txt": b"x"}, editor="a", reason="r", event="x")
    with pytest.raises(StoreError, match="不是 Guji 的对象"):
        mixed_root.create({"id": OCFL_10, "record_type": "guji", "edition": {"title": "某書"}},
                          editor="a", reason="r")
    assert not (mixed_root.store.root / OCFL_10 / "v2").exists()


def test_commands_that_walk_every_object_skip_foreign_ones(mixed_root, sample_cards, tmp_path):
    from guji.ingest.pipeline import rebuild_tiles
    from guji.ingest.pyramid import build_pyramids
    from guji.search.indexer import Indexer

    mixed_root.rebuild_db()
    assert rebuild_tiles(mixed_root, workers=1) == 0
    assert build_pyramids(mixed_root) == 0
    assert Indexer(mixed_root).rebuild() == len(sample_cards)
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    listing = OAIRepository(mixed_root).respond([("verb", "ListIdentifiers"), ("metadataPrefix", "oai_dc")],
                                                now=tomorrow)
    assert OCFL_11 not in listing.decode() and sample_cards[0]["id"] in listing.decode()
