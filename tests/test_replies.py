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
    text = replies.verdict_reply(v, RULESET, lang, html=False, text=SCAM)
    assert text.startswith(replies.ui("risk.high", lang))  # the verdict line first
    assert RULESET.categories[v.category].name[lang] in text
    assert "通信管理局" in text  # the phrase that gave it away, as the user wrote it
    assert RULESET.texts["warning"][lang] in text  # a fake-authority story: the regulator's warning fits
    rule = next(r for r in RULESET.rules if r.id == v.rule)
    assert rule.advice[lang][0] in text


def test_medium_reply_says_how_to_check():
    v = Verdict(True, "medium", "impersonate_authority", RULESET.rules[0].id, 50)
    assert RULESET.texts["verify"]["en"] in replies.verdict_reply(v, RULESET, "en")


NO_MATCH = "Someone called to ask what we eat tonight and whether I need anything"


@pytest.mark.parametrize("lang", LANGS)
def test_no_match_never_reassures_and_asks_what_decides_it(lang):
    v = DETECTOR.check(NO_MATCH)
    assert v.risk == "none"
    text = replies.verdict_reply(v, RULESET, lang, html=False, text=NO_MATCH, region=RULESET.regions["CN"])
    assert text.startswith(replies.ui("risk.none", lang))  # what was checked, and that nothing matched
    assert "✅" not in text and "safe" not in text.replace("not mean it is safe", "")
    assert replies.ui("none.not_safe", lang) in text
    assert replies.ui("ask.who", lang) in text and replies.ui("ask.what", lang) in text
    assert "110" in text  # and what to do if money is already gone


@pytest.mark.parametrize("kind, text, numbers", [
    ("story", NO_MATCH, ()), ("link", "http://icbc-verify.top/login", ()),
    ("number", "+44 7700 900123", ("+44 7700 900123",))])
def test_no_match_gives_the_regions_first_step_if_money_has_gone(kind, text, numbers):
    """In the UK the first step is the bank (159), not 999: the same line as under a warning,
    and the region's line to ask once (a link's or a number's answer already names it)."""
    gb = RULESET.regions["GB"]
    verdict = replies.Verdict(False, "none", None, None, 0)
    out = replies.verdict_reply(verdict, RULESET, "en", html=False, text=text, region=gb, numbers=list(numbers))
    assert replies.message_kind(text, numbers) == kind
    _, paid = replies.help_lines(RULESET, "en", gb)
    assert paid in out and "159" in paid and "999" not in out.replace(gb.emergency["en"][1], "")
    assert out.count("Report Fraud (0300 123 2040") == 1


@pytest.mark.parametrize("text, lang", [
    ("Someone called saying they were from my bank and asked me to confirm my address", "en"),
    ("A man from the tax office phoned and asked if I still live at the same address", "en"),
    ("有个说是派出所的民警打电话来，问我家里几口人", "zh-Hans"),
    ("有個說是派出所的員警打電話來，問我家裡幾口人", "zh-Hant"),
    ("Karen here (CEO). You at your desk?", "en"),
])
def test_no_match_does_not_ask_who_they_were_when_the_text_says_it(text, lang):
    v = DETECTOR.check(text)
    assert v.risk == "none"
    reply = replies.verdict_reply(v, RULESET, lang, html=False, text=text, region=RULESET.regions["CN"])
    assert replies.ui("ask.who", lang) not in reply and replies.ui("ask.title", lang) not in reply
    assert replies.ui("ask.title_one", lang) + "\n" in reply and replies.ui("ask.what", lang) in reply
    assert replies.ui("none.not_safe", lang) in reply and "110" in reply  # the rest as before


def test_bare_link_gets_its_own_answer():
    text = "http://icbc-verify.top/login"
    out = replies.verdict_reply(DETECTOR.check(text) if DETECTOR.check(text).risk == "none"
                                else replies.Verdict(False, "none", None, None, 0), RULESET, "en", html=False,
                                text=text)
    assert out.startswith(replies.ui("link.title", "en"))
    assert "“icbc-verify.top”" in out and replies.ui("link.next", "en") in out
    assert replies.message_kind("請看 www.example.com/x") == "link"


