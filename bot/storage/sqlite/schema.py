"""The SQLite schema, its migrations, and the per-connection settings.

Each entry of :data:`MIGRATIONS` is one step: statements run in a single
transaction together with the bump of ``PRAGMA user_version``. Step N (1-based)
brings the schema to version N. To change the schema, append a step; never edit
a step that has shipped.

Durability: WAL with ``synchronous=NORMAL``. In WAL mode a commit has been
written to the WAL file (handed to the OS) before ``COMMIT`` returns, so an
acknowledged report survives a crash or kill of *this process*. What NORMAL
gives up compared with FULL is the fsync at every commit: after a power loss
or kernel crash the last few commits may be rolled back (the database is never
corrupted). For a chat bot that is the right trade: FULL would put an fsync
on every user message for protection against a much rarer event.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

__all__ = ["MIGRATIONS", "SYNCHRONOUS", "configure", "migrate", "schema_version"]

SYNCHRONOUS = "NORMAL"  # see the module docstring for why not FULL

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
    (
        # Who reported a number, not how often: one person reporting a number ten
        # times counts once, and the asking user is left out of "reported by N".
        # number_reporters has one row per number and reporter, with the latest UTC
        # day they reported it; number_days counts, per number and day, the
        # reporters whose latest day that is. So the people of a window are a sum
        # over at most its days (as cheap as the old per-day tally, whatever the
        # number of reporters), minus the asking user if their latest day is in it.
        # ``reporter`` is the reports.reporter key ('report:<id>' for a report
        # without one); /forget replaces a user's key by a random token, so the
        # counts stay but no longer lead to the user. Days older than the retention
        # period are purged with the reports.
        """CREATE TABLE number_reporters (
            number   TEXT NOT NULL,
            reporter TEXT NOT NULL,
            last_day TEXT NOT NULL,          -- 'YYYY-MM-DD', UTC
            PRIMARY KEY (number, reporter)
        ) WITHOUT ROWID""",
        "CREATE INDEX number_reporters_reporter ON number_reporters (reporter)",
        """CREATE TABLE number_days (
            number    TEXT    NOT NULL,
            day       TEXT    NOT NULL,      -- 'YYYY-MM-DD', UTC
            reporters INTEGER NOT NULL,      -- reporters whose latest report of the number was this day
            PRIMARY KEY (number, day)
        ) WITHOUT ROWID""",
        # The old tally counted reports without saying whose; only reports still
        # stored can be attributed, so counts of purged or forgotten reports go.
        """INSERT INTO number_reporters (number, reporter, last_day)
           SELECT n.number, COALESCE(r.reporter, 'report:' || r.id), MAX(date(r.created_at, 'unixepoch'))
           FROM report_numbers n JOIN reports r ON r.id = n.report_id GROUP BY 1, 2""",
        """INSERT INTO number_days (number, day, reporters)
           SELECT number, last_day, COUNT(*) FROM number_reporters GROUP BY 1, 2""",
        "DROP TABLE number_tally",
    ),
    # 3: reports whose text was read from a picture (a screenshot, OCR) say so.
    ("ALTER TABLE reports ADD COLUMN from_image INTEGER NOT NULL DEFAULT 0 CHECK (from_image IN (0, 1))",),
    # 4: what a user chose with /lang and /region, so a restart does not forget it. Keyed by
    # the reporter pseudonym like everything else; deleted by /forget.
    (
        """CREATE TABLE preferences (
            reporter   TEXT PRIMARY KEY,     -- HMAC of the user id (keys.ReporterKeys.reporter)
            lang       TEXT,                 -- NULL: not chosen
            region     TEXT,                 -- NULL: not chosen
            updated_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 5: a report worded as a warning about a scam ("PSA: beware of ...") names the rule of the
    # scam it warns of and that rule's category (Report.warns_of), for /stats. Older rows: NULL.
    (
        "ALTER TABLE reports ADD COLUMN warns_of TEXT",
        "ALTER TABLE reports ADD COLUMN warns_of_category TEXT",
    ),
]


def configure(conn: sqlite3.Connection, busy_timeout_ms: int, *, writable: bool = True) -> None:
    """The settings every connection needs, before anything else runs on it."""
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    if not writable:
        return
    _enable_wal(conn, busy_timeout_ms / 1000)
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")


def _enable_wal(conn: sqlite3.Connection, timeout_s: float) -> None:
    """Switch the file to WAL mode, waiting up to ``timeout_s`` for other connections.

    Switching needs an exclusive lock, and when two connections race for it (two
    processes opening a new file together: two bots, or a bot and ``callguard
    stats``) SQLite refuses one at once, without its busy handler, to avoid a
    deadlock. So the switch is retried here, like a busy write."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def schema_version(conn: sqlite3.Connection) -> int:
    (version,), = conn.execute("PRAGMA user_version").fetchall()
    return version


def migrate(conn: sqlite3.Connection) -> None:
    """Run every migration step newer than PRAGMA user_version, each in its own transaction."""
    for version, statements in enumerate(MIGRATIONS, start=1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated.
            current = schema_version(conn)
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"database schema version {current} is newer than this code ({len(MIGRATIONS)})"
                )
            if current < version:
                for sql in statements:
                    conn.execute(sql)
                conn.execute(f"PRAGMA user_version = {version}")
            conn.commit()
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
            raise
