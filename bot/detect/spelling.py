"""Misspelled words of a message, spelled as the rules spell them.

People type fast on a phone and in a panic: "depposit", "biitcoin", "mney",
"carshed". The typo tolerance of the scan (:mod:`.typos`) covers keys of eight
letters or more, so the short words a story turns on (money, crash, deposit,
refund) found nothing with one letter wrong: two typos in a message lost a
quarter of the English scams the rules caught when spelled right.

So before matching, in a message mostly of English words, a word of four
letters or more that is neither a word of the rules nor a known word is read
as the rules' word it is one edit from (a letter left out, two swapped, one
wrong, one extra), with the same first letter. Known words are never
touched: "bother" is not a typo of "brother", nor "detail" of "detain".
They are the English dictionary of pyspellchecker (160,000 words, MIT
licence) and every word of the rules (brand names, Malay: "digi" is not a
typo of "digit"). Malay messages are left alone (no dictionary here: an
unknown Malay word is as likely a word, "solat" is not "solar"). When a word
is one edit from several rule words, the likeliest slip wins (a letter left
out, then two swapped, one wrong, one extra), or none on a tie. Words are
compared in their matching form (:mod:`.words`: inflections off), so
"depposited" is "deposit" too.

A short word of the rules (four letters) may have one typo too: a doubled letter written
once ("wil be frozen"). Nothing else is tolerated in a word that short.

In a message the speller reads, the scan does not also look for English keys
one edit away (:mod:`.typos`): there an edit away is mostly another real word
("reactivate" is no typo of "deactivate"), which the dictionary here knows.

A correction changes only which word the matcher reads: the evidence still
quotes the user's own spelling, because the offsets of a word's form point
into the word as written (:func:`.inner_loops.squeeze_words`).

Each distinct word is worked out once per rule set and remembered, bounded
like :data:`.words.FORMS`; a word costs a handful of dictionary lookups.
"""

from __future__ import annotations

import gzip
import re
import zlib
from array import array
from bisect import bisect_left
from functools import lru_cache
from importlib.resources import files
from itertools import repeat
from typing import Iterable

from rapidfuzz.distance import OSA

from .words import FORMS

__all__ = ["MIN_TYPO_WORD", "MIN_RULE_WORD", "ENGLISH_SHARE", "EnglishWords", "Speller", "known_english"]

MIN_TYPO_WORD = 4  # shorter words are one edit from too many others ("fee", "pin", "tax")
MIN_RULE_WORD = 5  # the rule's word the typo stands for
ENGLISH_SHARE = 0.5  # of a message's words of three letters or more, for it to count as English
# (bench/fresh: 99.7 % of the English texts reach it, 1 % of the Malay ones)
_MAX_REMEMBERED = 200_000


class EnglishWords:
    """The English dictionary, lean: a sorted array of the CRC-32 of each word (640 KB,
    where a set of the 160,000 words costs ~20 MB and loading them through
    pyspellchecker's own API ~90 MB at its peak: the rule builder worker's memory is
    capped). Two words may share a hash: a typo then taken for a word is left alone,
    the safe side, at odds of 1 in 27,000."""

    __slots__ = ("_hashes",)

    def __init__(self, words: Iterable[str]):
        self._hashes = array("I", sorted({zlib.crc32(w.encode()) for w in words}))

    def __contains__(self, word: str) -> bool:
        h = zlib.crc32(word.encode())
        i = bisect_left(self._hashes, h)
        return i < len(self._hashes) and self._hashes[i] == h

    def __len__(self) -> int:
        return len(self._hashes)


@lru_cache(maxsize=1)
def known_english() -> EnglishWords:
    """pyspellchecker's English words (lower case, apostrophes taken out as :mod:`.normalize`
    does), loaded once per process (~0.2 s). Read straight from its word-frequency file, one
    word at a time; through its public API if that file ever moves."""
    try:
        data = (files("spellchecker") / "resources" / "en.json.gz").read_bytes()
        words = (m.group(1).replace("'", "") for m in _JSON_KEY.finditer(gzip.decompress(data).decode()))
        return EnglishWords(words)
    except (OSError, ValueError):  # pragma: no cover - another layout of the package
        from spellchecker import SpellChecker

        return EnglishWords(w.replace("'", "") for w in SpellChecker(language="en", distance=1).word_frequency.keys())


_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.)*)":')
_LONG_LATIN_WORD = re.compile("[a-z]{3,}")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


def _is_word(word: str) -> bool:
    return word.isascii() and word.isalpha()


