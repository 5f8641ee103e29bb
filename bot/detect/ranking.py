"""The best rule of each kind, matching as few rules as that takes.

``Detector.check`` needs, per kind of rule (a specific scam, the fallback,
not a scam), only the best-scoring rule and its hits: they make the verdict
and its evidence. A message touches many rules through the words they share
(hundreds of a thousand synthetic rules), and matching every group of every
one of them (chaining each pattern's elements) was most of the time a check
took.

So rules are ranked by an upper bound first (branch and bound). A group can
match only if a phrase of it occurs, all the scanned classes of one of its
patterns occur, or all the classes of a pattern of classes found on demand
occur (entities, single characters: looked for once, and the matching reuses
what was found); a rule scores at most the sum of weight x 100 over those of
its groups with a positive weight, clamped as the score is, and 0 when those
groups cannot meet its ``requires``. Rules are matched in the order of that
bound, and a rule whose bound cannot beat the best rule of its kind found so
far is not matched at all. The bound never underestimates and ties go to the
lower rule index in both, so the result is exactly that of matching every
rule (tests/test_ranking.py holds it to ``Matcher.scores``, which does).

Since the groups of patterns found on demand are candidates only when those
occur, this costs less than matching every group even for the shipped rules
(22 of them; it did not before, and below 64 rules every group was matched).
"""

from __future__ import annotations

from heapq import heapify, heappop
from typing import TYPE_CHECKING

from .chaining import group_best, on_demand

if TYPE_CHECKING:  # pragma: no cover
    from .scan import Scan

__all__ = ["best_entries", "clamp", "needs_bits", "group_needs_bits"]


def clamp(total: int) -> int:
    """A rule's score from the sum of weight x similarity over its groups (an
    integer sum, so the order of the groups does not matter): 0..100."""
    return max(0, min(100, round(total / 100)))


def needs_bits(rule) -> int:
    """A rule's ``requires`` as bits (see ``group_needs_bits``): bit 0 when
    it has ``requires``, bit i + 1 for the i-th name of ``requires_all``."""
    return (1 if rule.requires else 0) | sum(2 << i for i in range(len(rule.requires_all)))


def group_needs_bits(rule, name: str) -> int:
    """The bits of ``needs_bits(rule)`` a matched group called ``name`` covers;
    the rule is met when its groups' bits together cover all of its own."""
    return (1 if name in rule.requires else 0) | sum(2 << i for i, needed in enumerate(rule.requires_all)
                                                      if needed == name)


def best_entries(layers: tuple, local: tuple, rules: tuple, gated: tuple[bool, ...], needed: tuple[int, ...],
                 scan: "Scan", kind: tuple[int, ...], cap: int) -> dict[int, tuple[int, list]]:
    """Per kind ``k`` (``kind[r]`` for the rule at index r): (rule index,
    [(layer, group id, best entry)]) of the rule ``Matcher.scores`` would rank
    first among the rules of that kind with a matched group: highest score,
    then lowest index (a rule whose ``requires`` are not met scores 0).
    ``layers``: the matcher's (layer, rule index of each layer rule);
    ``local``: per layer, rule index -> the rule's index in the layer;
    ``gated``, ``needed``: per rule, whether it has ``requires`` and
    ``needs_bits``.

    Thousands of rules can be candidates (10,000 synthetic rules sharing
    vocab lists): their bounds are kept in plain ints (dicts of ints, a heap
    of ints), which the cyclic garbage collector does not track. Lists per
    candidate, alive while a collection runs, were promoted to the oldest
    generation and made the collector walk the whole compiled rule set every
    few messages (60 % of the time at 10,000 rules)."""
    sums: dict[int, int] = {}  # rule index -> sum of the positive weights of its candidate groups
    needs: dict[int, int] = {}  # rule index -> its ``requires`` its candidate groups cover (bits)
    home: dict[int, int] = {}  # rule index -> its layer (when there are several)
    states = []
    for li, (layer, where) in enumerate(layers):
        occ = layer.occurrences(scan)
        memo: dict = {}  # classes found on demand, shared with matching
        entities_of = (lambda cid, layer=layer: layer.entities_of(scan, cid))
        candidates = layer.candidate_groups(occ, memo, lambda cid, layer=layer, memo=memo, entities_of=entities_of:
                                            on_demand(cid, memo, entities_of, layer.demand_plan, scan.norm, cap))
        states.append((layer, occ, candidates, memo, entities_of, {}))
        rule_of, weights, group_needs = layer.group_rule, layer.bound_weights, layer.group_needs
        get, got = sums.get, needs.get
        for gid in candidates:
            r = where[rule_of[gid]]
            if r >= 0:
                sums[r] = get(r, 0) + weights[gid]
                if group_needs[gid]:
                    needs[r] = got(r, 0) | group_needs[gid]
                if li:
                    home[r] = li
    # Weights are whole numbers, so the clamped bound is min(100, sum): the
    # score the rule would have if every candidate group matched exactly;
    # 0 when its candidate groups cannot meet its ``requires`` (it scores 0).
    # A heap (not a sort: usually few rules are taken before every kind is
    # settled) of ints: (100 - bound) x rules + index, best bound and then
    # lowest index first.
    n = len(rules)
    got = needs.get
    order = [((100 if got(r, 0) & needed[r] != needed[r] else 100 - total if total < 100 else 0) * n + r)
             for r, total in sums.items()]
    heapify(order)
    best: dict[int, tuple[tuple[int, int], list]] = {}
    settled: set[int] = set()  # kinds whose best no rule left can beat
    kinds_left = len(set(map(kind.__getitem__, sums)))
    norm = scan.norm
    while order:
        code = heappop(order)
        r = code % n
        k = kind[r]
        if k in settled:
            continue
        chosen = best.get(k)
        if chosen is not None and (code // n - 100, r) > chosen[0]:
            # Rules come in the order of their bounds: none left of this kind can beat it.
            settled.add(k)
            if len(settled) == kinds_left:
                break
            continue
        li = home.get(r, 0)
        layer, occ, candidates, memo, entities_of, group_hits = states[li]
        items = []
        total = 0
        weights = layer.weights
        for gid in layer.rule_groups[local[li][r]]:
            if gid not in candidates:
                continue
            entry = group_best(gid, layer.group_singles[gid], layer.group_pids[gid], layer.pattern_trigger, occ,
                               layer.pattern_rows, memo, entities_of, layer.demand_plan, norm, cap, group_hits)
            if entry is not None:
                total += weights[gid] * entry[0][0]
                items.append((layer, gid, entry))
        if not items:
            continue
        if gated[r] and not rules[r].met({layer.group_names[gid] for _, gid, _ in items}):
            key = (0, r)
        else:
            key = (-clamp(total), r)
        if chosen is None or key < chosen[0]:
            best[k] = (key, items)
    return {k: (key[1], items) for k, (key, items) in best.items()}
