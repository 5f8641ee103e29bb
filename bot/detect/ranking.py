"""The best rule of each kind, matching as few rules as that takes.

``Detector.check`` needs, per kind of rule (a specific scam, the fallback,
not a scam), only the best-scoring rule and its hits: they make the verdict
and its evidence. A message touches many rules through the words they share
(hundreds of a thousand synthetic rules), and matching every group of every
one of them (chaining each pattern's elements) was most of the time a check
took.

So rules are ranked by an upper bound first (branch and bound). A group can
match only if one of its classes that trigger something occurs (a phrase's
class, a pattern's trigger), or all the classes of a pattern of classes
found on demand may occur (entities, single characters); those are its
*candidate* groups (``Layer.candidate_groups``). A rule scores at most the
sum of weight x 100 over its candidate groups with a positive weight,
clamped as the score is, and 0 when those groups cannot meet its
``requires``. Rules are matched in the order of that bound, and a rule whose
bound cannot beat the best rule of its kind found so far is not matched at
all. Any bound that never underestimates gives the same result, ties going
to the lower rule index in both: exactly that of matching every rule
(tests/test_ranking.py holds it to ``Matcher.scores``, which does). A looser
bound only costs more rules matched, which is why a pattern's other classes
are not checked before its group counts as a candidate: with 10,000
synthetic rules, checking them was a third of a check's time, and the
rules it kept out of the heap were rarely matched anyway.

Since the groups of patterns found on demand are candidates only when those
occur, this costs less than matching every group even for the shipped rules
(22 of them; it did not before, and below 64 rules every group was matched).
"""

from __future__ import annotations

from array import array
from collections import Counter
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING

from .chaining import group_best

if TYPE_CHECKING:  # pragma: no cover
    from .scan import Scan

__all__ = ["best_entries", "group_codes", "clamp", "needs_bits", "group_needs_bits"]


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


def group_codes(layer, where: tuple[int, ...], n: int) -> tuple[array, array, dict[int, tuple[int, ...]]]:
    """Per group of ``layer`` (whose rule at layer index i is rule ``where[i]``
    of the ``n`` rules, -1: no longer served): its rule's index, and its
    heap code, (100 - bound) x n + rule index, the bound being its rule's
    were this group the rule's only candidate (0 when the group alone
    cannot meet the rule's ``requires``): the exact code for a rule with one
    candidate group, which most are. A group of a rule no longer served
    gets ``101 x n``, after every other code. Per rule served, the most its
    ``c`` candidate groups can weigh: (0, the heaviest weight, the two
    heaviest, ...), clamped to 100, the optimistic bound of a rule with
    several candidate groups (see ``best_entries``)."""
    owners = array("i", map(where.__getitem__, layer.group_rule))
    rule_needs = tuple(map(needs_bits, layer.rules))
    dead = 101 * n
    codes = array("q")
    for r, lr, needs, weight in zip(owners, layer.group_rule, layer.group_needs, layer.bound_weights):
        bound = 0 if needs & rule_needs[lr] != rule_needs[lr] else min(100, weight)
        codes.append(dead if r < 0 else (100 - bound) * n + r)
    heaviest = {}
    for lr, r in enumerate(where):
        if r >= 0:
            weights = sorted((layer.bound_weights[gid] for gid in layer.rule_groups[lr]), reverse=True)
            heaviest[r] = tuple(min(100, sum(weights[:c])) for c in range(len(weights) + 1))
    return owners, codes, heaviest


