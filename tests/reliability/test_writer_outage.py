"""ReportWriter during a slow outage: users never wait in line for a failing database.

The end-to-end version (a real lock held by another process) is
test_storage_faults.py::test_database_locked_by_another_process_nobody_waits_in_line;
these pin the writer's rules down with a store whose every call takes a set time.
"""

from __future__ import annotations

import asyncio
import time

from callguard.storage import Report, ReportWriter, StorageError


def report(text: str) -> Report:
    return Report(text=text, lang="en", numbers=(), scam=True, risk="high", category="c", rule="r", score=90,
                  ruleset_version="v", chat_type="private")


class SlowStore:
    """While ``failing``, each add_report takes ``delay`` seconds, then fails (a lock past busy_timeout)."""

    keys = None

    def __init__(self, delay: float):
        self.delay = delay
        self.failing = True
        self.written: list[str] = []
        self.calls = 0

    async def add_report(self, r: Report, user_id):
        self.calls += 1
        if self.failing:
            await asyncio.sleep(self.delay)
            raise StorageError("OperationalError: database is locked")
        await asyncio.sleep(0)
        self.written.append(r.text)
        return len(self.written)

    async def check(self):
        pass

    async def close(self):
        pass


async def test_after_a_slow_failure_submits_queue_at_once_and_retry_in_the_background():
    slow = SlowStore(delay=0.3)

    async def opener():
        return slow

    writer = ReportWriter(opener, retry_every=0.5, slow_failure=0.2)
    started = time.perf_counter()
    assert await writer.submit(report("first"), 1) is None  # detects the outage: waits once
    assert time.perf_counter() - started >= 0.3

    started = time.perf_counter()
    results = await asyncio.gather(*(writer.submit(report(f"r{i}"), i) for i in range(20)))
    assert results == [None] * 20
    assert time.perf_counter() - started < 0.25  # nobody waited for the database (a wait takes 0.3 s)
    assert writer.pending == 21 and slow.calls == 1

    slow.failing = False
    await asyncio.sleep(0.6)  # past retry_every: the next submit starts a retry, but does not wait for it
    started = time.perf_counter()
    assert await writer.submit(report("late"), 99) is None
    assert time.perf_counter() - started < 0.25  # the retry's 0.3 s is not waited for
    for _ in range(100):
        if writer.pending == 0:
            break
        await asyncio.sleep(0.1)
    assert slow.written == ["first", *(f"r{i}" for i in range(20)), "late"]  # in order, none lost
    assert await writer.submit(report("direct"), 1) == 23  # healthy again: stored before the reply
    await writer.close()


async def test_reports_queued_during_a_flush_are_neither_lost_nor_doubled():
    """A full queue receiving a report while the flush is writing its oldest one."""
    slow = SlowStore(delay=0.0)

    async def opener():
        return slow

    writer = ReportWriter(opener, max_pending=3, retry_every=60, slow_failure=10)
    for i in range(3):
        assert await writer.submit(report(f"q{i}"), 1) is None
    assert writer.pending == 3
    slow.failing = False
    gate = asyncio.Event()
    add = slow.add_report

    async def held_add_report(r, user_id):
        if r.text == "q0":
            await gate.wait()
        return await add(r, user_id)

    slow.add_report = held_add_report
    flush = asyncio.create_task(writer.flush())
    await asyncio.sleep(0.05)  # the flush is writing q0 now
    assert writer.pending == 3  # q0 (being written), q1, q2
    assert await writer.submit(report("new"), 2) is None  # lock busy: queued without waiting
    assert writer.pending == 4
    gate.set()
    assert await flush == 4
    assert slow.written == ["q0", "q1", "q2", "new"] and writer.dropped == 0
    await writer.close()


async def test_close_waits_for_a_running_retry_and_starts_no_new_one():
    slow = SlowStore(delay=0.3)

    async def opener():
        return slow

    writer = ReportWriter(opener, retry_every=0.0, slow_failure=0.2)
    await writer.submit(report("first"), 1)
    await writer.submit(report("second"), 1)  # starts a background retry (0.3 s per attempt)
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await writer.close()
    assert time.perf_counter() - started < 2.0
    assert writer.store is None
    calls = slow.calls
    await asyncio.sleep(0.4)
    assert slow.calls == calls  # nothing retried after close
