"""Benchmark the matcher: Detector.check on prepared text, one core, no I/O.

    python bench/bench_matcher.py            # full run (several minutes: compiling 10,000 rules)
    python bench/bench_matcher.py --quick    # smaller corpus, one timed pass
    python bench/bench_matcher.py --no-10k   # without the 10,000-rule set
    python bench/bench_matcher.py --shipped-only --no-worst   # a quick look at the shipped rules

Rule sets: the shipped rules (rules/scam_patterns.yaml, as it is now), and
synthetic schema-2 sets of 1,000 and 10,000 rules (bench/synthetic.py). The
1,000 rules are the first 1,000 of the 10,000, and both are timed on the very
same messages, so time(10,000)/time(1,000) is the cost of ten times more rules
and nothing else.

Corpus (fixed seed): synthetic messages (see synthetic.MESSAGE_KINDS) that
realise the patterns of the rule set being timed (for the synthetic sets: of
the 1,000-rule set), plus the texts of /work/shared/eval/dev.jsonl when that
file is there (read at run time; never copied into the repo).

Worst cases: every crafted 4,096-character input of bench/crafted.py, timed
five times each against the shipped, the 1,000-rule and the 10,000-rule set;
the table shows the slowest of the five (CPU milliseconds of one ``check``).

Timed: ``Detector.check(text)`` for each message, one call at a time:
normalisation, both matching passes, scoring, the verdict and its evidence
spans. Not timed: building the corpus. The clock is this thread's CPU time
(``--clock cpu``, the default), so other work on a shared machine does not
inflate the numbers; ``--clock wall`` times elapsed time instead, and the table
shows wall-clock throughput too. messages/s is messages per second of one
core: timed messages / summed per-message time.
Compile time (``Detector(ruleset)``) is reported separately. One warm-up pass
precedes the timed passes; the garbage collector stays on, as in the bot, and
what exists before timing (the compiled rules, and the 10,000-rule set while
the 1,000 rules are timed) is frozen out of its reach, as ``callguard run``
does with the rules it starts with: otherwise a full collection walking the
generated rule sets lands on whichever message is being timed.

Prints a table and writes JSON to bench/results/matcher.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import crafted  # noqa: E402
import synthetic  # noqa: E402
import callguard  # noqa: E402
from callguard.detect import Detector, RuleFileError, load_rules  # noqa: E402
from callguard.detect.schema import RuleSet  # noqa: E402

SHIPPED = ROOT / "rules" / "scam_patterns.yaml"
RESULTS = HERE / "results" / "matcher.json"

TARGET_MSGS_PER_S = 10_000  # with 1,000 rules, one core
TARGET_RATIO = 3.0  # time(10,000 rules) / time(1,000 rules)
TARGET_WORST_MS = 20.0  # no 4,096-character message costs more
WORST_RUNS = 5


def pin_one_core() -> str:
    """Run on a single CPU so the numbers are one core's, whatever the machine."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity)"


def phrase_count(ruleset: RuleSet) -> int:
    return sum(len(g.phrases) for r in ruleset.rules for g in r.groups)


