"""Built-in entities: the things a word list cannot enumerate.

Rules refer to them as slots (``转{amount}给我``, ``{kin}…{link}``). They are
recognised in the text the user wrote (before normalisation, which drops the
dots and slashes a link is made of), and their spans are then mapped onto the
normalised text the patterns run on.

* ``amount``: a sum of money in any of the regions' ways of writing it:
  ¥3,000 · $500 · £1.99 · RM 500 · HK$200 · NT$5000 · 20,000 yuan ·
  5000元 · 五千块 · 两万 · 20萬 · 3k.
* ``link``: a web address, with or without ``http``: ``https://…``,
  ``www.…``, ``bit.ly/x``, ``icbc-verify.top/login``.
* ``risky_link``: a link with the marks of phishing: a bare IP address,
  punycode, a cheap top-level domain scammers favour, or a hyphenated domain
  with words such as verify, secure, login, refund. (Shorteners are not
  enough: genuine marketing uses them as much as scams do.)
  A host that wears a brand's name without being the brand's own is risky too
  (``shopee-sellercentre-my.net``, ``apple.com-id.info``, ``gofundrne.com``;
  the names are in ``impersonated_brands.txt``), and one whose hyphenated host
  wears a region's or a government's mark (``mom-workpass-sg.com``,
  ``gov-tw.cc``). An official link never is.
* ``odd_link``: in a Chinese message, a link with a hyphenated host that is
  neither risky nor official (see ``_hyphenated``).
* ``official_link``: a link to a host listed in ``official_domains.txt``
  (or a subdomain of one): the real accounts, government, post and bank
  sites that genuine alerts and notices point to, and that no one else can
  publish on.
* ``phone``: a phone number of 7 to 15 digits, separators allowed.
* ``premium_phone``: a phone number billed at a premium rate (UK 09 and
  0871-0873, Australia 190x).
* ``official_phone``: an institution's own hotline, as listed in
  ``official_phones.txt`` (each number checked against the owner's page):
  ``95588``, ``1800 339 6963``, ``+65 6339 6963``, ``13 22 65``. A genuine alert
  says "if this wasn't you, call" one of these; phishing gives its own.
* ``handle``: a chat account to move to: ``@name``, ``wa.me/…``, ``t.me/…``,
  or a WeChat/QQ/LINE/WhatsApp/Telegram id written after the app's name.
* ``code``: a stand-alone number of 4 to 8 digits (a verification code).

Every expression is linear (no nested repetition), so a crafted message
cannot make one slow.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_right
from pathlib import Path

__all__ = ["ENTITIES", "find_entities", "find_entity"]

_NUM = r"\d[\d,，. ]{0,12}\d|\d"  # digits with thousands separators or decimals
_CN_NUM = "[一二两兩三四五六七八九十百千万萬亿億零〇几幾壹贰貳叁參肆伍陆陸柒捌玖拾佰仟]"
_CURRENCY_BEFORE = (r"(?:[¥￥$£€₩₹]|rmb|cny|usd|us\$|hk\$|hkd|nt\$|ntd|twd|s\$|sgd|a\$|aud|rm|myr|gbp|eur)")
_CURRENCY_AFTER = (r"(?:元|块|塊|圆|圓|毛|rmb|yuan|dollars?|bucks|pounds?|quid|ringgit|euros?|usd|hkd|sgd|aud|"
                   r"myr|gbp|港币|港幣|港元|美元|美金|台币|台幣|新台币|新台幣|人民币|人民幣|令吉|新币|新幣|澳元|英镑|英鎊|镑|鎊)")
_MAGNITUDE = r"(?:万|萬|千|百|亿|億|k|K|m\b|million|thousand|grand)"

_TLD_RISKY = ("top|xyz|vip|icu|cc|club|shop|live|site|online|buzz|rest|cyou|sbs|cfd|bond|lol|monster|quest|"
              "work|click|link|tk|ml|ga|cf|gq|pw|fun|ltd|win|bid|loan|men|kim|mobi|asia|info|cn\\.com|"
              # names that pass for a helpdesk or a shop, cheap and common in phishing texts (not words
              # like "help" or "today": "pls.help" typed without a space must not become a link)
              "support|services|service|store|tech|cloud|center|website|space|host|cam|bar|xin|ren|wang|pro|page")
# "example", "test" and "invalid" are reserved for documentation (RFC 2606): no real message links
# there, but the project's hand-written test messages do, and must read as links as real ones would.
_TLD = ("com|net|org|info|biz|gov|edu|io|co|me|ly|gl|to|app|dev|ai|uk|au|sg|my|hk|tw|cn|us|ca|nz|de|fr|jp|kr|gg|"
        "in|ph|th|id|vn|example|test|invalid|" + _TLD_RISKY)
# Newer top-level domains that are also everyday words ("help", "today"): phishing texts use them
# ("royalmail-redelivery.help"), but "pls.help" or "lagos.0803.email" typed without a space is no link.
# So a host ending in one counts only when the label before it is hyphenated, and is always risky.
_TLD_WORDY = ("help|today|world|life|digital|email|network|express|delivery|finance|money|claims|care|zone|"
              "global|cash|credit|loans|tax|gifts")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = (rf"(?:{_LABEL}\.){{1,6}}(?:{_TLD})(?![a-z0-9-])"
           rf"|(?:{_LABEL}\.){{0,5}}[a-z0-9]+-[a-z0-9-]*[a-z0-9]\.(?:{_TLD_WORDY})(?![a-z0-9-])")
_URL_CHAR = r"[^\s，。、“”\"'<>()（）]"
_PATH = rf"(?:[/?#]{_URL_CHAR}*)?"
_BAIT_WORDS = (r"verify|verif|secure|security|login|log-in|signin|update|account|refund|claim|prize|reward|"
               r"unlock|support|service|confirm|billing|payment|pay|delivery|parcel|redeliver|redelivery|toll|fine|tax|fee|postage|"
               r"gift|bonus|wallet|bank|kyc|relief|donate|donation|appeal|grant|subsid|rebate|daftar|"
               # renewals, upgrades, vouchers and notices of fines, and their Malay words (kemaskini: update)
               r"renew|promo|upgrade|redeem|voucher|cashback|points|notice|notis|penalty|pcn|parking|kemaskini|semak|tuntut|"
               # activation ("card-activate.net", Malay "budi-aktif.com.my")
               r"activat|aktif|"
               # moves, arrears and relief that a notice asks to act on
               r"migrat|arrear|disaster|assist|"
               # mailboxes and their administrators ("ourcompany-mail.net", "m365-storageadmin.com")
               r"mail|admin|storage|helpdesk|"
               # onboarding and visa checks ("careers-onboard.com", "ukvi-evisa-check.co.uk")
               r"onboard|evisa|"
               # Malay: payment, account, replacement, aid, prize, verification, redeem, tax, fine,
               # refund, loan, incentive, money ("astro-bayaran-akaun.com", "jpn-gantimykad.com"); not baki, saman
               # or geran, which hide in "sweet-baking", "samantha-" and "geranium-"
               r"bayar|akaun|ganti|bantuan|hadiah|pengesahan|sahkan|tebus|cukai|denda|pulangan|pinjam|insentif|duit")

# Each entity's expression, and (below) the characters a match can start with.
_BODIES = {
    "amount": (rf"{_CURRENCY_BEFORE}\s?(?:{_NUM})\s?{_MAGNITUDE}?"
               rf"|(?:{_NUM})\s?{_MAGNITUDE}?\s?{_CURRENCY_AFTER}"
               rf"|(?<!\d)\d+(?:\.\d+)?\s?(?:万|萬|千|亿|億|k\b)"
               rf"|{_CN_NUM}{{1,8}}(?:{_CURRENCY_AFTER}|万|萬|千|亿|億)(?:{_CURRENCY_AFTER})?", re.IGNORECASE),
    # A bare host may follow a Chinese character with no space ("链接是bank-verify.top"):
    # only a Latin letter, digit or host character before it means it is inside a longer word.
    "link": (rf"(?:https?://|www\.){_URL_CHAR}+|(?<![a-z0-9_@.-])(?:{_DOMAIN}){_PATH}"
             rf"|(?<![a-z0-9_.])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?::\d{{2,5}})?/{_URL_CHAR}*", re.IGNORECASE),
    "phone": (r"(?<![\d\w])\+?\d(?:[\d -]{5,17})\d(?![\d\w])", 0),
    "handle": (r"(?<![\w@])@[a-z][a-z0-9_]{3,31}\b|\b(?:wa\.me|t\.me)/[\w+]+"
               r"|(?:微信号?|微信號|v信号?|薇信号?|vx号?|wx号?)\s*[:：]?\s*[a-z0-9][a-z0-9_.-]{3,29}"
               r"|(?<![a-z0-9])qq(?:号|號)?\s*[:：]?\s*\d{5,12}"
               r"|(?<![a-z0-9])(?:wechat|weixin|line|whatsapp|telegram|tg|skype|signal|kakao|微信)\s*"
               r"(?:id|号|號|帳號|账号|:|：)\s*[:：]?\s*[a-z0-9][a-z0-9_.-]{3,29}", re.IGNORECASE),
    "code": (r"(?<![\d\w.,$¥£€])\d{4,8}(?![\d\w.,%]|\s?(?:元|块|塊|万|萬|千))", 0),
}
# A match of each expression starts with one of these characters (under the
# expression's own flags; for amounts, a currency word before a digit). Put first as a lookahead, it lets the regular
# expression engine pass over every other position at once instead of trying
# each alternative there, and never changes what is found.
_FIRST = {
    # (a currency word is at most three letters, then maybe "$", a space, a digit: "rmb 5", "hk$5")
    "amount": f"(?:[\\d¥￥$£€₩₹{_CN_NUM[1:-1]}]|[a-z]{{1,3}}\\$?\\s?\\d)",
    "link": r"[a-z0-9\d]",
    "phone": r"[+\d]",
    "handle": r"[@wt微vq薇lsk]",
    "code": r"\d",
}
# What may follow an amount's number (after a space or two): the first
# characters of a magnitude or a currency word (under IGNORECASE). As a
# lookahead right after the number it lets the engine give up on a run of
# digits at once, where it would try every magnitude and currency word at
# every split of the run (4,096 digits and spaces: 17 ms without it); it
# never changes what is found (tests/test_entities.py).
_AFTER_NUMBER = r"(?=\s{0,2}[万萬千百亿億kmtg元块塊圆圓毛rydbpqeuhsa港美台新人令澳英镑鎊])"
_FAST_BODIES = {
    "amount": (rf"{_CURRENCY_BEFORE}\s?(?:{_NUM})\s?{_MAGNITUDE}?"
               rf"|(?:{_NUM}){_AFTER_NUMBER}\s?{_MAGNITUDE}?\s?{_CURRENCY_AFTER}"
               rf"|(?<!\d)\d+(?:\.\d+)?\s?(?:万|萬|千|亿|億|k\b)"
               rf"|{_CN_NUM}{{1,8}}(?:{_CURRENCY_AFTER}|万|萬|千|亿|億)(?:{_CURRENCY_AFTER})?", re.IGNORECASE),
}
_PATTERNS = {name: re.compile(f"(?={_FIRST[name]})(?:{body})", flags)
             for name, (body, flags) in {**_BODIES, **_FAST_BODIES}.items()}
_RISKY = re.compile(
    rf"(?:https?://)?(?:\d{{1,3}}\.){{3}}\d{{1,3}}"  # a bare IP address
    rf"|xn--"
    rf"|\.(?:{_TLD_RISKY}|{_TLD_WORDY})(?![a-z0-9-]|\.[a-z0-9])"  # the last label only: not "account.live.com"
    rf"|(?<![a-z0-9-])(?=[a-z0-9]*-)[a-z0-9-]*(?:{_BAIT_WORDS})[a-z0-9-]*\.",  # a hyphenated label with a bait word
    re.IGNORECASE)

ENTITIES = ("amount", "link", "risky_link", "odd_link", "official_link", "phone", "premium_phone", "official_phone",
            "handle", "code")


def _data_lines(name: str) -> list[str]:
    """The entries of a data file beside this module: one per line, ``#`` comments left out."""
    text = Path(__file__).with_name(name).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


