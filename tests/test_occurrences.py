"""The occurrences a scan found, per element class, put together only when a
class is read (bot/detect/occurrences.py), against recording every
occurrence in every class as the automaton finds it (hypothesis): the same
lists, in the same order, with the same cap."""

from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.detect.inner_loops import Automaton, scan_matches
from callguard.detect.occurrences import Occurrences, WordTables

CLASSES = 5


def tables(entries: list[tuple[str, tuple[int, ...], int, int]]) -> tuple[Automaton, WordTables, dict]:
    """An automaton of words (each with its classes and padding) and the tables Occurrences reads."""
    words = {}
    for word, classes, left, right in entries:
        words.setdefault(word, (tuple(dict.fromkeys(classes)), left, right))
    names = list(words)
    of_class = [tuple(w for w, name in enumerate(names) if c in words[name][0]) for c in range(CLASSES)]
    table = WordTables(tuple(words[n][0] for n in names), tuple(map(len, names)), tuple(words[n][1] for n in names),
                       tuple(words[n][2] for n in names), tuple(of_class))
    automaton = Automaton(names, [(len(n), w, (), ()) for w, n in enumerate(names)])
    return automaton, table, words


def recorded_per_class(automaton: Automaton, words: dict, text: str, cap: int, extra: list) -> dict:
    """Every occurrence in every class of its word, in the order found, at most ``cap``; then the extra ones."""
    occ: dict[int, list] = {}
    names = list(words)
    for end, (length, wid, _, _) in automaton.iter(text):
        classes, left, right = words[names[wid]]
        hit = (end - length + left, end - right, 100)
        for cid in classes:
            found = occ.setdefault(cid, [])
            if len(found) < cap:
                found.append(hit)
    for cid, hit in extra:
        found = occ.setdefault(cid, [])
        if len(found) < cap:
            found.append(hit)
    return occ


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab通 ", min_size=1, max_size=4),
                          st.lists(st.integers(0, CLASSES - 1), min_size=1, max_size=3),
                          st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=8),
       st.text(alphabet="ab通 x", max_size=40), st.integers(1, 6),
       st.lists(st.tuples(st.integers(0, CLASSES - 1), st.tuples(st.integers(0, 9), st.integers(10, 20),
                                                                 st.integers(80, 99))), max_size=8))
def test_a_class_reads_what_recording_every_class_gives(entries, text, cap, extra):
    automaton, table, words = tables(entries)
    ends: dict = {}
    scan_matches(automaton._automaton.iter(text), text, ends, set(), cap)
    want = recorded_per_class(automaton, words, text, cap, extra)
    for lazy in (False, True):  # ``present`` a set, and worked out per class asked
        occ = Occurrences(ends, table, cap, lazy)
        for cid, hit in extra:
            occ.add(cid, hit)
        assert [cid in occ.present for cid in range(CLASSES)] == [cid in want for cid in range(CLASSES)]
        assert occ.present == set(want)
        for cid in range(CLASSES):
            assert occ[cid] == want.get(cid, [])
