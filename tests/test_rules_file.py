"""The rule file: lint messages with lines, hostile YAML refused, shipped rules valid."""

import textwrap
from pathlib import Path

import pytest

from callguard.detect import RuleFileError, lint_text, load_rules, parse_rules
from callguard.detect.load import MAX_PATTERNS_PER_GROUP as MAX_PHRASES_PER_GROUP
from callguard.detect.schema import REQUIRED_CATEGORIES

SHIPPED = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"


def shipped_text() -> str:
    return SHIPPED.read_text(encoding="utf-8")


def with_rules(rules_yaml: str) -> str:
    """The shipped file's header (texts, categories) with other rules."""
    head = shipped_text().split("\nrules:\n", 1)[0]
    return head + "\nrules:\n" + textwrap.indent(textwrap.dedent(rules_yaml), "  ")


GOOD_RULE = """\
- id: sample-rule
  category: fake_loan
  title: {zh-Hans: 贷款, zh-Hant: 貸款, en: Loan}
  advice: {zh-Hans: [挂断], zh-Hant: [掛斷], en: [Hang up]}
  groups:
    - {name: hook, weight: 50, phrases: [无抵押贷款, no collateral loan]}
  examples:
    match: [无抵押贷款1, 无抵押贷款2, 无抵押贷款3, 无抵押贷款4, 无抵押贷款5, 无抵押贷款6, 无抵押贷款7, 无抵押贷款8]
    no_match: [你好1, 你好2, 你好3, 你好4, 你好5]
"""


def errors(text: str) -> list[str]:
    return [str(p) for p in lint_text(text, "r.yaml") if p.severity == "error"]


def test_shipped_rules_lint_clean():
    problems = [str(p) for p in lint_text(shipped_text(), str(SHIPPED)) if p.severity == "error"]
    assert problems == []


def test_shipped_rules_have_every_required_category_and_language():
    rs = load_rules(SHIPPED)
    assert set(REQUIRED_CATEGORIES) <= set(rs.categories)
    assert not rs.categories["telecom_complaint"].scam
    for key in ("source", "warning", "emergency", "verify"):
        assert set(rs.texts[key]) == {"zh-Hans", "zh-Hant", "en"}
    assert len(rs.digest) == 12


def test_good_rule_parses():
    rs = parse_rules(with_rules(GOOD_RULE), "r.yaml")
    assert [r.id for r in rs.rules] == ["sample-rule"]
    assert rs.rules[0].groups[0].phrases == ("无抵押贷款", "no collateral loan")


def test_errors_carry_file_and_line():
    text = with_rules(GOOD_RULE.replace("category: fake_loan", "category: no_such_thing"))
    line = text.splitlines().index("    category: no_such_thing") + 1
    assert any(e.startswith(f"r.yaml:{line}: ") and "unknown category 'no_such_thing'" in e for e in errors(text))


def test_duplicate_rule_ids():
    text = with_rules(GOOD_RULE + GOOD_RULE)
    assert any("duplicate rule id 'sample-rule'" in e for e in errors(text))


def test_empty_group():
    text = with_rules(GOOD_RULE.replace("phrases: [无抵押贷款, no collateral loan]", "phrases: []"))
    assert any("phrases must be a non-empty list" in e for e in errors(text))


def test_missing_translation():
    text = with_rules(GOOD_RULE.replace("zh-Hant: 貸款, ", ""))
    assert any("title: missing or empty translation 'zh-Hant'" in e for e in errors(text))


def test_too_few_examples():
    text = with_rules(GOOD_RULE.replace("no_match: [你好1, 你好2, 你好3, 你好4, 你好5]", "no_match: [你好1]"))
    assert any("needs at least 5 examples.no_match (has 1)" in e for e in errors(text))


def test_an_example_longer_than_a_message_is_refused_while_reading():
    """Caught before compiling: a file of huge examples is refused cheaply, and the
    problem names the examples, never quotes them."""
    long = "你好" * 2_100  # 4,200 characters
    text = with_rules(GOOD_RULE.replace("no_match: [你好1, 你好2, 你好3, 你好4, 你好5]",
                                        f"no_match: [你好1, 你好2, {long}, 你好4, 你好5]"))
    problems = [e for e in errors(text) if "longer than a message" in e]
    assert len(problems) == 1 and "examples.no_match #3" in problems[0] and "你好你好" not in problems[0]


