"""Every SQL statement of the SQLite backend, as plain functions of a ``sqlite3.Connection``.

Each function is one complete transaction (or a single autocommitted
statement) and runs on the store's database thread in one trip
(:mod:`.thread`). They take keyed reporter values, never Telegram ids.
"""

from __future__ import annotations

import collections
import contextlib
import sqlite3
from typing import Iterable, Iterator, Sequence

from ..models import NO_CATEGORY, NO_RULE, WARNINGS, Preferences, Report, iso_utc

# The columns of ``reports`` that hold a Report's fields (same names), in one
# place for the insert and the read. A new Report field goes here (and into a
# migration step); booleans are stored as 0/1.
REPORT_FIELDS = ("text", "lang", "scam", "risk", "category", "rule", "score", "ruleset_version",
                 "chat_type", "source", "money_sent", "from_image", "warns_of", "warns_of_category")
BOOL_FIELDS = frozenset({"scam", "money_sent", "from_image"})

_INSERT_REPORT = (f"INSERT INTO reports (created_at, reporter, {', '.join(REPORT_FIELDS)}) "
                  f"VALUES ({', '.join('?' * (len(REPORT_FIELDS) + 2))})")
_INSERT_NUMBER = "INSERT INTO report_numbers (report_id, number) VALUES (?, ?)"
_LAST_DAY = "SELECT last_day FROM number_reporters WHERE number = ? AND reporter = ?"
_NEW_REPORTER = "INSERT INTO number_reporters (number, reporter, last_day) VALUES (?, ?, ?)"
_MOVE_REPORTER = "UPDATE number_reporters SET last_day = ? WHERE number = ? AND reporter = ?"
_DAY_MINUS = "UPDATE number_days SET reporters = reporters - 1 WHERE number = ? AND day = ?"
_DAY_PLUS = """INSERT INTO number_days (number, day, reporters) VALUES (?, ?, 1)
               ON CONFLICT (number, day) DO UPDATE SET reporters = reporters + 1"""


def report_values(report: Report) -> tuple:
    """The REPORT_FIELDS of ``report`` as SQL values."""
    values = []
    for name in REPORT_FIELDS:
        value = getattr(report, name)
        values.append(int(value) if name in BOOL_FIELDS and value is not None else value)
    return tuple(values)


@contextlib.contextmanager
def _write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, committed on success, rolled back otherwise.

    BEGIN IMMEDIATE takes the write lock up front (waiting busy_timeout for it),
    so a transaction never fails half-way with "database is locked" when it
    tries to upgrade a read lock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.commit()
    except BaseException:
        # A no-op if SQLite already rolled back (e.g. after SQLITE_FULL); never
        # let it mask the original error.
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()
        raise


