"""Ranking rules by an upper bound (bot/detect/ranking.py) picks exactly the
rule of each kind that scoring every rule picks, and matches fewer rules."""

import gc
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import callguard.detect.ranking as ranking
from callguard.detect.matcher import Matcher, Scan
from tests.factories import group, pgroup, rule, ruleset

TEXTS = st.text(alphabet="abcd 通信管理局安全账户冻结转妈钱包xy不会要，", max_size=50)  # 不会…要/转: a denial
PATTERNS = ["通信管理局", "安全账户", "冻结", "ab", "cd", "通信", "管理", "(ab|通信)…局", "{kin}…(转|cd)", "a…b",
            "safe account", "转{amount}", "(的|妈)…冻结", "{link}", "(的|妈)…{amount}", "(钱包|{amount})", "(转|cd)…妈"]
rule_specs = st.lists(
    st.tuples(st.lists(st.tuples(st.sampled_from([-40, 10, 20, 30, 45, 60, 90]),
                                 st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=3)),
                       min_size=1, max_size=4),
              st.integers(0, 2), st.sampled_from(["none", "any", "all"])),
    min_size=1, max_size=8)


def matcher_of(specs) -> tuple[Matcher, tuple[int, ...]]:
    rules, kinds = [], []
    for i, (groups, kind, gate) in enumerate(specs):
        # Groups of some positive weights are negatable (requests: bot/detect/negation.py).
        gs = tuple(replace(pgroup(f"g{k}", weight, *patterns, vocab={"kin": ["妈妈", "ab", "通"]}),
                           negatable=weight in (20, 45, 90))
                   for k, (weight, patterns) in enumerate(groups))
        r = rule(f"r{i}", *gs)
        if gate == "any":
            r = replace(r, requires=("g0",))
        elif gate == "all" and len(gs) > 1:
            r = replace(r, requires_all=("g0", "g1"))
        rules.append(r)
        kinds.append(kind)
    return Matcher(ruleset(*rules)), tuple(kinds)


def first_of_each_kind(matcher: Matcher, text: str, kinds: tuple[int, ...]) -> dict:
    """What scoring every rule ranks first per kind (``scores`` is best first)."""
    best = {}
    for score in matcher.scores(Scan(text)):
        best.setdefault(kinds[score.hits[0].rule], score)
    return best


# Texts where words overlap, repeat and meet entities, added to every drawn sample.
EDGE_TEXTS = ["通信管理局说冻结，转到安全账户 ab cd", "妈妈 转 ab 局 转¥3,000 http://a.top/x", "钱包 妈 ¥500", "cd 转妈",
              "通信管理局不会要你转到安全账户，冻结后转到安全账户", "不会转妈 ab 钱包，转妈"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, st.lists(TEXTS, min_size=1, max_size=4))
def test_the_best_rule_of_each_kind_is_the_one_scoring_every_rule_finds(specs, samples):
    matcher, kinds = matcher_of(specs)
    (layer, _), = matcher._layers
    for layer.lazy_presence in (False, True):  # as a small layer does, and a large one (LAZY_ABOVE_CLASSES)
        for text in samples + EDGE_TEXTS:
            assert matcher.best_of_each(Scan(text), kinds) == first_of_each_kind(matcher, text, kinds)


def test_rules_that_cannot_beat_the_best_are_not_matched(monkeypatch):
    strong = rule("strong", group("claim", 60, "通信管理局"), group("demand", 40, "安全账户"))
    weak = [rule(f"weak{i}", group("claim", 10, "通信管理局"), group("other", 10, "冻结")) for i in range(20)]
    matcher = Matcher(ruleset(strong, *weak))
    matched = []
    real = ranking.group_best
    monkeypatch.setattr(ranking, "group_best", lambda gid, *a: matched.append(gid) or real(gid, *a))
    best = matcher.best_of_each(Scan("通信管理局说冻结，转到安全账户"), (0,) * 21)
    assert best[0].rule.id == "strong" and best[0].score == 100
    assert sorted(matched) == [0, 1]  # the strong rule's two groups, and no weak rule's


def test_a_rule_of_several_candidate_groups_is_summed_only_when_it_could_come_first(monkeypatch):
    # Every rule here has two candidate groups. The strong one's optimistic
    # code comes out first and is exact (60 + 40); once it has scored 100, the
    # weak rules' optimistic codes (10 + 10) cannot beat it: none is summed.
    strong = rule("strong", group("claim", 60, "通信管理局"), group("demand", 40, "安全账户"))
    weak = [rule(f"weak{i}", group("claim", 10, "通信管理局"), group("other", 10, "冻结")) for i in range(20)]
    matcher = Matcher(ruleset(*weak, strong))
    summed = []
    real = ranking.exact_code
    monkeypatch.setattr(ranking, "exact_code", lambda *a: summed.append(a[-1]) or real(*a))
    best = matcher.best_of_each(Scan("通信管理局说冻结，转到安全账户"), (0,) * 21)
    assert best[0].rule.id == "strong" and best[0].score == 100
    assert summed == [20]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, st.integers(0, 7), st.lists(TEXTS, min_size=1, max_size=3))
