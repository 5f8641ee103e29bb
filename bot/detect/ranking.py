"""The best rule of each kind, matching as few rules as that takes.

``Detector.check`` needs, per kind of rule (a specific scam, the fallback,
not a scam), only the best-scoring rule and its hits: they make the verdict
and its evidence. A message touches many rules through the words they share
(hundreds of a thousand synthetic rules), and matching every group of every
one of them (chaining each pattern's elements) was most of the time a check
took.

So rules are ranked by an upper bound first (branch and bound). A group can
match only if a phrase of it occurs, all the scanned classes of one of its
patterns occur, or it has a pattern of classes found on demand (entities,
single characters: not known without looking); a rule scores at most the sum
of weight x 100 over those of its groups with a positive weight, clamped as
the score is. Rules are matched in the order of that bound, and a rule whose
bound cannot beat the best rule of its kind found so far is not matched at
all. The bound never underestimates and ties go to the lower rule index in
both, so the result is exactly that of matching every rule
(tests/test_ranking.py holds it to ``Matcher.scores``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .inner_loops import group_best

if TYPE_CHECKING:  # pragma: no cover
    from .matcher import Scan, _Layer

__all__ = ["best_entries", "clamp"]


def clamp(total: int) -> int:
    """A rule's score from the sum of weight x similarity over its groups (an
    integer sum, so the order of the groups does not matter): 0..100."""
    return max(0, min(100, round(total / 100)))


def best_entries(layers: tuple, rules: tuple, gated: tuple[bool, ...], scan: "Scan", kind: tuple[int, ...],
                 cap: int) -> dict[int, tuple[int, list]]:
    """Per kind ``k`` (``kind[r]`` for the rule at index r): (rule index,
    [(layer, group id, best entry)]) of the rule ``Matcher.scores`` would rank
    first among the rules of that kind with a matched group: highest score,
    then lowest index (a rule whose ``requires`` are not met scores 0).
    ``layers``: the matcher's (layer, rule index of each layer rule)."""
    bound: dict[int, list] = {}  # rule index -> [sum of positive weights, layer, its state, group ids]
    for layer, where in layers:
        occ = layer.occurrences(scan)
        state = (occ, {}, lambda cid, layer=layer: layer.entities_of(scan, cid))  # on-demand classes, once per layer
        rule_of, weights = layer.group_rule, layer.bound_weights
        for gid in layer.candidate_groups(occ):
            r = where[rule_of[gid]]
            if r < 0:
                continue
            entry = bound.get(r)
            if entry is None:
                bound[r] = [weights[gid], layer, state, [gid]]
            else:
                entry[0] += weights[gid]
                entry[3].append(gid)
    # Weights are whole numbers, so the clamped bound is min(100, sum): the
    # score the rule would have if every candidate group matched exactly.
    order = sorted((-min(100, entry[0]), r) for r, entry in bound.items())
    best: dict[int, tuple[tuple[int, int], list]] = {}
    settled: set[int] = set()  # kinds whose best no rule left can beat
    kinds_left = len(set(map(kind.__getitem__, bound)))
    norm = scan.norm
    for key_bound in order:
        r = key_bound[1]
        k = kind[r]
        if k in settled:
            continue
        chosen = best.get(k)
        if chosen is not None and key_bound > chosen[0]:
            # Rules come in the order of their bounds: none left of this kind can beat it.
            settled.add(k)
            if len(settled) == kinds_left:
                break
            continue
        _, layer, (occ, memo, entities_of), gids = bound[r]
        items = []
        total = 0
        weights = layer.weights
        for gid in gids:
            entry = group_best(gid, layer.group_singles[gid], layer.group_pids[gid], layer.pattern_trigger, occ,
                               layer.pattern_rows, memo, entities_of, layer.demand_plan, norm, cap)
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
