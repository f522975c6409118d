"""The `guji` command line, as a user runs it: in-process (cli_support.guji), the console script itself
as a real process once. `sample_library` and `data_home` (conftest.py) hold samples/cards.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_support import command_paths, guji, guji_process


def test_every_command_has_help(tmp_path):
    """In-process for each command; the console script itself once (a real subprocess)."""
    from typer.testing import CliRunner

    from guji.web.cli import cli, root

    commands = list(command_paths(cli))
    assert {("cards", "import"), ("cards", "print"), ("history",), ("diff",), ("rebuild-db",), ("fixity",),
            ("serve",), ("users", "add"), ("tiles", "rebuild")} <= set(commands)
    for command in commands:
        result = CliRunner().invoke(root, [*command, "--help"])
        assert result.exit_code == 0 and "用法：" in result.output and "--help" in result.output, command
    assert "用法：guji" in guji_process(tmp_path, "--help").stdout


def test_edit_history_diff_show(data_home):
    export = json.loads(guji(data_home, "cards", "export").stdout)
    card_id = export[0]["id"]
    call_number = export[0]["copy"]["call_number"]
    guji(data_home, "cards", "edit", call_number, "--reason", "审校：存卷更正",
         "--set", "copy.extant_juan.raw=存卷一至三")
    history = guji(data_home, "history", card_id).stdout
    assert "审校：存卷更正" in history and "测试员" in history and "v2" in history
    diff = guji(data_home, "diff", card_id, "v1", "v2").stdout
    assert "存卷一至三" in diff and "copy.extant_juan.raw" in diff
    shown = json.loads(guji(data_home, "cards", "show", card_id, "--json").stdout)
    assert shown["copy"]["extant_juan"]["raw"] == "存卷一至三"
    old = json.loads(guji(data_home, "cards", "show", card_id, "--version", "1", "--json").stdout)
    assert old == {k: v for k, v in export[0].items() if k != "version"}


def test_stale_edit_is_a_conflict_and_exit_code_1(data_home):
    card_id = json.loads(guji(data_home, "cards", "export").stdout)[0]["id"]
    guji(data_home, "cards", "edit", card_id, "--reason", "a", "--set", "edition.notes=甲")
    result = guji(data_home, "cards", "edit", card_id, "--reason", "b", "--set", "edition.notes=乙",
                  "--base-version", "1", check=False)
    assert result.returncode == 1
    assert "保存冲突" in result.stderr and "甲" in result.stderr and "乙" in result.stderr


def test_import_refusal_names_rows_and_exit_code(sample_library, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("索书号,题名,普查编号\n新001,某書,12\n", encoding="utf-8")
    result = guji(sample_library, "cards", "import", str(bad), check=False)
    assert result.returncode == 1
    assert "第2行「普查编号」列" in result.stderr and "什么也没有导入" in result.stderr


def test_fixity_rebuild_and_unknown_card(data_home):
    assert "0 处问题" in guji(data_home, "fixity", "--ocfl").stdout
    assert "已从 OCFL 重建目录数据库" in guji(data_home, "rebuild-db").stdout
    missing = guji(data_home, "history", "nonesuch", check=False)
    assert missing.returncode == 3 and "nonesuch" in missing.stderr and "Traceback" not in missing.stderr
    victim = next((data_home / "ocfl").glob("*/v1/content/card.json"))
    victim.write_bytes(victim.read_bytes().replace(b"}", b"} ", 1))
    failed = guji(data_home, "fixity", check=False)
    assert failed.returncode == 1 and "card.json" in failed.stderr


@pytest.mark.both_databases
def test_rebuild_db_into_the_database_in_use(catalogue, sample_cards):
    """`guji rebuild-db` on SQLite and on PostgreSQL (GUJI_DATABASE_URL): the same projection again."""
    from test_catalogue import dump_projection
    from typer.testing import CliRunner

    from guji.web.cli import root as app

    for card in sample_cards:
        catalogue.create(card, editor="张三", reason="导入示例")
    before = dump_projection(catalogue)
    result = CliRunner().invoke(app, ["--home", str(catalogue.home.root), "rebuild-db"])
    assert result.exit_code == 0, result.output
    assert f"重建目录数据库：{len(sample_cards)} 张卡片" in result.output
    assert dump_projection(catalogue) == before
    assert catalogue.events(limit=1)[0].kind == "rebuild-db"


def test_missing_data_home_says_what_to_do(tmp_path):
    result = guji(tmp_path / "nowhere", "cards", "list", check=False)
    assert result.returncode == 3 and "guji init" in result.stderr


def test_export_xlsx_and_csv(sample_library, tmp_path):
    guji(sample_library, "cards", "export", "--format", "xlsx", "-o", str(tmp_path / "c.xlsx"))
    guji(sample_library, "cards", "export", "--format", "csv", "-o", str(tmp_path / "c.csv"), "--headers", "en")
    header = (tmp_path / "c.csv").read_text(encoding="utf-8-sig").splitlines()[0]
    assert header.startswith("id,version,call_number")


def test_dry_run_shows_field_changes_and_writes_nothing(data_home, tmp_path):
    export = json.loads(guji(data_home, "cards", "export").stdout)
    revision = [{**export[0], "修改原因": "审校"}]
    revision[0]["copy"] = {**revision[0]["copy"], "volumes": 7}
    path = tmp_path / "revision.json"
    path.write_text(json.dumps(revision, ensure_ascii=False), encoding="utf-8")
    result = guji(data_home, "cards", "import", str(path), "--dry-run")
    assert "→ 7" in result.stdout and "什么也没有写入" in result.stdout
    assert "v1" in guji(data_home, "history", export[0]["id"]).stdout
    assert "v2" not in guji(data_home, "history", export[0]["id"]).stdout


def test_cards_show_grade_and_diff_speak_chinese_in_card_order(catalogue, sample_cards):
    """In-process: 起始年 before 终止年, 题名 … 版本 … 复本层 in the order of the card, Chinese labels;
    the grade suggestion names its rule and says plainly when the rule is unconfirmed."""
    from typer.testing import CliRunner

    from guji.web.cli import root as app

    for card in sample_cards:
        catalogue.create(card, editor="测试员", reason="导入")
    runner = CliRunner(env={"COLUMNS": "250"})
    home = ["--home", str(catalogue.home.root)]
    shown = runner.invoke(app, [*home, "cards", "show", "jingchuan-wenji"])
    assert shown.exit_code == 0, shown.output
    rows = [line.split("│")[1].strip() for line in shown.output.splitlines() if line.count("│") >= 3]
    order = ["标识符", "记录类型", "题名", "卷数", "责任说明", "版本类型", "版本", "出版项 · 出版时间",
             "出版时间 · 起始年", "出版时间 · 终止年", "行款版式", "版框", "索书号", "古籍普查编号", "册数", "函数",
             "装帧", "存卷", "钤印（原文）", "定级 · 级别", "收藏单位", "权利声明"]
    assert [label for label in rows if label in order] == order
    assert "古籍（guji）" in shown.output and "│ 卷数 · 卷数 " not in shown.output
    assert "定级建议（仅供参考）：三级甲等（规则 sanji-jia-wanli-chongzhen）" in shown.output
    assert "未经核对" in shown.output and "grade suggestion" not in shown.output

    graded = runner.invoke(app, [*home, "cards", "grade", "示地0001"])  # 影梅庵憶語: no date on the card
    assert graded.exit_code == 1 and graded.output.startswith("没有定级建议：出版时间")

    catalogue.save("jingchuan-wenji", {**sample_cards[1], "copy": {**sample_cards[1]["copy"], "volumes": 9}},
                   editor="测试员", reason="册数更正", base_version=1)
    diff = runner.invoke(app, [*home, "diff", "jingchuan-wenji", "v1", "v2"])
    assert "│ 册数 " in diff.output and "┃ 字段 " in diff.output and "field" not in diff.output
    same = runner.invoke(app, [*home, "diff", "jingchuan-wenji", "v2", "v2"])
    assert "没有字段变化" in same.output


# ---- the one CLI handler: exit codes by kind, bugs said as bugs ---------------------------------------


def test_errors_exit_with_their_kind_and_a_bug_is_reported_as_one(catalogue, sample_cards, monkeypatch):
    from typer.testing import CliRunner

    from guji.repository.catalogue import Catalogue
    from guji.web.cli import root

    for card in sample_cards[:2]:
        catalogue.create(card, editor="测试员", reason="导入")
    home = ["--home", str(catalogue.home.root)]
    runner = CliRunner(env={"COLUMNS": "250"})
    missing = runner.invoke(root, [*home, "cards", "show", "nonesuch"])
    assert missing.exit_code == 3 and missing.output.startswith("未找到：")
    usage = runner.invoke(root, [*home, "cards", "export", "--format", "odt"])
    assert usage.exit_code == 2 and "「odt」不可用：请用 json、csv、xlsx" in usage.output
    needs_file = runner.invoke(root, [*home, "cards", "export", "--format", "xlsx"])
    assert needs_file.exit_code == 2 and "需要用 -o 指定文件" in needs_file.output

    def broken(self, limit=None):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(Catalogue, "list_rows", broken)
    bug = runner.invoke(root, [*home, "cards", "list"])
    assert bug.exit_code == 70 and "内部错误（程序缺陷" in bug.output and "error:" not in bug.output
    log = Path(bug.output.split("完整记录已写入 ")[1].split("，")[0])
    assert "ZeroDivisionError: a bug" in log.read_text(encoding="utf-8") and oct(log.stat().st_mode)[-3:] == "600"
    log.unlink()


def test_a_bad_setting_stops_the_command_naming_it_and_version_needs_no_data_home(monkeypatch, capsys, tmp_path):
    from guji.web.cli import main

    monkeypatch.setenv("GUJI_OAI_PAGE_SIZE", "abc")
    monkeypatch.setattr(sys, "argv", ["guji", "--home", str(tmp_path), "cards", "list"])
    with pytest.raises(SystemExit) as stopped:
        main()
    assert stopped.value.code == 2 and "GUJI_OAI_PAGE_SIZE='abc'" in capsys.readouterr().err
    monkeypatch.delenv("GUJI_OAI_PAGE_SIZE")
    monkeypatch.setattr(sys, "argv", ["guji", "--version"])
    with pytest.raises(SystemExit) as shown:
        main()
    assert shown.value.code == 0 and capsys.readouterr().out.startswith("guji 0.")


def test_the_progress_rate_reads_as_pages_per_minute():
    from guji.repository.cli import rate_text

    assert rate_text(None, "页") == "– 页/分"  # before: "None/s"
    assert rate_text(0.2053, "页") == "12.3 页/分"  # before: "0.2053/s" with all its digits
    assert rate_text(652.4, "张") == "652.4 张/秒"
