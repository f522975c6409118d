"""The query language: what parses, and the messages for what does not."""

from __future__ import annotations

import pytest

from search.query import MAX_QUERY_CHARS, QueryError, parse_query


def test_words_phrases_fields_exclusion_and_or():
    query = parse_query('后妃之德 "關 雎" -周南 著者:毛亨 OR 題名：毛詩')
    assert [[(t.key, t.field) for t in group] for group in query.required] == [
        [("后妃之德", None)], [("关雎", None)], [("毛亨", "author"), ("毛诗", "title")]]
    assert [(t.key, t.negated) for t in query.excluded] == [("周南", True)]


def test_a_colon_that_names_no_field_is_part_of_the_text():
    query = parse_query("子曰：學而")
    assert query.required[0][0].key == "子曰学而" and query.required[0][0].field is None


@pytest.mark.parametrize(("text", "message"), [
    ('"后妃之德', "never closed"),
    ('后妃"之德', "inside a word"),
    ("-", "lone '-'"),
    ("后妃 - 之德", "lone '-'"),
    ("OR 后妃", "needs a word on both sides"),
    ("后妃 OR", "needs a word on both sides"),
    ("后妃 OR OR 之德", "needs a word on both sides"),
    ("-后妃 OR 之德", "excluded"),
    ("著者:", "names a field but no words"),
    ("-后妃", "only excludes"),
    ("。，、", "nothing to search for"),
    ("后妃\x00之德", "control character U+0000"),
    ("后妃\x1b之德", "control character U+001B"),
    ("字" * 10_000, "10,000 characters"),
    ("字" * 61, "at most 60"),
    ("", "empty"),
    ("   ", "empty"),
    (" ".join("字" * 17), "more than 16"),
])
def test_bad_queries_get_a_message_saying_what_to_change(text, message):
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_query(text)


def test_the_length_limit_is_on_the_typed_query():
    parse_query("字" * 60)
    with pytest.raises(QueryError):
        parse_query(" " * (MAX_QUERY_CHARS + 1) + "字")
