"""Admin texts (callguard.admin_texts): /why, /stats, reload errors; escaping and the 4096 limit."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest

from callguard.admin_texts import (MAX_MESSAGE, errors_text, fit_lines, split_message, stats_text, t, why_text)
from callguard.detect import Detector, Problem
from callguard.detect.schema import LANGUAGES
from callguard.storage import NO_CATEGORY, NO_RULE, Stats
from tests import factories
from tests.factories import group, rule

DETECTOR = Detector(factories.ruleset(
    rule("freeze", group("claim", 30, "通信管理局"), group("threat", 30, "号码冻结"),
         group("demand", 60, "安全账户"), requires=("claim",)),
    rule("refund", group("claim", 30, "客服"), group("demand", 50, "退款"), category="impersonate_customer_service"),
    rule("needs-claim", group("claim", 40, "律师函"), group("demand", 40, "安全账户"), category="fake_loan",
         requires=("claim",)),
))


def test_why_lists_every_scoring_rule_with_groups_phrases_similarity_thresholds_verdict():
    text = "我是通信管理局的，你的号码冻结了，钱转到安全帐户，客服会退款"
    explanation = DETECTOR.explain(text)
    out = why_text(explanation, DETECTOR.ruleset, "en")
    assert "<b>Verdict</b>: scam · risk high" in out
    assert "category impersonate_authority (impersonate_authority) · rule freeze" in out
    assert "<b>Thresholds</b>: high ≥70 · medium ≥45 · low ≥20" in out
    for score in explanation.scores:
        assert f"<code>{score.rule.id}</code> <b>{score.score}</b>" in out
    assert "claim (+30): “通信管理局” 100%" in out
    assert "demand (+60): “安全账户” 100%" in out  # 帳 folds to 账 in normalisation: an exact hit
    assert "needs-claim" in out and "required group missing (claim): score counts as 0" in out


def test_why_in_chinese_and_without_hits():
    out = why_text(DETECTOR.explain("今天天气很好"), DETECTOR.ruleset, "zh-Hans")
    assert "<b>判定</b>：不是诈骗 · 风险 无 · 得分 0" in out and "没有任何规则匹配。" in out


def test_why_escapes_html_and_stays_within_the_limit():
    ruleset = factories.ruleset(*[rule(f"r{i:03d}-<x>", group("claim", 30, "安全账户")) for i in range(300)])
    detector = Detector(ruleset)
    out = why_text(detector.explain("<script>&安全账户" * 50), ruleset, "en")
    assert len(out) <= MAX_MESSAGE
    assert "<script>" not in out and "<x>" not in out and "r000-&lt;x&gt;" in out
    shown = len(re.findall(r"^\d+\. <code>", out, re.M))
    assert out.endswith(f"… and {300 - shown} more")  # counted in rules, not lines
    assert_balanced(out)


def assert_balanced(text: str) -> None:
    """Every HTML tag closed, no entity cut in half."""
    stack = []
    for tag in re.finditer(r"<(/?)(\w+)>", text):
        if tag.group(1):
            assert stack and stack.pop() == tag.group(2), text
        else:
            stack.append(tag.group(2))
    assert not stack
    assert not re.search(r"&[a-z]*$", text)
    assert html.unescape(re.sub(r"<[^>]+>", "", text))


def test_errors_text_escapes_and_cuts_many_problems():
    problems = [Problem("rules.yaml", i, f"bad <thing> & more {'x' * 200}") for i in range(1, 200)]
    out = errors_text(t("reload.failed", "en", version="abc", n=len(problems)), problems, "en")
    assert len(out) <= MAX_MESSAGE
    assert out.startswith("❌ The rule file did not pass validation")
    assert "rules.yaml:1: bad &lt;thing&gt; &amp; more" in out and "<thing>" not in out
    assert re.search(r"… and \d+ more$", out)
    assert_balanced(out)
    plain = errors_text("title", problems[:2], "en", html=False)
    assert plain.splitlines() == ["title", str(problems[0]), str(problems[1])]


def test_errors_text_shortens_one_enormous_line():
    out = errors_text("t", [Problem("f.yaml", 3, "<" * 10_000)], "en")
    assert len(out) < 5000 and out.endswith("…") and "&lt;" in out
    assert_balanced(out)


def test_fit_lines_and_split_message():
    assert fit_lines(["head"], ["a", "b"], "en") == "head\na\nb"
    out = fit_lines(["head"], ["x" * 100] * 100, "en", limit=500)
    assert out == "\n".join(["head"] + ["x" * 100] * 4 + ["… and 96 more"])
    text = "\n".join(f"line {i} " + "y" * 50 for i in range(300))
    parts = split_message(text)
    assert all(len(p) <= MAX_MESSAGE for p in parts) and len(parts) > 1
    assert "\n".join(parts) == text
    assert split_message("z" * 9000) == ["z" * 4096, "z" * 4096, "z" * 808]


STATS = Stats(
    total=10,
    by_category=[("impersonate_authority", 5, 50.0), ("fake_loan", 3, 30.0), (NO_CATEGORY, 2, 20.0)],
    by_risk=[("none", 2, 20.0), ("high", 5, 50.0), ("medium", 3, 30.0)],
    top_numbers=[("+86 138******00", 4), ("+86 139******11", 2)],
    rules_feedback=[("loan-rule", 1, 3, 0.75), (NO_RULE, 0, 1, 1.0), ("auth-rule", 4, 0, 0.0)],
    money_sent=3,
    since=1_700_000_000.0,
    until=1_700_000_000.0 + 30 * 86_400,
)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_stats_text_in_every_language(lang):
    out = stats_text(STATS, factories.ruleset(), lang, days=30)
    assert "10" in out and "50.0%" in out and "+86 138******00" in out and "75.0%" in out
    assert "auth-rule" not in out  # no "Wrong" feedback: not listed
    assert len(out) <= MAX_MESSAGE
    assert_balanced(out)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_stats_text_shows_warnings_by_the_scam_they_warn_of_only_when_there_are_any(lang):
    title = t("stats.warnings", lang, count=3)
    assert title not in stats_text(STATS, factories.ruleset(), lang, days=30)
    warned = dataclasses.replace(STATS, warnings_by_category=[("impersonate_authority", 2, 66.7),
                                                              ("fake_loan", 1, 33.3)])
    out = stats_text(warned, factories.ruleset(), lang, days=30)
    assert f"<b>{html.escape(title, quote=False)}</b>" in out and "66.7%" in out and "33.3%" in out
    assert out.index(title) > out.index(t("stats.by_category", lang))  # after the categories, before risks
    assert out.index(title) < out.index(t("stats.by_risk", lang))
    assert len(out) <= MAX_MESSAGE
    assert_balanced(out)
    plain = stats_text(warned, None, lang, days=30, html=False)
    rows = plain.split(title)[1].split("\n\n")[0].splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["impersonate_authority", "fake_loan"]


def test_stats_text_plain_table_is_aligned_and_risk_ordered():
    out = stats_text(STATS, None, "en", days=30, html=False)
    assert "<b>" not in out
    lines = out.splitlines()
    assert lines[0] == "Last 30 days (2023-11-14 to 2023-12-14, UTC): 10 reports."
    assert "Money already sent when reported: 3 (30.0%)" in lines
    rows = [line for line in lines if line.startswith("  ") and "%" in line][:3]
    assert [r.split()[0] for r in rows] == ["impersonate_authority", "fake_loan", "No"]
    assert len({r.index("%") for r in rows}) == 1  # columns line up
    risks = [line.split()[0] for line in lines if line.strip().split()[:1] in (["high"], ["medium"], ["none"])]
    assert risks == ["high", "medium", "none"]
    assert "  (no rule)" in out and "wrong 1/1 (100.0%)" in out


def test_stats_text_chinese_table_aligns_wide_characters():
    import unicodedata

    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    ruleset = factories.ruleset()
    names = {"impersonate_authority": "冒充公检法", "fake_loan": "贷款"}
    from types import MappingProxyType

    from callguard.detect.schema import Category

    categories = dict(ruleset.categories)
    for cid, name in names.items():
        categories[cid] = Category(cid, True, MappingProxyType({"zh-Hans": name, "zh-Hant": name, "en": cid}),
                                   categories[cid].how)
    ruleset = type(ruleset)(ruleset.rules, MappingProxyType(categories), ruleset.texts, digest="x")
    out = stats_text(STATS, ruleset, "zh-Hans", days=30, html=False)
    assert "被举报最多的号码（已打码）：" in out
    rows = [line for line in out.splitlines() if line.startswith("  ") and line.endswith("%")][:3]
    assert [r.split()[0] for r in rows] == ["冒充公检法", "贷款", "未发现明显诈骗特征"]
    assert len({width(r[:r.index("%")]) for r in rows}) == 1  # aligned on screen, wide characters counted twice


def test_stats_text_without_reports():
    empty = Stats(0, [], [], [], [], 0, 0.0, 86_400.0)
    out = stats_text(empty, None, "zh-Hant", days=1)
    assert "這段時間沒有收到舉報。" in out and "沒有被舉報的號碼。" in out


@pytest.mark.parametrize("lang, name", [("en", "Scam warnings passed on"), ("zh-Hans", "转发的防骗提醒"),
                                        ("zh-Hant", "轉發的防騙提醒")])
def test_the_charts_warnings_bucket_has_a_name(lang, name):
    from callguard.admin_texts import category_name
    from callguard.storage import WARNINGS

    assert category_name(None, WARNINGS, lang) == name
