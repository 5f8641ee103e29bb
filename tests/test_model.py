"""The learned second opinion (bot/detect/model.py): features, inference,
the model file, and how it combines with the rules."""

from __future__ import annotations

import math
import zlib

import pytest
from hypothesis import given, strategies as st

from callguard.detect import Detector, load_rules
from callguard.detect.model import (RISK_ORDER, Model, ModelFileError, bucket, combine, features, language,
                                    second_opinion)
from callguard.detect.verdict import Verdict

from .conftest import ROOT

BITS = 16


def model_with(weights: dict[str, float], zh: float = -3.0, en: float = -2.0, medium: float = 0.9,
               low: float = 0.7) -> Model:
    return Model(BITS, {bucket(f, BITS): w for f, w in weights.items()}, {"zh": zh, "en": en}, medium, low, {})


# --------------------------------------------------------------------------- features


def test_chinese_features_are_character_1_to_3_grams():
    assert features("转账给我") == ["c:转", "c:账", "c:给", "c:我", "c:转账", "c:账给", "c:给我", "c:转账给", "c:账给我"]


def test_english_features_are_words_and_word_pairs():
    assert features("Pay the FEE") == ["w:pay", "w:the", "w:pay the", "w:fee", "w:the fee"]


@pytest.mark.parametrize("noisy, clean", [
    ("尊敬的用户，您的积分 12,800 即将过期！请登录 http://jf-10086.cn/a 兑换。", "尊敬的用户您的积分即将过期请登录兑换"),
    ("Pay the £1.99 fee at www.parcel-help.com/x now!!!", "pay the fee at now"),
    ("Call 0800 123 456 or mail help@bank-secure.co.uk today", "call or mail today"),
    ("您好，请联系客服。", "您好请联系客服"),
    ("Pay at www.x.com!! 积分123即将过期", "pay at 积分即将过期"),  # a word and Chinese that touch stay apart
])
def test_punctuation_digits_and_links_leave_no_trace(noisy, clean):
    """The training corpus's Chinese scam SMS have none of these (their
    authors removed them): features must not see them either."""
    assert features(noisy) == features(clean)


def test_traditional_and_full_width_fold_like_the_rules():
    assert features("轉帳給我") == features("转账给我")
    assert features("ＰＡＹ ｎｏｗ") == features("pay now")


def test_language_picks_the_intercept():
    assert language(features("请把验证码告诉我")) == "zh"
    assert language(features("send me the code")) == "en"
    assert language(features("")) == "en"


# --------------------------------------------------------------------------- inference


def test_probability_equals_the_formula_on_hand_made_texts():
    """Reference values computed by hand: sigmoid(intercept + sum(weights) / sqrt(feature count))."""
    model = model_with({"c:验证": 2.0, "c:验证码": 3.0, "w:gift card": 4.0, "w:gift": 1.0})
    # 验证码: 3 unigrams + 2 bigrams + 1 trigram = 6 features; 2.0 + 3.0 weigh.
    assert model.probability("验证码") == pytest.approx(1 / (1 + math.exp(-(-3.0 + 5.0 / math.sqrt(6)))))
    # "buy a gift card": 4 words + 3 pairs = 7 features; "gift" and "gift card" weigh.
    assert model.probability("Buy a gift card!") == pytest.approx(1 / (1 + math.exp(-(-2.0 + 5.0 / math.sqrt(7)))))
    assert model.probability("hello there") == pytest.approx(1 / (1 + math.exp(2.0)))
    assert model.probability("123 !!! ...") == 0.0  # nothing to judge


def test_a_long_text_is_judged_on_its_first_4096_characters():
    model = model_with({"w:gift": 5.0})
    assert model.probability("hello " * 700 + "gift") == model.probability("hello " * 700)


# --------------------------------------------------------------------------- the file


def test_file_round_trip(tmp_path):
    model = model_with({"c:验证码": 3.0, "w:gift card": -0.5}, medium=0.93, low=0.71)
    path = tmp_path / "m.cgm"
    model.save(path)
    loaded = Model.load(path)
    assert (loaded.bits, loaded.medium, loaded.low, dict(loaded.intercepts)) == (BITS, 0.93, 0.71, {"zh": -3.0, "en": -2.0})
    for text in ("验证码", "gift card please", "无关的话"):
        assert loaded.probability(text) == pytest.approx(model.probability(text), abs=1e-6)  # float32 weights


