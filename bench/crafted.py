"""Crafted 4,096-character inputs: the worst cases the matcher must keep bounded.

A Telegram message holds at most 4,096 characters. Each input here repeats
something that makes one part of the matcher work hard: near misses that
ask for fuzzy alignments, one key found thousands of times, a pattern's
elements repeated so that chaining has many candidates, entities by the
hundred, single characters a "short" class looks for, pinyin, spaced-out
characters. Some are fixed strings, some are made from the rule set being
timed (its keys with a typo, its longest patterns realised), so the
synthetic rule sets get their own worst cases.
"""

from __future__ import annotations

import random

from callguard.detect.normalize import has_cjk
from callguard.detect.schema import RuleSet

__all__ = ["LENGTH", "crafted_inputs"]

LENGTH = 4096

_FIXED = (
    ("验证码 near miss x512", "收到的验证码告诉" * 512),
    ("通信管理 x1024", "通信管理" * 1024),
    ("safe acount x341", "safe acount " * 341),
    ("one letter x4096", "a" * 4096),
    ("验证码 x1365", "验证码" * 1366),
    ("的 x4096 (short class)", "的" * 4096),
    ("我的 x2048", "我的" * 2048),
    ("digits 123456 x585", "123456 " * 586),
    ("amounts 转¥3,000给我", "转¥3,000给我" * 410),
    ("links x200", "http://a-verify.top/x " * 187),
    ("letters, then a dot written as 点", "a" * 4090 + "点cc"),
    ("kin + money verb x1024", "妈妈转账" * 1024),
    ("denials x315 (negation cues)", "请勿告诉他人验证码不会转账" * 316),
    ("English denials x124", "we will never ask for your code. " * 125),
    ("scam sentence, Chinese", "有人自称通信管理局说我的号码要被冻结让我把钱转到安全账户" * 147),
    ("scam sentence, English", "They said my number will be suspended, transfer money to a safe account now. " * 54),
    ("pinyin x256", "tongxinguanliju " * 256),
    ("spaced characters", "通 信 管 理 局 " * 410),
    ("zero-width between", "安\u200b全\u200b账\u200b户\u200b" * 512),
)


def crafted_inputs(ruleset: RuleSet, seed: int = 7) -> list[tuple[str, str]]:
    """(name, text) pairs of exactly LENGTH characters: the fixed ones, then
    ones made from ``ruleset``'s own keys and patterns."""
    rng = random.Random(seed)
    out = [(name, _fit(text)) for name, text in _FIXED]
    keys = [k for r in ruleset.rules for g in r.groups for p in g.patterns for e in p.elements for k in e.keys]
    long_keys = sorted({k for k in keys if len(k) >= (5 if has_cjk(k) else 8)})
    if long_keys:
        # Every long key with one wrong character: each asks for a fuzzy alignment.
        out.append(("rule keys, one typo each", _fit("".join(_typo(rng, k) + " " for k in rng.sample(
            long_keys, min(len(long_keys), 600))))))
        # Keys' halves only: anchors that lead nowhere.
        halves = _fit("".join(k[: len(k) // 2] + "，" for k in rng.sample(long_keys, min(len(long_keys), 1200))))
        out.append(("rule key halves", halves))
        # The same after a warning's heading: the warning words hold every story down, so the
        # verdict is no scam and the story the warning tells is looked for (Detector.warns_of).
        out.append(("rule key halves, as a warning", ("PSA 提醒大家：" + halves)[:LENGTH]))
    words = sorted({w for k in keys if not has_cjk(k) for w in k.split(" ") if len(w) >= 5 and w.isalpha()})
    if words:
        # English rule words, each with a typo, between common words (so the message reads
        # as English): every one is a distinct word the speller (detect/spelling.py) looks up.
        out.append(("rule words misspelled, in English", _fit("".join(
            f"{_typo(rng, w)} and the " for w in rng.sample(words, min(len(words), 400))))))
    chains = sorted((p for r in ruleset.rules for g in r.groups for p in g.patterns if len(p.elements) > 1),
                    key=lambda p: (-len(p.elements), p.source))[:40]
    if chains:
        # Every element of the longest patterns, over and over, in order and not.
        pieces = [e.keys[0] for p in chains for e in p.elements if e.keys]
        out.append(("pattern elements in order", _fit("".join(pieces) * 2)))
        rng.shuffle(pieces)
        out.append(("pattern elements shuffled", _fit("，".join(pieces) * 2)))
    common = {}
    for k in keys:
        common[k] = common.get(k, 0) + 1
    if common:
        top = sorted(common, key=lambda k: (-common[k], k))[:30]
        out.append(("most used keys x many", _fit(" ".join(top))))
    return out


SEEDS = (7, 0, 1, 2, 3, 4, 5, 6)  # 7 first: the one sample reported before the others were measured


def crafted_inputs_all_seeds(ruleset: RuleSet, seeds: tuple[int, ...] = SEEDS) -> list[tuple[str, str]]:
    """The fixed inputs once, then the ones made from the rules' keys for each
    of ``seeds``, named "… (seed N)". Which keys a sample draws decides its
    cost: measured on one rule file, "rule key halves" took 10 to 20 ms over
    eight seeds, and 34 ms with another file's keys. The worst case is the
    worst over the samples, not the cost of one."""
    fixed = {name for name, _ in _FIXED}
    out = [(name, text) for name, text in crafted_inputs(ruleset, seeds[0]) if name in fixed]
    for seed in seeds:
        out += [(f"{name} (seed {seed})", text) for name, text in crafted_inputs(ruleset, seed) if name not in fixed]
    return out


def _fit(text: str) -> str:
    """``text`` repeated or cut to exactly LENGTH characters."""
    if not text:
        return "x" * LENGTH
    return (text * (LENGTH // len(text) + 1))[:LENGTH]


def _typo(rng: random.Random, key: str) -> str:
    i = rng.randrange(1, len(key) - 1)
    return key[:i] + ("的" if has_cjk(key[i]) else "q") + key[i + 1:]
