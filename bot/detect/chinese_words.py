"""Widen a quoted Chinese span to whole words of the text the user wrote.

Rules match on pieces of words: a pattern "用新号" or "平安就先打" is what
makes the verdict, but quoted back to a worried person, "儿子用新号" reads as
a cut-off word ("新号码" was written). Chinese has no spaces, so where a word
ends takes a dictionary: a span whose edge falls between two Chinese
characters is widened to the edge of the word that the segmenter finds there.

Why rjieba: it is jieba's dictionary and algorithm (the standard Chinese
segmenter) in Rust, a maintained binding of jieba-rs with wheels for every
platform (abi3, 4.6 MB installed). On the 131 Chinese match examples of the
rule file it gives exactly the quotes jieba gives, and its dictionary loads
in about 0.15 s of CPU and 30 MB, where jieba's takes 0.95 s and 80 MB (and
writes a cache file to /tmp). Our own word list, the rule file's vocabulary,
fixed 8 of the 20 quotes the dictionary fixes ("儿子用新号" stays cut) and
widened others to pieces of phrases ("要先", "让我"). jieba's HMM for unknown
words is left off: it makes up words ("我加他微信领", "身份证被盗用办").
``python bench/bench_words.py`` measures what changes and what it costs;
bench/README.md has the one-off comparison.

Bounds, so a quote never says more than the user wrote around the match:

* only a span edge with a Chinese ideograph on both sides moves; punctuation,
  a space, a digit or a Latin letter is already a word boundary, so a quote
  never grows across a sentence mark or into another script;
* the segmenter sees at most :data:`CONTEXT` characters either side of the
  edge (a message of 4,096 characters costs what a short one does), and an
  edge moves at most :data:`MAX_EXTRA` characters;
* Traditional Chinese is folded to Simplified character by character first
  (the dictionary is Simplified), so positions stay those of the original.

The dictionary loads on first use (a Chinese span to widen), never at
start-up: ``callguard check`` on English text or on a message with no
evidence does not pay for it. The bot's detection workers load it before
they say they are ready (:func:`load_dictionary`): on a busy worker the
first Chinese user waited ~0.3 s for it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .normalize import CJK_CLASS, fold, is_cjk

__all__ = ["whole_chinese_words", "load_dictionary", "MAX_EXTRA", "CONTEXT"]

# An edge moves at most this many characters: a Chinese word is rarely longer
# than four, so a span widens by at most 2 x 4 = 8 characters.
MAX_EXTRA = 4
# Characters the segmenter sees on each side of an edge (the words it cuts
# near the far end of this window are not used, see MAX_EXTRA).
CONTEXT = 8

_RUN_END = re.compile(f"[{CJK_CLASS}]*$")  # the ideographs just before a position
_RUN_START = re.compile(f"[{CJK_CLASS}]*")  # the ideographs from a position on


def whole_chinese_words(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` widened so neither edge cuts a Chinese word of ``text``."""
    if 0 < start < len(text) and is_cjk(text[start - 1]) and is_cjk(text[start]):
        begin, stop = _word_at(text, start)
        if start - begin <= MAX_EXTRA:
            start = begin
    if 0 < end < len(text) and is_cjk(text[end - 1]) and is_cjk(text[end]):
        begin, stop = _word_at(text, end)
        if stop - end <= MAX_EXTRA:
            end = stop
    return start, end


def _word_at(text: str, pos: int) -> tuple[int, int]:
    """The word of ``text`` that has ``text[pos - 1]`` and ``text[pos]`` both in it,
    or ``(pos, pos)`` when a word boundary lies between them."""
    low = pos - len(_RUN_END.search(text, max(0, pos - CONTEXT), pos).group())
    high = pos + len(_RUN_START.match(text, pos, pos + CONTEXT).group())
    for begin, stop in _words(_simplified(text[low:high])):
        if begin + low < pos < stop + low:
            return begin + low, stop + low
    return pos, pos


def _simplified(run: str) -> str:
    """A run of ideographs in Simplified script, one character for one."""
    folded = fold(run)
    if len(folded) == len(run):
        return folded
    return "".join(f if len(f := fold(c)) == 1 else c for c in run)


def load_dictionary() -> None:
    """Load the segmenter's dictionary now rather than for the first Chinese quote."""
    _words("词典")


@lru_cache(maxsize=4096)
def _words(run: str) -> tuple[tuple[int, int], ...]:
    """Where the words of ``run`` start and end (dictionary words only: the HMM
    for unknown words would make up words from a scammer's odd text)."""
    import rjieba  # ~0.15 s of CPU and ~30 MB on first use: it builds the dictionary as it loads

    return tuple((begin, stop) for _, begin, stop in rjieba.tokenize(run, "default", False))
