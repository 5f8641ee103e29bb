"""Every rule's embedded examples, one test per rule (like Semgrep/Sigma rule tests)."""

from pathlib import Path

import pytest

from callguard.detect import Detector, load_rules
from callguard.detect.examples import run_examples

SHIPPED = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"
RULESET = load_rules(SHIPPED)
DETECTOR = Detector(RULESET)
FAILURES = run_examples(DETECTOR)


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_rule_examples(rule):
    failures = [str(f) for f in FAILURES if f.rule == rule.id]
    assert failures == []


@pytest.mark.parametrize("rule", RULESET.rules, ids=lambda r: r.id)
def test_rule_examples_cover_languages(rule):
    from callguard.detect.language import detect_language

    langs = {detect_language(t) for t in rule.examples_match}
    assert {"zh-Hans", "en"} <= langs, f"{rule.id}: match examples need zh-Hans and en, have {sorted(langs)}"


def test_every_category_has_a_rule():
    assert set(RULESET.categories) == {r.category for r in RULESET.rules}


def test_example_runner_reports_failures():
    """The runner itself can fail: a no_match example that is a scam is reported."""
    from dataclasses import replace

    rule = RULESET.rules[0]
    broken = replace(rule, examples_no_match=rule.examples_match[:1])
    rs = replace(RULESET, rules=(broken,) + RULESET.rules[1:])
    failures = run_examples(Detector(rs))
    assert [f.kind for f in failures if f.rule == rule.id] == ["no_match"]
