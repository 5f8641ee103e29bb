"""The SQLite backend: one database file, one connection on its own thread.

Implements :class:`~callguard.storage.backend.ReportStore`. Several processes
may share the file (two bots, or a bot and ``callguard stats``): SQLite
coordinates them through WAL, ``BEGIN IMMEDIATE`` and ``busy_timeout``.

Privacy: ``PRAGMA secure_delete`` is on, and the WAL is checkpointed after
deletions, so deleted text does not linger in free pages of the file. Backups
and exports taken earlier are out of reach of this module. The reporter key
lives outside the file (:mod:`callguard.storage.keys`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Callable, Iterable, TypeVar
from urllib.parse import quote

from ..backend import StorageError
from ..keys import ReporterKeys, SecretChoice, choose_secret, default_key_file
from ..models import DAY, FEEDBACK_VALUES, Preferences, Report, Stats, check_days, day_start, utc_day
from . import queries, relocate
from .schema import MIGRATIONS, configure, migrate, schema_version
from .thread import DatabaseThread

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "SQLiteStore", "is_storage_error"]

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS = 5000
_SECRET_KEY = "reporter_secret"  # where versions before the key file kept the key (moved out on open)
_SECRET_CHECK_KEY = "reporter_secret_check"
_T = TypeVar("_T")
_DEFAULT = object()


def is_storage_error(exc: BaseException) -> bool:
    """True for failures of the storage itself, worth retrying later.

    Disk full, read-only file, "database is locked" after busy_timeout and I/O
    errors are OperationalError/OSError; a corrupt file raises a bare
    DatabaseError.  IntegrityError, ProgrammingError and friends are also
    DatabaseErrors but mean a bug: retrying them would never succeed.
    """
    return isinstance(exc, (sqlite3.OperationalError, OSError)) or type(exc) is sqlite3.DatabaseError


@contextlib.contextmanager
def _storage_errors():
    """Raise SQLite's storage failures as StorageError (the backend-neutral kind)."""
    try:
        yield
    except StorageError:
        raise
    except Exception as exc:
        if is_storage_error(exc):
            raise StorageError(f"{type(exc).__name__}: {exc}") from exc
        raise


