"""The edit form as a cataloguer works through it: steps in order, empty groups folded, hints in words."""

from __future__ import annotations

import lxml.html

# `samples`, `cataloguer`: conftest.py


def test_the_form_goes_title_author_edition_layout_then_copy(cataloguer):
    page = lxml.html.fromstring(cataloguer.get("/staff/cards/jingchuan-wenji/edit").text)
    steps = [" ".join(h.text_content().split()) for h in page.cssselect("h3.form-section")]
    assert steps[:5] == ["题名与卷数", "著者", "版本", "行款版式与版框", "丛编、子目、附注与分类"]
    assert steps[5:] == ["索书号与编号", "册数、装帧与开本", "存卷、批校题跋与钤印", "定级与特征", "破损与名录",
                         "收藏与来源"]


def test_empty_groups_start_folded_and_filled_ones_open(cataloguer, catalogue):
    page = lxml.html.fromstring(cataloguer.get("/staff/cards/maoshi-zhushu/edit").text)
    folded = {d.get("data-group"): d.get("open") is None for d in page.cssselect("details.folded-group")}
    assert folded == {"copy.grade": True, "local_document": True}  # a 古籍 card not yet graded
    graded = lxml.html.fromstring(cataloguer.get("/staff/cards/jingchuan-wenji/edit").text)
    assert graded.cssselect("details.folded-group[data-group='copy.grade']")[0].get("open") is not None
    lists = {d.get("data-list"): (d.cssselect(".count")[0].text, d.get("open")) for d in page.cssselect("details.list")}
    assert all(is_open is None for count, is_open in lists.values() if count == "0")  # no empty boxes open
    assert lists["edition.other_titles"] == ("1", "")  # a filled one is open (the attribute without value)
    local = lxml.html.fromstring(cataloguer.get("/staff/cards/pingyang-xianzhi-longqing/edit").text)
    assert local.cssselect("details.folded-group[data-group='local_document']")[0].get("open") is not None


def test_hints_say_what_to_type_not_the_json_shape(cataloguer):
    hints = " ".join(e.text_content() for e in lxml.html.fromstring(
        cataloguer.get("/staff/cards/new").text).cssselect("small.hint"))
    assert '{"code"' not in hints and '["普1234"]' not in hints and "local_document" not in hints
    assert "如「1.03 经部 · 诗类」" in hints
