"""Compile a rule set once; score any text against every rule, fast.

One Aho-Corasick scan over the normalised text does all the searching, and
its cost does not grow with the number of rules. The automaton holds:

* every phrase, and the pinyin spelling of every Chinese phrase of eight or
  more pinyin letters ("tongxinguanliju"), for **exact** matches;
* two **anchors** per phrase long enough to have typos (5+ Chinese
  characters, 6+ Latin letters): its left and right halves.

A typo is one wrong, missing or extra character (one Levenshtein edit). One
edit can break only one half, so a phrase written with a typo still contains
the other half exactly (the pigeonhole principle), at a known place. Each
anchor found in the text then asks, with two to four dictionary lookups,
which phrases with that half also have the right neighbouring piece next to
it (the piece of the broken half that the edit did not touch: again, one of
its two halves). Only those few phrases are aligned with rapidfuzz's
Levenshtein distance around the anchor. Nothing in this scales with the rule
count: the lookups are per anchor found in the text, not per phrase.

Phrases of 10+ Chinese characters or 12+ Latin letters tolerate two typos.
With two edits, one of the phrase's halves keeps at most one, so each half is
matched as a one-typo phrase of its own, and a hit on a half (exact or with a
typo) has the whole phrase aligned around it.

A fuzzy match's similarity is rapidfuzz's ``ratio`` between the phrase and
the text it matched (80 for one wrong character in five).

A rule's score is the sum over its groups of ``weight x strength``, where a
group's strength is the similarity (0..1) of its best-matching phrase; the sum
is clamped to 0..100. Negative groups (things legitimate messages say) pull the
score down. ``requires`` names groups of which at least one must match, or the
rule scores 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain

import ahocorasick
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .normalize import has_cjk, normalize, pinyin_alias
from .rules import Rule, RuleSet

__all__ = ["Hit", "RuleScore", "Matcher", "MAX_MATCH_CHARS", "tolerates_typo", "align"]

# Text beyond this many normalised characters is not read: a description of a
# call is never that long, and the bound keeps a pasted book from costing more.
MAX_MATCH_CHARS = 50_000

PINYIN_SIMILARITY = 95  # a pinyin spelling is a strong but not exact match
MIN_FUZZY_CJK = 5
MIN_FUZZY_LATIN = 6
MIN_PINYIN_ALIAS = 8

_LEFT, _RIGHT = 0, 1


def tolerates_typo(key: str) -> bool:
    """Whether a normalised phrase is long enough to match with one typo: a
    typo in a short one (验证码, "code") makes another word."""
    return len(key) >= (MIN_FUZZY_CJK if has_cjk(key) else MIN_FUZZY_LATIN)


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in the normalised text."""

    rule: int  # index into RuleSet.rules
    group: int  # index into Rule.groups
    phrase: str  # as written in the rule file
    start: int  # span in the normalised text
    end: int
    similarity: int  # 100 = exact


@dataclass(frozen=True, slots=True)
class RuleScore:
    rule: Rule
    score: int  # 0..100
    hits: tuple[Hit, ...]  # the best hit of each matched group
    requires_met: bool


def _keep_best(found: dict, eid: int, hit: tuple[int, int, int]) -> None:
    """Keep the better occurrence of one phrase: more similar, then earlier,
    then longer. A total order, so the result never depends on the order in
    which candidates were found."""
    prev = found.get(eid)
    if prev is None or (hit[0], -hit[1], hit[2] - hit[1]) > (prev[0], -prev[1], prev[2] - prev[1]):
        found[eid] = hit


def _hit_rank(hit: "Hit") -> tuple:
    """Which phrase speaks for a group: most similar, earliest, longest
    ("通信管理局" over "通信管理"), then the phrase text for a total order."""
    return hit.similarity, -hit.start, hit.end - hit.start, hit.phrase


