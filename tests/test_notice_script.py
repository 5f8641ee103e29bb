"""The regulator notice's script, signal by signal, alone and combined.

Source: the consumer warning in the Zhejiang Communications Industry
Association's notice on telecom service quality (No. 1 of 2018).
"""

from pathlib import Path

import pytest

from callguard.detect import Detector, load_rules

DETECTOR = Detector(load_rules(Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"))

SIGNALS = {
    "regulator": ["有人打电话说他是通信管理局的工作人员", "A caller said he was from the communications administration"],
    "freeze": ["对方说我的电话号码将被冻结", "He said my phone number will be frozen"],
    "illegal_sms": ["对方说我的号码涉嫌发送违法短信", "They said my number was sending illegal text messages"],
    "id_misused": ["说我的身份证被盗用办了电话卡", "They said my ID card was used to open a phone card for crimes"],
    "transfer": ["然后电话被转接到公安局的民警", "Then the call was transferred to the police"],
    "pressure": ["对方发来逮捕令，要求我保密，不能告诉家人", "They showed me an arrest warrant and told me to keep it secret"],
    "safe_account": ["要我筹钱转到他们提供的办案账号", "They told me to move my savings into a safe account"],
}


@pytest.mark.parametrize("name", SIGNALS)
def test_each_signal_alone_is_noticed(name):
    for text in SIGNALS[name]:
        v = DETECTOR.check(text)
        assert v.risk != "none", (name, text, v)
        assert v.category == "impersonate_authority", (name, text, v)


def test_safe_account_alone_is_a_scam():
    for text in SIGNALS["safe_account"]:
        v = DETECTOR.check(text)
        assert v.scam and v.risk in ("medium", "high"), v


@pytest.mark.parametrize("pair", [("regulator", "freeze"), ("regulator", "illegal_sms"), ("id_misused", "transfer"),
                                  ("transfer", "pressure")])
def test_two_signals_make_a_scam(pair):
    for i in range(2):
        text = "，".join(SIGNALS[name][i] for name in pair)
        v = DETECTOR.check(text)
        assert v.scam and v.category == "impersonate_authority", (text, v)


def test_whole_script_is_high_risk_in_every_language():
    zh = "，".join(texts[0] for texts in SIGNALS.values())
    en = ". ".join(texts[1] for texts in SIGNALS.values())
    hant = "有人自稱通信管理局，說我的號碼涉嫌發送違法短信將被凍結，轉接警方後發來逮捕令，要我把錢轉到安全帳戶"
    for text in (zh, en, hant):
        v = DETECTOR.check(text)
        assert v.risk == "high" and v.category == "impersonate_authority", (text, v)
        assert len(v.evidence) >= 3
