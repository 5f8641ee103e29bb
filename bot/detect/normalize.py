"""Text normalisation shared by rule phrases and user messages.

Phrases and messages go through the *same* function, so a rule written in
Simplified Chinese matches a message typed in Traditional Chinese, with
full-width digits, odd spacing, or zero-width characters slipped between the
characters of a keyword (a trick scammers use to dodge filters).

Normalisation is defined per character: every input character maps to zero or
more output characters. That keeps it a single ``str.translate`` call on the
hot path (C speed, cached per character) and lets us map a match in the
normalised text back to a span of the original text for evidence.

Per character, in order:
1. Unicode NFKC (full-width letters/digits to half-width, compatibility forms);
2. case folding;
3. Traditional to Simplified Chinese (OpenCC's character table);
4. a few variant characters that Simplified text itself uses both ways
   (帐/账 in 帐户/账户) fold to one;
5. only letters, digits and combining marks survive: whitespace, punctuation,
   symbols, emoji, control and format characters (zero-width joiners, bidi
   marks) are removed, and so are the marks that only decorate emoji
   (variation selectors such as the U+FE0F in "❤️", enclosing keycaps), so a
   message of emoji alone normalises to "" like any other message without words.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from itertools import accumulate, chain, repeat

import opencc
from pypinyin import Style, lazy_pinyin

__all__ = ["normalize", "normalize_with_offsets", "original_spans", "pinyin_alias", "has_cjk", "is_cjk"]

_T2S = opencc.OpenCC("t2s")

# Characters that Simplified Chinese writes two ways; fold to the common one.
_VARIANTS = {"帐": "账"}

_KEEP_CATEGORIES = ("L", "N", "M")


def _fold_char(ch: str) -> str:
    """Normalise one character (see the module docstring for the steps)."""
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        category = unicodedata.category(c)
        if not category.startswith(_KEEP_CATEGORIES) or category == "Me" or _is_variation_selector(c):
            continue
        if is_cjk(c):
            c = _T2S.convert(c)
            c = _VARIANTS.get(c, c)
        out.append(c)
    return "".join(out)


def _is_variation_selector(c: str) -> bool:
    o = ord(c)
    return 0xFE00 <= o <= 0xFE0F or 0xE0100 <= o <= 0xE01EF or 0x180B <= o <= 0x180D or o == 0x180F


class _CharTable(dict):
    """A ``str.translate`` table that fills itself on first sight of a character."""

    __slots__ = ()

    def __missing__(self, code: int) -> str:
        value = _fold_char(chr(code))
        self[code] = value
        return value


_TABLE = _CharTable()


def normalize(text: str) -> str:
    """Return the matching form of ``text`` (see the module docstring)."""
    return text.translate(_TABLE)


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalise ``text`` and return, for every output character, the index of
    the original character it came from. Used only to report evidence spans,
    so the hot path stays a single ``translate``."""
    # No Python-level loop per character: each character's piece comes from
    # the same table ``normalize`` uses, and index i is repeated once per
    # character of its piece (zero times for a removed character).
    pieces = list(map(_TABLE.__getitem__, map(ord, text)))
    offsets = list(chain.from_iterable(map(repeat, range(len(text)), map(len, pieces))))
    return "".join(pieces), offsets


def original_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map spans of ``normalize(text)`` back to spans of ``text`` (the same
    mapping as ``normalize_with_offsets``)."""
    if not spans:
        return []
    if _spans_c is not None:
        return _spans_c(text, _TABLE, _LENGTHS, list(spans))
    return original_spans_python(text, spans)


def original_spans_python(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``original_spans`` without the C module: each character's running
    normalised length, then a binary search per span end."""
    if not spans:
        return []
    # Original character i produced the normalised characters ends[i-1] ..
    # ends[i]-1. Only the text up to the last span is read, in growing chunks.
    last = max(end for _, end in spans)
    ends: list[int] = []
    total = done = 0
    step = 128
    while total < last and done < len(text):
        piece = text[done : done + step]
        ends += map(total.__add__, accumulate(map(len, map(_TABLE.__getitem__, map(ord, piece)))))
        total = ends[-1]
        done += len(piece)
        step *= 2
    return [(bisect_right(ends, start), bisect_right(ends, end - 1) + 1) for start, end in spans]


try:  # the same in C (bot/detect/_scan.c), with each character's length remembered in _LENGTHS
    from ._scan import spans as _spans_c
except ImportError:
    _spans_c = None
_LENGTHS = bytearray(b"\xff") * 0x10000  # normalised length of each BMP character; 255: not seen yet


def is_cjk(ch: str) -> bool:
    """True for CJK unified ideographs (the blocks Chinese text uses)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FFFF or 0xF900 <= o <= 0xFAFF


_CJK = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002ffff\uf900-\ufaff]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a CJK ideograph (the same blocks as ``is_cjk``)."""
    return _CJK.search(text) is not None


@lru_cache(maxsize=65536)
def pinyin_alias(phrase: str) -> str:
    """Toneless pinyin of a normalised Chinese phrase ("tongxinguanliju"), or
    "" when the phrase has non-Chinese characters. People who cannot type
    Chinese on a borrowed phone write pinyin; this lets them still match."""
    if not phrase or not all(is_cjk(c) for c in phrase):
        return ""
    return "".join(lazy_pinyin(phrase, style=Style.NORMAL, errors="ignore"))
