"""The fast matcher finds exactly what a brute-force search finds (hypothesis).

The matcher only looks where an anchor (half of a key) occurs and compares the
text next to it with the key's other half, and chains a pattern's elements
only from occurrences the scan found; these tests prove that the shortcuts
lose nothing. The references read every window of the text. A small alphabet
makes near misses, typos, overlaps and word boundaries common.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import callguard.detect.matcher as matcher_module
import callguard.detect.typos as typos_module
from callguard.detect.matcher import MAX_OCCURRENCES, Matcher, align, gap_cost, one_edit, tolerates_typo
from callguard.detect.typos import _short_words_intact
from callguard.detect.normalize import SPACED, normalize
from tests.factories import group, pgroup, rule, ruleset

ALPHABET = "abcd 通信管理局"
SPACED_CHARS = set(c for c in map(chr, range(0x250)) if __import__("re").match(f"[{SPACED}]", c))

phrases = st.text(alphabet=ALPHABET, min_size=1, max_size=9)
texts = st.text(alphabet=ALPHABET + "xy", max_size=60)


def _rank(hit):
    sim, start, end = hit
    return sim, -start, end - start


def bounded(key, norm, s, e):
    """Word boundaries on each side of norm[s:e] where ``key`` starts or ends with a Latin character."""
    return ((key[0] not in SPACED_CHARS or s == 0 or norm[s - 1] not in SPACED_CHARS)
            and (key[-1] not in SPACED_CHARS or e >= len(norm) or norm[e] not in SPACED_CHARS))


def occurrences(key, norm):
    """Every exact occurrence of ``key`` that meets its word boundaries."""
    return [(100, s, s + len(key)) for s in range(len(norm) - len(key) + 1)
            if norm.startswith(key, s) and bounded(key, norm, s, s + len(key))]


def reference(phrase: str, fuzzy: bool, norm: str):
    """A phrase's best occurrence: exact, else one typo (any window)."""
    key = normalize(phrase)
    if not key:
        return None
    exact = occurrences(key, norm)
    if exact:
        return max(exact, key=_rank)
    if fuzzy and tolerates_typo(key):
        def ok(w, a, b):  # boundaries, and in an English phrase the typo falls in a long word
            short_intact = key[0] not in SPACED_CHARS or _short_words_intact(key, w[a:b])
            return bounded(key, w, a, b) and short_intact
        return align(key, norm, 1, range(len(norm) + 1), ok)
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(phrases, st.booleans()), min_size=1, max_size=12), texts)
def test_phrases_are_found_as_brute_force_finds_them(items, text):
    items = [(p, f) for p, f in items if normalize(p)]
    if not items:
        return
    rules = [rule(f"r{i}", group("g", 10, phrase, fuzzy=fuzzy)) for i, (phrase, fuzzy) in enumerate(items)]
    norm = normalize(text)
    got = {hit.rule: (hit.similarity, hit.start, hit.end) for hit in Matcher(ruleset(*rules)).scan(norm)}
    want = {}
    for i, (phrase, fuzzy) in enumerate(items):
        best = reference(phrase, fuzzy, norm)
        if best:
            want[i] = best
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="通信管理局安全账户", min_size=5, max_size=8), st.integers(0, 7), st.sampled_from("通管局账"),
       st.sampled_from(["sub", "del", "ins"]), st.text(alphabet="xy管理", max_size=10), st.text(alphabet="xy理局", max_size=10))
def test_any_single_typo_is_found(phrase, where, char, kind, before, after):
    where %= len(phrase)
    typo = {"sub": phrase[:where] + char + phrase[where + 1:], "del": phrase[:where] + phrase[where + 1:],
            "ins": phrase[:where] + char + phrase[where:]}[kind]
    assert Matcher(ruleset(rule("r", group("g", 10, phrase)))).scan(normalize(before + typo + after))


def levenshtein_one(a: str, b: str) -> bool:
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b)) == 1 or any(
        (a[:i] + a[i + 1:] == b) or (b[:i] + b[i + 1:] == a) for i in range(max(len(a), len(b))))


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="abc", min_size=1, max_size=6), st.text(alphabet="abc", max_size=9))
def test_one_edit_is_a_prefix_one_edit_away(other, text):
    want = other not in (text[:len(other)],) and any(
        levenshtein_one(other, text[:m]) for m in range(max(0, len(other) - 1), len(other) + 2) if m <= len(text))
    assert one_edit(other, text) == want


# -- patterns: chaining elements equals trying every combination of occurrences

KEYS = ["ab", "cd", "通信", "管理", "局", "a"]


def chain_reference(norm, keys, gaps, bound):
    """Whether keys occur in order, touching (one space apart between two
    Latin words) or within a gap of at most ``bound``: every combination."""
    def extend(i, prev_end):
        if i == len(keys):
            return True
        for _, s, e in occurrences(keys[i], norm):
            if i == 0:
                ok = True
            elif gaps[i - 1]:
                ok = s >= prev_end and gap_cost(norm[prev_end:s]) <= bound
            else:
                ok = s == prev_end or (s == prev_end + 1 and norm[prev_end] == " ")
            if ok and extend(i + 1, e):
                return True
        return False
    return extend(0, 0)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(KEYS), min_size=2, max_size=3), st.lists(st.booleans(), min_size=2, max_size=2),
       st.integers(1, 6), st.text(alphabet="abcd 通信管理局x", max_size=40))
