"""One language: every page and command output a staff member or reader meets in Chinese mode is
Chinese. A run of three or more English words (outside names such as IIIF, OAI-PMH, MODS, file
names, ids and URLs) is an English sentence left behind, and fails the walk.

The walk uses one data home shared by the module (the sample cards, three scans, a Kanripo text),
the app in-process (TestClient) and the CLI in-process (CliRunner)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import lxml.html
import pytest
from cli_support import command_paths
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_helpers import FIXTURES, WEB_SAMPLE_IDS, add_user, sign_in

from guji.repository import Catalogue, Home
from guji.web import create_app
from guji.web.cli import root as app

ROOT = Path(__file__).resolve().parents[1]
BOOK = "jingchuan-wenji"
# Names and codes that stay as they are in Chinese text (standards, formats, the language switch, licences).
ALLOWED = re.compile(
    r"IIIF|OAI-PMH|OAI|MODS|MARCXML|MARC|CNMARC|Dublin Core|JSON|API|PDF|DOCX|XLSX|CSV|JPEG|PAGE-XML|BagIt|"
    r"Presentation \d|Content Search|Mirador|English|GB/T \d+-\d+|M/OL|Kanripo|whoosh|tantivy|OpenCC|Guji|"
    # the official names of rights statements (rightsstatements.org, Creative Commons), shown beside the Chinese
    r"Public Domain Mark \d\.\d|(?:In |No )?Copyright\b[\w .()-]*|No Known Copyright"
)
# URLs and paths, card field paths (edition.juan.raw), file names, ids (qizheng-tuibu), options, commands
URL_OR_ID = re.compile(r"https?://\S+|/[\w./?=&%-]+|\b[a-z_]+(?:\.[a-z_]+|\[\d+\])+|"
                       r"\b[\w.-]+\.(?:json|txt|png|jpg|tif|xlsx|csv|pdf|docx|zip)\b|"
                       r"\b[a-z0-9]+(?:-[a-z0-9]+)+\b|--[\w-]+|\bguji(?: [a-z-]+)*")
ENGLISH_RUN = re.compile(r"\b[A-Za-z][A-Za-z'’_]+(?:[ ,;:/()·.|]+[A-Za-z][A-Za-z'’_]*){2,}")


def english_sentences(text: str) -> list[str]:
    text = ALLOWED.sub(" ", URL_OR_ID.sub(" ", text))
    return [match.group(0) for match in ENGLISH_RUN.finditer(text)]


def visible_text(html: str) -> str:
    """What a reader sees of a page: text, titles, placeholders, button values and alt texts (no code)."""
    document = lxml.html.fromstring(html)
    for hidden in document.xpath("//script|//style|//code|//template"):
        hidden.drop_tree()
    parts = [document.text_content()]
    parts += document.xpath("//@placeholder|//@title|//@alt|//@aria-label|//input[@type='submit']/@value")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def walk_home(tmp_path_factory):
    """Sample cards, one book with three scans and its Kanripo text, staff accounts and an ingest job."""
    import json

    from guji.ingest.pipeline import ingest_book
    from guji.ingest.text_import import import_text

    home = Home.resolve(tmp_path_factory.mktemp("walk") / "guji-data")
    Catalogue.init(home).close()
    catalogue = Catalogue.open(home)
    cards = json.loads((ROOT / "samples" / "cards.json").read_text(encoding="utf-8"))
    for card in cards:
        if card["id"] in WEB_SAMPLE_IDS:
            catalogue.create(card, editor="示例", reason="导入示例")
    folder = tmp_path_factory.mktemp("scans")
    for name in ("1.png", "2.png", "10.png"):
        shutil.copy(FIXTURES / "scans" / name, folder / name)
    ingest_book(catalogue, folder, BOOK, "数字化组", workers=1)
    import_text(catalogue, BOOK, [ROOT / "samples" / "texts" / "KR3f0006_002.txt"], editor="数字化组")
    card = catalogue.get("maoshi-zhushu").card  # a 存卷 whose count and list disagree: a parser's warning
    card["copy"]["extant_juan"] = {"raw": "存十卷（卷一至十五）"}
    catalogue.save("maoshi-zhushu", card, editor="示例", reason="核对存卷", base_version=1)
    add_user(catalogue, "馆长", "admin")
    catalogue.close()
    return home


@pytest.fixture(scope="module")
def client(walk_home):
    app_ = create_app(walk_home)
    with TestClient(app_, base_url="http://127.0.0.1:8000") as public:
        yield public


@pytest.fixture(scope="module")
def staff(walk_home):
    with TestClient(create_app(walk_home), base_url="http://127.0.0.1:8000") as signed_in:
        assert sign_in(signed_in, "馆长").status_code == 303
        yield signed_in


PUBLIC_PAGES = ["/", "/browse", "/browse?class=4", "/search?q=日五星", "/search?q=七政&sort=title",
                "/search?q=%22unclosed", f"/books/{BOOK}", f"/books/{BOOK}/viewer", "/books/maoshi-zhushu/viewer",
                "/books/no-such-book", "/browse?page=abc", "/no/such/page"]
STAFF_PAGES = ["/staff/", "/staff/cards", "/staff/cards?sort=updated&order=desc", f"/staff/cards/{BOOK}/edit",
               "/staff/cards/new", f"/staff/cards/{BOOK}/history", "/staff/cards/yingmeian-yiyu/history",
               "/staff/cards/maoshi-zhushu/edit", "/staff/cards/maoshi-zhushu/history",
               f"/staff/cards/{BOOK}/outputs", "/staff/audit", "/staff/ingest", "/staff/outputs", "/staff/users",
               "/staff/batch", "/staff/cards/no-such-card/edit", "/staff/ingest/99999"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_speak_chinese(client, path):
    page = client.get(path)
    assert english_sentences(visible_text(page.text)) == [], path


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_speak_chinese(staff, path):
    page = staff.get(path)
    assert english_sentences(visible_text(page.text)) == [], path


def test_parse_warnings_are_chinese_and_keep_their_english_on_the_english_site(staff):
    asked = {"kind": "extant_juan", "text": "存十卷（卷一至十五）"}
    chinese = staff.get("/staff/api/parse", params=asked).json()["warnings"]
    assert chinese == ["存卷写作10卷，但所列卷次合计15卷，请核对"]
    english = staff.get("/staff/api/parse", params={**asked, "lang": "en"}).json()["warnings"]
    assert "stated count 10 differs from the 15 juan listed" in english[0]
    form = staff.get("/staff/cards/maoshi-zhushu/edit").text
    assert "请核对</li>" in form and "differs" not in form


def test_the_english_switch_keeps_english(client):
    page = client.get(f"/books/{BOOK}", params={"lang": "en"})
    assert english_sentences(visible_text(page.text))  # the English site is English


@pytest.fixture(scope="module")
def cli(walk_home):
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, ["--home", str(walk_home.root), *args], env={"COLUMNS": "200"})
        return result.output + (result.stderr if result.stderr_bytes else "")

    return run


CLI_OUTPUTS = [("init",), ("cards", "list"), ("cards", "show", BOOK), ("history", BOOK), ("diff", BOOK, "v1", "v2"),
               ("cards", "grade", BOOK), ("users", "list"), ("text", "show", BOOK), ("fixity",), ("recover",),
               ("search", "日五星"), ("cards", "show", "no-such-card"), ("ocr-report", BOOK),
               ("text", "import", BOOK, str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"))]


@pytest.mark.parametrize("args", CLI_OUTPUTS, ids=" ".join)
def test_command_outputs_speak_chinese(cli, args):
    output = cli(*args)
    assert output.strip()
    assert english_sentences(output) == [], output


def test_reasons_guji_wrote_in_english_before_read_in_chinese():
    from guji.repository.version_reasons import readable_reason

    assert readable_reason("入藏影像 ingest 9 new or changed page scan(s) of 9 from qizheng-tuibu") == \
        "入藏影像：qizheng-tuibu 的 9 叶中新增或更换 9 叶"
    assert readable_reason("导入全文 import kanripo text: 29 pages from KR3f0006_002.txt") == \
        "导入全文（Kanripo）：29 叶，来自 KR3f0006_002.txt"
    assert readable_reason("据原书卷端核对 import text") == "据原书卷端核对 import text"  # a person's: as typed


# an option's values as its metavar shows them (kanripo|plain|page-xml|hocr): typed as they are
VALUE_LIST = re.compile(r"[\w-]+(?:\|[\w-]+)+")


def test_every_help_speaks_chinese():
    """`guji --help` and every command's `--help`: titles, summaries, options, arguments and panels."""
    from guji.web.cli import cli

    runner = CliRunner()
    for path in [(), *command_paths(cli, groups=True)]:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, prog_name="guji")
        assert result.exit_code == 0, (path, result.output)
        shown = VALUE_LIST.sub(" ", result.output)
        assert "用法：" in shown and "显示本帮助后退出" in shown
        assert english_sentences(shown) == [], (" ".join(["guji", *path]), result.output)


