"""What the user reads: escaping, length, languages."""

from dataclasses import replace
from pathlib import Path

import pytest

from callguard import replies
from callguard.detect import Detector, Evidence, Verdict, load_rules

RULESET = load_rules(Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml")
DETECTOR = Detector(RULESET)
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"
LANGS = ("zh-Hans", "zh-Hant", "en")


@pytest.mark.parametrize("lang", LANGS)
def test_scam_reply_has_verdict_type_evidence_steps_and_warning(lang):
    v = DETECTOR.check(SCAM)
    text = replies.verdict_reply(v, RULESET, lang, html=False)
    assert replies.ui("risk.high", lang) in text
    assert RULESET.categories[v.category].name[lang] in text
    assert "通信管理局" in text  # the phrase that gave it away, as the user wrote it
    assert RULESET.texts["warning"][lang] in text
    rule = next(r for r in RULESET.rules if r.id == v.rule)
    assert rule.advice[lang][0] in text


def test_medium_reply_says_how_to_check():
    v = Verdict(True, "medium", "impersonate_authority", RULESET.rules[0].id, 50)
    assert RULESET.texts["verify"]["en"] in replies.verdict_reply(v, RULESET, "en")


def test_benign_reply_is_calm_and_still_hints():
    v = DETECTOR.check("My daughter called to ask what we eat tonight")
    text = replies.verdict_reply(v, RULESET, "en", html=False)
    assert text.startswith(replies.ui("risk.none", "en"))
    assert replies.ui("none.hint", "en") in text


def test_html_in_user_text_is_escaped():
    evil = "<script>alert(1)</script> & <b>安全账户"
    v = Verdict(True, "high", "impersonate_authority", RULESET.rules[0].id, 90,
                (Evidence("安全账户", evil, 0, len(evil), "demand", 100),))
    text = replies.verdict_reply(v, RULESET, "zh-Hans", html=True,
                                 number_counts={"<i>+86</i>": 2})
    assert "<script>" not in text and "&lt;script&gt;" in text and "&amp;" in text
    assert "<i>" not in text
    # only our own tags remain
    import re
    assert set(re.findall(r"</?(\w+)", text)) <= {"b"}


def test_evidence_is_quoted_and_shortened():
    long = "x" * 500
    v = Verdict(True, "high", "impersonate_authority", RULESET.rules[0].id, 90,
                (Evidence("p", long, 0, 500, "claim", 100),))
    text = replies.verdict_reply(v, RULESET, "en", html=False)
    assert "x" * replies.MAX_EVIDENCE_CHARS not in text
    assert "…" in text


def test_reply_never_exceeds_telegram_limit():
    huge_rules = replace(RULESET, texts={**RULESET.texts, "warning": {l: "警" * 5000 for l in LANGS},
                                         "source": {l: "源" * 5000 for l in LANGS}})
    v = DETECTOR.check(SCAM)
    for lang in LANGS:
        assert len(replies.verdict_reply(v, huge_rules, lang)) <= replies.MAX_MESSAGE


def test_number_counts_are_mentioned():
    v = DETECTOR.check(SCAM)
    text = replies.verdict_reply(v, RULESET, "en", number_counts={"+86 138****8000": 3})
    assert "+86 138****8000" in text and "3 times" in text


@pytest.mark.parametrize("lang", LANGS)
def test_emergency_steps(lang):
    text = replies.emergency_reply(RULESET, lang, html=True)
    assert "110" in text and "96110" in text
    assert text.count("\n") >= 4


@pytest.mark.parametrize("lang", LANGS)
def test_family_warning_names_the_scam(lang):
    text = replies.family_warning(RULESET, "impersonate_authority", lang)
    assert RULESET.categories["impersonate_authority"].name[lang] in text


def test_every_ui_key_exists_in_every_language():
    keys = set(replies._UI["en"])
    for lang in LANGS:
        assert set(replies._UI[lang]) == keys


@pytest.mark.parametrize("answer, sent", [
    ("是", True), ("是的，已经转了", True), ("已經轉了", True), ("yes", True), ("Y", True),
    ("I already sent money", True), ("I paid them 5000", True), ("they wired it? yes", True),
    ("还没有", False), ("沒有", False), ("不知道", False), ("no", False), ("not yet", False),
    ("I don't know", False), ("I haven't", False), ("nope", False), ("", False), ("你好", False),
])
def test_typed_answer_to_money_question(answer, sent):
    from callguard.telegram.handlers import said_money_sent

    assert said_money_sent(answer) is sent


def test_low_risk_reply_names_what_looked_suspicious():
    rule = RULESET.rules[0]
    v = Verdict(False, "low", rule.category, rule.id, 25, (Evidence("通信管理局", "通信管理局", 0, 5, "claim", 100),))
    text = replies.verdict_reply(v, RULESET, "zh-Hans", html=False)
    assert text.startswith(replies.ui("risk.low", "zh-Hans"))
    assert RULESET.categories[rule.category].name["zh-Hans"] in text and "“通信管理局”" in text
    assert replies.ui("none.hint", "zh-Hans") in text
