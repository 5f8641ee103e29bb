"""Persistent storage for CallGuard: the only module that speaks SQL.

Everything the bot remembers lives in one SQLite file, accessed through
aiosqlite so the event loop never blocks on disk I/O.  The module stores
plain values only: it knows nothing about Telegram or about how a verdict
was reached, so it can be tested (and replaced) on its own.

Privacy model, in short:

* Reporters are never stored raw.  A Telegram user id becomes
  ``HMAC-SHA256(secret, str(user_id))`` (see :meth:`Store.reporter_key`), which
  lets us find "this user's rows" for ``/forget`` without keeping who they are.
  If no secret is passed, one is generated and kept in the ``meta`` table, so
  the hash is only as private as the database file.  Passing a secret
  (``CALLGUARD_SECRET``) keeps it outside the file.
* Reports (including their text) are deleted by :meth:`Store.purge` after the
  retention period and by :meth:`Store.forget` on request (through
  :meth:`ReportWriter.forget` when a writer is in use, so reports still
  queued in memory go too).  Phone numbers that were reported survive only
  as anonymous per-day counts (``number_tally``).
* ``PRAGMA secure_delete`` is on, and the WAL is checkpointed after deletions,
  so deleted text does not linger in free pages of the file.  Backups and
  exports taken earlier are out of reach of this module.

Durability: WAL with ``synchronous=NORMAL``.  In WAL mode a commit has been
written to the WAL file (handed to the OS) before ``COMMIT`` returns, so an
acknowledged report survives a crash or kill of *this process*.  What NORMAL
gives up compared with FULL is the fsync at every commit: after a power loss
or kernel crash the last few commits may be rolled back (the database is never
corrupted).  For a chat bot that is the right trade: FULL would put an fsync
on every user message for protection against a much rarer event.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import csv
import functools
import hashlib
import hmac
import logging
import os
import secrets as _secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO, TypeVar

import aiosqlite

log = logging.getLogger(__name__)

__all__ = [
    "EXPORT_COLUMNS",
    "NO_CATEGORY",
    "NO_RULE",
    "Report",
    "ReportWriter",
    "Stats",
    "Store",
    "is_storage_error",
    "mask_number",
    "percentages",
]

DAY = 86_400.0

_T = TypeVar("_T")

LANGS = frozenset({"zh-Hans", "zh-Hant", "en"})
RISKS = frozenset({"high", "medium", "low", "none"})
CHAT_TYPES = frozenset({"private", "group", "supergroup", "channel", "console"})
SOURCES = frozenset({"message", "report", "console"})
FEEDBACK_VALUES = frozenset({"helpful", "wrong"})

# Labels used in statistics for reports without a category / deciding rule,
# so every row of a stats table has a printable key.
NO_CATEGORY = "(none)"
NO_RULE = "(none)"

EXPORT_COLUMNS = (
    "id", "created_at", "category", "rule", "risk", "score", "scam", "numbers",
    "text", "lang", "chat_type", "source", "money_sent", "feedback",
    "feedback_comment", "ruleset_version",
)

SYNCHRONOUS = "NORMAL"  # see the module docstring for why not FULL
DEFAULT_BUSY_TIMEOUT_MS = 5000


# --------------------------------------------------------------------------
# Values


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

    def __post_init__(self) -> None:
        # Accept any sequence for convenience, but keep the value immutable.
        if not isinstance(self.numbers, tuple):
            object.__setattr__(self, "numbers", tuple(self.numbers))

    def validate(self) -> None:
        """Raise ValueError for values the schema would reject.

        Checked in Python before touching the database so that a programming
        error fails loudly in the caller instead of being mistaken for a
        storage outage and queued forever by :class:`ReportWriter`.
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
        if problems:
            raise ValueError("invalid report: " + ", ".join(problems))


@dataclass(frozen=True)
class Stats:
    """Aggregates for the admin ``stats`` command over ``[since, until]``.

    ``by_category`` / ``by_risk`` rows are ``(label, count, percent)`` sorted by
    count (descending); the percents are one-decimal values that add up to
    100.0 (see :func:`percentages`).  ``top_numbers`` are masked.
    ``rules_feedback`` rows are ``(rule, helpful, wrong, wrong_rate)``, worst
    rule first.
    """

    total: int
    by_category: list[tuple[str, int, float]]
    by_risk: list[tuple[str, int, float]]
    top_numbers: list[tuple[str, int]]
    rules_feedback: list[tuple[str, int, int, float]]
    money_sent: int
    since: float
    until: float


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


# ITU-T E.164 country codes are prefix-free: "1" and "7" are one digit, the
# codes below are two digits, and every other code has three digits.
_TWO_DIGIT_CC = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split()
)


def _country_code_length(digits: str) -> int:
    if digits[:1] in ("1", "7"):
        return 1
    if digits[:2] in _TWO_DIGIT_CC:
        return 2
    return 3


def mask_number(e164: str) -> str:
    """Mask a phone number for display: ``+8613800138000 -> +86 138******00``.

    Format: ``+<country code> <first 3 national digits><one * per hidden
    digit><last 2 digits>``.  Keeping the operator prefix and the last two
    digits lets staff recognise a campaign without the list being a
    ready-made dialling list.  Numbers too short to hide at least three digits
    that way (service numbers) show only their last two digits.  Input that is
    not E.164 is masked as a bare national number rather than rejected, since
    this is a display helper.
    """
    raw = e164.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    prefix = ""
    national = digits
    if raw.startswith("+") and len(digits) > 3:
        cc_len = _country_code_length(digits)
        prefix = f"+{digits[:cc_len]} "
        national = digits[cc_len:]
    n = len(national)
    if n >= 8:
        return f"{prefix}{national[:3]}{'*' * (n - 5)}{national[-2:]}"
    if n > 2:
        return f"{prefix}{'*' * (n - 2)}{national[-2:]}"
    return f"{prefix}{'*' * n}"


