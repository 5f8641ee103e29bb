"""Built-in entities: amounts, links, phone numbers, chat handles, codes.
They are found in the text as typed; the shortcuts that make that fast never
change what is found (hypothesis against the plain expressions)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.detect import entities
from callguard.detect.entities import find_entities


def kinds(text: str) -> dict[str, list[str]]:
    return {name: [text[s:e] for s, e in spans] for name, spans in find_entities(text).items()}


@pytest.mark.parametrize("text, amount", [
    ("转¥3,000给我", "¥3,000"), ("pay $500 now", "$500"), ("a £1.99 fee", "£1.99"), ("RM 500 only", "RM 500"),
    ("HK$200", "HK$200"), ("NT$5000", "NT$5000"), ("20,000 yuan", "20,000 yuan"), ("给5000元", "5000元"),
    ("五千块", "五千块"), ("借两万", "两万"), ("要20萬", "20萬"), ("about 3k", "3k"),
])
def test_amounts_in_every_region_s_writing(text, amount):
    assert amount in kinds(text).get("amount", [])


def test_links_and_risky_links():
    found = kinds("log in at http://icbc-verify.top/login or www.bbc.co.uk/news")
    assert found["link"] == ["http://icbc-verify.top/login", "www.bbc.co.uk/news"]
    assert found["risky_link"] == ["http://icbc-verify.top/login"]
    assert kinds("royalmail-redelivery.com/pay")["risky_link"]
    assert kinds("go to 192.168.1.1/login")["risky_link"]
    assert "risky_link" not in kinds("see bit.ly/abc for the menu")  # a shortener alone is not enough
    assert "link" not in kinds("e.g. this, or a.b@gmail.com")  # abbreviations and e-mail addresses are not links


def test_hosts_on_word_like_top_level_domains_need_a_hyphenated_label():
    """".help" or ".today" end phishing hosts, and also sentences typed without a space: the
    label before such an ending must be hyphenated."""
    assert kinds("verify at hsbc-uk.verify-id.help now")["risky_link"] == ["hsbc-uk.verify-id.help"]
    assert kinds("pay at royalmail-redelivery.help/fee")["risky_link"] == ["royalmail-redelivery.help/fee"]
    assert kinds("see pay.royal-mail.help")["risky_link"] == ["pay.royal-mail.help"]
    for text in ("pls.help me", "what a nice.today", "thanks.cash only", "in lagos.0803.email me"):
        assert "link" not in kinds(text), text


def test_digits_of_a_link_or_phone_number_are_nothing_else():
    found = kinds("call 138 0013 8000 or visit 10.0.0.1/x")
    assert found["phone"] == ["138 0013 8000"]
    assert "code" not in found


def test_chat_handles_need_an_id_not_just_an_app_name():
    assert kinds("加微信号 abc_123")["handle"] == ["微信号 abc_123"]
    assert kinds("WeChat ID: zhang123")["handle"]
    assert kinds("my telegram is @john_doe")["handle"] == ["@john_doe"]
    assert "handle" not in kinds("check it online through our site")


def test_a_verification_code():
    assert kinds("您的验证码是 482913，5分钟内有效")["code"] == ["482913"]


# Pieces of every entity and of near misses, so random texts hold many.
PIECES = ["¥", "$", "£", "RM", "rmb", "HK$", "3", "000", ",", ".", " ", "元", "块", "五千", "万", "k", "K",
          "http://", "www.", "a-verify", ".top", "/x", "bit.ly", "@", "tg", "LINE", "Line id", "微信号", "qq",
          "wa.me/", "+44", "7700", "-", "ſ", "K", "İ", "é", "通信", "转", "给我", "验证码", "%", "id:",
          "WeChat", "weixin", "QQ号", "几", "-fee", "Policy.In", "123456", "yuan", "Dollars", "bucks", "quid",
          "Pounds", "ringgit", "euro", "HKD", "sgd", "aud", "MYR", "gbp", "usd", "港币", "美元", "台币", "人民币",
          "令吉", "新币", "澳元", "英镑", "镑", "million", "thousand", "grand", "m", "M", "亿", "千", "百", "\t",
          "\u3000", "１２"]
texts = st.one_of(st.text(), st.lists(st.sampled_from(PIECES), max_size=30).map("".join))


@settings(max_examples=500, deadline=None)
@given(texts)
def test_the_first_character_lookahead_finds_what_the_expression_finds(text):
    for name, (body, flags) in entities._BODIES.items():
        plain = re.compile(body, flags)
        assert [m.span() for m in entities._PATTERNS[name].finditer(text)] == \
            [m.span() for m in plain.finditer(text)], name


@settings(max_examples=1000, deadline=None)
@given(st.one_of(texts, st.lists(st.sampled_from(PIECES + ["rm 5", "hk$ 5", "a", "元", "ab$12", "三", "$ ", "us$5", "5$5", "¥$", "\u3000"]), max_size=40)
                 .map("".join)))
def test_amounts_tried_only_where_one_can_start_are_those_finditer_finds(text):
    plain = re.compile(*entities._BODIES["amount"])
    assert [m.span() for m in entities._matches("amount", text)] == [m.span() for m in plain.finditer(text)]


def test_an_amount_starts_where_amounts_are_tried():
    """Every character the first-character test lets start an amount, under
    IGNORECASE, is a start ``_amount_starts`` offers, or a letter (offered
    only before digits: the currency words), over every code point."""
    first = re.compile(f"[\\d¥￥$£€₩₹{entities._CN_NUM[1:-1]}]", re.IGNORECASE)
    letter = re.compile("[a-z]", re.IGNORECASE)
    digit = re.compile(r"\d")
    for code in range(0x110000):
        c = chr(code)
        assert bool(digit.match(c)) == c.isdecimal(), hex(code)
        if first.match(c):
            assert entities._AMOUNT_START_RUNS.match(c) or letter.match(c), hex(code)
        if letter.match(c):
            assert c in entities._BEFORE_DIGITS, hex(code)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_the_hints_with_shortcuts_say_what_the_plain_hints_say(text):
    plain_handle = re.compile(r"@|\.me/|微信|qq|line|whatsapp|telegram|tg|skype|signal|kakao|vx|wx|v信|薇信"
                              r"|wechat|weixin", re.IGNORECASE)
    assert (entities._HINTS["handle"].search(text) is None) == (plain_handle.search(text) is None)
    if entities._HINTS["link"].search(text) is not None:
        assert any(mark in text for mark in entities._LINK_MARKS)


def test_every_entity_is_found():
    found = find_entities("转¥3,000给我 http://a-verify.top/x 微信号abc123 13812345678 验证码 482913")
    assert set(found) == {"amount", "link", "risky_link", "phone", "handle", "code"}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), max_size=8),
                          st.lists(st.tuples(st.integers(0, 40), st.integers(1, 8)), max_size=8)), max_size=1))
def test_spans_inside_outer_ones_are_dropped_as_by_comparing_with_each(cases):
    for inner, outer in cases:
        spans = [(s, s + n) for s, n in inner]
        # what an expression finds: in reading order, not overlapping
        kept, end = [], -1
        for s, n in sorted(outer):
            if s >= end:
                kept.append((s, s + n))
                end = s + n
        want = [(s, e) for s, e in spans if not any(os <= s and e <= oe for os, oe in kept)]
        assert entities._outside(spans, kept) == want


def test_official_links_are_the_owners_hosts_only():
    assert kinds("review it at https://myaccount.google.com/notifications")["official_link"]
    assert kinds("pay at www.gov.uk/pay-tax")["official_link"]
    assert "official_link" not in kinds("pay at gov.uk.tax-refund.info/pay")  # the host must END with the name
    assert "official_link" not in kinds("see sites.google.com/view/refund")  # anyone publishes there
    assert "official_link" not in kinds("login at google-verify.com")


def test_a_cheap_top_level_word_in_the_middle_of_a_host_is_not_risky():
    assert "risky_link" not in kinds("account.live.com/acsr")  # ".live" is not the last label
    assert kinds("verify at evil.live/x")["risky_link"]
    assert kinds("go to bad.top.")["risky_link"]  # the sentence's full stop is not a label


def test_the_full_stop_after_a_link_is_not_part_of_it():
    """With the stop, "vehicle-tax." read as a hyphenated bait host, and a genuine gov.uk
    link in a letter counted as official and risky at once."""
    found = kinds("Tax your vehicle at gov.uk/vehicle-tax. Thank you!")
    assert found["link"] == ["gov.uk/vehicle-tax"] and found["official_link"] == ["gov.uk/vehicle-tax"]
    assert "risky_link" not in found
    assert kinds("see https://example.com/a?b=1, then call")["link"] == ["https://example.com/a?b=1"]


def test_documentation_domains_are_links_as_real_ones_would_be():
    """Hand-written test messages use the reserved top-level domains (RFC 2606) for their fake links:
    they must read as the links they stand for, or a benchmark would measure the placeholder."""
    assert kinds("請即處理 hkpost-hk.example/p")["link"] == ["hkpost-hk.example/p"]
    assert kinds("login at bank-verify.test now")["link"] == ["bank-verify.test"]
    assert "link" not in kinds("for example. then call")


def test_a_bare_host_right_after_chinese_is_a_link():
    """Chinese users write '链接是bank-verify.top' with no space; a host inside a Latin word is not one."""
    from callguard.detect.entities import find_entities
    found = find_entities("链接是damai-zhuanrang.xyz能买吗")
    assert found["link"] == [(3, 22)] and found["risky_link"] == [(3, 22)]
    assert "link" not in find_entities("版本v1.2.3") and "link" not in find_entities("邮箱abc@mail.top")


@pytest.mark.parametrize("host", ["astro-renew-promo.com", "mydigitalid-kemaskini.com", "ukparking-pcn.com/pay",
                                  "simplygo-upgrade.sg-ezlink.net", "bantuan-str-semak.com",
                                  "kad-aktif.com.my", "card-activate.net", "astro-bayaran-akaun.com",
                                  "jpn-gantimykad.com", "tng-duitraya-2026.com", "careers-onboard.com",
                                  "ukvi-evisa-check.co.uk/verify"])
def test_a_hyphenated_host_with_a_bait_word_is_risky(host):
    """Renewals, upgrades, fines, activations, onboarding, visas and their Malay words (kemaskini, semak,
    aktif, bayaran, akaun, ganti, duit) in a hyphenated label."""
    assert kinds(f"go to {host} now")["risky_link"]


@pytest.mark.parametrize("host", ["shopee-sellercentre-my.net/verify", "office365-helpdesk.org", "dhl-track.info",
                                  "amazonprime-renewal.com", "apple.com-id.info", "microsoft.support-desk.net",
                                  "gofundrne.com/pets", "paypa1.com", "rnaybank2u.com", "mygov-au.info",
                                  "quake-relief-appeal.org.uk/give", "donate-now-gaza.com", "docusign-view.net/r=1",
                                  "hdb-upgrading.com", "ato-refunds.net", "budi95-daftar.com/mykad", "home-grant-sg.com"])
def test_a_host_wearing_a_brands_name_is_risky(host):
    """A brand's name in a hyphenated label, followed by more than top-level labels, or spelled
    with look-alike letters (rn for m, 1 for l): how phishing hosts borrow a name."""
    assert kinds(f"go to {host} now")["risky_link"]


@pytest.mark.parametrize("host", ["shopee.com.my", "www.amazon.co.uk/orders", "mail.google.com", "maybank2u.com.my",
                                  "auspost.com.au/track", "amazon.jobs", "startups-hub.com", "t-mobile.com",
                                  "learn-more.com", "redcross.org.uk/donate", "docusign.net/signing", "tomato-farm.com",
                                  "africa-travel.com", "sweet-baking.com", "samantha-photos.com", "visage-salon.com",
                                  "geranium-garden.com"])
def test_a_brands_own_host_and_unrelated_hyphens_are_not_risky(host):
    assert "risky_link" not in kinds(f"go to {host} now")


def test_a_hyphenated_host_in_a_chinese_message_is_an_odd_link():
    """Mainland phishing SMS spell a brand's initials around a hyphen (yb-tx.cn); genuine Chinese
    senders' hosts have none. Only in a Chinese message, and never a link that is already risky or
    official (each link is weighed once)."""
    assert kinds("【医保局】您的医保账户余额可提现，请登录 yb-tx.cn 操作")["odd_link"] == ["yb-tx.cn"]
    assert kinds("您的ETC已失效，请点击 t.etcgx-vip.com/a3 更新")["odd_link"] == ["t.etcgx-vip.com/a3"]
    assert "odd_link" not in kinds("Your bill is ready at t-mobile.com/pay, thanks")  # English
    assert "odd_link" not in kinds("【京东】您的订单已发货，详情 3.cn/abc 回T退订")  # no hyphen
    found = kinds("【银行】您的账户异常，请登录 bank-verify.top 验证")
    assert found["risky_link"] == ["bank-verify.top"] and "odd_link" not in found
    assert "odd_link" not in kinds("请看官方网站 www.gov.cn 上的通知，不要点陌生链接")


def test_a_premium_rate_number_is_known_by_its_prefix_and_length():
    """UK 09 and 0871-0873 (eleven digits), Australia 190x (ten): prize and voicemail texts want a
    call there. Other regions' mobiles share the prefixes at other lengths and must not count."""
    for number in ("09066 364 311", "09058094455", "0871 277 8109", "+44 9066 364311", "1902 123 456"):
        assert kinds(f"to claim call {number} now")["premium_phone"] == [number], number
    for number in ("0912 345 678", "+886 912 345 678", "190 1234 5678", "0800 123 4567", "07031 442908",
                   "020 7946 0958"):
        assert "premium_phone" not in kinds(f"call {number} now"), number