@contextlib.contextmanager
def _read(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A read transaction: several SELECTs see one consistent snapshot."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        with contextlib.suppress(sqlite3.Error):
            conn.rollback()


def _chunks(items: Sequence[str], size: int = 500) -> Iterable[Sequence[str]]:
    # Stay far below SQLite's bound-parameter limit.
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- reports and number counts ---------------------------------------------------


def insert_report(
    conn: sqlite3.Connection, created: float, reporter: str | None, values: tuple, numbers: list[str],
    day: str, count_since: str | None,
) -> tuple[int, dict[str, int]]:
    """The report, its numbers and their reporters; with ``count_since``, the counts of
    other reporters read just before (the asking reporter left out).

    A report without phone numbers is a single INSERT, run as its own transaction
    (autocommit: the connection has isolation_level=None): SQLite takes the write lock
    for it, waiting busy_timeout like BEGIN IMMEDIATE does (no read lock is held before
    it, so there is nothing to upgrade), and commits before the call returns, with the
    same durability as COMMIT. One SQLite call instead of three: each releases and
    re-takes the GIL, which costs the event loop's thread a hand-over every time.
    """
    if not numbers and not conn.in_transaction:
        return conn.execute(_INSERT_REPORT, (created, reporter, *values)).lastrowid, {}
    with _write(conn):
        # The reporter's latest day per number serves both the count (the asking user is
        # left out) and the update of the counts below: one lookup each.
        last_days = {n: _last_day(conn, n, reporter) for n in numbers} if reporter is not None else {}
        counts = {}
        if count_since is not None:  # read before the insert: the counts are of the other reporters
            counts = _people(conn, numbers, count_since)
            for number, last in last_days.items():
                if last is not None and last >= count_since:
                    counts[number] -= 1
        report_id = conn.execute(_INSERT_REPORT, (created, reporter, *values)).lastrowid
        assert report_id is not None
        if numbers:
            counted_as = reporter if reporter is not None else f"report:{report_id}"
            conn.executemany(_INSERT_NUMBER, [(report_id, n) for n in numbers])
            for number in numbers:
                _add_reporter(conn, number, counted_as, day, last_days.get(number))
    return report_id, counts


def _last_day(conn: sqlite3.Connection, number: str, reporter: str) -> str | None:
    row = conn.execute(_LAST_DAY, (number, reporter)).fetchone()
    return None if row is None else row[0]


def _add_reporter(conn: sqlite3.Connection, number: str, reporter: str, day: str, last: str | None) -> None:
    """Record that ``reporter`` (latest day so far: ``last``) reported ``number`` on ``day``."""
    if last is None:
        conn.execute(_NEW_REPORTER, (number, reporter, day))
    elif last < day:
        conn.execute(_MOVE_REPORTER, (day, number, reporter))
        conn.execute(_DAY_MINUS, (number, last))
    else:
        return  # already counted on this day or a later one
    conn.execute(_DAY_PLUS, (number, day))


def _people(conn: sqlite3.Connection, numbers: Sequence[str], since_day: str) -> dict[str, int]:
    """Reporters per number whose latest report of it is from ``since_day`` on (0 if none)."""
    result = dict.fromkeys(numbers, 0)
    for chunk in _chunks(numbers):
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(f"""SELECT number, SUM(reporters) FROM number_days
                                WHERE number IN ({marks}) AND day >= ? GROUP BY number""", (*chunk, since_day))
        for number, count in rows:
            result[number] = count
    return result


def _distinct_reporters(
    conn: sqlite3.Connection, numbers: Sequence[str], since_day: str, exclude: str | None
) -> dict[str, int]:
    """Distinct reporters per number, days ``since_day`` to today, ``exclude`` left out (0 if none)."""
    result = _people(conn, numbers, since_day)
    if exclude is not None:  # the asking user is one of them when their latest day is in the window
        for chunk in _chunks(numbers):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"""SELECT number FROM number_reporters
                                    WHERE reporter = ? AND number IN ({marks}) AND last_day >= ?""",
                                (exclude, *chunk, since_day))
            for (number,) in rows:
                result[number] -= 1
    return result


def number_counts(conn: sqlite3.Connection, numbers: list[str], since_day: str, exclude: str | None) -> dict[str, int]:
    with _read(conn):
        return _distinct_reporters(conn, numbers, since_day, exclude)


def get_report(conn: sqlite3.Connection, report_id: int) -> Report | None:
    with _read(conn):
        row = conn.execute(f"SELECT created_at, {', '.join(REPORT_FIELDS)} FROM reports WHERE id = ?",
                           (report_id,)).fetchone()
        if row is None:
            return None
        numbers = conn.execute("SELECT number FROM report_numbers WHERE report_id = ? ORDER BY rowid",
                               (report_id,)).fetchall()
    fields = {name: (bool(value) if name in BOOL_FIELDS and value is not None else value)
              for name, value in zip(REPORT_FIELDS, row[1:])}
    return Report(**fields, numbers=tuple(n for (n,) in numbers), created_at=row[0])


def set_feedback(conn: sqlite3.Connection, report_id: int, reporter: str, value: str, comment: str | None,
                 now: float) -> bool:
    with _write(conn):
        if conn.execute("SELECT 1 FROM reports WHERE id = ?", (report_id,)).fetchone() is None:
            return False
        conn.execute(
            """INSERT INTO feedback (report_id, reporter, value, comment, created_at, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (report_id, reporter) DO UPDATE SET
                   value = excluded.value,
                   comment = COALESCE(excluded.comment, feedback.comment),
                   updated_at = excluded.updated_at""",
            (report_id, reporter, value, comment, now, now),
        )
    return True


