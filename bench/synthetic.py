"""Synthetic rule sets and messages for benchmarks.

Everything here is deterministic for a given seed, so two runs (and two
machines) time the same work.

Rules are built to resemble the shipped ones in the ways that matter to the
matcher: phrase lengths, the Chinese/English mix, and how often phrases share
q-grams. Chinese phrases are made of two-character "words" drawn from a
Zipf-weighted vocabulary of common characters, so, as in real rules, some
bigrams (like 账户 or 转账 in the real file) recur across many phrases and rules;
English phrases are pairs (some triples) of common words. Each rule has 3-5 groups of 5-15
phrases, weights like the shipped file's, an occasional negative group and an
occasional ``requires``.

``make_ruleset(n)`` returns a :class:`RuleSet` directly (no YAML), and the rules
of ``make_ruleset(n)`` are the first ``n`` rules of ``make_ruleset(m)`` for any
``m > n`` with the same seed, so a 1,000-rule and a 10,000-rule set can be timed
on the very same messages. ``write_rule_file(path, n)`` writes a complete rule
file that passes ``load_rules`` (for reload benchmarks).

``make_messages(ruleset, n)`` builds a corpus of messages a user might send:
short Chinese and English descriptions that contain some of the rule set's
phrases, the same with typos, benign chatter, obfuscated text (zero-width
characters, full-width letters) and long pasted texts.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from types import MappingProxyType
from typing import Iterable, Sequence

import yaml

from callguard.detect.normalize import has_cjk
from callguard.detect.schema import (LANGUAGES, REQUIRED_CATEGORIES, REQUIRED_TEXTS, Category, Group, Rule,
                              RuleSet, Thresholds)

__all__ = [
    "DEFAULT_SEED",
    "Message",
    "make_ruleset",
    "make_messages",
    "write_rule_file",
    "rule_file_text",
    "load_dev_texts",
    "DEV_JSONL",
]

DEFAULT_SEED = 20261128
DEV_JSONL = Path(os.environ.get("CALLGUARD_DEV_JSONL", "/work/shared/eval/dev.jsonl"))

# Common Simplified Chinese characters, roughly most frequent first.
_HANZI = (
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
_HANZI = "".join(dict.fromkeys(c for c in _HANZI if has_cjk(c)))

_WORDS = (
    "account bank card code verify police officer court case number phone call message link click "
    "login password transfer money payment refund order delivery package parcel prize lottery winner "
    "loan credit limit fee deposit tax insurance claim investment stock crypto coin profit return "
    "teacher group task commission job salary training security safe frozen blocked suspended "
    "illegal warrant arrest secret family friend boss relative urgent emergency hospital accident "
    "customer service support platform app download screen share remote meeting update upgrade "
    "identity document passport address student campus record cancel membership subscription "
    "shop store discount cheap sale game item skin gold trade buyer seller platform fine penalty "
    "today tomorrow minute hour please quickly immediately now again first then after before "
    "help need want send receive pay open install check confirm keep tell ask give take "
    "new old big small real fake official government ministry bureau office agent staff manager "
    "mother father son daughter brother sister husband wife child school teacher doctor nurse "
    "week month year morning evening night time day dinner lunch weather train bus ticket hotel "
    "phone data plan bill charge broadband signal network repair complaint service contract"
).split()
_WORDS = list(dict.fromkeys(_WORDS))

# Everyday English for the chatter around the phrases (filler draws mostly on these).
_COMMON_WORDS = (
    "the a an i you he she it we they me him her us them my your his its our their this that these those "
    "is was are were be been am have has had do did does will would can could should may might must "
    "said say says told tell asked called came come went go got get made make know think thought see saw "
    "look want wanted need like just also very really so but and or if because when then there here what "
    "who which how why not no yes some any all more most other about from with into over after before up "
    "down out on off in at to for of by as than too again still only even back now today yesterday "
    "someone somebody man woman guy lady people thing something nothing everything way place home work "
    "last next good bad little long right sure ok okay well maybe almost already never always often "
    "one two three five ten hundred thousand first second minutes hours days weeks ago later soon"
).split()

_GROUP_NAMES = ("claim", "threat", "transfer", "pressure", "demand", "contact", "payment", "lure")
_NEGATIVE_NAMES = ("benign", "official", "legit")


def _zipf_cum(n: int, s: float) -> tuple[float, ...]:
    """Cumulative Zipf weights (rank r weighs 1/r**s), for random.choices(cum_weights=...)."""
    return tuple(accumulate(1.0 / (rank + 1) ** s for rank in range(n)))


@dataclass(frozen=True)
class _Vocabulary:
    zh_words: tuple[str, ...]  # what Chinese phrases are made of
    zh_cum: tuple[float, ...]
    zh_chat: tuple[str, ...]  # what Chinese chatter is made of (overlaps zh_words in part)
    zh_chat_cum: tuple[float, ...]
    en_words: tuple[str, ...]  # what English phrases are made of
    en_cum: tuple[float, ...]
    en_chat: tuple[str, ...]  # everyday words, then the phrase words, for English chatter
    en_chat_cum: tuple[float, ...]
    hanzi_cum: tuple[float, ...]


# Chinese words: phrases use ranks [0, _ZH_PHRASE_WORDS), chatter ranks [_ZH_CHAT_FROM, _ZH_WORDS),
# so chatter shares some words (and many characters) with the phrases, as real messages do.
_ZH_WORDS = 8000
_ZH_PHRASE_WORDS = 5000
_ZH_CHAT_FROM = 3500


def _vocabulary(seed: int) -> _Vocabulary:
    rng = random.Random(seed)
    hanzi_cum = _zipf_cum(len(_HANZI), 0.8)
    words: dict[str, None] = {}
    while len(words) < _ZH_WORDS:
        words["".join(rng.choices(_HANZI, cum_weights=hanzi_cum, k=2))] = None
    zh = tuple(words)
    zh_chat = zh[_ZH_CHAT_FROM:]
    en_chat = tuple(_COMMON_WORDS) + tuple(w for w in _WORDS if w not in _COMMON_WORDS)
    return _Vocabulary(zh[:_ZH_PHRASE_WORDS], _zipf_cum(_ZH_PHRASE_WORDS, 0.7), zh_chat,
                       _zipf_cum(len(zh_chat), 0.7), tuple(_WORDS), _zipf_cum(len(_WORDS), 0.6),
                       en_chat, _zipf_cum(len(en_chat), 0.8), hanzi_cum)


# --------------------------------------------------------------------------- rules


def _zh_phrase(rng: random.Random, v: _Vocabulary) -> str:
    length = rng.choices((3, 4, 5, 6, 7, 8), (14, 30, 22, 16, 10, 8))[0]
    text = ""
    while len(text) < length:
        text += rng.choices(v.zh_words, cum_weights=v.zh_cum)[0]
    return text[:length]


def _en_phrase(rng: random.Random, v: _Vocabulary) -> str:
    k = 2 if rng.random() < 0.75 else 3
    words = rng.choices(v.en_words, cum_weights=v.en_cum, k=k)
    while len(set(words)) < k:
        words = rng.choices(v.en_words, cum_weights=v.en_cum, k=k)
    return " ".join(words)


def _phrases(rng: random.Random, v: _Vocabulary, count: int) -> tuple[str, ...]:
    out: dict[str, None] = {}
    while len(out) < count:
        out[_zh_phrase(rng, v) if rng.random() < 0.65 else _en_phrase(rng, v)] = None
    return tuple(out)


def _rules(n: int, seed: int, categories: Sequence[str]) -> Iterable[tuple[Rule, random.Random]]:
    v = _vocabulary(seed)
    rng = random.Random(seed + 1)
    for i in range(n):
        n_groups = rng.randint(3, 5)
        names = rng.sample(_GROUP_NAMES, n_groups)
        groups = []
        for g, name in enumerate(names):
            weight = rng.choice((20, 25, 30, 35, 40, 60)) if g else rng.choice((25, 30, 40))
            groups.append(Group(name=name, weight=weight, phrases=_phrases(rng, v, rng.randint(5, 15)),
                                fuzzy=rng.random() > 0.1))
        if rng.random() < 0.2:  # things legitimate messages say
            groups.append(Group(name=rng.choice(_NEGATIVE_NAMES), weight=-rng.choice((20, 30, 40)),
                                phrases=_phrases(rng, v, rng.randint(5, 10)), fuzzy=True))
        requires = (names[0],) if rng.random() < 0.3 else ()
        category = categories[i % len(categories)]
        title = {"zh-Hans": f"合成规则{i}", "zh-Hant": f"合成規則{i}", "en": f"Synthetic rule {i}"}
        advice = {"zh-Hans": ("立刻挂断。", "不要转账。"), "zh-Hant": ("立刻掛斷。", "不要轉帳。"),
                  "en": ("Hang up now.", "Do not transfer money.")}
        rule = Rule(id=f"syn-{i:05d}", category=category, title=MappingProxyType(title),
                    advice=MappingProxyType(advice), groups=tuple(groups), requires=requires, line=0)
        yield rule, rng


def _categories() -> dict[str, Category]:
    out = {}
    for cid in REQUIRED_CATEGORIES:
        scam = cid != "telecom_complaint"
        name = {"zh-Hans": f"类别{cid}", "zh-Hant": f"類別{cid}", "en": f"Category {cid}"}
        how = {"zh-Hans": "合成的说明。", "zh-Hant": "合成的說明。", "en": "A synthetic description."}
        out[cid] = Category(cid, scam, MappingProxyType(name), MappingProxyType(how))
    return out


def _texts() -> dict:
    out = {}
    for key in REQUIRED_TEXTS:
        if key == "emergency":
            block = {"zh-Hans": ("拨打110报警。", "联系银行冻结卡。"), "zh-Hant": ("撥打110報警。", "聯繫銀行凍結卡。"),
                     "en": ("Call the police on 110.", "Call your bank to freeze the card.")}
        else:
            block = {"zh-Hans": f"合成文本{key}。", "zh-Hant": f"合成文本{key}。", "en": f"Synthetic text {key}."}
        out[key] = MappingProxyType(block)
    return out


def make_ruleset(n_rules: int, seed: int = DEFAULT_SEED) -> RuleSet:
    """A synthetic rule set of ``n_rules`` rules, built directly as objects."""
    categories = _categories()
    rules = tuple(rule for rule, _ in _rules(n_rules, seed, list(categories)))
    return RuleSet(rules=rules, categories=MappingProxyType(categories), texts=MappingProxyType(_texts()),
                   thresholds=Thresholds(), label=f"synthetic-{n_rules}-{seed}", digest=f"syn{n_rules:09d}",
                   source=f"<synthetic {n_rules} rules, seed {seed}>")


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    kind: str
    text: str


def _zh_filler(rng: random.Random, v: _Vocabulary, chars: int) -> str:
    """Chinese-looking chatter: vocabulary words mixed with loose characters."""
    out: list[str] = []
    size = 0
    while size < chars:
        piece = rng.choices(v.zh_chat, cum_weights=v.zh_chat_cum)[0] if rng.random() < 0.5 else \
            "".join(rng.choices(_HANZI, cum_weights=v.hanzi_cum, k=rng.randint(1, 3)))
        out.append(piece)
        size += len(piece)
        if rng.random() < 0.12:
            out.append(rng.choice("，，，。！？"))
    return "".join(out)


def _en_filler(rng: random.Random, v: _Vocabulary, chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        word = rng.choices(v.en_chat, cum_weights=v.en_chat_cum)[0]
        out.append(word)
        size += len(word) + 1
    text = " ".join(out)
    return text[:1].upper() + text[1:] + "."


def _typo(rng: random.Random, phrase: str) -> str:
    if len(phrase) < 3:
        return phrase
    cjk = has_cjk(phrase)
    i = rng.randrange(1, len(phrase) - 1)
    new = rng.choice(_HANZI) if cjk else rng.choice("abcdefghijklmnopqrstuvwxyz")
    op = rng.randrange(4)
    if op == 0:
        return phrase[:i] + new + phrase[i + 1:]
    if op == 1:
        return phrase[:i] + phrase[i + 1:]
    if op == 2:
        return phrase[:i] + new + phrase[i:]
    return phrase[:i - 1] + phrase[i] + phrase[i - 1] + phrase[i + 1:]


def _obfuscate(rng: random.Random, text: str) -> str:
    out = []
    for ch in text:
        if ch.isascii() and ch.isalnum() and rng.random() < 0.5:
            ch = chr(ord(ch) + 0xFEE0)  # full-width form
        out.append(ch)
        if rng.random() < 0.15:
            out.append(rng.choice("\u200b\u200c\u200d\u2060 ·*"))
    return "".join(out)


def _splice(rng: random.Random, filler: str, phrases: Sequence[str], sep: str = "") -> str:
    """Put the phrases at random places in the filler (between words when ``sep`` is a space)."""
    if sep == " ":
        places = [i for i, c in enumerate(filler) if c == " "] or [len(filler)]
        cuts = sorted(rng.choice(places) for _ in phrases)
    else:
        cuts = sorted(rng.randrange(len(filler) + 1) for _ in phrases)
    pieces, prev = [], 0
    for cut, phrase in zip(cuts, phrases):
        pieces.append(filler[prev:cut])
        pieces.append(f"{sep}{phrase}{sep}")
        prev = cut
    pieces.append(filler[prev:])
    return "".join(pieces)


# (kind, share of the synthetic messages, what it is)
MESSAGE_KINDS = (
    ("zh_scam", 0.30, "Chinese description, 30-150 chars, with 1-4 phrases of one rule"),
    ("en_scam", 0.15, "English description, 30-150 chars, with 1-3 phrases of one rule"),
    ("typo", 0.15, "like the above (60% Chinese) but every phrase has one edit"),
    ("benign", 0.25, "chatter, 30-150 chars, no phrase inserted (60% Chinese)"),
    ("obfuscated", 0.05, "a scam description with zero-width characters, full-width letters, spaces"),
    ("long", 0.10, "pasted text of 400-3,000 chars with 0-6 phrases of 1-3 rules"),
)


def make_messages(ruleset: RuleSet, n: int, seed: int = DEFAULT_SEED) -> list[Message]:
    """``n`` messages for ``ruleset`` (phrases are drawn from its rules); see MESSAGE_KINDS."""
    v = _vocabulary(seed)
    rng = random.Random(seed + 2)
    rules = ruleset.rules
    kinds = [k for k, _, _ in MESSAGE_KINDS]
    shares = [s for _, s, _ in MESSAGE_KINDS]

    def rule_phrases(rule: Rule, k: int, want_cjk: bool | None) -> list[str]:
        groups = [g for g in rule.groups if g.weight > 0]
        rng.shuffle(groups)
        out = []
        for group in groups[:k]:
            pool = [p for p in group.phrases if want_cjk is None or has_cjk(p) == want_cjk] or list(group.phrases)
            out.append(rng.choice(pool))
        return out

    out: list[Message] = []
    for _ in range(n):
        kind = rng.choices(kinds, shares)[0]
        rule = rng.choice(rules)
        length = rng.randint(30, 150)
        if kind == "zh_scam":
            phrases = rule_phrases(rule, rng.randint(1, 4), True)
            text = _splice(rng, _zh_filler(rng, v, max(10, length - sum(map(len, phrases)))), phrases)
        elif kind == "en_scam":
            phrases = rule_phrases(rule, rng.randint(1, 3), False)
            text = _splice(rng, _en_filler(rng, v, max(10, length - sum(map(len, phrases)))), phrases, " ")
        elif kind == "typo":
            zh = rng.random() < 0.6
            phrases = [_typo(rng, p) for p in rule_phrases(rule, rng.randint(1, 4), zh)]
            filler = _zh_filler(rng, v, length) if zh else _en_filler(rng, v, length)
            text = _splice(rng, filler, phrases, "" if zh else " ")
        elif kind == "benign":
            text = _zh_filler(rng, v, length) if rng.random() < 0.6 else _en_filler(rng, v, length)
        elif kind == "obfuscated":
            phrases = rule_phrases(rule, rng.randint(2, 3), None)
            text = _splice(rng, _zh_filler(rng, v, length), [_obfuscate(rng, p) for p in phrases])
        else:  # long
            target = rng.randint(400, 3000)
            parts: list[str] = []
            size = 0
            while size < target:
                part = _zh_filler(rng, v, rng.randint(40, 200)) if rng.random() < 0.7 else \
                    _en_filler(rng, v, rng.randint(40, 200))
                parts.append(part)
                size += len(part)
            phrases = []
            for r in rng.sample(rules, min(len(rules), rng.randint(1, 3))):
                phrases += rule_phrases(r, rng.randint(0, 2), None)
            text = _splice(rng, "\n".join(parts), phrases, " ")
        out.append(Message(kind, text))
    return out


def load_dev_texts(path: Path = DEV_JSONL) -> list[str]:
    """The texts of the shared evaluation set, or [] when it is not there."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line)["text"] for line in fh if line.strip()]
    except OSError:
        return []


