"""Reading numbers that arrive as text in URLs, forms and headers.

``str.isdigit()`` is true for ``²`` and ``٣``, and ``int()`` then fails on the first or reads the
second as 3; a number with 30 digits passes both and then overflows the database (SQLite and
PostgreSQL store integers up to 2**63 − 1). Numbers from outside are therefore read only when
written with the ASCII digits 0–9 and no larger than a bound; FastAPI parameters carry the same
bound (``le=DB_INT_MAX``).
"""

from __future__ import annotations

import re

DB_INT_MAX = 2**63 - 1  # the largest INTEGER SQLite (and a PostgreSQL BIGINT) holds
_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(text: object, maximum: int = DB_INT_MAX) -> int | None:
    """`text` as a non-negative whole number written in ASCII digits, or None (also when above `maximum`)."""
    if not isinstance(text, str) or not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if number <= maximum else None
