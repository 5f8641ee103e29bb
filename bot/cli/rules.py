"""``callguard rules lint|test|migrate|check|apply``: the admin's tools for the rule file.

``check`` and ``apply`` run the very checks a reload in the bot runs
(bot/rulebuild.py), so a file that passes here is one the bot will take.
Exit status: 0 fine, 1 problems (or unreadable), 3 a reload would ask for a confirmation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..detect import Detector, RuleFileError, load_and_lint, load_rules
from ..detect.examples import run_examples
from ..rulefiles import unreadable
from .loading import rules_path


def cmd_rules_lint(args: argparse.Namespace) -> int:
    path = rules_path(args.file)
    ruleset, problems = load_and_lint(path)
    if ruleset is None and (reason := unreadable(path, from_command_line=args.file is not None)):
        print(f"callguard rules lint: {reason}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{path}: {errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    path = rules_path(args.file)
    try:
        ruleset = load_rules(path)
    except RuleFileError as exc:
        if reason := unreadable(path, from_command_line=args.file is not None):
            print(f"callguard rules test: {reason}", file=sys.stderr)
        else:
            print(exc)
        return 1
    detector = Detector(ruleset)
    failures = run_examples(detector)
    for failure in failures:
        print(f"{path}:{failure.line}: {failure}")
    total = sum(len(r.examples_match) + len(r.examples_no_match) for r in ruleset.rules)
    print(f"{total - len(failures)} passed, {len(failures)} failed", file=sys.stderr)
    return 1 if failures else 0


def _checked_update(args: argparse.Namespace, command: str) -> tuple[bytes, Path, bool] | int:
    """FILE checked against the live rule file, its report printed: (its
    content, the live path, whether a reload would ask for a confirmation),
    or the exit status when it cannot be used."""
    from ..admin_texts import changes_lines
    from ..rulebuild import check_update

    path, live_path = Path(args.file), rules_path(args.live)
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"callguard rules {command}: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    checked, note = check_update(data, str(path), live_path)
    if checked.problems:
        for problem in checked.problems:
            print(problem)
        print(f"{path}: {len(checked.problems)} problem(s); a reload would refuse it", file=sys.stderr)
        return 1
    if note:
        print(note)
    comparison = checked.comparison
    if comparison is not None:
        names = checked.detector.ruleset  # names the categories of both verdicts (an unknown one by its id)
        print("\n".join(changes_lines(comparison, names, names, args.lang, html=False)))
    return data, live_path, comparison is not None and comparison.needs_confirmation


def cmd_rules_check(args: argparse.Namespace) -> int:
    checked = _checked_update(args, "check")
    if isinstance(checked, int):
        return checked
    if checked[2]:
        print(f"{args.file}: passes every check, but a reload would ask for a confirmation "
              "(Telegram: Apply anyway; here: callguard rules apply --force)", file=sys.stderr)
        return 3
    print(f"{args.file}: passes every check; a reload would apply it", file=sys.stderr)
    return 0


def cmd_rules_apply(args: argparse.Namespace) -> int:
    from ..rulebook import approve, save_with_backup

    checked = _checked_update(args, "apply")
    if isinstance(checked, int):
        return checked
    data, live_path, ask = checked
    if ask:
        if not args.force:
            print("callguard rules apply: not applied: it changes too many verdicts. Add --force to apply it "
                  "anyway.", file=sys.stderr)
            return 3
        approve(live_path, data)  # so that the running bot's SIGHUP or file watch takes exactly this content
    try:
        backup = save_with_backup(live_path, data)
    except OSError as exc:
        print(f"callguard rules apply: cannot write {live_path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    kept = f" (the old file is kept as {backup.name})" if backup else ""
    print(f"{args.file} installed as {live_path}{kept}. A running bot takes it with /reload, kill -HUP <pid>, "
          "or by itself within 2 s with CALLGUARD_WATCH_RULES=1.", file=sys.stderr)
    return 0


def cmd_rules_migrate(args: argparse.Namespace) -> int:
    from ..detect.migrate import migrate

    path = Path(args.file)
    try:
        text = migrate(path.read_bytes(), str(path))
    except OSError as exc:
        print(f"{path}: cannot read the rule file: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except RuleFileError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{path}: written as schema 2 to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
