"""The ``callguard`` command.

    callguard check "TEXT"            the reply a chat user would get
    callguard check --image FILE      the reply for a screenshot (needs callguard[ocr])
    callguard check --jsonl FILE|-    batch: one JSON verdict per input line
    callguard chat                    a console conversation, no token needed
      (check and chat take --region CODE: whose emergency numbers the replies give)
    callguard rules lint [FILE]       schema errors as file:line: message
    callguard rules test [FILE]       run every rule's embedded examples
    callguard rules migrate FILE      a schema-1 rule file rewritten as schema 2
    callguard rules check FILE        what a reload of FILE would do: problems, or changed verdicts
    callguard rules apply FILE [--force]   check FILE, then install it as the rule file
    callguard train CORPUS.jsonl --out FILE   train the optional learned second opinion
    callguard run [--webhook]         start the Telegram bot
    callguard stats --days N [--chart FILE.png]       reports by category, risk, number, feedback
    callguard bulletin --days N [--lang zh-Hans|zh-Hant|en]   the public bulletin
    callguard export --since YYYY-MM-DD --out FILE [--full-numbers]   reports as CSV

Each sub-command is a small function; the heavy lifting lives in the modules
they call, so the CLI and the bot always give the same answers. This package
holds the parser and the dispatch; the commands live next to what they share:

    check.py     check: one text, a screenshot, or a JSONL batch
    chat.py      chat: the console conversation
    verdicts.py  the reply and JSON verdict both of them print
    rules.py     rules lint|test|migrate|check|apply
    admin.py     stats, bulletin, export (the database, read-only)
    train.py     train
    loading.py   settings, rule file and detector, for every command
"""

from __future__ import annotations

import argparse
import os

from .. import replies
from .admin import cmd_bulletin, cmd_export, cmd_stats, positive_days, utc_date, whole_number
from .chat import chat, cmd_chat
from .check import batch, cmd_check, read_picture
from .rules import cmd_rules_apply, cmd_rules_check, cmd_rules_lint, cmd_rules_migrate, cmd_rules_test
from .loading import settings
from .train import cmd_train
from .verdicts import describe, verdict_json

# batch, chat, describe, read_picture, verdict_json: importable from here as before the split
__all__ = ["main", "build_parser", "batch", "chat", "describe", "read_picture", "verdict_json"]


def cmd_run(args: argparse.Namespace) -> int:
    from ..main import run  # imports the Telegram stack only when needed

    return run(settings(), webhook=args.webhook)


# --------------------------------------------------------------------------- parser


_jobs = whole_number("processes", 1, 64)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callguard", description="CallGuard: is this call a scam, and what to do now.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("check", help="judge a text (or a JSONL batch)")
    p.add_argument("text", nargs="*", help="what the caller said, or the SMS (- reads it from stdin, e.g. a pasted multi-line message)")
    p.add_argument("--jsonl", metavar="FILE",
                   help="batch mode: JSON object per line with a 'text' field (or 'image', a picture's path "
                        "relative to FILE's folder); - for stdin")
    p.add_argument("--jobs", type=_jobs, metavar="N",
                   help="with --jsonl: processes judging lines side by side (default: the machine's cores, at most 8)")
    p.add_argument("--image", metavar="FILE", help="read a screenshot and judge its text; TEXT, if given, is "
                                                   "its caption (needs the ocr extra)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON instead of the reply")
    p.add_argument("--lang", choices=replies.LANGUAGES, help="reply language (default: the text's)")
    p.add_argument("--region", metavar="CODE", help="the user's region, e.g. TW (default: a number's country, "
                                                    "the language, then CALLGUARD_REGION)")
    p.add_argument("--rules", metavar="FILE", help="rule file (default: CALLGUARD_RULES or the shipped rules)")
    p.add_argument("--model", metavar="FILE|shipped|off",
                   help="ask this model from `callguard train` (or the package's own: shipped) for a second "
                        "opinion (it can only raise a verdict); off: the rules alone (default: CALLGUARD_MODEL)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("chat", help="talk to CallGuard on the console, no Telegram token needed")
    p.add_argument("--lang", choices=replies.LANGUAGES)
    p.add_argument("--region", metavar="CODE", help="the user's region, e.g. GB (its emergency numbers)")
    p.add_argument("--rules", metavar="FILE")
    p.add_argument("--model", metavar="FILE|shipped|off", help="as for check (default: CALLGUARD_MODEL)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("train", help="train the optional learned second opinion (needs callguard[train])")
    p.add_argument("corpus", nargs="+", metavar="CORPUS.jsonl", help="JSON lines with text, label (scam|benign), source")
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write")
    p.set_defaults(func=cmd_train)

    rules = sub.add_parser("rules", help="check the rule file").add_subparsers(dest="rules_command", required=True)
    p = rules.add_parser("lint", help="validate the schema; errors as file:line: message")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_rules_lint)
    p = rules.add_parser("test", help="run every rule's embedded examples")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_rules_test)
    p = rules.add_parser("migrate", help="rewrite a schema-1 rule file as schema 2 (to stdout or --out)")
    p.add_argument("file")
    p.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    p.set_defaults(func=cmd_rules_migrate)
    for name, func, text in (("check", cmd_rules_check, "what a reload of FILE would do: its problems, or the "
                              "verdicts it changes against the live rule file"),
                             ("apply", cmd_rules_apply, "check FILE like a reload, then install it as the live rule "
                              "file (backup kept)")):
        p = rules.add_parser(name, help=text)
        p.add_argument("file")
        p.add_argument("--live", metavar="FILE", help="the live rule file (default: CALLGUARD_RULES or the shipped "
                                                      "rules)")
        p.add_argument("--lang", choices=replies.LANGUAGES, default="en")
        if name == "apply":
            p.add_argument("--force", action="store_true", help="apply even when many verdicts change (approves "
                                                                "exactly this content for the bot's SIGHUP/watch)")
        p.set_defaults(func=func)

    p = sub.add_parser("stats", help="report statistics from the bot's database (CALLGUARD_DB)")
    p.add_argument("--days", type=positive_days, default=30, help="the last N days (default 30)")
    p.add_argument("--chart", metavar="FILE.png", help="also draw reports per day by category as a PNG")
    p.add_argument("--lang", choices=replies.LANGUAGES, default="zh-Hans")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("bulletin", help="the public bulletin for the last N days")
    p.add_argument("--days", type=positive_days, default=30, help="the last N days (default 30)")
    p.add_argument("--lang", choices=replies.LANGUAGES, default="zh-Hans")
    p.set_defaults(func=cmd_bulletin)

    p = sub.add_parser("export", help="reports as CSV (no reporter identities)")
    p.add_argument("--since", type=utc_date, required=True, metavar="YYYY-MM-DD", help="from this UTC day on")
    p.add_argument("--out", required=True, metavar="FILE", help="CSV file to write (- for stdout)")
    p.add_argument("--full-numbers", action="store_true",
                   help="phone numbers in full (default: masked as in stats, e.g. +86 138******00)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("run", help="start the Telegram bot (long polling, or --webhook)")
    p.add_argument("--webhook", action="store_true", help="serve a webhook instead (CALLGUARD_WEBHOOK_* settings)")
    p.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if os.path.exists(".env"):  # settings in ./.env; the real environment wins
        from dotenv import load_dotenv  # only then: importing it costs ~20 ms of every start

        load_dotenv(".env", override=False)
    try:
        return args.func(args)
    except BrokenPipeError:  # `callguard check --jsonl x | head`
        return 0
