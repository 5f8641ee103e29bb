"""Benchmark: what quoting whole Chinese words (bot/detect/chinese_words.py) changes and costs.

    python bench/bench_words.py             # everything, about half a minute
    python bench/bench_words.py --repeat 5  # fewer timed repeats

1. **Quotes**: every Chinese ``match`` example of the shipped rules, judged with
   and without the widening: how many quotes change, how many characters they
   gain, the largest gain of one span, and that risk, category and score are
   the same (the widening is presentation only). ``--show`` prints the quotes
   that change.
2. **First use**, in a fresh process: CPU time and resident memory of the first
   widening, which loads the dictionary; and that importing ``callguard.cli``
   and judging English or benign text does not load it.
3. **Per span**: CPU microseconds of one ``whole_chinese_words`` call on the
   examples' spans, with the cache of segmented windows empty (cold) and full.
4. **Worst case**: crafted messages of 4,096 characters (scam stories back to
   back, the same without one punctuation mark, scam words in random common
   characters), cold cache: CPU time spent widening per message, next to the
   whole ``Detector.check``.

CPU clock (``time.thread_time``), so other work on a shared machine does not
inflate the numbers; the medians of the repeats are shown.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from callguard.detect import Detector, detect_language, load_rules  # noqa: E402
from callguard.detect import chinese_words, verdict  # noqa: E402
from callguard.detect.normalize import has_cjk  # noqa: E402

RULES = ROOT / "rules" / "scam_patterns.yaml"
WIDEN = verdict.whole_chinese_words

FIRST_USE = r"""
import json, os, sys, time
from callguard import cli
from callguard.detect import Detector, load_rules
from callguard.detect.chinese_words import whole_chinese_words
def resident_mb():  # resident memory now (Linux)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
d = Detector(load_rules(sys.argv[1]))
d.check("HMRC said there is a warrant for my arrest, pay now with gift cards")
d.check("今天天气很好，我们去公园散步吧")
loaded_early = "rjieba" in sys.modules
before = resident_mb()
t = time.thread_time()
whole_chinese_words("我儿子用新号码发短信", 1, 6)
cpu = time.thread_time() - t
print(json.dumps({"loaded_early": loaded_early, "cpu": cpu, "rss_mb": resident_mb() - before}))
"""


def judged(detector: Detector, text: str, widen: bool):
    verdict.whole_chinese_words = WIDEN if widen else (lambda text, start, end: (start, end))
    try:
        return detector.check(text)
    finally:
        verdict.whole_chinese_words = WIDEN


def quotes(detector: Detector, examples: list[str], show: bool) -> None:
    changed = {"zh-Hans": 0, "zh-Hant": 0}
    total = {"zh-Hans": 0, "zh-Hant": 0}
    gained = biggest = 0
    for text in examples:
        lang = detect_language(text)
        before, after = judged(detector, text, False), judged(detector, text, True)
        assert (before.risk, before.category, before.score) == (after.risk, after.category, after.score), text
        total[lang] += 1
        old, new = [e.text for e in before.evidence], [e.text for e in after.evidence]
        if old != new:
            changed[lang] += 1
            gained += sum(map(len, new)) - sum(map(len, old))
            if show:
                print(f"  {text}\n    {old}\n -> {new}")
        for ev in after.evidence:
            inner = [b for b in before.evidence if ev.start <= b.start and b.end <= ev.end]
            if inner:
                biggest = max(biggest, (inner[0].start - ev.start), (ev.end - inner[-1].end))
    print("1. Quotes of the Chinese match examples (risk, category and score: identical)")
    for lang in total:
        print(f"   {lang}: {changed[lang]} of {total[lang]} examples quote more whole words")
    print(f"   characters gained in all: {gained}; the most one span edge moved: {biggest}")


def first_use() -> None:
    out = subprocess.run([sys.executable, "-c", FIRST_USE, str(RULES)], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    r = json.loads(out)
    print("2. First use (a fresh process)")
    print(f"   dictionary loaded by import, English or benign text: {r['loaded_early']}")
    print(f"   first widening: {r['cpu'] * 1000:.0f} ms CPU, resident memory +{r['rss_mb']:.0f} MB")


def per_span(detector: Detector, examples: list[str], repeat: int) -> None:
    spans = [(text, ev.start, ev.end) for text in examples for ev in judged(detector, text, False).evidence]
    results = {}
    for cold in (True, False):
        runs = []
        for _ in range(repeat):
            if cold:
                chinese_words._words.cache_clear()
            t = time.thread_time()
            for text, a, b in spans:
                chinese_words.whole_chinese_words(text, a, b)
            runs.append((time.thread_time() - t) / len(spans))
        results[cold] = statistics.median(runs)
    print(f"3. Per span ({len(spans)} spans of the examples)")
    print(f"   cold cache {results[True] * 1e6:.1f} us, warm {results[False] * 1e6:.1f} us")


def crafted(kind: str, stories: list[str], rng: random.Random) -> str:
    common = "的一是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会家可下而过天去能对小多然"
    words = ["安全账户", "公安局", "冻结", "验证码", "通信管理局", "转账", "刷单", "用新号", "平安就先打", "裸聊", "信贷"]
    text = ""
    while len(text) < 4096:
        if kind == "stories":
            text += rng.choice(stories)
        elif kind == "no punctuation":
            text += "".join(c for c in rng.choice(stories) if has_cjk(c))
        else:
            text += "".join(rng.choices(common, k=rng.randint(1, 5))) + rng.choice(words)
    return text[:4096]


def worst_case(detector: Detector, stories: list[str], repeat: int) -> None:
    rng = random.Random(11)
    spent = [0.0]

    def timed(text: str, start: int, end: int) -> tuple[int, int]:
        t = time.thread_time()
        try:
            return WIDEN(text, start, end)
        finally:
            spent[0] += time.thread_time() - t

    print("4. Worst case: 4,096 characters, cold cache (median of repeats)")
    for kind in ("stories", "no punctuation", "words in noise"):
        widening, checks, spans = [], [], 0
        for _ in range(repeat):
            text = crafted(kind, stories, rng)
            chinese_words._words.cache_clear()
            spent[0] = 0.0
            verdict.whole_chinese_words = timed
            t = time.thread_time()
            try:
                result = detector.check(text)
            finally:
                verdict.whole_chinese_words = WIDEN
            checks.append(time.thread_time() - t)
            widening.append(spent[0])
            spans = max(spans, len(result.evidence))
        print(f"   {kind:15} widening {statistics.median(widening) * 1e6:6.0f} us (max {max(widening) * 1e6:.0f})"
              f" of check {statistics.median(checks) * 1000:5.1f} ms; evidence spans <= {spans}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--show", action="store_true", help="print the quotes that change")
    args = parser.parse_args()
    ruleset = load_rules(RULES)
    detector = Detector(ruleset)
    examples = [t for rule in ruleset.rules for t in rule.examples_match if detect_language(t) != "en"]
    quotes(detector, examples, args.show)
    first_use()
    per_span(detector, examples, args.repeat)
    worst_case(detector, examples, args.repeat)
    print(f"rule set {ruleset.digest}, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