def _utc_day(ts: float) -> str:
    """'YYYY-MM-DD' (UTC) of ``ts``. Every report needs one or two: the name is made once per
    day number (Unix time has no leap seconds, so a UTC day is exactly ``ts // DAY``)."""
    day = ts // DAY
    if ts - day * DAY >= DAY - 1e-6:  # datetime rounds to the microsecond: it may say the next day
        return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")
    return _day_name(int(day))


@functools.lru_cache(maxsize=64)
def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, timezone.utc).strftime("%Y-%m-%d")


def _day_start(ts: float) -> float:
    """Unix time of 00:00 UTC on the day containing ``ts``."""
    return ts - ts % DAY


def _iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


async def _enable_wal(db: aiosqlite.Connection, timeout_s: float) -> None:
    """Switch the file to WAL mode, waiting up to ``timeout_s`` for other connections.

    Switching needs an exclusive lock, and when two connections race for it (two
    processes opening a new file together: two bots, or a bot and ``callguard
    stats``) SQLite refuses one at once, without its busy handler, to avoid a
    deadlock. So the switch is retried here, like a busy write."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            await asyncio.sleep(0.01)


def _check_days(days: int) -> None:
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a positive int, got {days!r}")


def _ratio_rows(rows: Sequence[tuple[str, int]]) -> list[tuple[str, int, float]]:
    ordered = sorted(rows, key=lambda r: (-r[1], r[0]))
    pcts = percentages([count for _, count in ordered])
    return [(label, count, pct) for (label, count), pct in zip(ordered, pcts)]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    # Stay far below SQLite's bound-parameter limit.
    for i in range(0, len(items), size):
        yield items[i:i + size]


# --------------------------------------------------------------------------
# Schema

# Each entry is one migration step: a tuple of statements run in a single
# transaction together with the bump of PRAGMA user_version.  Migration N
# (1-based) brings the schema to user_version N.  To change the schema, append
# a step; never edit a step that has shipped.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value BLOB NOT NULL
        )""",
        """CREATE TABLE reports (
            id              INTEGER PRIMARY KEY,
            created_at      REAL    NOT NULL,
            reporter        TEXT,            -- HMAC of the user id; NULL = console/unknown
            text            TEXT    NOT NULL,
            lang            TEXT    NOT NULL,
            scam            INTEGER NOT NULL CHECK (scam IN (0, 1)),
            risk            TEXT    NOT NULL,
            category        TEXT,
            rule            TEXT,
            score           INTEGER NOT NULL CHECK (score BETWEEN 0 AND 100),
            ruleset_version TEXT    NOT NULL,
            chat_type       TEXT    NOT NULL,
            source          TEXT    NOT NULL,
            money_sent      INTEGER CHECK (money_sent IN (0, 1))
        )""",
        "CREATE INDEX reports_created_at ON reports (created_at)",
        "CREATE INDEX reports_reporter ON reports (reporter)",
        # Rowid table on purpose: ORDER BY rowid returns numbers in the order
        # the caller gave them.
        """CREATE TABLE report_numbers (
            report_id INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            number    TEXT    NOT NULL,
            PRIMARY KEY (report_id, number)
        )""",
        # Anonymous counts that outlive the reports (purge/forget keep them).
        """CREATE TABLE number_tally (
            number TEXT    NOT NULL,
            day    TEXT    NOT NULL,         -- 'YYYY-MM-DD', UTC
            count  INTEGER NOT NULL,
            PRIMARY KEY (number, day)
        ) WITHOUT ROWID""",
        """CREATE TABLE feedback (
            report_id  INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
            reporter   TEXT    NOT NULL,     -- HMAC of the user who gave it
            value      TEXT    NOT NULL CHECK (value IN ('helpful', 'wrong')),
            comment    TEXT,
            created_at REAL    NOT NULL,
            updated_at REAL    NOT NULL,
            PRIMARY KEY (report_id, reporter)
        )""",
        "CREATE INDEX feedback_reporter ON feedback (reporter)",
    ),
]

_SECRET_KEY = "reporter_secret"
_SECRET_CHECK_KEY = "reporter_secret_check"


def is_storage_error(exc: BaseException) -> bool:
    """True for failures of the storage itself, worth retrying later.

    Disk full, read-only file, "database is locked" after busy_timeout and I/O
    errors are OperationalError/OSError; a corrupt file raises a bare
    DatabaseError.  IntegrityError, ProgrammingError and friends are also
    DatabaseErrors but mean a bug: retrying them would never succeed.
    """
    return isinstance(exc, (sqlite3.OperationalError, OSError)) or type(exc) is sqlite3.DatabaseError


# --------------------------------------------------------------------------
# Store