def align(key: str, norm: str, edits: int, starts: range, end: int | None = None) -> tuple[int, int, int] | None:
    """The best place for ``key`` in ``norm`` within ``edits`` Levenshtein
    edits, as (similarity, start, end), among windows that start at one of
    ``starts`` (or, with ``end``, that end there and start anywhere a window
    of ``len(key) +- edits`` characters can); None when there is none."""
    n = len(key)
    size = len(norm)
    best = None
    for length in range(max(1, n - edits), n + edits + 1):
        for s in (starts if end is None else (end - length,)):
            if s < 0 or s + length > size:
                continue
            window = norm[s : s + length]
            if Levenshtein.distance(key, window, score_cutoff=edits) <= edits:
                hit = (int(fuzz.ratio(key, window)), s, s + length)
                if best is None or (hit[0], -hit[1], hit[2] - hit[1]) > (best[0], -best[1], best[2] - best[1]):
                    best = hit
    return best


def _pairs(three: str) -> tuple[str, ...]:
    """The ordered character pairs of a string of two or three characters.

    Next to an intact half, the other half's first three characters (abc) can
    show up as ab, bc, ac, xab ... after one typo; whichever the typo, one of
    these pairs of the key is also a pair of the text's three characters
    there, which makes a cheap and selective test."""
    if len(three) < 3:
        return (three,)
    return three[:2], three[1:], three[0] + three[2]


