"""The page viewer (Mirador 4) in the site's language: 简体中文 by default, 繁體中文 or English on request.

`/books/{id}/viewer?lang=zh-Hans|zh-Hant|en` chooses; without it the viewer follows the site's own
language switch (the `lang` cookie: 中文 → zh-Hans, English → en). Mirador's interface texts come
from its own zh-CN and zh-TW translations (``node_modules/mirador/src/locales``) with the changes in
``messages/mirador.json``, handed to Mirador under the BCP 47 tags the manifests use (zh-Hans,
zh-Hant): Mirador picks the language of a manifest's labels by its interface language, and under
zh-CN it would match ``zh`` loosely and show the zh-Hant labels first.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
ALIASES = {"zh": "zh-Hans", "zh-hans": "zh-Hans", "zh-cn": "zh-Hans", "zh-hant": "zh-Hant", "zh-tw": "zh-Hant",
           "zh-hk": "zh-Hant", "en": "en"}
MIRADOR_LOCALES = {"zh-Hans": ("zhCn", "zh-CN"), "zh-Hant": ("zhTw", "zh-TW")}  # (folder, Mirador's own code)
LANGUAGE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}
PAGE_WORDS = {
    "zh-Hans": {"viewer": "古籍阅读器", "no_book": "没有标识为「{book}」的书。",
                "withdrawn": "这条记录已撤销，不再公开。", "no_images": "本书尚无书影。",
                "loading": "正在打开阅读器……"},
    "zh-Hant": {"viewer": "古籍閱讀器", "no_book": "沒有標識為「{book}」的書。",
                "withdrawn": "這條記錄已撤銷，不再公開。", "no_images": "本書尚無書影。",
                "loading": "正在打開閱讀器……"},
    "en": {"viewer": "Guji viewer", "no_book": "There is no book “{book}”.",
           "withdrawn": "This record has been withdrawn from the public collection.",
           "no_images": "This book has no page images yet.", "loading": "Opening the viewer…"},
}


def choose(requested: str | None, site_language: str) -> str:
    """The viewer's language: `requested` when it is one we have, else the site's (zh → zh-Hans)."""
    chosen = ALIASES.get((requested or "").strip().lower())
    return chosen or ("en" if site_language == "en" else "zh-Hans")


def tab_title(language: str, title: str) -> str:
    """七政推步 · 古籍阅读器"""
    return f"{title} · {PAGE_WORDS[language]['viewer']}"


def note(language: str, message: str) -> str:
    """A short page in `language` saying why there is no viewer."""
    tag = language if language != "en" else "en"
    return (f'<!doctype html><html lang="{tag}"><head><meta charset="utf-8"><title>{html.escape(message)}</title>'
            f'</head><body><p style="font-family: sans-serif; padding: 2rem">{html.escape(message)}</p></body></html>')


def mirador_dir() -> Path:
    from .iiif_routes import mirador_dir as installed

    return installed()


@cache
def _mirador_translations(folder: str) -> dict | None:
    path = mirador_dir().parent / "src" / "locales" / folder / "translation.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["translation"]
    except (OSError, ValueError, KeyError):
        return None


@cache
def _changes() -> dict:
    return json.loads((HERE / "messages" / "mirador.json").read_text(encoding="utf-8"))


def mirador_config(language: str) -> dict:
    """`language`, `availableLanguages` and `translations` for `Mirador.viewer(...)`."""
    if language == "en":
        return {"language": "en", "availableLanguages": {"en": "English"}, "translations": {}}
    folder, own_code = MIRADOR_LOCALES[language]
    texts = _mirador_translations(folder)
    if texts is None:  # a packaged Mirador without its source locales: its own code, labels as Mirador picks them
        return {"language": own_code, "availableLanguages": {own_code: LANGUAGE_NAMES[language]}, "translations": {}}
    return {"language": language, "availableLanguages": {language: LANGUAGE_NAMES[language]},
            "translations": {language: {**texts, **_changes().get(language, {})}}}