_OFFICIAL = frozenset(_data_lines("official_domains.txt"))
_HOST = re.compile(r"(?:https?://)?(?:[^@/\s]*@)?([a-z0-9.-]+)", re.IGNORECASE)


# ``odd_link``: a link in a Chinese message whose host has a hyphenated name and is neither risky
# nor official ("122-wzcl.com", "yb-tx.cn", "pa-fh.cn"). The mass-sent phishing SMS of mainland
# China spell a brand's initials in pinyin around a hyphen; the genuine senders' hosts (10086.cn,
# 3.cn, t.cn, 95588.com, jd.com) have none. Measured on the project's 53,062 labelled texts: 244
# Chinese scams hold such a link, one genuine Chinese message does (a 165 reply naming the site as a
# scam). English messages are left out: genuine hosts there are hyphenated often enough
# (t-mobile.com, duke-energy.com, e-zpassny.com). Apart from ``risky_link`` so that a rule can
# weigh it apart: the fallback counts it, and the kind of scam is still named by what is asked.
_CHINESE = re.compile(r"[\u4e00-\u9fff](?:[^\u4e00-\u9fff]*[\u4e00-\u9fff]){3}")  # four Chinese characters anywhere


def _host_labels(link: str) -> list[str]:
    """The labels of ``link``'s host, lower case: "https://Pay-GOV.sg.info/x" -> [pay-gov, sg, info]."""
    m = _HOST.match(link)
    return m.group(1).lower().strip(".").split(".") if m else []