# --------------------------------------------------------------------------- rule files


def _examples(rng: random.Random, v: _Vocabulary, rule: Rule) -> tuple[list[str], list[str]]:
    match = []
    positive = [g for g in rule.groups if g.weight > 0]
    for i in range(8):
        groups = rng.sample(positive, min(len(positive), rng.randint(2, 3)))
        if rule.requires and not any(g.name in rule.requires for g in groups):
            groups[0] = next(g for g in rule.groups if g.name in rule.requires)
        phrases = [rng.choice(g.phrases) for g in groups]
        if i % 3 == 2:
            match.append(_splice(rng, _en_filler(rng, v, 16), phrases, " "))
        else:
            match.append(_splice(rng, _zh_filler(rng, v, 8), phrases))
    no_match = [_zh_filler(rng, v, rng.randint(8, 16)) if i % 2 == 0 else _en_filler(rng, v, 20)
                for i in range(5)]
    return match, no_match


def _plain(obj):
    """MappingProxyType/tuple -> dict/list, for yaml.safe_dump."""
    if isinstance(obj, (dict, MappingProxyType)):
        return {k: _plain(x) for k, x in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj


def rule_file_text(n_rules: int, seed: int = DEFAULT_SEED, template: RuleSet | None = None) -> str:
    """A complete rule file (YAML text) of ``n_rules`` synthetic rules.

    ``template`` (for example the shipped rule set) supplies the thresholds,
    texts and categories; without it, synthetic ones with the same structure
    are used. Every rule carries 8 match and 5 no_match example sentences.
    """
    categories = dict(template.categories) if template is not None else _categories()
    texts = dict(template.texts) if template is not None else _texts()
    thresholds = template.thresholds if template is not None else Thresholds()
    v = _vocabulary(seed)
    ex_rng = random.Random(seed + 3)
    rules = []
    for rule, _ in _rules(n_rules, seed, list(categories)):
        match, no_match = _examples(ex_rng, v, rule)
        body = {"id": rule.id, "category": rule.category, "title": _plain(rule.title),
                "advice": _plain(rule.advice)}
        if rule.requires:
            body["requires"] = list(rule.requires)
        body["groups"] = [{"name": g.name, "weight": g.weight, **({} if g.fuzzy else {"fuzzy": False}),
                           "phrases": list(g.phrases)} for g in rule.groups]
        body["examples"] = {"match": match, "no_match": no_match}
        rules.append(body)
    doc = {
        "schema": 1,
        "version": f"synthetic-{n_rules}-{seed}",
        "thresholds": {"high": thresholds.high, "medium": thresholds.medium, "low": thresholds.low},
        "texts": _plain(texts),
        "categories": {cid: {"scam": c.scam, "name": _plain(c.name), "how": _plain(c.how)}
                       for cid, c in categories.items()},
        "rules": rules,
    }
    header = f"# Synthetic CallGuard rules for benchmarks: {n_rules} rules, seed {seed}. Generated; do not edit.\n"
    return header + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10_000,
                                   default_flow_style=None)


def write_rule_file(path: str | os.PathLike, n_rules: int, seed: int = DEFAULT_SEED,
                    template: RuleSet | None = None) -> Path:
    """Write ``rule_file_text(...)`` to ``path`` (atomically) and return the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(rule_file_text(n_rules, seed, template), encoding="utf-8")
    tmp.replace(path)
    return path


if __name__ == "__main__":  # a quick look: python bench/synthetic.py
    rs = make_ruleset(3)
    for r in rs.rules:
        print(r.id, r.category, r.requires)
        for g in r.groups:
            print(f"  {g.name:9} {g.weight:4} fuzzy={g.fuzzy!s:5}", ", ".join(g.phrases))
    for m in make_messages(make_ruleset(1000), 12):
        print(f"[{m.kind}] {m.text[:160]!r}")
