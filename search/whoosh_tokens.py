"""Tokenizers of the whoosh index. whoosh pickles its schema with these classes in it, so this
module and the class names must stay importable as they are (moving them breaks old indexes).

The value given to a field is already a search key (see `search.analyzer`); these only cut it.
"""

from __future__ import annotations

from whoosh.analysis import Token, Tokenizer

PARAGRAPH_BREAK = "\u2029"


class UnigramTokenizer(Tokenizer):
    """Every character of a key (paragraph breaks skipped) — for one-character queries."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        position = start_pos
        for char in value:
            if char == PARAGRAPH_BREAK:
                continue
            token.text = char
            token.boost = 1.0
            if positions:
                token.pos = position
            position += 1
            yield token


class BigramTokenizer(Tokenizer):
    """Overlapping character pairs of a key with positions, never across a paragraph break."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        position = start_pos
        for index in range(len(value) - 1):
            pair = value[index:index + 2]
            if PARAGRAPH_BREAK in pair:
                continue
            token.text = pair
            token.boost = 1.0
            if positions:
                token.pos = position
            position += 1
            yield token