# A region's or a government's mark as one part of a hyphenated label ("mom-workpass-sg.com",
# "hmrc-uk-refund.com", "gov-tw.cc", "pos-my.top"): a host that passes for an official site of a
# region, which is never hyphenated so (official sites sit under gov.sg, .gov.uk and the like). On
# the project's 56,661 labelled texts: in the links of 2,007 scams (most of them mainland SMS, whose
# links were risky or odd already) and of one genuine message (a warning that names a scam site).
_REGION_PARTS = frozenset({"sg", "my", "hk", "tw", "uk", "au", "cn", "gov", "govt"})


def _regional(link: str) -> bool:
    """Whether a hyphenated label of ``link``'s host (the top-level domain aside) has a region's or
    a government's mark as one of its parts."""
    return any(part in _REGION_PARTS for label in _host_labels(link)[:-1] if "-" in label for part in label.split("-"))


def _hyphenated(link: str) -> bool:
    """Whether a label of ``link``'s host, the top-level domain aside, holds a hyphen."""
    return any("-" in label for label in _host_labels(link)[:-1])


# ``premium_phone``: a number that bills the caller by the minute: in the UK 09 (premium rate)
# and 0871-0873 (service charge), eleven digits; in Australia 190x, ten. Prize, voicemail and
# refund texts ask for a call to one: the call is the payment. Digits only (separators and a
# +44/+61 prefix dropped), and by length, because the prefixes are other regions' mobiles: a
# Taiwan mobile is 09 and ten digits, a mainland one 190 and eleven. Left out for the same reason:
# the UK's 070 "personal numbers" (Nigerian mobiles are 070 and eleven digits) and the US 1-900
# (a mainland mobile can read 1 900 and seven more).
_PREMIUM = re.compile(r"(?:44|0)(?:9\d{9}|87[123]\d{7})$|(?:61)?190\d{7}$")
_NOT_DIGIT = re.compile(r"\D")