def percentile(sorted_values: list[int], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return float(sorted_values[k])


CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


def frozen_heap() -> None:
    """Move everything alive out of the garbage collector's reach, as
    ``callguard run`` does after loading its rules (``gc.unfreeze`` undoes it)."""
    gc.collect()
    gc.freeze()


def time_corpus(detector: Detector, texts: list[str], passes: int, clock_name: str) -> tuple[list[int], float]:
    """Per-message nanoseconds over ``passes`` timed passes (after one warm-up
    pass), and the wall-clock seconds the timed passes took."""
    check = detector.check
    for text in texts:  # warm-up: fills the normaliser's character table, caches
        check(text)
    frozen_heap()
    clock = CLOCKS[clock_name]
    out = [0] * (len(texts) * passes)
    i = 0
    wall0 = time.perf_counter()
    for _ in range(passes):
        for text in texts:
            t0 = clock()
            check(text)
            out[i] = clock() - t0
            i += 1
    return out, time.perf_counter() - wall0


def summarise(ns: list[int]) -> dict:
    total = sum(ns)
    s = sorted(ns)
    return {
        "messages": len(ns),
        "total_s": total / 1e9,
        "msgs_per_s": len(ns) / (total / 1e9) if total else 0.0,
        "mean_us": total / len(ns) / 1e3,
        "p50_us": percentile(s, 50) / 1e3,
        "p99_us": percentile(s, 99) / 1e3,
        "max_us": s[-1] / 1e3,
    }


def corpus_description(messages: list[synthetic.Message], dev: list[str]) -> list[dict]:
    """What the corpus is made of, per kind: count and length (characters)."""
    kinds: dict[str, list[int]] = {}
    for m in messages:
        kinds.setdefault(m.kind, []).append(len(m.text))
    if dev:
        kinds["dev.jsonl"] = [len(t) for t in dev]
    notes = {k: d for k, _, d in synthetic.MESSAGE_KINDS}
    notes["dev.jsonl"] = "scam-caller and service-call turns (Chinese), /work/shared/eval/dev.jsonl"
    return [{"kind": k, "count": len(v), "median_chars": int(statistics.median(v)), "max_chars": max(v),
             "what": notes.get(k, "")} for k, v in kinds.items()]


def throughput_target(result: dict) -> dict:
    """Issue 10's throughput target against one rule set's result."""
    return {"target": TARGET_MSGS_PER_S, "value": result["msgs_per_s"],
            "met": result["msgs_per_s"] >= TARGET_MSGS_PER_S}


def bench_ruleset(name: str, ruleset: RuleSet, corpus: list[tuple[str, str]], passes: int, clock: str,
                  build_s: float | None = None, worst: dict | None = None) -> dict:
    gc.collect()
    t0 = CLOCKS[clock]()
    detector = Detector(ruleset)
    compile_s = (CLOCKS[clock]() - t0) / 1e9
    texts = [t for _, t in corpus]
    ns, wall_s = time_corpus(detector, texts, passes, clock)
    result = {"name": name, "rules": len(ruleset.rules), "phrases": phrase_count(ruleset),
              "compile_s": compile_s, **summarise(ns), "wall_s": wall_s,
              "wall_msgs_per_s": len(ns) / wall_s if wall_s else 0.0}
    if build_s is not None:
        result["generate_s"] = build_s
    by_kind: dict[str, list[int]] = {}
    n = len(texts)
    for i, value in enumerate(ns):
        by_kind.setdefault(corpus[i % n][0], []).append(value)
    result["by_kind"] = {k: summarise(v) for k, v in by_kind.items()}
    flagged = sum(1 for t in texts if detector.check(t).risk in ("high", "medium"))
    result["flagged_share"] = flagged / len(texts)  # sanity: the corpus does exercise the rules
    gc.unfreeze()
    if worst is not None:  # the crafted inputs, on this compiled set (compiling 10,000 rules again takes a minute)
        worst[name] = worst_cases(detector, clock)
    del detector
    gc.collect()
    return result


def worst_cases(detector: Detector, clock_name: str) -> list[dict]:
    """Each crafted input's slowest and median ``check`` over WORST_RUNS runs (ms)."""
    clock = CLOCKS[clock_name]
    out = []
    inputs = crafted.crafted_inputs_all_seeds(detector.ruleset)
    frozen_heap()
    for name, text in inputs:
        detector.check(text)  # warm-up
        runs = []
        for _ in range(WORST_RUNS):
            t0 = clock()
            detector.check(text)
            runs.append((clock() - t0) / 1e6)
        out.append({"input": name, "chars": len(text), "max_ms": max(runs), "median_ms": statistics.median(runs)})
    gc.unfreeze()
    return out


def print_worst(worst: dict[str, list[dict]]) -> None:
    """One line per crafted input; an input made from the rules' keys shows its
    slowest sample over the seeds (``crafted.SEEDS``), and which seed that was."""
    names = list(worst)
    print(f"{'crafted 4,096-char input (max ms of ' + str(WORST_RUNS) + ')':<52}" + "".join(f"{n:>15}" for n in names))
    base = lambda item: item.split(" (seed ")[0]
    inputs = list(dict.fromkeys(base(row["input"]) for rows in worst.values() for row in rows))
    for item in inputs:
        cells = []
        for n in names:
            rows = [r for r in worst[n] if base(r["input"]) == item]
            row = max(rows, key=lambda r: r["max_ms"]) if rows else None
            seed = row["input"][len(item):].strip(" ()") if row else ""
            cells.append(f"{row['max_ms']:>15.1f}" + (f" [{seed}]" if seed and len(names) == 1 else "") if row
                         else f"{'-':>15}")
        label = item + (f" (worst of {len(rows)} seeds)" if len(rows) > 1 else "")
        print(f"{label:<52}" + "".join(cells))


def environment() -> dict:
    import rapidfuzz

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "bot/detect"],
                                    capture_output=True, text=True, timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "callguard": str(Path(callguard.__file__).parent),
            "rapidfuzz": rapidfuzz.__version__, "commit": commit + ("+dirty bot/detect" if dirty else ""),
            "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def print_table(results: list[dict]) -> None:
    head = (f"{'rule set':<16}{'rules':>7}{'phrases':>9}{'compile s':>11}{'msgs/s':>10}{'mean µs':>10}"
            f"{'p50 µs':>9}{'p99 µs':>9}{'max µs':>10}{'wall msgs/s':>13}")
    print(head)
    print("-" * len(head))
    for r in results:
        print(f"{r['name']:<16}{r['rules']:>7,}{r['phrases']:>9,}{r['compile_s']:>11.2f}{r['msgs_per_s']:>10,.0f}"
              f"{r['mean_us']:>10,.0f}{r['p50_us']:>9,.0f}{r['p99_us']:>9,.0f}{r['max_us']:>10,.0f}"
              f"{r['wall_msgs_per_s']:>13,.0f}")


