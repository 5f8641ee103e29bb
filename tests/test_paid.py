"""Recognising "I already sent the money" in three languages (bot/detect/paid.py)."""

import pytest

from callguard.detect.paid import _compile, already_paid, load_patterns, sounds_worried

PAID = [
    "I already sent the money, what now?",
    "I've paid them £500 and now they want more",
    "My mum transferred her savings to them yesterday",
    "He told me to pay and then I paid",
    "I was scammed out of $2,000",
    # a relative's loss told in the third person, in a message that also reads like a warning
    "PSA my dad just got scammed, a caller said he was from his bank and he moved 8000 pounds to a safe account",
    "My nan got conned by a man who said he was a police officer",
    "my grandad gave them his card and PIN",
    "I clicked the link and entered my card details, now there are charges",
    "婆婆被人骗走了五万块",
    "My mum withdrew 20000 at the bank counter for the courier",
    "They took all my savings",
    "我已经转了钱怎么办",
    "那我转了的五千怎么办",
    "我把钱都转到安全账户了",
    "剛剛匯了三萬過去",
    "是，已經轉了20萬",
    "钱已经转过去了，怎么办",
    "我被骗了五千块",
    "他让我转了五千",
    # "to whom" between the verb and 了, and "over/out" without 已经
    "刚刚转账给他了",
    "我转给他五千了",
    "我剛剛匯給他了",
    "已經匯款給對方了",
    "我轉帳給他了，怎麼辦",
    "我转过去了",
    "我按他说的转到安全账户了",
    # Cantonese (Hong Kong): 咗 marks what is done
    "我付咗錢點算",
    "我已經俾咗錢佢",
    "我過咗數俾佢",
    "I made the payment",
    "we've done the bank transfer",
    "the money has gone",
    "the money is already gone",
    # the family tells it: she, he, my aunty, Dad
    "My aunt met him online and she transferred him 40k last month",
    "Dad handed over the cash to a courier this morning",
    "my uncle has already put in 200k on that app",
    "she already paid the release fee",
    "the courier came at noon and took the money and his bank card",
    "paid it yesterday and now they want more",
    "I paynow him $500 for the tickets",
    "ive already sent 3k by western union and he says dont hang up",  # "don't" belongs to the next clause
    "$2,000 gone from my account overnight",
    # 垫了 / 投了 / 面交 / a bare 我转了 / money that left the account
    "我已经垫了八千做任务",
    "我爸在那个平台投了30万",
    "我妈已经面交给他们两次现金",
    "他说是我儿子，我转了。",
    "现在卡里少了一万多",
    "刚才信用卡被盗刷了",
    "佢已經墊咗$20,000",
    "阿媽已經用轉數快過咗$8,000",
    # Malay
    "mak saya dah transfer RM30,000 ke akaun tu",
    "sy dah bank in semalam",
    "duit dalam akaun RM3,200 hilang",
    # a story that also has money coming back to the writer, or a call "transferred" to someone
    "She transferred me to an inspector, and I have already sent him $9,000",
    "说调查完就还给我，我已经转了三万了",
    "I sent my son $50 for his train ticket",
    "我给儿子转了500",
    "mak dah transfer RM300 kat dia",
]
NOT_PAID = [
    "She handed the card to the cashier and it was declined",
    "Did my mum get scammed? A man says he can recover her money",
    "My dad nearly got scammed by a fake bank call",
    "He wants me to move the money to a safe account today",
    # money that came to the writer from family (the emergency steps would be a false alarm)
    "My son sent me $50 for groceries via Zelle",
    "my daughter paid me back the 200",
    "我儿子给我转了500块生活费",
    "adik dah bank in kat saya RM300",
    "she sent me a link to a form",
    "he gave him the gate code and the parcel came",
    "my sister sent it to me as a present",
    "存了钱也抢不到票",
    "我在官方app上刷了脸，没花钱",
    "You've already paid for it when you ordered online",
    "dia suruh saya bayar RM500 dulu",
    "sy belum transfer lagi",
    "patut ke sy bank in?",
    "sy tak bayar apa-apa",
    "Should I pay the fee?",
    "They asked me to send money but I didn't",
    "I haven't sent anything yet",
    "I've not paid",
    "If I transfer the money will I get it back?",
    "My mum called me about dinner",
    "we talked about this entire thing",
    "他让我把钱转到安全账户",
    "我还没转钱",
    "还没有把钱汇过去",
    "如果我转了钱怎么办",
    "差点就转了五千",
    "打了电话给银行",
    "对方要我交保证金",
    "我打给他了",  # a phone call, not a payment
    "我打过去了，没人接",
    "他把电话转给了公安局",
    "接着电话被转给他们了",
    "电话转过去了",
    "他叫我转给他了吗",  # a question
    "你转了吗",
    "您的退款已经转到您的账户了",  # money said to be coming to the reader
    "你唔好俾钱佢",
    "我冇俾钱",
    "佢俾咗个电话号码我",
    "They want me to make a payment",
    "should I make the payment",
    "he needs bail money sent today",  # what they ask for
    "",
]