class Store:
    """Async access to the CallGuard database.  Create with :meth:`open`.

    One instance wraps one aiosqlite connection.  An asyncio lock serialises
    the operations of that connection, so a transaction started by one task
    is never interleaved with statements from another; separate connections
    (other processes, other Store instances) are coordinated by SQLite itself
    through ``BEGIN IMMEDIATE`` and ``busy_timeout``.
    """

    def __init__(self, db: aiosqlite.Connection, secret: bytes, clock: Callable[[], float]) -> None:
        self._db = db
        self._secret = secret
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per key: no key set-up each time
        self._clock = clock
        self._lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Store:
        """Open (creating if needed) and migrate the database at ``path``.

        ``":memory:"`` works for tests (WAL then silently stays "memory").
        ``busy_timeout_ms`` is how long a write waits for another connection's
        lock before failing with "database is locked".
        """
        if secret is not None and not secret:
            raise ValueError("secret must not be empty")
        # isolation_level=None: no implicit transactions from the sqlite3
        # module; this class issues BEGIN/COMMIT itself.
        db = await aiosqlite.connect(
            os.fspath(path), isolation_level=None, timeout=busy_timeout_ms / 1000
        )
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await _enable_wal(db, busy_timeout_ms / 1000)
            await db.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA secure_delete = ON")
            await _migrate(db)
            secret = await _load_secret(db, secret)
        except BaseException:
            await db.close()
            raise
        return cls(db, secret, clock)

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    # -- plumbing ----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, committed on success, rolled back otherwise.

        BEGIN IMMEDIATE takes the write lock up front (waiting busy_timeout
        for it), so a transaction never fails half-way with "database is
        locked" when it tries to upgrade a read lock.
        """
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                await self._db.commit()
            except BaseException:
                # rollback() is a no-op if SQLite already rolled back (e.g.
                # after SQLITE_FULL); never let it mask the original error.
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await self._db.rollback()
                raise

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A read transaction: several SELECTs see one consistent snapshot."""
        async with self._lock:
            await self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await self._db.rollback()

    async def _scrub(self) -> None:
        """Move the WAL back into the main file after deletions.

        With secure_delete the freed pages are zeroed, but older copies of
        them may still sit in the WAL until a checkpoint.  Best effort: if a
        reader is active the checkpoint is partial, which is not an error.
        """
        async with self._lock:
            with contextlib.suppress(sqlite3.OperationalError):
                await self._db.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        """Run ``fn(conn, *args)`` on aiosqlite's thread with its plain sqlite3 connection.

        One trip to the database thread and back, however many statements ``fn``
        runs.  Every awaited aiosqlite call is such a trip (a queue hand-off that
        wakes the thread, GIL hand-overs, a wake-up of the event loop through its
        self-pipe), and the trips, not SQLite, were most of the cost of a report:
        with 3 trips per report plus 4 for the number counts a report took ~210 us
        of CPU (~530 us with a phone number), in one trip ~75 us (~110 us), of
        which the SQL is ~12 us (bench/README.md, "The whole bot").  ``fn`` must be
        a complete transaction: if the caller is cancelled, ``fn`` still runs to
        its end, before anything queued after it (the thread works in order).

        aiosqlite has no public API for this; ``_execute(fn, *args)`` is the private
        method all its own calls go through, unchanged from 0.17 to 0.22 (the
        store's tests fail at once if a release changes it).
        """
        async with self._lock:
            return await self._db._execute(fn, self._db._conn, *args)

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. signing buttons), derived from the
        reporter secret: one secret to keep, and no use of it reveals another's key."""
        return hmac.new(self._secret, b"callguard-derived-key:" + purpose.encode(), hashlib.sha256).digest()

    def reporter_key(self, user_id: int) -> str:
        """Pseudonymous reporter id: first 32 hex chars of HMAC-SHA256(secret, str(user_id))."""
        mac = self._keyed.copy()
        mac.update(str(int(user_id)).encode())
        return mac.hexdigest()[:32]

    # -- reports -----------------------------------------------------------

    async def add_report(self, report: Report, user_id: int | None) -> int:
        """Store a report and count its numbers; returns the new report id.

        Committed before returning, so the id can be shown to the user.
        """
        report_id, _ = await self.add_report_and_count(report, user_id)
        return report_id

    async def add_report_and_count(
        self, report: Report, user_id: int | None, *, days: int | None = None
    ) -> tuple[int, dict[str, int]]:
        """:meth:`add_report`, plus for each of the report's numbers how many earlier
        reports mentioned it in the last ``days`` UTC days (``{}`` if ``days`` is None).

        The counts are what ``number_counts(numbers, days=days, exclude_report_id=id)``
        would return, read in the same write transaction just before the insert, and
        the whole thing is one trip to the database thread.
        """
        report.validate()
        now = self._clock()
        created = now if report.created_at is None else float(report.created_at)
        values = (
            created, None if user_id is None else self.reporter_key(user_id),
            report.text, report.lang, int(report.scam), report.risk, report.category, report.rule,
            report.score, report.ruleset_version, report.chat_type, report.source,
            None if report.money_sent is None else int(report.money_sent),
        )
        count_since = None
        if days is not None:
            _check_days(days)
            count_since = _utc_day(now - (days - 1) * DAY)
        return await self._run(_insert_report, values, _unique(report.numbers), _utc_day(created), count_since)

    async def get_report(self, report_id: int) -> Report | None:
        """The stored report (without reporter), or None if it does not exist."""
        async with self._read() as db:
            rows = await db.execute_fetchall(
                """SELECT text, lang, scam, risk, category, rule, score, ruleset_version,
                          chat_type, source, money_sent, created_at
                   FROM reports WHERE id = ?""",
                (report_id,),
            )
            if not rows:
                return None
            nums = await db.execute_fetchall(
                "SELECT number FROM report_numbers WHERE report_id = ? ORDER BY rowid",
                (report_id,),
            )
        (text, lang, scam, risk, category, rule, score, version, chat_type, source,
         money_sent, created_at) = rows[0]
        return Report(
            text=text, lang=lang, numbers=tuple(n for (n,) in nums), scam=bool(scam),
            risk=risk, category=category, rule=rule, score=score, ruleset_version=version,
            chat_type=chat_type, source=source,
            money_sent=None if money_sent is None else bool(money_sent),
            created_at=created_at,
        )

    async def number_counts(
        self,
        numbers: Iterable[str],
        *,
        days: int = 30,
        exclude_report_id: int | None = None,
    ) -> dict[str, int]:
        """How many reports mentioned each number in the last ``days`` UTC days.

        The window is the ``days`` most recent calendar days, today included
        (``days=1`` means today).  Counts come from the anonymous tally, so
        they include reports already purged or forgotten.  Pass the id of the
        report being answered as ``exclude_report_id`` to get "reported N
        times before" (:meth:`add_report_and_count` returns that with the write).
        Every requested number is in the result (0 if never reported).
        """
        _check_days(days)
        wanted = _unique(numbers)
        if not wanted:
            return {}
        cutoff = _utc_day(self._clock() - (days - 1) * DAY)
        return await self._run(_read_number_counts, wanted, cutoff, exclude_report_id)

    async def set_feedback(
        self, report_id: int, user_id: int, value: str, comment: str | None = None
    ) -> bool:
        """Record "helpful"/"wrong" from one user on one report.

        One row per (report, user): a new value replaces the old one.  A
        ``comment`` is stored when given and kept when a later call omits it,
        so the bot can ask for the comment after the button press.  Returns
        False if the report does not exist (e.g. purged meanwhile).
        """
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"feedback value {value!r}")
        reporter = self.reporter_key(user_id)
        now = self._clock()
        async with self._write() as db:
            exists = await db.execute_fetchall("SELECT 1 FROM reports WHERE id = ?", (report_id,))
            if not exists:
                return False
            await db.execute(
                """INSERT INTO feedback (report_id, reporter, value, comment, created_at, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?)
                   ON CONFLICT (report_id, reporter) DO UPDATE SET
                       value = excluded.value,
                       comment = COALESCE(excluded.comment, feedback.comment),
                       updated_at = excluded.updated_at""",
                (report_id, reporter, value, comment, now, now),
            )
        return True

    async def set_money_sent(self, report_id: int, sent: bool = True) -> None:
        """Mark whether the victim already paid (asked after a scam verdict)."""
        async with self._write() as db:
            await db.execute(
                "UPDATE reports SET money_sent = ? WHERE id = ?", (int(sent), report_id)
            )

    # -- statistics and export ----------------------------------------------

    async def stats(self, days: int) -> Stats:
        """Aggregates over the last ``days`` * 24 h (``top_numbers``: UTC days)."""
        _check_days(days)
        until = self._clock()
        since = until - days * DAY
        cutoff_day = _utc_day(until - (days - 1) * DAY)
        async with self._read() as db:
            (total, money), = await db.execute_fetchall(
                "SELECT COUNT(*), COALESCE(SUM(money_sent = 1), 0) FROM reports WHERE created_at >= ?",
                (since,),
            )
            categories = await db.execute_fetchall(
                "SELECT COALESCE(category, ?), COUNT(*) FROM reports WHERE created_at >= ? GROUP BY 1",
                (NO_CATEGORY, since),
            )
            risks = await db.execute_fetchall(
                "SELECT risk, COUNT(*) FROM reports WHERE created_at >= ? GROUP BY 1", (since,)
            )
            # From the tally, so numbers of purged reports still count.
            numbers = await db.execute_fetchall(
                """SELECT number, SUM(count) AS c FROM number_tally WHERE day >= ?
                   GROUP BY number ORDER BY c DESC, number LIMIT 10""",
                (cutoff_day,),
            )
            feedback = await db.execute_fetchall(
                """SELECT COALESCE(r.rule, ?),
                          SUM(f.value = 'helpful'), SUM(f.value = 'wrong')
                   FROM feedback f JOIN reports r ON r.id = f.report_id
                   WHERE r.created_at >= ? GROUP BY 1""",
                (NO_RULE, since),
            )
        rules = [(rule, h, w, w / (h + w)) for rule, h, w in feedback]
        rules.sort(key=lambda r: (-r[3], -r[2], r[0]))
        return Stats(
            total=total,
            by_category=_ratio_rows(categories),
            by_risk=_ratio_rows(risks),
            top_numbers=[(mask_number(n), c) for n, c in numbers],
            rules_feedback=rules,
            money_sent=money,
            since=since,
            until=until,
        )

    async def daily_counts(self, days: int) -> list[tuple[str, str, int]]:
        """``(day, category, count)`` per UTC day for the last ``days`` days, oldest first."""
        _check_days(days)
        cutoff = _day_start(self._clock() - (days - 1) * DAY)
        async with self._read() as db:
            rows = await db.execute_fetchall(
                """SELECT date(created_at, 'unixepoch'), COALESCE(category, ?), COUNT(*)
                   FROM reports WHERE created_at >= ? GROUP BY 1, 2 ORDER BY 1, 2""",
                (NO_CATEGORY, cutoff),
            )
        return [(day, cat, n) for day, cat, n in rows]

    async def export_rows(self, since: float) -> list[dict]:
        """Reports created at or after ``since``, one dict per report (EXPORT_COLUMNS).

        Includes the message text: it is the operators' own data and the most
        useful field for anti-fraud staff, but it may contain personal data,
        so treat exports accordingly.  Never includes the reporter key.
        ``feedback`` holds the values of all feedback rows for the report
        (space-separated, oldest first; usually just one) and
        ``feedback_comment`` their comments joined by " | ".
        """
        async with self._read() as db:
            reports = await db.execute_fetchall(
                """SELECT id, created_at, category, rule, risk, score, scam, text, lang,
                          chat_type, source, money_sent, ruleset_version
                   FROM reports WHERE created_at >= ? ORDER BY id""",
                (since,),
            )
            numbers = await db.execute_fetchall(
                """SELECT n.report_id, n.number FROM report_numbers n
                   JOIN reports r ON r.id = n.report_id
                   WHERE r.created_at >= ? ORDER BY n.rowid""",
                (since,),
            )
            feedback = await db.execute_fetchall(
                """SELECT f.report_id, f.value, f.comment FROM feedback f
                   JOIN reports r ON r.id = f.report_id
                   WHERE r.created_at >= ? ORDER BY f.created_at, f.rowid""",
                (since,),
            )
        nums: dict[int, list[str]] = collections.defaultdict(list)
        for rid, number in numbers:
            nums[rid].append(number)
        values: dict[int, list[str]] = collections.defaultdict(list)
        comments: dict[int, list[str]] = collections.defaultdict(list)
        for rid, value, comment in feedback:
            values[rid].append(value)
            if comment:
                comments[rid].append(comment)
        out = []
        for (rid, created, category, rule, risk, score, scam, text, lang, chat_type,
             source, money_sent, version) in reports:
            out.append({
                "id": rid,
                "created_at": _iso_utc(created),
                "category": category,
                "rule": rule,
                "risk": risk,
                "score": score,
                "scam": bool(scam),
                "numbers": " ".join(nums[rid]),
                "text": text,
                "lang": lang,
                "chat_type": chat_type,
                "source": source,
                "money_sent": None if money_sent is None else bool(money_sent),
                "feedback": " ".join(values[rid]) or None,
                "feedback_comment": " | ".join(comments[rid]) or None,
                "ruleset_version": version,
            })
        return out

    async def export_csv(self, since: float, out: TextIO) -> int:
        """Write :meth:`export_rows` as CSV (header + rows); returns the row count.

        Open ``out`` with ``newline=""``.  Booleans become ``true``/``false``,
        missing values an empty cell.  Free text written by users (``text``,
        ``feedback_comment``) that starts with ``= + - @`` gets a leading
        apostrophe so a spreadsheet does not run it as a formula.
        """
        rows = await self.export_rows(since)
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})
        return len(rows)

    # -- deletion ----------------------------------------------------------

    async def count_user_records(self, user_id: int) -> int:
        """How many records :meth:`forget` would delete (for the confirmation prompt)."""
        key = self.reporter_key(user_id)
        async with self._read() as db:
            return await _count_user_records(db, key)

    async def forget(self, user_id: int) -> int:
        """Delete everything this user gave us; returns the number of records deleted.

        Records are the user's reports plus feedback rows: the user's own
        feedback anywhere, and any feedback on the user's reports (it cannot
        outlive the report).  Numbers of deleted reports stay in the
        anonymous tally.
        """
        key = self.reporter_key(user_id)
        async with self._write() as db:
            count = await _count_user_records(db, key)
            await db.execute("DELETE FROM feedback WHERE reporter = ?", (key,))
            # report_numbers and feedback on these reports go by ON DELETE CASCADE.
            await db.execute("DELETE FROM reports WHERE reporter = ?", (key,))
        if count:
            await self._scrub()
        return count

    async def purge(self, retention_days: int) -> int:
        """Delete reports older than ``retention_days`` (with numbers and feedback).

        Returns the number of reports removed.  The number tally is kept.
        """
        _check_days(retention_days)
        cutoff = self._clock() - retention_days * DAY
        async with self._write() as db:
            cur = await db.execute("DELETE FROM reports WHERE created_at < ?", (cutoff,))
            removed = cur.rowcount
        if removed:
            await self._scrub()
        return removed

    async def integrity_ok(self) -> bool:
        async with self._lock:
            rows = await self._db.execute_fetchall("PRAGMA integrity_check")
        return [tuple(r) for r in rows] == [("ok",)]

    # -- read-only access (admin CLI) -----------------------------------------

    @classmethod
    async def open_readonly(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Store:
        """Open an existing database for reading only (``callguard stats|bulletin|export``).

        Never creates, migrates or writes the file, and generates no secret:
        a report tool must not change the bot's database. Raises
        ``sqlite3.OperationalError`` when the file does not exist or cannot be
        opened, ``sqlite3.DatabaseError`` when it is not a database, and
        RuntimeError when its schema version is not this code's. The
        statistics and export methods work; write methods fail with
        "attempt to write a readonly database".
        """
        from urllib.parse import quote

        uri = "file:" + quote(os.path.abspath(os.fspath(path))) + "?mode=ro"
        db = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=busy_timeout_ms / 1000)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            (version,), = await db.execute_fetchall("PRAGMA user_version")
            if version != len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema version {version}, this code reads version {len(MIGRATIONS)}"
                    + (" (not a CallGuard database, or never opened by the bot)" if version == 0 else "")
                )
        except BaseException:
            await db.close()
            raise
        # reporter_key() is meaningless here (and unused by the read methods): a throwaway secret.
        return cls(db, _secrets.token_bytes(32), clock)


