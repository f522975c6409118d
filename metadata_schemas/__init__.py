"""The catalogue card as data: JSON Schema, controlled vocabularies, 四部 classification.

Everything here is read from the JSON files beside this module, so librarians can change a
vocabulary without touching code::

    card.schema.json                 the card (JSON Schema draft 2020-12, $id urn:guji:schema:card)
    vocabularies/<name>.json         one controlled vocabulary each ($id urn:guji:vocab:<name>)
    vocabularies/sibu_classification.json   the 四部 tree with stable codes
    grading_rules.json               rules read by repository.grading (advisory grade suggestions)

`validate_card` answers in plain Chinese, naming each field by the title the staff editor shows.
"""

from __future__ import annotations

import copy as _copy
import difflib
import json
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

__all__ = [
    "SCHEMA_DIR",
    "VOCABULARY_DIR",
    "card_schema",
    "vocabulary",
    "vocabulary_names",
    "canonical_term",
    "classification_by_code",
    "classification_lookup",
    "classification_tree",
    "card_validator",
    "validate_card",
]

SCHEMA_DIR = Path(__file__).parent
VOCABULARY_DIR = SCHEMA_DIR / "vocabularies"
CARD_SCHEMA_ID = "urn:guji:schema:card"
VOCABULARY_ID_PREFIX = "urn:guji:vocab:"


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


@cache
def _card_schema() -> dict:
    return _read_json(SCHEMA_DIR / "card.schema.json")


def card_schema() -> dict:
    """The card JSON Schema (a fresh copy: callers may change it freely)."""
    return _copy.deepcopy(_card_schema())


def vocabulary_names() -> list[str]:
    """Names of all vocabularies, e.g. ``["annotation_type", "binding", …]``."""
    return sorted(path.stem for path in VOCABULARY_DIR.glob("*.json"))


@cache
def _vocabulary(name: str) -> dict:
    path = VOCABULARY_DIR / f"{name}.json"
    if not path.is_file():
        known = "、".join(vocabulary_names())
        raise KeyError(f"没有名为 {name!r} 的受控词表；现有：{known}")
    return _read_json(path)


def vocabulary(name: str) -> dict:
    """One vocabulary schema, e.g. ``vocabulary("edition_type")["enum"]``."""
    return _copy.deepcopy(_vocabulary(name))


@cache
def _traditional_to_simplified():
    """OpenCC t2s, or None where the package is missing (vocabulary aliases still work)."""
    try:
        import opencc
    except ImportError:  # pragma: no cover - opencc is a declared dependency
        return None
    return opencc.OpenCC("t2s")


def _to_simplified(text: str) -> str:
    converter = _traditional_to_simplified()
    return converter.convert(text) if converter else text


def canonical_term(vocab_name: str, value: str) -> str | None:
    """The vocabulary's canonical term for `value`, or None if it is not a term or alias.

    Tries the exact term, then the aliases (traditional and variant spellings, e.g. 刊本 → 刻本),
    then both again after a traditional→simplified conversion.
    """
    if not isinstance(value, str):
        return None
    vocab = _vocabulary(vocab_name)
    terms = vocab.get("enum") or []
    aliases = vocab.get("x-aliases") or {}
    text = unicodedata.normalize("NFC", value).strip()
    for candidate in dict.fromkeys((text, _to_simplified(text))):
        if candidate in terms:
            return candidate
        if candidate in aliases:
            return aliases[candidate]
    return None


# ---------------------------------------------------------------- 四部 classification


def classification_tree() -> list[dict]:
    """The 四部 tree: nodes {code, level, name, name_hant, kanripo?, aliases?, note?, children}."""
    return _copy.deepcopy(_vocabulary("sibu_classification")["x-tree"])


def _public_node(node: dict, ancestors: tuple[dict, ...]) -> dict:
    chain = (*ancestors, node)
    found = _copy.deepcopy(node)
    found["path"] = [item["name"] for item in chain]
    found["path_hant"] = [item["name_hant"] for item in chain]
    by_level = {item["level"]: item["name"] for item in chain}
    found["bu"], found["lei"], found["shu"] = by_level.get("部"), by_level.get("类"), by_level.get("属")
    return found


@cache
def _classification_index() -> tuple[dict[str, tuple[dict, tuple[dict, ...]]], list[tuple[dict, tuple]]]:
    by_code: dict[str, tuple[dict, tuple[dict, ...]]] = {}
    in_order: list[tuple[dict, tuple]] = []

    def walk(nodes: list[dict], ancestors: tuple[dict, ...]) -> None:
        for node in nodes:
            by_code[node["code"]] = (node, ancestors)
            in_order.append((node, ancestors))
            walk(node.get("children", []), (*ancestors, node))

    walk(_vocabulary("sibu_classification")["x-tree"], ())
    return by_code, in_order