@pytest.mark.parametrize("text", PAID)
def test_already_paid(text):
    assert already_paid(text)


@pytest.mark.parametrize("text", NOT_PAID)
def test_not_paid(text):
    assert not already_paid(text)


def test_traditional_and_fullwidth_text_is_folded_like_the_rules():
    assert already_paid("我已經轉了錢怎麼辦") and already_paid("ＩＡＬＲＥＡＤＹ sent　the　money".replace("ＩＡＬＲＥＡＤＹ", "I already"))


@pytest.mark.parametrize("text, worried", [("那我转了的五千怎么办", True), ("what do I do now?", True),
                                            ("我转了五千给房东", False), ("I paid the plumber", False),
                                            ("sy dah transfer, apa nak buat sekarang", True),
                                            ("mak dah bayar, macam mana nak dapat balik", True),
                                            ("sy dah bayar bil air semalam", False)])
def test_sounds_worried(text, worried):
    assert sounds_worried(text) is worried


def test_patterns_are_data_and_bad_data_is_a_clear_error():
    patterns = load_patterns()
    assert patterns.paid and patterns.not_paid and patterns.distress
    with pytest.raises(ValueError, match="paid"):
        _compile({"clause_breaks": "x", "paid": [], "not_paid": ["a"], "distress": ["b"]})


def test_long_text_is_bounded():
    assert not already_paid("你好" * 50_000 + "我已经转了钱")  # judged on its first part only


GAVE_NOTHING = [
    "He said it was the tax office and hung up when I asked questions. I didn't give them anything.",
    "Grandpa hung up straight away and didnt press anything, is he in danger?",
    "接到说是公安的电话，我直接挂了，啥都没给",
    "佢话係警察，我即刻收线，乜都冇俾",
    "有個人話係速遞公司，我收咗線，冇講任何資料",
    "Saya terus letak phone, tak bagi apa-apa maklumat",
    "I gave nothing",
]
NOT_GAVE_NOTHING = [
    "I haven't paid anything yet, should I?",  # still deciding
    "他说要我转钱，我什么都没转，但把验证码告诉他了",  # a code was given
    "I didn't pay anything but I gave them the code from the text",
    "I didn't give them anything at first, then I paid 500 dollars",
    "They called about my parcel",
    "我冇講任何資料，佢之後叫我撳連結，我撳咗，仲俾咗卡號",  # a card number was given after all
]


@pytest.mark.parametrize("text", GAVE_NOTHING)
def test_gave_nothing(text):
    from callguard.detect.paid import gave_nothing

    assert gave_nothing(text) and not already_paid(text)


@pytest.mark.parametrize("text", NOT_GAVE_NOTHING)
def test_not_gave_nothing(text):
    from callguard.detect.paid import gave_nothing

    assert not gave_nothing(text)
