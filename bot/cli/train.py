"""``callguard train``: fit the optional learned second opinion (``callguard[train]``).

Kept apart so that numpy and scipy are imported only by this command.
"""

from __future__ import annotations

import argparse
import sys


def cmd_train(args: argparse.Namespace) -> int:
    try:
        from ..train import TrainError, read_examples, train
    except ImportError as exc:  # numpy or scipy missing
        raise SystemExit(f"callguard train: needs numpy and scipy: pip install 'callguard[train]' ({exc})") from None
    try:
        examples = read_examples(args.corpus)
        model = train(examples, log=lambda line: print(f"callguard train: {line}", file=sys.stderr))
    except TrainError as exc:
        raise SystemExit(f"callguard train: {exc}") from None
    try:
        model.save(args.out)
    except OSError as exc:
        raise SystemExit(f"callguard train: cannot write {args.out}: {exc.strerror or exc}") from None
    print(f"callguard train: {len(model.weights)} weights from {len(examples)} texts written to {args.out} "
          f"(medium from p >= {model.medium:.4f}, low from p >= {model.low:.4f})", file=sys.stderr)
    return 0
