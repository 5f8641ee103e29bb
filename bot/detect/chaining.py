"""Chaining a pattern's elements, and each group's best match: the loops that
run once per candidate pattern and per occurrence chained.

A pattern of several elements matches where its elements' occurrences follow
each other in order: touching (English words: one space apart), or across a
gap of at most the group's ``gap`` (``gap_cost``). ``chain`` finds the best
such way from the occurrences the scan found (at most ``MAX_OCCURRENCES``
per class, which bounds the work); classes of single characters and
entities are looked for here, on demand (``short_occurrences``). Every
group's best match is compared by a total order, so the result never depends
on the order in which things are tried: ``best_hits`` (every group a message
touches) and ``group_best`` (one group, for :mod:`.ranking`) give the same.
tests/test_matcher_oracle.py holds chaining to trying every combination.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Callable

from .inner_loops import SPACED, SPACED_CHARS

if TYPE_CHECKING:  # pragma: no cover
    from .negation import Negations
    from .occurrences import Occurrences

__all__ = ["gap_cost", "chain", "short_occurrences", "on_demand", "best_hits", "group_best", "NEGATABLE", "ONLY_AS_DONE"]

# How a pattern reads negations (its ``negatable`` field, :mod:`.negation`): 0, it does not;
# NEGATABLE, a request that does not count where a negation governs it; ONLY_AS_DONE,
# counter-evidence that also does not count inside a question (``Group.only_as_done``).
NEGATABLE, ONLY_AS_DONE = 1, 2


_WORD_RUN = re.compile(f"[{SPACED}]+")  # an English word (or number): its characters cost 2 together
_SHORT_GAP = 12  # characters; measured: the loop is cheaper up to about 10


def gap_cost(region: str) -> int:
    """What a gap of ``region`` costs against a group's ``gap``: one per
    Chinese (or other unspaced) character, two per English word. A long
    region is measured with two C calls: a Python loop over its characters
    was most of chaining's time on long texts, where a gap of up to a
    hundred characters is measured per pair of occurrences; a short one
    (most gaps) costs less in the loop than the regular expression's call."""
    if len(region) > _SHORT_GAP:
        rest, words = _WORD_RUN.subn("", region)
        return len(rest) - rest.count(" ") + 2 * words
    return gap_cost_by_loop(region)


def gap_cost_by_loop(region: str) -> int:
    """:func:`gap_cost`, one character at a time: the cheaper way for a
    short gap, and the definition the C path is tested against."""
    cost = 0
    in_word = False
    for ch in region:
        if ch in SPACED_CHARS:
            if not in_word:
                cost += 2
                in_word = True
        else:
            in_word = False
            if ch != " ":
                cost += 1
    return cost


def chain(norm: str, lists: list[list[tuple[int, int, int]]], gaps: tuple[bool, ...],
          bound: int, negations: "Negations | None" = None) -> tuple[int, list[tuple[int, int, int]]] | None:
    """The best way to find the elements in order: each element's occurrence
    starts where the previous one ends (English: one space later), or after a
    gap of at most ``bound`` (see ``gap_cost``). Best: the weakest element
    most similar, then earliest. Returns (similarity, spans) or None.

    ``lists``: each element's occurrences (start, end, similarity) in
    ``norm``. Of two ways that end at the same place, the one found first
    wins a tie; so does the first occurrence of an element. ``negations``
    (a negatable group's pattern, :mod:`.negation`): no gap may hold a
    negation's cue ("验证码…请勿…告诉")."""
    # A state: (similarity so far, start of the first element, spans); one per end position.
    states: dict[int, tuple[int, int, list]] = {}
    for s, e, sim in lists[0]:
        prev = states.get(e)
        if prev is None or (sim, -s) > (prev[0], -prev[1]):
            states[e] = (sim, s, [(s, e, sim)])
    window = bound * 8
    for found, gap in zip(lists[1:], gaps):
        nxt: dict[int, tuple[int, int, list]] = {}
        for s, e, sim in found:
            chosen = None
            if gap:
                for pe, (psim, pstart, spans) in states.items():
                    if pe > s or s - pe > window or (s > pe and gap_cost(norm[pe:s]) > bound):
                        continue
                    if negations is not None and negations.cue_between(pe, s):
                        continue
                    cand = (min(psim, sim), -pstart)
                    if chosen is None or cand > chosen[0]:
                        chosen = (cand, spans)
            else:
                # Touching: only the ways that end at ``s``, or one space before it, can go on
                # (two lookups, not a pass over every way).
                here = states.get(s)
                if here is not None:
                    chosen = ((min(here[0], sim), -here[1]), here[2])
                if s > 0 and norm[s - 1] == " ":
                    there = states.get(s - 1)
                    if there is not None:
                        cand = (min(there[0], sim), -there[1])
                        if chosen is None or cand > chosen[0] or (cand == chosen[0] and _first_of(states, s - 1, s)):
                            chosen = (cand, there[2])
            if chosen is not None:
                (csim, neg_start), spans = chosen
                prev = nxt.get(e)
                if prev is None or (csim, neg_start) > (prev[0], -prev[1]):
                    nxt[e] = (csim, -neg_start, spans + [(s, e, sim)])
        if not nxt:
            return None
        states = nxt
    sim, start, spans = max(states.values(), key=lambda st: (st[0], -st[1], st[2][-1][1] - st[1]))
    return sim, spans


