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

Two more cuts, both exact, mattered most for the shipped rules, whose worst
crafted input matched every group of nearly every rule (21 ms): a rule is
dropped halfway as soon as the groups left cannot lift it above the best of
its kind, and a kind is not matched at all when the verdict cannot take it
(``Worth``: the fallback rule is taken only over a specific rule it
outscores, a not-scam rule only when no scam rule reaches medium risk). The
fallback rule has the most groups, and a message with a specific rule at
100 no longer matches them.
"""

from __future__ import annotations

from array import array
from collections import Counter
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Callable

from .chaining import group_best

if TYPE_CHECKING:  # pragma: no cover
    from .scan import Scan

__all__ = ["best_entries", "group_codes", "clamp", "needs_bits", "group_needs_bits", "still_possible", "Worth"]

# What a kind of rule must score to matter, given the best scores of the kinds settled
# before it: worth(kind, {kind: score}) -> None (it cannot matter), -1 (any rule with a
# matched group), or s (only a rule scoring more than s). See ``best_entries``.
Worth = Callable[[int, dict[int, int]], "int | None"]


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
                 needed: tuple[int, ...], scan: "Scan", kind: tuple[int, ...], cap: int,
                 worth: Worth | None = None, skip: tuple[frozenset[int], ...] | None = None
                 ) -> dict[int, tuple[int, list]]:
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
    set every few messages (60 % of the time at 10,000 rules).

    Kinds are settled one after another, lowest first. ``worth`` (None: every
    kind in full) says, from the best scores of the kinds settled so far,
    what a kind must score to matter at all: the verdict takes the fallback
    rule only when it scores more than the best specific rule, and a not-scam
    rule only when neither reaches medium risk. A kind that cannot matter is
    not matched; for one that can, the floor is the best to beat from the
    start, and a rule that cannot beat it is not (fully) matched. Within a
    rule, groups are matched in ``Layer.match_order`` and the rule is dropped
    as soon as the most it can still score (``still_possible``) cannot beat
    its kind's best. Both are exact: what is returned for a kind that
    matters is what every rule matched in full would give, and a kind is
    left out only when no rule of it beat its floor.

    ``skip`` (per layer, group ids): groups left out, as if they had not
    matched (a bound stays a bound: leaving groups out can only lower what a
    rule scores, or raise it by a negative group's weight, which no bound
    counts). ``Detector.warns_of`` scores a story without its warning words
    this way."""
    n = len(rules)
    optimistic: set[int] = set()  # rules whose code in the heap is optimistic, their exact one not worked out yet
    order: list[int] = []  # heap codes, (100 - bound) x n + rule index: best bound, then lowest index first
    left: Counter[int] = Counter()  # kind -> its candidate rules not matched yet
    states = []
    for li, (layer, where) in enumerate(layers):
        occ = layer.occurrences(scan)
        entities_of = (lambda cid, layer=layer: layer.entities_of(scan, cid))  # not kept on ``scan``: no cycle
        kept = scan.ranked.get(layer)  # a second ranking of this message (``warns_of``) reuses the first's
        if kept is None:
            # Candidate groups; classes found on demand; the groups' best matches as chaining
            # keeps them; each group's ``group_best`` once worked out (None too): the same
            # whoever asks, whatever a ranking skips.
            kept = scan.ranked[layer] = (layer.candidate_groups(occ, scan), {}, {}, {})
        candidates, memo, group_hits, matched = kept
        states.append((layer, occ, candidates, memo, entities_of, group_hits, matched))
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
    best: dict[int, tuple[tuple[int, int], list | None]] = {}
    done: set[int] = set()  # rules matched (a rule of several candidate groups has more than one code)
    later: dict[int, list[int]] = {k: [] for k in left}  # codes of kinds after the one being settled
    norm = scan.norm
    for k in sorted(left):
        floor = -1 if worth is None else worth(k, {kk: -key[0] for kk, (key, items) in best.items() if items})
        if floor is None:
            continue  # this kind cannot change the verdict, whatever it scores
        if floor >= 0:
            best[k] = ((-floor, -1), None)  # a rule of this kind counts only if it scores more than ``floor``
        for code in later.pop(k):
            heappush(order, code)
        while order:
            code = heappop(order)
            if code >= dead:
                order.clear()  # the rest are groups of rules no longer served
                break
            r = code % n
            if kind[r] != k:
                if kind[r] > k:
                    later[kind[r]].append(code)
                continue
            if r in done:
                continue
            chosen = best.get(k)
            if chosen is not None and (code // n - 100, r) > chosen[0]:
                break  # rules come in the order of their bounds: none left of this kind can beat it
            li = 0 if len(states) == 1 else next(i for i, mine in enumerate(local) if r in mine)
            layer, occ, candidates, memo, entities_of, group_hits, matched = states[li]
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
            gids = [gid for gid in layer.match_order[local[li][r]] if gid in candidates]
            if skip is not None and skip[li]:
                gids = [gid for gid in gids if gid not in skip[li]]
            beaten = False
            # Stop as soon as the most this rule can still score cannot beat the best of its kind
            # (``still_possible``); its groups come positive-and-required first. (A rule of one
            # candidate group came out of the heap with that bound already.)
            bounded = chosen is not None and len(gids) > 1
            if bounded:
                left_weight, left_bits = _still_to_come(layer, gids)
                got_bits = 0
            for i, gid in enumerate(gids):
                if bounded:
                    if (-still_possible(total, left_weight[i], got_bits | left_bits[i], needed[r]), r) >= chosen[0]:
                        beaten = True
                        break
                if gid in matched:
                    entry = matched[gid]
                else:
                    entry = matched[gid] = group_best(gid, layer.group_singles[gid], layer.group_pids[gid],
                                                      layer.pattern_trigger, occ, layer.pattern_rows, memo,
                                                      entities_of, scan.negations, layer.demand_plan, norm, cap,
                                                      group_hits)
                if entry is not None:
                    total += weights[gid] * entry[0][0]
                    items.append((layer, gid, entry))
                    if bounded:
                        got_bits |= layer.group_needs[gid]
            if items and not beaten:
                if gated[r] and not rules[r].met({layer.group_names[gid] for _, gid, _ in items}):
                    key = (0, r)
                else:
                    key = (-clamp(total), r)
                if chosen is None or key < chosen[0]:
                    best[k] = (key, items)
            if not left[k]:
                break  # the kind's last candidate rule is matched (the one fallback rule, often)
    return {k: (key[1], items) for k, (key, items) in best.items() if items is not None}


def _still_to_come(layer, gids: list[int]) -> tuple[list[int], list[int]]:
    """Per position i of ``gids``: the summed positive weight of ``gids[i:]``, and the
    ``requires`` bits they cover."""
    n = len(gids)
    weight, bits = [0] * n, [0] * n
    w = b = 0
    for i in range(n - 1, -1, -1):
        w += layer.bound_weights[gids[i]]
        b |= layer.group_needs[gids[i]]
        weight[i], bits[i] = w, b
    return weight, bits


def still_possible(total: int, weight_left: int, bits: int, needed: int) -> int:
    """The most a rule can still score: ``total`` (weight x similarity of the groups matched
    so far) with every group left (``weight_left``, their positive weights) matched exactly,
    or 0 when the ``requires`` bits of the groups matched and left cannot cover ``needed``.
    Negative groups only lower a score, so this never underestimates."""
    if needed and bits & needed != needed:
        return 0
    return clamp(total + 100 * weight_left)


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
