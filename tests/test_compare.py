"""Comparing a candidate rule set with the live one before a swap (issue 12, item 3).

The two attack files of the issue pass lint and every one of their own
examples; only texts from outside the file (the live rules' examples and the
shipped regression set) show what they do.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from callguard.detect import Detector, build
from callguard.detect.compare import (MAX_QUIET_CHANGES, Change, Comparison, Outcome, Probe, compare,
                                      example_probes, regression_probes)
from callguard.rulebuild import check_rules, shipped_regression
from callguard.rulefiles import shipped
from tests import factories
from tests.admin_support import (MOTHER_CALLS, POLICE_STORY, common_characters_rule, flow_rules, good_variant,
                                 own_examples_only)
from tests.factories import group


@pytest.fixture(scope="module")
def live() -> Detector:
    return build(flow_rules().read_bytes(), "live.yaml")


@pytest.fixture(scope="module")
def regression() -> list[Probe]:
    return shipped_regression()


def checked(data: str, live: Detector, regression: list[Probe], extra: tuple[Probe, ...] = ()):
    result = check_rules(data.encode(), "candidate.yaml", live=live, regression=[*regression, *extra])
    assert not result.problems, [str(p) for p in result.problems[:5]]  # the attack passes every other check
    return result


def test_the_regression_set_is_shipped_and_read(regression):
    assert shipped("regression.jsonl").is_file()
    assert len(regression) >= 200
    assert {p.label for p in regression} == {"scam", "benign"}
    assert all(p.source.startswith("regression.jsonl:") for p in regression)


def test_an_unchanged_rule_set_changes_nothing(live, regression):
    result = checked(good_variant(), live, regression)
    comparison = result.comparison
    assert comparison.checked > 500 and comparison.changes == ()
    assert not comparison.needs_confirmation


def test_rules_whose_phrases_are_their_own_examples_need_a_confirmation(live, regression):
    """Attack 1: the classic fake-police story becomes "no scam"."""
    story = Probe(POLICE_STORY, "issue 12", "scam")
    result = checked(own_examples_only(), live, regression, (story,))
    comparison = result.comparison
    assert result.detector.check(POLICE_STORY).scam is False and live.check(POLICE_STORY).scam is True
    assert comparison.needs_confirmation
    assert comparison.missed_scams > 50
    [change] = [c for c in comparison.changes if c.probe.text == POLICE_STORY]
    assert change.before.category == "impersonate_authority" and change.after == Outcome(False, None, "none")
    assert all(c.misses_scam for c in comparison.samples())  # the worst changes are shown first


def test_weight_on_common_characters_needs_a_confirmation(live, regression):
    """Attack 2: a mother asking when you come home becomes a phishing scam."""
    mother = Probe(MOTHER_CALLS, "issue 12", "benign")
    result = checked(common_characters_rule(), live, regression, (mother,))
    comparison = result.comparison
    verdict = result.detector.check(MOTHER_CALLS)
    assert (verdict.scam, verdict.category) == (True, "phishing")
    assert comparison.needs_confirmation and len(comparison.changes) > 20
    [change] = [c for c in comparison.changes if c.probe.text == MOTHER_CALLS]
    assert change.before == Outcome(False, None, "none") and change.after.category == "phishing"
    assert change.severity == 2  # a false alarm on a known benign text
    # Without the sentence the shipped regression set alone catches it.
    assert checked(common_characters_rule(), live, regression).comparison.needs_confirmation


def _loan(phrase: str = "无抵押贷款"):
    return replace(factories.rule("loan", group("hook", 60, phrase), category="fake_loan"),
                   examples_match=("无抵押贷款，今天就放款",), examples_no_match=("今天天气很好",))


def test_a_few_changes_go_through_and_more_need_a_confirmation():
    live = Detector(factories.ruleset(_loan()))
    candidate = Detector(factories.ruleset(_loan("放款")))  # now flags every text that says 放款
    texts = [Probe(f"明天放款{i}", "test") for i in range(MAX_QUIET_CHANGES + 1)]
    few = compare(live, candidate, texts[:MAX_QUIET_CHANGES])
    assert len(few.changes) == MAX_QUIET_CHANGES and not few.needs_confirmation
    more = compare(live, candidate, texts)
    assert len(more.changes) == MAX_QUIET_CHANGES + 1 and more.needs_confirmation


def test_one_known_scam_no_longer_flagged_needs_a_confirmation():
    live = Detector(factories.ruleset(_loan()))
    candidate = Detector(factories.ruleset(_loan("完全无关的词")))
    scam = Probe("无抵押贷款马上到账", "test", "scam")
    unlabelled = Probe("无抵押贷款马上到账。", "test")
    assert not compare(live, candidate, [unlabelled]).needs_confirmation  # one change, no known truth
    comparison = compare(live, candidate, [scam])
    assert comparison.missed_scams == 1 and comparison.needs_confirmation


def test_only_the_answer_counts_not_the_score_or_risk_level():
    a, b = Outcome(True, "fake_loan", "high"), Outcome(True, "fake_loan", "medium")
    assert a.same_answer(b)
    assert not a.same_answer(Outcome(True, "phishing", "high"))
    assert not a.same_answer(Outcome(False, None, "low"))


def test_a_text_in_two_sources_is_judged_once():
    live = Detector(factories.ruleset(_loan()))
    candidate = Detector(factories.ruleset(_loan("放款")))
    comparison = compare(live, candidate, [Probe("明天放款", "a"), Probe("明天放款", "b")])
    assert comparison.checked == 1 and [c.probe.source for c in comparison.changes] == ["a"]


def test_samples_put_the_worst_first():
    def change(label, before, after):
        return Change(Probe("x", "t", label), before, after)

    scam, safe = Outcome(True, "fake_loan", "high"), Outcome(False, None, "none")
    other = Outcome(True, "phishing", "high")
    changes = (change(None, scam, other), change("benign", safe, scam), change(None, scam, safe),
               change("scam", scam, safe))
    assert [c.severity for c in Comparison(4, changes).samples()] == [0, 1, 2, 3]


def test_example_probes_sample_every_rule_when_there_are_many(live):
    probes = example_probes(live.ruleset)
    total = sum(len(r.examples_match) + len(r.examples_no_match) for r in live.ruleset.rules)
    assert len(probes) == total
    few = example_probes(live.ruleset, limit=len(live.ruleset.rules) * 2)
    assert {p.source for p in few} == {f"example of rule '{r.id}'" for r in live.ruleset.rules}
    labels = {p.source: p.label for p in few if p.label}
    fallback_or_scam = [r for r in live.ruleset.rules if live.ruleset.categories[r.category].scam]
    assert all(labels.get(f"example of rule '{r.id}'") == "scam" for r in fallback_or_scam)


def test_regression_lines_that_are_not_usable_are_skipped():
    lines = ['{"text": "a", "label": "scam"}', "", "not json", '["a list"]', '{"text": ""}',
             '{"text": "b", "label": "odd"}']
    assert regression_probes(lines, "r.jsonl") == [Probe("a", "r.jsonl:1", "scam"), Probe("b", "r.jsonl:6", None)]


def test_a_candidate_is_not_asked_again_about_its_own_examples(live, regression, monkeypatch):
    """The reload check judges the candidate's examples once (in the examples
    step) and reuses those verdicts in the comparison: the same answers,
    half the work on a file like the shipped one."""
    from callguard.detect.build import check_candidate

    asked: list[tuple[int, str]] = []
    real_check = Detector.check

    def counting_check(self, text):
        asked.append((id(self), text))
        return real_check(self, text)

    monkeypatch.setattr(Detector, "check", counting_check)
    candidate, comparison = check_candidate(own_examples_only(), "candidate.yaml", live=live, regression=regression)
    own = {t for r in candidate.ruleset.rules for t in (*r.examples_match, *r.examples_no_match)}
    probes = example_probes(live.ruleset) + list(regression)
    assert own & {p.text for p in probes}  # the live and candidate files share examples
    assert not [text for who, text in asked if who == id(candidate) and text in own]

    monkeypatch.setattr(Detector, "check", real_check)
    direct = compare(live, candidate, probes, live_version=live.version, candidate_version=candidate.version)
    assert comparison.changes and comparison == direct