def classification_by_code(code: str) -> dict | None:
    """The node with this code (e.g. ``"1.03"``) plus ``path``, ``bu``, ``lei``, ``shu``; None if unknown."""
    entry = _classification_index()[0].get(str(code).strip())
    return _public_node(*entry) if entry else None


def _name_key(text: str) -> str:
    return _to_simplified(unicodedata.normalize("NFC", text)).replace(" ", "").replace("\u3000", "")


def _names_of(node: dict) -> set[str]:
    names = {node["name"], node["name_hant"], *node.get("aliases", [])}
    return {_name_key(name) for name in names}


def _segment_matches(node: dict, segment: str) -> bool:
    key = _name_key(segment)
    if not key:
        return False
    names = _names_of(node)
    if key in names:
        return True
    # 「經」「詩」「都會郡縣」 without the 部/類/之屬 suffix
    return any(key + suffix in names for suffix in ("部", "类", "之属"))


def classification_lookup(text: str) -> dict | None:
    """Find a class by code, Kanripo id, name or path; None if nothing matches.

    Accepts ``"1.03"``, ``"KR1c"``, ``"诗类"``, ``"詩類"``, ``"經部/詩類"``, ``"史部/地理类/都会郡县之属"``.
    Simplified and traditional forms are both accepted. A bare name that occurs more than once
    returns the first node in tree order; give the path to choose another.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    found = classification_by_code(text)
    if found:
        return found
    by_code, in_order = _classification_index()
    for node, ancestors in in_order:
        if node.get("kanripo", "").lower() == text.lower():
            return _public_node(node, ancestors)
    segments = [part for part in text.replace("／", "/").replace("\\", "/").split("/") if part.strip()]
    for node, ancestors in in_order:
        chain = (*ancestors, node)
        if not _segment_matches(node, segments[-1]):
            continue
        if len(segments) == 1:
            return _public_node(node, ancestors)
        # every earlier segment must name an ancestor, in order
        position = 0
        for segment in segments[:-1]:
            while position < len(chain) - 1 and not _segment_matches(chain[position], segment):
                position += 1
            if position >= len(chain) - 1:
                break
            position += 1
        else:
            return _public_node(node, ancestors)
    return None


# ---------------------------------------------------------------- validation


@cache
def _registry() -> Registry:
    resources = []
    for name in vocabulary_names():
        contents = _vocabulary(name)
        resources.append((contents["$id"], Resource.from_contents(contents)))
    resources.append((CARD_SCHEMA_ID, Resource.from_contents(_card_schema())))
    return Registry().with_resources(resources)


@cache
def card_validator() -> Draft202012Validator:
    """A cached validator for cards; its registry holds every vocabulary schema."""
    return Draft202012Validator(
        _card_schema(), registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


_TYPE_NAMES = {
    "string": "文字",
    "integer": "整数",
    "number": "数字",
    "boolean": "是或否（true/false）",
    "array": "列表",
    "object": "一组字段",
    "null": "空",
}

# when one field fails several checks, report the one a cataloguer can act on
_PRIORITY = {"type": 0, "required": 1, "additionalProperties": 1, "pattern": 2, "format": 2, "not": 2, "enum": 3}


def _format_path(path: list) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _schema_at(path: list) -> dict | None:
    """The card-schema node for a data path (following items for list positions)."""
    node: Any = _card_schema()
    for part in path:
        if not isinstance(node, dict):
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return node if isinstance(node, dict) else None


def _title(path: list) -> str:
    node = _schema_at(path)
    if node and node.get("title"):
        return node["title"]
    return _format_path(path) or "卡片"


def _vocabulary_of(schema: dict) -> dict | None:
    schema_id = schema.get("$id", "")
    if schema_id.startswith(VOCABULARY_ID_PREFIX):
        return schema
    return None


def _enum_message(error: ValidationError, title: str) -> str:
    vocab = _vocabulary_of(error.schema)
    value = error.instance
    allowed = list(error.validator_value)
    if vocab is not None:
        name = vocab["$id"][len(VOCABULARY_ID_PREFIX):]
        suggestion = canonical_term(name, value) if isinstance(value, str) else None
        if suggestion:
            return f"{title}「{value}」应写作规范用语「{suggestion}」"
        shown = "、".join(str(term) for term in allowed[:12]) + ("……" if len(allowed) > 12 else "")
        return f"{title}「{value}」不在受控词表「{vocab.get('title', name)}」中；可用：{shown}"
    shown = "、".join(str(term) for term in allowed)
    return f"{title}「{value}」不是可用的值；可用：{shown}"


def _messages(error: ValidationError, path: list) -> list[tuple[list, str]]:
    """[(data path, Chinese message)] for one schema error."""
    if error.validator in ("required", "additionalProperties"):
        return _field_messages(error, path)
    return [_value_message(error, path)]


def _custom_message(error: ValidationError) -> str | None:
    """A message written into the schema: ``"x-messages": {"pattern": "应为 …"}``."""
    if not isinstance(error.schema, dict):
        return None
    return (error.schema.get("x-messages") or {}).get(error.validator)


def _field_messages(error: ValidationError, path: list) -> list[tuple[list, str]]:
    """Missing or unknown fields: one message per field."""
    custom = _custom_message(error)
    title = _title(path)
    kind = error.validator
    if kind == "required":
        parent = _title(path) if path else "卡片"
        found = []
        for missing in (name for name in error.validator_value if name not in (error.instance or {})):
            message = f"{parent} 缺少必填项「{_title([*path, missing])}」"
            if custom:
                message += f"：{custom}"
            found.append(([*path, missing], message))
        return found
    if kind == "additionalProperties":
        allowed = list((error.schema.get("properties") or {}).keys())
        found = []
        for extra in (name for name in (error.instance or {}) if name not in allowed):
            message = f"「{extra}」不是{title if path else '卡片'}中可用的字段（拼写错误？）"
            close = difflib.get_close_matches(extra, allowed, n=1, cutoff=0.6)
            if close:
                message += f"；是否想写 {close[0]}（{_title([*path, close[0]])}）？"
            else:
                message += f"；可用字段：{', '.join(allowed)}"
            found.append(([*path, extra], message))
        return found
    return []


def _value_message(error: ValidationError, path: list) -> tuple[list, str]:
    """A field whose value is wrong."""
    custom = _custom_message(error)
    title = _title(path)
    kind = error.validator
    if custom:
        extra_path = error.schema.get("x-path") if isinstance(error.schema, dict) else None
        target = [*path, extra_path] if extra_path else path
        if extra_path:
            return target, custom
        return target, f"{title} {custom}"
    if kind == "enum":
        return path, _enum_message(error, title)
    if kind == "type":
        wanted = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        names = "或".join(_TYPE_NAMES.get(name, name) for name in wanted if name != "null")
        return path, f"{title} 应为{names or '空'}，现在是「{error.instance!r}」"
    if kind == "pattern":
        return path, f"{title}「{error.instance}」格式不对"
    if kind == "format":
        return path, f"{title}「{error.instance}」格式不对，应为 {error.validator_value}"
    if kind in ("minLength",):
        return path, f"{title} 不能为空"
    if kind in ("minimum", "exclusiveMinimum"):
        return path, f"{title} 应不小于 {error.validator_value}，现在是 {error.instance}"
    if kind == "uniqueItems":
        return path, f"{title} 中有重复的项"
    if kind == "const":
        return path, f"{title} 应为「{error.validator_value}」"
    return path, f"{title}：{error.message}"


def _leaf_errors(error: ValidationError):
    """anyOf/oneOf errors carry their real causes in `context`."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        non_null = [sub for sub in error.context if not (sub.validator == "type" and sub.validator_value == "null")]
        for sub in non_null or error.context:
            yield from _leaf_errors(sub)
    else:
        yield error


