"""Detection quality of a rule file on every labelled set at hand, per source.

    python bench/quality.py                       # the shipped rules
    python bench/quality.py --rules OLD.yaml      # another rule file (e.g. `git show REV:rules/scam_patterns.yaml`)
    python bench/quality.py --markdown            # the table as bench/README.md shows it

Sets: ../shared/eval/dev.jsonl and ../shared/train/corpus.jsonl when they are
there (read at run time, never copied into the repository), and the project's
own hand-written bench/probe/probe.jsonl, rules/regression.jsonl and
bench/fresh/fresh.jsonl (batches each scored before it was read) and
bench/fresh/heldout.jsonl (batches nobody has read: bench/fresh/README.md). Per
source: scams, recall, benign texts, false-positive rate, and category
accuracy where the set says which categories count (``accept``). The same
numbers as ``../shared/eval/score.py``, computed in-process (no subprocess),
so a full run takes a minute or two.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from callguard.detect import Detector, load_rules  # noqa: E402

SHARED = Path(os.environ.get("CALLGUARD_SHARED_DIR", ROOT.parent / "shared"))
SETS = {
    "dev": SHARED / "eval" / "dev.jsonl",
    "corpus": SHARED / "train" / "corpus.jsonl",
    "probe": HERE / "probe" / "probe.jsonl",
    "regression": ROOT / "rules" / "regression.jsonl",
    "fresh": HERE / "fresh" / "fresh.jsonl",
    "heldout": HERE / "fresh" / "heldout.jsonl",  # never read: see bench/fresh/README.md
}


def score(detector: Detector, path: Path) -> dict[str, dict]:
    """Per source (and per language, and all): counts for recall, FPR, category accuracy."""
    stats: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for line in path.open(encoding="utf-8"):
        if not line.strip():
            continue
        item = json.loads(line)
        verdict = detector.check(item["text"])
        lang = item.get("lang", "")
        for key in (item.get("source", path.stem), f"ALL_{lang}", "ALL"):
            s = stats[key]
            if item["label"] == "scam":
                s["scam"] += 1
                s["tp"] += verdict.scam
                if verdict.scam and item.get("accept"):
                    s["typed"] += 1
                    s["type_ok"] += verdict.category in item["accept"]
            else:
                s["benign"] += 1
                s["fp"] += verdict.scam
    return stats


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}" if b else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=Path, default=ROOT / "rules" / "scam_patterns.yaml")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    detector = Detector(load_rules(args.rules))
    rows = []
    for name, path in SETS.items():
        if not path.exists():
            print(f"({name}: {path} not found, skipped)", file=sys.stderr)
            continue
        stats = score(detector, path)
        for key in sorted(stats, key=lambda k: (k.startswith("ALL"), k)):
            s = stats[key]
            if key.startswith("ALL") and len([k for k in stats if not k.startswith("ALL")]) == 1 and key != "ALL":
                continue
            rows.append((name, key, s["scam"], pct(s["tp"], s["scam"]), s["benign"], pct(s["fp"], s["benign"]),
                         pct(s["type_ok"], s["typed"])))
    head = ("set", "source", "scams", "recall %", "benign", "false pos. %", "category acc. %")
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(map(str, row)) + " |")
    else:
        print(f"{head[0]:<11}{head[1]:<24}{head[2]:>6}{head[3]:>10}{head[4]:>8}{head[5]:>14}{head[6]:>17}")
        for row in rows:
            print(f"{row[0]:<11}{row[1]:<24}{row[2]:>6}{row[3]:>10}{row[4]:>8}{row[5]:>14}{row[6]:>17}")
    print(f"rule set {detector.version} from {args.rules}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
