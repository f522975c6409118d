"""Reading another library's IIIF manifest (Presentation 2 or 3) into what an imported book needs.

Real manifests are often broken. Everything Guji will later serve is checked here, before
anything is stored, and a manifest that fails is refused with :class:`ManifestRefused` naming the
JSON path of the problem (``sequences[0].canvases[3].images[0].resource.@id：「asdf」不是网址…``):

* the shapes: ``sequences``, ``canvases``, ``items``, ``images``, ``structures``, ``metadata``
  must be lists of objects where the specification says so (``"sequences": 3`` or
  ``"canvases": "…"`` is refused, not a traceback);
* every image, image service and thumbnail Guji will link to must be an http(s) URL — our
  manifest re-serves them, and a viewer can do nothing with ``"asdf"``;
* only images: a canvas painted with video or sound (a ``duration``, a body of type ``Video`` or
  ``Sound``, a format that is not ``image/…``) is refused — Guji's viewer and page pipeline show
  images, and re-serving a video as ``"type": "Image"`` would be false;
* an image body that is a ``SpecificResource`` (an image with a selector, e.g. the IIIF Cookbook's
  rotation recipe) is kept faithfully: its ``source`` is the image (with its service) and its
  ``selector`` is stored and served again as given.

Tolerated, with a warning from the importer: sizes written as strings (``"612"``), a missing
``viewingDirection``, rights that are not a URI of the card vocabulary.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from guji.repository.errors import Refused

from .language import CJK

DIRECTIONS = ("left-to-right", "right-to-left", "top-to-bottom", "bottom-to-top")
BEHAVIORS = ("paged", "individuals", "continuous")
MAX_URI = 4000  # characters
MAX_SELECTOR = 4000  # characters of JSON
IMAGE_TYPES = ("Image", "dctypes:Image", "foaf:Image")
NOT_IMAGES = {"Video": "视频", "Sound": "音频", "Audio": "音频", "Text": "文本", "Model": "三维模型",
              "dctypes:MovingImage": "视频", "dctypes:Sound": "音频", "dctypes:Text": "文本"}


class ManifestRefused(Refused):
    """The manifest cannot be imported; the message names what is wrong. Nothing was stored."""


# ---- shapes ----------------------------------------------------------------------------------


def _kind(value) -> str:
    if isinstance(value, bool):
        return f"布尔值 {json.dumps(value)}"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return f"数字 {value}"
    if isinstance(value, str):
        return f"字符串「{value[:40]}」"
    return "列表" if isinstance(value, list) else "对象"


def _refuse(path: str, problem: str) -> ManifestRefused:
    return ManifestRefused(f"{path}：{problem}")


def _list(value, path: str) -> list:
    """A list (absent: empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _refuse(path, f"应为列表（JSON 数组），这里是{_kind(value)}")
    return value


def _object(value, path: str) -> dict:
    if not isinstance(value, dict):
        raise _refuse(path, f"应为对象（JSON 对象），这里是{_kind(value)}")
    return value


def _objects(value, path: str) -> list[tuple[str, dict]]:
    """A list of objects, each with its path."""
    return [(f"{path}[{index}]", _object(item, f"{path}[{index}]")) for index, item in enumerate(_list(value, path))]


def _first(value, path: str) -> tuple[object, str]:
    """A value that may be given alone or as a list: the first one, and its path."""
    if isinstance(value, list):
        return (value[0], f"{path}[0]") if value else (None, path)
    return value, path


def is_web_uri(value) -> bool:
    """An absolute http(s) URL without spaces or control characters (what a viewer can fetch)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_URI or re.search(r"[\s\x00-\x1f\x7f]", value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _uri(value, path: str) -> str:
    if not is_web_uri(value):
        shown = f"「{value[:60]}」" if isinstance(value, str) else _kind(value)
        raise _refuse(path, f"{shown}不是网址：应为 http:// 或 https:// 开头的完整地址")
    return value


def _text(value) -> str:
    """A label or value of either version as one string (prefers Chinese, then none, then any)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        texts = [_text(item) for item in value]
        chinese = [text for text in texts if CJK.search(text)]
        return (chinese or [t for t in texts if t] or [""])[0]
    if isinstance(value, dict):
        if "@value" in value:
            return str(value["@value"]).strip()
        for key in ("zh-Hant", "zh-TW", "zh", "zh-Hans", "zh-CN", "ja", "none"):
            if value.get(key):
                return _text(value[key])
        for values in value.values():
            if values:
                return _text(values)
    return str(value).strip()


def _id(item: dict, path: str, key: str) -> str:
    """An id Guji only matches on (canvases, ranges): any string; absent is empty."""
    value = item.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _refuse(f"{path}.{key}", f"应为字符串，这里是{_kind(value)}")
    return value


def _dimension(value, path: str) -> int:
    """Widths and heights, also when a manifest writes them as strings ("612")."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise _refuse(path, f"{value!r} 不是像素数") from None
    if not number > 0 or number != int(number) or number > 10**9:
        raise _refuse(path, f"{value!r} 不是正整数像素数")
    return int(number)


def _optional_dimension(value) -> int | None:
    try:
        return _dimension(value, "")
    except ManifestRefused:
        return None


def _strip_fragment(uri: str) -> str:
    return uri.split("#", 1)[0]


def _names(value) -> list:
    """`behavior` and the like: a list, or one name given alone."""
    return [value] if isinstance(value, str) else value if isinstance(value, list) else []


# ---- images, services, thumbnails --------------------------------------------------------------


def _service(value, path: str) -> dict | None:
    service, path = _first(value, path)
    if service is None:
        return None
    service = _object(service, path)
    key = "id" if "id" in service else "@id"
    service_id = _uri(service.get(key), f"{path}.{key}")
    kind = service.get("type") or service.get("@type")
    context = str(service.get("@context") or "")
    if not isinstance(kind, str) or not kind or kind.startswith("iiif:"):
        kind = "ImageService3" if "/image/3" in context else "ImageService2"
    profile, _ = _first(service.get("profile"), path)
    return {"id": service_id, "type": kind, "profile": profile if isinstance(profile, str) else None}


def _thumbnail(value, path: str) -> dict | None:
    thumbnail, path = _first(value, path)
    if thumbnail is None:
        return None
    if isinstance(thumbnail, str):
        return {"id": _uri(thumbnail, path)}
    thumbnail = _object(thumbnail, path)
    key = "id" if "id" in thumbnail else "@id"
    form = thumbnail.get("format")
    return {"id": _uri(thumbnail.get(key), f"{path}.{key}"), "format": form if isinstance(form, str) else None}


def _image_only(kind, form, path: str) -> None:
    """Refuse what is not an image (video, sound …): Guji shows images only."""
    if kind is not None and kind not in IMAGE_TYPES:
        what = NOT_IMAGES.get(kind, f"类型 {kind!r}") if isinstance(kind, str) else _kind(kind)
        shown = f"（{form}）" if isinstance(form, str) else ""
        raise _refuse(path, f"这一页是{what}{shown}，不是图像：Guji 只能展示图像，不能导入视频、音频等")
    if form is not None and not (isinstance(form, str) and form.startswith("image/")):
        raise _refuse(f"{path}.format", f"格式 {form!r} 不是图像（应为 image/jpeg 等）")


@dataclass
class SourceImage:
    id: str
    format: str | None
    width: int | None
    height: int | None
    service: dict | None
    selector: object = None  # of a SpecificResource body: kept as given
    resource_id: str | None = None  # the SpecificResource's own id


def _image(body: dict, path: str, id_key: str, type_key: str) -> SourceImage:
    """An image body (Presentation 3 `body`, Presentation 2 `resource`)."""
    _image_only(body.get(type_key), body.get("format"), path)
    return SourceImage(_uri(body.get(id_key), f"{path}.{id_key}"), body.get("format"),
                       _optional_dimension(body.get("width")), _optional_dimension(body.get("height")),
                       _service(body.get("service"), f"{path}.service"))


def _v3_body(value, path: str) -> SourceImage:
    body, path = _first(value, path)
    body = _object(body, path)
    if body.get("type") == "Choice":
        body, path = _first(body.get("items"), f"{path}.items")
        body = _object(body, path)
    if body.get("type") != "SpecificResource":
        return _image(body, path, "id", "type")
    source = body.get("source")
    if isinstance(source, str):
        image = SourceImage(_uri(source, f"{path}.source"), None, None, None, None)
    else:
        image = _image(_object(source, f"{path}.source"), f"{path}.source", "id", "type")
    selector = body.get("selector")
    if selector is not None:
        if not isinstance(selector, dict | list) or len(json.dumps(selector, ensure_ascii=False)) > MAX_SELECTOR:
            raise _refuse(f"{path}.selector",
                          f"应为对象或列表（至多 {MAX_SELECTOR} 个字符），这里是{_kind(selector)}")
        image.selector = selector
    if body.get("id") is not None:
        image.resource_id = _uri(body.get("id"), f"{path}.id")
    return image


@dataclass
class SourceCanvas:
    id: str
    label: str
    width: int
    height: int
    image: SourceImage
    thumbnail: dict | None


def _v3_canvases(manifest: dict) -> list[SourceCanvas]:
    canvases = []
    for path, canvas in _objects(manifest.get("items"), "items"):
        if canvas.get("duration") is not None:
            raise _refuse(f"{path}.duration", "这一页有时长，是视频或音频的画布：Guji 只能展示图像，"
                                              "不能导入视频、音频等")
        width = _dimension(canvas.get("width"), f"{path}.width")
        height = _dimension(canvas.get("height"), f"{path}.height")
        pages = _objects(canvas.get("items"), f"{path}.items")
        annotations = _objects(pages[0][1].get("items"), f"{pages[0][0]}.items") if pages else []
        if not annotations or annotations[0][1].get("body") is None:
            raise _refuse(path, "没有带图像的 painting 注释（items[0].items[0].body）")
        annotation_path, annotation = annotations[0]
        image = _v3_body(annotation.get("body"), f"{annotation_path}.body")
        canvases.append(SourceCanvas(_id(canvas, path, "id"), _text(canvas.get("label")), width, height, image,
                                     _thumbnail(canvas.get("thumbnail"), f"{path}.thumbnail")))
    return canvases


def _v2_canvases(manifest: dict) -> list[SourceCanvas]:
    sequences = _objects(manifest.get("sequences"), "sequences")
    if not sequences:
        raise _refuse("sequences", "没有（Presentation 2 的 manifest 在 sequences[0].canvases 中列出各页）")
    sequence_path, sequence = sequences[0]
    canvases = []
    for path, canvas in _objects(sequence.get("canvases"), f"{sequence_path}.canvases"):
        width = _dimension(canvas.get("width"), f"{path}.width")
        height = _dimension(canvas.get("height"), f"{path}.height")
        images = _objects(canvas.get("images"), f"{path}.images")
        if not images or images[0][1].get("resource") is None:
            raise _refuse(path, "没有图像（images[0].resource）")
        resource_path = f"{images[0][0]}.resource"
        resource = _object(images[0][1]["resource"], resource_path)
        if resource.get("@type") == "oa:Choice":
            resource_path += ".default"
            resource = _object(resource.get("default"), resource_path)
        image = _image(resource, resource_path, "@id", "@type")
        canvases.append(SourceCanvas(_id(canvas, path, "@id"), _text(canvas.get("label")), width, height, image,
                                     _thumbnail(canvas.get("thumbnail"), f"{path}.thumbnail")))
    return canvases


# ---- ranges (卷, 册) -----------------------------------------------------------------------------


def _v3_ranges(manifest: dict) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []

    def canvases_of(item, path: str, depth: int) -> list[str]:
        if depth > 20:
            raise _refuse(path, "范围（Range）嵌套超过 20 层")
        if isinstance(item, str):
            return [_strip_fragment(item)]
        if not isinstance(item, dict):
            return []
        kind = item.get("type")
        if kind == "Canvas":
            return [_strip_fragment(_id(item, path, "id"))]
        if kind == "SpecificResource":
            source = item.get("source")
            if isinstance(source, dict):
                return [_strip_fragment(_id(source, f"{path}.source", "id"))]
            return [_strip_fragment(source)] if isinstance(source, str) else []
        if kind == "Range":
            children = _list(item.get("items"), f"{path}.items")
            pages = [page for index, child in enumerate(children)
                     for page in canvases_of(child, f"{path}.items[{index}]", depth + 1)]
            label = _text(item.get("label"))
            if label and "top" not in _names(item.get("behavior")):
                found.append((label, pages))
            return pages
        return []

    for path, structure in _objects(manifest.get("structures"), "structures"):
        canvases_of(structure, path, 0)
    return found


def _v2_ranges(manifest: dict) -> list[tuple[str, list[str]]]:
    items = _objects(manifest.get("structures"), "structures")
    by_id = {_id(item, path, "@id"): (path, item) for path, item in items}
    found = []

    def canvases_of(path: str, item: dict, seen: frozenset) -> list[str]:
        pages = [_strip_fragment(c) for c in _list(item.get("canvases"), f"{path}.canvases") if isinstance(c, str)]
        for child in _list(item.get("ranges"), f"{path}.ranges"):
            if isinstance(child, str) and child in by_id and child not in seen:
                pages.extend(canvases_of(*by_id[child], seen | {child}))
        return pages

    for range_id, (path, item) in by_id.items():
        label = _text(item.get("label"))
        if label and item.get("viewingHint") != "top":
            found.append((label, canvases_of(path, item, frozenset({range_id}))))
    return found


# ---- the manifest --------------------------------------------------------------------------------


@dataclass
class SourceManifest:
    version: int
    id: str
    label: str
    metadata: list[tuple[str, str]]
    rights: str
    attribution: str
    viewing_direction: str | None
    behavior: str | None
    canvases: list[SourceCanvas]
    ranges: list[tuple[str, list[str]]]


def parse_manifest(data: bytes, name: str = "manifest") -> SourceManifest:
    """The manifest in `data` (`name` says where it came from, for messages), checked as above."""
    try:
        manifest = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ManifestRefused(f"{name}：不是 JSON（{error}）") from None
    if not isinstance(manifest, dict):
        raise ManifestRefused(f"{name}：不是 IIIF manifest（JSON 的最外层不是对象）")
    context = json.dumps(manifest.get("@context", ""))
    if manifest.get("type") == "Manifest" or "presentation/3" in context:
        version = 3
        canvases = _v3_canvases(manifest)
        ranges = _v3_ranges(manifest)
        rights = manifest.get("rights")
        statement = manifest.get("requiredStatement")
        attribution = _text(statement.get("value")) if isinstance(statement, dict) else _text(statement)
        behavior = next((b for b in _names(manifest.get("behavior")) if b in BEHAVIORS), None)
        manifest_id = manifest.get("id")
    elif manifest.get("@type") == "sc:Manifest" or "presentation/2" in context:
        version = 2
        canvases = _v2_canvases(manifest)
        ranges = _v2_ranges(manifest)
        rights = _text(manifest.get("license"))
        attribution = _text(manifest.get("attribution"))
        hint = manifest.get("viewingHint") or manifest["sequences"][0].get("viewingHint")
        behavior = hint if hint in BEHAVIORS else None
        manifest_id = manifest.get("@id")
    else:
        raise ManifestRefused(f"{name}：不是 IIIF Presentation 2 或 3 的 manifest（没有 Manifest 类型，"
                              "也没有相应的 @context）")
    if not canvases:
        raise ManifestRefused(f"{name}：manifest 里没有画布（canvas），没有可导入的页")
    pairs = _objects(manifest.get("metadata"), "metadata")
    metadata = [(_text(pair.get("label")), _text(pair.get("value"))) for _, pair in pairs]
    direction = manifest.get("viewingDirection")
    return SourceManifest(version, manifest_id if isinstance(manifest_id, str) else "", _text(manifest.get("label")),
                          [m for m in metadata if m[1]], rights if isinstance(rights, str) else _text(rights),
                          attribution, direction if direction in DIRECTIONS else None, behavior, canvases, ranges)
