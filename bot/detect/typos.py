"""Typos: which keys tolerate one, and where a key written with one is.

A typo is one wrong, missing or extra character (one Levenshtein edit),
tolerated in keys of 5+ Chinese characters or 8+ Latin characters: shorter
English words are one edit from other words (detain and detail, brother and
bother), and a typo in a short Chinese key (验证码) makes another word. One
edit breaks at most one half of a key, so a key written with a typo still
contains its other half exactly (the pigeonhole principle). The scan finds
those halves (anchors) and proposes the keys whose other half the text next
to them is one edit from (:func:`.inner_loops.scan_matches`); here the
proposed keys are aligned with rapidfuzz. Halves without Chinese are
anchors only in a message that is not English read by the speller
(:mod:`.spelling`: Malay, Chinese with English words, no rule set): in
English an edit away is mostly another word, and the speller corrects real
typos with a dictionary at hand. The alignments per message are bounded
(``MAX_ALIGNS``) and a key in the same surroundings is aligned once, so no
crafted repetition makes this step slow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .inner_loops import SPACED_CHARS as _SPACED_CHARS
from .normalize import has_cjk

if TYPE_CHECKING:  # pragma: no cover
    from .occurrences import Occurrences

__all__ = ["MAX_ALIGNS", "MIN_FUZZY_CJK", "MIN_FUZZY_LATIN", "MIN_FUZZY_WORD", "tolerates_typo", "align",
           "align_proposed", "bounded"]

MAX_ALIGNS = 200  # distinct fuzzy alignments per message
MIN_FUZZY_CJK = 5
MIN_FUZZY_LATIN = 8
MIN_FUZZY_WORD = 6  # the longest word of an English phrase that tolerates a typo


def tolerates_typo(key: str) -> bool:
    """Whether a normalised key is long enough to match with one typo: a typo
    in a short one (验证码, "code") makes another word. An English phrase
    needs one long word ("safe account"): in a phrase of short common words
    ("you have") a typo is as likely another phrase, and its halves occur in
    every English text."""
    if has_cjk(key):
        return len(key) >= MIN_FUZZY_CJK
    if " " in key:
        return len(key) >= MIN_FUZZY_LATIN and max(map(len, key.split(" "))) >= MIN_FUZZY_WORD
    return len(key) >= MIN_FUZZY_LATIN


def align(key: str, norm: str, edits: int, starts: range,
          accept: Callable[[str, int, int], bool] | None = None) -> tuple[int, int, int] | None:
    """The best place for ``key`` in ``norm`` within ``edits`` Levenshtein
    edits, as (similarity, start, end), among windows of ``len(key) +- edits``
    characters that start at one of ``starts`` (and that ``accept(norm,
    start, end)``, if given); None when there is none."""
    n = len(key)
    found = []
    distance = Levenshtein.distance
    for length in range(max(1, n - edits), n + edits + 1):
        for s in starts:
            if s < 0 or s + length > len(norm):
                continue
            window = norm[s : s + length]
            # The edit distance (C) first: most windows fail it, and ``accept`` is Python.
            if distance(key, window, score_cutoff=edits) <= edits and (accept is None or accept(norm, s, s + length)):
                found.append((int(fuzz.ratio(key, window)), s, s + length))
    return max(found, key=lambda h: (h[0], -h[1], h[2] - h[1]), default=None)


def _short_words_intact(key: str, window: str) -> bool:
    """Whether ``window``, one edit from the English ``key``, keeps the key's
    words and every short one exactly (or with a doubled letter written once),
    so the typo is in a long word: "safe acount" is "safe account" with a
    typo, "save account" is another phrase."""
    kw, ww = key.split(" "), window.split(" ")
    return len(kw) == len(ww) and all(k == w or _doubled(k, w) for k, w in zip(kw, ww) if len(k) < MIN_FUZZY_WORD)


def _doubled(a: str, b: str) -> bool:
    """Whether two words differ only by a doubled letter written once ("wil",
    "will"): the one typo a short word may have."""
    if len(a) < len(b):
        a, b = b, a
    return len(a) == len(b) + 1 and any(a[i] == a[i + 1] and a[:i] + a[i + 1:] == b for i in range(len(a) - 1))


def bounded(norm: str, start: int, end: int, left: bool = True, right: bool = True) -> bool:
    """Whether norm[start:end] meets a word boundary on its ``left`` and
    ``right`` side (a side that starts or ends with a Latin letter or digit)."""
    return ((not left or start == 0 or norm[start - 1] not in _SPACED_CHARS)
            and (not right or end >= len(norm) or norm[end] not in _SPACED_CHARS))


def align_proposed(keys: tuple[str, ...], classes: tuple[tuple[int, ...], ...], norm: str, occ: "Occurrences",
                   exact_keys: set[int], proposed: set[tuple[int, int]]) -> None:
    """Align the keys the anchors proposed (those not found exactly).
    The same key in the same surroundings is aligned once, so a crafted
    repetition costs one alignment, and at most MAX_ALIGNS are made.
    (``norm`` here is the padded text the scan read; ``keys``: the
    typo-tolerant keys by key id, ``classes``: each one's classes.)"""
    seen: dict[tuple, tuple[int, int, int] | None] = {}
    for fid, s in sorted(proposed):
        if fid in exact_keys:
            continue
        key = keys[fid]
        # The window holds every candidate (start s-1..s+1, length +-1)
        # and the character on each side of it, for the word boundaries.
        lo, hi = max(0, s - 2), min(len(norm), s + len(key) + 3)
        memo = (fid, norm[lo:hi], lo == 0, hi == len(norm))
        if memo not in seen:
            if len(seen) >= MAX_ALIGNS:
                break
            left, right = key[0] in _SPACED_CHARS, key[-1] in _SPACED_CHARS
            # A window never takes in the padding spaces at either end of
            # the text, a Latin edge meets a word boundary, and in an
            # English phrase the typo falls in a long word.
            first, last = (1 if memo[2] else 0), len(memo[1]) - (1 if memo[3] else 0)
            edge_ok = (lambda w, a, b: first <= a and b <= last and (a > 0 or memo[2]) and (b < len(w) or memo[3])
                       and bounded(w, a, b, left, right) and (not left or _short_words_intact(key, w[a:b])))
            seen[memo] = align(key, memo[1], 1, range(s - 1 - lo, s + 2 - lo), edge_ok)
        rel = seen[memo]
        if rel is None:
            continue
        hit = (rel[1] + lo - 1, rel[2] + lo - 1, rel[0])  # ``norm`` is ``padded`` less its first space
        for cid in classes[fid]:
            occ.add(cid, hit)
