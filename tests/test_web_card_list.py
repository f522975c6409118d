"""The staff card list (sorted, filtered and paged in the catalogue DB) and a new card's history page."""

from __future__ import annotations

import lxml.html

from guji.repository.card_list import CardListQuery, card_list

# `samples`, `cataloguer`: conftest.py


def column(html: str, index: int) -> list[str]:
    """The text of one column of the card list (1: 索书号)."""
    rows = lxml.html.fromstring(html).cssselect("table.cards tr")[1:]
    return [" ".join(row.cssselect("td")[index].text_content().split()) for row in rows]


def test_the_card_list_sorts_by_any_column_both_ways(cataloguer):
    page = cataloguer.get("/staff/cards")
    assert column(page.text, 1) == ["示善0001", "示善0002", "示善0003", "示地0001", "示地0002"]
    by_type = cataloguer.get("/staff/cards", params={"sort": "edition_type", "order": "desc"}).text
    types = column(by_type, 5)
    assert types == sorted(types, reverse=True) and "刻本" in types
    header = lxml.html.fromstring(by_type).cssselect("th[aria-sort=descending] a")[0]
    assert header.text_content().startswith("版本类型") and "order=desc" not in header.get("href")  # a click turns it
    assert cataloguer.get("/staff/cards", params={"sort": "nonsense"}).status_code == 422


def test_the_card_list_filters_by_class_edition_type_extant_juan_editor_and_date(cataloguer, samples):
    card = samples.get("maoshi-zhushu").card
    card["edition"]["notes"] = "试改附注"
    samples.save("maoshi-zhushu", card, editor="李四", reason="试改", base_version=1)
    assert column(cataloguer.get("/staff/cards", params={"class": "2"}).text, 1) == ["示善0003", "示地0001",
                                                                                      "示地0002"]
    assert column(cataloguer.get("/staff/cards", params={"edition_type": "刻本"}).text, 5) == ["刻本"] * 3
    assert column(cataloguer.get("/staff/cards", params={"extant": "存十七卷"}).text, 1) == ["示善0002"]
    assert column(cataloguer.get("/staff/cards", params={"editor": "李四"}).text, 1) == ["示善0001"]
    assert len(column(cataloguer.get("/staff/cards", params={"since": "2000-01-01"}).text, 1)) == 5
    assert "没有找到卡片" in cataloguer.get("/staff/cards", params={"since": "2999-01-01"}).text
    assert cataloguer.get("/staff/cards", params={"since": "not a date"}).status_code == 422


def test_the_card_list_pages_instead_of_cutting_off(samples):
    first = card_list(samples, CardListQuery(page_size=2))
    second = card_list(samples, CardListQuery(page=3, page_size=2))
    assert first.total == 5 and first.pages == 3
    assert [row.call_number for row in first.rows] == ["示善0001", "示善0002"]
    assert [row.call_number for row in second.rows] == ["示地0002"]


def test_a_new_cards_history_says_what_its_one_version_is(cataloguer):
    page = cataloguer.get("/staff/cards/maoshi-zhushu/history").text
    assert "请选择两个不同的版本" not in page and "v1 → v1" not in page
    assert "v1：这张卡片的第一个版本" in page and "建立了这张卡片（导入示例）" in page
    fields = {row.get("data-path"): " ".join(row.text_content().split())
              for row in lxml.html.fromstring(page).cssselect("table.diff tr[data-path]")}
    assert "毛詩注疏" in fields["edition.title"] and "古籍（guji）" in fields["record_type"]
