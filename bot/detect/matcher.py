"""Compile a rule set once; score any text against every rule, fast.

One Aho-Corasick scan over the normalised text does all the searching. The
automaton holds:

* every phrase, and the pinyin spelling of every Chinese phrase of eight or
  more pinyin letters ("tongxinguanliju"), for **exact** matches;
* two **anchors** per phrase long enough to have a typo (5+ Chinese
  characters, 6+ Latin letters): its left and right halves.

A typo is one wrong, missing or extra character (one Levenshtein edit). One
edit breaks at most one half, so a phrase written with a typo still contains
its other half exactly, at a known place (the pigeonhole principle). Where an
anchor occurs, two cheap character tests rule out most places; then the
window where the phrase would be, minus each character of the other half, is
looked up in a table of every phrase minus one character (symmetric deletion,
as in SymSpell): a phrase and a window one edit apart share such a variant.
Only the phrases found that way are aligned, with rapidfuzz's Levenshtein
distance. The work per message follows the anchors found in the text, not the
number of rules; what grows with a bigger rule set is the chance that a
piece of text is an anchor, and the size of the tables (memory, caches).

Two edits are not matched: 不要打电话 ("don't call") and 要我打电话 ("asks me to
call") are two edits apart, and a typo in a phrase of four characters or
fewer makes another word (验证码 / 验证吗), so short phrases match exactly.

A fuzzy match's similarity is rapidfuzz's ``ratio`` between the phrase and
the text it matched (80 for one wrong character in five).

A rule's score is the sum over its groups of ``weight x strength``, where a
group's strength is the similarity (0..1) of its best-matching phrase; the sum
is clamped to 0..100. Negative groups (things legitimate messages say) pull the
score down. ``requires`` names groups of which at least one must match, or the
rule scores 0.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

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


def _rank(hit: tuple[int, int, int]) -> tuple[int, int, int]:
    """How occurrences (similarity, start, end) of one phrase compare: more
    similar, then earlier, then longer. A total order, so the result never
    depends on the order in which candidates were found."""
    return hit[0], -hit[1], hit[2] - hit[1]


def _keep_best(found: dict, eid: int, hit: tuple[int, int, int]) -> None:
    prev = found.get(eid)
    if prev is None or _rank(hit) > _rank(prev):
        found[eid] = hit


def align(key: str, norm: str, edits: int, starts: range) -> tuple[int, int, int] | None:
    """The best place for ``key`` in ``norm`` within ``edits`` Levenshtein
    edits, as (similarity, start, end), among windows of ``len(key) +- edits``
    characters that start at one of ``starts``; None when there is none."""
    n = len(key)
    found = []
    for length in range(max(1, n - edits), n + edits + 1):
        for s in starts:
            if s < 0 or s + length > len(norm):
                continue
            window = norm[s : s + length]
            if Levenshtein.distance(key, window, score_cutoff=edits) <= edits:
                found.append((int(fuzz.ratio(key, window)), s, s + length))
    return max(found, key=_rank, default=None)


def _same_phrases(a: Rule, b: Rule) -> bool:
    """Whether two rules have the same hits on every text (their groups hold
    the same phrases, names, weights and fuzzy flags, in the same order)."""
    return a.groups == b.groups


def _pairs(three: str) -> tuple[str, ...]:
    """The ordered character pairs of a string of two or three characters.

    Next to an intact half, the other half's first three characters (abc) show
    up after one typo as abc, xbc, bc.., ac.., axc, xab.., ab.. or abx: in every
    case one of the key's pairs (ab, bc, ac) is also a pair of the three text
    characters there. The same holds, mirrored, for the three characters
    before a right half. A cheap test that is selective even for Latin text."""
    if len(three) < 3:
        return (three,)
    return three[:2], three[1:], three[0] + three[2]


class _Layer:
    """Rules compiled for matching: one automaton and its tables. Hits name
    rules by their index in ``rules``. Immutable after construction."""

    def __init__(self, rules: tuple[Rule, ...]):
        # Compiling creates hundreds of thousands of small containers, none of
        # them cyclic: with the cyclic collector running, its passes over the
        # growing heap cost 3-4x the compile itself.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._compile(rules)
        finally:
            if collecting:
                gc.enable()

    def _compile(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        # One entry per (rule, group, phrase): what a hit points back to.
        entries: list[tuple[int, int, str]] = []
        exact: dict[str, list[tuple[int, int]]] = {}
        fuzzy: dict[str, list[int]] = {}  # phrase that tolerates a typo -> its entries
        for r, rule in enumerate(rules):
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
        self._key_entries = tuple(fuzzy.values())
        fid_of = {key: fid for fid, key in enumerate(self._keys)}

        # Each key's two halves are anchors; each key minus any one character
        # is a deletion variant (see ``scan``). An anchor also carries the
        # characters next to it and at the far end of its keys, to rule out
        # most places cheaply before any variant is looked up.
        tests: dict[tuple[str, int, int], tuple[list, list]] = {}  # (half, side, key length) -> near, far
        deletions: dict[str, list[int]] = {}
        for fid, key in enumerate(self._keys):
            n = len(key)
            h = n // 2
            near, far = tests.setdefault((key[:h], _LEFT, n), ([], []))
            near += _pairs(key[h : h + 3])
            far += key[-2:]
            near, far = tests.setdefault((key[h:], _RIGHT, n), ([], []))
            near += _pairs(key[h - 3 : h]) if h >= 3 else key[:h]  # two characters: any of them
            far += key[:2]
            for i in range(n):
                deletions.setdefault(key[:i] + key[i + 1 :], []).append(fid)
        self._deletions = deletions
        anchors: dict[str, tuple[list, list]] = {}
        for (half, side, n), (near, far) in tests.items():
            anchors.setdefault(half, ([], []))[side].append((n, n // 2, frozenset(near), frozenset(far)))

        # Payload of each word: its length, the phrase entries it is exactly,
        # the fuzzy key it is (or -1), and its anchors as a left half and as a
        # right half, each (n, h, near, far) with n the key's length.
        automaton = ahocorasick.Automaton()
        none = ((), ())
        for word in exact.keys() | anchors.keys():
            lefts, rights = anchors.get(word, none)
            automaton.add_word(word, (len(word), exact.get(word, ()), fid_of.get(word, -1), lefts, rights))
        if len(automaton):
            automaton.make_automaton()
        self._automaton = automaton

    # -- scanning

    def scan(self, norm: str) -> list[Hit]:
        """Every phrase entry found in normalised text (best occurrence each)."""
        entries = self._entries
        return [Hit(entries[e][0], entries[e][1], entries[e][2], s, t, sim) for e, (sim, s, t) in self.find(norm).items()]

    def find(self, norm: str) -> dict[int, tuple[int, int, int]]:
        """``scan`` as {phrase entry: (similarity, start, end)}, no objects made."""
        norm = norm[:MAX_MATCH_CHARS]
        found: dict[int, tuple[int, int, int]] = {}  # entry -> (similarity, start, end)
        exact_keys: set[int] = set()  # fuzzy keys found exactly: nothing to align
        proposed: list[tuple[tuple[int, ...], int]] = []  # (keys, where their window starts)
        get = self._deletions.get
        for end, (length, items, fid, lefts, rights) in self._automaton.iter(norm) if len(self._automaton) else ():
            start = end - length + 1
            for eid, sim in items:
                _keep_best(found, eid, (sim, start, end + 1))
            if fid >= 0:
                exact_keys.add(fid)
            # A one-typo match of a length-n key with this half intact: the n
            # characters where the key would be, minus one character of the
            # other half, are the key minus one character (a deletion
            # variant). Cheap necessary conditions first, whatever the typo:
            # a pair of the other half's first three characters is a pair of
            # the three next to the anchor (``_pairs``), and the key's far end
            # character (or the one before it) is within one place of the end.
            if lefts:
                after = None
                for n, h, near, far in lefts:
                    if far.isdisjoint(norm[start + n - 2 : start + n + 1]):
                        continue
                    if after is None:
                        t = norm[end + 1 : end + 4]
                        after = (t[:2], t[1:], t[:1] + t[2:])
                    if near.isdisjoint(after):
                        continue
                    window = norm[start : start + n]
                    if len(window) == n:
                        for j in range(h, n):
                            fids = get(window[:j] + window[j + 1 :])
                            if fids:
                                proposed.append((fids, start))
                    elif len(window) == n - 1:  # a missing character, and the text ends
                        fids = get(window)
                        if fids:
                            proposed.append((fids, start))
            if rights:
                before = None
                for n, h, near, far in rights:
                    s = start - h
                    if far.isdisjoint(norm[s - 1 : s + 2] if s >= 1 else norm[: max(0, s + 2)]):
                        continue
                    if before is None:
                        t = norm[start - 3 : start] if start >= 3 else norm[:start]
                        before = (t[:2], t[1:], t[:1] + t[2:])
                    if near.isdisjoint(before if h >= 3 else t[-2:]):
                        continue
                    if s >= 0:
                        window = norm[s : s + n]
                        for j in range(h):
                            fids = get(window[:j] + window[j + 1 :])
                            if fids:
                                proposed.append((fids, s))
                    elif s == -1:  # the key's first character is missing at the very start
                        fids = get(norm[: n - 1])
                        if fids:
                            proposed.append((fids, 0))
        if proposed:
            self._fuzzy(norm, found, exact_keys, proposed)
        return found

    def _fuzzy(self, norm: str, found: dict, exact_keys: set[int], proposed: list) -> None:
        """Align the keys the anchors proposed (those not found exactly)."""
        keys, key_entries = self._keys, self._key_entries
        todo = {(fid, s) for fids, s in proposed for fid in fids if fid not in exact_keys}
        for fid, s in todo:  # any order: _keep_best is a total order
            hit = align(keys[fid], norm, 1, range(s - 1, s + 2))
            if hit is not None:
                for eid in key_entries[fid]:
                    _keep_best(found, eid, hit)



# A reload that changes at most this share of the rules compiles only those
# and keeps the rest compiled as they were (see ``Matcher``).
LAYER_MAX_SHARE = 0.1


class Matcher:
    """A rule set compiled for matching. Immutable after construction.

    Built from scratch, it is one compiled layer. Built with ``previous`` (the
    live matcher, on a reload), it reuses ``previous``'s base layer for every
    rule whose phrases are unchanged and compiles only the added and changed
    rules into a small second layer, so editing one rule of thousands costs
    milliseconds instead of a full compile. Each rule is matched on its own
    (a rule's hits depend only on its phrases and the text), so the hits, and
    every score and verdict, are exactly those of a full compile; a scan reads
    two automatons instead of one until the next full compile, which happens
    whenever the changed rules would exceed LAYER_MAX_SHARE."""

    def __init__(self, ruleset: RuleSet, previous: "Matcher | None" = None):
        self.ruleset = ruleset
        rules = ruleset.rules
        self._layers: tuple[tuple[_Layer, tuple[int, ...]], ...]
        if previous is not None:
            base, _ = previous._layers[0]
            position = {rule.id: i for i, rule in enumerate(rules)}
            # Base rules still served as they are -> their index in the new set.
            keep = [position.get(rule.id, -1) for rule in base.rules]
            keep = [i if i >= 0 and _same_phrases(rules[i], old) else -1 for i, old in zip(keep, base.rules)]
            served = set(keep) - {-1}
            fresh = tuple(i for i in range(len(rules)) if i not in served)
            if len(fresh) <= LAYER_MAX_SHARE * len(rules):
                self._layers = ((base, tuple(keep)),)
                if fresh:
                    self._layers += ((_Layer(tuple(rules[i] for i in fresh)), fresh),)
                self._direct = not fresh and self._layers[0][1] == tuple(range(len(rules)))
                return
        self._layers = ((_Layer(rules), tuple(range(len(rules)))),)
        self._direct = True  # hits already name rules by their index in ruleset.rules

    @property
    def phrase_count(self) -> int:
        return sum(len(group.phrases) for rule in self.ruleset.rules for group in rule.groups)

    @property
    def layers(self) -> int:
        """How many compiled layers a scan reads (1 after a full compile)."""
        return len(self._layers)

    def scan(self, norm: str) -> list[Hit]:
        """Every phrase entry found in normalised text (best occurrence each)."""
        if self._direct:
            return self._layers[0][0].scan(norm)
        out = []
        for layer, where in self._layers:
            for hit in layer.scan(norm):
                r = where[hit.rule]
                if r >= 0:
                    out.append(Hit(r, hit.group, hit.phrase, hit.start, hit.end, hit.similarity))
        return out

    # -- scoring

    def score(self, text: str) -> list[RuleScore]:
        """Scores of every rule with at least one hit, best first."""
        return self.score_normalized(normalize(text))

    def score_normalized(self, norm: str) -> list[RuleScore]:
        # The best hit of each (rule, group): most similar, earliest, longest
        # ("通信管理局" over "通信管理"), then the phrase text for a total order.
        # Ranked as tuples: a Hit is made only for the winners.
        best: dict[tuple[int, int], tuple[int, int, int, str]] = {}
        for layer, where in self._layers:
            entries = layer._entries
            for eid, (sim, start, end) in layer.find(norm).items():
                r, g, phrase = entries[eid]
                if not self._direct:
                    r = where[r]
                    if r < 0:
                        continue
                rank = (sim, -start, end - start, phrase)
                prev = best.get((r, g))
                if prev is None or rank > prev:
                    best[(r, g)] = rank
        by_rule: dict[int, list[Hit]] = {}
        for (r, g), (sim, start, length, phrase) in best.items():
            by_rule.setdefault(r, []).append(Hit(r, g, phrase, -start, length - start, sim))
        rules = self.ruleset.rules
        out = []
        for r, hits in by_rule.items():
            rule = rules[r]
            groups = rule.groups
            raw = sum(groups[h.group].weight * h.similarity for h in hits) / 100  # integer sum: order-free
            met = not rule.requires or any(groups[h.group].name in rule.requires for h in hits)
            score = max(0, min(100, round(raw))) if met else 0
            hits.sort(key=lambda h: (h.start, h.group))
            out.append(RuleScore(rule, score, tuple(hits), met))
        out.sort(key=lambda s: (-s.score, s.hits[0].rule if s.hits else 0))
        return out
