"""Compare two matchers in one process, message by message: a git ref's (default main) and this tree's.

    python bench/ab_matcher.py                      # main vs this tree, 1,000 synthetic rules, 6 passes
    python bench/ab_matcher.py --rules 10000 --passes 2
    python bench/ab_matcher.py --ref 2d14e7c --crafted
    python bench/ab_matcher.py --shipped --crafted  # the rule file, on real texts

Why: ``bench_matcher.py`` run twice side by side (before on one core, after
on the other) on this shared two-core machine gave differences of 10-20 %
either way between identical code, and its quick mode times the 1,000-rule
corpus in one pass of about a second: whatever the other process or another
session did in that second decided the result (branch ``speed4`` read an
11 % slowdown at 1,000 rules out of three such runs; instruction counts
under cachegrind showed 2 % less work). Here the ref's ``bot/detect`` (from
``git archive``, imported under another name) and this tree's are compiled
from the same rule set in the same process, pinned to one core, and every
message is checked by both, one right after the other, the order alternating:
what else the machine does falls on both alike.

Rule sets and corpus as in ``bench_matcher.py``: the first ``--rules`` of the
10,000 synthetic rules, 1,000 messages realising the first 1,000 rules and a
third of dev.jsonl. ``--shipped``: this tree's rules/scam_patterns.yaml
instead, on 1,000 messages realising it, every tenth text of the shared
corpus.jsonl and a third of dev.jsonl (the texts a profile of real traffic
is closest to). ``--crafted``: the crafted 4,096-character inputs made
from the rule set as well, each checked ``--repeats`` times by both.
Prints msgs/s of each per pass, after / before per pass, the mean µs per kind
of message, and for the crafted inputs the median ms of each.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import crafted  # noqa: E402
import synthetic  # noqa: E402
from callguard.detect import Detector, load_rules  # noqa: E402

CLOCK = time.thread_time_ns


def detect_of(ref: str, into: Path):
    """The ``Detector`` of ``ref``'s ``bot/detect``, imported as ``detect_at_ref`` (its imports are relative)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "bot/detect"], capture_output=True, check=True)
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    (into / "bot" / "detect").rename(into / "detect_at_ref")
    sys.path.insert(0, str(into))
    return importlib.import_module("detect_at_ref").Detector


def shared_texts(name: str) -> list[str]:
    """The texts of a shared JSON-lines file (read at run time, never copied), [] when it is not there."""
    path = Path(os.environ.get("CALLGUARD_SHARED", "/work/shared")) / name
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def alternate(checks: dict, texts: list[str], passes: int) -> dict[str, list[list[int]]]:
    """Per matcher, per pass, the ns of each text; each text checked by both in turn, who goes first alternating."""
    names = list(checks)
    out = {name: [] for name in names}
    for p in range(passes):
        row = {name: [0] * len(texts) for name in names}
        for i, text in enumerate(texts):
            for name in (names if (i + p) % 2 == 0 else names[::-1]):
                t0 = CLOCK()
                checks[name](text)
                row[name][i] = CLOCK() - t0
        for name in names:
            out[name].append(row[name])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", default="main", help="the git ref timed as 'before' (default main)")
    ap.add_argument("--rules", type=int, default=1000, help="the first N of the 10,000 synthetic rules (default 1000)")
    ap.add_argument("--shipped", action="store_true", help="the shipped rule file and real texts instead")
    ap.add_argument("--passes", type=int, default=6)
    ap.add_argument("--crafted", action="store_true", help="the crafted 4,096-character inputs as well")
    ap.add_argument("--repeats", type=int, default=7, help="checks of each crafted input by each matcher")
    args = ap.parse_args(argv)
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    if args.shipped:
        ruleset = load_rules(ROOT / "rules" / "scam_patterns.yaml")
        corpus = [(m.kind, m.text) for m in synthetic.make_messages(ruleset, 1000)]
        corpus += [("corpus.jsonl", t) for t in shared_texts("train/corpus.jsonl")[::10]]
        args.rules = len(ruleset.rules)
    else:
        syn = synthetic.make_ruleset(10_000)
        ruleset = replace(syn, rules=syn.rules[:args.rules])
        first_1k = replace(syn, rules=syn.rules[:1000])
        corpus = [(m.kind, m.text) for m in synthetic.make_messages(first_1k, 1000)]
        del syn, first_1k
    corpus += [("dev.jsonl", t) for t in synthetic.load_dev_texts()[::3]]
    with tempfile.TemporaryDirectory() as tmp:  # the ref's data files are read where they are, so kept till the end
        before = detect_of(args.ref, Path(tmp))
        detectors = {"before": before(ruleset), "after": Detector(ruleset)}
        compare(args, ruleset, corpus, detectors, cpu)
    return 0


def compare(args, ruleset, corpus: list[tuple[str, str]], detectors: dict, cpu: int) -> None:
    checks = {name: d.check for name, d in detectors.items()}
    texts = [t for _, t in corpus]
    for check in checks.values():  # warm-up
        for text in texts:
            check(text)
    gc.collect()
    gc.freeze()
    what = "shipped" if args.shipped else "synthetic"
    print(f"{args.ref} (before) vs this tree (after): {args.rules:,} {what} rules, {len(texts):,} messages x "
          f"{args.passes} passes, CPU {cpu}, CPU clock")
    runs = alternate(checks, texts, args.passes)
    rates = {name: [len(texts) / (sum(row) / 1e9) for row in rows] for name, rows in runs.items()}
    for name, values in rates.items():
        pooled = sorted(ns for row in runs[name] for ns in row)
        p50, p99 = pooled[len(pooled) // 2] / 1e3, pooled[int(len(pooled) * 0.99)] / 1e3
        print(f"  {name:<7} msgs/s median {statistics.median(values):7,.0f}   p50 {p50:6,.0f} µs  p99 {p99:7,.0f} µs"
              f"   passes " + " ".join(f"{v:,.0f}" for v in values))
    ratios = [a / b for a, b in zip(rates["after"], rates["before"])]
    print(f"  after / before msgs/s: median {statistics.median(ratios):.3f}   passes "
          + " ".join(f"{r:.3f}" for r in ratios))
    kinds = list(dict.fromkeys(k for k, _ in corpus))
    print("  mean µs by kind, before / after:")
    for kind in kinds:
        idx = [i for i, (k, _) in enumerate(corpus) if k == kind]
        mean = {name: statistics.mean(row[i] for row in rows for i in idx) / 1e3 for name, rows in runs.items()}
        print(f"    {kind:<11}{mean['before']:>8,.0f} {mean['after']:>8,.0f}")
    if args.crafted:
        print(f"  crafted 4,096-character inputs, median ms of {args.repeats}, before / after:")
        rows = []
        for name, text in crafted.crafted_inputs(ruleset):
            for check in checks.values():
                check(text)
            times = alternate(checks, [text], args.repeats)
            rows.append((name, *(statistics.median(r[0] for r in times[who]) / 1e6 for who in ("before", "after"))))
        for name, b, a in sorted(rows, key=lambda row: -row[1]):
            print(f"    {name:<34}{b:>7.1f} {a:>7.1f}   {a / b:.2f}")
    gc.unfreeze()


if __name__ == "__main__":
    sys.exit(main())
