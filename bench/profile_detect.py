"""Where a check's time goes, stage by stage, on real texts (the shipped rules by default).

    python bench/profile_detect.py                    # corpus.jsonl + dev.jsonl, per-stage table
    python bench/profile_detect.py --cprofile 30      # and cProfile's 30 costliest functions
    python bench/profile_detect.py --rules 1000       # the first 1,000 synthetic rules instead

``Detector.check`` is one pass through these stages; here each is run and
timed on its own, in the order ``check`` runs them, on the same objects:

* normalise: ``Scan(text)`` (per character fold incl. Traditional ->
  Simplified, typo spelling, spaces, English word forms);
* scan: ``Layer.occurrences`` (the Aho-Corasick pass, recording, typo
  anchors and their alignments, pinyin);
* candidates: ``Layer.candidate_groups`` (incl. entities and single
  characters looked for on demand to decide candidates);
* rank+match: the rest of ``best_entries`` (heap, chaining, group bests) and
  the ``RuleScore``s, measured as ``Matcher.best_of_each`` less the two
  stages above, run again on a fresh ``Scan``;
* decide+evidence: ``Detector._decide`` (offsets back to the user's text,
  whole words, merging).

Per stage: the mean µs, its share of the summed total, and the mean over the
messages at or above the total's p50 and p99 (where a typical and a slow
message spend their time). Texts: /work/shared/train/corpus.jsonl and
eval/dev.jsonl (read at run time, never copied). One core, CPU clock, one
warm-up pass.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from callguard.detect import Detector, load_rules  # noqa: E402
from callguard.detect.matcher import MAX_OCCURRENCES  # noqa: E402
from callguard.detect.scan import Scan  # noqa: E402

SHARED = Path(os.environ.get("CALLGUARD_SHARED", "/work/shared"))
CLOCK = time.thread_time_ns
STAGES = ("normalise", "scan", "candidates", "rank+match", "decide+evidence")


def load_texts(limit: int | None) -> list[str]:
    out = []
    for path in (SHARED / "train" / "corpus.jsonl", SHARED / "eval" / "dev.jsonl"):
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                out += [json.loads(line)["text"] for line in fh if line.strip()]
    return out[:limit] if limit else out


def stages(detector: Detector, text: str) -> list[int]:
    """ns per stage for one text (see the module docstring)."""
    matcher = detector.matcher
    layer = matcher._layers[0][0]
    t0 = CLOCK()
    scan = Scan(text)
    t1 = CLOCK()
    occ = layer.occurrences(scan)
    t2 = CLOCK()
    layer.candidate_groups(occ, scan)
    t3 = CLOCK()
    scan2 = Scan(text)
    scan2.norm  # noqa: B018
    t4 = CLOCK()
    best = matcher.best_of_each(scan2, detector._kinds)
    t5 = CLOCK()
    detector._decide(scan2, best.get(0), best.get(1), best.get(2))
    t6 = CLOCK()
    rank_match = max(0, (t5 - t4) - (t2 - t1) - (t3 - t2))
    return [t1 - t0, t2 - t1, t3 - t2, rank_match, t6 - t5]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=0, help="the first N synthetic rules instead of the shipped file")
    ap.add_argument("--limit", type=int, default=0, help="at most this many texts")
    ap.add_argument("--cprofile", type=int, default=0, help="also print cProfile's N costliest functions")
    ap.add_argument("--crafted", action="store_true", help="the crafted 4,096-character inputs, one row each")
    args = ap.parse_args(argv)
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    if args.rules:
        import synthetic
        syn = synthetic.make_ruleset(max(args.rules, 1000))
        ruleset = replace(syn, rules=syn.rules[:args.rules])
    else:
        ruleset = load_rules(ROOT / "rules" / "scam_patterns.yaml")
    detector = Detector(ruleset)
    texts = load_texts(args.limit or None)
    if args.crafted:
        import crafted
        return crafted_rows(detector, crafted.crafted_inputs(ruleset))
    for text in texts:
        detector.check(text)
    gc.collect()
    gc.freeze()
    totals = []
    rows = []
    for text in texts:
        t0 = CLOCK()
        detector.check(text)
        totals.append(CLOCK() - t0)
        rows.append(stages(detector, text))
    n = len(texts)
    order = sorted(range(n), key=totals.__getitem__)
    p50, p99 = totals[order[n // 2]], totals[order[int(n * 0.99)]]
    print(f"{len(ruleset.rules):,} rules, {n:,} texts; check(): {n / (sum(totals) / 1e9):,.0f} msgs/s, "
          f"mean {sum(totals) / n / 1e3:,.0f} µs, p50 {p50 / 1e3:,.0f} µs, p99 {p99 / 1e3:,.0f} µs")
    near50 = order[int(n * 0.45):int(n * 0.55)]
    top1 = order[int(n * 0.99):]
    summed = [sum(r[i] for r in rows) for i in range(len(STAGES))]
    print(f"{'stage':<17}{'mean µs':>9}{'share':>7}{'p45-55 µs':>11}{'top 1% µs':>11}")
    for i, name in enumerate(STAGES):
        m50 = sum(rows[j][i] for j in near50) / len(near50) / 1e3
        m99 = sum(rows[j][i] for j in top1) / len(top1) / 1e3
        print(f"{name:<17}{summed[i] / n / 1e3:>9,.1f}{summed[i] / sum(summed):>7.0%}{m50:>11,.1f}{m99:>11,.1f}")
    print(f"(median length p45-55: {sorted(len(texts[j]) for j in near50)[len(near50) // 2]} characters, "
          f"top 1%: {sorted(len(texts[j]) for j in top1)[len(top1) // 2]})")
    if args.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        for text in texts:
            detector.check(text)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)
    gc.unfreeze()
    return 0


def crafted_rows(detector: Detector, inputs: list[tuple[str, str]]) -> int:
    """Per crafted input, the median ms of each stage over five runs."""
    gc.collect()
    gc.freeze()
    print(f"{'input':<34}" + "".join(f"{name:>16}" for name in STAGES) + f"{'total':>9}")
    for name, text in inputs:
        runs = sorted((stages(detector, text) for _ in range(5)), key=sum)
        row = runs[2]
        print(f"{name:<34}" + "".join(f"{v / 1e6:>16.2f}" for v in row) + f"{sum(row) / 1e6:>9.2f}")
    gc.unfreeze()
    return 0


if __name__ == "__main__":
    sys.exit(main())
