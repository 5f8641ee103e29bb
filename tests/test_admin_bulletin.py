"""The public bulletin (callguard.bulletin): pure text from Stats + RuleSet + language."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timezone
from types import MappingProxyType

import pytest

from callguard.bulletin import HOT_TOPICS, bulletin
from callguard.detect.schema import LANGUAGES, REQUIRED_CATEGORIES, Category
from callguard.storage import NO_CATEGORY, Stats, percentages, ratio_rows
from tests import factories

SINCE = datetime(2026, 10, 1, tzinfo=timezone.utc).timestamp()
UNTIL = datetime(2026, 10, 31, tzinfo=timezone.utc).timestamp()

NAMES = {
    "impersonate_authority": ("冒充公检法或政府机关", "冒充公檢法或政府機關", "Impersonating police, courts or government"),
    "impersonate_customer_service": ("冒充客服", "冒充客服", "Fake customer service"),
    "fake_loan": ("虚假贷款", "虛假貸款", "Fake loans"),
    "telecom_complaint": ("电信服务投诉", "電信服務投訴", "Telecom service complaints"),
}


def _ruleset():
    base = factories.ruleset()
    categories = {}
    for cid in REQUIRED_CATEGORIES:
        names = NAMES.get(cid, (f"类{cid}", f"類{cid}", f"Cat {cid}"))
        how = {lang: f"{cid} how ({lang})\n  goes like this" for lang in LANGUAGES}
        categories[cid] = Category(cid, cid != "telecom_complaint", MappingProxyType(dict(zip(LANGUAGES, names))),
                                   MappingProxyType(how))
    texts = dict(base.texts)
    texts["warning"] = MappingProxyType({lang: f"WARNING-{lang}" for lang in LANGUAGES})
    texts["source"] = MappingProxyType({lang: f"SOURCE-{lang}" for lang in LANGUAGES})
    return type(base)(rules=base.rules, categories=MappingProxyType(categories), texts=MappingProxyType(texts),
                      thresholds=base.thresholds, digest="test")


RULES = _ruleset()


def stats(counts: dict[str, int]) -> Stats:
    rows = ratio_rows(list(counts.items()))
    return Stats(total=sum(counts.values()), by_category=rows, by_risk=[], top_numbers=[], rules_feedback=[],
                 money_sent=0, since=SINCE, until=UNTIL)


COUNTS = {"impersonate_authority": 259, "impersonate_customer_service": 147, "fake_loan": 68,
          "telecom_complaint": 4, NO_CATEGORY: 13, "phishing": 1}


def test_chinese_bulletin_reads_like_the_notice():
    text = bulletin(stats(COUNTS), RULES, "zh-Hans")
    lines = text.splitlines()
    assert lines[0] == "CallGuard 防范电信网络诈骗通报"
    summary = next(line for line in lines if "共收到用户举报" in line)
    assert summary.startswith("2026年10月1日至2026年10月31日，CallGuard 共收到用户举报 492 件。其中：")
    # the notice's own figures (259 of 492...): largest remainders make the one-decimal shares add up to 100
    assert "涉及冒充公检法或政府机关的 259 件，占 52.7%；涉及冒充客服的 147 件，占 29.9%；" in summary
    assert "涉及电信服务投诉的 4 件，占 0.8%；" in summary
    # the unclassified reports come last, like "其他" in the notice
    assert summary.endswith("未发现明显诈骗特征的 13 件，占 2.6%。")
    assert lines[-3:] == ["WARNING-zh-Hans", "", "SOURCE-zh-Hans"]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_category_once_and_percentages_add_up_to_100(lang):
    text = bulletin(stats(COUNTS), RULES, lang)
    summary = text.split("\n\n")[1]
    pcts = [float(p) for p in re.findall(r"(\d+\.\d)%", summary)]
    assert len(pcts) == len(COUNTS)
    assert round(sum(pcts), 1) == 100.0
    assert sorted(pcts) == sorted(percentages(list(COUNTS.values())))
    for cid, count in COUNTS.items():
        if cid != NO_CATEGORY:
            assert RULES.categories[cid].name[lang].lower() in summary.lower()
        assert f"{count}" in summary


def test_hot_topics_are_the_top_three_scam_types_with_how_they_go():
    counts = {"fake_loan": 10, "telecom_complaint": 50, "impersonate_authority": 30, "phishing": 20,
              "game_trade": 5, NO_CATEGORY: 99}
    text = bulletin(stats(counts), RULES, "en")
    hot = text.split("2. Hot topics\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert len(hot) == HOT_TOPICS
    # not-a-scam complaints and unclassified reports are never a "scam type"
    assert hot[0] == "1. Impersonating police, courts or government: impersonate_authority how (en) goes like this"
    assert hot[1].startswith("2. Cat phishing: phishing how (en)")
    assert hot[2].startswith("3. Fake loans: fake_loan how (en)")


def test_english_bulletin_sentence():
    text = bulletin(stats({"impersonate_authority": 3, "fake_loan": 1}), RULES, "en")
    assert ("From 1 October 2026 to 31 October 2026, CallGuard received 4 reports from the public. Of these, "
            "3 concerned impersonating police, courts or government (75.0%); and 1 concerned fake loans (25.0%)."
            ) in text
    assert text.endswith("WARNING-en\n\nSOURCE-en")


def test_traditional_chinese():
    text = bulletin(stats({"impersonate_authority": 1}), RULES, "zh-Hant")
    assert "共收到民眾舉報 1 件。其中：涉及冒充公檢法或政府機關的 1 件，佔 100.0%。" in text
    assert "SOURCE-zh-Hant" in text


def test_no_reports():
    text = bulletin(stats({}), RULES, "zh-Hans")
    assert "没有收到用户举报" in text and "这段时间没有诈骗类举报" in text and "WARNING-zh-Hans" in text
    assert "%" not in text


def test_a_category_the_rules_no_longer_have_is_shown_by_id():
    text = bulletin(stats({"retired_category": 2, "fake_loan": 2}), RULES, "en")
    assert "2 concerned retired_category (50.0%)" in text
    assert "retired_category" not in text.split("2. Hot topics", 1)[1]


def test_unknown_language_falls_back_to_chinese():
    assert bulletin(stats({"fake_loan": 1}), RULES, "fr") == bulletin(stats({"fake_loan": 1}), RULES, "zh-Hans")


def test_warnings_passed_on_get_one_sentence_with_the_scam_warned_of_most():
    """Warnings people forwarded are filed under their verdict's category (usually "no clear
    scam pattern") in the counts; one sentence says how many there were and of what."""
    with_warnings = replace(stats({"impersonate_authority": 3, NO_CATEGORY: 5}),
                            warnings_by_category=[("impersonate_authority", 3, 75.0), ("fake_loan", 1, 25.0)])
    en = bulletin(with_warnings, RULES, "en")
    assert ("5 showed no clear scam pattern (62.5%). 4 of the reports were warnings about a scam that people "
            "passed on, most often about impersonating police, courts or government.") in en
    assert "其中4件是群众转发的防骗提醒，提醒最多的是冒充公检法或政府机关。" in bulletin(with_warnings, RULES, "zh-Hans")
    assert "其中4件是民眾轉發的防騙提醒，提醒最多的是冒充公檢法或政府機關。" in bulletin(with_warnings, RULES, "zh-Hant")
    assert "passed on" not in bulletin(stats({"impersonate_authority": 3, NO_CATEGORY: 5}), RULES, "en")
    retired = replace(with_warnings, warnings_by_category=[("retired_category", 2, 100.0)])
    assert "passed on" not in bulletin(retired, RULES, "en")  # nothing to name: no sentence rather than an id
