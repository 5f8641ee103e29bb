"""Tests for ReportWriter: reports wait in memory while storage fails, in order, bounded."""

from __future__ import annotations

import functools
import logging
import stat

import pytest

from callguard.storage import Report, ReportWriter, StorageError
from tests.storage_support import (  # noqa: F401  (fixtures)
    A, B, Clock, clock, db_path, locked_db, make_report, open_store, raw, store,
)


async def test_writer_submit_and_count(locked_db):
    s, lock = locked_db
    writer = ReportWriter(s)
    assert await writer.submit_and_count(make_report(numbers=(A,)), 1, days=30) == (1, {A: 0})
    assert await writer.submit_and_count(make_report(numbers=(A, B)), 2, days=30) == (2, {A: 1, B: 0})
    assert await writer.submit_and_count(make_report(numbers=(A,)), 3) == (3, {})
    lock.hold()
    assert await writer.submit_and_count(make_report(numbers=(A,)), 4, days=30) == (None, {})  # queued
    lock.release()
    assert await writer.flush() == 1
    assert await s.number_counts([A]) == {A: 4}


# --------------------------------------------------------------------------
# ReportWriter


class FlakyStore:
    """Stands in for a ReportStore: raises the queued exceptions first, then records writes."""

    keys = None

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.written: list[str] = []
        self.closed = False

    async def add_report(self, report: Report, user_id: int | None) -> int:
        if self.errors:
            raise self.errors.pop(0)
        self.written.append(report.text)
        return len(self.written)

    async def check(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


async def test_writer_never_lets_a_new_report_overtake_the_queue():
    flaky = FlakyStore()

    async def opener():
        return flaky

    writer = ReportWriter(opener)
    flaky.errors = [StorageError("disk I/O error")]
    assert await writer.submit(make_report(text="r1"), 1) is None
    # The flush of r1 fails again; r2 could be written now but must wait behind r1.
    flaky.errors = [StorageError("disk I/O error")]
    assert await writer.submit(make_report(text="r2"), 1) is None
    assert flaky.written == [] and writer.pending == 2
    assert await writer.submit(make_report(text="r3"), 1) == 3
    assert flaky.written == ["r1", "r2", "r3"]
    await writer.close()
    assert flaky.closed and writer.store is None


async def test_writer_drops_a_queued_report_that_can_never_be_stored(caplog):
    flaky = FlakyStore()

    async def opener():
        return flaky

    writer = ReportWriter(opener)
    flaky.errors = [StorageError("database is locked")] * 2
    assert await writer.submit(make_report(text="poison"), 1) is None
    assert await writer.submit(make_report(text="fine"), 1) is None
    assert writer.pending == 2
    flaky.errors = [ValueError("CHECK constraint failed")]
    assert await writer.flush() == 1  # the poison item does not block the rest
    assert flaky.written == ["fine"]
    assert (writer.pending, writer.dropped) == (0, 1)
    assert any("cannot be stored" in r.getMessage() for r in caplog.records)


async def test_writer_connect(open_store, tmp_path, clock, caplog):
    path = tmp_path / "later" / "callguard.db"
    writer = ReportWriter(functools.partial(open_store, path, clock=clock))
    assert await writer.connect() is False and writer.store is None
    assert await writer.flush() == 0
    assert not [r for r in caplog.records if "recovered" in r.getMessage()]  # nothing recovered yet
    path.parent.mkdir()
    assert await writer.connect() is True and writer.store is not None
    assert len([r for r in caplog.records if "recovered" in r.getMessage()]) == 1
    assert await writer.connect() is True
    await writer.close()


async def test_writer_keeps_queue_when_opener_fails_for_a_non_storage_reason():
    calls = 0

    async def opener():
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StorageError("unable to open database file")
        raise RuntimeError("database schema version 9 is newer than this code")

    writer = ReportWriter(opener)
    assert await writer.submit(make_report(), 1) is None
    with pytest.raises(RuntimeError):
        await writer.flush()
    assert (writer.pending, writer.dropped) == (1, 0)


async def test_writer_forget_includes_queued_reports(locked_db):
    s, lock = locked_db
    writer = ReportWriter(s)
    await writer.submit(make_report(text="alice stored"), 1)
    await writer.submit(make_report(text="bob stored"), 2)
    lock.hold()
    await writer.submit(make_report(text="alice queued"), 1)
    await writer.submit(make_report(text="bob queued"), 2)
    await writer.submit(make_report(text="alice queued again"), 1)
    lock.release()
    assert writer.pending == 3
    assert await writer.count_user_records(1) == 3
    assert await writer.forget(1) == 3
    assert writer.pending == 1
    assert await writer.flush() == 1
    assert [r["text"] for r in await s.export_rows(0)] == ["bob stored", "bob queued"]
    assert await writer.count_user_records(1) == 0





async def test_writer_queues_while_locked_and_flushes_in_order(locked_db):
    s, lock = locked_db
    writer = ReportWriter(s)
    first = await writer.submit(make_report(text="before"), 1)
    assert first is not None

    lock.hold()
    for i in range(5):
        assert await writer.submit(make_report(text=f"queued {i}"), 1) is None
    assert writer.pending == 5 and writer.dropped == 0
    assert await writer.flush() == 0  # still locked: nothing lost, nothing raised
    assert writer.pending == 5

    lock.release()
    assert await writer.flush() == 5
    assert writer.pending == 0
    texts = [r["text"] for r in await s.export_rows(0)]
    assert texts == ["before"] + [f"queued {i}" for i in range(5)]


async def test_writer_submit_flushes_pending_first(locked_db):
    s, lock = locked_db
    writer = ReportWriter(s)
    lock.hold()
    assert await writer.submit(make_report(text="one"), 1) is None
    assert await writer.submit(make_report(text="two"), 1) is None
    lock.release()
    rid = await writer.submit(make_report(text="three"), 1)
    assert rid is not None and writer.pending == 0
    rows = await s.export_rows(0)
    assert [r["text"] for r in rows] == ["one", "two", "three"]
    assert rows[-1]["id"] == rid


async def test_writer_logs_once_per_interval(locked_db, caplog):
    s, lock = locked_db
    mono = Clock(1000.0)
    writer = ReportWriter(s, log_every=60.0, clock=mono)
    caplog.set_level(logging.WARNING, logger="callguard.storage.writer")

    def failures():
        return [r for r in caplog.records if "storage failing" in r.getMessage()]

    lock.hold()
    for _ in range(4):
        await writer.submit(make_report(), 1)
        mono.now += 10
    assert len(failures()) == 1
    mono.now += 30  # 70 s after the first log
    await writer.submit(make_report(), 1)
    await writer.flush()
    assert len(failures()) == 2
    assert "similar failures not logged" in failures()[1].getMessage()
    assert failures()[1].levelno == logging.WARNING

    def recoveries():
        return [r for r in caplog.records if "recovered" in r.getMessage()]

    lock.release()
    assert await writer.flush() == 5
    assert len(recoveries()) == 1

    # A short outage inside the same interval: neither its failure nor its
    # end is logged, so a flapping database cannot flood the log.
    mono.now += 1
    lock.hold()
    assert await writer.submit(make_report(), 1) is None
    lock.release()
    assert await writer.flush() == 1
    assert (len(failures()), len(recoveries())) == (2, 1)


async def test_writer_bounded_queue_drops_oldest(locked_db):
    s, lock = locked_db
    writer = ReportWriter(s, max_pending=3)
    lock.hold()
    for i in range(5):
        assert await writer.submit(make_report(text=f"r{i}"), 1) is None
    assert writer.pending == 3
    assert writer.dropped == 2
    lock.release()
    assert await writer.flush() == 3
    assert [r["text"] for r in await s.export_rows(0)] == ["r2", "r3", "r4"]


async def test_writer_with_opener_survives_missing_directory(open_store, tmp_path, clock):
    """A database that cannot even be opened at start-up (real OperationalError, also as root)."""
    path = tmp_path / "not-yet" / "callguard.db"
    writer = ReportWriter(functools.partial(open_store, path, clock=clock))
    assert await writer.submit(make_report(text="early"), 1) is None
    assert writer.store is None and writer.pending == 1

    path.parent.mkdir()
    assert await writer.submit(make_report(text="later"), 1) is not None
    assert writer.pending == 0
    assert [r["text"] for r in await writer.store.export_rows(0)] == ["early", "later"]
    await writer.close()
    assert writer.store is None


def permissions_enforced(tmp_path) -> bool:
    """False when we run as root (CAP_DAC_OVERRIDE): chmod 0444 would not stop writes."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(stat.S_IRUSR)
    try:
        with open(probe, "a"):
            return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o644)
        probe.unlink()


async def test_writer_queues_on_read_only_file(open_store, tmp_path, clock):
    if not permissions_enforced(tmp_path):
        pytest.skip("running as root: file modes do not block writes (the lock-based tests cover this)")
    path = tmp_path / "ro" / "callguard.db"
    path.parent.mkdir()
    s = await open_store(path, clock=clock)
    await s.add_report(make_report(text="before"), 1)
    await s.close()
    for p in (path, path.parent):
        p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR if p.is_dir() else 0))
    try:
        writer = ReportWriter(functools.partial(open_store, path, clock=clock))
        assert await writer.submit(make_report(text="while read-only"), 1) is None
        assert writer.pending == 1
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert await writer.flush() == 1
    assert [r["text"] for r in await writer.store.export_rows(0)] == ["before", "while read-only"]
    await writer.close()


async def test_writer_raises_for_invalid_reports(store):
    writer = ReportWriter(store)
    with pytest.raises(ValueError):
        await writer.submit(make_report(risk="catastrophic"), 1)
    assert writer.pending == 0


async def test_writer_close_flushes_then_closes(locked_db, db_path, caplog):
    s, lock = locked_db
    writer = ReportWriter(s)
    lock.hold()
    await writer.submit(make_report(text="late"), 1)
    lock.release()
    await writer.close()
    assert writer.pending == 0
    with raw(db_path) as conn:
        assert conn.execute("SELECT text FROM reports").fetchall() == [("late",)]
    with pytest.raises(ValueError):  # the store is closed
        await s.stats(1)


