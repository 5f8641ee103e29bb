"""The fast matcher finds exactly what a brute-force search finds (hypothesis).

The matcher only looks where an anchor (half of a phrase) occurs and compares
the text next to it with the phrase's other half; this proves that shortcut
loses nothing, for the scan loop in C and for the same loop in Python. The reference below reads every window of the text: a phrase's best
occurrence is the most similar one (exact 100, pinyin spelling 95, else one
typo: a wrong, missing or extra character), then the earliest, then the
longest. A small alphabet makes near misses, typos and overlaps common.
"""

from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import callguard.detect.matcher as matcher_module
from callguard.detect.matcher import MIN_PINYIN_ALIAS, PINYIN_SIMILARITY, Matcher, align, one_edit, tolerates_typo
from callguard.detect.normalize import normalize, pinyin_alias

from tests.factories import group, rule, ruleset

ALPHABET = "abcd通信管理局"

phrases = st.text(alphabet=ALPHABET, min_size=1, max_size=9)
texts = st.text(alphabet=ALPHABET + "xy", max_size=60)


def _rank(hit):
    sim, start, end = hit
    return sim, -start, end - start


def reference(phrase: str, fuzzy: bool, norm: str):
    key = normalize(phrase)
    found = []
    if key and key in norm:
        found.append((100, norm.index(key), norm.index(key) + len(key)))
    alias = pinyin_alias(key) if len(key) >= 3 else ""
    if len(alias) >= MIN_PINYIN_ALIAS and alias in norm:
        found.append((PINYIN_SIMILARITY, norm.index(alias), norm.index(alias) + len(alias)))
    if fuzzy and key and tolerates_typo(key):
        hit = align(key, norm, 1, range(len(norm) + 1))
        if hit:
            found.append(hit)
    return max(found, key=_rank) if found else None


NAMES = ("_scan_loop", "_best_loop", "_fold", "_top")
LOOPS = {"c": (matcher_module.scan_c, matcher_module.best_hits_c, matcher_module.fold_c, matcher_module.top_c),
         "python": (matcher_module.scan_python, matcher_module.best_hits_python, matcher_module.fold_python,
                    matcher_module.top_python)}


@contextmanager
def scan_loop(name: str):
    """Compile, scan and score with one implementation of the inner loops."""
    saved = [getattr(matcher_module, n) for n in NAMES]
    for n, function in zip(NAMES, LOOPS[name]):
        setattr(matcher_module, n, function)
    try:
        yield
    finally:
        for n, function in zip(NAMES, saved):
            setattr(matcher_module, n, function)


def test_the_c_loops_are_built():
    """``pip install`` builds bot/detect/_scan.c; without it every check is
    several times slower (the Python loops), so a missing build must show."""
    assert None not in LOOPS["c"]
    assert tuple(getattr(matcher_module, n) for n in NAMES) == LOOPS["c"]


@pytest.mark.parametrize("loop", LOOPS)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(phrases, st.booleans()), min_size=1, max_size=12), texts)
def test_scan_equals_brute_force(loop, items, text):
    rules = [rule(f"r{i}", group("g", 10, phrase, fuzzy=fuzzy)) for i, (phrase, fuzzy) in enumerate(items)]
    norm = normalize(text)
    with scan_loop(loop):
        got = {hit.rule: (hit.similarity, hit.start, hit.end) for hit in Matcher(ruleset(*rules)).scan(norm)}
    want = {}
    for i, (phrase, fuzzy) in enumerate(items):
        best = reference(phrase, fuzzy, norm)
        if best:
            want[i] = best
    assert got == want


@pytest.mark.parametrize("loop", LOOPS)
@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="通信管理局安全账户", min_size=5, max_size=8), st.integers(0, 7), st.sampled_from("xy通管局"),
       st.sampled_from(["sub", "del", "ins"]), st.text(alphabet="xy管理", max_size=10), st.text(alphabet="xy理局", max_size=10))
def test_any_single_typo_is_found(loop, phrase, where, char, kind, before, after):
    where %= len(phrase)
    typo = {"sub": phrase[:where] + char + phrase[where + 1:], "del": phrase[:where] + phrase[where + 1:],
            "ins": phrase[:where] + char + phrase[where:]}[kind]
    with scan_loop(loop):
        assert Matcher(ruleset(rule("r", group("g", 10, phrase)))).scan(normalize(before + typo + after))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(phrases, st.booleans()), min_size=1, max_size=12), st.text(alphabet=ALPHABET + "xy", max_size=200))
