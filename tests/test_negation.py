"""Negation (bot/detect/negation.py): a ``negatable`` group does not count a
request that the message denies ("we will never ask for your PIN"), and
counts the same request made plainly elsewhere in the message.
"""

from dataclasses import replace

import pytest

from callguard.detect.matcher import Matcher, Scan
from callguard.detect.negation import MAX_NEGATIONS, find_negations, find_questions
from tests.factories import pgroup, rule, ruleset
from tests.test_shared_groups import document, problems, rule as file_rule


def governed(text: str) -> list[tuple[str, str]]:
    """(cue, scope) of each negation, as the original text spells them."""
    return [(text[a:b], text[b:d]) for a, b, c, d in find_negations(text) if c == a + 1]


@pytest.mark.parametrize("text, expected", [
    ("银行不会在电话里要您的密码", [("不会", "在电话里要您的密码")]),
    ("我們唔會喺電話度要你嘅密碼", [("唔會", "喺電話度要你嘅密碼")]),
    ("验证码123456，请勿告诉他人。", [("请勿", "告诉他人")]),
    ("提醒我不要跟陌生人分享银行资料", [("不要", "跟陌生人分享银行资料")]),  # an order not to, with its object
    ("他说不需要密码，只要身份证号", [("不需要", "密码")]),  # a secret named, no verb
    ("We will never ask for your PIN. Read me the code", [("never", " ask for your PIN")]),
    ("You don't need to pay anything, just download the app", [("don't", " need to pay anything")]),
    ("Kami tidak akan minta kod OTP anda", [("tidak akan", " minta kod OTP anda")]),
    ("We're not asking for your PIN, card number or code", [("not", " asking for your PIN")]),
    ("No link to pay anything", [("No", " link to pay anything")]),
    ("冇連結叫我俾錢", [("冇", "連結叫我俾錢")]),
    ("没有交任何培训费或者押金", [("没有", "交任何培训费或者押金")]),  # the reader's own act, in full
    ("Yuran ditolak dari harta pusaka, bukan bayar ke akaun peribadi", [("bukan", " bayar ke akaun peribadi")]),
])
def test_a_denial_governs_its_clause(text, expected):
    assert governed(text) == expected


@pytest.mark.parametrize("text", [
    "不用担心，把钱转到安全账户",  # reassurance, then the order: no denial
    "叫佢唔好收线 要佢过数去指定户口",  # "don't hang up": an order, and the transfer is one too
    "日结200-800，无需押金",  # no deposit needed: the lure's offer, no verb of asking
    "If you don't pay today you will be arrested",  # a threat's condition
    "如果你不交钱就冻结你的账户",
    "if he doesnt confirm his NDIS number it stops",
    "I don't know what to do",
    "You decide whether or not you pay the bail today",
    "mintak no phone dgn kod TAC",  # Malay 'no' is a number
    "唔更新下個月冇得出 叫佢講張提款卡密碼出嚟",  # 冇 of another clause
    "别人给你打电话",  # 别 of 别人 (others)
    "卖家收了钱没给货",  # a bare 没 of someone else's act
    "Ini bukan penipuan, sila bayar yuran sekarang",  # "not a scam, please pay": the order is outside the scope
])
def test_orders_conditions_and_offers_are_not_denials(text):
    assert governed(text) == []


@pytest.mark.parametrize("text, question", [
    ("我：要交钱吗？客服：不需要，开卡免费", "要交钱吗"),
    ("需要交什么费用吗\n不需要任何费用的，交通我们报销", "需要交什么费用"),  # a dialogue without marks
    ("Do I need to give you my PIN? No, never.", "Do I need to give you my PIN"),
    ("請問需要提供信用卡號嗎？不用喔", "請問需要提供信用卡號嗎"),
])
def test_a_question_about_need_answered_no_is_denied(text, question):
    assert [text[c:d] for a, b, c, d in find_negations(text) if c != a + 1] == [question]


def test_a_request_refused_is_still_a_request():
    assert find_negations("Can you read me the code? No, I won't.") == []
    assert find_negations("你能把验证码念给我吗？不行") == []


def matcher(*patterns: str, negatable: bool = True, gap: int = 12) -> Matcher:
    g = replace(pgroup("ask", 60, *patterns, gap=gap), negatable=negatable)
    return Matcher(ruleset(rule("r", g)))


def hit(m: Matcher, text: str) -> str | None:
    """What the group matched, in the normalised text (None: nothing)."""
    scan = Scan(text)
    hits = m.hits(scan)
    ranked = m.best_of_each(scan, (0,))
    # The ranking path (what ``check`` uses) finds what matching every group finds.
    assert [h for s in ranked.values() for h in s.hits] == hits
    return scan.norm[hits[0].start:hits[0].end] if hits else None


def test_a_denied_request_does_not_count_and_a_plain_one_does():
    m = matcher("(密码|验证码)")
    assert hit(m, "银行不会在电话里要您的密码") is None
    assert hit(matcher("(密码|验证码)", negatable=False), "银行不会在电话里要您的密码") == "密码"
    assert hit(m, "我们不会要您的密码，但请把验证码告诉我") == "验证码"


def test_a_match_that_begins_inside_the_cue_is_governed_and_one_that_begins_with_it_is_not():
    assert hit(matcher("要…分享…资料"), "提醒我不要跟陌生人分享银行资料") is None
    assert hit(matcher("不需要抵押"), "我们这里不需要抵押") == "不需要抵押"


