"""Exports written to a path appear whole or not at all: a failure half-way leaves what was there."""

from __future__ import annotations

import pytest

from guji.repository import atomic_files
from guji.repository.outputs import card_formats


def test_an_export_that_fails_half_way_leaves_the_earlier_file_untouched(catalogue, sample_cards, tmp_path,
                                                                           monkeypatch):
    for card in sample_cards:
        catalogue.create(card, editor="test", reason="fixture")
    output = tmp_path / "exports" / "cards.mrc"
    assert card_formats.write_marc(catalogue, output) == len(sample_cards)
    complete = output.read_bytes()

    made = []
    original = card_formats.marc_record

    def fails_on_the_third(record):
        made.append(record.id)
        if len(made) == 3:
            raise OSError("no space left on device")
        return original(record)

    monkeypatch.setattr(card_formats, "marc_record", fails_on_the_third)
    with pytest.raises(OSError):
        card_formats.write_marc(catalogue, output)
    assert output.read_bytes() == complete
    assert sorted(p.name for p in output.parent.iterdir()) == ["cards.mrc"]  # no temporary file left


def test_replacing_writes_a_new_file_and_its_folder(tmp_path):
    target = tmp_path / "new" / "report.json"
    atomic_files.write_text(target, "{}\n")
    assert target.read_text() == "{}\n" and [p.name for p in target.parent.iterdir()] == ["report.json"]
