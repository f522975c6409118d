"""Cards in the catalogue: saves, warnings, conflicts, history, former call numbers, rebuild —
the same contract on SQLite and on PostgreSQL."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from test_ocfl_store import ocfl_validate

from guji.repository import CardConflict, CardError, CardNotFound, Catalogue

pytestmark = pytest.mark.both_databases


def minimal_card(**copy_fields) -> dict:
    card = {
        "id": "yingmeian",
        "record_type": "local_document",
        "edition": {
            "title": "影梅庵憶語",
            "juan": {"raw": "一卷"},
            "responsibility_raw": "（清）冒襄撰",
            "edition_type": "刻本",
            "edition_statement": "清道光刻本",
            "layout": {"raw": "半葉九行行二十字白口左右雙邊單黑魚尾"},
        },
        "copy": {"call_number": "善000301", "volumes": 1, **copy_fields},
        "local_document": {"author": "冒襄", "place": "如皋", "type": "地方著述"},
    }
    return card


def test_save_fills_parsed_parts_and_keeps_raw_strings(catalogue):
    result = catalogue.create(minimal_card(extant_juan={"raw": "存卷一至五、卷八"}), editor="张三", reason="新编")
    assert result.version == 1
    card = catalogue.get("yingmeian").card
    assert card["edition"]["layout"]["raw"] == "半葉九行行二十字白口左右雙邊單黑魚尾"
    layout = card["edition"]["layout"]["parsed"]
    assert layout["lines_per_half_leaf"] == {"min": 9, "max": 9}
    assert layout["borders"] == "左右双边"
    assert card["edition"]["responsibilities"] == [{"dynasty": "清", "name": "冒襄", "role": "撰"}]
    assert card["edition"]["juan"]["count"] == 1
    assert card["edition"]["publication"]["date"]["start"] == 1821  # 清道光, from the 版本 statement
    assert card["edition"]["publication"]["date"]["end"] == 1850
    assert card["copy"]["extant_juan"]["count"] == 6
    assert card["copy"]["extant_juan"]["raw"] == "存卷一至五、卷八"


def test_an_unreadable_raw_string_is_a_warning_not_a_failed_save(catalogue):
    card = minimal_card()
    card["edition"]["layout"] = {"raw": "版式待考"}
    result = catalogue.create(card, editor="张三", reason="新编")
    assert result.version == 1
    assert [w.field for w in result.warnings] == ["edition.layout"]
    assert "行款版式" in str(result.warnings[0])
    stored = catalogue.get("yingmeian").card
    assert stored["edition"]["layout"] == {"raw": "版式待考"}


def test_an_invalid_card_is_refused_naming_the_field_and_nothing_is_stored(catalogue):
    card = minimal_card(census_number="3200-01-1")
    with pytest.raises(CardError) as refused:
        catalogue.create(card, editor="张三", reason="新编")
    assert any(p["path"] == "copy.census_number" for p in refused.value.problems)
    assert not catalogue.exists("yingmeian")
    assert catalogue.count() == 0


def test_history_and_field_level_diff(catalogue):
    catalogue.create(minimal_card(extant_juan={"raw": "存卷一至五"}), editor="张三", reason="新编")
    card = catalogue.get("yingmeian").card
    card["copy"]["extant_juan"] = {"raw": "存卷一至八"}
    catalogue.save("yingmeian", card, editor="李四", reason="专家审校后补正存卷", base_version=1)
    history = catalogue.history("yingmeian")
    assert [(v.number, v.editor, v.reason) for v in history] == [
        (1, "张三", "新编"), (2, "李四", "专家审校后补正存卷")]
    changes = {c.path: (c.old, c.new) for c in catalogue.diff("yingmeian", 1, 2)}
    assert changes["copy.extant_juan.raw"] == ("存卷一至五", "存卷一至八")
    assert changes["copy.extant_juan.count"] == (5, 8)
    assert "edition.title" not in changes
    raw_change = next(c for c in catalogue.diff("yingmeian", 1, 2) if c.path == "copy.extant_juan.raw")
    assert raw_change.label.startswith("存卷")


def test_a_stale_save_is_refused_showing_both_sides(catalogue):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    first = catalogue.get("yingmeian")
    theirs = copy.deepcopy(first.card)
    theirs["copy"]["volumes"] = 2
    catalogue.save("yingmeian", theirs, editor="李四", reason="核对册数", base_version=1)
    ours = copy.deepcopy(first.card)
    ours["copy"]["binding"] = "线装"
    with pytest.raises(CardConflict) as conflict:
        catalogue.save("yingmeian", ours, editor="王五", reason="补装帧", base_version=1)
    assert conflict.value.theirs["copy"]["volumes"] == 2
    assert conflict.value.ours["copy"]["binding"] == "线装"
    assert "李四" in str(conflict.value) and "v2" in str(conflict.value)
    stored = catalogue.get("yingmeian")
    assert stored.version == 2 and "binding" not in stored.card["copy"]


def test_former_call_numbers_stay_findable(catalogue):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    card = catalogue.get("yingmeian").card
    card["copy"]["call_number"] = "地000012"
    catalogue.save("yingmeian", card, editor="张三", reason="改入地方文献专藏", base_version=1)
    stored = catalogue.get("yingmeian").card
    assert stored["copy"]["former_call_numbers"] == ["善000301"]
    assert catalogue.resolve("善000301") == "yingmeian"
    assert catalogue.resolve("地000012") == "yingmeian"
    with pytest.raises(CardNotFound):
        catalogue.resolve("善999999")


def dump_projection(catalogue: Catalogue) -> dict:
    with catalogue.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))]
            for table in ("cards", "card_identifiers", "card_versions")
        }


def test_rebuild_db_gives_identical_results_and_keeps_events(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    card = catalogue.get(sample_cards[0]["id"]).card
    card["copy"]["call_number"] = "善新001"
    catalogue.save(card["id"], card, editor="李四", reason="改号", base_version=1)
    before = dump_projection(catalogue)
    events_before = len(catalogue.events(limit=1000))
    assert len(before["cards"]) == len(sample_cards)
    assert catalogue.rebuild_db().cards == len(sample_cards)
    assert dump_projection(catalogue) == before
    assert len(catalogue.events(limit=1000)) == events_before + 1


def test_events_are_append_only(catalogue, database):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    refused = ["UPDATE events SET actor = 'someone else'", "DELETE FROM events"]
    if database == "postgresql":
        refused.append("TRUNCATE events")
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"), catalogue.engine.begin() as connection:
            connection.execute(text(statement))
    kinds = [e.kind for e in catalogue.events("yingmeian")]
    assert kinds == ["create"]
    assert json.loads(catalogue.events("yingmeian")[0].detail_json)["reason"] == "新编"


def test_ocfl_stays_valid_after_a_series_of_edits(catalogue, sample_cards):
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    for round_number in range(3):
        for card in sample_cards:
            stored = catalogue.get(card["id"])
            edited = copy.deepcopy(stored.card)
            edited.setdefault("edition", {})["notes"] = f"第{round_number + 1}次审校"
            catalogue.save(card["id"], edited, editor="李四", reason=f"审校 {round_number}",
                           base_version=stored.version)
    result = ocfl_validate(catalogue.store.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert catalogue.fixity().ok
    assert all(catalogue.get(c["id"]).version == 4 for c in sample_cards)


def test_lost_db_update_is_reprojected_on_open(home, catalogue):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    card = catalogue.get("yingmeian").card
    card["copy"]["volumes"] = 3
    # Simulate a crash between the OCFL commit and the DB update.
    catalogue._project = lambda *args: (_ for _ in ()).throw(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        catalogue.save("yingmeian", card, editor="张三", reason="册数", base_version=1)
    assert (home.journal / "yingmeian.db").exists()
    reopened = Catalogue.open(home)
    try:
        row = reopened.list_rows()[0]
        assert row.head_version == 2
        assert json.loads(row.card_json)["copy"]["volumes"] == 3
        assert not (home.journal / "yingmeian.db").exists()
    finally:
        reopened.close()


def test_commit_files_keeps_db_history_in_step_and_protects_the_card(catalogue):
    catalogue.create(minimal_card(), editor="张三", reason="新编")
    version = catalogue.commit_files("yingmeian", {"text/0001.txt": "影梅庵憶語".encode()}, editor="李四",
                                     reason="导入全文", event="text-import", pages=1)
    assert version.number == 2
    assert catalogue.list_rows()[0].head_version == 2
    assert catalogue.events("yingmeian")[0].kind == "text-import"
    assert catalogue.commit_files("yingmeian", {"text/0001.txt": "影梅庵憶語".encode()}, editor="李四",
                                  reason="again", event="text-import") is None
    with pytest.raises(CardError):
        catalogue.commit_files("yingmeian", {"card.json": b"{}"}, editor="a", reason="r", event="x")
    with pytest.raises(CardNotFound):
        catalogue.commit_files("nonesuch", {"a.txt": b"x"}, editor="a", reason="r", event="x")


def test_edition_type_is_read_from_the_statement_and_a_typed_one_wins(catalogue):
    card = minimal_card()
    del card["edition"]["edition_type"]
    card["edition"]["edition_statement"] = "明崇禎毛氏汲古閣刻本"
    catalogue.create(card, editor="张三", reason="新编")
    stored = catalogue.get("yingmeian").card["edition"]
    assert stored["edition_type_derived"] == "刻本" and "edition_type" not in stored
    assert catalogue.list_rows()[0].edition_type == "刻本"

    card = catalogue.get("yingmeian").card
    card["edition"]["edition_type"] = "套印本"  # the cataloguer knows better: the derived value goes
    catalogue.save("yingmeian", card, editor="张三", reason="改版本类型", base_version=1)
    stored = catalogue.get("yingmeian").card["edition"]
    assert stored["edition_type"] == "套印本" and "edition_type_derived" not in stored
    assert catalogue.list_rows()[0].edition_type == "套印本"

    card = catalogue.get("yingmeian").card
    del card["edition"]["edition_type"]
    card["edition"]["edition_statement"] = "清乾隆文淵閣四庫全書本"  # names no type: no value, no warning
    result = catalogue.save("yingmeian", card, editor="张三", reason="改版本", base_version=2)
    assert result.warnings == []
    assert "edition_type_derived" not in catalogue.get("yingmeian").card["edition"]
    assert catalogue.list_rows()[0].edition_type is None


def test_rebuild_db_derives_the_edition_type_of_cards_stored_without_it(catalogue, monkeypatch):
    """Cards saved before the statement was read keep their stored form; the DB and the facet use the type."""
    import guji.repository.card
    from guji.web.collection import Filters, facets

    card = minimal_card()
    del card["edition"]["edition_type"]
    card["edition"]["edition_statement"] = "清刻本"
    with monkeypatch.context() as patch:
        patch.setattr(guji.repository.card, "derived_edition_type", lambda card: None)  # as an older Guji stored it
        catalogue.create(card, editor="张三", reason="新编")
    assert catalogue.list_rows()[0].edition_type is None
    before = catalogue.get("yingmeian")
    assert "edition_type_derived" not in before.card["edition"]

    catalogue.rebuild_db()
    assert catalogue.list_rows()[0].edition_type == "刻本"
    after = catalogue.get("yingmeian")
    assert after.version == before.version and after.card == before.card  # nothing rewritten in OCFL
    edition_types = next(facet for facet in facets(catalogue, Filters()) if facet.key == "edition_type")
    assert [(value.value, value.count) for value in edition_types.values] == [("刻本", 1)]


def test_any_card_ocfl_accepts_is_projected_on_either_engine(catalogue, home):
    """What PostgreSQL refuses and SQLite takes — U+0000, a value longer than its column, an index
    entry beyond 2,704 bytes — never stops a save after OCFL has it: the row holds what fits."""
    card = minimal_card(call_number="善" + "\0" + "一" * 300)
    card["edition"]["title"] = "影梅庵\0憶語"
    card["edition"]["publication"] = {"date": {"raw": "清道光", "dynasty": "清" * 40}}
    card["local_document"]["author"] = "冒" * 3000
    card["copy"]["lists"] = [{"scope": "国家", "number": "0" * 500}]
    catalogue.create(card, editor="张\0三", reason="原因\0")
    [row] = catalogue.list_rows()
    assert row.title == "影梅庵\ufffd憶語" and row.call_number.startswith("善\ufffd一") and len(row.call_number) == 64
    assert len(row.local_author) == 500 and row.updated_by == "张\ufffd三"
    stored = catalogue.get("yingmeian")
    assert stored.card["edition"]["title"] == "影梅庵\0憶語" and json.loads(row.card_json) == stored.card
    assert catalogue.rebuild_db().cards == 1