@pytest.mark.parametrize("text, host", [("Is this legit? bit.ly/3xYz", "bit.ly"), ("goo.gl/a1B2c3", "goo.gl"),
                                        ("這個連結安全嗎 https://t.co/AbC", "t.co")])
def test_a_short_link_with_a_question_gets_the_link_answer(text, host):
    """Short links (bit.ly, goo.gl, t.co) are links as the rules' {link} finds them."""
    assert replies.message_kind(text) == "link"
    out = replies.verdict_reply(replies.Verdict(False, "none", None, None, 0), RULESET, "en", html=False, text=text)
    assert out.startswith(replies.ui("link.title", "en")) and f"“{host}”" in out


def test_bare_number_says_what_we_know():
    verdict = replies.Verdict(False, "none", None, None, 0)
    out = replies.verdict_reply(verdict, RULESET, "en", html=False, text="+86 138 0013 8000",
                                numbers=["+86 138 0013 8000"], number_counts={"+86 138 0013 8000": 5})
    assert out.startswith(replies.ui("number.title", "en"))
    assert "reported 5 times" in out and out.count("reported 5 times") == 1
    assert replies.ui("number.next", "en") in out and "✅" not in out
    unseen = replies.verdict_reply(verdict, RULESET, "zh-Hans", html=False, text="0912 345 678",
                                   numbers=["+886 912 345 678"])
    assert "没有人向我们举报过 +886 912 345 678" in unseen and "不代表安全" in unseen


def test_one_line_question_is_too_short_to_judge():
    verdict = replies.Verdict(False, "none", None, None, 0)
    out = replies.verdict_reply(verdict, RULESET, "en", html=False, text="Is this a scam?")
    assert out.startswith(replies.ui("short.title", "en")) and replies.ui("ask.who", "en") in out


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


def _evidence_line(story: str, *spans: tuple[int, int]) -> str:
    evidence = tuple(Evidence("p", story[a:b], a, b, "g", 100) for a, b in spans)
    v = Verdict(True, "high", "impersonate_authority", RULESET.rules[0].id, 90, evidence)
    text = replies.verdict_reply(v, RULESET, "en", html=False, text=story)
    return next(line for line in text.splitlines() if line.startswith(replies.ui("evidence", "en")))


def test_evidence_pieces_next_to_each_other_are_one_quote_and_lone_function_words_go():
    story = "HMRC said there is a warrant for my arrest, then put me through to the police"

    def at(word: str, after: int = 0) -> tuple[int, int]:
        start = story.index(word, after)
        return start, start + len(word)

    line = _evidence_line(story, at("HMRC"), at("warrant"), at("for"), at("put"), at("through to"),
                          at("the", 60), at("police"))
    assert line.endswith("“HMRC” “warrant for” “put”"), line  # at most three quotes, each whole
    line = _evidence_line(story, at("HMRC"), at("for"), at("through to"), at("the", 60), at("police"))
    assert line.endswith("“HMRC” “through to the police”"), line  # "for" alone says nothing


def test_evidence_from_another_text_is_quoted_as_it_is():
    line = _evidence_line("something else entirely", (0, 4))
    assert "“some”" in line


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
    text = replies.emergency_reply(RULESET, lang, html=True, region=RULESET.regions["CN"])
    assert "110" in text and "96110" in text
    assert text.count("\n") >= 3


@pytest.mark.parametrize("lang", LANGS)
def test_family_warning_names_the_scam(lang):
    text = replies.family_warning(RULESET, "impersonate_authority", lang)
    assert RULESET.categories["impersonate_authority"].name[lang] in text


def test_ui_fills_the_region_or_says_it_generically():
    assert "馬上打110" in replies.ui("help", "zh-Hant", region=RULESET.regions["TW"])
    assert "Call 999 now" in replies.ui("help", "en", region=RULESET.regions["GB"])
    assert replies.ui("help", "en", region=None).count("your local emergency number") == 1


