"""Which of our three languages a text is written in.

Replies go back in the language the person wrote in. Chinese text is told
apart by counting characters that exist only in Traditional or only in
Simplified script; a text with no Chinese at all gets English.
"""

from __future__ import annotations

from functools import lru_cache

import opencc

from .normalize import is_cjk
from .schema import LANGUAGES  # defined once, with the rule file's schema

__all__ = ["detect_language", "writes_cantonese", "dialect_of", "LANGUAGES"]

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")


@lru_cache(maxsize=32768)
def _script(ch: str) -> int:
    """+1 Traditional-only, -1 Simplified-only, 0 shared by both."""
    if _T2S.convert(ch) != ch:
        return 1
    if _S2T.convert(ch) != ch:
        return -1
    return 0


def detect_language(text: str, default: str | None = "en") -> str | None:
    """The language of ``text``; ``default`` when it has no letters at all
    (a bare phone number), so the user's chosen language is kept."""
    cjk = [c for c in text[:2000] if is_cjk(c)]
    if not cjk:
        return "en" if any(c.isalpha() for c in text[:2000]) else default
    balance = sum(_script(c) for c in cjk)
    return "zh-Hant" if balance > 0 else "zh-Hans"


# Characters of written Cantonese that standard written Chinese does not use: a
# message full of them comes from Hong Kong (or Macau), not Taiwan, though both
# write Traditional characters, and the two have different help lines.
_CANTONESE = frozenset("嘅咗唔喺佢哋嚟冇畀啲嘢咩嗰乜噉嘞囉咁睇攞揾搵冚")


def writes_cantonese(text: str) -> bool:
    """Whether ``text`` is written Cantonese: at least two of its characters
    (in the first 2,000) are Cantonese-only. One could be a name or a typo."""
    return sum(c in _CANTONESE for c in text[:2000]) >= 2


def dialect_of(text: str) -> str | None:
    """The dialect a region may be assumed for (``regions.DIALECTS``): "yue" for
    written Cantonese, else None."""
    return "yue" if writes_cantonese(text) else None


def from_language_code(code: str | None) -> str:
    """Map a Telegram ``language_code`` (IETF tag) to one of ours."""
    code = (code or "").lower().replace("_", "-")
    if code.startswith("zh"):
        if any(tag in code for tag in ("hant", "-tw", "-hk", "-mo")):
            return "zh-Hant"
        return "zh-Hans"
    return "en"