# ``official_phone``: the hotlines of official_phones.txt, each written as "REGION NUMBER": found with
# or without separators ("1800 339 6963", "1800-339-6963", "18003396963") and with the region's
# country code before it ("+65 6335 3533", "+60 3-6204 7788" for "03-6204 7788"). Not inside a
# longer number ("95588 1234") or an extension a scammer adds ("95588-xxx"), nor inside a link
# ("95588-jf.cc": the link's own digits).
_COUNTRY_CODES = {"CN": "86", "SG": "65", "MY": "60", "HK": "852", "TW": "886", "AU": "61", "GB": "44", "US": "1"}
_NUMBER_SEPARATOR = "[ ().-]{0,2}"


def _official_phone_pattern(lines: list[str]) -> re.Pattern:
    """One expression for every number of official_phones.txt ("SG 6335 3533"), longest first."""
    variants = set()
    for line in lines:
        region, _, number = line.partition("#")[0].strip().partition(" ")
        digits = _NOT_DIGIT.sub("", number)
        if region not in _COUNTRY_CODES or len(digits) < 5:
            raise ValueError(f"official_phones.txt: {line!r} is not 'REGION NUMBER' with five digits or more")
        variants.add(_NUMBER_SEPARATOR.join(digits))
        international = _COUNTRY_CODES[region] + (digits[1:] if digits.startswith("0") else digits)
        variants.add(r"\+?" + _NUMBER_SEPARATOR.join(international))
    body = "|".join(sorted(variants, key=len, reverse=True))
    return re.compile(rf"(?<![0-9A-Za-z])(?=[+\d])(?:{body})(?![0-9A-Za-z]|[ ().-]{{1,2}}\d|-[A-Za-z])")


