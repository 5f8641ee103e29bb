"""Compile a rule set once; score any text against every rule, fast.

A message goes through one pass, each step in its own module:

    scan.py         the message: normalised text, entities and offsets on demand
    layer.py        rules compiled: element classes, the automaton, the indexes
    inner_loops.py  the scan: every key and typo anchor in one Aho-Corasick pass
    occurrences.py  what the scan found, per class, put together when read
    typos.py        which keys tolerate a typo, and aligning the proposed ones
    chaining.py     patterns: elements in order, touching or across a gap
    ranking.py      the best rule of each kind, matching as few rules as that takes

This module holds the results (``Hit``, ``RuleScore``) and ``Matcher``, the
compiled rule set: one layer, or two after a small reload.

**Scores.** A group's strength is the similarity (0..100) of its best match:
100 exact, 95 a pinyin spelling, rapidfuzz's ``ratio`` for a typo, the
weakest element for a pattern. A rule's score is the sum over its groups of
``weight x strength / 100``, clamped to 0..100; negative groups (things
genuine messages say) pull it down; ``requires`` names groups of which at
least one must match, or the rule scores 0.

The work per message follows the keys found in the text, not the number of
rules, up to ranking (bench/README.md, "Matcher", says how far). Rules are
matched independently, so a reload can keep the compiled rules that did not
change (``Matcher(ruleset, previous)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .chaining import gap_cost, group_best
from .inner_loops import one_edit
from .layer import Layer
from .ranking import Worth, best_entries, clamp as _clamp, group_codes, needs_bits
from .scan import MAX_MATCH_CHARS, MAX_OCCURRENCES, Scan
from .schema import Group, Rule, RuleSet
from .spelling import Speller
from .typos import align, tolerates_typo

__all__ = ["Part", "Hit", "RuleScore", "Matcher", "MAX_MATCH_CHARS", "MAX_OCCURRENCES", "tolerates_typo", "align",
           "one_edit", "gap_cost", "Scan"]


@dataclass(frozen=True, slots=True)
class Part:
    """What one element of a pattern matched (a span of the normalised text)."""

    label: str  # "{kin}", "(gift|steam)", or the literal
    start: int
    end: int
    similarity: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A group's best match in the normalised text."""

    rule: int  # index into RuleSet.rules
    group: int  # index into Rule.groups
    phrase: str  # the pattern as written in the rule file
    start: int
    end: int
    similarity: int  # 100 = exact
    parts: tuple[Part, ...] = ()  # per element, for patterns of several elements or a slot


@dataclass(frozen=True, slots=True)
class RuleScore:
    rule: Rule
    score: int  # 0..100
    hits: tuple[Hit, ...]  # the best hit of each matched group
    requires_met: bool


def _parts(where: tuple | None) -> tuple[Part, ...]:
    """The Parts of a best match (see ``Layer.best_hits``)."""
    if where is None:
        return ()
    return tuple(Part(label, s, e, sim) for label, (s, e, sim) in zip(*where))


# ----------------------------------------------------------------- the matcher

# A reload that changes at most this share of the rules compiles only those
# and keeps the rest compiled as they were (see ``Matcher``).
LAYER_MAX_SHARE = 0.1


