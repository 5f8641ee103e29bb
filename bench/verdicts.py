"""Same verdicts before and after a change to the detection core: a snapshot and a diff.

    python bench/verdicts.py save /tmp/before.jsonl    # with the code before the change
    python bench/verdicts.py diff /tmp/before.jsonl    # with the code after: prints every difference

A speed-up must not change what CallGuard finds. This runs the real batch
checker (``callguard check --jsonl -``, the console script beside this
Python) over every text we have, and compares the whole JSON verdict of each
(scam, risk, category, rule, score, and every piece of evidence with its
span and similarity):

* ../shared/eval/dev.jsonl, ../shared/train/corpus.jsonl (read at run time,
  never copied; CALLGUARD_SHARED names another folder), rules/regression.jsonl, and every
  bench/probe/*.jsonl and bench/fresh/*.jsonl (fresh.jsonl, heldout.jsonl, ...);
* synthetic messages realising the shipped rules' patterns, with typos,
  obfuscation and long pasted texts (bench/synthetic.py, fixed seed);
* the crafted 4,096-character inputs of bench/bench_matcher.py.

``diff`` exits 1 when any verdict differs (or the texts differ: a snapshot of
other inputs is no comparison). The rule file is the shipped one unless
CALLGUARD_RULES says otherwise; use the same one for both runs.

``--synthetic N`` checks against the first N synthetic schema-2 rules of
bench/synthetic.py instead (in this process, no rule file: the synthetic sets
are where the matcher's pruning and caps have the most to do), on messages
realising those rules, the crafted inputs made from them, and the matcher
benchmark's own corpus (messages realising the first 1,000 rules, which
bench_matcher.py times against both synthetic sets, and dev.jsonl).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

SHARED = Path(os.environ.get("CALLGUARD_SHARED", "/work/shared"))  # the shared data (../shared from /work/main)
SOURCES = {
    "dev": SHARED / "eval" / "dev.jsonl",
    "corpus": SHARED / "train" / "corpus.jsonl",
    "regression": ROOT / "rules" / "regression.jsonl",
    **{f"{path.parent.name}/{path.stem}": path for folder in ("probe", "fresh")
       for path in sorted((HERE / folder).glob("*.jsonl"))},
}
SYNTHETIC_MESSAGES = 3000
BENCH_MESSAGES = 4000  # bench_matcher.py's full corpus


def texts() -> list[tuple[str, str]]:
    """(source, text) of every input, in a fixed order."""
    import crafted
    import synthetic
    from callguard.config import Settings
    from callguard.detect import load_rules

    out = []
    for name, path in SOURCES.items():
        if not path.exists():
            print(f"verdicts: {path} is not there; left out", file=sys.stderr)
            continue
        with open(path, encoding="utf-8") as fh:
            out += [(name, json.loads(line)["text"]) for line in fh if line.strip()]
    shipped = load_rules(Settings.from_env().rules_path)
    out += [("synthetic", m.text) for m in synthetic.make_messages(shipped, SYNTHETIC_MESSAGES)]
    out += [("crafted", text) for _, text in crafted.crafted_inputs(shipped)]
    return out


def synthetic_texts(n_rules: int) -> tuple[object, list[tuple[str, str]]]:
    """The first ``n_rules`` synthetic rules, and (source, text) of messages
    realising them and of the crafted inputs made from them."""
    import crafted
    import synthetic

    from dataclasses import replace

    ruleset = synthetic.make_ruleset(n_rules)
    out = [("synthetic", m.text) for m in synthetic.make_messages(ruleset, SYNTHETIC_MESSAGES)]
    out += [("crafted", text) for _, text in crafted.crafted_inputs(ruleset)]
    first_1k = replace(ruleset, rules=ruleset.rules[:1000])
    out += [("bench", m.text) for m in synthetic.make_messages(first_1k, BENCH_MESSAGES)]
    out += [("dev", text) for text in synthetic.load_dev_texts()]
    return ruleset, out


def synthetic_verdicts(ruleset, items: list[tuple[str, str]]) -> list[dict]:
    """The verdict of each text, as the batch checker writes it, in this process."""
    from callguard.detect import Detector

    detector = Detector(ruleset)
    return [{"source": source, "text": text, "verdict": detector.check(text).to_json()} for source, text in items]


def verdicts(items: list[tuple[str, str]]) -> list[dict]:
    """The batch checker's record for each text (the real command, in its own process)."""
    script = Path(sys.executable).with_name("callguard")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "callguard"]
    feed = "".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for _, text in items)
    run = subprocess.run([*command, "check", "--jsonl", "-"], input=feed, capture_output=True, text=True,
                         check=True)
    records = [json.loads(line) for line in run.stdout.splitlines()]
    if len(records) != len(items):
        raise SystemExit(f"verdicts: {len(items)} texts in, {len(records)} verdicts out\n{run.stderr}")
    return [{"source": source, "text": text, "verdict": record.get("verdict", record)}
            for (source, text), record in zip(items, records)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("save", "diff"))
    parser.add_argument("file", type=Path, help="the snapshot (JSON lines)")
    parser.add_argument("--synthetic", type=int, metavar="N", help="the first N synthetic rules instead of the rule file")
    args = parser.parse_args(argv)
    if args.synthetic:
        now = synthetic_verdicts(*synthetic_texts(args.synthetic))
    else:
        now = verdicts(texts())
    if args.action == "save":
        with open(args.file, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in now)
        print(f"saved {len(now):,} verdicts to {args.file}")
        return 0
    with open(args.file, encoding="utf-8") as fh:
        before = [json.loads(line) for line in fh if line.strip()]
    if [(b["source"], b["text"]) for b in before] != [(n["source"], n["text"]) for n in now]:
        print(f"verdicts: the snapshot holds other texts ({len(before):,} vs {len(now):,}): no comparison")
        return 1
    differences = [(b, n) for b, n in zip(before, now) if b["verdict"] != n["verdict"]]
    # Held-out texts are never shown (bench/fresh/README.md): only their count below, and whether
    # each became a scam or stopped being one.
    shown = [(b, n) for b, n in differences if not b["source"].endswith("heldout")]
    for b, n in differences:
        if b["source"].endswith("heldout"):
            print(f"[{b['source']}] (not shown) scam {b['verdict'].get('scam')} -> {n['verdict'].get('scam')}")
    for b, n in shown[:20]:
        print(f"[{b['source']}] {b['text'][:100]!r}\n  before: {json.dumps(b['verdict'], ensure_ascii=False)[:400]}"
              f"\n  after:  {json.dumps(n['verdict'], ensure_ascii=False)[:400]}")
    by_source: dict[str, list[int]] = {}
    for b, n in zip(before, now):
        counts = by_source.setdefault(b["source"], [0, 0])
        counts[0] += 1
        counts[1] += b["verdict"] != n["verdict"]
    print(", ".join(f"{source}: {diff:,} of {total:,} differ" for source, (total, diff) in by_source.items()))
    print(f"{len(differences):,} of {len(now):,} verdicts differ")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