def set_money_sent(conn: sqlite3.Connection, report_id: int, sent: bool) -> None:
    with _write(conn):
        conn.execute("UPDATE reports SET money_sent = ? WHERE id = ?", (int(sent), report_id))


# -- a user's /lang and /region -------------------------------------------------------


def get_preferences(conn: sqlite3.Connection, reporter: str) -> Preferences:
    row = conn.execute("SELECT lang, region FROM preferences WHERE reporter = ?", (reporter,)).fetchone()
    return Preferences() if row is None else Preferences(lang=row[0], region=row[1])


def set_preferences(conn: sqlite3.Connection, reporter: str, prefs: Preferences, now: float) -> None:
    """Store what ``prefs`` sets; a None field keeps the value stored before."""
    with _write(conn):
        conn.execute(
            """INSERT INTO preferences (reporter, lang, region, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (reporter) DO UPDATE SET
                   lang = COALESCE(excluded.lang, preferences.lang),
                   region = COALESCE(excluded.region, preferences.region),
                   updated_at = excluded.updated_at""",
            (reporter, prefs.lang, prefs.region, now),
        )


# -- statistics and export ---------------------------------------------------------


def stats_counts(conn: sqlite3.Connection, since: float, cutoff_day: str, top: int = 10) -> dict:
    """The raw counts of :meth:`~callguard.storage.models.Stats.from_counts`, one snapshot."""
    with _read(conn):
        (total, money), = conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(money_sent = 1), 0) FROM reports WHERE created_at >= ?", (since,))
        categories = conn.execute(
            "SELECT COALESCE(category, ?), COUNT(*) FROM reports WHERE created_at >= ? GROUP BY 1",
            (NO_CATEGORY, since)).fetchall()
        risks = conn.execute("SELECT risk, COUNT(*) FROM reports WHERE created_at >= ? GROUP BY 1",
                             (since,)).fetchall()
        # From number_days, so numbers of purged or forgotten reports still count.
        numbers = conn.execute(
            """SELECT number, SUM(reporters) AS c FROM number_days WHERE day >= ?
               GROUP BY number HAVING c > 0 ORDER BY c DESC, number LIMIT ?""", (cutoff_day, top)).fetchall()
        feedback = conn.execute(
            """SELECT COALESCE(r.rule, ?), SUM(f.value = 'helpful'), SUM(f.value = 'wrong')
               FROM feedback f JOIN reports r ON r.id = f.report_id
               WHERE r.created_at >= ? GROUP BY 1""", (NO_RULE, since)).fetchall()
        # Warnings about a scam, by the category of the scam they warn of.
        warnings = conn.execute(
            """SELECT COALESCE(warns_of_category, ?), COUNT(*) FROM reports
               WHERE created_at >= ? AND warns_of IS NOT NULL GROUP BY 1""", (NO_CATEGORY, since)).fetchall()
    return dict(total=total, money_sent=money, categories=categories, risks=risks, numbers=numbers,
                feedback=feedback, warnings=warnings)


def daily_counts(conn: sqlite3.Connection, cutoff: float) -> list[tuple[str, str, int]]:
    """Reports per UTC day and category; those worded as a warning about a scam count as
    ``WARNINGS`` (their own verdict is usually "no clear scam pattern")."""
    with _read(conn):
        rows = conn.execute(
            """SELECT date(created_at, 'unixepoch'),
                      CASE WHEN warns_of IS NOT NULL THEN ? ELSE COALESCE(category, ?) END, COUNT(*)
               FROM reports WHERE created_at >= ? GROUP BY 1, 2 ORDER BY 1, 2""", (WARNINGS, NO_CATEGORY, cutoff))
        return [(day, category, n) for day, category, n in rows]