def _csv_cell(column: str, value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column in ("text", "feedback_comment") and isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


async def _count_user_records(db: aiosqlite.Connection, key: str) -> int:
    (count,), = await db.execute_fetchall(
        """SELECT (SELECT COUNT(*) FROM reports WHERE reporter = :k)
                + (SELECT COUNT(*) FROM feedback
                   WHERE reporter = :k
                      OR report_id IN (SELECT id FROM reports WHERE reporter = :k))""",
        {"k": key},
    )
    return count


# -- run on aiosqlite's thread (Store._run): plain sqlite3, no awaits -------------

_INSERT_REPORT = """INSERT INTO reports (created_at, reporter, text, lang, scam, risk,
                        category, rule, score, ruleset_version, chat_type, source, money_sent)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
_INSERT_NUMBER = "INSERT INTO report_numbers (report_id, number) VALUES (?, ?)"
_COUNT_NUMBER = """INSERT INTO number_tally (number, day, count) VALUES (?, ?, 1)
                   ON CONFLICT (number, day) DO UPDATE SET count = count + 1"""


def _insert_report(
    conn: sqlite3.Connection, values: tuple, numbers: list[str], day: str, count_since: str | None
) -> tuple[int, dict[str, int]]:
    """Store.add_report_and_count's write transaction: counts (if asked), report, numbers, tally.

    BEGIN IMMEDIATE takes the write lock up front (waiting busy_timeout for
    it), so the transaction never fails half-way with "database is locked".

    A report without phone numbers is a single INSERT, run as its own transaction
    (autocommit: the connection has isolation_level=None): SQLite takes the write lock
    for it, waiting busy_timeout like BEGIN IMMEDIATE does (no read lock is held before
    it, so there is nothing to upgrade), and commits before the call returns, with the
    same durability as COMMIT. One SQLite call instead of three: each releases and
    re-takes the GIL, which costs the event loop's thread a hand-over every time.
    """
    if not numbers and not conn.in_transaction:
        return conn.execute(_INSERT_REPORT, values).lastrowid, {}
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Read before the insert: the counts are of the other reports.
        counts = _tally(conn, numbers, count_since) if numbers and count_since is not None else {}
        report_id = conn.execute(_INSERT_REPORT, values).lastrowid
        assert report_id is not None
        if numbers:
            conn.executemany(_INSERT_NUMBER, [(report_id, n) for n in numbers])
            conn.executemany(_COUNT_NUMBER, [(n, day) for n in numbers])
        conn.commit()
    except BaseException:
        # A no-op if SQLite already rolled back (e.g. after SQLITE_FULL); never
        # let it mask the original error.
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        raise
    return report_id, counts


def _tally(conn: sqlite3.Connection, numbers: Sequence[str], since_day: str) -> dict[str, int]:
    """Reports per number from the tally, days ``since_day`` to today (0 if none)."""
    result = dict.fromkeys(numbers, 0)
    for chunk in _chunks(numbers):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"""SELECT number, SUM(count) FROM number_tally
                WHERE day >= ? AND number IN ({marks}) GROUP BY number""",
            (since_day, *chunk),
        )
        for number, count in rows:
            result[number] = count
    return result


def _read_number_counts(
    conn: sqlite3.Connection, numbers: list[str], since_day: str, exclude_report_id: int | None
) -> dict[str, int]:
    """Store.number_counts in one read transaction (one consistent snapshot)."""
    conn.execute("BEGIN")
    try:
        result = _tally(conn, numbers, since_day)
        if exclude_report_id is not None:
            rows = conn.execute(
                """SELECT n.number FROM report_numbers n JOIN reports r ON r.id = n.report_id
                   WHERE r.id = ? AND date(r.created_at, 'unixepoch') >= ?""",
                (exclude_report_id, since_day),
            )
            for (number,) in rows:
                if number in result:
                    result[number] = max(0, result[number] - 1)
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
    return result


async def _migrate(db: aiosqlite.Connection) -> None:
    """Run every migration step newer than PRAGMA user_version, each in its own transaction."""
    for version, statements in enumerate(MIGRATIONS, start=1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated.
            (current,), = await db.execute_fetchall("PRAGMA user_version")
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema version {current} is newer than this code ({len(MIGRATIONS)})"
                )
            if current < version:
                for sql in statements:
                    await db.execute(sql)
                await db.execute(f"PRAGMA user_version = {version}")
            await db.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await db.rollback()
            raise


async def _load_secret(db: aiosqlite.Connection, secret: bytes | None) -> bytes:
    """Return the HMAC secret: the given one, or the one generated once and kept in meta.

    A short fingerprint of the secret in use is stored too, so switching
    secrets (which orphans existing reporter keys: /forget would no longer
    find them) is logged instead of happening silently.
    """
    await db.execute("BEGIN IMMEDIATE")
    try:
        if secret is None:
            await db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                (_SECRET_KEY, _secrets.token_bytes(32)),
            )
            (stored,), = await db.execute_fetchall("SELECT value FROM meta WHERE key = ?", (_SECRET_KEY,))
            secret = bytes(stored)
        check = hmac.new(secret, b"callguard-secret-check", hashlib.sha256).hexdigest()[:16]
        rows = await db.execute_fetchall("SELECT value FROM meta WHERE key = ?", (_SECRET_CHECK_KEY,))
        if rows and rows[0][0] != check:
            log.warning(
                "reporter secret changed since the last run: reports stored before "
                "cannot be found by /forget any more"
            )
        await db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_SECRET_CHECK_KEY, check)
        )
        await db.commit()
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            await db.rollback()
        raise
    return secret


# --------------------------------------------------------------------------
# Resilient writing


StoreOpener = Callable[[], Awaitable[Store]]


class ReportWriter:
    """Stores reports without ever letting a storage failure reach the user.

    Detection must answer even when the disk is full or the database is
    locked, and an acknowledged report should not be lost on a transient
    failure.  So :meth:`submit` keeps reports it could not write in a bounded
    in-memory queue, in order, and writes them before anything newer once
    storage works again.  Only storage errors (:func:`is_storage_error`) are
    absorbed; invalid reports and bugs still raise.

    Limits: the queue lives in memory, so reports still pending when the
    process dies are lost; when more than ``max_pending`` are waiting, the
    oldest are dropped and counted in :attr:`dropped`.

    Accepts an open :class:`Store` or an async callable returning one (e.g.
    ``functools.partial(Store.open, path)``); with a callable, a database
    that cannot be opened at start-up is retried on each submit/flush instead
    of stopping the bot.

    A failing storage never makes users wait in turn.  A retry on a user's
    behalf is only made when failures are cheap (disk full, read-only file:
    an instant error).  After a failure that took ``slow_failure`` seconds or
    more (a database locked by another process past ``busy_timeout``), and
    while any retry is running, :meth:`submit` queues at once; the queue is
    then retried in the background at most every ``retry_every`` seconds
    (and by :meth:`flush`).  Otherwise every user arriving during the outage
    would wait a full busy_timeout behind the one before.
    """

    def __init__(
        self,
        store_opener_or_store: Store | StoreOpener,
        *,
        max_pending: int = 10_000,
        log_every: float = 60.0,
        retry_every: float = 5.0,
        slow_failure: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        if isinstance(store_opener_or_store, Store):
            self._store: Store | None = store_opener_or_store
            self._opener: StoreOpener | None = None
        else:
            self._store = None
            self._opener = store_opener_or_store
        self._pending: collections.deque[tuple[Report, int | None]] = collections.deque(maxlen=max_pending)
        self._dropped = 0
        self._log_every = log_every
        self._clock = clock
        self._last_log: float | None = None
        self._suppressed = 0
        self._failing = False
        self._announced = False  # the current failure streak was logged
        self._lock = asyncio.Lock()
        self._retry_every = retry_every
        self._slow_failure = slow_failure
        self._slow = False  # the last failure made its caller wait: do not retry on a user's time
        self._retry_at = 0.0  # (clock) when a background retry may start again
        self._retry_task: asyncio.Task | None = None
        self._closed = False
        self._writing = 0  # a queued report taken off the queue while flush() writes it

    @property
    def pending(self) -> int:
        """Reports waiting in memory for storage to come back (including one being written)."""
        return len(self._pending) + self._writing

    @property
    def dropped(self) -> int:
        """Reports discarded because the queue was full (oldest first)."""
        return self._dropped

    @property
    def store(self) -> Store | None:
        """The open store, or None while it could not be opened yet."""
        return self._store

    async def connect(self) -> bool:
        """Open the store now if it is not open yet; False (logged) if it cannot be."""
        async with self._lock:
            try:
                await self._get_store()
            except Exception as exc:
                if not is_storage_error(exc):
                    raise
                self._failed(exc)
                return False
            self._recovered(0)
            return True

    async def submit(self, report: Report, user_id: int | None) -> int | None:
        """Store ``report``; returns its id, or None if it was queued instead."""
        report_id, _ = await self.submit_and_count(report, user_id)
        return report_id

    async def submit_and_count(
        self, report: Report, user_id: int | None, *, days: int | None = None
    ) -> tuple[int | None, dict[str, int]]:
        """:meth:`submit`, plus the number counts of :meth:`Store.add_report_and_count`
        (``{}`` when the report was queued or ``days`` is None).

        Reports are written one at a time, one trip to the database each.  Group
        commit (writing the reports that queued up meanwhile in one transaction) was
        tried and made the bot slower: the handlers it released together all sent
        their replies in the same event-loop turn, and httpcore's pool then gives
        them all the same idle connection and retries the losers (3.6 connection
        assignments per request instead of 1; bench/README.md, "The whole bot").
        """
        report.validate()  # a bad report must fail here, not poison the queue
        if self.pending and (self._slow or self._lock.locked()):
            return self._queue_now(report, user_id), {}  # do not wait behind a failing retry
        async with self._lock:
            if self._pending:
                if self._slow:
                    return self._queue_now(report, user_id), {}
                await self._flush_locked()
                if self._pending:  # still failing: keep order, do not jump the queue
                    self._enqueue(report, user_id)
                    return None, {}
            started = self._clock()
            try:
                store = await self._get_store()
                if days is None:
                    report_id, counts = await store.add_report(report, user_id), {}
                else:
                    report_id, counts = await store.add_report_and_count(report, user_id, days=days)
            except Exception as exc:
                if not is_storage_error(exc):
                    raise
                self._enqueue(report, user_id)
                self._failed(exc, started)
                return None, {}
            self._recovered(0)
            return report_id, counts

    def _queue_now(self, report: Report, user_id: int | None) -> None:
        """Queue without touching storage; start a background retry when one is due."""
        self._enqueue(report, user_id)
        now = self._clock()
        if (self._slow and not self._closed and now >= self._retry_at
                and (self._retry_task is None or self._retry_task.done())):
            self._retry_at = now + self._retry_every
            self._retry_task = asyncio.get_running_loop().create_task(
                self._background_retry(), name="report-writer-retry")
        return None

    async def _background_retry(self) -> None:
        try:
            await self.flush()
        except Exception:  # not a storage error (those are absorbed): a bug, say so
            log.exception("retrying queued reports failed")

    async def count_user_records(self, user_id: int) -> int:
        """:meth:`Store.count_user_records` plus this user's reports still queued."""
        async with self._lock:
            queued = sum(1 for _, uid in self._pending if uid == user_id)
            return queued + await (await self._get_store()).count_user_records(user_id)

    async def forget(self, user_id: int) -> int:
        """:meth:`Store.forget`, also dropping the user's queued reports.

        Use this rather than ``store.forget``: a report still waiting in the
        queue would otherwise be written after the deletion and bring the
        user's data back.  Storage errors propagate here (the user must learn
        that the deletion did not happen); queued reports are removed first
        either way.
        """
        async with self._lock:
            before = len(self._pending)
            self._pending = collections.deque(
                (item for item in self._pending if item[1] != user_id), maxlen=self._pending.maxlen
            )
            removed = before - len(self._pending)
            return removed + await (await self._get_store()).forget(user_id)

    async def flush(self) -> int:
        """Write pending reports, oldest first; returns how many were written.

        Stops at the first storage error (the rest stay queued).  Call it
        periodically and at shutdown.
        """
        async with self._lock:
            return await self._flush_locked()

    async def close(self) -> None:
        """Flush what can be flushed, then close the store.  Never raises storage errors."""
        self._closed = True  # no new background retry from now on
        if self._retry_task is not None:
            await self._retry_task  # one attempt: ends at the first failure (never raises)
        async with self._lock:
            await self._flush_locked()
            if self._pending:
                log.error(
                    "shutting down with %d report(s) that could not be stored; they are lost",
                    len(self._pending),
                )
            if self._store is not None:
                try:
                    await self._store.close()
                except Exception as exc:
                    if not is_storage_error(exc):
                        raise
                    log.error("closing the store failed: %s", exc)
                self._store = None

    # -- internals -----------------------------------------------------------

    async def _get_store(self) -> Store:
        if self._store is None:
            assert self._opener is not None
            self._store = await self._opener()
        return self._store

    def _enqueue(self, report: Report, user_id: int | None) -> None:
        if len(self._pending) == self._pending.maxlen:
            self._dropped += 1  # deque(maxlen) discards the oldest on append
        self._pending.append((report, user_id))

    async def _flush_locked(self) -> int:
        if not self._pending:
            return 0
        started = self._clock()
        try:
            store = await self._get_store()
        except Exception as exc:
            if not is_storage_error(exc):
                raise  # e.g. schema too new: not the queued reports' fault
            self._failed(exc, started)
            return 0
        written = 0
        while self._pending:
            # Taken off the queue while it is written: submit() may append
            # meanwhile, and a full deque(maxlen) would evict this very item.
            report, user_id = self._pending.popleft()
            started = self._clock()
            self._writing = 1
            try:
                await store.add_report(report, user_id)
            except Exception as exc:
                self._writing = 0
                if not is_storage_error(exc):
                    # Retrying cannot fix this one; do not block the rest behind it.
                    self._dropped += 1
                    log.exception("dropping a queued report that cannot be stored")
                    continue
                self._requeue(report, user_id)
                self._failed(exc, started)
                return written
            except BaseException:  # cancelled: a duplicate later beats a report lost
                self._writing = 0
                self._requeue(report, user_id)
                raise
            self._writing = 0
            written += 1
        self._recovered(written)
        return written

    def _requeue(self, report: Report, user_id: int | None) -> None:
        """Put a report taken off the queue back at its head (it is the oldest)."""
        if len(self._pending) == self._pending.maxlen:
            self._dropped += 1  # refilled meanwhile: the oldest goes, and this is the oldest
        else:
            self._pending.appendleft((report, user_id))

    def _failed(self, exc: BaseException, started: float | None = None) -> None:
        """Log a storage failure, at most once per ``log_every`` seconds."""
        self._failing = True
        now = self._clock()
        if started is not None:
            self._slow = now - started >= self._slow_failure
            if self._slow:
                self._retry_at = now + self._retry_every
        if self._last_log is not None and now - self._last_log < self._log_every:
            self._suppressed += 1
            return
        self._last_log = now
        self._announced = True
        log.warning(
            "report storage failing (%s: %s); %d pending, %d dropped, %d similar failures not logged",
            type(exc).__name__, exc, len(self._pending), self._dropped, self._suppressed,
        )
        self._suppressed = 0

    def _recovered(self, written: int) -> None:
        # Only announce the end of a failure the operator was told about, so
        # a flapping database cannot defeat the rate limit through this line.
        self._slow = False
        if self._failing:
            self._failing = False
            if self._announced:
                self._announced = False
                log.warning("report storage recovered; wrote %d queued report(s)", written)
