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
anchor occurs, the characters next to it are compared with the phrase's other
half: a match one edit away shows at the first difference (a wrong, missing
or extra character there, and the rest equal), so most anchors are ruled out
after a character or two. Only the phrases that pass are aligned, with
rapidfuzz's Levenshtein distance. The work per message follows the anchors
found in the text, not the number of rules; what grows with a bigger rule set
is the chance that a piece of text is an anchor, and the size of the
automaton (memory, caches).

That per-anchor check is the matcher's inner loop, so it also exists in C
(``_scan.c``, built on install), over each anchor's phrases packed side by
side in one buffer; so does the fold of hits into per-rule scores.
``scan_python`` and ``best_hits_python`` are the same in Python, used where
the C module is not built, and the tests hold each pair to the same results.

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
from array import array
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


def scan_python(matches, norm: str, found: dict, exact_keys: set, proposed: list) -> None:
    """The scan loop: what to make of each word the automaton finds in ``norm``.

    ``matches`` yields (end, payload), payload = (length, items, fid, lefts,
    rights) (see ``_Layer._compile``). Records exact occurrences in ``found``,
    fuzzy keys found exactly in ``exact_keys``, and appends (key, window start)
    to ``proposed`` for each key that may be here with one typo: a left half
    followed by something one edit from the key's right half, or a right half
    preceded by something one edit from its left half. bot/detect/_scan.c is
    this function in C; this one is the reference the tests hold it to, and
    what runs where the C module is not built."""
    for end, (length, items, fid, lefts, rights) in matches:
        start = end - length + 1
        for eid, sim in items:
            _keep_best(found, eid, (sim, start, end + 1))
        if fid >= 0:
            exact_keys.add(fid)
        # A left half is key[:h] and its other half key[h:], at most one
        # character longer; a right half is key[h:], at least as long as key[:h].
        # ``head`` is the other half's first two characters: a string one edit
        # from it starts with one of them in one of its first two places, a
        # test that rules out most anchors before ``one_edit`` is called.
        if lefts:
            after = norm[end + 1 : end + length + 3]
            t0, t1 = after[:1], after[1:2]
            for key, other, head in lefts:
                if (t0 in head or t1 in head) and one_edit(other, after):
                    proposed.append((key, start))
        if rights:
            before = norm[max(0, start - length - 1) : start][::-1]
            t0, t1 = before[:1], before[1:2]
            for key, other, head in rights:  # other: the left half, reversed
                if (t0 in head or t1 in head) and one_edit(other, before):
                    proposed.append((key, start - len(other)))


def _records(records: list[tuple[int, str]]) -> tuple[tuple[int, str, str], ...]:
    """An anchor's (key, other half) records for ``scan_python``, each with the
    other half's first two characters (see there)."""
    return tuple((key, other, other[:2]) for key, other in records)


def pack(records: list[tuple[int, str]]) -> bytes:
    """An anchor's (key, other half) records for ``_scan.c``: each an int32
    key id, an int32 length m, then the m code points as uint32, native byte
    order, side by side in one buffer."""
    out = array("i")
    for key, other in records:
        out.extend((key, len(other)))
        out.frombytes(array("I", map(ord, other)).tobytes())
    return out.tobytes()


def best_hits_python(found: dict, group_of: array, weight_of: array, first_group: int, first_entry: int,
                     rule_of: array, required: bytearray, best: dict, raw: dict | None, met: set | None) -> None:
    """Fold one layer's hits ``found`` {entry: (similarity, start, end)} into
    ``best`` {group id: rank} and, when ``raw`` is given, the rule sums
    ``raw`` and ``met`` (see ``Matcher._best_hits``). ``_scan.best_hits`` is
    this function in C."""
    for eid, (sim, start, end) in found.items():
        lg = group_of[eid]
        gid = first_group + lg
        r = rule_of[gid]
        if r < 0:
            continue
        rank = (sim, -start, end - start, -first_entry - eid)
        prev = best.get(gid)
        if prev is None or rank > prev:
            best[gid] = rank
            if raw is not None:
                raw[r] = raw.get(r, 0) + weight_of[lg] * (sim - (prev[0] if prev else 0))
                if required[gid]:
                    met.add(r)


def fold_python(found: dict, entries, hit: tuple[int, int, int]) -> None:
    """Give each of ``entries`` (the phrase entries of one key) the occurrence
    ``hit`` unless it has a better one. ``_scan.fold`` is this in C."""
    rank = _rank(hit)
    for eid in entries:
        prev = found.get(eid)
        if prev is None or rank > _rank(prev):
            found[eid] = hit


