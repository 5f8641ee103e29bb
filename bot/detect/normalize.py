"""Text normalisation shared by rule patterns and user messages.

Patterns and messages go through the *same* function, so a rule written in
Simplified Chinese matches a message typed in Traditional Chinese, with
full-width digits, odd spacing, zero-width characters slipped between the
characters of a keyword (a trick scammers use to dodge filters), or English
words in another inflection or an SMS spelling.

Three steps, each a C-speed call on the hot path:

1. **Per character** (one ``str.translate``, its table filled on first sight
   of a character): Unicode NFKC, case folding, Traditional to Simplified
   Chinese (OpenCC's character table), one spelling for variant characters
   (帐/账). Letters, digits, combining marks and currency symbols are kept;
   format characters (zero-width joiners, bidi marks), variation selectors
   and apostrophes are removed ("don't" -> "dont"); whitespace, punctuation
   and other symbols (emoji) become a space. Then common homophone typos of
   the words scams turn on (冻洁 -> 冻结, 账护 -> 账户, 检查院 -> 检察院:
   a pinyin keyboard picks the wrong character) are spelled right, each
   by a word of the same length, so offsets stay one to one.
2. **Spaces**: a single space is kept between two characters of a spaced
   script (Latin letters and digits), so English keeps its word boundaries;
   every other space goes, so "通 信，管理局" is "通信管理局"; and where a
   spaced script meets another ("加我wechat好友") a space is put in, so every
   English word stands between spaces or the ends of the text.
3. **English words** take one form each (:mod:`.words`: SMS spellings,
   irregular forms, the Snowball stemmer).

``normalize_with_offsets`` does the same while remembering, for every output
character, the original character it came from; it runs only to quote
evidence, never for every message.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import repeat
from typing import Mapping

import opencc

from .inner_loops import SPACED, squeeze, squeeze_words
from .words import FORMS

__all__ = ["normalize", "rule_key", "normalize_folded", "normalize_with_offsets", "fold", "fold_with_offsets", "fold_offsets", "original_spans", "pinyin_alias", "has_cjk", "is_cjk",
           "is_spaced", "SPACED"]

_T2S = opencc.OpenCC("t2s")

# Characters that Simplified Chinese writes two ways; fold to the common one.
# OpenCC's character table leaves these Traditional forms alone (each is also a Simplified
# character, or a second-person form Simplified does not use), so a rule written with 着, 了,
# 只 or 你 missed "照著做", "瞭解", "衹要" and Taiwan's "妳的帳戶". The second line: forms
# OpenCC has no mapping for at all, among them Hong Kong's standard 衞 ("衞生署", the
# Department of Health) and 吿/囘 as Hong Kong keyboards type them; each means one thing.
_VARIANTS = {"帐": "账", "著": "着", "瞭": "了", "衹": "只", "祇": "只", "妳": "你", "祢": "你",
             "衞": "卫", "吿": "告", "囘": "回", "汚": "污", "晩": "晚", "淸": "清", "靑": "青", "値": "值", "戸": "户"}
_APOSTROPHES = frozenset("'\u2019\u02bc\u2018`\u00b4")

# Homophone typos of the words scams turn on (after the per-character step, so in
# Simplified Chinese). Only misspellings that are not words themselves: "中将"
# (a rank; also "其中将…") or "涉险" stay as they are.
_TYPOS = {
    "冻洁": "冻结", "冻节": "冻结", "动结": "冻结", "账护": "账户", "账互": "账户",
    "课服": "客服", "客腹": "客服", "验正码": "验证码", "验症码": "验证码", "严证码": "验证码",
    "验征码": "验证码", "银航": "银行", "警查": "警察", "警擦": "警察", "公按局": "公安局",
    "检查院": "检察院", "检查官": "检察官", "法阮": "法院", "通辑令": "通缉令", "通揖令": "通缉令",
    "逮埔令": "逮捕令", "逮浦令": "逮捕令", "通济令": "通缉令", "通急令": "通缉令", "公安据": "公安局",
    "保秘": "保密", "身分证": "身份证", "封琐": "封锁", "保正金": "保证金", "保症金": "保证金",
    "手续废": "手续费", "理陪": "理赔", "里赔": "理赔", "清官费": "清关费", "话废": "话费",
    "快第": "快递", "保章": "保障", "密玛": "密码", "蜜码": "密码", "冲值": "充值", "公检发": "公检法",
}
assert all(len(wrong) == len(right) for wrong, right in _TYPOS.items())
_TYPO_RE = re.compile("|".join(sorted(_TYPOS, key=len, reverse=True)))


def _spelled_right(folded: str) -> str:
    return _TYPO_RE.sub(lambda m: _TYPOS[m.group()], folded)

_SPACED_RE = re.compile(f"[{SPACED}]")  # SPACED: characters of spaced scripts (inner_loops.py)


def _fold_char(ch: str) -> str:
    """Normalise one character (step 1 of the module docstring)."""
    if ch in _APOSTROPHES:
        return ""
    out = []
    for c in unicodedata.normalize("NFKC", ch).casefold():
        category = unicodedata.category(c)
        if c in _APOSTROPHES or category == "Cf" or category == "Me" or _is_variation_selector(c):
            continue
        if category == "Sc":
            out.append(c)
        elif not category.startswith(("L", "N", "M")):
            out.append(" ")
        elif is_cjk(c):
            c = _T2S.convert(c)
            out.append(_VARIANTS.get(c, c))
        else:
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
        if len(value) != 1:
            _NOT_ONE.add(chr(code))
        return value


_TABLE = _CharTable()
_NOT_ONE: set[str] = set()  # characters seen that fold to none or several characters
_WORDS = re.compile(f"([{SPACED}]+)")  # step 3 (a group: re.split keeps the words)


def fold(text: str) -> str:
    """Step 1 alone (per character, so the same length as the pieces of
    ``fold_with_offsets``): what pinyin is looked for in, unstemmed."""
    return _spelled_right(text.translate(_TABLE))


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, per output character, the original character's index."""
    folded = _spelled_right(text.translate(_TABLE))
    return folded, fold_offsets(text, folded)


