"""`make run` on a data home that already holds the samples (and edits made since): every
loading step leaves what is there alone, says so, and writes no version."""

from __future__ import annotations

import json

from conftest import ROOT
from typer.testing import CliRunner

from guji.web.cli import root as app


def run(home, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--home", str(home.root), *args], catch_exceptions=False)
    return result.exit_code, "".join(result.output.split())  # rich wraps lines at 80 columns


def test_loading_the_samples_again_keeps_edits_and_writes_nothing(catalogue, home, tmp_path):
    samples = ROOT / "samples" / "cards.json"
    assert run(home, "cards", "import", str(samples), "--skip-existing", "--editor", "samples")[0] == 0
    edited = catalogue.get("maoshi-zhushu")
    card = json.loads(json.dumps(edited.card))
    card["copy"]["volumes"] = 7
    catalogue.save("maoshi-zhushu", card, editor="张三", reason="核对册数", base_version=edited.version)
    # the book already has its scans and its text (as `make run` left them)
    catalogue.commit_files("qizheng-tuibu", {"structure.json": json.dumps({"pages": [{"page": "0001"}]}).encode(),
                                             "text/pages.json": b'{"pages": []}'},
                           editor="samples", reason="fixture", event="ingest")
    heads = {card_id: catalogue.store.head(card_id) for card_id in catalogue.store.object_ids()}

    code, output = run(home, "cards", "import", str(samples), "--skip-existing", "--editor", "samples")
    assert code == 0 and "6张卡片已在目录中，保持原样" in output, output
    empty_folder = tmp_path / "qizheng-tuibu"  # never read: the book has its pages
    code, output = run(home, "ingest", str(empty_folder), "--id", "qizheng-tuibu", "--skip-existing")
    assert code == 0 and "已有1页影像，保持原样" in output, output
    code, output = run(home, "text", "import", "qizheng-tuibu", str(ROOT / "samples" / "texts" / "KR3f0006_002.txt"),
                       "--skip-existing")
    assert code == 0 and "已有全文，保持原样" in output, output
    assert {card_id: catalogue.store.head(card_id) for card_id in catalogue.store.object_ids()} == heads
    assert catalogue.get("maoshi-zhushu").card["copy"]["volumes"] == 7
    code, output = run(home, "cards", "import", str(samples), "--editor", "samples")  # what `make run` did before
    assert code == 1 and "已存在且内容不同" in output