def export_rows(conn: sqlite3.Connection, since: float) -> list[dict]:
    """Reports created at or after ``since`` (see ``ReportStore.export_rows``).

    ``feedback`` holds the values of all feedback rows for the report
    (space-separated, oldest first; usually just one) and ``feedback_comment``
    their comments joined by " | ". Never the reporter key."""
    with _read(conn):
        reports = conn.execute(
            """SELECT id, created_at, category, rule, risk, score, scam, text, lang,
                      chat_type, source, money_sent, ruleset_version, from_image, warns_of, warns_of_category
               FROM reports WHERE created_at >= ? ORDER BY id""", (since,)).fetchall()
        numbers = conn.execute(
            """SELECT n.report_id, n.number FROM report_numbers n JOIN reports r ON r.id = n.report_id
               WHERE r.created_at >= ? ORDER BY n.rowid""", (since,)).fetchall()
        feedback = conn.execute(
            """SELECT f.report_id, f.value, f.comment FROM feedback f JOIN reports r ON r.id = f.report_id
               WHERE r.created_at >= ? ORDER BY f.created_at, f.rowid""", (since,)).fetchall()
    nums: dict[int, list[str]] = collections.defaultdict(list)
    for rid, number in numbers:
        nums[rid].append(number)
    values: dict[int, list[str]] = collections.defaultdict(list)
    comments: dict[int, list[str]] = collections.defaultdict(list)
    for rid, value, comment in feedback:
        values[rid].append(value)
        if comment:
            comments[rid].append(comment)
    return [
        {
            "id": rid,
            "created_at": iso_utc(created),
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
            "from_image": bool(from_image),
            "warns_of": warns_of,
            "warns_of_category": warns_of_category,
        }
        for (rid, created, category, rule, risk, score, scam, text, lang, chat_type, source, money_sent,
             version, from_image, warns_of, warns_of_category) in reports
    ]


# -- deletion -----------------------------------------------------------------------


def _user_records(conn: sqlite3.Connection, reporter: str) -> int:
    (count,), = conn.execute(
        """SELECT (SELECT COUNT(*) FROM reports WHERE reporter = :k)
                + (SELECT COUNT(*) FROM preferences WHERE reporter = :k)
                + (SELECT COUNT(*) FROM feedback
                   WHERE reporter = :k
                      OR report_id IN (SELECT id FROM reports WHERE reporter = :k))""",
        {"k": reporter},
    )
    return count


def count_user_records(conn: sqlite3.Connection, reporter: str) -> int:
    with _read(conn):
        return _user_records(conn, reporter)


def forget(conn: sqlite3.Connection, reporter: str, anonymous: str) -> int:
    """Delete the reporter's reports, feedback and preferences; their number counts go to
    ``anonymous``, a random token: still one person per number, no longer this one."""
    with _write(conn):
        count = _user_records(conn, reporter)
        conn.execute("DELETE FROM preferences WHERE reporter = ?", (reporter,))
        conn.execute("DELETE FROM feedback WHERE reporter = ?", (reporter,))
        # report_numbers and feedback on these reports go by ON DELETE CASCADE.
        conn.execute("DELETE FROM reports WHERE reporter = ?", (reporter,))
        conn.execute("UPDATE number_reporters SET reporter = ? WHERE reporter = ?", (anonymous, reporter))
    return count


def purge(conn: sqlite3.Connection, cutoff: float, cutoff_day: str) -> int:
    """Delete reports created before ``cutoff`` and number counts of days before ``cutoff_day``."""
    with _write(conn):
        removed = conn.execute("DELETE FROM reports WHERE created_at < ?", (cutoff,)).rowcount
        conn.execute("DELETE FROM number_reporters WHERE last_day < ?", (cutoff_day,))
        conn.execute("DELETE FROM number_days WHERE day < ?", (cutoff_day,))
    return removed


def scrub(conn: sqlite3.Connection) -> None:
    """Move the WAL back into the main file after deletions.

    With secure_delete the freed pages are zeroed, but older copies of them may
    still sit in the WAL until a checkpoint. Best effort: if a reader is active
    the checkpoint is partial, which is not an error."""
    with contextlib.suppress(sqlite3.OperationalError):
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def integrity_ok(conn: sqlite3.Connection) -> bool:
    return [tuple(r) for r in conn.execute("PRAGMA integrity_check")] == [("ok",)]


def last_report_id(conn: sqlite3.Connection) -> int:
    (last,), = conn.execute("SELECT COALESCE(MAX(id), 0) FROM reports")
    return last