def test_an_official_link_is_never_risky():
    from callguard.detect.entities import impersonates_brand

    assert impersonates_brand("gov.uk.gofundrne.com")
    assert "risky_link" not in kinds("see accounts.google.com/signin") and kinds("see accounts.google.com/signin")["official_link"]


def test_a_dot_written_as_a_word_inside_a_link_reads_as_a_dot():
    """Chinese spam writes "nhsa-dzpz点cc" so that the link is not tappable: it is still a
    (risky) link, at the text's own offsets; a time ("下午2点my") or a word is not."""
    found = find_entities("【国家医保局】您的医保个人账户已停用 点击 nhsa-dzpz点cc 操作")
    assert [(s, e) for s, e in found["link"]] == found["risky_link"]
    text = "点击 nhsa-dzpz点cc 操作"
    assert [text[s:e] for s, e in find_entities(text)["link"]] == ["nhsa-dzpz点cc"]
    assert kinds("請到 12306-tp點cn 辦理退票")["link"] == ["12306-tp點cn"]
    for plain in ("下午2点my house", "明天3点com", "一点点cc", "我们九点到"):
        assert "link" not in find_entities(plain), plain
    # A label is at most 63 characters (as in DNS): a longer run before 点 is no host.
    assert "link" not in find_entities("a" * 4090 + "点cc")
    assert kinds("x" * 63 + "点cc")["link"] == ["x" * 63 + "点cc"]


