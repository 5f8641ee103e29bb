"""The detection core's inner loops: the code that runs once per character,
per key found or per chained occurrence, kept apart and written for speed.

These are the hot spots of a check (bench/README.md, "Matcher"); the matcher
(:mod:`.matcher`) and normalisation (:mod:`.normalize`) call them, and
tests/test_matcher_oracle.py and tests/test_inner_loops.py hold them to
brute-force searches. (A C version of them was measured and left out: it saved
too little to be worth a second implementation; bench/README.md says how much.)

* ``squeeze``: normalisation step 2 (:mod:`.normalize`): spaces;
  ``squeeze_words``: steps 2 and 3 with every character's offset.
* ``Automaton``: every key in a text in one pass (Aho-Corasick);
  ``scan_matches``: what the matcher does with each key it finds: record
  where it ends, and try the key's typo anchors.
* ``one_edit``: whether a text starts one edit away from a string;
  ``anchor_index``/``anchor_candidates``: which keys an anchor can lead to.

The loops that chain a pattern's elements are in :mod:`.chaining`.
"""

from __future__ import annotations

import re
from itertools import compress
from typing import Iterable, Mapping

import ahocorasick

__all__ = ["SPACED", "SPACED_CHARS", "Automaton", "squeeze", "squeeze_words", "scan_matches", "one_edit",
           "anchor_index", "anchor_candidates"]

# Characters of spaced scripts (Latin letters and digits): a space between two
# of them is a word boundary.
SPACED = "0-9a-z\u00c0-\u024f"
SPACED_CHARS = frozenset(c for c in map(chr, range(0x250)) if re.match(f"[{SPACED}]", c))

_RUNS = re.compile(" {2,}")
_LONE = re.compile(f"(?<![{SPACED}]) | (?![{SPACED}])")
_EDGE = re.compile(f"(?<=[{SPACED}])(?=[^{SPACED} ])|(?<=[^{SPACED} ])(?=[{SPACED}])")


def squeeze(text: str) -> str:
    """Step 2 of normalisation on folded text: a run of spaces is one space,
    kept only between two spaced characters (an English word boundary); and
    a space is put in where a spaced character meets any other character
    ("加我wechat好友" -> "加我 wechat 好友")."""
    if " " in text:
        text = _LONE.sub("", _RUNS.sub(" ", text))
    return _EDGE.sub(" ", text)


_PIECES = re.compile(f"[{SPACED}]+| +|[^{SPACED} ]+")  # folded text as runs: words, spaces, the rest
_ANY_SPACED = re.compile(f"[{SPACED}]")


def squeeze_words(folded: str, offsets: list[int], forms: Mapping[str, str]) -> tuple[str, list[int]]:
    """Steps 2 and 3 of normalisation (``squeeze``, then each word ->
    ``forms[word]``) on folded text, and the offsets of the result:
    ``offsets[i]`` is where folded character i came from, and each output
    character gets the offset of the character it came from.

    The folded text is read as runs (words, spaces, anything else), so the
    work follows the runs, not the characters: a space is kept only between
    two words (its run's first space); a space is put in where a word meets
    anything else (it takes the offset of the character before it); a word
    takes its form, whose j-th character comes from the word's j-th (the
    last one for any beyond)."""
    if len(offsets) != len(folded):
        raise ValueError("squeeze_words: one offset per character")
    if _ANY_SPACED.search(folded) is None:
        # No word at all (Chinese text, the usual case): every space goes and
        # nothing else changes; C-speed, where the runs below cost ~1 µs each
        # (a pasted text of 4,096 characters has thousands).
        return folded.replace(" ", ""), list(compress(offsets, map(" ".__ne__, folded)))
    runs = _PIECES.findall(folded)
    out: list[str] = []
    out_offsets: list[int] = []
    last = ""  # the kind of the last run kept: "w" a word, "o" anything else
    last_end = 0  # where that run ended in ``folded``
    pos = 0
    for i, run in enumerate(runs):
        size = len(run)
        first = run[0]
        if first == " ":
            if last == "w" and last_end == pos and i + 1 < len(runs) and runs[i + 1][0] in SPACED_CHARS:
                out.append(" ")
                out_offsets.append(offsets[pos])
        elif first in SPACED_CHARS:
            if last == "o":
                out.append(" ")
                out_offsets.append(offsets[last_end - 1])
            form = forms[run]
            if not isinstance(form, str):
                raise TypeError("squeeze_words: a word's form must be str")
            out.append(form)
            if len(form) <= size:
                out_offsets += offsets[pos : pos + len(form)]
            else:  # a longer form ("u" -> "you"): its extra characters come from the last one
                out_offsets += offsets[pos : pos + size]
                out_offsets += [offsets[pos + size - 1]] * (len(form) - size)
            last, last_end = "w", pos + size
        else:
            if last == "w":
                out.append(" ")
                out_offsets.append(offsets[last_end - 1])
            out.append(run)
            out_offsets += offsets[pos : pos + size]
            last, last_end = "o", pos + size
        pos += size
    return "".join(out), out_offsets


