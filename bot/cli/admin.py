"""``callguard stats|bulletin|export``: reports for admins, read from the bot's database.

The database (CALLGUARD_DB) is opened read-only, so a report never changes
what the bot stores; the argparse types for ``--days`` and ``--since`` live
here too, next to the commands that use them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

from ..detect import RuleFileError, load_rules
from ..rulefiles import unreadable
from .loading import rules_problem, settings


def whole_number(unit: str, low: int, high: int):
    """An argparse ``type``: a whole number of ``unit`` from ``low`` to ``high``, else a clear error."""
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number of {unit}, got {raw!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}, got {value}")
        return value
    return parse


positive_days = whole_number("days", 1, 36_500)


def utc_date(raw: str) -> float:
    from datetime import datetime, timezone

    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date as YYYY-MM-DD, got {raw!r}") from None


def _with_store(command: str, work: Callable) -> object:
    """Run ``await work(store)`` on the bot's database (CALLGUARD_DB), opened
    read-only: a report never changes the database. A missing or unreadable
    database is one line on stderr and exit status 1, not a traceback."""
    import asyncio

    from ..storage import SQLiteStore, StorageError

    path = settings().db_path
    if not path.is_file():
        raise SystemExit(f"callguard {command}: no database at {path} (set CALLGUARD_DB to the bot's database file)")

    async def run() -> object:
        try:
            store = await SQLiteStore.open_readonly(path)
        except (StorageError, RuntimeError) as exc:
            raise SystemExit(f"callguard {command}: cannot read the database {path}: {exc}") from None
        try:
            return await work(store)
        except StorageError as exc:
            raise SystemExit(f"callguard {command}: cannot read the database {path}: {exc}") from None
        finally:
            await store.close()

    return asyncio.run(run())


def _ruleset_or_none(command: str):
    """The rule set for category names; None (ids are shown) when the rule file cannot be used."""
    path = settings().rules_path
    try:
        return load_rules(path)
    except RuleFileError as exc:
        reason = unreadable(path) or f"the rule file has errors ({len(exc.problems)})"
        print(f"callguard {command}: {reason}\ncallguard {command}: showing category ids", file=sys.stderr)
        return None


def _require_extra(module: str, extra: str, command: str) -> None:
    """Stop with the pip command to run when an optional extra is not installed."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"{command} needs {module}: pip install 'callguard[{extra}]'") from None


def cmd_stats(args: argparse.Namespace) -> int:
    from ..admin_texts import stats_text, t

    if args.chart:  # before any work, so nothing is half done
        _require_extra("matplotlib", "chart", "callguard stats --chart")

    async def work(store):
        return await store.stats(args.days), (await store.daily_counts(args.days) if args.chart else None)

    stats, daily = _with_store("stats", work)
    ruleset = _ruleset_or_none("stats")
    print(stats_text(stats, ruleset, args.lang, days=args.days, html=False))
    if args.chart:
        from ..admin_texts import category_name
        from ..chart import cjk_font, draw_daily

        font = cjk_font()
        lang = args.lang if font else "en"
        if lang != args.lang:
            print("callguard stats: no font with Chinese glyphs is installed; the chart uses English labels",
                  file=sys.stderr)
        labels = {cat: category_name(ruleset, cat, lang) for _, cat, _ in daily}
        try:
            path = draw_daily(daily, args.chart, days=args.days, labels=labels, font=font,
                              title=t("chart.title", lang, days=args.days), xlabel=t("chart.day", lang),
                              ylabel=t("chart.reports", lang))
        except OSError as exc:
            raise SystemExit(f"callguard stats: cannot write {args.chart}: {exc.strerror or exc}") from None
        print(f"callguard stats: chart written to {path}", file=sys.stderr)
    return 0


def cmd_bulletin(args: argparse.Namespace) -> int:
    from ..bulletin import bulletin

    async def work(store):
        return await store.stats(args.days)

    stats = _with_store("bulletin", work)
    path = settings().rules_path
    try:
        ruleset = load_rules(path)
    except RuleFileError as exc:
        raise SystemExit(f"callguard bulletin: {rules_problem(path, exc)}") from None
    print(bulletin(stats, ruleset, args.lang))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import contextlib

    from ..storage import mask_row, write_csv

    region = settings().default_region

    async def work(store, out):
        rows = await store.export_rows(args.since)
        return write_csv(rows if args.full_numbers else (mask_row(row, region) for row in rows), out)

    @contextlib.contextmanager
    def output():
        if args.out == "-":
            yield sys.stdout
            return
        try:
            fh = open(args.out, "w", encoding="utf-8-sig", newline="")  # the BOM: Excel reads Chinese right
        except OSError as exc:
            raise SystemExit(f"callguard export: cannot write {args.out}: {exc.strerror or exc}") from None
        with fh:
            yield fh

    with output() as out:
        count = _with_store("export", lambda store: work(store, out))
    if args.full_numbers:  # the shell's history and the log say who; this says it happened
        print(f"callguard export: {count} reports with FULL phone numbers (--full-numbers); "
              "keep the file as safe as the database", file=sys.stderr)
    if args.out != "-":
        print(f"callguard export: {count} reports written to {args.out}", file=sys.stderr)
    return 0
