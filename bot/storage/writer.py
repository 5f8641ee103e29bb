"""The write policy: a storage failure never reaches the user, and loses no report it can keep.

Works with any backend (:class:`~callguard.storage.backend.ReportStore`);
only :class:`~callguard.storage.backend.StorageError` is treated as an outage.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

from .backend import ReportStore, StorageError
from .keys import ReporterKeys
from .models import Report

__all__ = ["ReportWriter", "StoreOpener"]

log = logging.getLogger(__name__)


StoreOpener = Callable[[], Awaitable[ReportStore]]


class ReportWriter:
    """Stores reports without ever letting a storage failure reach the user.

    Detection must answer even when the disk is full or the database is
    locked, and an acknowledged report should not be lost on a transient
    failure.  So :meth:`submit` keeps reports it could not write in a bounded
    in-memory queue, in order, and writes them before anything newer once
    storage works again.  Only storage errors (:class:`StorageError`) are
    absorbed; invalid reports and bugs still raise.

    Limits: the queue lives in memory, so reports still pending when the
    process dies are lost; when more than ``max_pending`` are waiting, the
    oldest are dropped and counted in :attr:`dropped`.

    Accepts an open store or an async callable returning one (e.g.
    ``functools.partial(SQLiteStore.open, path)``); with a callable, a database
    that cannot be opened at start-up is retried on each submit/flush instead
    of stopping the bot. :meth:`check` is the periodic job: it lets the store
    confirm it still writes where it should (a deleted database file is an
    outage like a full disk), then writes what is queued.

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
        store_opener_or_store: ReportStore | StoreOpener,
        *,
        max_pending: int = 10_000,
        log_every: float = 60.0,
        retry_every: float = 5.0,
        slow_failure: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be >= 1")
        if callable(store_opener_or_store):
            self._store: ReportStore | None = None
            self._opener: StoreOpener | None = store_opener_or_store
        else:
            self._store = store_opener_or_store
            self._opener = None
        self._keys: ReporterKeys | None = getattr(self._store, "keys", None)
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
    def store(self) -> ReportStore | None:
        """The open store, or None while it could not be opened yet."""
        return self._store

    @property
    def keys(self) -> ReporterKeys | None:
        """The reporter keys of the store, once it was opened (they never change)."""
        return self._keys

    async def connect(self) -> bool:
        """Open the store now if it is not open yet; False (logged) if it cannot be."""
        async with self._lock:
            try:
                await self._get_store()
            except StorageError as exc:
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
        """:meth:`submit`, plus the number counts of ``ReportStore.add_report_and_count``
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
            except StorageError as exc:
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
        """``ReportStore.count_user_records`` plus this user's reports still queued."""
        async with self._lock:
            queued = sum(1 for _, uid in self._pending if uid == user_id)
            return queued + await (await self._get_store()).count_user_records(user_id)

    async def forget(self, user_id: int) -> int:
        """``ReportStore.forget``, also dropping the user's queued reports.

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

        Stops at the first storage error (the rest stay queued).
        """
        async with self._lock:
            return await self._flush_locked()

    async def check(self) -> int:
        """The periodic job: open the store if it is not open, let it check that it still
        writes where it should, then write the queue; returns how many were written.

        Never raises storage errors: a failing check is an outage, logged like one,
        and the queue waits for the next check."""
        async with self._lock:
            return await self._check_locked()

    async def _check_locked(self) -> int:
        started = self._clock()
        try:
            store = await self._get_store()
            await store.check()
        except StorageError as exc:
            self._failed(exc, started)
            return 0
        if self._pending:
            return await self._flush_locked()
        self._recovered(0)
        return 0

    async def close(self) -> None:
        """Flush what can be flushed, then close the store.  Never raises storage errors."""
        self._closed = True  # no new background retry from now on
        if self._retry_task is not None:
            await self._retry_task  # one attempt: ends at the first failure (never raises)
        async with self._lock:
            await self._check_locked()  # a deleted database file is put back before the last writes
            if self._pending:
                log.error(
                    "shutting down with %d report(s) that could not be stored; they are lost",
                    len(self._pending),
                )
            if self._store is not None:
                try:
                    await self._store.close()
                except StorageError as exc:
                    log.error("closing the store failed: %s", exc)
                self._store = None

    # -- internals -----------------------------------------------------------

    async def _get_store(self) -> ReportStore:
        if self._store is None:
            assert self._opener is not None
            self._store = await self._opener()
            self._keys = self._store.keys
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
        except StorageError as exc:  # anything else (e.g. schema too new) raises: not the reports' fault
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
            except StorageError as exc:
                self._writing = 0
                self._requeue(report, user_id)
                self._failed(exc, started)
                return written
            except Exception:
                # Retrying cannot fix this one; do not block the rest behind it.
                self._writing = 0
                self._dropped += 1
                log.exception("dropping a queued report that cannot be stored")
                continue
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
            "report storage failing (%s); %d pending, %d dropped, %d similar failures not logged",
            exc, len(self._pending), self._dropped, self._suppressed,
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