def test_patterns_match_where_some_combination_of_occurrences_does(keys, gaps, bound, text):
    gaps = gaps[: len(keys) - 1]
    # Literal pieces that touch would merge into one literal: a choice per element keeps them apart.
    source = "(" + keys[0] + "|zz)" + "".join(("…" if g else "") + "(" + k + "|zz)" for g, k in zip(gaps, keys[1:]))
    norm = normalize(text)
    if any(len(occurrences(k, norm)) >= MAX_OCCURRENCES for k in keys):
        return  # past the per-message bound, by design
    matcher = Matcher(ruleset(rule("r", pgroup("g", 10, source, gap=bound, fuzzy=False))))
    assert bool(matcher.scan(norm)) == chain_reference(norm, keys, gaps, bound)


def test_gap_cost_counts_characters_and_english_words():
    assert gap_cost("说我的") == 3
    assert gap_cost(" my old ") == 4
    assert gap_cost("的 money 在") == 4
    assert gap_cost("") == 0


# -- reusing a compiled rule set on reload

words = st.text(alphabet="abcd通信管理局", min_size=2, max_size=8)
rule_specs = st.lists(st.tuples(st.sampled_from("pqrstu"), st.lists(words, min_size=1, max_size=4)),
                      min_size=1, max_size=6, unique_by=lambda spec: spec[0])


def build(specs):
    return ruleset(*(rule(rid, group("g", 10 + len(rid), *phrases)) for rid, phrases in specs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, rule_specs, rule_specs, st.lists(texts, min_size=1, max_size=5))
def test_reusing_the_previous_matcher_gives_the_full_compile_s_hits(first, second, third, samples):
    """Rules kept, changed, added, removed and reordered, over two reloads in a
    row: the layered matcher's hits equal a fresh compile's."""
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
            assert reused.score(text) == fresh.score(text)
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


def levenshtein_indel(a: str, b: str) -> int:
    """Insertions and deletions only (what rapidfuzz's ratio normalises)."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev if ca == cb else prev + 2)
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
        best = max(windows, key=lambda w: (int(100 * (1 - levenshtein_indel(key, norm[w[0]:w[1]])
                                                      / (len(key) + w[1] - w[0]))), -w[0], w[1] - w[0]))
        assert (got[1], got[2]) == best


@pytest.mark.parametrize("text", ["收到的验证码告诉" * 512, "通信管理" * 1024, "safe acount " * 340, "a" * 4096])
def test_crafted_repetitions_are_bounded(text):
    """Repeated near misses cost a bounded number of alignments and occurrences."""
    calls = []
    real = typos_module.align

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    typos_module.align = counting
    try:
        rules = ruleset(rule("r", group("g", 10, "收到的验证码告诉他", "通信管理局", "safe account", "aaaaaab")))
        Matcher(rules).score(text)
    finally:
        typos_module.align = real
    assert len(calls) <= typos_module.MAX_ALIGNS


# -- check() scores only the deciding rules: its verdict is explain()'s

from dataclasses import replace  # noqa: E402

from callguard.detect import Detector  # noqa: E402
from callguard.detect.schema import Thresholds  # noqa: E402

CATEGORIES = ["impersonate_authority", "fake_loan", "phishing", "telecom_complaint"]  # the last one is no scam
rule_sets = st.lists(
    st.tuples(st.lists(st.tuples(st.sampled_from([-40, 10, 20, 30, 45, 60]),
                                 st.lists(st.sampled_from(["通信管理局", "安全账户", "冻结", "ab", "cd", "通信", "管理",
                                                           "(ab|通信)…局", "{kin}…(转|cd)", "a…b", "safe account"]),
                                          min_size=1, max_size=3)),
                       min_size=1, max_size=4),
              st.sampled_from(CATEGORIES), st.booleans(), st.booleans()),
    min_size=1, max_size=6)


def detector_of(specs, thresholds):
    rules = []
    for i, (groups, category, fallback, requires) in enumerate(specs):
        gs = tuple(pgroup(f"g{k}", weight, *patterns, vocab={"kin": ["妈妈", "ab", "通"]})
                   for k, (weight, patterns) in enumerate(groups))
        if not any(g.weight > 0 for g in gs):
            gs += (group("pos", 20, "局"),)
        r = replace(rule(f"r{i}", *gs, category=category), fallback=fallback,
                    requires=("g0",) if requires else ())
        rules.append(r)
    return Detector(ruleset(*rules, thresholds=thresholds))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets, st.lists(texts, min_size=1, max_size=4),
       st.sampled_from([Thresholds(), Thresholds(high=50, medium=30, low=10), Thresholds(high=90, medium=60, low=5)]))
def test_check_gives_the_verdict_explain_gives(specs, samples, thresholds):
    d = detector_of(specs, thresholds)
    for text in samples + ["通信管理局说冻结，转到安全账户 ab cd", "妈妈 转 ab 局"]:
        assert d.check(text) == d.explain(text).verdict
