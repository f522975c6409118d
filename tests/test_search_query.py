"""The query language: what parses, and the messages for what does not."""

from __future__ import annotations

import pytest

from guji.search.query import MAX_QUERY_CHARS, QueryError, parse_query


def test_words_phrases_fields_exclusion_and_or():
    query = parse_query('后妃之德 "關 雎" -周南 著者:毛亨 OR 題名：毛詩')
    assert [[(t.key, t.field) for t in group] for group in query.required] == [
        [("后妃之德", None)], [("关雎", None)], [("毛亨", "author"), ("毛诗", "title")]]
    assert [(t.key, t.negated) for t in query.excluded] == [("周南", True)]


def test_a_colon_that_names_no_field_is_part_of_the_text():
    query = parse_query("子曰：學而")
    assert query.required[0][0].key == "子曰学而" and query.required[0][0].field is None


@pytest.mark.parametrize(("text", "message"), [
    ('"后妃之德', "引号没有配对"),
    ('后妃"之德', "引号在词中间"),
    ("-", "单独的「-」"),
    ("后妃 - 之德", "单独的「-」"),
    ("OR 后妃", "两边都要有词"),
    ("后妃 OR", "两边都要有词"),
    ("后妃 OR OR 之德", "两边都要有词"),
    ("-后妃 OR 之德", "排除的词"),
    ("著者:", "是字段名，后面没有词"),
    ("-后妃", "只有排除的词"),
    ("。，、", "没有可检索的字"),
    ("后妃\x00之德", "控制字符 U+0000"),
    ("后妃\x1b之德", "控制字符 U+001B"),
    ("字" * 10_000, "10,000 个字符"),
    ("字" * 61, "最多可用 60 个"),
    ("", "空的"),
    ("   ", "空的"),
    (" ".join("字" * 17), "超过 16 个"),
])
def test_bad_queries_get_a_message_saying_what_to_change(text, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_query(text)


def test_the_length_limit_is_on_the_typed_query():
    parse_query("字" * 60)
    with pytest.raises(QueryError):
        parse_query(" " * (MAX_QUERY_CHARS + 1) + "字")