def top_python(raw: dict[int, int], met: set[int], free: tuple[bool, ...],
               kind: tuple[bool, ...]) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """The best (score, rule) among the rules of ``raw`` {rule: sum of weight x
    similarity} with ``kind[rule]`` true, and among the others (None when
    there is none): highest score, then the lowest rule index. A rule scores
    0 unless it is ``free`` (no ``requires``) or in ``met``. ``_scan.top`` is
    this in C."""
    best: dict[bool, tuple[int, int]] = {}  # kind -> (score, -rule)
    for r, total in raw.items():
        score = _clamp(total) if free[r] or r in met else 0
        k = kind[r]
        if k not in best or (score, -r) > best[k]:
            best[k] = (score, -r)
    return tuple((best[k][0], -best[k][1]) if k in best else None for k in (True, False))  # type: ignore[return-value]


try:  # the same functions in C (setup.py builds them on install)
    from ._scan import best_hits as best_hits_c
    from ._scan import fold as fold_c
    from ._scan import scan as scan_c
    from ._scan import top as top_c
except ImportError:  # a source tree that was not built: same results, slower
    scan_c = best_hits_c = fold_c = top_c = None
if array("i").itemsize != 4 or array("I").itemsize != 4:  # the C reads 32-bit tables
    scan_c = best_hits_c = fold_c = top_c = None

_scan_loop = scan_c or scan_python
_best_loop = best_hits_c or best_hits_python
_fold = fold_c or fold_python
_top = top_c or top_python


