"""The strings an expression cannot match without (detect.regex_factors): right, and never a wrong gate."""

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from callguard.detect.paid import load_patterns
from callguard.detect.regex_factors import may_match, required_factors


@pytest.mark.parametrize("pattern, factors", [
    ("转账了", {"转账了"}),
    ("(?:转|汇|付)给(?:他|她)了", {"给"}),  # all one character long: the first choice of one string
    ("(?:转账|汇款)给.{0,8}?了", {"转账", "汇款"}),
    (r"\b(?:i|we) (?:sent|paid)\b", {"sent", "paid"}),
    (r"already (?:paid|sent)|\b(?:paid|sent) already\b", {"already ", " already"}),
    ("[转汇]咗", {"咗"}),
    ("(?:ab)+cd", {"ab"}),  # both two characters long: the first
])
def test_factors_of_familiar_shapes(pattern, factors):
    assert required_factors(re.compile(pattern)) == factors


@pytest.mark.parametrize("pattern", [
    "a?",  # may match the empty string
    "(?:x|)y?",  # an alternative that needs nothing
    "[a-z]+",  # a range: not a short list of characters
    r"\d{3}",  # a category
    "[^x]",  # a negated class
    "(?i:abc)",  # case folded: "ABC" matches too
    "a*b*",
])
def test_no_factors_when_nothing_is_required_or_known(pattern):
    assert required_factors(re.compile(pattern)) is None
    assert may_match(None, "")


def test_case_insensitive_expressions_are_never_gated():
    assert required_factors(re.compile("paid", re.IGNORECASE)) is None


def test_a_text_without_any_factor_cannot_match():
    pattern = re.compile(r"(?:转|汇)(?:过去|出去)了")
    need = required_factors(pattern)
    assert not may_match(need, "I already sent the money") and not pattern.search("I already sent the money")
    assert may_match(need, "钱我转过去了") and pattern.search("钱我转过去了")


def _sound(pattern: re.Pattern, text: str) -> None:
    if pattern.search(text):
        assert may_match(required_factors(pattern), text), (pattern.pattern, text)


# Shapes the shipped patterns use, and some they do not: every string that matches holds a factor.
HAND_WRITTEN = [r"(?:ab|c(?:de|f))+g?h", r"x(?=y)z|w", r"(?:转|汇)咗.{0,6}?(?:钱|数)|付咗", r"\bkena (?:tipu|scam) (?:rm ?)?\d",
                r"(a|b)\1c", r"(?:p|q){2,3}r*"]


@pytest.mark.parametrize("source", HAND_WRITTEN)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_generated_match_holds_a_factor(source, data):
    pattern = re.compile(source)
    _sound(pattern, data.draw(st.from_regex(pattern)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_every_match_of_a_shipped_paid_pattern_holds_a_factor(data):
    patterns = load_patterns().paid
    pattern = patterns[data.draw(st.integers(0, len(patterns) - 1))]
    text = data.draw(st.from_regex(pattern))
    _sound(pattern, text)