@pytest.mark.parametrize("answer, sent", [
    ("是", True), ("是的，已经转了", True), ("已經轉了", True), ("yes", True), ("Y", True),
    ("I already sent money", True), ("I paid them 5000", True), ("they wired it? yes", True),
    ("还没有", False), ("沒有", False), ("不知道", False), ("no", False), ("not yet", False),
    ("I don't know", False), ("I haven't", False), ("nope", False), ("", False), ("你好", False),
])
def test_typed_answer_to_money_question(answer, sent):
    from callguard.telegram.handlers import said_money_sent

    assert said_money_sent(answer) is sent


@pytest.mark.parametrize("answer, sent", [
    ("係", True), ("係呀", True), ("有", True), ("有，轉咗五萬", True), ("俾咗佢哋錢", True),
    ("冇", False), ("唔係", False), ("冇呀，仲未", False), ("唔知", False), ("冇轉", False),
])
def test_typed_answer_to_money_question_in_cantonese(answer, sent):
    """Hong Kong users answer 係呀 / 有 ("yes") and 冇 / 唔係 ("no")."""
    from callguard.telegram.handlers import said_money_sent

    assert said_money_sent(answer) is sent


def test_low_risk_reply_names_what_looked_suspicious_and_the_two_checks():
    rule = RULESET.rules[0]
    v = Verdict(False, "low", rule.category, rule.id, 25, (Evidence("通信管理局", "通信管理局", 0, 5, "claim", 100),))
    text = replies.verdict_reply(v, RULESET, "zh-Hans", html=False)
    assert text.startswith(replies.ui("risk.low", "zh-Hans"))
    assert RULESET.categories[rule.category].name["zh-Hans"] in text and "“通信管理局”" in text
    assert replies.ui("low.checks", "zh-Hans") + "\n1. " + replies.ui("low.check1", "zh-Hans") in text
    assert "2. " + replies.ui("low.check2", "zh-Hans") in text


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "en"])
def test_low_risk_first_check_fits_the_kind(lang):
    """A doubtful 'new number' message is settled by calling the number you already had,
    not by calling an official line; kinds without their own check keep the generic one."""
    for category, key in [("impersonate_acquaintance", "low.check1.impersonate_acquaintance"),
                          ("impersonate_authority", "low.check1")]:
        rule = _scam_rule(category)
        v = Verdict(False, "low", category, rule.id, 25)
        text = replies.verdict_reply(v, RULESET, lang, html=False)
        assert replies.ui("low.checks", lang) + "\n1. " + replies.ui(key, lang) + "\n2. " in text
    assert replies.ui("low.check1.impersonate_acquaintance", lang) != replies.ui("low.check1", lang)


def _scam_rule(category: str):
    return next(r for r in RULESET.rules if r.category == category)


@pytest.mark.parametrize("category", ["impersonate_acquaintance", "online_romance", "fake_job"])
def test_regulator_warning_only_where_it_applies(category):
    rule = _scam_rule(category)
    v = Verdict(True, "high", category, rule.id, 90)
    story = rule.examples_match[0]
    text = replies.verdict_reply(v, RULESET, "en", html=False, text=story)
    assert RULESET.texts["warning"]["en"] not in text and RULESET.texts["source"]["en"] not in text
    telecom = replies.verdict_reply(v, RULESET, "en", html=False, text=story + " and said my SIM card will be cut")
    assert RULESET.texts["warning"]["en"] in telecom and RULESET.texts["source"]["en"] in telecom


ENGLISH_SCAMS = [
    "A man said he was from the communications administration, my number will be frozen and I must move "
    "my money to a safe account",
    "Someone from the police said my bank card was used for money laundering and I must transfer my savings "
    "to a safe account and tell nobody",
]


@pytest.mark.parametrize("story", ENGLISH_SCAMS)
def test_english_scam_reply_is_short(story):
    v = DETECTOR.check(story)
    assert v.scam
    text = replies.verdict_reply(v, RULESET, "en", html=False, text=story, region=RULESET.regions["GB"])
    assert text.startswith(replies.ui(f"risk.{v.risk}", "en"))
    assert len(text.split()) < 120, len(text.split())


def _english_scam_examples() -> list[str]:
    from callguard.detect import detect_language

    return [t for r in RULESET.rules for t in r.examples_match if detect_language(t) == "en"]