class _Layer:
    """Rules compiled for matching: one automaton and its tables. Hits name
    rules by their index in ``rules``. Immutable after construction."""

    def __init__(self, rules: tuple[Rule, ...], loop=None):
        """``loop``: the scan loop to compile for (``scan_c`` when it is built,
        else ``scan_python``); the tests compile for each."""
        self._loop = loop or _scan_loop
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
        # What scoring reads, as flat arrays (no objects to chase per hit):
        # each entry's group, numbered in this layer, and each group's weight.
        groups: list[tuple[int, int]] = []
        self._group_of = array("i")
        self._weight_of = array("i")
        for r, rule in enumerate(rules):
            for g, group in enumerate(rule.groups):
                lg = len(groups)
                groups.append((r, g))
                self._weight_of.append(group.weight)
                for phrase in group.phrases:
                    eid = len(entries)
                    entries.append((r, g, phrase))
                    self._group_of.append(lg)
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
        self._groups = tuple(groups)
        self._phrase_of = tuple(phrase for _, _, phrase in entries)
        self._keys = tuple(fuzzy)  # indexed by "key id" (fid)
        self._key_entries = tuple(fuzzy.values())
        fid_of = {key: fid for fid, key in enumerate(self._keys)}

        # Each key's two halves are anchors. At a left half, the text after it
        # is compared with the key's right half; at a right half, the text
        # before it, read backward, with the key's left half reversed.
        anchors: dict[str, tuple[list, list]] = {}
        for fid, key in enumerate(self._keys):
            h = len(key) // 2
            anchors.setdefault(key[:h], ([], []))[0].append((fid, key[h:]))
            anchors.setdefault(key[h:], ([], []))[1].append((fid, key[:h][::-1]))
        form = pack if self._loop is scan_c else _records

        # Payload of each word: its length, the phrase entries it is exactly,
        # the fuzzy key it is (or -1), and its anchor records as a left half
        # and as a right half: (key, other half), packed for the C loop.
        automaton = ahocorasick.Automaton()
        none = ((), ())
        for word in exact.keys() | anchors.keys():
            lefts, rights = anchors.get(word, none)
            items = tuple(exact.get(word, ()))
            automaton.add_word(word, (len(word), items, fid_of.get(word, -1), form(lefts), form(rights)))
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
        proposed: list[tuple[int, int]] = []  # (key, where its window starts)
        if len(self._automaton):
            self._loop(self._automaton.iter(norm), norm, found, exact_keys, proposed)
        if proposed:
            self._fuzzy(norm, found, exact_keys, proposed)
        return found

    def _fuzzy(self, norm: str, found: dict, exact_keys: set[int], proposed: list) -> None:
        """Align the keys the anchors proposed (those not found exactly)."""
        keys, key_entries = self._keys, self._key_entries
        todo = {(fid, s) for fid, s in proposed if fid not in exact_keys}
        for fid, s in todo:  # any order: _rank is a total order
            hit = align(keys[fid], norm, 1, range(s - 1, s + 2))
            if hit is not None:
                _fold(found, key_entries[fid], hit)


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
        self._layers, self._direct = self._compile(rules, previous)
        # Scoring names a (rule, group) by one integer, a "group id": the
        # layers' groups numbered in a row. Per group id: the rule's index in
        # ``rules`` (-1: a rule no longer served), the group's index in the
        # rule, and whether the rule's ``requires`` names it; per entry id
        # (numbered likewise), the phrase.
        self._rule_of, self._g_of, self._required = array("i"), array("i"), bytearray()
        self._starts: list[tuple[int, int]] = []  # first group id and entry id of each layer
        phrases: list[str] = []
        for layer, where in self._layers:
            self._starts.append((len(self._rule_of), len(phrases)))
            for lr, g in layer._groups:
                r = where[lr]
                self._rule_of.append(r)
                self._g_of.append(g)
                self._required.append(r >= 0 and rules[r].groups[g].name in rules[r].requires)
            phrases += layer._phrase_of
        self._phrase_of = tuple(phrases)
        self._free = tuple(not rule.requires for rule in rules)  # rules scored without ``requires``
        # The group ids of each rule: consecutive, in the one layer that serves it.
        first: dict[int, int] = {}
        for gid, r in enumerate(self._rule_of):
            first.setdefault(r, gid)
        self._gids = tuple(range(first.get(r, 0), first.get(r, 0) + len(rule.groups)) for r, rule in enumerate(rules))

    @staticmethod
    def _compile(rules: tuple[Rule, ...], previous: "Matcher | None"):
        """The compiled layers and whether hits name rules by their index in
        ``rules`` already (see the class docstring)."""
        if previous is not None:
            base, _ = previous._layers[0]
            position = {rule.id: i for i, rule in enumerate(rules)}
            # Base rules still served as they are -> their index in the new set.
            keep = [position.get(rule.id, -1) for rule in base.rules]
            keep = [i if i >= 0 and _same_phrases(rules[i], old) else -1 for i, old in zip(keep, base.rules)]
            served = set(keep) - {-1}
            fresh = tuple(i for i in range(len(rules)) if i not in served)
            if len(fresh) <= LAYER_MAX_SHARE * len(rules):
                layers = ((base, tuple(keep)),)
                if fresh:
                    layers += ((_Layer(tuple(rules[i] for i in fresh)), fresh),)
                return layers, not fresh and layers[0][1] == tuple(range(len(rules)))
        return ((_Layer(rules), tuple(range(len(rules)))),), True

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
        """``score`` of normalised text."""
        best = self._best_hits(norm)
        by_rule: dict[int, list[int]] = {}
        for gid in best:
            by_rule.setdefault(self._rule_of[gid], []).append(gid)
        out = [self._rule_score(r, [(gid, best[gid]) for gid in gids]) for r, gids in by_rule.items()]
        out.sort(key=lambda s: (-s.score, s.hits[0].rule))
        return out

    def best_scores(self, norm: str, kind: tuple[bool, ...]) -> tuple[RuleScore | None, RuleScore | None]:
        """The first rule of ``score_normalized(norm)`` among those with
        ``kind[rule index]`` true and the first among the others, computed
        from plain sums: a RuleScore is made for these two rules only. With
        thousands of rules a text hits hundreds of them; a verdict needs two."""
        raw: dict[int, int] = {}  # rule -> sum of weight x similarity over its groups' best hits
        met: set[int] = set()
        best = self._best_hits(norm, raw, met)

        def build(top: tuple[int, int] | None) -> RuleScore | None:
            if top is None:
                return None
            r = top[1]
            return self._rule_score(r, [(gid, best[gid]) for gid in self._gids[r] if gid in best])

        scam, other = _top(raw, met, self._free, kind)
        return build(scam), build(other)

    def _best_hits(self, norm: str, raw: dict[int, int] | None = None,
                   met: set[int] | None = None) -> dict[int, tuple[int, int, int, int]]:
        """The best hit of each (rule, group), by group id, ranked as a tuple
        (similarity, -start, length, -entry id): most similar, earliest,
        longest ("通信管理局" over "通信管理"), then the phrase listed first.
        With ``raw`` and ``met``, also each rule's sum of weight x similarity
        of its groups' best hits, and the rules with a hit in a group their
        ``requires`` names, kept up to date as better hits replace worse
        ones: one pass over the hits, all of it integers and flat arrays."""
        best: dict[int, tuple[int, int, int, int]] = {}
        for (layer, _), (first_group, first_entry) in zip(self._layers, self._starts):
            _best_loop(layer.find(norm), layer._group_of, layer._weight_of, first_group, first_entry,
                       self._rule_of, self._required, best, raw, met)
        return best

    def _rule_score(self, r: int, ranks: list[tuple[int, tuple[int, int, int, int]]]) -> RuleScore:
        """Rule ``r``'s score from the best hit of each group it matched."""
        rule = self.ruleset.rules[r]
        groups = rule.groups
        g_of, phrase_of = self._g_of, self._phrase_of
        hits = [Hit(r, g_of[gid], phrase_of[-entry], -start, length - start, sim)
                for gid, (sim, start, length, entry) in ranks]
        met = not rule.requires or any(groups[h.group].name in rule.requires for h in hits)
        score = _clamp(sum(groups[h.group].weight * h.similarity for h in hits)) if met else 0
        hits.sort(key=lambda h: (h.start, h.group))
        return RuleScore(rule, score, tuple(hits), met)


def _clamp(total: int) -> int:
    """A rule's score from the sum of weight x similarity over its groups (an
    integer sum, so the order of the groups does not matter): 0..100."""
    return max(0, min(100, round(total / 100)))