def _classification_errors(card: dict) -> list[tuple[list, str]]:
    classification = (card.get("edition") or {}).get("classification")
    if not isinstance(classification, dict):
        return []
    code = classification.get("code")
    if not isinstance(code, str) or classification_by_code(code) is not None:
        return []
    if not re.match(_vocabulary("sibu_classification")["pattern"], code):
        return []  # the schema already reports a malformed code
    return [(["edition", "classification", "code"], f"分类号「{code}」不在四部分类表中，请查 sibu_classification.json")]


def validate_card(card: Any) -> list[dict]:
    """Problems with a card as ``[{"path": "copy.census_number", "message": "…"}]``; [] if it is valid.

    Messages are in plain Chinese and name each field by its schema title, e.g.
    ``古籍普查编号 应为 6位-4位-7位 数字，如 320000-0101-0000001``.
    """
    if not isinstance(card, dict):
        return [{"path": "", "message": "卡片应为一组字段（JSON 对象）"}]
    found: dict[str, tuple[int, str]] = {}
    order: list[str] = []
    for top in card_validator().iter_errors(card):
        for error in _leaf_errors(top):
            rank = _PRIORITY.get(error.validator, 4)
            for path, message in _messages(error, list(error.absolute_path)):
                key = _format_path(path)
                if key not in found:
                    order.append(key)
                    found[key] = (rank, message)
                elif rank < found[key][0]:
                    found[key] = (rank, message)
    if isinstance(card.get("edition"), dict):
        for path, message in _classification_errors(card):
            key = _format_path(path)
            if key not in found:
                order.append(key)
                found[key] = (0, message)
    return [{"path": key, "message": found[key][1]} for key in sorted(order)]