def best_entries(layers: tuple, tables: tuple, local: tuple, rules: tuple, gated: tuple[bool, ...],
                 needed: tuple[int, ...], scan: "Scan", kind: tuple[int, ...], cap: int) -> dict[int, tuple[int, list]]:
    """Per kind ``k`` (``kind[r]`` for the rule at index r): (rule index,
    [(layer, group id, best entry)]) of the rule ``Matcher.scores`` would rank
    first among the rules of that kind with a matched group: highest score,
    then lowest index (a rule whose ``requires`` are not met scores 0).
    ``layers``: the matcher's (layer, rule index of each layer rule);
    ``tables``: per layer, ``group_codes``; ``local``: per layer, rule index
    -> the rule's index in the layer; ``gated``, ``needed``: per rule,
    whether it has ``requires`` and ``needs_bits``.

    Thousands of rules can be candidates (10,000 synthetic rules sharing
    vocab lists: ~1,100 a message, most of them through one group of a
    small weight). Per candidate group only lookups run, at C speed (``map``,
    ``Counter``): its heap code (``group_codes``, worked out at compile
    time: exact for a rule with one candidate group) and its rule. A rule
    with several candidate groups goes in with an optimistic code (the
    most that many of its groups can weigh), and only when that comes out
    of the heap is its exact code worked out and put back: before its
    groups' own codes, which are then skipped. Everything is kept in
    plain ints, which the cyclic garbage collector does not track: lists
    per candidate, alive while a collection ran, were promoted to the
    oldest generation and made the collector walk the whole compiled rule
    set every few messages (60 % of the time at 10,000 rules)."""
    n = len(rules)
    optimistic: set[int] = set()  # rules whose code in the heap is optimistic, their exact one not worked out yet
    order: list[int] = []  # heap codes, (100 - bound) x n + rule index: best bound, then lowest index first
    left: Counter[int] = Counter()  # kind -> its candidate rules not matched yet
    states = []
    for li, (layer, where) in enumerate(layers):
        occ = layer.occurrences(scan)
        memo: dict = {}  # classes found on demand, for matching
        entities_of = (lambda cid, layer=layer: layer.entities_of(scan, cid))
        candidates = layer.candidate_groups(occ, scan)
        states.append((layer, occ, candidates, memo, entities_of, {}))
        owner_of, code_of, heaviest = tables[li]
        counts = Counter(map(owner_of.__getitem__, candidates))  # rule index -> its candidate groups
        order += map(code_of.__getitem__, candidates)
        counts.pop(-1, None)  # rules no longer served
        left.update(map(kind.__getitem__, counts))
        # A rule with several candidate groups gets an optimistic code first,
        # from the heaviest weights of as many of its groups (worked out at
        # compile time); its exact code is worked out when that comes out of
        # the heap (``exact_code``), if it does before its kind is settled.
        # Summing every such rule's candidate groups as they were found cost
        # more than all the other bounds together on long texts.
        multiple = [r for r, count in counts.items() if count > 1]
        order += [(100 - heaviest[r][counts[r]]) * n + r for r in multiple]
        optimistic.update(multiple)
    heapify(order)
    dead = 101 * n
    best: dict[int, tuple[tuple[int, int], list]] = {}
    settled: set[int] = set()  # kinds whose best no rule left can beat, or with no rule left
    done: set[int] = set()  # rules matched (a rule of several candidate groups has more than one code)
    kinds_left = len(left)
    norm = scan.norm
    while order:
        code = heappop(order)
        if code >= dead:
            break
        r = code % n
        if r in done:
            continue
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
        li = 0 if len(states) == 1 else next(i for i, mine in enumerate(local) if r in mine)
        layer, occ, candidates, memo, entities_of, group_hits = states[li]
        if r in optimistic:
            optimistic.discard(r)
            exact = exact_code(layer, candidates, local[li][r], needed[r], n, r)
            if exact != code:  # worse than this optimistic one: back in the heap, in its place
                heappush(order, exact)
                continue
        done.add(r)
        left[k] -= 1
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
        if items:
            if gated[r] and not rules[r].met({layer.group_names[gid] for _, gid, _ in items}):
                key = (0, r)
            else:
                key = (-clamp(total), r)
            if chosen is None or key < chosen[0]:
                best[k] = (key, items)
        if not left[k]:
            # The kind's last candidate rule is matched (the one fallback rule, often): the rest
            # of the heap is other kinds' rules, and those may all be settled already.
            settled.add(k)
            if len(settled) == kinds_left:
                break
    return {k: (key[1], items) for k, (key, items) in best.items()}


def exact_code(layer, candidates: set[int], lr: int, needed: int, n: int, r: int) -> int:
    """The heap code of rule ``r`` (index ``lr`` in ``layer``) from its
    candidate groups: the bound is the sum of their weights (clamped:
    weights are whole numbers, so min(100, sum), the score were every
    candidate group matched exactly), 0 when those groups cannot meet the
    rule's ``requires`` (``needed``, :func:`needs_bits`)."""
    gids = candidates.intersection(layer.rule_groups[lr])
    total = sum(map(layer.bound_weights.__getitem__, gids))
    if needed:
        needs = 0
        for gid in gids:
            needs |= layer.group_needs[gid]
        if needs & needed != needed:
            total = 0
    return (100 - min(100, total)) * n + r
