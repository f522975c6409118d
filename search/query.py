"""The query language, parsed once and executed the same way by every backend.

    后妃之德                 a phrase (every word is a phrase: no word segmentation for 文言)
    后妃 關雎                both (AND)
    "后妃 之德"              a quoted phrase (spaces and punctuation inside do not matter)
    后妃 OR 夫人             either
    -關雎                    not this
    著者:冒襄  题名:"影梅"    a field (names in simplified, traditional or English; ':' or '：')

A bad query raises :class:`QueryError` with a message saying what is wrong and where.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from guji.repository.errors import InvalidInput

from .analyzer import fold
from .fields import BY_NAME, field_named

MAX_QUERY_CHARS = 256
MAX_TERMS = 16
MAX_TERM_CHARS = 60  # a phrase longer than this is refused
_COLONS = ":："
_QUOTES = '"“”＂'


class QueryError(InvalidInput):
    """A query that cannot be run; the message says what to change, `parameter` which one (default q)."""

    title, title_english = "检索式有误", "Bad query"

    def __init__(self, message: str, *, parameter: str = "q"):
        super().__init__(message)
        self.parameter = parameter

    @property
    def extensions(self) -> dict:
        return {"parameter": self.parameter}


@dataclass(frozen=True)
class Term:
    key: str  # the search key of the phrase
    written: str  # as typed (for messages and display)
    field: str | None = None  # internal field name, None = anywhere
    negated: bool = False

    @property
    def kind(self) -> str | None:
        """'book', 'page', or None (both)."""
        return BY_NAME[self.field].kind if self.field else None

    def __str__(self) -> str:
        prefix = "-" if self.negated else ""
        where = f"{BY_NAME[self.field].label}:" if self.field else ""
        return f'{prefix}{where}"{self.written}"'


@dataclass(frozen=True)
class Query:
    text: str
    required: tuple[tuple[Term, ...], ...]  # every group must match; a group matches if any term does
    excluded: tuple[Term, ...] = ()



@dataclass
class _Token:
    kind: str  # word | phrase | or
    text: str
    position: int
    negated: bool = False
    field: str | None = None


def _check_characters(text: str) -> None:
    for position, char in enumerate(text):
        if unicodedata.category(char) == "Cc" and char not in "\t\n\r":
            raise QueryError(f"检索词第 {position + 1} 个字符是控制字符 U+{ord(char):04X}：请删去后再检索")


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char.isspace():
            index += 1
            continue
        start = index
        negated = False
        if char in "-－":
            negated = True
            index += 1
            if index >= length or text[index].isspace():
                raise QueryError(f"第 {start + 1} 个字符是单独的「-」：请紧贴在要排除的词前面，如 -關雎")
        # a field name before a colon
        field = None
        scan = index
        while scan < length and not text[scan].isspace() and text[scan] not in _COLONS and text[scan] not in _QUOTES:
            scan += 1
        if scan < length and text[scan] in _COLONS and scan > index:
            named = field_named(text[index:scan])
            if named is not None:
                field = named.name
                index = scan + 1
                if index >= length or text[index].isspace():
                    raise QueryError(f"第 {start + 1} 个字符起的「{text[start:index]}」是字段名，后面没有词：请写如 "
                                     f"{text[start:index]}冒襄")
        if index < length and text[index] in _QUOTES:
            close = next((i for i in range(index + 1, length) if text[i] in _QUOTES), -1)
            if close == -1:
                raise QueryError(f"第 {index + 1} 个字符的引号没有配对：请补上后引号 \"，或删去它")
            tokens.append(_Token("phrase", text[index + 1:close], start, negated, field))
            index = close + 1
            continue
        end = index
        while end < length and not text[end].isspace():
            if text[end] in _QUOTES:
                raise QueryError(f'第 {end + 1} 个字符的引号在词中间：请把整个短语放在引号里，如 "后妃之德"')
            end += 1
        word = text[index:end]
        if word == "OR" and not negated and field is None:
            tokens.append(_Token("or", word, start))
        else:
            tokens.append(_Token("word", word, start, negated, field))
        index = end
    return tokens


def parse_query(text: str) -> Query:
    """Parse a user's query; raises QueryError with an actionable message."""
    if text is None or not text.strip():
        raise QueryError("检索词是空的：请输入一个词或短语，如 后妃之德")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"检索词有 {len(text):,} 个字符，最多可用 {MAX_QUERY_CHARS} 个：请检索短一些的词句")
    _check_characters(text)
    tokens = _lex(text)
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = False
    for index, token in enumerate(tokens):
        if token.kind == "or":
            if index > 0 and tokens[index - 1].negated:
                raise QueryError(f"第 {token.position + 1} 个字符的 OR 跟在排除的词后面：排除的词不能作 OR 的一边")
            if not groups or pending_or or index == len(tokens) - 1:
                raise QueryError(f"第 {token.position + 1} 个字符的 OR 两边都要有词，如 后妃 OR 夫人")
            pending_or = True
            continue
        key = fold(token.text)
        if not key.replace("\u2029", ""):
            raise QueryError(f"第 {token.position + 1} 个字符起的「{token.text}」只有标点或空格，没有可检索的字："
                             "请用正文中的字检索")
        key = key.replace("\u2029", "")
        if len(key) > MAX_TERM_CHARS:
            raise QueryError(f"第 {token.position + 1} 个字符起的短语有 {len(key)} 个字，最多可用 {MAX_TERM_CHARS} 个："
                             "请检索短一些的短语")
        term = Term(key, token.text, token.field, token.negated)
        if term.negated:
            if pending_or:
                raise QueryError(f"第 {token.position + 1} 个字符起的「{token.text}」是排除的词："
                                 "排除的词不能作 OR 的一边")
            excluded.append(term)
        elif pending_or:
            groups[-1].append(term)
            pending_or = False
        else:
            groups.append([term])
    if not groups:
        raise QueryError("检索式只有排除的词：请至少加一个要找的词，如 后妃 -關雎")
    if len(groups) + len(excluded) + sum(len(g) - 1 for g in groups) > MAX_TERMS:
        raise QueryError(f"检索式的词和短语超过 {MAX_TERMS} 个：请减少一些")
    return Query(text, tuple(tuple(group) for group in groups), tuple(excluded))
