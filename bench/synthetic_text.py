"""The text material of bench/synthetic.py: words, chatter, and patterns realised as text.

``realise(rng, pattern, terms)`` writes what a person could have typed for a
compiled pattern: a term of each vocab slot (as written in the rule file), an
alternative of each choice, an entity of each entity slot (an amount, a
link, ...), and chatter in each ``…`` gap within the group's bound. Typos,
obfuscation and splicing into chatter are here too.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from typing import Mapping, Sequence

from callguard.detect.normalize import has_cjk
from callguard.detect.schema import Element, Group, Pattern

# Common Simplified Chinese characters, roughly most frequent first.
HANZI = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可"
    "她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已"
    "老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力"
    "机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军"
    "产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常"
    "提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服"
    "毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言"
    "权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满"
    "式李息写呢识极令黄德收脸钱倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据"
    "导影失拿网香似专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切木怕团且装推河福账户码卡款银付费"
    "险存贷额领退证验冻结警官检查案罪骗诈户充值充送奖中获抽客售货订购物流递单号密登录链接扫二维升级认"
    "证注销征信投资理财股票基金币赚钱佣任务刷返利兼职招聘培训押保证交税"
)
HANZI = "".join(dict.fromkeys(c for c in HANZI if has_cjk(c)))
# Characters in none of the words above: the special rules' own lists are made of them.
RARE_HANZI = "".join(c for c in "鑫淼犇骉焱垚赟喆昇翀旻晟珏琰璟玥瑾瑜琛瑄璇珂琪翎翊翃璐琨钰铖锐镕" if c not in HANZI)

# English words rule terms are made of (a few long ones, which tolerate a typo).
TERM_WORDS = tuple(dict.fromkeys((
    "account bank card code verify police officer court case number phone call message link click "
    "login password transfer money payment refund order delivery package parcel prize lottery winner "
    "loan credit limit fee deposit tax insurance claim investment stock crypto coin profit return "
    "teacher group task commission job salary training security safe frozen blocked suspended "
    "illegal warrant arrest secret family friend boss relative urgent emergency hospital accident "
    "customer service support platform app download screen share remote meeting update upgrade "
    "identity document passport address student campus record cancel membership subscription "
    "shop store discount cheap sale game item skin gold trade buyer seller fine penalty "
    "today tomorrow minute hour please quickly immediately now again first then after before "
    "help need want send receive pay open install check confirm keep tell ask give take "
    "new old big small real fake official government ministry bureau office agent staff manager "
    "mother father son daughter brother sister husband wife child school doctor nurse "
    "verification authorities investigation compensation registration administration department "
    "application certificate withdrawal cryptocurrency international headquarters representative "
    "agency airport alarm amount answer apartment appointment approval area army arrival article artist "
    "attorney auction audit author balance battery beach benefit bicycle bill birthday blanket board bonus "
    "border bottle branch bridge budget building business cabinet camera capital captain career carrier cash "
    "channel charity chat cheque citizen claimant clinic cloud coach coffee college contract copy corner "
    "council county coupon cousin crash crew currency customs damage dealer debt decision degree dentist "
    "desk device diamond dinner director discount dispute district driver election engine engineer estate "
    "event exam expense export factory farm fashion festival file film finance flight floor flower fund "
    "furniture garage garden gift glass grant guard guest guide hardware holiday host house income invoice "
    "island jewelry journey judge kitchen label ladder landlord laptop lawyer lease lesson library licence "
    "lunch machine mail market medicine member memory minister mobile mortgage museum neighbour network "
    "notice novel ocean owner pension permit pharmacy pilot pipeline plan plastic pocket portal postage "
    "prison producer property provider purchase quota radio rate receipt rental reward river salary "
    "satellite savings scanner schedule scholarship season sensor server shipment signal software soldier "
    "sponsor station statement storage supplier surgeon survey tablet tenant ticket token tourist tower "
    "tractor traffic treasury truck tuition umbrella union utility vacation vehicle vendor visa voucher "
    "wallet warehouse website window winner workshop"
).split()))

# Everyday English for the chatter around the phrases (filler draws mostly on these).
COMMON_WORDS = tuple((
    "the a an i you he she it we they me him her us them my your his its our their this that these those "
    "is was are were be been am have has had do did does will would can could should may might must "
    "said say says told tell asked called came come went go got get made make know think thought see saw "
    "look want wanted need like just also very really so but and or if because when then there here what "
    "who which how why not no yes some any all more most other about from with into over after before up "
    "down out on off in at to for of by as than too again still only even back now today yesterday "
    "someone somebody man woman guy lady people thing something nothing everything way place home work "
    "last next good bad little long right sure ok okay well maybe almost already never always often "
    "one two three five ten hundred thousand first second minutes hours days weeks ago later soon"
).split())


def zipf_cum(n: int, s: float) -> tuple[float, ...]:
    """Cumulative Zipf weights (rank r weighs 1/r**s), for random.choices(cum_weights=...)."""
    return tuple(accumulate(1.0 / (rank + 1) ** s for rank in range(n)))


@dataclass(frozen=True)
class Words:
    """What terms and chatter are made of, for one seed."""

    zh: tuple[str, ...]  # two-character words for terms, most frequent first
    zh_cum: tuple[float, ...]
    zh_chat: tuple[str, ...]  # words of Chinese chatter (overlaps ``zh`` in part)
    zh_chat_cum: tuple[float, ...]
    en: tuple[str, ...]
    en_cum: tuple[float, ...]
    en_chat: tuple[str, ...]  # everyday words, then the term words, for English chatter
    en_chat_cum: tuple[float, ...]
    hanzi_cum: tuple[float, ...]


# Term words have ranks [0, 5000), chatter [3500, 8000): chatter shares some
# words (and many characters) with the terms, as real messages do.
_ZH_WORDS, _ZH_TERM_WORDS, _ZH_CHAT_FROM = 8000, 5000, 3500
_COMMON_CHARS = 60


@lru_cache(maxsize=4)
def words(seed: int) -> Words:
    rng = random.Random(seed)
    hanzi_cum = zipf_cum(len(HANZI), 0.8)
    # Term words leave out the most common characters (的, 一, 是 ...), which
    # real terms seldom hold; chatter uses every character.
    term_chars, term_cum = HANZI[_COMMON_CHARS:], zipf_cum(len(HANZI) - _COMMON_CHARS, 0.8)
    found: dict[str, None] = {}
    while len(found) < _ZH_TERM_WORDS:
        found["".join(rng.choices(term_chars, cum_weights=term_cum, k=2))] = None
    while len(found) < _ZH_WORDS:
        found["".join(rng.choices(HANZI, cum_weights=hanzi_cum, k=2))] = None
    zh = tuple(found)
    en_chat = COMMON_WORDS + tuple(w for w in TERM_WORDS if w not in COMMON_WORDS)
    return Words(zh[:_ZH_TERM_WORDS], zipf_cum(_ZH_TERM_WORDS, 0.5), zh[_ZH_CHAT_FROM:],
                 zipf_cum(_ZH_WORDS - _ZH_CHAT_FROM, 0.7), TERM_WORDS, zipf_cum(len(TERM_WORDS), 0.6),
                 en_chat, zipf_cum(len(en_chat), 1.0), hanzi_cum)


def zh_term(rng: random.Random, w: Words, lengths=((2, 8), (3, 32), (4, 36), (5, 14), (6, 10))) -> str:
    values, weights = zip(*lengths)
    length = rng.choices(values, weights)[0]
    text = ""
    while len(text) < length:
        text += rng.choices(w.zh, cum_weights=w.zh_cum)[0]
    return text[:length]


def en_term(rng: random.Random, w: Words, most: int = 3, least: int = 1) -> str:
    k = rng.choices((1, 2, 3)[least - 1:most], (30, 55, 15)[least - 1:most])[0]
    return " ".join(rng.sample(rng.choices(w.en, cum_weights=w.en_cum, k=k + 2), k))


# --------------------------------------------------------------------------- chatter


def zh_filler(rng: random.Random, w: Words, chars: int) -> str:
    """Chinese-looking chatter: words mixed with loose characters and punctuation."""
    out: list[str] = []
    size = 0
    while size < chars:
        piece = rng.choices(w.zh_chat, cum_weights=w.zh_chat_cum)[0] if rng.random() < 0.5 else \
            "".join(rng.choices(HANZI, cum_weights=w.hanzi_cum, k=rng.randint(1, 3)))
        out.append(piece)
        size += len(piece)
        if rng.random() < 0.12:
            out.append(rng.choice("，，，。！？"))
    return "".join(out)


def en_filler(rng: random.Random, w: Words, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choices(w.en_chat, cum_weights=w.en_chat_cum)[0]
        out.append(word)
        size += len(word) + 1
    text = " ".join(out)
    return text[:1].upper() + text[1:] + "."


def splice(rng: random.Random, filler: str, pieces: Sequence[str], sep: str = "") -> str:
    """Put the pieces at random places in the filler (between words when ``sep`` is a space)."""
    if sep == " ":
        places = [i for i, c in enumerate(filler) if c == " "] or [len(filler)]
        cuts = sorted(rng.choice(places) for _ in pieces)
    else:
        cuts = sorted(rng.randrange(len(filler) + 1) for _ in pieces)
    out, prev = [], 0
    for cut, piece in zip(cuts, pieces):
        out.append(filler[prev:cut])
        out.append(f"{sep}{piece}{sep}")
        prev = cut
    out.append(filler[prev:])
    return "".join(out)


# --------------------------------------------------------------------------- damage


def typo(rng: random.Random, text: str) -> str:
    """One edit (a wrong, missing, extra or swapped character) inside ``text``."""
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    new = rng.choice(HANZI) if has_cjk(text[i]) else rng.choice("abcdefghijklmnopqrstuvwxyz")
    op = rng.randrange(4)
    if op == 0:
        return text[:i] + new + text[i + 1:]
    if op == 1:
        return text[:i] + text[i + 1:]
    if op == 2:
        return text[:i] + new + text[i:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def obfuscate(rng: random.Random, text: str) -> str:
    """Full-width letters and digits, zero-width characters and dots slipped in."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isalnum() and rng.random() < 0.5:
            ch = chr(ord(ch) + 0xFEE0)
        out.append(ch)
        if rng.random() < 0.15:
            out.append(rng.choice("\u200b\u200c\u200d\u2060 ·*"))
    return "".join(out)


