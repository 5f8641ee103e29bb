"""The values storage keeps and returns: a report, the statistics, and the day arithmetic
every backend must share so that "the last 30 days" means the same everywhere.

Plain values only, no I/O: the application builds them, every backend stores
and returns them. To add a field to :class:`Report` (e.g. "came from an image"),
give it a default here, then add it to the backends (for SQLite: a migration step
in ``sqlite/schema.py`` and the column in ``sqlite/queries.py``'s ``REPORT_COLUMNS``)
and, if staff should see it, to ``export.EXPORT_COLUMNS``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Sequence

from ..i18n import LANGUAGES
from ..numbers import mask_number

__all__ = [
    "CHAT_TYPES", "DAY", "FEEDBACK_VALUES", "LANGS", "NO_CATEGORY", "NO_RULE", "RISKS", "SOURCES", "WARNINGS",
    "Preferences", "Report", "Stats", "check_days", "day_start", "iso_utc", "percentages", "ratio_rows", "utc_day",
]

DAY = 86_400.0

LANGS = frozenset(LANGUAGES)  # a report's language is one the bot speaks (callguard.i18n owns the list)
RISKS = frozenset({"high", "medium", "low", "none"})
CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel", "console"})
SOURCES = frozenset({"message", "report", "console"})
FEEDBACK_VALUES = frozenset({"helpful", "wrong"})

# Labels used in statistics for reports without a category / deciding rule,
# so every row of a stats table has a printable key.
NO_CATEGORY = "(none)"
# The per-day chart's bucket for reports worded as a warning about a scam (``Report.warns_of``),
# whatever their own verdict: "someone warned others", not "no clear scam pattern".
WARNINGS = "(warning)"
NO_RULE = "(none)"


@dataclass(frozen=True)
class Report:
    """What one user told us about one call/SMS, plus the verdict we gave."""

    text: str
    lang: str                      # "zh-Hans" | "zh-Hant" | "en"
    numbers: tuple[str, ...]       # E.164, normalised by the caller
    scam: bool
    risk: str                      # "high" | "medium" | "low" | "none"
    category: str | None           # e.g. "impersonate_authority"
    rule: str | None               # rule id that decided
    score: int                     # 0..100
    ruleset_version: str           # content hash of the rule set that judged it
    chat_type: str                 # "private" | "group" | "supergroup" | "channel" | "console"
    source: str = "message"        # "message" | "report" | "console"
    money_sent: bool | None = None
    created_at: float | None = None  # unix seconds; None = now
    from_image: bool = False       # ``text`` was read from a picture (the picture itself is never kept)
    # A warning about a scam ("PSA: beware of callers claiming to be ...") is not itself a
    # scam (``scam`` False, ``category`` None), but admins watch which scams people forward
    # warnings about: the rule whose story it tells (``Verdict.warns_of``) and that rule's
    # category. The category is stored, as ``category`` is for a scam, rather than looked up
    # in the rule file when statistics are made: rules are renamed, moved to another category
    # or deleted, and stats must count a warning as what it was judged, without the rules.
    warns_of: str | None = None           # rule id; None: not a warning about a known scam
    warns_of_category: str | None = None  # that rule's category (None when ``warns_of`` is)

    def __post_init__(self) -> None:
        # Accept any sequence for convenience, but keep the value immutable.
        if not isinstance(self.numbers, tuple):
            object.__setattr__(self, "numbers", tuple(self.numbers))

    def validate(self) -> None:
        """Raise ValueError for values the schema would reject.

        Checked in Python before touching the database so that a programming
        error fails loudly in the caller instead of being mistaken for a
        storage outage and queued forever by the ReportWriter.
        """
        problems = []
        if not isinstance(self.text, str):
            problems.append("text must be str")
        if self.lang not in LANGS:
            problems.append(f"lang {self.lang!r}")
        if self.risk not in RISKS:
            problems.append(f"risk {self.risk!r}")
        if self.chat_type not in CHAT_TYPES:
            problems.append(f"chat_type {self.chat_type!r}")
        if self.source not in SOURCES:
            problems.append(f"source {self.source!r}")
        if isinstance(self.score, bool) or not isinstance(self.score, int) or not 0 <= self.score <= 100:
            problems.append(f"score {self.score!r}")
        if not all(isinstance(n, str) and n for n in self.numbers):
            problems.append("numbers must be non-empty strings")
        if not isinstance(self.from_image, bool):
            problems.append(f"from_image {self.from_image!r}")
        for name in ("warns_of", "warns_of_category"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value):
                problems.append(f"{name} {value!r}")
        if self.warns_of_category is not None and self.warns_of is None:
            problems.append("warns_of_category without warns_of")
        if problems:
            raise ValueError("invalid report: " + ", ".join(problems))


_REGION_CODE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class Preferences:
    """What a user chose with /lang and /region (None: not chosen), kept until /forget so
    that a restart of the bot does not send them back to another country's emergency
    numbers. The region is a code of the rule file's ``regions:`` block; one the file no
    longer has is ignored when the region is picked, not an error here."""

    lang: str | None = None
    region: str | None = None

    def validate(self) -> None:
        """Raise ValueError for values the schema must never hold (see Report.validate)."""
        problems = []
        if self.lang is not None and self.lang not in LANGS:
            problems.append(f"lang {self.lang!r}")
        if self.region is not None and not (isinstance(self.region, str) and _REGION_CODE.fullmatch(self.region)):
            problems.append(f"region {self.region!r} (two capital letters, e.g. 'TW')")
        if problems:
            raise ValueError("invalid preferences: " + ", ".join(problems))


@dataclass(frozen=True)
class Stats:
    """Aggregates for the admin ``stats`` command over ``[since, until]``.

    ``by_category`` / ``by_risk`` rows are ``(label, count, percent)`` sorted by
    count (descending); the percents are one-decimal values that add up to
    100.0 (see :func:`percentages`).  ``top_numbers`` are ``(masked number,
    distinct reporters)``: one person reporting a number ten times counts once.
    ``rules_feedback`` rows are ``(rule, helpful, wrong, wrong_rate)``, worst
    rule first. ``warnings_by_category`` counts the reports worded as a warning
    about a scam (``Report.warns_of``) by the category of the scam they warn of,
    rows as in ``by_category``, the percents shares of those warnings; the same
    reports are in ``by_category`` under the verdict's own category (usually
    none), as every report is.
    """

    total: int
    by_category: list[tuple[str, int, float]]
    by_risk: list[tuple[str, int, float]]
    top_numbers: list[tuple[str, int]]
    rules_feedback: list[tuple[str, int, int, float]]
    money_sent: int
    since: float
    until: float
    warnings_by_category: list[tuple[str, int, float]] = field(default_factory=list)

    @classmethod
    def from_counts(
        cls,
        *,
        total: int,
        money_sent: int,
        categories: Sequence[tuple[str, int]],
        risks: Sequence[tuple[str, int]],
        numbers: Sequence[tuple[str, int]],
        feedback: Sequence[tuple[str, int, int]],
        since: float,
        until: float,
        warnings: Sequence[tuple[str, int]] = (),
    ) -> Stats:
        """Stats from a backend's raw counts: ordering, percentages and masking done once
        here, so every backend presents the same numbers the same way.

        ``numbers`` are ``(E.164, distinct reporters)``, ``feedback`` ``(rule, helpful, wrong)``,
        ``warnings`` ``(category warned of, reports)``.
        """
        rules = [(rule, h, w, w / (h + w)) for rule, h, w in feedback if h + w]
        rules.sort(key=lambda r: (-r[3], -r[2], r[0]))
        top = sorted(numbers, key=lambda r: (-r[1], r[0]))
        return cls(
            total=total,
            by_category=ratio_rows(categories),
            by_risk=ratio_rows(risks),
            top_numbers=[(mask_number(n), c) for n, c in top],
            rules_feedback=rules,
            money_sent=money_sent,
            since=since,
            until=until,
            warnings_by_category=ratio_rows(warnings),
        )


# --------------------------------------------------------------------------
# Pure helpers


def percentages(counts: Sequence[int]) -> list[float]:
    """Turn counts into one-decimal percentages that add up to exactly 100.0.

    Largest-remainder (Hamilton) method in tenths of a percent: every share is
    rounded down, then the tenths still missing go to the largest remainders
    (ties: larger count first, then earlier position).  Integer arithmetic
    throughout, so the displayed values always total 100.0, e.g.
    ``[1, 1, 1] -> [33.4, 33.3, 33.3]``.

    Note the guarantee is about the one-decimal values: adding the returned
    floats with ``sum()`` can give 99.99999999999999 because 33.3 has no exact
    binary representation; compare with ``round(sum(p), 1)``.

    An empty input gives ``[]``; all-zero counts give all ``0.0`` (there is
    nothing to distribute).  Negative counts raise ValueError.
    """
    counts = list(counts)
    if any(c < 0 for c in counts):
        raise ValueError("counts must not be negative")
    total = sum(counts)
    if total == 0:
        return [0.0] * len(counts)
    tenths = [c * 1000 // total for c in counts]
    remainders = [c * 1000 % total for c in counts]
    missing = 1000 - sum(tenths)
    order = sorted(range(len(counts)), key=lambda i: (-remainders[i], -counts[i], i))
    for i in order[:missing]:
        tenths[i] += 1
    return [t / 10 for t in tenths]


def ratio_rows(rows: Sequence[tuple[str, int]]) -> list[tuple[str, int, float]]:
    """``(label, count)`` rows as ``(label, count, percent)``, largest count first."""
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
    pcts = percentages([count for _, count in ordered])
    return [(label, count, pct) for (label, count), pct in zip(ordered, pcts)]


def check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive int, got {days!r}")


def utc_day(ts: float) -> str:
    """'YYYY-MM-DD' (UTC) of ``ts``. Every report needs one or two: the name is made once per
    day number (Unix time has no leap seconds, so a UTC day is exactly ``ts // DAY``)."""
    day = ts // DAY
    if ts - day * DAY >= DAY - 1e-6:  # datetime rounds to the microsecond: it may say the next day
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")
    return _day_name(int(day))


@functools.lru_cache(maxsize=64)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, timezone.utc).strftime("%Y-%m-%d")


def day_start(ts: float) -> float:
    """Unix time of 00:00 UTC on the day containing ``ts``."""
    return ts - ts % DAY


def iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")