class SQLiteStore:
    """Async access to the CallGuard database. Create with :meth:`open`.

    Each operation is one function of :mod:`.queries` run on the connection's
    own thread (:class:`.thread.DatabaseThread`), one at a time, in order.
    """

    def __init__(self, thread: DatabaseThread, keys: ReporterKeys, clock: Callable[[], float],
                 file: relocate.FileState | None) -> None:
        self._thread = thread
        self.keys = keys
        self._clock = clock
        self._file = file  # None: in memory or read-only, nothing to watch
        self._broken: str | None = None  # why the file cannot be used until check() succeeds

    # -- lifecycle -------------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        secret: bytes | None = None,
        key_file: Path | None | object = _DEFAULT,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> SQLiteStore:
        """Open (creating if needed) and migrate the database at ``path``.

        ``secret`` is CALLGUARD_SECRET; without it the key file (by default beside
        the database, see :func:`~callguard.storage.keys.default_key_file`) holds
        the reporter key, created on first use. ``":memory:"`` works for tests.
        ``busy_timeout_ms`` is how long a write waits for another connection's
        lock before failing with "database is locked". Storage failures raise
        StorageError; a schema newer than this code raises RuntimeError.
        """
        if secret is not None and not secret:
            raise ValueError("secret must not be empty")
        name = os.fspath(path)
        if key_file is _DEFAULT:
            key_file = default_key_file(name)
        thread = DatabaseThread()
        try:
            with _storage_errors():
                keys, file = await thread.call_with_thread(_open, name, busy_timeout_ms, secret, key_file)
        except BaseException:
            await thread.stop()
            raise
        return cls(thread, keys, clock, file)

    @classmethod
    async def open_readonly(
        cls,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> SQLiteStore:
        """Open an existing database for reading only (``callguard stats|bulletin|export``).

        Never creates, migrates or writes the file, and reads no key: a report
        tool must not change the bot's database. Raises StorageError when the
        file does not exist, cannot be opened or is not a database, and
        RuntimeError when its schema version is not this code's. The statistics
        and export methods work; write methods fail with StorageError
        ("attempt to write a readonly database").
        """
        thread = DatabaseThread()
        try:
            with _storage_errors():
                await thread.call_with_thread(_open_readonly, os.path.abspath(os.fspath(path)), busy_timeout_ms)
        except BaseException:
            await thread.stop()
            raise
        # reporter keys are meaningless here (and unused by the read methods): a throwaway secret.
        return cls(thread, ReporterKeys(secrets.token_bytes(32)), clock, None)

    async def close(self) -> None:
        await self._thread.stop()
        rescue = self._file.rescue if self._file is not None else None
        if rescue is not None and rescue.exists():  # the deleted database could not be put back in time
            log.error("closing with the database file %s still missing: a copy of it, with every report, is "
                      "kept at %s; move it there before starting the bot again", self._file.path, rescue)

    async def check(self) -> None:
        """Confirm the file at the database's path is still the one open here.

        A deleted or replaced database file is not an error SQLite reports: the
        connection keeps writing to the old file, and every report from then on
        is lost at the next restart. Here the path's device and inode are compared
        with the open file's; on a mismatch the file is recovered or reopened
        (:mod:`.relocate`), and until that succeeds every operation raises
        StorageError, so the writer keeps reports in memory. A deleted key file is
        written again."""
        if self._file is None:
            return
        with _storage_errors():
            self._file, error = await self._thread.call_with_thread(relocate.verify, self._file)
        if error is not None:
            self._broken = f"{type(error).__name__}: {error}"
            raise StorageError(self._broken) from error
        self._broken = None

    def reporter_key(self, user_id: int) -> str:
        """What this store keeps for ``user_id`` (see ReporterKeys.reporter)."""
        return self.keys.reporter(user_id)

    async def _run(self, fn: Callable[..., _T], *args: object) -> _T:
        """``fn(conn, *args)`` on the database thread, one trip; storage failures as StorageError."""
        if self._broken is not None:  # never write to a deleted file: the writer queues meanwhile
            raise StorageError(self._broken)
        with _storage_errors():
            return await self._thread.call(fn, *args)

    # -- reports ---------------------------------------------------------------

    async def add_report(self, report: Report, user_id: int | None) -> int:
        """Store a report and its numbers; returns the new id (committed before returning)."""
        report_id, _ = await self.add_report_and_count(report, user_id)
        return report_id

    async def add_report_and_count(
        self, report: Report, user_id: int | None, *, days: int | None = None
    ) -> tuple[int, dict[str, int]]:
        """:meth:`add_report`, plus for each of the report's numbers how many other people
        reported it in the last ``days`` UTC days (``{}`` if ``days`` is None), read in
        the same write transaction just before the insert, in one trip to the thread."""
        report.validate()
        now = self._clock()
        created = now if report.created_at is None else float(report.created_at)
        reporter = None if user_id is None else self.keys.reporter(user_id)
        count_since = None
        if days is not None:
            check_days(days)
            count_since = utc_day(now - (days - 1) * DAY)
        numbers = list(dict.fromkeys(report.numbers))
        return await self._run(queries.insert_report, created, reporter, queries.report_values(report), numbers,
                               utc_day(created), count_since)

    async def get_report(self, report_id: int) -> Report | None:
        """The stored report (without reporter), or None if it does not exist."""
        return await self._run(queries.get_report, report_id)

    async def number_counts(
        self, numbers: Iterable[str], *, days: int = 30, exclude_user: int | None = None
    ) -> dict[str, int]:
        """How many distinct people reported each number in the last ``days`` UTC days.

        The window is the ``days`` most recent calendar days, today included
        (``days=1`` means today). Forgotten and purged reports still count (until
        the retention period); ``exclude_user`` does not. Every requested number
        is in the result (0 if nobody reported it)."""
        check_days(days)
        wanted = list(dict.fromkeys(numbers))
        if not wanted:
            return {}
        cutoff = utc_day(self._clock() - (days - 1) * DAY)
        exclude = None if exclude_user is None else self.keys.reporter(exclude_user)
        return await self._run(queries.number_counts, wanted, cutoff, exclude)

    async def set_feedback(self, report_id: int, user_id: int, value: str, comment: str | None = None) -> bool:
        """Record "helpful"/"wrong" from one user on one report.

        One row per (report, user): a new value replaces the old one. A
        ``comment`` is stored when given and kept when a later call omits it,
        so the bot can ask for the comment after the button press. Returns
        False if the report does not exist (e.g. purged meanwhile)."""
        if value not in FEEDBACK_VALUES:
            raise ValueError(f"feedback value {value!r}")
        return await self._run(queries.set_feedback, report_id, self.keys.reporter(user_id), value, comment,
                               self._clock())

    async def set_money_sent(self, report_id: int, sent: bool = True) -> None:
        """Mark whether the victim already paid (asked after a scam verdict)."""
        await self._run(queries.set_money_sent, report_id, sent)

    # -- a user's /lang and /region ---------------------------------------------------

    async def get_preferences(self, user_id: int) -> Preferences:
        """What the user chose with /lang and /region (all None when nothing)."""
        return await self._run(queries.get_preferences, self.keys.reporter(user_id))

    async def set_preferences(self, user_id: int, prefs: Preferences) -> None:
        """Store the fields ``prefs`` sets (committed before returning); None fields stay as they were."""
        prefs.validate()
        await self._run(queries.set_preferences, self.keys.reporter(user_id), prefs, self._clock())

    # -- statistics and export ----------------------------------------------------

    async def stats(self, days: int) -> Stats:
        """Aggregates over the last ``days`` * 24 h (``top_numbers``: UTC days)."""
        check_days(days)
        until = self._clock()
        since = until - days * DAY
        counts = await self._run(queries.stats_counts, since, utc_day(until - (days - 1) * DAY))
        return Stats.from_counts(**counts, since=since, until=until)

    async def daily_counts(self, days: int) -> list[tuple[str, str, int]]:
        """``(day, category, count)`` per UTC day for the last ``days`` days, oldest first."""
        check_days(days)
        return await self._run(queries.daily_counts, day_start(self._clock() - (days - 1) * DAY))

    async def export_rows(self, since: float) -> list[dict]:
        """Reports created at or after ``since``, one dict per report (EXPORT_COLUMNS), full numbers.

        Includes the message text: it is the operators' own data and the most
        useful field for anti-fraud staff, but it may contain personal data,
        so treat exports accordingly (``export.py`` masks phone numbers)."""
        return await self._run(queries.export_rows, since)

    # -- deletion --------------------------------------------------------------

    async def count_user_records(self, user_id: int) -> int:
        """How many records :meth:`forget` would delete (for the confirmation prompt)."""
        return await self._run(queries.count_user_records, self.keys.reporter(user_id))

    async def forget(self, user_id: int) -> int:
        """Delete everything this user gave us; returns the number of records deleted.

        Records are the user's reports, their /lang and /region choice, plus feedback rows: the user's own
        feedback anywhere, and any feedback on the user's reports (it cannot
        outlive the report). The numbers they reported keep counting them as
        one anonymous person, until the retention period."""
        count = await self._run(queries.forget, self.keys.reporter(user_id), "forgotten:" + secrets.token_hex(16))
        if count:
            await self._run(queries.scrub)
        return count

    async def purge(self, retention_days: int) -> int:
        """Delete reports older than ``retention_days`` (with numbers and feedback), and
        the number counts of the days before; returns the number of reports removed."""
        check_days(retention_days)
        cutoff = self._clock() - retention_days * DAY
        removed = await self._run(queries.purge, cutoff, utc_day(cutoff))
        if removed:
            await self._run(queries.scrub)
        return removed

    async def integrity_ok(self) -> bool:
        return await self._run(queries.integrity_ok)


# -- run on the database thread ---------------------------------------------------------


def _connect(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """A configured, migrated connection (isolation_level=None: this code issues BEGIN/COMMIT)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        configure(conn, busy_timeout_ms)
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _open(thread: DatabaseThread, path: str, busy_timeout_ms: int, secret: bytes | None,
          key_file: Path | None) -> tuple[ReporterKeys, relocate.FileState | None]:
    conn = _connect(path, busy_timeout_ms)
    try:
        keys, choice = _load_keys(conn, secret, key_file)
        file = None
        if path != ":memory:" and not path.startswith("file:"):
            from_file = key_file if key_file is not None and choice.source == str(key_file) else None
            file = relocate.FileState.of(conn, Path(path), busy_timeout_ms, _connect, from_file, choice.secret)
    except BaseException:
        conn.close()
        raise
    thread.conn = conn
    return keys, file


def _open_readonly(thread: DatabaseThread, path: str, busy_timeout_ms: int) -> None:
    conn = sqlite3.connect("file:" + quote(path) + "?mode=ro", uri=True, isolation_level=None,
                           timeout=busy_timeout_ms / 1000)
    try:
        configure(conn, busy_timeout_ms, writable=False)
        version = schema_version(conn)
        if version != len(MIGRATIONS):
            raise RuntimeError(
                f"database schema version {version}, this code reads version {len(MIGRATIONS)}"
                + (" (not a CallGuard database, or never opened by the bot)" if version == 0 else "")
            )
        if conn.execute("SELECT 1 FROM meta WHERE key = ?", (_SECRET_KEY,)).fetchone():
            log.warning("%s still holds the reporter key: start the bot once to move it to a key file", path)
    except BaseException:
        conn.close()
        raise
    thread.conn = conn


def _load_keys(conn: sqlite3.Connection, secret: bytes | None,
               key_file: Path | None) -> tuple[ReporterKeys, SecretChoice]:
    """The reporter keys, with a key found in ``meta`` moved out (see ``keys.choose_secret``).

    A short fingerprint of the secret in use is stored too, so switching
    secrets (which orphans existing reporter keys: /forget would no longer
    find them) is logged instead of happening silently.
    """
    with queries._write(conn):
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_SECRET_KEY,)).fetchone()
        choice = choose_secret(secret, key_file, None if row is None else bytes(row[0]))
        if choice.drop_stored:
            conn.execute("DELETE FROM meta WHERE key = ?", (_SECRET_KEY,))
        keys = ReporterKeys(choice.secret)
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (_SECRET_CHECK_KEY,)).fetchone()
        if row is not None and row[0] != keys.fingerprint:
            log.warning("reporter secret changed since the last run: reports stored before "
                        "cannot be found by /forget any more")
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_SECRET_CHECK_KEY, keys.fingerprint))
    if choice.drop_stored:
        queries.scrub(conn)  # the deleted key must not stay readable in the WAL
        log.warning("the reporter key is no longer stored in the database (kept in %s)", choice.source)
    return keys, choice