def test_the_c_loop_proposes_what_the_python_loop_proposes(items, text):
    """Step for step the same: every exact hit, exact key and proposed window."""
    rules = ruleset(*(rule(f"r{i}", group("g", 10, phrase, fuzzy=fuzzy)) for i, (phrase, fuzzy) in enumerate(items)))
    norm = normalize(text)
    out = {}
    for name in LOOPS:
        with scan_loop(name):
            layer = Matcher(rules)._layers[0][0]
        found, exact_keys, proposed = {}, set(), []
        LOOPS[name][0](layer._automaton.iter(norm) if len(layer._automaton) else (), norm, found, exact_keys,
                       proposed)
        out[name] = found, exact_keys, proposed
    assert out["c"] == out["python"]


def levenshtein_one(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1 or any(
        (a[:i] + a[i + 1:] == b) or (b[:i] + b[i + 1:] == a) for i in range(max(len(a), len(b))))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abc", min_size=1, max_size=6), st.text(alphabet="abc", max_size=9))
def test_one_edit_is_a_prefix_one_edit_away(other, text):
    want = other not in (text[:len(other)],) and any(
        levenshtein_one(other, text[:m]) for m in range(max(0, len(other) - 1), len(other) + 2) if m <= len(text))
    assert one_edit(other, text) == want


# -- reusing a compiled rule set on reload


words = st.text(alphabet=ALPHABET, min_size=2, max_size=8)
rule_specs = st.lists(st.tuples(st.sampled_from("pqrstu"), st.lists(words, min_size=1, max_size=4)),
                      min_size=1, max_size=6, unique_by=lambda spec: spec[0])


def build(specs):
    return ruleset(*(rule(rid, group("g", 10 + len(rid), *phrases)) for rid, phrases in specs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, rule_specs, rule_specs, st.lists(texts, min_size=1, max_size=5))
def test_reusing_the_previous_matcher_gives_the_full_compile_s_hits(first, second, third, samples):
    """Rules kept, changed, added, removed and reordered, over two reloads in a
    row: the layered matcher's hits equal a fresh compile's (as sets: a
    layered scan lists the rules of each layer in turn)."""
    import callguard.detect.matcher as matcher_module

    previous = Matcher(build(first))
    for specs in (second, third):
        new = build(specs)
        old_share = matcher_module.LAYER_MAX_SHARE
        matcher_module.LAYER_MAX_SHARE = 1.0  # always reuse, however much changed
        try:
            reused = Matcher(new, previous)
        finally:
            matcher_module.LAYER_MAX_SHARE = old_share
        fresh = Matcher(new)
        for text in samples:
            norm = normalize(text)
            assert set(reused.scan(norm)) == set(fresh.scan(norm))
            assert reused.score_normalized(norm) == fresh.score_normalized(norm)
        previous = reused


def test_a_small_edit_compiles_only_the_changed_rule():
    rules = [rule(f"r{i}", group("g", 10, f"通信管理局{i}", f"安全账户{i}")) for i in range(40)]
    old = Matcher(ruleset(*rules))
    rules[7] = rule("r7", group("g", 10, "冻结你的号码"))
    new = Matcher(ruleset(*rules), old)
    assert new.layers == 2
    assert [h.rule for h in new.scan(normalize("他说要冻结你的号码"))] == [7]

    def exact(text):
        return [h.rule for h in new.scan(normalize(text)) if h.similarity == 100]

    assert exact("安全账户7") == []  # the old phrase of r7 is gone
    assert exact("安全账户8") == [8]
    rules[1:3] = []  # a larger change compiles from scratch
    rules += [rule(f"n{i}", group("g", 10, f"新规则{i}")) for i in range(5)]
    assert Matcher(ruleset(*rules), new).layers == 1


def levenshtein(a: str, b: str) -> int:
    """Textbook dynamic programming, independent of rapidfuzz."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abc通信", min_size=1, max_size=7), st.text(alphabet="abc通信x", max_size=20))
def test_align_is_the_best_window_within_one_edit(key, norm):
    """The reference above leans on ``align``; this checks ``align`` itself
    against a plain Levenshtein distance over every window."""
    windows = [(s, e) for s in range(len(norm) + 1) for e in range(s, len(norm) + 1)
               if abs((e - s) - len(key)) <= 1 and e > s and levenshtein(key, norm[s:e]) <= 1]
    got = align(key, norm, 1, range(len(norm) + 1))
    if not windows:
        assert got is None
    else:
        assert got is not None and (got[1], got[2]) in windows
        assert levenshtein(key, norm[got[1]:got[2]]) <= 1
        # most similar first (fewest differing characters relative to length), then earliest, then longest
        best = max(windows, key=lambda w: (int(100 * (1 - levenshtein_indel(key, norm[w[0]:w[1]])
                                                      / (len(key) + w[1] - w[0]))), -w[0], w[1] - w[0]))
        assert (got[1], got[2]) == best


def levenshtein_indel(a: str, b: str) -> int:
    """Insertions and deletions only (what rapidfuzz's ratio normalises)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev if ca == cb else prev + 2)
    return row[-1]


# -- a verdict from the two best rules equals the verdict from every rule's score


group_specs = st.tuples(st.sampled_from("abc"), st.integers(-30, 80), st.lists(words, min_size=1, max_size=3))
verdict_rules = st.lists(
    st.tuples(st.lists(group_specs, min_size=1, max_size=3, unique_by=lambda g: g[0]),
              st.sampled_from(["impersonate_authority", "phishing", "telecom_complaint"]),
              st.sampled_from([(), ("a",), ("b", "c")])),
    min_size=1, max_size=8)


@pytest.mark.parametrize("loop", LOOPS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(verdict_rules, st.lists(texts, min_size=1, max_size=4))
def test_check_gives_the_verdict_that_scoring_every_rule_gives(loop, specs, samples):
    """``Detector.check`` scores only the best scam and non-scam rules;
    ``explain`` scores all of them. Ties, negative weights, unmet ``requires``
    and non-scam categories included, the verdicts are the same."""
    from callguard.detect import Detector

    rules = ruleset(*(rule(f"r{i}", *(group(name, weight, *phrases) for name, weight, phrases in groups),
                           category=category, requires=requires)
                      for i, (groups, category, requires) in enumerate(specs)))
    kind = tuple(rules.categories[r.category].scam for r in rules.rules)
    with scan_loop(loop):
        detector = Detector(rules)
        for text in samples:
            scores = detector.matcher.score_normalized(normalize(text))
            firsts = (next((s for s in scores if kind[s.hits[0].rule]), None),
                      next((s for s in scores if not kind[s.hits[0].rule]), None))
            assert detector.matcher.best_scores(normalize(text), kind) == firsts
            assert detector.check(text) == detector.explain(text).verdict


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(verdict_rules, texts)
def test_the_c_best_hits_equals_the_python_one(specs, text):
    rules = ruleset(*(rule(f"r{i}", *(group(name, weight, *phrases) for name, weight, phrases in groups),
                           requires=requires) for i, (groups, _, requires) in enumerate(specs)))
    matcher = Matcher(rules)
    out = {}
    for name in LOOPS:
        best, raw, met = {}, {}, set()
        with scan_loop(name):
            best.update(matcher._best_hits(normalize(text), raw, met))
        out[name] = best, raw, met
    assert out["c"] == out["python"]


def test_the_c_loops_refuse_malformed_tables_with_an_exception():
    """The tables come from the matcher, but a mistake there must raise, not
    crash the process."""
    from array import array

    from callguard.detect import _scan

    with pytest.raises(TypeError):
        _scan.scan([(1, (1, (), -1, b"", "not bytes"))], "ab", {}, set(), [])
    with pytest.raises(ValueError):  # a record claims 5 characters and has none
        _scan.scan([(1, (1, (), -1, array("i", [1, 5]).tobytes(), b""))], "ab", {}, set(), [])
    with pytest.raises(TypeError):
        _scan.scan([(1, (1,))], "ab", {}, set(), [])
    with pytest.raises(TypeError):
        _scan.best_hits({}, array("i"), array("h"), 0, 0, array("i"), bytearray(), {}, None, None)
    with pytest.raises(IndexError):
        _scan.best_hits({5: (100, 0, 3)}, array("i"), array("i"), 0, 0, array("i"), bytearray(), {}, None, None)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.integers(0, 19), st.integers(-20_000, 20_000) | st.sampled_from([50, 150, 250, 9_950, -50])),
       st.sets(st.integers(0, 19)), st.lists(st.booleans(), min_size=20, max_size=20),
       st.lists(st.booleans(), min_size=20, max_size=20))
def test_the_c_top_equals_the_python_one(raw, met, free, kind):
    """Half-way sums (250 -> 2, 350 -> 4: Python rounds half to even), clamping,
    ties to the lower rule index, ``requires``."""
    args = raw, met, tuple(free), tuple(kind)
    assert matcher_module.top_c(*args) == matcher_module.top_python(*args)


hits = st.tuples(st.integers(80, 100), st.integers(0, 9), st.integers(0, 9)).map(lambda t: (t[0], t[1], t[1] + t[2]))


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.integers(0, 9), hits), st.lists(st.integers(0, 9), max_size=6), hits)
def test_the_c_fold_equals_the_python_one(found, entries, hit):
    ours, theirs = dict(found), dict(found)
    matcher_module.fold_c(ours, entries, hit)
    matcher_module.fold_python(theirs, entries, hit)
    assert ours == theirs