@pytest.mark.parametrize("region", ["GB", None])
def test_every_english_scam_reply_is_under_120_words(region):
    """Issue 11: under 120 words before the buttons, medium risk (with its "how to check")
    and fake-authority stories (with the regulator's warning) included; what does not fit
    is the regulator's warning and its source line, dropped before anything else."""
    longest = (0, "")
    for story in _english_scam_examples():
        v = DETECTOR.check(story)
        if not v.scam:
            continue
        text = replies.verdict_reply(v, RULESET, "en", html=False, text=story,
                                     region=RULESET.regions.get(region or ""))
        assert text.startswith(replies.ui(f"risk.{v.risk}", "en"))
        longest = max(longest, (len(text.split()), story))
    assert longest[0] < 120, longest


def test_the_regulators_warning_is_kept_when_it_fits():
    story = ENGLISH_SCAMS[0]
    v = DETECTOR.check(story)
    assert v.risk == "high" and v.category == "impersonate_authority"
    text = replies.verdict_reply(v, RULESET, "en", html=False, text=story, region=RULESET.regions["CN"])
    assert RULESET.texts["warning"]["en"] in text


def test_advice_steps_follow_the_users_region():
    rule = RULESET.rules[0]
    advice = {**rule.advice, "en": ("Hang up.", "Ask {telecom_regulator} to check.",
                                    "Forward the text to {spam_sms}.")}
    rules = tuple(replace(r, advice=advice) if r.id == rule.id else r for r in RULESET.rules)
    ruleset = replace(RULESET, rules=rules)
    v = Verdict(True, "high", rule.category, rule.id, 90)
    cn = replies.verdict_reply(v, ruleset, "en", html=False, region=RULESET.regions["CN"])
    tw = replies.verdict_reply(v, ruleset, "en", html=False, region=RULESET.regions["TW"])
    gb = replies.verdict_reply(v, ruleset, "en", html=False, region=RULESET.regions["GB"])
    assert "Ask the MIIT's 12381 line to check." in cn
    assert "MIIT" not in tw and "Forward the text" not in tw and "1. Hang up." in tw
    assert "Forward the text to 7726." in gb and "MIIT" not in gb


@pytest.mark.parametrize("code, first", [("CN", "110"), ("TW", "165"), ("HK", "18222"), ("GB", "159"),
                                         ("US", "ReportFraud"), ("AU", "bank"), ("SG", "bank"), ("MY", "997")])
def test_emergency_steps_are_the_regions(code, first):
    region = RULESET.regions[code]
    text = replies.emergency_reply(RULESET, "en", html=False, region=region)
    lines = text.splitlines()
    assert lines[0] == replies.ui("emergency.title", "en")
    assert first in text and region.name["en"] in text
    if code != "CN":
        assert "96110" not in text


def test_emergency_steps_without_a_region_name_no_countrys_numbers():
    text = replies.emergency_reply(RULESET, "en", html=False, region=None)
    assert "110" not in text and "your local emergency number" in text and "/region" in text


def test_a_complaint_with_scam_words_is_not_called_not_a_scam():
    """Scam rules saw something (risk low) beside a service complaint: the reply does not say
    "not a scam", and ends with the check that settles it."""
    unsure_text = "电信公司这个月多扣了我五十块话费，客服说会退"
    unsure = DETECTOR.check(unsure_text)
    assert (unsure.category, unsure.risk) == ("telecom_complaint", "low")
    reply = replies.verdict_reply(unsure, RULESET, "zh-Hans", html=False, text=unsure_text,
                                  region=RULESET.regions["CN"])
    assert reply.startswith(replies.ui("complaint.low", "zh-Hans")) and "不像诈骗" not in reply
    assert reply.rstrip().endswith(replies.ui("low.check2", "zh-Hans"))

    plain_text = "我要投诉：家里宽带坏了一个星期，报修了都没人来修"
    plain = DETECTOR.check(plain_text)
    assert (plain.category, plain.risk) == ("telecom_complaint", "none")
    reply = replies.verdict_reply(plain, RULESET, "zh-Hans", html=False, text=plain_text,
                                  region=RULESET.regions["CN"])
    assert reply.startswith(replies.ui("complaint", "zh-Hans")) and replies.ui("low.check2", "zh-Hans") not in reply