PANEL_CASES = [(["--help"], ["选项", "命令"]), (["cards"], ["选项", "命令"]), ([], ["命令"]),
               (["cards", "show", "--help"], ["参数", "[必填]"]), (["cards", "list", "--help"], ["[默认：50]"]),
               (["cards", "export", "--headers", "xx"], ["命令行有误", "查看帮助"])]
TYPER_ENGLISH = {"OPTIONS_PANEL_TITLE": "Options", "COMMANDS_PANEL_TITLE": "Commands", "ERRORS_PANEL_TITLE": "Error",
                 "ARGUMENTS_PANEL_TITLE": "Arguments", "REQUIRED_LONG_STRING": "[required]",
                 "DEFAULT_STRING": "[default: {}]", "RICH_HELP": "Try '{command_path} {help_option}' for help."}


@pytest.mark.parametrize(("args", "words"), PANEL_CASES, ids=[" ".join(args) or "guji" for args, _ in PANEL_CASES])
def test_help_and_usage_error_panels_are_chinese(monkeypatch, args, words):
    """Typer's own panel words, however the page is reached (a group given no command draws its help
    as the command line is read), starting each time from Typer's English."""
    from typer import rich_utils

    for name, english in TYPER_ENGLISH.items():
        monkeypatch.setattr(rich_utils, name, english)
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"}, prog_name="guji")
    shown = result.output + (result.stderr if result.stderr_bytes else "")
    assert all(word in shown for word in words), shown


USAGE_ERRORS = [(["nosuch"], "没有命令 'nosuch'"), (["cards", "lst"], "是不是 'list'？"),
                (["--bogus"], "没有选项 --bogus"), (["cards", "print"], "缺少选项 '--output'"),
                (["cards", "print", "-o"], "后面要写一个值"), (["ingest"], "缺少参数"),
                (["ingest", "--workers", "0", "x"], "应不小于 1"), (["serve", "--port", "abc"], "应是整数"),
                (["history", "a", "b", "c"], "多余的参数：b c"), (["cards", "show", "--bogus", "x"], "没有选项")]


@pytest.mark.parametrize(("args", "says"), USAGE_ERRORS, ids=[" ".join(args) for args, _ in USAGE_ERRORS])
def test_usage_errors_are_chinese(args, says):
    """The sentences of the click inside Typer: a usage error names what is wrong in Chinese."""
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"}, prog_name="guji")
    shown = result.output + (result.stderr if result.stderr_bytes else "")
    assert result.exit_code == 2 and says in shown and "命令行有误" in shown, shown
    assert english_sentences(VALUE_LIST.sub(" ", shown)) == [], shown
