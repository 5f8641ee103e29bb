"""Which of our three languages a text is written in.

Replies go back in the language the person wrote in. Chinese text is told
apart by counting characters that exist only in Traditional or only in
Simplified script; a text with no Chinese at all gets English.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

from .normalize import CJK_CLASS
from .schema import LANGUAGES  # defined once, with the rule file's schema

__all__ = ["detect_language", "writes_cantonese", "writes_malay", "dialect_of", "LANGUAGES"]

_T2S = opencc.OpenCC("t2s")
_S2T = opencc.OpenCC("s2t")


_CJK_CHARS = re.compile(f"[{CJK_CLASS}]")  # ``is_cjk``'s blocks: found at C speed, not a loop per character


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
    cjk = _CJK_CHARS.findall(text[:2000])
    if not cjk:
        return "en" if any(c.isalpha() for c in text[:2000]) else default
    balance = sum(_script(c) for c in cjk)
    return "zh-Hant" if balance > 0 else "zh-Hans"


# Characters of written Cantonese that standard written Chinese does not use: a
# message full of them comes from Hong Kong (or Macau), not Taiwan, though both
# write Traditional characters, and the two have different help lines.
_CANTONESE = frozenset("嘅咗唔喺佢哋嚟冇畀啲嘢咩嗰乜噉嘞囉咁睇攞揾搵冚")
_CANTONESE_CHAR = re.compile("[" + "".join(sorted(_CANTONESE)) + "]")


def writes_cantonese(text: str) -> bool:
    """Whether ``text`` is written Cantonese: at least two of its characters
    (in the first 2,000) are Cantonese-only. One could be a name or a typo."""
    found = _CANTONESE_CHAR.finditer(text[:2000])
    return next(found, None) is not None and next(found, None) is not None


# Everyday Malay words (and how they are texted) that English does not use: a message
# mostly of them is Malay. Replies to it are in English (no Malay texts yet), but the help
# lines can be Malaysia's: someone who writes "sy dah transfer" is most likely there.
_MALAY = frozenset(("saya", "sy", "aku", "dah", "sudah", "tak", "tidak", "nak", "dia", "diorang", "dorang",
                    "mereka", "yang", "yg", "dengan", "dgn", "untuk", "utk", "boleh", "blh", "kena", "akaun",
                    "duit", "wang", "bayar", "byr", "minta", "mintak", "suruh", "kata", "cakap", "ckp", "macam",
                    "mcm", "apa", "ni", "tu", "ini", "itu", "lagi", "kat", "dekat", "pun", "je", "sekarang",
                    "skrg", "tolong", "tlg", "sebab", "sbb", "tapi", "kalau", "dalam", "dlm", "ada", "takde",
                    "tiada", "belum", "telah", "akan", "pada", "dari", "lepas", "dapat", "dpt", "orang",
                    "mak", "ayah", "abah", "pegawai", "polis", "panggilan", "nombor", "hantar", "bagi", "betul",
                    "ke", "di", "dan", "atau", "jangan", "jgn", "sahaja", "saja", "semua", "kami", "kita"))
# Singapore writes Malay too: with one of these, Malaysia is not assumed.
_SINGAPORE = frozenset(("s$", "sgd", "singpass", "paynow", "cpf", "hdb", "spf", "singapore", "spore", "sg"))
_LATIN_WORD = re.compile(r"[a-z$]+")


def writes_malay(text: str) -> bool:
    """Whether ``text`` is written in Malay: at least three of its words, and a quarter
    of them (in the first 2,000 characters), are everyday Malay words English lacks."""
    return _is_malay(_LATIN_WORD.findall(text[:2000].lower()))


def _is_malay(words: list[str]) -> bool:
    malay = sum(w in _MALAY for w in words)
    return malay >= 3 and 4 * malay >= len(words)


def dialect_of(text: str) -> str | None:
    """The dialect a region may be assumed for (``regions.DIALECTS``): "yue" for
    written Cantonese, "ms" for Malay (unless the text names Singapore's money or
    services), else None."""
    if writes_cantonese(text):
        return "yue"
    words = _LATIN_WORD.findall(text[:2000].lower())
    if _is_malay(words) and _SINGAPORE.isdisjoint(words):
        return "ms"
    return None


def from_language_code(code: str | None) -> str:
    """Map a Telegram ``language_code`` (IETF tag) to one of ours."""
    code = (code or "").lower().replace("_", "-")
    if code.startswith("zh"):
        if any(tag in code for tag in ("hant", "-tw", "-hk", "-mo")):
            return "zh-Hant"
        return "zh-Hans"
    return "en"
