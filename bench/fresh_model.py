"""Does the learned second opinion help on messages nobody has read, when it learns from ours?

    pip install -e '.[train]'
    python bench/fresh_model.py            # train (~10 minutes on two cores), then judge
    python bench/fresh_model.py --no-corpus  # without the shared corpus (~4 minutes)

``bench/loso.py`` decides whether the optional model is on by default, from the
shared corpus and dev set, whose sources are narrow (../shared/train/SOURCES.md).
This asks the other question: trained on the project's read fresh batches
(bench/fresh/fresh.jsonl, helpers' messages in users' own words) plus the dev
set (and the corpus, by default), what does it add to the rules on

* the held-out batches (bench/fresh/heldout.jsonl), which nobody has read, and
* the unread batches of fresh.jsonl (``UNREAD``), written the same way, never
  read, never trained on?

Each row: scams caught and look-alikes flagged by the rules alone and by the
rules with the model (``model.second_opinion``: it may raise a none or low
verdict, never lower one), per language, and the probe and regression sets.
Training is ``callguard train`` (``bot/train.py``), deterministic; the texts
are read at run time and nothing is written but a temporary model file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = Path(os.environ.get("CALLGUARD_SHARED", "/work/shared"))

from callguard.detect import Detector, load_rules  # noqa: E402
from callguard.detect.model import second_opinion  # noqa: E402

# Batches of fresh.jsonl that nobody has read: only ever scored (bench/fresh/README.md).
UNREAD = frozenset({"fresh78", "fresh79", "fresh86", "fresh87", "fresh91", "fresh94", "fresh96", "fresh99",
                    "fresh100", "fresh101", "fresh102", "fresh103", "fresh115", "fresh116", "fresh117", "fresh119",
                    "fresh123", "fresh124", "fresh125", "fresh128", "fresh129", "fresh131", "fresh135",
                    "fresh136", "fresh137", "fresh156", "fresh157", "fresh164", "fresh167", "fresh168",
                    "fresh171", "fresh172", "fresh178", "fresh180", "fresh184",
                    "fresh186", "fresh188", "fresh190", "fresh191",
                    "fresh194", "fresh196", "fresh201", "fresh202", "fresh203", "fresh204", "fresh211", "fresh215", "fresh218",
                    "fresh224", "fresh227", "fresh230", "fresh236", "fresh239", "fresh241", "fresh246",
                    "fresh249", "fresh251", "fresh253", "fresh259", "fresh260",
                    "fresh262", "fresh264", "fresh268", "fresh270", "fresh273", "fresh277", "fresh279",
                    "fresh283", "fresh286", "fresh290", "fresh292"})


def _rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_batches(group: int = 1) -> list[dict]:
    """The read fresh batches as training rows. ``group``: batches freshK..freshK+group-1
    count as one source (``fresh1-10``), so that a leave-one-source-out run needs
    fewer fits; 1 keeps each batch its own source."""
    out = []
    for row in _rows(HERE / "fresh" / "fresh.jsonl"):
        if row["source"] in UNREAD:
            continue
        source = row["source"]
        if group > 1:
            first = (int(source.removeprefix("fresh")) - 1) // group * group + 1
            source = f"fresh{first}-{first + group - 1}"
        out.append({"text": row["text"], "label": row["label"], "source": source, "lang": row.get("lang")})
    return out


def _training_file(out: Path, corpus: bool, group: int = 1, without: frozenset = frozenset()) -> int:
    """The read fresh batches (see ``read_batches``), dev.jsonl and, with ``corpus``, the shared
    corpus but its sources named in ``without``."""
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        for row in read_batches(group):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
        for path in [SHARED / "eval" / "dev.jsonl"] + ([SHARED / "train" / "corpus.jsonl"] if corpus else []):
            for row in _rows(path):
                if row.get("source") in without:
                    continue
                fh.write(json.dumps({"text": row["text"], "label": row["label"],
                                     "source": row.get("source") or path.stem}, ensure_ascii=False) + "\n")
                n += 1
    return n


def _judge(detector: Detector, model, rows: list[dict]) -> Counter:
    """Counts per (language, label): texts, caught by the rules, caught by the rules with the model."""
    out: Counter = Counter()
    for row in rows:
        verdict = detector.check(row["text"])
        raised = second_opinion(verdict, row["text"], model)
        for lang in ("ALL", row.get("lang") or "?"):
            key = (lang, row["label"])
            out[key + ("n",)] += 1
            out[key + ("rules",)] += verdict.scam
            out[key + ("model",)] += raised.scam
    return out


def _print(name: str, counts: Counter) -> None:
    langs = sorted({k[0] for k in counts}, key=lambda lang: (lang != "ALL", lang))
    for lang in langs:
        s, b = counts[(lang, "scam", "n")], counts[(lang, "benign", "n")]
        if not s and not b:
            continue
        cells = []
        if s:
            cells.append(f"scams {counts[(lang, 'scam', 'rules')]:>5} -> {counts[(lang, 'scam', 'model')]:>5} of {s:>5}")
        if b:
            cells.append(f"flagged {counts[(lang, 'benign', 'rules')]:>4} -> {counts[(lang, 'benign', 'model')]:>4} of {b:>5}")
        print(f"{name:<12} {lang:<8} " + "   ".join(cells))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-corpus", action="store_true", help="train on the read fresh batches and dev.jsonl only")
    ap.add_argument("--rules", default=str(ROOT / "rules" / "scam_patterns.yaml"))
    ap.add_argument("--group", type=int, default=1, metavar="N",
                    help="count N consecutive batches as one source (default 1: each batch its own)")
    ap.add_argument("--write-batches", metavar="FILE",
                    help="only write the read batches as training rows to FILE (for loso.py --extra) and stop")
    ap.add_argument("--without", default="", metavar="A,B,...", help="corpus sources not to train on")
    ap.add_argument("--save", metavar="FILE", help="also write the trained model to FILE")
    args = ap.parse_args(argv)
    if args.write_batches:
        with open(args.write_batches, "w", encoding="utf-8") as fh:
            for row in read_batches(args.group):
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        return 0
    from callguard.train import read_examples, train  # needs callguard[train]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        without = frozenset(n.strip() for n in args.without.split(",") if n.strip())
        n = _training_file(data, corpus=not args.no_corpus, group=args.group, without=without)
        print(f"training on {n:,} texts ({'without' if args.no_corpus else 'with'} the shared corpus) ...", flush=True)
        model = train(read_examples([data]), log=lambda message: print(message, file=sys.stderr))
    if args.save:
        model.save(args.save)
    detector = Detector(load_rules(Path(args.rules)))
    fresh = _rows(HERE / "fresh" / "fresh.jsonl")
    sets = {
        "heldout": _rows(HERE / "fresh" / "heldout.jsonl"),
        "unread": [row for row in fresh if row["source"] in UNREAD],
        "probe": _rows(HERE / "probe" / "probe.jsonl"),
        "regression": _rows(ROOT / "rules" / "regression.jsonl"),
    }
    print(f"rules alone -> rules with the model (medium from p >= {model.medium:.4f}, low from {model.low:.4f})")
    for name, rows in sets.items():
        _print(name, _judge(detector, model, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