_OFFICIAL_PHONES = _official_phone_pattern(_data_lines("official_phones.txt"))


def is_official(link: str) -> bool:
    """Whether ``link``'s host is one of official_domains.txt or a subdomain of
    one (the host must end with the listed name: "gov.uk.refund.info" is not)."""
    labels = _host_labels(link)
    return any(".".join(labels[i:]) in _OFFICIAL for i in range(len(labels)))


_BRANDS = frozenset(_data_lines("impersonated_brands.txt"))
_BRAND_PREFIXES = tuple(sorted(b for b in _BRANDS if len(b) > 4))
# Labels that may follow a brand's own name in its real hosts: shopee.com.my, amazon.co.uk, google.com.
_TOP_LABELS = frozenset("com co net org gov edu ac info biz".split())
# Letters phishing hosts swap for look-alikes: gofundrne (rn for m), paypa1, g00gle, vvise (vv for w).
_LOOKALIKES = (("rn", "m"), ("vv", "w"), ("0", "o"), ("1", "l"))


def _unconfused(label: str) -> str:
    for fake, real in _LOOKALIKES:
        label = label.replace(fake, real)
    return label


def _names_brand(part: str) -> bool:
    """A hyphen-separated part of a label that names a brand: the brand itself,
    or (five letters and more) beginning with it: "amazonprime"."""
    return part in _BRANDS or part.startswith(_BRAND_PREFIXES)


def impersonates_brand(link: str) -> bool:
    """Whether ``link``'s host wears a brand's name (impersonated_brands.txt) in a
    way the brand's own hosts do not: inside a hyphenated label, as a label with
    more than top-level labels after it (amazon.co.uk is the brand's, amazon.co.refund-id.info
    is not; its own top-level domain is not judged: amazon.jobs), or spelled with look-alike
    letters."""
    labels = _host_labels(link)
    for i, label in enumerate(labels[:-1]):  # the last label is the top-level domain
        if label in _BRANDS:
            if any(after not in _TOP_LABELS and len(after) > 2 for after in labels[i + 1:-1]):
                return True
        elif "-" in label:
            if any(_names_brand(part) or _names_brand(_unconfused(part)) for part in label.split("-")):
                return True
        elif _unconfused(label) in _BRANDS:
            return True
    return False


# A cheap test that rules out most texts before an entity's full expression
# runs: a digit or a currency or magnitude word for an amount, a dot or
# scheme for a link, and so on.
_HINTS = {
    "amount": re.compile(r"[\d元块塊万萬千亿億镑鎊$£€¥￥₩₹]"),
    "link": re.compile(r"https?:|www\.|[a-z0-9]\.[a-z0-9]", re.IGNORECASE),
    "phone": re.compile(r"\d[\d -]{5,}\d"),
    "handle": re.compile(r"(?=[@.微qltswvk薇])(?:@|\.me/|微信|qq|line|whatsapp|telegram|tg|skype|signal|kakao|vx|wx|v信|薇信"
                         r"|wechat|weixin)", re.IGNORECASE),  # the lookahead as in _FIRST
    "code": re.compile(r"\d{4}"),
    "official_phone": re.compile(r"\d\d"),  # "13 22 21": however it is split, two digits stand together
}
# Text without any of these has no hint of a link (the hint holds a ':' or a '.').
_LINK_MARKS = (".", ":", "点", "點")
# Chinese spam writes a link's dot as the word for it ("nhsa-dzpz点cc", "etcjh點cc"), so that
# phones do not make it tappable and filters do not see a link; the reader types it back. Links
# are read with such a dot taken as "." when a label with a letter stands before it and a
# top-level domain after it ("下午2点my" or "3点com" stay words). One character for one: the
# spans stay the text's own. The label is at most 63 characters (as in DNS) and is matched
# from the start of its run only, so a long run of letters costs at most 63 steps, not its
# square (4,090 letters and a 点: 263 ms with an unbounded label); whether it holds a letter
# is checked after the match.
_WORD_DOT = re.compile(rf"(?<![a-z0-9-])([a-z0-9-]{{1,63}})[点點](?=(?:{_TLD}|{_TLD_WORDY})(?![a-z0-9-]))",
                       re.IGNORECASE)