class Automaton:
    """An Aho-Corasick automaton of ``words``, each with its payload
    (pyahocorasick underneath): every word in a text in one pass. A word
    given twice keeps its last payload."""

    def __init__(self, words: Iterable[str], payloads: Iterable[object]):
        self._words, self._payloads = tuple(words), tuple(payloads)
        if len(self._words) != len(self._payloads):
            raise ValueError("Automaton: one payload per word")
        self._automaton = ahocorasick.Automaton()
        for word, payload in zip(self._words, self._payloads):
            if not isinstance(word, str) or not word:
                raise ValueError("Automaton: words must be non-empty strings")
            self._automaton.add_word(word, payload)
        if len(self._automaton):
            self._automaton.make_automaton()

    def __len__(self) -> int:
        return len(self._automaton)

    def iter(self, text: str) -> list[tuple[int, object]]:
        """Every (end, payload) of a word found in ``text``: by end position,
        and at one end the longest word first."""
        return list(self._automaton.iter(text)) if len(self._automaton) else []

    def scan_matches(self, padded: str, ends: dict, proposed: set, cap: int) -> None:
        """``scan_matches`` over what this automaton finds in ``padded``."""
        if len(self._automaton):
            scan_matches(self._automaton.iter(padded), padded, ends, proposed, cap)

    def __reduce__(self):
        return Automaton, (self._words, self._payloads)


def one_edit(other: str, text: str) -> bool:
    """Whether ``text`` starts with a string exactly one edit (a wrong,
    missing or extra character) from ``other``. The edit can be taken at the
    first difference: any one-edit alignment can be moved there."""
    m = len(other)
    i = 0
    while i < m and i < len(text) and text[i] == other[i]:
        i += 1
    if i == m:
        return False  # ``other`` itself: an exact match, found as such
    return ((i < len(text) and text[i + 1 : m] == other[i + 1 :])  # wrong character at i
            or text[i : m - 1] == other[i + 1 :]  # other[i] missing
            or (i < len(text) and text[i + 1 : m + 1] == other[i:]))  # extra character at i


def scan_matches(matches: Iterable[tuple[int, tuple]], padded: str, ends: dict[int, list[int]],
                 proposed: set[tuple[int, int]], cap: int) -> None:
    """Record what an automaton found in ``padded`` (the normalised text
    with a space on each side).

    ``matches`` yields (end, payload), ``end`` the index of a match's last
    character, payload = (length, word, lefts, rights):

    * ``word`` >= 0: the automaton word is a key of some element classes;
      its ``end``s go to ``ends[word]``, at most ``cap`` of them, in the
      order found. Only the word is recorded: which classes it stands for
      (a vocab term is in dozens of choices) is worked out once per word
      and per class read, not per occurrence (:mod:`.occurrences`);
    * ``lefts``: ``anchor_index`` of (fid, other) for each typo-tolerant key whose
      left half this is (halves have two characters or more): when the text after the match starts one edit from ``other`` (the
      key's right half), (fid, where the key would start in ``padded``) goes
      to ``proposed``; ``rights`` likewise for right halves, with ``other``
      the left half reversed and compared with the text before the match,
      read backward."""
    seen: dict[tuple[int, str], tuple] = {}  # (anchor, the text next to it) -> the keys that pass
    last = len(padded) - 1
    get = ends.get
    for end, (length, word, lefts, rights) in matches:
        if word >= 0:
            found = get(word)
            if found is None:
                ends[word] = [end]
            elif len(found) < cap:
                found.append(end)
        if not (lefts or rights):
            continue
        start = end - length + 1
        # A string one edit from the other half (two characters or more)
        # has one of the half's first two characters in one of its first two
        # places: most anchors end on that test (``heads``, two set lookups),
        # then only the keys indexed under the text's next characters
        # (``anchor_index``) are compared with ``one_edit``.
        # The keys that pass depend only on the anchor and the text next to
        # it, so a repeated anchor in repeated surroundings is checked once.
        # An anchor of a few keys (``few``, most of them: one key in three of
        # four on real texts) skips both the index and the memo: comparing
        # its keys costs less than either (the index only ever narrows what
        # ``one_edit`` is asked, never what passes).
        if lefts and end < last and (padded[end + 1] in lefts[0] or (end + 1 < last and padded[end + 2] in lefts[0])):
            after = padded[end + 1 : end + length + 3]
            few = lefts[5]
            if few is not None:  # most anchors: the keys compared right away
                for key, other in few:
                    if one_edit(other, after):
                        proposed.add((key, start))
            else:
                memo = (id(lefts), after)
                passed = seen.get(memo)
                if passed is None:
                    passed = seen[memo] = tuple(key for key, other in anchor_candidates(lefts, after)
                                                if one_edit(other, after))
                for key in passed:
                    proposed.add((key, start))
        if rights and start > 0 and (padded[start - 1] in rights[0] or (start > 1 and padded[start - 2] in rights[0])):
            before = padded[max(0, start - length - 1) : start][::-1]
            few = rights[5]
            if few is not None:
                for key, other in few:
                    if one_edit(other, before):
                        proposed.add((key, start - len(other)))
            else:
                memo = (id(rights), before)
                passed = seen.get(memo)
                if passed is None:
                    passed = seen[memo] = tuple((key, len(other)) for key, other in anchor_candidates(rights, before)
                                                if one_edit(other, before))
                for key, size in passed:
                    proposed.add((key, start - size))


