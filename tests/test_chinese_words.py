"""Evidence quotes whole Chinese words, never a word cut in the middle (issue 11, section 3)."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard import replies
from callguard.detect import Detector, load_rules
from callguard.detect import verdict as verdict_module
from callguard.detect.chinese_words import MAX_EXTRA, whole_chinese_words
from callguard.detect.normalize import is_cjk

ROOT = Path(__file__).resolve().parent.parent
RULESET = load_rules(ROOT / "rules" / "scam_patterns.yaml")
DETECTOR = Detector(RULESET)


def quotes(text: str) -> list[str]:
    """The quotes a reply shows for ``text``, without the quotation marks."""
    return replies._evidence_pieces(DETECTOR.check(text), text)


# Rule examples whose quote cut a word before (the audit of issue 11): the story, and a word of it
# that the evidence touches. Before, the quote was "儿子用新号", "要他平安就先打两万", ...
CUT_BEFORE = [
    ("我儿子用新号码发短信说手机掉了，急需五千块交学费", "号码"),
    ("你是小刘的家长吗？他在学校出了点事，被人带走了，想要他平安就先打两万到这个账户", "想要"),
    ("网上认识的女孩约我裸聊，结果被录了视频，对方威胁要发给我通讯录里的人，要我转两万", "发给"),
    ("您好，我是XX银行信贷部的，您有资金需求吗？加我微信，额度高审批快", "银行"),
    ("收到短信说我的信用卡额度可提高到五万，让我用手机登录他们给的网址申请", "登录"),
    ("导师说内幕消息，翻倍收益，让我在投资平台入金", "消息"),
    # Traditional Chinese: the dictionary is Simplified, the text is folded character by character
    ("交友軟體上的人錄了我視訊裸聊的畫面，說不付錢就傳給我同事", "裸聊"),
    ("有人扮銀行職員，叫我講個驗證碼俾佢", "職員"),
    ("您的醫保卡積分可兌換現金，請點擊連結領取", "醫保卡"),
    ("應徵工讀生，工作是幫公司收包裹，再去ATM領錢轉交給主管，日薪三千", "交給"),
]


@pytest.mark.parametrize("story, word", CUT_BEFORE)
def test_rule_examples_that_cut_a_word_now_quote_it_whole(story, word):
    verdict = DETECTOR.check(story)
    assert story in sum((rule.examples_match for rule in RULESET.rules), ())  # still a rule example
    start = story.index(word)
    touching = [ev for ev in verdict.evidence if ev.start < start + len(word) and start < ev.end]
    assert touching, (word, [ev.text for ev in verdict.evidence])
    for ev in touching:
        assert ev.start <= start and start + len(word) <= ev.end, (word, ev.text)
    assert any(word in q for q in quotes(story))


def test_the_audit_fragments_are_gone_from_the_replies():
    story = "我儿子用新号码发短信说手机掉了，急需五千块交学费"
    reply = replies.verdict_reply(DETECTOR.check(story), RULESET, "zh-Hans", html=False, text=story)
    assert "“儿子用新号码”" in reply and "“儿子用新号”" not in reply


@pytest.mark.parametrize("text, span, widened", [
    ("我儿子用新号码发短信", "儿子用新号", "儿子用新号码"),  # the end inside 号码
    ("我兒子用新號碼發簡訊", "兒子用新號", "兒子用新號碼"),  # the same in Traditional script
    ("想要他平安就先打两万", "要他平安", "想要他平安"),  # the start inside 想要
    ("他的新号，码上就到", "新号", "新号"),  # a comma is a boundary: never widened across it
    ("手機號：碼上到", "機號", "手機號"),  # nor across a full-width colon (號碼 is a word without it)
    ("加LINE好友", "LINE好", "LINE好友"),  # Latin letters are a boundary; 好友 is widened within the run
    ("打两万到这个账户", "两万", "两万"),  # already whole words: nothing changes
])
def test_edges_move_to_word_boundaries_of_the_original_text(text, span, widened):
    start = text.index(span)
    a, b = whole_chinese_words(text, start, start + len(span))
    assert text[a:b] == widened


def test_an_edge_moves_at_most_max_extra_characters():
    # 中华人民共和国 is one dictionary word of seven characters: a span on its last character
    # would have to take six more, so it is left as it is.
    text = "中华人民共和国"
    assert whole_chinese_words(text, 6, 7) == (6, 7)
    assert whole_chinese_words(text, 0, 1) == (0, 1)


CHARS = "儿子用新号码发短信说手机掉了想要他平安就先打两万到这个账户通讯录里的人银行信贷部兒號碼帳戶轉賬，。！？、 ：“”aZ9\n"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=CHARS, min_size=1, max_size=60), st.data())
def test_a_widened_span_holds_the_match_and_only_whole_ideograph_runs_around_it(text, data):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    a, b = whole_chinese_words(text, start, end)
    assert a <= start and end <= b  # it contains the original match
    assert start - a <= MAX_EXTRA and b - end <= MAX_EXTRA
    added = text[a:start] + text[end:b]
    assert all(is_cjk(c) for c in added)  # never across punctuation, a space or another script


STORY_PIECES = ["通信管理局", "安全账户", "冻结", "公安", "验证码", "用新号", "儿子", "平安就先打", "两万", "账户",
                "发给我通讯录", "里的人", "的", "码", "你", "，", "。", "\n", " ", "帳號", "轉帳", "說", "Line"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(STORY_PIECES), min_size=1, max_size=30).map("".join))
def test_quoted_evidence_is_the_users_text_and_contains_every_match(text):
    """Against the evidence without Chinese widening: every span the rules matched lies inside
    a widened span, and each widened span is the user's own text."""
    widened = DETECTOR.check(text)
    original = verdict_module.whole_chinese_words
    verdict_module.whole_chinese_words = lambda text, start, end: (start, end)
    try:
        plain = DETECTOR.check(text)
    finally:
        verdict_module.whole_chinese_words = original
    assert (widened.risk, widened.category, widened.score) == (plain.risk, plain.category, plain.score)
    for ev in widened.evidence:
        assert text[ev.start:ev.end] == ev.text
    for ev in plain.evidence:
        assert any(w.start <= ev.start and ev.end <= w.end for w in widened.evidence), (ev.text, widened.evidence)


def test_the_dictionary_loads_only_when_a_chinese_span_is_widened():
    """Start-up and English or benign text never pay for the dictionary (about 0.15 s of CPU)."""
    script = (
        "import sys\n"
        "from callguard.detect import Detector, load_rules\n"
        f"d = Detector(load_rules({str(ROOT / 'rules' / 'scam_patterns.yaml')!r}))\n"
        "d.check('HMRC said there is a warrant for my arrest, pay now with gift cards')\n"
        "d.check('今天天气很好，我们去公园散步吧')\n"
        "print('rjieba' in sys.modules)\n"
        "d.check('我儿子用新号码发短信说手机掉了，急需五千块交学费')\n"
        "print('rjieba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