_LINK_ENTITIES = frozenset({"link", "risky_link", "odd_link", "official_link"})


def _as_links_read(text: str) -> str:
    """``text`` with a dot written as a word inside a link put back as "." (same length)."""
    if "点" not in text and "點" not in text:
        return text
    return _WORD_DOT.sub(_dot_after_label, text)


def _dot_after_label(m: re.Match) -> str:
    label = m.group(1)
    return label + "." if any(c.isalpha() for c in label) else m.group(0)


# The host of an e-mail address ("it-notice@outlook-secure-hk.com"). Not a link (nothing to open),
# but a pasted e-mail's sender on a risky host is the same mark as a link to one: a risky link
# covers both. Only after an "@" that follows an address's local part.
_SENDER_HOST = re.compile(rf"(?<=[a-z0-9_.+-]@)(?:{_DOMAIN})", re.IGNORECASE)


def _sender_hosts(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _SENDER_HOST.finditer(text)] if "@" in text else []


# What an entity's spans must not lie inside: the digits of a link are not a
# phone number, a code or an amount, and those of a phone number are not a code.
_INSIDE = {"phone": ("link",), "code": ("link", "phone"), "amount": ("link",)}


def find_entity(text: str, name: str, cache: dict[str, list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """Spans of entity ``name`` in ``text`` (original characters). ``cache``
    holds what was found in this text already (one dict per text), so each
    expression runs at most once per text, and only when a pattern asks."""
    found = cache.get(name)
    if found is not None:
        return found
    if name in _LINK_ENTITIES:
        text = _as_links_read(text)
    if name == "risky_link":
        found = [(s, e) for s, e in find_entity(text, "link", cache) + _sender_hosts(text)
                 if (_RISKY.search(text, s, e) or impersonates_brand(text[s:e]) or _regional(text[s:e]))
                 and not is_official(text[s:e])]
        found.sort()
    elif name == "odd_link":
        found = [(s, e) for s, e in find_entity(text, "link", cache) if _hyphenated(text[s:e])]
        if found and _CHINESE.search(text) is not None:
            risky = set(find_entity(text, "risky_link", cache))
            found = [(s, e) for s, e in found if (s, e) not in risky and not is_official(text[s:e])]
        else:
            found = []
    elif name == "premium_phone":
        found = [(s, e) for s, e in find_entity(text, "phone", cache) if _PREMIUM.match(_NOT_DIGIT.sub("", text[s:e]))]
    elif name == "official_phone":
        found = [m.span() for m in _OFFICIAL_PHONES.finditer(text)] if _HINTS["official_phone"].search(text) else []
        if found:
            found = _outside(found, find_entity(text, "link", cache))
    elif name == "official_link":
        found = [(s, e) for s, e in find_entity(text, "link", cache) if is_official(text[s:e])]
    elif (name == "link" and not any(mark in text for mark in _LINK_MARKS)) or _HINTS[name].search(text) is None:
        found = []
    else:
        found = [_trimmed(text, *m.span()) for m in _matches(name, text)]
        if name == "link":
            found = [_trimmed(text, *span, also=_CLOSING_MARKS) for span in found if not _sentence_break(text, *span)]
        for outer in _INSIDE.get(name, ()):
            if found:
                found = _outside(found, find_entity(text, outer, cache))
    cache[name] = found
    return found


def _matches(name: str, text: str) -> list[re.Match]:
    """``_PATTERNS[name].finditer(text)``, match for match. Amounts are tried
    only where one can start (``_amount_starts``): their expression's
    first-character test, entered at every position, was most of the time
    of finding them (~50 µs a message on the shared corpus, most of it
    at the Latin letters of English text, where a currency word may
    start), and every amount starts at a digit, a currency sign, a Chinese
    numeral, or a few letters before a digit."""
    pattern = _PATTERNS[name]
    if name != "amount":
        return list(pattern.finditer(text))
    out = []
    pos = 0
    for start in _amount_starts(text):
        if start >= pos:  # as finditer goes on: after the last match's end
            m = pattern.match(text, start)
            if m is not None:
                out.append(m)
                pos = m.end()  # never empty: every branch takes a character or more
    return out


# What an amount starts with, unless it starts with a currency word (case
# sensitive: none of these characters has another case), in runs.
_AMOUNT_START_RUNS = re.compile(f"[\\d¥￥$£€₩₹{_CN_NUM[1:-1]}]+")
_CURRENCY_WORD_REACH = 5  # "hk$ 5": a currency word (3 letters, "$", a space) ends this far before its digit
# What may come right before the digits that follow a currency word: a letter
# (what [a-z] matches under IGNORECASE), "$", or a space (str.isspace, as \s).
_BEFORE_DIGITS = frozenset(string.ascii_letters + "\u0130\u0131\u017f\u212a$")


def _amount_starts(text: str) -> list[int]:
    """In order, every index at which an amount may start: each character
    of ``_AMOUNT_START_RUNS``, and where a currency word written before its
    number may start ("rmb 500", "HK$200"): ``_FIRST["amount"]`` wants one
    to three letters, maybe "$", maybe a space, then a digit, so the digit
    starts a run (after a letter or a space) or follows the "$" that starts
    one, and the word starts at most five characters before it. A superset
    of where the expression matches; ``_matches`` tries each. (One pass of
    the expression engine: each pass costs ~10 ns a character.)"""
    starts: list[int] = []
    for m in _AMOUNT_START_RUNS.finditer(text):
        a, b = m.span()
        starts += range(a, b)
        first = text[a]
        if first.isdecimal():
            if a and (text[a - 1] in _BEFORE_DIGITS or text[a - 1].isspace()):
                starts += range(max(0, a - _CURRENCY_WORD_REACH), a)
        elif first == "$" and b > a + 1 and text[a + 1].isdecimal():
            starts += range(max(0, a + 1 - _CURRENCY_WORD_REACH), a)
    return sorted(set(starts))


def find_entities(text: str) -> dict[str, list[tuple[int, int]]]:
    """Spans of every entity in ``text`` (original characters), empty lists
    left out."""
    cache: dict[str, list[tuple[int, int]]] = {}
    return {name: spans for name in ENTITIES if (spans := find_entity(text, name, cache))}


def _outside(spans: list[tuple[int, int]], outer: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` that lie inside none of ``outer``. ``outer`` is what one
    expression found, so in reading order and not overlapping: only the last
    one starting at or before a span can hold it (a bisection, not a
    comparison with every one: 585 numbers in 585 phone numbers)."""
    if not outer:
        return spans
    starts = [s for s, _ in outer]
    out = []
    for s, e in spans:
        i = bisect_right(starts, s) - 1
        if i < 0 or e > outer[i][1]:
            out.append((s, e))
    return out


def _sentence_break(text: str, start: int, end: int) -> bool:
    """A bare "domain" whose last part is capitalised is two sentences
    typed without a space ("policy.In", "month.To")."""
    piece = text[start:end]
    if piece[:4].lower() in ("http", "www."):
        return False
    tld = piece.split("/", 1)[0].rsplit(".", 1)[-1]
    return tld[:1].isupper() and not tld.isupper()


# What ends a sentence or a clause after a link ("go to gov.uk/vehicle-tax."), and is not
# part of the address: kept, the full stop made "vehicle-tax." look like a hyphenated bait host.
_CLOSING_MARKS = ".,;:!?"


def _trimmed(text: str, start: int, end: int, also: str = "") -> tuple[int, int]:
    """A span without the spaces an optional separator took at its end, nor
    the characters of ``also`` (for a link: the mark closing the sentence)."""
    while end > start + 1 and (text[end - 1].isspace() or text[end - 1] in also):
        end -= 1
    return start, end