@pytest.mark.parametrize("code", ["CN", "TW", "HK", "SG", "MY", "GB", "US", "AU", None])
@pytest.mark.parametrize("risk", ["high", "medium", "low"])
def test_every_warning_names_the_regions_help_line_and_first_step_if_money_has_gone(code, risk):
    """A person being scammed right now reads who to ask (their region's anti-scam line) and
    what to do first if they already paid, in the verdict itself, not only behind a button."""
    region = RULESET.regions.get(code or "")
    v = Verdict(risk != "low", risk, "impersonate_authority", RULESET.rules[1].id, 90)
    # An English reply stays under 120 words: there these lines give way to the steps first.
    for lang in LANGS if risk == "high" else ("zh-Hans", "zh-Hant"):
        text = replies.verdict_reply(v, RULESET, lang, html=False, region=region)
        first = (region.emergency[lang][0] if region else
                 replies.ui("police.generic", lang))
        scam_line = region.values(lang)["scam_line"] if region else replies.ui("scam_line.generic", lang)
        assert scam_line in text, (code, lang, text)
        assert first.split("。")[0].split(". ")[0].split(", ")[0] in text, (code, lang, text)


@pytest.mark.parametrize("lang", LANGS)
def test_someone_who_gave_nothing_hears_it_was_right_under_the_warning(lang):
    story = "有人自称公安说我涉嫌洗钱，要我转到安全账户，我直接挂了，啥都没给"
    v = DETECTOR.check(story)
    assert v.scam
    text = replies.verdict_reply(v, RULESET, lang, html=False, text=story)
    assert text.startswith(replies.ui(f"risk.{v.risk}", lang))  # still the warning first
    assert replies.ui("averted", lang) in text
    paid = "有人自称公安说我涉嫌洗钱，我什么都没转，但把验证码告诉他了"
    assert replies.ui("averted", lang) not in replies.verdict_reply(DETECTOR.check(paid), RULESET, lang,
                                                                     html=False, text=paid)


# A scam's story worded as a warning: the verdict stays "not a scam" (news and notices are not
# scams), but the reply names the scam and what to do; it never says nothing matched.
WARNED = [
    ("PSA: Mum got a call that her phone line would be cut off, then they put her through to another officer "
     "and she told him her online banking password", "en"),
    ("提醒大家：电话局的人说我的手机号被用来诈骗，要停机，然后把我转接给另一位警官做笔录", "zh-Hans"),
    ("警方提醒：近期有骗子冒充公检法，要求把钱转到安全账户，凡是这样的都是诈骗", "zh-Hans"),
]


@pytest.mark.parametrize("text, lang", WARNED)
def test_a_scam_story_worded_as_a_warning_names_the_scam(text, lang):
    v = DETECTOR.check(text)
    assert not v.scam and v.warns_of is not None
    assert DETECTOR.explain(text).verdict == v  # the admin's /why sees the same
    story = next(r for r in RULESET.rules if r.id == v.warns_of)
    for reply_lang in LANGS:
        reply = replies.verdict_reply(v, RULESET, reply_lang, html=False, text=text, region=RULESET.regions["CN"])
        assert reply.startswith(replies.ui("warns.title", reply_lang))
        assert RULESET.categories[story.category].name[reply_lang] in reply
        assert story.advice[reply_lang][0] in reply
        assert replies.ui("risk.none", reply_lang) not in reply and replies.ui("none.not_safe", reply_lang) not in reply


@pytest.mark.parametrize("text", [
    "Your code is 123456. Do not share it with anyone.",  # other counter-evidence: not a warning's words
    "明天下午三点开会，记得带电脑",
    "Saw on the news that it will rain all week",  # warning words, no scam story
])
def test_warns_of_only_for_a_scam_story_held_down_by_warning_words(text):
    v = DETECTOR.check(text)
    assert v.warns_of is None and "warns_of" not in v.to_json()


def test_warns_of_is_in_the_batch_format_when_set():
    assert DETECTOR.check(WARNED[0][0]).to_json()["warns_of"] == DETECTOR.check(WARNED[0][0]).warns_of