def test_a_cue_inside_a_gap_breaks_the_pattern():
    m = matcher("验证码…告诉")
    assert hit(m, "验证码123456，请勿告诉他人") is None
    assert hit(m, "验证码收到了吧，快告诉我") == "验证码收到了吧快告诉"


def test_english_denials_conditions_and_later_asks():
    m = matcher("(ask|asked) for your (pin|code)", "read me the (pin|code)")
    assert hit(m, "We will never ask for your PIN") is None
    assert hit(m, "We will never ask for your PIN. Now read me the code") == "read me the code"
    assert hit(matcher("pay the fine"), "If you don't pay the fine today you will be arrested") == "pay the fin"  # stemmed


def test_a_message_without_negations_is_matched_as_before():
    m = matcher("(密码|验证码)")
    scan = Scan("请把验证码告诉我")
    assert m.hits(scan)[0].phrase == "(密码|验证码)"
    assert not scan.negations()


# --------------------------------------------------------------- checks only asked about

@pytest.mark.parametrize("text, asked", [
    ("Me: Can I call back on the number on my card?\nCaller: If you hang up now", ["Can I call back on the number on my card"]),
    ("I hung up and rang the number on my card, is that right?", []),  # a report asking for reassurance
    ("I rang the number on my card?", []),
    ("should I hang up and call the bank myself", ["should I hang up and call the bank myself"]),
    ("我可以打卡背面的电话核实吗", ["我可以打卡背面的电话核实吗"]),
    ("要不要自己打卡背面的电话", ["要不要自己打卡背面的电话"]),
    ("我挂了电话，自己打了卡背面的号码，这样对吗？", []),
    ("我打了卡背面的电话 可以相信吗", ["可以相信吗"]),  # spaces stand for commas in unpunctuated Chinese
    ("I rang the number on my card and they confirmed it.", []),
])
def test_a_question_is_its_clause(text, asked):
    assert [text[a:b].strip() for a, b in find_questions(text)] == asked


def checked(text: str) -> int:
    """The score of a rule whose counter-group is a check the user made (only_as_done)."""
    m = Matcher(ruleset(rule("r", pgroup("ask", 60, "(safe account|安全账户)"),
                             replace(pgroup("checked", -40, "(call|rang|ring|called) …number on my card", "打…卡背面的(电话|号码)"),
                                     only_as_done=True))))
    scan = Scan(text)
    score = m.scores(scan)[0].score
    assert m.best_of_each(Scan(text), (0,))[0].score == score  # the ranking path (``check``) agrees
    return score


def test_a_check_counts_only_as_done_not_denied_or_asked():
    assert checked("He wants my savings in a safe account. I hung up and rang the number on my card.") == 20
    assert checked("He wants my savings in a safe account. Me: Can I call back on the number on my card?") == 60
    assert checked("He wants my savings in a safe account and I didn't call the number on my card") == 60
    assert checked("对方让我转到安全账户，我挂了之后自己打了卡背面的电话") == 20
    assert checked("对方让我转到安全账户，我可以打卡背面的电话核实吗？") == 60


def test_a_request_asked_about_still_counts():
    assert hit(matcher("send (the|my) code"), "Should I send the code?") == "send the code"


# --------------------------------------------------------------- rule files

@pytest.mark.parametrize("key, on_lure, on_legit, wrong_kind", [
    ("negatable", "yes please", "true", "negatable is for requests"),
    ("only_as_done", "true", "maybe", "only_as_done is for counter-evidence"),
])
def test_group_flags_must_be_true_or_false_and_on_their_kind_of_group(key, on_lure, on_legit, wrong_kind):
    """negatable: on a request (a positive weight); only_as_done: on counter-evidence."""
    text = document([file_rule("loan-a", f"""\
        - name: lure
          weight: 40
          {key}: {on_lure}
          patterns: [低息贷款]
        - name: legit
          weight: -40
          {key}: {on_legit}
          patterns: [银行柜台]
        """)])
    found = problems(text)
    assert any(f"{key} must be true or false" in p for p in found)
    assert any(wrong_kind in p for p in found)


def test_an_only_as_done_shared_group_cannot_be_used_with_a_positive_weight():
    text = document([file_rule("loan-a", """\
        - use: called_bank
          weight: 30
        - name: lure
          weight: 40
          patterns: [低息贷款]
        """)], shared="""\
        - name: called_bank
          weight: -30
          only_as_done: true
          patterns: [打了银行电话]
        """)
    assert any("counts only as done" in p for p in problems(text))


def test_a_negatable_shared_group_cannot_be_used_with_a_negative_weight():
    text = document([file_rule("loan-a", """\
        - use: asks_fee
        - name: lure
          weight: 40
          patterns: [低息贷款]
        """), file_rule("loan-b", """\
        - use: asks_fee
          weight: -30
        - name: lure
          weight: 40
          patterns: [低息贷款]
        """)], shared="""\
        - name: asks_fee
          weight: 30
          negatable: true
          patterns: [先交手续费]
        """)
    assert any("is negatable" in p for p in problems(text))


def test_a_flood_of_denials_is_read_only_up_to_the_bound():
    text = "我们不会要你转账，" * 400 + "请把验证码告诉我"
    assert len(find_negations(text)) == MAX_NEGATIONS
    assert hit(matcher("验证码…告诉"), text) == "验证码告诉"  # the plain request after them counts