def test_an_official_hotline_is_known_in_the_ways_people_write_it():
    """official_phones.txt lists "SG 1800 339 6963"; messages write it with other separators, with
    the country code, or none at all. A longer number, an extension a scammer adds, or digits in a
    link are not it."""
    for text, number in (("call 1800 339 6963 now", "1800 339 6963"), ("call 1800-339-6963", "1800-339-6963"),
                         ("call 18003396963.", "18003396963"), ("call +65 6339 6963", "+65 6339 6963"),
                         ("如非本人操作，请致电95588。", "95588"), ("ring 13 22 65 today", "13 22 65"),
                         ("call +60 3-6204 7788", "+60 3-6204 7788"), ("call 1-800-829-1040", "1-800-829-1040")):
        assert kinds(text)["official_phone"] == [number], text
    for text in ("联系客服 95588-xxx 注销", "call 95588 1234", "请登录 95588-jf.cc 兑换", "call 1800 339 6964",
                 "order 195588", "call 6335 3533"):  # (Singpass: not checked against an official page yet)
        assert "official_phone" not in kinds(text), text


def test_every_official_hotline_names_its_page():
    """A number is listed only with the owner's page it was checked against (and the date)."""
    from pathlib import Path

    lines = [line for line in Path(entities.__file__).with_name("official_phones.txt").read_text("utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    assert len(lines) >= 30
    for line in lines:
        number, _, note = line.partition("#")
        assert "; " in note and "(" in note and "20" in note, line


def test_a_hyphenated_host_wearing_a_region_s_mark_is_risky():
    """Official sites sit under gov.sg, .gov.uk and the like; "mom-workpass-sg.com" passes for one.
    A hyphen alone is not enough in English (t-mobile.com, e-zpassny.com), nor a region inside a word."""
    for link in ("mom-workpass-sg.com", "gov-tw.cc/pay", "hmrc-uk-refund.com", "pos-my.net"):
        assert kinds(f"pay at {link} now")["risky_link"] == [link], link
    for link in ("t-mobile.com", "e-zpassny.com", "duke-energy.com", "singapore-zoo.com", "my-health.gov.au"):
        assert "risky_link" not in kinds(f"see {link} today"), link


def test_a_pasted_e_mail_s_sender_on_a_risky_host_is_a_risky_link():
    """The host of an address is no link to open, but "it-notice@outlook-secure-hk.com" at the top
    of a pasted e-mail is the same mark as a link there. A webmail or a bank's own host is not."""
    text = "From: IT <it-notice@outlook-secure-hk.com>: your mailbox is full"
    assert kinds(text)["risky_link"] == ["outlook-secure-hk.com"] and "link" not in kinds(text)
    assert kinds("sender: helpdesk@ourcompany-mail.net")["risky_link"] == ["ourcompany-mail.net"]
    for text in ("mail me at john.tan@gmail.com", "from alerts@dbs.com.sg", "write to a@b-c.com"):
        assert "risky_link" not in kinds(text), text