class Matcher:
    """A rule set compiled for matching. Immutable after construction.

    Built from scratch, it is one compiled layer. Built with ``previous`` (the
    live matcher, on a reload), it reuses ``previous``'s base layer for every
    rule whose groups are unchanged (patterns, vocab terms, weights) and
    compiles only the added and changed rules into a small second layer, so
    editing one rule of thousands costs milliseconds instead of a full
    compile. Each rule is matched on its own, so every score and verdict is
    exactly a full compile's; a scan reads two automatons instead of one
    until the next full compile, which happens whenever the changed rules
    would exceed LAYER_MAX_SHARE."""

    def __init__(self, ruleset: RuleSet, previous: "Matcher | None" = None):
        self.ruleset = ruleset
        self._layers = self._compile(ruleset.rules, previous)
        self._gated = tuple(bool(rule.requires or rule.requires_all) for rule in ruleset.rules)
        self._needs = tuple(map(needs_bits, ruleset.rules))
        # per layer: rule index -> the rule's index in the layer
        self._local = tuple({r: lr for lr, r in enumerate(where) if r >= 0} for _, where in self._layers)
        # per layer: each group's rule and heap code (:func:`.ranking.group_codes`)
        self._codes = tuple(group_codes(layer, where, len(ruleset.rules)) for layer, where in self._layers)
        # A message's words as this rule set reads them: typos of the rules' words spelled right.
        layers = [layer for layer, _ in self._layers]
        self.speller = Speller(frozenset().union(*(layer.rule_words for layer in layers)),
                               frozenset().union(*(layer.key_words for layer in layers)))

    def read(self, text: str) -> Scan:
        """A message as this rule set matches it (:class:`.scan.Scan`, with its speller)."""
        return Scan(text, speller=self.speller)

    @staticmethod
    def _compile(rules: tuple[Rule, ...], previous: "Matcher | None") -> tuple[tuple[Layer, tuple[int, ...]], ...]:
        """The compiled layers, each with the index in ``rules`` of each of
        its rules (-1: a rule no longer served)."""
        if previous is not None:
            base, _ = previous._layers[0]
            position = {rule.id: i for i, rule in enumerate(rules)}
            keep = [position.get(rule.id, -1) for rule in base.rules]
            keep = [i if i >= 0 and rules[i].groups == old.groups else -1 for i, old in zip(keep, base.rules)]
            served = set(keep) - {-1}
            fresh = tuple(i for i in range(len(rules)) if i not in served)
            if len(fresh) <= LAYER_MAX_SHARE * len(rules):
                layers: tuple = ((base, tuple(keep)),)
                if fresh:
                    layers += ((Layer(tuple(rules[i] for i in fresh)), fresh),)
                return layers
        return ((Layer(rules), tuple(range(len(rules)))),)

    @property
    def layers(self) -> int:
        """How many compiled layers a scan reads (1 after a full compile)."""
        return len(self._layers)

    @property
    def phrase_count(self) -> int:
        return sum(len(group.patterns) for rule in self.ruleset.rules for group in rule.groups)

    def hits(self, scan: Scan) -> list[Hit]:
        """The best hit of every group that matched, in rule-set indices."""
        out = []
        for layer, where in self._layers:
            occ = layer.occurrences(scan)
            for gid, (rank, source, parts) in layer.best_hits(scan, occ).items():
                lr, g = layer.groups[gid]
                r = where[lr]
                if r < 0:
                    continue
                sim, neg_start, length, _ = rank
                out.append(Hit(r, g, source, -neg_start, -neg_start + length, sim, _parts(parts)))
        return out

    def scan(self, norm: str) -> list[Hit]:
        """``hits`` for normalised text (no entities: they need the original)."""
        return self.hits(Scan(norm, norm))

    def score(self, text: str) -> list[RuleScore]:
        """Scores of every rule with at least one hit, best first."""
        return self.scores(self.read(text))

    def scores(self, scan: Scan) -> list[RuleScore]:
        by_rule: dict[int, list[Hit]] = {}
        for hit in self.hits(scan):
            by_rule.setdefault(hit.rule, []).append(hit)
        out = [self._rule_score(r, hits) for r, hits in by_rule.items()]
        out.sort(key=lambda s: (-s.score, s.hits[0].rule))
        return out

    def group_ids(self, chosen: "Callable[[Rule, Group], bool]") -> tuple[frozenset[int], ...]:
        """Per layer, the ids of the groups ``chosen(rule, group)`` picks (for ``best_of_each``'s ``skip``)."""
        return tuple(frozenset(gid for gid, (lr, g) in enumerate(layer.groups)
                               if where[lr] >= 0 and chosen(layer.rules[lr], layer.rules[lr].groups[g]))
                     for layer, where in self._layers)

    def without_rule(self, skip: tuple[frozenset[int], ...], r: int) -> tuple[frozenset[int], ...]:
        """``skip`` with every group of the rule at index ``r`` added: that rule drops out of
        ``best_of_each`` (a bound stays a bound when groups are left out)."""
        out = []
        for li, (layer, where) in enumerate(self._layers):
            lr = self._local[li].get(r)
            out.append(skip[li] | frozenset(layer.rule_groups[lr]) if lr is not None else skip[li])
        return tuple(out)

    def group_hit(self, scan: Scan, r: int, g: int) -> Hit | None:
        """The best hit of group ``g`` of the rule at index ``r`` in ``scan`` (as ``hits`` finds
        it), matching that group alone."""
        for li, (layer, where) in enumerate(self._layers):
            lr = self._local[li].get(r)
            if lr is None:
                continue
            gid = next(gid for gid in layer.rule_groups[lr] if layer.groups[gid][1] == g)
            entry = group_best(gid, layer.group_singles[gid], layer.group_pids[gid], layer.pattern_trigger,
                               layer.occurrences(scan), layer.pattern_rows, {},
                               lambda cid, layer=layer: layer.entities_of(scan, cid), scan.negations, layer.demand_plan,
                               scan.norm, MAX_OCCURRENCES, {})
            if entry is None:
                return None
            (sim, neg_start, length, _), source, where_found = entry
            return Hit(r, g, source, -neg_start, -neg_start + length, sim, _parts(where_found))
        return None

    def best_of_each(self, scan: Scan, kind: tuple[int, ...], worth: Worth | None = None,
                     skip: tuple[frozenset[int], ...] | None = None) -> dict[int, RuleScore]:
        """What ``scores`` would rank first among the rules of each kind
        (``kind[r]`` for the rule at index r): the same RuleScores, but only
        those are built, and only the rules that could be first are matched
        (:mod:`.ranking`). ``worth``: what each kind must score to matter
        (``ranking.Worth``); a kind whose best does not is left out. ``skip``
        (per layer, from ``group_ids`` or ``without_rule``): groups left out, as if they had
        not matched."""
        out = {}
        for k, (r, items) in best_entries(self._layers, self._codes, self._local, self.ruleset.rules, self._gated,
                                          self._needs, scan, kind, MAX_OCCURRENCES, worth, skip).items():
            hits = []
            for layer, gid, (rank, source, where) in items:
                sim, neg_start, length, _ = rank
                hits.append(Hit(r, layer.groups[gid][1], source, -neg_start, -neg_start + length, sim, _parts(where)))
            out[k] = self._rule_score(r, hits)
        return out

    def _rule_score(self, r: int, hits: list[Hit]) -> RuleScore:
        rule = self.ruleset.rules[r]
        groups = rule.groups
        met = rule.met({groups[h.group].name for h in hits})
        score = _clamp(sum(groups[h.group].weight * h.similarity for h in hits)) if met else 0
        hits.sort(key=lambda h: (h.start, h.group))
        return RuleScore(rule, score, tuple(hits), met)