def _corrupt(data: bytes, how: str) -> bytes:
    head_end = 8 + 4 + int.from_bytes(data[8:12], "little")
    return {
        "not a model": b"PK\x03\x04 this is a zip file",
        "truncated header": data[:20],
        "truncated weights": data[: head_end + 5],
        "bad json": data[:12] + b"{" * (head_end - 12) + data[head_end:],
        "other version": data.replace(b'"format": 1', b'"format": 9'),
        "count mismatch": data.replace(b'"count": 1', b'"count": 7'),
    }[how]


@pytest.mark.parametrize("how, says", [
    ("not a model", "does not start with the CallGuard model header"),
    ("truncated header", "cut short"),
    ("truncated weights", "weights are corrupt"),
    ("bad json", "header is not valid JSON"),
    ("other version", "format version 9"),
    ("count mismatch", "announces 7 weights"),
])
def test_bad_model_files_give_a_clear_message(tmp_path, how, says):
    path = tmp_path / "m.cgm"
    path.write_bytes(_corrupt(model_with({"w:gift": 1.0}).to_bytes(), how))
    with pytest.raises(ModelFileError, match=says) as caught:
        Model.load(path)
    assert str(path) in str(caught.value)


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelFileError, match="cannot read the model file"):
        Model.load(tmp_path / "nope.cgm")


def test_weights_are_stored_compressed_and_little_endian():
    data = model_with({"w:gift": 1.5}).to_bytes()
    head_end = 8 + 4 + int.from_bytes(data[8:12], "little")
    body = zlib.decompress(data[head_end:])
    assert int.from_bytes(body[:4], "little") == bucket("w:gift", BITS)


# --------------------------------------------------------------------------- combining with the rules


@given(st.sampled_from(RISK_ORDER), st.floats(0, 1), st.floats(0.01, 1), st.floats(0.01, 1))
def test_combine_never_lowers_a_rule_verdict(risk, p, a, b):
    low, medium = sorted((a, b))
    model = model_with({}, medium=medium, low=low)
    result = combine(risk, p, model)
    assert RISK_ORDER.index(result) >= RISK_ORDER.index(risk)
    if p < low:
        assert result == risk
    if result != risk:
        assert result in ("low", "medium") and p >= low


def test_combine_thresholds():
    model = model_with({}, medium=0.9, low=0.7)
    assert [combine("none", p, model) for p in (0.5, 0.7, 0.89, 0.9)] == ["none", "low", "low", "medium"]
    assert [combine("low", p, model) for p in (0.5, 0.8, 0.95)] == ["low", "low", "medium"]
    assert combine("high", 0.99, model) == "high" and combine("medium", 0.0, model) == "medium"


def test_second_opinion_keeps_the_rules_category_and_evidence():
    model = model_with({"w:gift": 9.0, "w:card": 9.0, "w:gift card": 9.0})
    low = Verdict(False, "low", "phishing", "some-rule", 30)
    raised = second_opinion(low, "gift card", model)
    assert (raised.scam, raised.risk, raised.category, raised.rule, raised.score) == (True, "medium", "phishing", "some-rule", 30)
    high = Verdict(True, "high", "phishing", "r", 90)
    assert second_opinion(high, "gift card", model) is high
    none = Verdict(False, "none", None, None, 0)
    assert second_opinion(none, "hello", model) is none


@pytest.fixture(scope="module")
def ruleset():
    return load_rules(ROOT / "rules" / "scam_patterns.yaml")


def test_detector_hook_raises_only_with_a_model(ruleset):
    text = "The quokka ate the marmalade"  # nothing any scam rule looks for
    plain = Detector(ruleset)
    assert plain.model is None
    assert plain.check(text).risk == "none"
    sure = model_with({"w:quokka": 20.0})
    with_model = Detector(ruleset, model=sure)
    assert with_model.check(text).scam and with_model.check(text).risk == "medium"
    assert with_model.explain(text).verdict == with_model.check(text)
    assert Detector(ruleset, with_model).model is sure  # a reload keeps the model
    hopeless = model_with({}, zh=-30, en=-30)  # the model says "no" to everything
    scam = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"
    assert Detector(ruleset, model=hopeless).check(scam) == plain.check(scam)