def print_kinds(results: list[dict]) -> None:
    kinds = list(dict.fromkeys(k for r in results for k in r["by_kind"]))
    print(f"{'mean µs by kind':<16}" + "".join(f"{k:>12}" for k in kinds))
    for r in results:
        print(f"{r['name']:<16}" + "".join(
            f"{r['by_kind'][k]['mean_us']:>12,.0f}" if k in r["by_kind"] else f"{'-':>12}" for k in kinds))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller corpus and one timed pass")
    ap.add_argument("--messages", type=int, help="synthetic messages per corpus (default 4000, quick 1000)")
    ap.add_argument("--passes", type=int, help="timed passes over the corpus (default 3, quick 1)")
    ap.add_argument("--no-dev", action="store_true", help="leave the dev.jsonl texts out of the corpus")
    ap.add_argument("--no-10k", action="store_true", help="skip the 10,000-rule set (and the ratio)")
    ap.add_argument("--shipped-only", action="store_true", help="only the shipped rules (no synthetic sets)")
    ap.add_argument("--no-worst", action="store_true", help="skip the crafted worst cases")
    ap.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                    help="cpu: this thread's CPU time (default; steady on a shared machine); wall: elapsed time")
    ap.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})")
    args = ap.parse_args(argv)
    n_msgs = args.messages or (1000 if args.quick else 4000)
    passes = args.passes or (1 if args.quick else 3)

    pinned = pin_one_core()
    dev = [] if args.no_dev else synthetic.load_dev_texts()
    if args.quick:
        dev = dev[::3]

    results = []
    corpora = {}
    print(f"matcher benchmark ({'quick' if args.quick else 'full'}): {passes} timed pass(es), {pinned}, "
          f"{args.clock} clock, python {platform.python_version()}, callguard {Path(callguard.__file__).parent}")
    worst: dict[str, list[dict]] = {}

    # (a) the shipped rules, as they are on disk right now
    try:
        shipped = load_rules(SHIPPED)
    except RuleFileError as exc:
        print(f"shipped rules skipped: {SHIPPED} does not load:\n{exc}", file=sys.stderr)
        shipped = None
    if shipped is not None:
        msgs = synthetic.make_messages(shipped, n_msgs)
        corpus = [(m.kind, m.text) for m in msgs] + [("dev.jsonl", t) for t in dev]
        corpora["shipped"] = corpus_description(msgs, dev)
        results.append(bench_ruleset("shipped", shipped, corpus, passes, args.clock))
        if not args.no_worst:
            worst["shipped"] = worst_cases(Detector(shipped), args.clock)

    targets = {}
    if results and results[0]["name"] == "shipped":
        targets["msgs_per_s_shipped"] = throughput_target(results[0])
    ratio = None
    if not args.shipped_only:
        # (b), (c) synthetic rules; one corpus for both, built from the 1,000-rule set
        t0 = time.perf_counter()
        syn = synthetic.make_ruleset(1000 if args.no_10k else 10_000)
        generate_s = time.perf_counter() - t0
        syn1k = replace(syn, rules=syn.rules[:1000], label="synthetic-1000", digest="syn1000",
                        source="<synthetic 1000 rules>")
        msgs = synthetic.make_messages(syn1k, n_msgs)
        corpus = [(m.kind, m.text) for m in msgs] + [("dev.jsonl", t) for t in dev]
        corpora["synthetic"] = corpus_description(msgs, dev)
        results.append(bench_ruleset("synthetic-1k", syn1k, corpus, passes, args.clock))
        if not args.no_worst:
            worst["synthetic-1k"] = worst_cases(Detector(syn1k), args.clock)
        targets["msgs_per_s_1k"] = throughput_target(results[-1])
        if not args.no_10k:
            results.append(bench_ruleset("synthetic-10k", syn, corpus, passes, args.clock, build_s=generate_s,
                                         worst=None if args.no_worst else worst))
            r1k, r10k = results[-2], results[-1]
            ratio = {
                "total": r10k["total_s"] / r1k["total_s"],
                "p50": r10k["p50_us"] / r1k["p50_us"] if r1k["p50_us"] else None,
                "p99": r10k["p99_us"] / r1k["p99_us"] if r1k["p99_us"] else None,
            }
            targets["ratio_10k_1k"] = {"target": TARGET_RATIO, "value": ratio["total"],
                                       "met": ratio["total"] < TARGET_RATIO}
    if worst:
        slowest = max(row["max_ms"] for rows in worst.values() for row in rows)
        targets["worst_ms"] = {"target": TARGET_WORST_MS, "value": slowest, "met": slowest < TARGET_WORST_MS}

    print()
    for name, desc in corpora.items():
        total = sum(d["count"] for d in desc)
        print(f"corpus for {name} rules: {total:,} messages x {passes} timed pass(es)")
        for d in desc:
            print(f"  {d['kind']:<11}{d['count']:>6,}  median {d['median_chars']:>5,} chars, max {d['max_chars']:>6,}"
                  f"  {d['what']}")
    print()
    print_table(results)
    print()
    print_kinds(results)
    print()
    if worst:
        print_worst(worst)
        print()
    if ratio is not None:
        print(f"time(10k rules) / time(1k rules): {ratio['total']:.2f} total, "
              f"{ratio['p50']:.2f} at p50, {ratio['p99']:.2f} at p99")
    for key, t in targets.items():
        relation = "<" if key in ("ratio_10k_1k", "worst_ms") else ">="
        print(f"target {key}: {'met' if t['met'] else 'NOT MET'} ({t['value']:,.2f} vs {relation} {t['target']:,})")
    print("flagged (medium/high) share of the corpus: " +
          ", ".join(f"{r['name']} {r['flagged_share']:.0%}" for r in results))

    report = {"mode": "quick" if args.quick else "full", "passes": passes, "cpu": pinned, "clock": args.clock,
              "environment": environment(), "corpus": corpora, "results": results, "worst_cases": worst,
              "ratio_10k_over_1k": ratio, "targets": targets}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