def test_warn_my_family_names_the_story_of_a_warning():
    v = DETECTOR.check(WARNED[2][0])
    story = next(r for r in RULESET.rules if r.id == v.warns_of)
    assert v.category != story.category and replies.named_category(v, RULESET) == story.category
    scam = DETECTOR.check(SCAM)
    assert replies.named_category(scam, RULESET) == scam.category


@pytest.mark.parametrize("region", ["GB", None])
def test_every_english_warning_story_reply_is_under_120_words(region):
    """The same cap for a scam's story worded as a warning: the rule examples after "PSA:"
    (the story's third step gives way first, as in a scam reply)."""
    longest, seen = (0, ""), 0
    for story in _english_scam_examples():
        text = "PSA: " + story
        v = DETECTOR.check(text)
        if v.scam or v.warns_of is None:
            continue
        seen += 1
        reply = replies.verdict_reply(v, RULESET, "en", html=False, text=text, region=RULESET.regions.get(region or ""))
        assert reply.startswith(replies.ui("warns.title", "en"))
        longest = max(longest, (len(reply.split()), text))
    assert seen > 100 and longest[0] < 120, (seen, longest)


def _warns_of_by_scoring_every_rule(text):
    """warns_of's definition, by scoring every rule (what Detector.warns_of did before it
    ranked): the best specific rule, else the fallback, at medium risk or above once its hits
    through warning words in counter-groups are left out."""
    from callguard.detect.ranking import clamp
    from callguard.detect.verdict import _FALLBACK, _NOTICE_SLOT, _SPECIFIC

    medium, best = RULESET.thresholds.medium, None
    for s in DETECTOR.matcher.scores(DETECTOR.matcher.read(text)):
        kind = DETECTOR._kinds[s.hits[0].rule]
        if kind not in (_SPECIFIC, _FALLBACK):
            continue
        groups = s.rule.groups
        kept = [h for h in s.hits if not (groups[h.group].weight < 0 and _NOTICE_SLOT in h.phrase)]
        if len(kept) == len(s.hits) or not s.rule.met({groups[h.group].name for h in kept}):
            continue
        score = clamp(sum(groups[h.group].weight * h.similarity for h in kept))
        if score >= medium and (best is None or (kind, -score) < best[:2]):
            best = (kind, -score, s.rule.id)
    return best[2] if best else None


def test_warns_of_ranked_names_the_story_scoring_every_rule_would():
    """warns_of ranks the rules as check does (a crafted text full of rule words and one "PSA"
    must not cost a full scoring of the rule set): the story it names is the same. Counter-groups
    of warning words and other counter-evidence together (a code message's "do not share it")
    are the subtle case: their hit counts again when it was not through warning words."""
    frames = {True: ("提醒大家：{x}", "{x} 大家小心"), False: ("PSA: {x}", "{x} Be careful out there.")}
    texts = [f.format(x=x) for r in RULESET.rules for x in r.examples_match[:6]
             for f in frames[any("\u4e00" <= c <= "\u9fff" for c in x)]]
    texts += [x for r in RULESET.rules for x in r.examples_no_match[:4]]
    # A bank's own code message: its "we'll never ask for this code" is counter-evidence as well as
    # warning words, and names no story (left out with the warning words, it would).
    texts.append("Your NatWest code is 551 204. It expires in 10 minutes. We'll never ask for this code "
                 "on a call or text. Don't share it.")
    named = 0
    for text in texts:
        v = DETECTOR.check(text)
        if v.scam or not DETECTOR._has_warning_words(DETECTOR.matcher.read(text)):
            continue
        assert v.warns_of == _warns_of_by_scoring_every_rule(text), text
        named += v.warns_of is not None
    assert named > 100  # the comparison saw many stories, not only None == None


def test_a_relative_who_was_called_is_still_asked_who_called():
    """Families describe calls to a parent: "my dad" is who was called, not who called."""
    text = "My dad got a strange call this morning and they asked him some questions"
    assert DETECTOR.check(text).risk == "none"
    reply = replies.verdict_reply(DETECTOR.check(text), RULESET, "en", html=False, text=text,
                                  region=RULESET.regions["GB"])
    assert replies.ui("ask.who", "en") in reply