def _first_of(states: dict, a: int, b: int) -> bool:
    """Whether key ``a`` comes before key ``b`` in ``states`` (a tie goes to the way found first)."""
    return next(k for k in states if k == a or k == b) == a


def short_occurrences(norm: str, keys: tuple[str, ...], cap: int) -> list[tuple[int, int, int]]:
    """Occurrences (start, end, 100) of the keys in ``norm``, at most ``cap``,
    as a regular expression of the keys, longest first, finds them: from the
    left, not overlapping; a key that starts (ends) with a Latin letter or
    digit only where no such character is before (after) it."""
    expression = _keys_expression(keys)
    for key in keys:
        if key in norm:
            break
    else:  # none of them anywhere (the usual case): a substring search each, not the expression
        return []
    return [(m.start(), m.end(), 100) for m in islice(expression.finditer(norm), max(0, cap))]


@lru_cache(maxsize=4096)
def _keys_expression(keys: tuple[str, ...]) -> re.Pattern:
    """Each key, longest first; a Latin edge must not touch another Latin
    character. The test before a key is written as a lookbehind after it
    ("no Latin character, then the key"): every alternative then starts with
    its key's first character, and the engine skips, at C speed, to where
    one of those is (a lookbehind first made it try every position: the
    scan for a one-letter key took a long English text's full length)."""
    if not keys or not all(keys):
        raise ValueError("short_occurrences: keys must be non-empty strings")
    spaced = f"[{SPACED}]"
    parts = [re.escape(k) + f"(?<!{spaced}{re.escape(k)})" * (k[0] in SPACED_CHARS)
             + f"(?!{spaced})" * (k[-1] in SPACED_CHARS)
             for k in sorted(keys, key=len, reverse=True)]
    return re.compile("|".join(parts))


def best_hits(occ: "Occurrences", plan: dict[int, tuple], patterns: tuple[tuple, ...],
              always: tuple[int, ...], entities_of: Callable[[int], list], negations: Callable[[], "Negations"],
              demand: tuple, norm: str, cap: int) -> dict[int, tuple]:
    """Each group's best match in ``norm``: group id -> (rank, pattern
    source, where), rank = (similarity, -start, length, -order) (more
    similar, earlier, longer, the pattern listed first: a total order, so
    the result does not depend on the order things are tried in), ``where``
    None for a phrase, else (labels, spans) of the elements.

    ``occ``: the scanned classes found (``scan_matches``). ``plan[class]`` =
    (label, consumers, pattern ids): ``label`` names the class in evidence
    (None: a literal); ``consumers`` (group, order, source) are the groups
    with the class as a phrase; the patterns are those it triggers.
    ``patterns[i]`` = (group, order, source, classes, labels, gaps, gap
    bound, scanned classes); ``always`` the patterns of classes found on
    demand only. ``demand[class]`` is None for a scanned class, else (short
    keys, has entities): found on demand, at most ``cap`` short
    occurrences (``short_occurrences``), then ``entities_of(class)``."""
    best: dict[int, tuple] = {}
    get = best.get
    memo: dict[int, list] = {}  # classes found on demand
    for cid in occ.present:
        entry = plan.get(cid)
        if entry is None:
            continue
        label, consumers, pids = entry
        if consumers:
            s, e, sim = max(occ[cid], key=_occurrence_rank)
            where = None if label is None else ((label,), ((s, e, sim),))
            for gid, order, source in consumers:
                rank = (sim, -s, e - s, -order)
                prev = get(gid)
                if prev is None or rank > prev[0]:
                    best[gid] = (rank, source, where)
        for pid in pids:
            _try_pattern(patterns[pid], occ, memo, entities_of, negations, demand, norm, cap, best)
    for pid in always:
        _try_pattern(patterns[pid], occ, memo, entities_of, negations, demand, norm, cap, best)
    return best