# --------------------------------------------------------------------------- patterns as text

_ENTITY_TEXTS = {
    "amount": ("¥3,000", "5000元", "五千块", "两万", "$500", "£1.99", "RM 500", "20,000 yuan", "3k", "HK$200",
               "NT$5000", "8万"),
    "link": ("http://pay-verify.top/login", "www.shop-refund.com", "bit.ly/3xYzQ", "https://example.com/claim",
             "icbc-verify.top/login"),
    "risky_link": ("http://pay-verify.top/login", "http://203.0.113.9/x", "secure-login.xyz/a", "refund-claim.vip"),
    "odd_link": ("yb-tx.cn", "122-wzcl.com/a", "pa-fh.cn"),  # hosts as Chinese phishing SMS write them
    "official_link": ("https://www.gov.uk/pay", "accounts.google.com/signin"),
    "phone": ("13812345678", "+44 7700 900123", "0912-345-678", "(415) 555 0199"),
    "premium_phone": ("09061 234 567", "0871 277 8109", "1902 123 456"),
    "official_phone": ("95588", "1800 339 6963", "+65 6363 3333", "13 22 65"),  # from official_phones.txt
    "handle": ("微信号 abc_1234", "@safe_team88", "wa.me/60123456789", "t.me/helpdesk01", "QQ: 8812345"),
    "code": ("482913", "7740", "123456", "90210"),
}


