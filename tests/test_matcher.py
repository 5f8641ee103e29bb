"""Scoring semantics on small rule sets built in code."""

from callguard.detect import Detector
from callguard.detect.matcher import Matcher
from callguard.detect.schema import Thresholds

from tests.factories import group, rule, ruleset

NOTICE = rule(
    "notice",
    group("claim", 25, "通信管理局", "communications administration"),
    group("threat", 25, "号码将被冻结", "number will be frozen"),
    group("demand", 60, "安全账户", "safe account"),
    group("legit", -40, "不会索要验证码"),
)
LOAN = rule("loan", group("hook", 30, "无抵押贷款"), group("fee", 30, "先交手续费"), category="fake_loan",
            requires=("hook",))
BILL = rule("bill", group("issue", 50, "话费扣费有误", "宽带没人修"), category="telecom_complaint")


def detector(*rules, **kw):
    return Detector(ruleset(*rules, **kw))


def test_groups_add_up():
    d = detector(NOTICE)
    assert d.check("通信管理局打来电话").score == 25
    assert d.check("通信管理局说号码将被冻结").score == 50
    v = d.check("通信管理局说号码将被冻结，转到安全账户")
    assert v.score == 100  # 110, clamped
    assert v.risk == "high" and v.scam


def test_each_group_counts_once():
    assert detector(NOTICE).check("通信管理局 通信管理局 通信管理局").score == 25


def test_strong_single_signal_is_never_silent():
    v = detector(NOTICE).check("对方让我把存款转到安全账户")
    assert v.scam and v.risk == "medium" and v.category == "impersonate_authority"


def test_risk_levels_follow_thresholds():
    d = detector(NOTICE, thresholds=Thresholds(high=70, medium=45, low=20))
    assert d.check("通信管理局").risk == "low"
    assert not d.check("通信管理局").scam
    assert d.check("今天天气不错").risk == "none"


def test_negative_group_pulls_score_down():
    d = detector(NOTICE)
    assert d.check("银行提醒：请勿转入所谓安全账户，我们不会索要验证码").score == 20


def test_requires_gates_the_rule():
    d = detector(LOAN)
    assert d.check("放款前要先交手续费").score == 0
    assert d.check("无抵押贷款，放款前要先交手续费").score == 60


def test_non_scam_category_gives_not_scam_verdict():
    v = detector(NOTICE, BILL).check("我的话费扣费有误，想投诉")
    assert not v.scam and v.category == "telecom_complaint" and v.rule == "bill" and v.risk == "none"


def test_scam_beats_complaint_when_both_match():
    v = detector(NOTICE, BILL).check("话费扣费有误，对方让我转到安全账户")
    assert v.scam and v.category == "impersonate_authority"


def test_fuzzy_typo_and_homophone_match():
    d = detector(NOTICE)
    typo = d.check("通信管里局说号码将被冻结")
    assert typo.scam
    claim = next(e for e in typo.evidence if e.group == "claim")
    assert claim.text == "通信管里局" and 75 <= claim.similarity < 100
    assert d.check("通讯管理局说号码将被冻结").scam


def test_english_typo_matches():
    v = detector(NOTICE).check("The comunications administration said my number wil be frozen")
    assert v.scam and {e.group for e in v.evidence} == {"claim", "threat"}


def test_one_typo_per_phrase():
    d = detector(NOTICE)
    for typo in ("通信管里局", "通信管局", "通信管理理局", "通讯信管理局"):  # wrong, missing, extra character
        assert d.check(typo).score >= 20, typo
    assert d.check("通信官里局").score == 0  # two typos: another phrase, not this one


def test_a_typo_cannot_flip_meaning_by_shifting_words():
    # "Don't call" vs "ask me to call": two edits apart, although an
    # insertion plus a deletion (rapidfuzz's Indel distance 2) would join them.
    d = detector(rule("call", group("g", 60, "不要打电话")))
    assert d.check("不要打电话").score == 60
    assert d.check("要我打电话").score == 0


def test_pinyin_input_matches():
    v = detector(NOTICE).check("tongxinguanliju shuo haoma jiang bei dongjie")
    assert v.scam and v.score >= 45


def test_traditional_input_matches_simplified_phrases():
    assert detector(NOTICE).check("通信管理局說號碼將被凍結，轉到安全帳戶").risk == "high"


def test_short_phrases_are_exact_only():
    d = detector(rule("short", group("g", 60, "验证码")))
    assert d.check("验证码").scam
    assert not d.check("验证吗").scam


def test_evidence_spans_point_into_original_text():
    text = "昨天 通 信 管 理 局 打电话，說號碼將被凍結！"
    v = detector(NOTICE).check(text)
    assert v.evidence
    for ev in v.evidence:
        assert text[ev.start:ev.end] == ev.text
    assert any(ev.text.replace(" ", "") == "通信管理局" for ev in v.evidence)


def test_verdict_json_shape_is_stable():
    v = detector(NOTICE).check("通信管理局说号码将被冻结").to_json()
    assert set(v) == {"scam", "risk", "category", "rule", "score", "evidence"}
    assert set(v["evidence"][0]) == {"phrase", "text", "start", "end", "group", "similarity"}


def test_matcher_handles_a_rule_set_without_fuzzy_phrases():
    m = Matcher(ruleset(rule("tiny", group("g", 50, "ab", "cd"))))
    assert [h.phrase for h in m.scan("xx ab yy")] == ["ab"]
    assert m.scan("xxabyy") == []  # English matches whole words only


def test_long_text_only_fuzzy_windows_near_grams():
    filler = "今天天气很好我们去公园散步" * 200
    v = detector(NOTICE).check(filler + "通信管里局说号码将被冻结" + filler)
    assert v.scam


def test_check_is_pure():
    d = detector(NOTICE, LOAN)
    text = "通信管理局说号码将被冻结"
    assert d.check(text) == d.check(text)
