"""The matcher's inner loops (bot/detect/inner_loops.py) against brute-force
searches that read every position of the text (hypothesis).

one_edit, gap_cost, chaining and the whole scan are held to brute force in
tests/test_matcher_oracle.py; these are the two loops it does not reach on
their own: the Aho-Corasick automaton (also as detection workers receive it,
pickled), the scan for single-character keys, and the index that picks the
typo-tolerant keys an anchor can lead to.
"""

import pickle
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.detect.chaining import short_occurrences
from callguard.detect.inner_loops import SPACED, Automaton, anchor_candidates, anchor_index, one_edit, scan_matches

SPACED_RE = re.compile(f"[{SPACED}]")


def every_occurrence(words: list[str], payloads: list[object], text: str) -> list[tuple[int, object]]:
    """(end, payload) of every word at every position, by end and at one end
    the longest first; a word given twice keeps its last payload."""
    last = dict(zip(words, payloads))
    found = [(s + len(w) - 1, w) for w in last for s in range(len(text) - len(w) + 1) if text.startswith(w, s)]
    return [(end, last[w]) for end, w in sorted(found, key=lambda f: (f[0], -len(f[1])))]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab通信 \U00020000", min_size=1, max_size=5), st.integers()), max_size=12),
       st.text(alphabet="ab通信 x\U00020000", max_size=40))
def test_the_automaton_finds_every_word_at_every_position(entries, text):
    words, payloads = [w for w, _ in entries], [(p,) for _, p in entries]
    automaton = Automaton(words, payloads)
    assert len(automaton) == len(set(words))
    assert automaton.iter(text) == every_occurrence(words, payloads, text)
    again = pickle.loads(pickle.dumps(automaton))  # how a compiled rule set reaches a detection worker
    assert len(again) == len(automaton) and again.iter(text) == automaton.iter(text)


def leftmost_longest(norm: str, keys: tuple[str, ...], cap: int) -> list[tuple[int, int, int]]:
    """From the left, at each position the longest key that fits there (a
    Latin letter or digit at a key's edge must not touch another), then on
    after it: no overlaps, at most ``cap``."""
    def fits(key: str, start: int) -> bool:
        end = start + len(key)
        return (norm.startswith(key, start)
                and not (SPACED_RE.match(key[0]) and start > 0 and SPACED_RE.match(norm[start - 1]))
                and not (SPACED_RE.match(key[-1]) and end < len(norm) and SPACED_RE.match(norm[end])))

    out, pos = [], 0
    while pos < len(norm) and len(out) < cap:
        key = next((k for k in sorted(keys, key=len, reverse=True) if fits(k, pos)), None)
        if key is None:
            pos += 1
        else:
            out.append((pos, pos + len(key), 100))
            pos += len(key)
    return out


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["的", "我", "a", "ab", "通", "b", "1", "我的"]), min_size=1, max_size=4, unique=True),
       st.text(alphabet="的我ab通 1x", max_size=40), st.integers(0, 30))
def test_short_occurrences_are_the_leftmost_longest_keys(keys, text, cap):
    keys = tuple(keys)
    assert short_occurrences(text, keys, cap) == leftmost_longest(text, keys, cap)


@pytest.mark.parametrize("call", [
    lambda: Automaton(["a", ""], [1, 2]),  # an empty word
    lambda: Automaton(["a", 5], [1, 2]),
    lambda: Automaton(["a"], [1, 2]),  # one payload too many
    lambda: short_occurrences("ab", ("",), 3),
    lambda: short_occurrences("ab", (), 3),
])
def test_malformed_input_raises(call):
    with pytest.raises((TypeError, ValueError)):
        call()


def edited(other: str, where: int, kind: str, char: str) -> str:
    """``other`` with one edit at ``where``: a wrong, missing or extra character."""
    where = min(where, len(other) - 1)
    if kind == "sub":
        return other[:where] + char + other[where + 1:]
    if kind == "del":
        return other[:where] + other[where + 1:]
    return other[:where] + char + other[where:]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.text(alphabet="abcdef 通信", min_size=2, max_size=8), min_size=1, max_size=8),
       st.integers(0, 7), st.integers(0, 7), st.sampled_from(["sub", "del", "ins"]), st.sampled_from("abx通 "),
       st.text(alphabet="ab c通x", max_size=4))
def test_the_anchor_index_offers_every_key_whose_other_half_is_one_edit_away(others, pick, where, kind, char, rest):
    index = anchor_index(enumerate(others))
    for text in (edited(others[pick % len(others)], where, kind, char) + rest, rest):
        offered = set(anchor_candidates(index, text))
        for fid, other in enumerate(others):
            if one_edit(other, text):
                assert (fid, other) in offered
        assert offered <= set(enumerate(others))


def test_a_repeated_anchor_is_checked_once_and_proposes_every_place():
    # "acc" is the left half of the key "accbx" (other half "bx"); the text has
    # "accbbx" twice: "bbx" starts one edit (an extra "b") from "bx".
    index = anchor_index([(0, "bx")])
    payload = (3, -1, index, ())
    padded = " accbbx accbbx "
    matches = [(3, payload), (10, payload)]
    proposed: set = set()
    scan_matches(matches, padded, {}, proposed, 24)
    assert proposed == {(0, 1), (0, 8)}


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="abc 通信", min_size=2, max_size=6), min_size=1, max_size=6),
       st.lists(st.text(alphabet="abc 通信", min_size=2, max_size=6), min_size=1, max_size=6),
       st.text(alphabet="abcx 通信", max_size=30))
def test_an_anchor_of_few_keys_proposes_what_the_index_proposes(lefts, rights, text):
    """``scan_matches`` compares the keys of an anchor of few keys without the
    index and the memo: the same proposals as through them."""
    anchor = "ab"
    left, right = anchor_index(enumerate(lefts)), anchor_index(enumerate(rights))
    padded = " " + text + " "
    matches = [(s + 1, None) for s in range(len(padded)) if padded.startswith(anchor, s)]
    proposed = {}
    for few in (True, False):
        lt, rt = (left, right) if few else (left[:5] + (None,), right[:5] + (None,))
        assert (lt[5] is not None) == few or len(lefts) > 4
        out: set = set()
        scan_matches([(end, (2, -1, lt, rt)) for end, _ in matches], padded, {}, out, 24)
        proposed[few] = out
    assert proposed[True] == proposed[False]
