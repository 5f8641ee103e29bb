"""What the application needs from a storage backend, whatever database it uses.

The writer (``writer.py``), the service and the admin tools use only what is
declared here. SQLite (``sqlite/``) is the first backend; a PostgreSQL one (for
several bot replicas sharing one database) would be one more module providing
the same methods, opened by the composition root instead of ``SQLiteStore.open``.

What every backend must guarantee, because the callers rely on it:

* **Errors.** A failure of the storage itself (disk full, read-only, locked or
  unreachable past its timeout, the file gone) is raised as :class:`StorageError`;
  the writer then keeps the report in memory and retries later. Any other
  exception is a bug and is never retried.
* **Commit before return.** When ``add_report`` returns an id, the report is
  durable (survives a kill of this process); the bot shows that id on buttons.
* **Reporters.** Users are never stored raw: a backend stores
  ``keys.reporter(user_id)`` (:class:`~callguard.storage.keys.ReporterKeys`) and
  finds "this user's rows" by it. Replicas sharing a database must share the
  key (``CALLGUARD_SECRET`` or one key file), or /forget misses rows.
* **Number counts** are distinct reporters per number and UTC day window, the
  asking user excluded; they outlive /forget (anonymised) but not the retention
  period.
"""

from __future__ import annotations

from typing import Iterable, Protocol, runtime_checkable

from .keys import ReporterKeys
from .models import Preferences, Report, Stats

__all__ = ["ReportStore", "StorageError"]


class StorageError(Exception):
    """The storage cannot do this now; the same call may succeed later.

    The backend's own exception is kept as ``__cause__`` (and its text as this
    one's), so logs still say what happened ("database or disk is full")."""


@runtime_checkable
class ReportStore(Protocol):
    """One open connection to the report storage (what ``ReportWriter`` and ``CallGuard`` use)."""

    keys: ReporterKeys

    async def add_report(self, report: Report, user_id: int | None) -> int:
        """Store a report (committed before returning); returns its id."""

    async def add_report_and_count(
        self, report: Report, user_id: int | None, *, days: int | None = None
    ) -> tuple[int, dict[str, int]]:
        """:meth:`add_report`, plus ``number_counts(report.numbers, days=days,
        exclude_user=user_id)`` as it stood just before, in one transaction (``{}``
        when ``days`` is None)."""

    async def number_counts(
        self, numbers: Iterable[str], *, days: int = 30, exclude_user: int | None = None
    ) -> dict[str, int]:
        """For each number, how many distinct people reported it in the last ``days``
        UTC days (today included), not counting ``exclude_user``; 0 when nobody did."""

    async def get_report(self, report_id: int) -> Report | None: ...

    async def set_feedback(self, report_id: int, user_id: int, value: str, comment: str | None = None) -> bool:
        """Record "helpful"/"wrong" (one row per report and user); False if the report is gone."""

    async def set_money_sent(self, report_id: int, sent: bool = True) -> None: ...

    async def get_preferences(self, user_id: int) -> Preferences:
        """The user's /lang and /region choice (``Preferences()`` when none)."""

    async def set_preferences(self, user_id: int, prefs: Preferences) -> None:
        """Store the fields of ``prefs`` that are not None (committed before returning);
        the others keep their stored value. Raises ValueError for an invalid value."""

    async def stats(self, days: int) -> Stats:
        """Aggregates over the last ``days`` * 24 h (numbers: the last ``days`` UTC days), made
        by ``Stats.from_counts`` from the backend's raw counts (warnings by the category of the
        scam they warn of included: ``Report.warns_of_category``)."""

    async def daily_counts(self, days: int) -> list[tuple[str, str, int]]:
        """``(UTC day, category, reports)`` for the last ``days`` days, oldest first; a report
        worded as a warning about a scam (``Report.warns_of``) counts under ``WARNINGS``."""

    async def export_rows(self, since: float) -> list[dict]:
        """Reports created at or after ``since``, one dict per report with the keys of
        ``export.EXPORT_COLUMNS`` (full numbers; ``export`` masks them). Never the reporter."""

    async def count_user_records(self, user_id: int) -> int:
        """How many records :meth:`forget` would delete."""

    async def forget(self, user_id: int) -> int:
        """Delete the user's reports, preferences and feedback (and feedback on their reports); their
        number counts stay, no longer linked to them. Returns the records deleted."""

    async def purge(self, retention_days: int) -> int:
        """Delete reports, and number counts, older than ``retention_days``; returns the
        reports deleted."""

    async def check(self) -> None:
        """Confirm that this store still writes where it should, repairing what it can.

        Called periodically. Raises :class:`StorageError` when it cannot write
        there now (the writer then queues reports and calls again later)."""

    async def close(self) -> None: ...