def test_after_a_reload_that_keeps_compiled_rules_the_best_rules_are_the_same(specs, changed, samples):
    # Ten more rules, so that changing one of them is a small reload: the
    # changed rule is compiled in a second layer, the others kept.
    specs = list(specs) + [([(20, ["冻结", "ab"]), (25, ["安全账户"])], i % 3, "none") for i in range(10)]
    first, kinds = matcher_of(specs)
    i = changed % len(specs)
    groups, kind, gate = specs[i]
    specs[i] = (groups + [(30, ["冻结"])], kind, gate)
    fresh, _ = matcher_of(specs)
    reloaded = Matcher(fresh.ruleset, first)
    assert reloaded.layers == 2
    for text in samples + ["通信管理局说冻结，转到安全账户 ab cd"]:
        assert reloaded.best_of_each(Scan(text), kinds) == first_of_each_kind(fresh, text, kinds)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, st.lists(TEXTS, min_size=1, max_size=4))
def test_every_group_that_matches_is_a_candidate(specs, samples):
    # The candidates come from the words found, without checking a
    # pattern's other classes: a superset of what matches, never less.
    matcher, _ = matcher_of(specs)
    (layer, _), = matcher._layers
    for layer.lazy_presence in (False, True):  # as a small layer does, and a large one (LAZY_ABOVE_CLASSES)
        for text in samples + EDGE_TEXTS:
            scan = Scan(text)
            occ = layer.occurrences(scan)
            assert set(layer.best_hits(scan, occ)) <= layer.candidate_groups(layer.occurrences(scan), scan)


FLOORS = st.sampled_from(["skip", "any", 0, 30, 60, "above the best so far"])


def worth_of(floors: tuple):
    def worth(kind: int, seen: dict[int, int]) -> int | None:
        floor = floors[kind]
        if floor == "skip":
            return None
        if floor == "any":
            return -1
        if floor == "above the best so far":
            return max(seen.values(), default=-1)
        return floor
    return worth


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, st.lists(TEXTS, min_size=1, max_size=4), st.tuples(FLOORS, FLOORS, FLOORS))
def test_a_kind_is_given_exactly_when_its_best_beats_its_floor(specs, samples, floors):
    """``worth`` floors: kinds settled lowest first; a kind is left out when its floor says it
    cannot matter or its best (by scoring every rule) does not score above the floor."""
    matcher, kinds = matcher_of(specs)
    worth = worth_of(floors)
    for text in samples + EDGE_TEXTS:
        expected: dict = {}
        for k, best in sorted(first_of_each_kind(matcher, text, kinds).items()):
            floor = worth(k, {kk: s.score for kk, s in expected.items()})
            if floor is not None and best.score > floor:
                expected[k] = best
        assert matcher.best_of_each(Scan(text), kinds, worth) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_specs, st.lists(TEXTS, min_size=1, max_size=4), st.tuples(FLOORS, FLOORS, FLOORS),
       st.integers(0, 7), st.booleans())
def test_ranking_a_message_again_reuses_the_first_ranking_and_finds_the_same(specs, samples, floors, dropped,
                                                                             negative):
    """``Detector.warns_of`` ranks a message a second time with some groups skipped
    (``Scan.ranked`` keeps what the first ranking matched): the same as ranking afresh."""
    matcher, kinds = matcher_of(specs)
    worth = worth_of(floors)
    skip = matcher.group_ids(lambda rule, group: group.weight < 0 if negative else group.name == "g1")
    skip = matcher.without_rule(skip, dropped % len(specs))
    for text in samples + EDGE_TEXTS:
        scan = Scan(text)
        assert matcher.best_of_each(scan, kinds, worth) == matcher.best_of_each(Scan(text), kinds, worth)
        assert matcher.best_of_each(scan, kinds, None, skip) == matcher.best_of_each(Scan(text), kinds, None, skip)
        assert matcher.best_of_each(scan, kinds) == first_of_each_kind(matcher, text, kinds)


def test_a_checked_message_leaves_no_garbage_for_the_cycle_collector():
    """What a ranking keeps on the Scan must not point back at it: a Scan in a reference
    cycle is freed only by the cyclic collector, whose passes over thousands of kept matches
    cost 100-190 ms in the middle of a crafted message (bench_matcher read 193 ms)."""
    from callguard.detect import Detector

    detector = Detector(ruleset(rule("r0", pgroup("g0", 60, "通信管理局", "safe account"),
                                     pgroup("g1", -40, "提醒大家", "PSA"))))
    texts = ["PSA 提醒大家：有人自称通信管理局", "PSA: they ask you to move money to a safe account", "hello"]
    gc.collect()
    gc.disable()
    try:
        for text in texts * 3:
            detector.check(text)
            detector.explain(text)
        assert gc.collect() == 0
    finally:
        gc.enable()