def group_best(gid: int, singles: tuple, pids: tuple, trigger: tuple, occ: "Occurrences", patterns: tuple, memo: dict,
               entities_of: Callable[[int], list], negations: Callable[[], "Negations"], demand: tuple, norm: str,
               cap: int, best: dict) -> tuple | None:
    """Group ``gid``'s best match, exactly as ``best_hits`` finds it (the same
    candidates, compared by the same total order), without matching the
    other groups: its phrases ``singles`` = (class, order, source, label)
    and its patterns ``pids``, each tried when its trigger class
    (``trigger[pid]``, -1: a pattern of classes found on demand) occurs.
    ``memo`` holds the classes found on demand and ``best`` the groups'
    best matches so far, both shared by the groups of one message."""
    found_best = None
    present = occ.present
    for cid, order, source, label in singles:
        if cid in present:
            found = occ[cid]
            s, e, sim = max(found, key=_occurrence_rank)
            rank = (sim, -s, e - s, -order)
            if found_best is None or rank > found_best[0]:
                found_best = (rank, source, None if label is None else ((label,), ((s, e, sim),)))
    if found_best is not None:
        best[gid] = found_best
    for pid in pids:
        t = trigger[pid]
        if t < 0 or t in present:
            _try_pattern(patterns[pid], occ, memo, entities_of, negations, demand, norm, cap, best)
    return best.get(gid)


def _occurrence_rank(o: tuple[int, int, int]) -> tuple[int, int, int]:
    """The best occurrence of a class: most similar, earliest, longest."""
    return o[2], -o[0], o[1] - o[0]


def on_demand(cid: int, memo: dict, entities_of: Callable[[int], list], demand: tuple, norm: str,
              cap: int) -> list:
    """The occurrences of class ``cid`` found on demand (``demand[cid]`` =
    (short keys, has entities)): at most ``cap`` short occurrences, then its
    entities; once per message (``memo``), for chaining and for ranking's
    candidates alike."""
    found = memo.get(cid)
    if found is None:
        keys, has_entities = demand[cid]
        found = short_occurrences(norm, keys, cap) if keys else []
        if has_entities:
            found += entities_of(cid)
        memo[cid] = found
    return found


def _try_pattern(p: tuple, occ: "Occurrences", memo: dict, entities_of: Callable[[int], list],
                 negations: Callable[[], "Negations"], demand: tuple, norm: str, cap: int, best: dict) -> None:
    """Chain a pattern's elements and keep the match if it is its group's
    best. Scanned classes are checked first: a missing one ends the attempt
    before any class found on demand is looked for. A negatable group's
    pattern matches only where no negation governs it (:mod:`.negation`):
    its first element outside every scope, no cue in its gaps."""
    gid, order, source, classes, labels, gaps, bound, scanned, negatable = p
    present = occ.present
    for cid in scanned:
        if cid not in present:
            return
    lists = []
    for cid in classes:
        found = occ[cid]
        if demand[cid] is not None:
            # A choice of words and an entity, (钱|{amount}): the scan found
            # the words, the entity is looked for here; either may be the one
            # in the right place, so both are candidates.
            extra = on_demand(cid, memo, entities_of, demand, norm, cap)
            found = found + extra if found and extra else found or extra
        if not found:
            return
        lists.append(found)
    negated = negations(negatable == ONLY_AS_DONE) if negatable else None
    if negated:
        lists[0] = [o for o in lists[0] if not negated.governs(o[0])]
        if not lists[0]:
            return
    # A cue in a gap breaks a request's match ("验证码…请勿…告诉"), not a done check's: "I rang
    # her on the number from our contract, not the email's" is a check.
    match = chain(norm, lists, gaps, bound, negated if negated and negatable != ONLY_AS_DONE else None)
    if match is not None:
        sim, spans = match
        rank = (sim, -spans[0][0], spans[-1][1] - spans[0][0], -order)
        prev = best.get(gid)
        if prev is None or rank > prev[0]:
            best[gid] = (rank, source, (labels, spans))