class Speller(dict):
    """word (folded, as in a message) -> its matching form, with a typo of a
    rules' word spelled as the rule spells it. A drop-in for ``FORMS`` in
    normalisation (:class:`.scan.Scan`), one per compiled rule set.

    ``rule_words``: the matching forms of the words of the rules' keys that
    tolerate typos (what a typo is corrected to); ``known``: forms never
    corrected besides the English dictionary's words (every word of every key:
    brand names, Malay words, "digi" is not a typo of "digit")."""

    __slots__ = ("rule_words", "known", "_index", "_doubles", "_english")

    def __init__(self, rule_words: Iterable[str], known: Iterable[str] = ()):
        super().__init__()
        self.rule_words = frozenset(w for w in rule_words if len(w) >= MIN_RULE_WORD and _is_word(w))
        self.known = frozenset(known)
        # Each rule word and each of its one-letter deletions -> the rule words they come from
        # (the symmetric-deletion index: two words one edit apart share a deletion or one is
        # a deletion of the other).
        index: dict[str, set[str]] = {}
        for word in self.rule_words:
            index.setdefault(word, set()).add(word)
            for d in _deletes(word):
                index.setdefault(d, set()).add(word)
        self._index = {k: tuple(sorted(v)) for k, v in index.items()}
        known_english()  # loaded with the rules, not on the first message
        # The one typo a short English word of the rules may have: a doubled letter written
        # once ("wil" for "will", "kep" for "keep"), too short for the index above. Not names
        # and abbreviations ("mlbb", "usaa"): "mlb" and "usa" are no typos.
        doubles: dict[str, set[str]] = {}
        for word in self.known:
            if _is_word(word) and len(word) == MIN_TYPO_WORD and word in known_english():
                for i in range(len(word) - 1):
                    if word[i] == word[i + 1]:
                        doubles.setdefault(word[:i] + word[i + 1:], set()).add(word)
        self._doubles = {k: next(iter(v)) for k, v in doubles.items() if len(v) == 1 and k not in self.known}
        self._english: dict[str, bool] = {}  # word -> in the English dictionary (remembered, bounded)

    def __reduce__(self):
        # A compiled rule set is pickled (the compile cache, the detection workers): the rule
        # words and the known words travel, the remembered words do not.
        return (Speller, (self.rule_words, self.known))

    def reads_english(self, folded: str) -> bool:
        """Whether ``folded`` (a message, folded) is mostly English words, so that its unknown
        words are likely typos. In Malay (no dictionary here) an unknown word is as likely a
        word: "solat" is not "solar", nor "mawar" "malware"."""
        words = _LONG_LATIN_WORD.findall(folded)
        if not words:
            return False
        return sum(map(self._is_english, words)) >= ENGLISH_SHARE * len(words)

    def _is_english(self, word: str) -> bool:
        known = self._english.get(word)
        if known is None:
            known = word in known_english()
            if len(self._english) < _MAX_REMEMBERED:
                self._english[word] = known
        return known

    def __missing__(self, word: str) -> str:
        form = FORMS[word]
        fixed = self.correct(word, form)
        if len(self) < _MAX_REMEMBERED:  # a flood of invented words must not grow memory without end
            self[word] = fixed
        return fixed

    def correct(self, word: str, form: str) -> str:
        """``form`` (``FORMS[word]``), or the one rule word it is one edit from
        when ``word`` is neither a rule word nor a known word."""
        if form in self.rule_words or form in self.known or not _is_word(form):
            return form
        if len(form) < MIN_TYPO_WORD:  # only a doubled letter written once, and never a word
            fixed = self._doubles.get(form)
            return fixed if fixed is not None and not self._is_english(word) else form
        if self._is_english(word):
            return form
        found: set[str] = set()
        index = self._index
        for probe in (form, *_deletes(form)):
            found.update(index.get(probe, ()))
        # The first letter must be right: people seldom get it wrong, and in Malay a prefix is
        # one letter (menghantar, penghantar), in brand names too (wetransfer, etransfer).
        found = {w for w in found if w[0] == form[0] and OSA.distance(form, w, score_cutoff=1) <= 1}
        if len(found) > 1:  # the likeliest slip, if one is likelier than the others
            best = min(map(_slip, found, repeat(form)))
            found = {w for w in found if _slip(w, form) == best}
        return found.pop() if len(found) == 1 else form


def _slip(word: str, typo: str) -> int:
    """How common a slip of the fingers turns ``word`` into ``typo``, most common first:
    a letter left out ("arest"), two swapped, one wrong, one extra."""
    if len(word) == len(typo) + 1:
        return 0
    if len(word) == len(typo):
        return 1 if sorted(word) == sorted(typo) else 2
    return 3
