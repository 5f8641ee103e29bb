"""Every text a person reads, in their language: one place for all of it.

The texts are data, like the rules: ``locales/<language>.yaml`` beside this
module, one file per language with the same keys, grouped by who reads them
(``bot`` for users, ``admin`` for admins, ``bulletin``, ``chat`` for the
console). A translator edits one file; ``tests/test_locales.py`` checks that
every key exists in every language with the same ``{placeholders}``.

This module also owns what the texts have in common: the language list and
the fallback (English for a language we do not have), Telegram's 4,096
character limit, and HTML escaping. To add texts (say, for photos), add the
same key to each file and call :func:`text`.
"""

from __future__ import annotations

import html as _html
from functools import lru_cache
from importlib import resources
from typing import Mapping

import yaml

from .detect.schema import LANGUAGES

__all__ = ["LANGUAGES", "FALLBACK", "MAX_MESSAGE", "language", "text", "table", "escape", "bold"]

FALLBACK = "en"
MAX_MESSAGE = 4096  # Telegram's limit for one message, in characters


def language(lang: str | None) -> str:
    """``lang`` when we have it, else the fallback language."""
    return lang if lang in LANGUAGES else FALLBACK


def _flatten(node: object, prefix: str, out: dict[str, str], source: str) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), out, source)
    elif isinstance(node, str):
        out[prefix] = node
    else:
        raise ValueError(f"{source}: {prefix or 'the file'} must be text or a mapping of texts")


@lru_cache(maxsize=None)
def table(lang: str) -> Mapping[str, str]:
    """All texts of one language, by dotted key (``bot.risk.high``)."""
    source = f"locales/{lang}.yaml"
    raw = resources.files(__package__).joinpath(source).read_text(encoding="utf-8")
    out: dict[str, str] = {}
    _flatten(yaml.safe_load(raw), "", out, source)
    return out


def text(key: str, lang: str | None, **fmt: object) -> str:
    """The text ``key`` in ``lang`` (the fallback language's when ``lang`` is
    unknown or lacks it), formatted with ``fmt``."""
    texts = table(language(lang))
    value = texts.get(key)
    if value is None:
        value = table(FALLBACK)[key]
    return value.format(**fmt) if fmt else value


def escape(value: object, html: bool = True) -> str:
    """``value`` as text, HTML-escaped for Telegram when ``html``."""
    return _html.escape(str(value), quote=False) if html else str(value)


def bold(value: object, html: bool = True) -> str:
    return f"<b>{escape(value, html)}</b>" if html else str(value)
