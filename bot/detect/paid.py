"""Has the person already sent money? ("我已经转了钱怎么办", "I already paid").

Someone who has just paid a scammer needs the emergency steps at once, before
any explanation, wherever they say it: a private message, a group reply, an
answer to ``/report``. So every description goes through
:func:`already_paid`, and the bot answers with the steps of the user's region
first when it is true.

The phrases are data (``paid.yaml`` beside this file, with the rules for
writing them), matched clause by clause on text folded by
:func:`~callguard.detect.normalize.fold`, the first step of the rules'
``normalize``: Traditional to Simplified, case, full-width forms, invisible
characters and apostrophes, with English words kept apart. Not the whole of
``normalize``: its last step gives each English word one form ("sent" and
"send" alike), and here the tense is the point ("I sent" is paid, "should I
send" is not). A clause counts when a "paid"
pattern matches and no "not paid" pattern does, so "not yet", "should I",
"they asked me to send" and "如果我转了" stay false.

Pure and cheap (a few regular expressions over a bounded text), so handlers
may call it on every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import repeat

import yaml

from .normalize import fold
from .regex_factors import may_match, required_factors

__all__ = ["already_paid", "gave_nothing", "sounds_worried", "load_patterns", "PaidPatterns"]

MAX_CHARS = 2_000  # a description longer than this is judged on its first part
_SENTENCE_END = re.compile(r"[。！？!?；;\n\r，,、：:…]+|\.(?:\s|$)")


@dataclass(frozen=True)
class PaidPatterns:
    clause_breaks: re.Pattern
    paid: tuple[re.Pattern, ...]
    not_paid: tuple[re.Pattern, ...]
    distress: tuple[re.Pattern, ...]
    gave_nothing: tuple[re.Pattern, ...] = ()
    not_yet: re.Pattern | None = None
    gave_details: tuple[re.Pattern, ...] = ()
    # Per ``paid`` pattern, the strings it cannot match without (``regex_factors``; empty:
    # none known): a long message's clauses are searched only with the patterns that can match.
    paid_factors: tuple[frozenset[str] | None, ...] = ()


def _compile(doc: dict) -> PaidPatterns:
    def many(key: str) -> tuple[re.Pattern, ...]:
        items = doc.get(key)
        if not isinstance(items, list) or not items or not all(isinstance(p, str) for p in items):
            raise ValueError(f"paid.yaml: '{key}' must be a list of regular expressions")
        return tuple(re.compile(p) for p in items)

    breaks = doc.get("clause_breaks")
    if not isinstance(breaks, str):
        raise ValueError("paid.yaml: 'clause_breaks' must be a regular expression")
    averted = {}
    if "gave_nothing" in doc:  # optional, so that a test can build patterns for "paid" alone
        averted = {"gave_nothing": many("gave_nothing"), "gave_details": many("gave_details"),
                   "not_yet": re.compile(doc["not_yet"])}
    paid = many("paid")
    return PaidPatterns(re.compile(breaks), paid, many("not_paid"), many("distress"), **averted,
                        paid_factors=tuple(map(required_factors, paid)))


@lru_cache(maxsize=1)
def load_patterns() -> PaidPatterns:
    """The patterns shipped beside this module (read once)."""
    text = resources.files(__package__).joinpath("paid.yaml").read_text(encoding="utf-8")
    return _compile(yaml.safe_load(text))


def _words(text: str) -> str:
    """``text`` folded like the rules' text, words joined by one space."""
    return " ".join(fold(text).split())


def _clauses(text: str, patterns: PaidPatterns) -> list[str]:
    clauses = []
    for part in _SENTENCE_END.split(text[:MAX_CHARS]):
        words = _words(part)
        clauses.extend(c.strip() for c in patterns.clause_breaks.split(words) if c and c.strip())
    return clauses


def already_paid(text: str, patterns: PaidPatterns | None = None) -> bool:
    """Whether ``text`` says the writer (or someone close) has already sent money."""
    patterns = patterns or load_patterns()
    clauses = _clauses(text, patterns)
    whole = "\n".join(clauses)  # a pattern that needs what no clause holds is not tried on any
    paid = [p for p, need in zip(patterns.paid, patterns.paid_factors or repeat(None)) if may_match(need, whole)]
    for clause in clauses:
        if any(p.search(clause) for p in paid) and not any(p.search(clause) for p in patterns.not_paid):
            return True
    return False


def sounds_worried(text: str, patterns: PaidPatterns | None = None) -> bool:
    """Whether ``text`` asks for help or names a scam ("what now", "怎么办", "被骗")."""
    patterns = patterns or load_patterns()
    words = _words(text[:MAX_CHARS])
    return any(p.search(words) for p in patterns.distress)


def gave_nothing(text: str, patterns: PaidPatterns | None = None) -> bool:
    """Whether ``text`` says the scammer got nothing ("I hung up, didn't give them anything",
    "啥都没给"), and neither that money was sent nor that a code or card number was given,
    nor "not yet" (still deciding): the reply then says they did the right thing, below
    the warning."""
    patterns = patterns or load_patterns()
    if not patterns.gave_nothing or already_paid(text, patterns):
        return False
    clauses = _clauses(text, patterns)
    if any(p.search(clause) for clause in clauses for p in patterns.gave_details):
        return False
    return any(p.search(clause) and not patterns.not_yet.search(clause)
               for clause in clauses for p in patterns.gave_nothing)
