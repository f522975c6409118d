"""Parsers for what cataloguers actually type into a catalogue card.

Each parser takes the raw string and returns a JSON-ready structure; the raw string itself is never
changed. A parser that can read nothing raises :class:`ParseError`, whose message says what was not
understood and what to type instead; one that reads part of the string returns what it read plus
``"warnings"`` (the card layer shows those when the card is saved).

=====================  ===============================  ==========================================
field                  parser                           example
=====================  ===============================  ==========================================
卷数                   :func:`parse_juan_count`         二十卷首一卷
行款版式               :func:`parse_page_layout`        半葉十行行二十字白口左右雙邊單黑魚尾
出版时间               :func:`parse_reign_date`         明萬曆二十四年, 清道光間
(inside 版本)          :func:`find_reign_date`          明萬曆二十四年金陵書林刻本
版框 / 开本            :func:`parse_dimensions`         框高19.4、宽13.2厘米
存卷                   :func:`parse_extant_juan`        存十卷（卷一至十）
责任说明               :func:`parse_responsibility`     （漢）毛亨傳（漢）鄭玄箋
版本类型 (from 版本)   :func:`parse_edition_type`       明崇禎毛氏汲古閣刻本 → 刻本
数目                   :func:`chinese_to_int`           一百四十二
=====================  ===============================  ==========================================
"""

from .dimensions import parse_dimensions
from .edition_type import parse_edition_type
from .extant_juan import juan_set, parse_extant_juan
from .juan_count import parse_juan_count
from .numerals import ParseError, chinese_to_int, in_language, int_to_chinese
from .page_layout import parse_page_layout
from .reign_era import find_reign_date, parse_reign_date
from .responsibility import format_responsibility, parse_responsibility

__all__ = [
    "ParseError",
    "chinese_to_int",
    "in_language",
    "int_to_chinese",
    "parse_juan_count",
    "parse_page_layout",
    "parse_reign_date",
    "find_reign_date",
    "parse_dimensions",
    "parse_extant_juan",
    "juan_set",
    "parse_responsibility",
    "format_responsibility",
    "parse_edition_type",
]
