"""Importing and exporting cards: spreadsheets with Chinese headers, refusals, batch revision."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from guji.repository.card_export import export_cards
from guji.repository.card_import import ImportRefused, UnreadableFile, apply_plan, plan_import, write_rejects

# Real titles, authors and editions (Kanripo catalogue, CC BY-SA 4.0), cycled to make big files.
BOOKS = [
    ("毛詩注疏", "三十卷", "（漢）毛亨傳（漢）鄭玄箋（唐）孔穎達疏", "清乾隆四十四年文淵閣四庫全書本", "写本"),
    ("詩序", "二卷", "（周）卜商撰", "清文淵閣四庫全書本", "写本"),
    ("毛詩草木鳥獸蟲魚疏", "二卷", "（吳）陸璣撰", "明萬曆二十四年刻本", "刻本"),
    ("影梅庵憶語", "一卷", "（清）冒襄撰", "清道光刻本", "刻本"),
    ("儀禮注疏", "十七卷", "（漢）鄭玄注（唐）賈公彥疏", "清嘉慶二十年南昌府學刻本", "刻本"),
]


def write_table(path: Path, headers: list[str], rows: list[list]) -> Path:
    if path.suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        sheet = workbook.active
        sheet.append(headers)
        for row in rows:
            sheet.append(row)
        workbook.save(path)
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(headers)
            writer.writerows(rows)
    return path


def book_rows(count: int) -> list[list]:
    rows = []
    for n in range(count):
        title, juan, people, edition, kind = BOOKS[n % len(BOOKS)]
        rows.append([f"善{n + 1:05d}", title, juan, people, edition, kind, f"存{juan}", "半葉九行行二十字白口左右雙邊",
                     f"320000-0101-{n + 1:07d}", 2 + n % 5])
    return rows


HEADERS = ["索书号", "题名", "卷数", "著者", "版本", "版本类型", "存卷", "行款版式", "普查编号", "册数"]


def test_a_fifty_row_xlsx_import_is_one_database_transaction(catalogue, tmp_path):
    """Fifty rows prove it as well as thousands (bench/cards.py measures the thousands): every card its
    own OCFL object, the projection of all of them committed once, then the import event."""
    from sqlalchemy import event

    path = write_table(tmp_path / "cards.xlsx", HEADERS, book_rows(50))
    plan = plan_import(catalogue, path)
    assert plan.count("create") == 50 and not plan.bad
    commits = []

    def committed(connection):
        commits.append(connection)

    event.listen(catalogue.engine, "commit", committed)
    try:
        results = apply_plan(catalogue, plan, editor="张三")
    finally:
        event.remove(catalogue.engine, "commit", committed)
    assert len(commits) == 2  # the 50 cards' rows in one transaction, the import event in another
    assert len(results) == 50
    assert catalogue.count() == 50
    assert len(catalogue.store.object_ids()) == 50
    card = catalogue.get(catalogue.resolve("善00034")).card
    assert card["edition"]["title"] == BOOKS[33 % 5][0]
    assert card["copy"]["census_number"] == "320000-0101-0000034"
    assert card["copy"]["volumes"] == 2 + 33 % 5
    assert card["edition"]["layout"]["parsed"]["chars_per_line"]["min"] == 20
    # importing the same file again changes nothing
    again = plan_import(catalogue, path)
    assert again.count("unchanged") == 50


def test_a_file_with_bad_rows_is_refused_whole_with_row_numbers(catalogue, tmp_path):
    rows = book_rows(5)
    rows[1][8] = "3200-0101-1"  # spreadsheet row 3: bad 普查编号
    rows[3][9] = "很多"  # spreadsheet row 5: bad 册数
    path = write_table(tmp_path / "cards.csv", HEADERS, rows)
    plan = plan_import(catalogue, path)
    assert [(p.row, p.column) for p in plan.problems] == [(3, "普查编号"), (5, "册数")]
    with pytest.raises(ImportRefused) as refused:
        apply_plan(catalogue, plan, editor="张三")
    assert "5 行中有 2 行有错" in str(refused.value)
    assert "第3行「普查编号」列" in str(plan.problems[0])
    assert catalogue.count() == 0 and catalogue.store.object_ids() == []


def test_skip_bad_imports_the_rest_and_writes_a_reject_file(catalogue, tmp_path):
    rows = book_rows(4)
    rows[2][8] = "not-a-number"
    path = write_table(tmp_path / "cards.xlsx", HEADERS, rows)
    plan = plan_import(catalogue, path)
    apply_plan(catalogue, plan, editor="张三", skip_bad=True)
    assert catalogue.count() == 3
    rejects = write_rejects(plan, tmp_path / "rejects.xlsx")
    sheet = openpyxl.load_workbook(rejects).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-1] == "错误原因"
    assert len(values) == 2 and values[1][0] == "善00003"
    assert "第4行「普查编号」列" in values[1][-1]


def test_batch_revision_writes_one_version_per_changed_card_with_its_reason(catalogue, tmp_path):
    apply_plan(catalogue, plan_import(catalogue, write_table(tmp_path / "a.xlsx", HEADERS, book_rows(6))),
               editor="张三")
    exported = tmp_path / "export.xlsx"
    export_cards(catalogue, "xlsx", exported)
    workbook = openpyxl.load_workbook(exported)
    sheet = workbook.active
    headers = [c.value for c in sheet[1]]
    extant = headers.index("存卷")
    sheet.cell(row=1, column=len(headers) + 1, value="修改原因")
    for row in (2, 4, 6):
        sheet.cell(row=row, column=extant + 1, value="存卷一")
        sheet.cell(row=row, column=len(headers) + 1, value="2026年省中心专家审校")
    workbook.save(exported)
    plan = plan_import(catalogue, exported)
    assert (plan.count("revise"), plan.count("unchanged"), len(plan.bad)) == (3, 3, 0)
    apply_plan(catalogue, plan, editor="李四")
    revised = [catalogue.get(item.card_id) for item in plan.items if item.action == "revise"]
    for stored in revised:
        assert stored.version == 2
        assert stored.card["copy"]["extant_juan"] == {"raw": "存卷一", "count": 1,
                                                      "ranges": [{"section": None, "start": 1, "end": 1}]} \
            or stored.card["copy"]["extant_juan"]["raw"] == "存卷一"
        assert stored.versions[-1].reason == "2026年省中心专家审校" and stored.versions[-1].editor == "李四"
    untouched = [item.card_id for item in plan.items if item.action == "unchanged"]
    assert all(catalogue.get(card_id).version == 1 for card_id in untouched)


def test_a_revision_of_a_card_changed_since_export_is_refused(catalogue, tmp_path):
    apply_plan(catalogue, plan_import(catalogue, write_table(tmp_path / "a.csv", HEADERS, book_rows(2))),
               editor="张三")
    exported = tmp_path / "export.csv"
    export_cards(catalogue, "csv", exported)
    card_id = catalogue.resolve("善00001")
    stored = catalogue.get(card_id)
    card = dict(stored.card)
    card["copy"] = {**card["copy"], "volumes": 9}
    catalogue.save(card_id, card, editor="王五", reason="核对册数", base_version=1)
    with open(exported, encoding="utf-8-sig") as fh:
        table = list(csv.reader(fh))
    table[0].append("修改原因")
    for row in table[1:]:
        row[table[0].index("存卷")] = "存卷一"
        row.append("审校")
    write_table(tmp_path / "revision.csv", table[0], table[1:])
    plan = plan_import(catalogue, tmp_path / "revision.csv")
    assert len(plan.bad) == 1
    assert plan.bad[0].card_id == card_id and "王五" in str(plan.bad[0].problems[0])
    assert plan.problems[0].column == "基于版本"


def test_an_existing_card_without_a_reason_is_a_bad_row(catalogue, tmp_path):
    apply_plan(catalogue, plan_import(catalogue, write_table(tmp_path / "a.csv", HEADERS, book_rows(2))),
               editor="张三")
    rows = book_rows(2)
    rows[0][6] = "存卷一"
    plan = plan_import(catalogue, write_table(tmp_path / "b.csv", HEADERS, rows))
    assert len(plan.bad) == 1 and "修改原因" in str(plan.problems[0])
    assert plan.count("unchanged") == 1


def test_traditional_headers_and_a_gbk_csv_are_read(catalogue, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("索書號,題名卷數,著者,冊數,鈐印\n善00001,毛詩注疏三十卷,（漢）毛亨傳,22,\"“鐵琴銅劍樓”朱文長方印（卷端）\"\n"
                     .encode("gb18030"))
    plan = plan_import(catalogue, path)
    assert not plan.bad, plan.problems
    apply_plan(catalogue, plan, editor="张三")
    card = catalogue.get(catalogue.resolve("善00001")).card
    assert card["edition"]["title"] == "毛詩注疏"
    assert card["edition"]["juan"]["count"] == 30
    assert card["copy"]["volumes"] == 22
    assert card["copy"]["seals"] == [{"text": "鐵琴銅劍樓", "style": "朱文", "shape": "长方形", "position": "卷端"}]


def test_duplicate_call_numbers_in_one_file_are_bad_rows(catalogue, tmp_path):
    rows = book_rows(3)
    rows[2][0] = rows[0][0]
    plan = plan_import(catalogue, write_table(tmp_path / "dup.csv", HEADERS, rows))
    assert [p.row for p in plan.problems] == [4]
    assert "第2行" in plan.problems[0].message


def test_files_that_cannot_be_read_are_refused_with_the_reason(catalogue, tmp_path):
    (tmp_path / "cards.txt").write_text("x")
    with pytest.raises(UnreadableFile, match="不支持的文件类型"):
        plan_import(catalogue, tmp_path / "cards.txt")
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(UnreadableFile, match="broken.xlsx"):
        plan_import(catalogue, tmp_path / "broken.xlsx")
    write_table(tmp_path / "noheader.csv", ["foo", "bar"], [["1", "2"]])
    with pytest.raises(UnreadableFile, match="应是表头"):
        plan_import(catalogue, tmp_path / "noheader.csv")


def test_json_round_trip_keeps_ids_and_changes_nothing(catalogue, sample_cards, tmp_path):
    source = tmp_path / "samples.json"
    source.write_text(json.dumps(sample_cards, ensure_ascii=False), encoding="utf-8")
    apply_plan(catalogue, plan_import(catalogue, source), editor="张三")
    exported = tmp_path / "export.json"
    export_cards(catalogue, "json", exported)
    data = json.loads(exported.read_text(encoding="utf-8"))
    assert sorted(card["id"] for card in data) == sorted(card["id"] for card in sample_cards)
    assert all(card["version"] == 1 for card in data)
    assert plan_import(catalogue, exported).count("unchanged") == len(sample_cards)


def test_spreadsheet_round_trip_of_every_sample_changes_nothing(catalogue, sample_cards, tmp_path):
    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    for format in ("xlsx", "csv"):
        exported = tmp_path / f"all.{format}"
        export_cards(catalogue, format, exported)
        plan = plan_import(catalogue, exported)
        assert not plan.bad, [str(p) for p in plan.problems]
        assert plan.count("unchanged") == len(sample_cards), [(i.card_id, i.changes) for i in plan.items]


def test_seals_typed_in_one_cell_are_kept_and_split(catalogue, tmp_path):
    cell = "“鐵琴銅劍樓”朱文長方印（卷端）；瞿氏秘笈白文方印"
    path = write_table(tmp_path / "seals.csv", ["索书号", "题名", "钤印"], [["善1", "某書", cell]])
    apply_plan(catalogue, plan_import(catalogue, path), editor="张三")
    card = catalogue.get(catalogue.resolve("善1")).card
    assert card["copy"]["seals_raw"] == cell
    assert [(s["text"], s["style"], s["shape"]) for s in card["copy"]["seals"]] == [
        ("鐵琴銅劍樓", "朱文", "长方形"), ("瞿氏秘笈", "白文", "方形")]