def fold_offsets(text: str, folded: str) -> list[int]:
    """Per character of ``folded`` (which is ``fold(text)``), the index of the
    character of ``text`` it came from. Only the characters that fold to
    none or several (apostrophes, "…", ligatures) break the one-for-one
    run, so the offsets are ranges between them (C-speed ``extend``), not a
    step per character: an English text with apostrophes cost ~100 ns a
    character that way (60 µs a message on the shared corpus)."""
    if len(folded) == len(text) and _NOT_ONE.isdisjoint(text):  # one character for one, the usual case
        return list(range(len(text)))
    offsets: list[int] = []
    pos = 0
    for m in _not_one().finditer(text):
        i = m.start()
        offsets += range(pos, i)
        offsets += repeat(i, len(_TABLE[ord(text[i])]))
        pos = i + 1
    offsets += range(pos, len(text))
    return offsets


_NOT_ONE_RE: tuple[int, re.Pattern | None] = (0, None)  # (len(_NOT_ONE) it was built for, the expression)


def _not_one() -> re.Pattern:
    """A character class of ``_NOT_ONE``, rebuilt when that grew (it only
    grows, as new characters are seen; the set of a size is one set, and
    the pair is read and replaced as one tuple)."""
    global _NOT_ONE_RE
    size, expression = _NOT_ONE_RE
    if expression is None or size != len(_NOT_ONE):
        size = len(_NOT_ONE)
        expression = re.compile("[" + "".join(map(re.escape, sorted(_NOT_ONE))) + "]")
        _NOT_ONE_RE = (size, expression)
    return expression


def normalize(text: str) -> str:
    """Return the matching form of ``text`` (see the module docstring)."""
    return normalize_folded(_spelled_right(text.translate(_TABLE)))


@lru_cache(maxsize=1 << 16)
def rule_key(text: str) -> str:
    """``normalize(text)`` for the words of a rule file, remembered: a file
    writes the same words again and again (a vocab list's terms in every
    choice that lists them: ~150,000 keys, ~30,000 different, in the shipped
    rules), and normalising each again was a third of reading the file.
    Messages do not come here: each is new."""
    return normalize(text)


def normalize_folded(folded: str, forms: Mapping[str, str] = FORMS) -> str:
    """Steps 2 and 3 (``normalize(text)`` is ``normalize_folded(fold(text))``);
    ``forms``: each word's form (a rule set's :class:`.spelling.Speller` for messages)."""
    parts = _WORDS.split(squeeze(folded))
    if len(parts) > 1:
        parts[1::2] = map(forms.__getitem__, parts[1::2])
    return "".join(parts)


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """Normalise ``text`` and return, for every output character, the index of
    the original character it came from (:func:`.inner_loops.squeeze_words`
    says which). ``normalize(text)`` is always the same string (the tests
    hold the two to that, and this function to the steps of the module
    docstring applied one by one)."""
    return squeeze_words(*fold_with_offsets(text), FORMS)


def original_spans(text: str, spans: list[tuple[int, int]],
                   offsets: list[int] | None = None) -> list[tuple[int, int]]:
    """Map spans of ``normalize(text)`` back to spans of ``text``.
    ``offsets``: ``normalize_with_offsets(text)[1]`` when already computed."""
    if not spans:
        return []
    if offsets is None:
        offsets = normalize_with_offsets(text)[1]
    return [(offsets[start], offsets[end - 1] + 1) for start, end in spans]


def is_cjk(ch: str) -> bool:
    """True for CJK unified ideographs (the blocks Chinese text uses)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2FFFF or 0xF900 <= o <= 0xFAFF


CJK_CLASS = "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002ffff\uf900-\ufaff"  # the blocks of ``is_cjk``, for a regex class
_CJK = re.compile(f"[{CJK_CLASS}]")


def has_cjk(text: str) -> bool:
    """Whether ``text`` has a CJK ideograph (the same blocks as ``is_cjk``)."""
    return _CJK.search(text) is not None


def is_spaced(ch: str) -> bool:
    """Whether ``ch`` belongs to a spaced script (Latin letters, digits):
    a pattern element that starts or ends with one must meet a word boundary."""
    return _SPACED_RE.match(ch) is not None


@lru_cache(maxsize=65536)
def pinyin_alias(phrase: str) -> str:
    """Toneless pinyin of a normalised Chinese phrase ("tongxinguanliju"), or
    "" when the phrase has non-Chinese characters. People who cannot type
    Chinese on a borrowed phone write pinyin; this lets them still match.
    pypinyin is imported on first use: it takes about a second to load, and
    only compiling rules needs it."""
    if not phrase or not all(is_cjk(c) for c in phrase):
        return ""
    from pypinyin import Style, lazy_pinyin

    return "".join(lazy_pinyin(phrase, style=Style.NORMAL, errors="ignore"))
