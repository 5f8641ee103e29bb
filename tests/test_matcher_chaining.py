"""Chaining's fast paths (bot/detect/chaining.py) against the plain loops they
replaced, result for result: the same best way, the same spans, the same
tie-breaks (the way found first), so verdicts and evidence stay identical.

tests/test_matcher_oracle.py holds chaining to trying every combination of
occurrences (whether a pattern matches); this holds *which* match it picks.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.detect.chaining import chain, gap_cost
from callguard.detect.chaining import gap_cost_by_loop as gap_cost_reference


def chain_reference(norm, lists, gaps, bound):
    """Every way that ends before an occurrence is compared with it (the loop before the fast paths)."""
    states = {}
    for s, e, sim in lists[0]:
        prev = states.get(e)
        if prev is None or (sim, -s) > (prev[0], -prev[1]):
            states[e] = (sim, s, [(s, e, sim)])
    for found, gap in zip(lists[1:], gaps):
        nxt = {}
        for s, e, sim in found:
            chosen = None
            for pe, (psim, pstart, spans) in states.items():
                if pe > s:
                    continue
                if gap:
                    if s - pe > bound * 8 or (s > pe and gap_cost_reference(norm[pe:s]) > bound):
                        continue
                elif not (s == pe or (s == pe + 1 and norm[pe] == " ")):
                    continue
                cand = (min(psim, sim), -pstart)
                if chosen is None or cand > chosen[0]:
                    chosen = (cand, spans)
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


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab1 通信é\u0250x", max_size=40))
def test_gap_cost_is_the_character_loop(region):
    assert gap_cost(region) == gap_cost_reference(region)


NORM = "ab cd 通信 ef管理局 gh ij 通 kl"


def occurrence_lists(draw_lists):
    """Occurrences anywhere in NORM, few distinct ends and similarities, so ties are common."""
    spans = st.tuples(st.integers(0, len(NORM) - 1), st.integers(1, 3), st.sampled_from([90, 95, 100]))
    return st.lists(st.lists(spans, min_size=1, max_size=8), min_size=2, max_size=4)


@settings(max_examples=1500, deadline=None)
@given(occurrence_lists(None), st.lists(st.booleans(), min_size=3, max_size=3), st.integers(0, 4))
def test_chain_picks_what_the_plain_loop_picks(raw, gaps, bound):
    lists = [[(s, min(len(NORM), s + length), sim) for s, length, sim in found] for found in raw]
    gaps = tuple(gaps[: len(lists) - 1])
    assert chain(NORM, lists, gaps, bound) == chain_reference(NORM, lists, gaps, bound)


def test_a_tie_between_touching_ways_goes_to_the_one_found_first():
    # "ab cd": "cd" at 3 touches a way ending at 3 and, across the space, one ending at 2;
    # both as similar and starting at 0: the one found first wins, in both orders.
    norm = "ab cd"
    for first in ([(0, 3, 100), (0, 2, 100)], [(0, 2, 100), (0, 3, 100)]):
        got = chain(norm, [first, [(3, 5, 100)]], (False,), 0)
        assert got == chain_reference(norm, [first, [(3, 5, 100)]], (False,), 0)
        assert got[1][0] == first[0]