def test_missing_required_category():
    text = shipped_text().replace("\n  fake_job:\n", "\n  fake_job_renamed:\n", 1)
    assert any("required category 'fake_job' is missing" in e for e in errors(text))


def test_bad_weight_and_requires():
    text = with_rules(GOOD_RULE.replace("weight: 50", "weight: 500").replace("  groups:", "  requires: [nope]\n  groups:"))
    errs = errors(text)
    assert any("weight must be a non-zero whole number" in e for e in errs)
    assert any("requires names unknown group 'nope'" in e for e in errs)


def test_invalid_yaml_reports_line():
    text = "schema: 1\nrules:\n  - id: [unclosed\n"
    errs = errors(text)
    assert len(errs) == 1 and errs[0].startswith("r.yaml:") and "invalid YAML" in errs[0]


def test_duplicate_keys_refused():
    text = with_rules(GOOD_RULE.replace("  category: fake_loan", "  category: fake_loan\n  category: fake_job"))
    assert any("duplicate key 'category'" in e for e in errors(text))


def test_object_construction_tags_refused():
    text = "schema: 1\nrules: !!python/object/apply:os.system ['echo pwned']\n"
    errs = errors(text)
    assert errs and "not allowed" in errs[0]


def test_deep_nesting_refused_without_recursion():
    text = "schema: 1\nx: " + "[" * 50 + "]" * 50 + "\n"
    assert "nesting deeper than 32 levels" in errors(text)[0]
    huge = "schema: 1\nx: " + "[" * 100_000 + "]" * 100_000 + "\n"
    assert "nesting" in errors(huge)[0]


def test_alias_bomb_refused():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    errs = errors("\n".join(lines))
    assert errs and "aliases" in errs[0]


def test_huge_group_refused():
    phrases = ", ".join(f"短语{i}" for i in range(MAX_PHRASES_PER_GROUP + 1))
    text = with_rules(GOOD_RULE.replace("phrases: [无抵押贷款, no collateral loan]", f"phrases: [{phrases}]"))
    assert any(f"at most {MAX_PHRASES_PER_GROUP:,} per group" in e for e in errors(text))


def test_not_utf8():
    problems = lint_text(b"schema: 1\nx: \xff\n", "r.yaml")
    assert problems[0].line == 2 and "not UTF-8" in problems[0].message


def test_load_rules_raises_with_problems(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 2\n", encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        load_rules(bad)
    assert all(str(p).startswith(str(bad) + ":") for p in info.value.problems)


def test_unreadable_file():
    with pytest.raises(RuleFileError) as info:
        load_rules("/nonexistent/rules.yaml")
    assert "cannot read" in str(info.value)


def test_digest_changes_with_content():
    a = parse_rules(with_rules(GOOD_RULE))
    b = parse_rules(with_rules(GOOD_RULE.replace("no collateral loan", "no collateral loans")))
    assert a.digest != b.digest


def test_wrong_kind_of_node_for_a_tag_is_an_error_not_a_crash():
    text = with_rules(GOOD_RULE.replace("match: [无抵押贷款1,", "match: [!!map 无抵押贷款1,"))
    line = text.splitlines().index(next(l for l in text.splitlines() if "!!map" in l)) + 1
    assert any(e.startswith(f"r.yaml:{line}: invalid YAML: expected a mapping node") for e in errors(text))
    text = with_rules(GOOD_RULE.replace("weight: 50", "weight: !!seq 50"))
    assert any("invalid YAML: expected a sequence node" in e for e in errors(text))


def test_unhashable_category_or_requires_is_an_error_not_a_crash():
    text = with_rules(GOOD_RULE.replace("category: fake_loan", "category: [fake_loan]"))
    assert any("unknown category a list" in e for e in errors(text))
    text = with_rules(GOOD_RULE.replace("  groups:", "  requires: [[hook]]\n  groups:"))
    assert any("requires names unknown group a list" in e for e in errors(text))