def entity_text(rng: random.Random, name: str) -> str:
    return rng.choice(_ENTITY_TEXTS[name])


def _alternatives(element: Element) -> list[str]:
    """The alternatives of a choice as written: ``(钱|{amount})`` -> ["钱", "{amount}"]."""
    return [a.strip() for a in element.name[1:-1].split("|")]


def _element_text(rng: random.Random, element: Element, terms: Mapping[str, Sequence[str]]) -> str:
    if element.kind == "text":
        return element.name
    if element.kind == "entity":
        return f" {entity_text(rng, element.name)} "  # entities stand apart from the words around them
    if element.kind == "vocab":
        return rng.choice(terms[element.name])
    choice = rng.choice([a for a in _alternatives(element) if a] or [element.keys[0]])
    if choice.startswith("{") and choice.endswith("}"):
        name = choice[1:-1].strip()
        return f" {entity_text(rng, name)} " if name in _ENTITY_TEXTS else rng.choice(terms[name])
    return choice


def realise(rng: random.Random, pattern: Pattern, terms: Mapping[str, Sequence[str]], gap: int = 12,
            damage=None) -> str:
    """Text that ``pattern`` matches (``damage``, if given, changes the
    longest piece: a typo for example)."""
    pieces = [_element_text(rng, e, terms) for e in pattern.elements]
    if damage is not None:
        longest = max(range(len(pieces)), key=lambda i: len(pieces[i].strip()))
        pieces[longest] = damage(rng, pieces[longest])
    w = words(0)
    out = pieces[0]
    for piece, gapped in zip(pieces[1:], pattern.gaps):
        latin = not has_cjk(out[-1:]) or not has_cjk(piece[:1])
        if gapped:
            if latin:
                between = " " + " ".join(rng.choices(COMMON_WORDS, k=rng.randint(0, max(0, min(2, gap // 2 - 1))))) + " "
            else:
                between = zh_filler(rng, w, rng.randint(0, max(0, min(4, gap - 4))))[: max(0, gap - 2)]
            out += between + piece
        else:
            out += (" " if latin else "") + piece
    return " ".join(out.split())


def realise_group(rng: random.Random, group: Group, terms: Mapping[str, Sequence[str]], zh: bool | None = None,
                  damage=None) -> str:
    """A realisation of one of ``group``'s patterns (Chinese ones when ``zh``
    and there are some; English ones when not ``zh``)."""
    pool = list(group.patterns)
    if zh is not None:
        pool = [p for p in pool if has_cjk(p.source) == zh] or pool
    return realise(rng, rng.choice(pool), terms, group.gap, damage)