class Matcher:
    """A rule set compiled for matching. Immutable after construction."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        # One entry per (rule, group, phrase): what a hit points back to.
        entries: list[tuple[int, int, str]] = []
        exact: dict[str, list[tuple[int, int]]] = {}
        fuzzy: dict[str, list[int]] = {}  # phrase that tolerates a typo -> its entries
        for r, rule in enumerate(ruleset.rules):
            for g, group in enumerate(rule.groups):
                for phrase in group.phrases:
                    eid = len(entries)
                    entries.append((r, g, phrase))
                    key = normalize(phrase)
                    if not key:
                        continue
                    exact.setdefault(key, []).append((eid, 100))
                    alias = pinyin_alias(key) if len(key) >= 3 else ""
                    if len(alias) >= MIN_PINYIN_ALIAS:
                        exact.setdefault(alias, []).append((eid, PINYIN_SIMILARITY))
                    if group.fuzzy and tolerates_typo(key):
                        fuzzy.setdefault(key, []).append(eid)
        self._entries = tuple(entries)
        self._keys = tuple(fuzzy)  # indexed by "key id" (fid)
        self._key_entries = tuple(map(tuple, fuzzy.values()))
        fid_of = {key: fid for fid, key in enumerate(self._keys)}

        # Each key's two halves are anchors; each key minus any one character
        # is a deletion variant (see ``scan``). An anchor also carries the
        # characters next to it and at the far end of its keys, to rule out
        # most places cheaply before any variant is looked up.
        anchors: dict[str, dict[tuple[int, int, int], tuple[set, set]]] = {}
        deletions: dict[str, list[int]] = {}
        for fid, key in enumerate(self._keys):
            n = len(key)
            h = n // 2
            near, far = anchors.setdefault(key[:h], {}).setdefault((_LEFT, n, h), (set(), set()))
            near.update(_pairs(key[h : h + 3]))
            far.update(key[-2:])
            near, far = anchors.setdefault(key[h:], {}).setdefault((_RIGHT, n, h), (set(), set()))
            near.update(_pairs(key[h - 3 : h]) if h >= 3 else key[:h])  # two characters: any of them
            far.update(key[:2])
            for i in range(n):
                deletions.setdefault(key[:i] + key[i + 1 :], []).append(fid)
        self._deletions = {variant: tuple(fids) for variant, fids in deletions.items()}

        automaton = ahocorasick.Automaton()
        for word in exact.keys() | anchors.keys() | fid_of.keys():
            found = tuple((side, n, h, frozenset(near), frozenset(far))
                          for (side, n, h), (near, far) in sorted(anchors.get(word, {}).items()))
            automaton.add_word(word, (len(word), tuple(exact.get(word, ())), fid_of.get(word, -1), found))
        if len(automaton):
            automaton.make_automaton()
        self._automaton = automaton

    @property
    def phrase_count(self) -> int:
        return len(self._entries)

    # -- scanning

    def scan(self, norm: str) -> list[Hit]:
        """Every phrase entry found in normalised text (best occurrence each)."""
        norm = norm[:MAX_MATCH_CHARS]
        found: dict[int, tuple[int, int, int]] = {}  # entry -> (similarity, start, end)
        exact_keys: list[tuple[int, int, int]] = []  # fuzzy keys found exactly: (key, start, end)
        proposed: list[tuple[tuple[int, ...], int]] = []  # (keys, where their window starts)
        get = self._deletions.get
        pairs = _pairs
        for end, (length, items, fid, anchors) in self._automaton.iter(norm) if len(self._automaton) else ():
            start = end - length + 1
            for eid, sim in items:
                _keep_best(found, eid, (sim, start, end + 1))
            if fid >= 0:
                exact_keys.append((fid, start, end + 1))
            for side, n, h, near, far in anchors:
                # A one-typo match of a length-n key with this half intact: the
                # n characters where the key would be, minus one character of
                # the other half, are the key minus one character. Cheap
                # necessary conditions first: whatever the typo, the first (or
                # second) character of the other half sits next to the anchor,
                # and the key's last (or second last) character near its end.
                if side == _LEFT:
                    if far.isdisjoint(norm[start + n - 2 : start + n + 1]) or near.isdisjoint(pairs(norm[end + 1 : end + 4])):
                        continue
                    s = start
                else:
                    s = start - h
                    if far.isdisjoint(norm[max(0, s - 1) : s + 2]) or near.isdisjoint(
                            pairs(norm[max(0, start - 3) : start]) if h >= 3 else norm[max(0, start - 2) : start]):
                        continue
                    if s < 0:
                        if s == -1:  # the key's first character is missing at the very start
                            fids = get(norm[: n - 1])
                            if fids:
                                proposed.append((fids, 0))
                        continue
                window = norm[s : s + n]
                if len(window) < n:
                    if len(window) == n - 1:  # a missing character, and the text ends
                        fids = get(window)
                        if fids:
                            proposed.append((fids, s))
                    continue
                for j in (range(h, n) if side == _LEFT else range(h)):
                    fids = get(window[:j] + window[j + 1 :])
                    if fids:
                        proposed.append((fids, s))
        if proposed:
            self._fuzzy(norm, found, exact_keys, proposed)
        entries = self._entries
        return [Hit(entries[e][0], entries[e][1], entries[e][2], s, t, sim) for e, (sim, s, t) in found.items()]

    def _fuzzy(self, norm: str, found: dict, exact_keys: list, proposed: list) -> None:
        """Align the keys the anchors proposed (those not found exactly)."""
        keys, key_entries = self._keys, self._key_entries
        exact = {fid for fid, _, _ in exact_keys}
        todo = {(fid, s) for fids, s in proposed for fid in fids if fid not in exact}
        for fid, s in todo:  # any order: _keep_best is a total order
            hit = align(keys[fid], norm, 1, range(s - 1, s + 2))
            if hit is not None:
                for eid in key_entries[fid]:
                    _keep_best(found, eid, hit)

    # -- scoring

    def score(self, text: str) -> list[RuleScore]:
        """Scores of every rule with at least one hit, best first."""
        return self.score_normalized(normalize(text))

    def score_normalized(self, norm: str) -> list[RuleScore]:
        best: dict[int, dict[int, Hit]] = {}
        for hit in self.scan(norm):
            groups = best.setdefault(hit.rule, {})
            prev = groups.get(hit.group)
            if prev is None or _hit_rank(hit) > _hit_rank(prev):
                groups[hit.group] = hit
        rules = self.ruleset.rules
        out = []
        for r, groups in best.items():
            rule = rules[r]
            raw = sum(rule.groups[g].weight * h.similarity for g, h in groups.items()) / 100  # integer sum: order-free
            met = not rule.requires or any(rule.groups[g].name in rule.requires for g in groups)
            score = max(0, min(100, round(raw))) if met else 0
            out.append(RuleScore(rule, score, tuple(sorted(groups.values(), key=lambda h: (h.start, h.group))), met))
        out.sort(key=lambda s: (-s.score, s.hits[0].rule if s.hits else 0))
        return out