# An anchor that leads to at most this many keys has them compared with
# ``one_edit`` straight away (measured on the shared corpus with the shipped
# rules: the index lookups and the memo cost more than 1-4 comparisons).
FEW_ANCHOR_KEYS = 4


def anchor_index(entries: Iterable[tuple[int, str]]) -> tuple:
    """The typo-tolerant keys an anchor leads to, (key id, other half),
    indexed for ``anchor_candidates``: the first two characters of every
    other half (``heads``: a text without one of them in its first two
    places is one edit from none of the keys, and most anchors in a text
    end on that test); all of them; those whose other half
    has two characters; those of three under each pair of their first three
    characters (0 and 1, 1 and 2, 0 and 2); longer ones under each three of
    their first four (all but 3, 2, 1 or 0). A crafted or merely repetitive
    text can repeat an anchor that hundreds of keys share ("account", each
    key's other half starting with a space): the index keeps the work to
    the keys that could be there. ``few``: all of them when there are at
    most FEW_ANCHOR_KEYS (``scan_matches`` compares those without the
    index), else None."""
    entries = tuple(entries)
    few = entries if len(entries) <= FEW_ANCHOR_KEYS else None
    heads = frozenset(c for _, other in entries for c in other[:2])
    short = tuple((fid, other, other[:2]) for fid, other in entries if len(other) < 3)
    pairs: dict[str, list] = {}
    triples: dict[str, list] = {}
    for fid, other in entries:
        if len(other) == 3:
            signatures = (other[0:2], other[1:3], other[0] + other[2])
            table = pairs
        elif len(other) >= 4:
            o0, o1, o2, o3 = other[:4]
            signatures = (o0 + o1 + o2, o0 + o1 + o3, o0 + o2 + o3, o1 + o2 + o3)
            table = triples
        else:
            continue
        for signature in dict.fromkeys(signatures):
            table.setdefault(signature, []).append((fid, other))
    return (heads, entries, short, {k: tuple(v) for k, v in pairs.items()} or None,
            {k: tuple(v) for k, v in triples.items()} or None, few)


def anchor_candidates(index: tuple, text: str) -> Iterable[tuple[int, str]]:
    """The keys of ``anchor_index`` whose other half may start ``text`` one
    edit away (a superset of those that do). Where the edit falls decides
    which characters must agree: past the first few, the first ones; near
    the start, the others (a wrong, missing or extra character shifts the
    rest by one). For an other half of three characters, two of its first
    three agree with two of the text's first three (0 and 1, 1 and 2, or 0
    and 2); for a longer one, three of its first four with three of the
    text's first four. In every case (the edit at the first difference:
    none in the first two characters, or the first one wrong, missing or
    extra) ``text[0]`` or ``text[1]`` is one of the other half's first two
    characters (``heads``). With that, every key when ``text`` is shorter
    than four characters; for an other half of two, the keys with
    ``text[0]`` or ``text[1]`` among its characters."""
    heads, entries, short, pairs, triples, _ = index
    if not (text[:1] in heads or text[1:2] in heads):
        return ()
    if len(text) < 4:
        return entries
    found = []
    if triples is not None:
        get = triples.get
        found += filter(None, (get(text[0:3]), get(text[0:2] + text[3]), get(text[0] + text[2:4]), get(text[1:4])))
    if pairs is not None:
        get = pairs.get
        found += filter(None, (get(text[0:2]), get(text[1:3]), get(text[0] + text[2])))
    if short:
        t0, t1 = text[0], text[1]
        found.append(tuple((fid, other) for fid, other, head in short if t0 in head or t1 in head))
    if not found:
        return ()
    if len(found) == 1:
        return found[0]
    return dict.fromkeys(item for hits in found for item in hits)
