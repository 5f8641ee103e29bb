"""The fast matcher finds exactly what a brute-force search finds (hypothesis).

The matcher only looks where an anchor (half of a phrase) occurs and skips
places that fail cheap character tests; this proves those shortcuts lose
nothing. The reference below reads every window of the text: a phrase's best
occurrence is the most similar one (exact 100, pinyin spelling 95, else one
typo: a wrong, missing or extra character), then the earliest, then the
longest. A small alphabet makes near misses, typos and overlaps common.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.detect.matcher import MIN_PINYIN_ALIAS, PINYIN_SIMILARITY, Matcher, align, tolerates_typo
from bot.detect.normalize import normalize, pinyin_alias

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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(phrases, st.booleans()), min_size=1, max_size=12), texts)
def test_scan_equals_brute_force(items, text):
    rules = [rule(f"r{i}", group("g", 10, phrase, fuzzy=fuzzy)) for i, (phrase, fuzzy) in enumerate(items)]
    matcher = Matcher(ruleset(*rules))
    norm = normalize(text)
    got = {hit.rule: (hit.similarity, hit.start, hit.end) for hit in matcher.scan(norm)}
    want = {}
    for i, (phrase, fuzzy) in enumerate(items):
        best = reference(phrase, fuzzy, norm)
        if best:
            want[i] = best
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="通信管理局安全账户", min_size=5, max_size=8), st.integers(0, 7), st.sampled_from("xy通管局"),
       st.sampled_from(["sub", "del", "ins"]), st.text(alphabet="xy管理", max_size=10), st.text(alphabet="xy理局", max_size=10))
def test_any_single_typo_is_found(phrase, where, char, kind, before, after):
    where %= len(phrase)
    typo = {"sub": phrase[:where] + char + phrase[where + 1:], "del": phrase[:where] + phrase[where + 1:],
            "ins": phrase[:where] + char + phrase[where:]}[kind]
    matcher = Matcher(ruleset(rule("r", group("g", 10, phrase))))
    assert matcher.scan(normalize(before + typo + after))
