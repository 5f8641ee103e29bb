"""Storage faults under the real bot: a full disk, a read-only mount, a database
locked by another process.

Each fault is a real file-system condition (a tiny tmpfs filled up, a tmpfs
remounted read-only, a second process holding ``BEGIN EXCLUSIVE``), never a
mock. In each case: every user still gets the verdict at once, the failure is
logged once (not per message), the reports wait in the bounded in-memory
queue, nothing reaches the error handler, and once the condition is lifted
the periodic flush job writes every queued report, in order.
"""

from __future__ import annotations

import logging
import sqlite3
import time

import pytest

from callguard import replies
from callguard.storage import SQLiteStore
from tests.reliability.support import (
    SCAM_EN,
    SCAM_HANS,
    ExternalLock,
    fill_disk,
    live_bot,
    remount,
    reply_to,
    report_id_of,
    tmpfs,
)

FAILING = "report storage failing"
RECOVERED = "report storage recovered"


def stored_texts(db) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [t for (t,) in con.execute("SELECT text FROM reports ORDER BY id")]
    finally:
        con.close()


def assert_stored(db, first: list[str], middle: list[str], last: list[str]) -> None:
    """Stored exactly these reports: ``first`` and ``last`` in that order around ``middle``,
    whose order may vary (different users are processed concurrently)."""
    texts = stored_texts(db)
    n, m = len(first), len(middle)
    assert texts[:n] == first and texts[n + m:] == last, texts
    assert sorted(texts[n:n + m]) == sorted(middle), texts


def log_lines(caplog, needle: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if needle in r.getMessage()]


async def ask_all(live, texts: dict[int, str], timeout: float = 10.0) -> dict[int, dict]:
    """Send each user's text at once; return each user's reply (they must all come)."""
    since = live.api.mark()
    for uid, text in texts.items():
        live.api.push_message(text, user_id=uid, language_code="zh-hans")
    return {uid: (await reply_to(live.api, uid, since, timeout=timeout)).params for uid in texts}


def assert_verdicts(sent: dict[int, dict]) -> None:
    heading = replies.ui("risk.high", "zh-Hans")
    for uid, params in sent.items():
        assert params["text"].startswith(f"<b>{heading}</b>"), (uid, params["text"][:80])


@pytest.fixture
def mnt(tmp_path):
    with tmpfs(tmp_path / "mnt", size="1m") as path:
        yield path


async def test_disk_full_verdicts_still_sent_reports_queued_then_written(settings, mnt, caplog):
    caplog.set_level(logging.INFO, logger="callguard")
    db = mnt / "callguard.db"
    async with live_bot(settings, db_path=db) as live:
        before = await ask_all(live, {1: SCAM_HANS + " #before"})
        assert report_id_of(before[1]) > 0  # healthy: stored, id on the buttons

        filler = fill_disk(mnt)
        texts = {100 + i: f"{SCAM_HANS} #full-{i}" for i in range(8)}
        sent = await ask_all(live, texts)
        assert_verdicts(sent)
        assert all(report_id_of(p) == 0 for p in sent.values())  # not stored yet: no id promised
        assert live.guard.writer.pending == len(texts) and live.guard.writer.dropped == 0
        failing = log_lines(caplog, FAILING)
        assert len(failing) == 1, failing  # once, not once per message
        assert "full" in failing[0]  # "database or disk is full"

        await live.flush_job()  # still full: nothing lost, nothing raised
        assert live.guard.writer.pending == len(texts)

        filler.unlink()
        await live.flush_job()
        assert live.guard.writer.pending == 0
        assert len(log_lines(caplog, RECOVERED)) == 1
        assert len(log_lines(caplog, FAILING)) == 1

        after = await ask_all(live, {2: SCAM_HANS + " #after"})
        assert report_id_of(after[2]) > 0
        assert live.errors.errors == []
    assert_stored(db, [SCAM_HANS + " #before"], list(texts.values()), [SCAM_HANS + " #after"])
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_read_only_mount_verdicts_still_sent_reports_written_after_remount_rw(settings, mnt, caplog):
    """The database sits on a tmpfs remounted read-only.

    Linux refuses ``mount -o remount,ro`` while a process holds a file on it
    open for writing (EBUSY), and SQLite keeps its files open read-write, so a
    mount cannot turn read-only under the running bot; it happens between runs
    (an operator, or the kernel after I/O errors). The bot then starts on a
    read-only database: it must answer, queue, and write once the mount is
    read-write again, without a restart."""
    caplog.set_level(logging.INFO, logger="callguard")
    db = mnt / "callguard.db"
    store = await SQLiteStore.open(db, secret=settings.secret)
    await store.close()
    remount(mnt, "ro")
    with pytest.raises(OSError):  # root included: the mount, not file modes, refuses
        (mnt / "probe").write_text("x")

    async with live_bot(settings, db_path=db) as live:
        assert live.guard.writer.store is None  # could not be opened for writing
        texts = {200 + i: f"{SCAM_HANS} #ro-{i}" for i in range(6)}
        sent = await ask_all(live, texts)
        assert_verdicts(sent)
        assert live.guard.writer.pending == len(texts)
        assert len(log_lines(caplog, FAILING)) == 1

        remount(mnt, "rw")
        await live.flush_job()
        assert live.guard.writer.pending == 0 and live.guard.writer.store is not None
        assert len(log_lines(caplog, RECOVERED)) == 1
        after = await ask_all(live, {3: SCAM_EN})
        assert report_id_of(after[3]) > 0
        assert live.errors.errors == []
    assert_stored(db, [], list(texts.values()), [SCAM_EN])


async def test_database_locked_by_another_process_nobody_waits_in_line(settings, caplog):
    """Another process holds the write lock far longer than busy_timeout.

    The first message detects the outage (it waits busy_timeout once); every
    later user is answered at once instead of each waiting a full busy_timeout
    behind the previous one (before the fix the n-th user waited n x 5 s)."""
    caplog.set_level(logging.INFO, logger="callguard")
    busy_ms = 1500
    db = settings.db_path
    async with live_bot(settings, busy_timeout_ms=busy_ms) as live:
        await ask_all(live, {1: SCAM_HANS + " #before"})
        async with ExternalLock(db) as lock:
            started = time.perf_counter()
            first = await ask_all(live, {300: SCAM_HANS + " #locked-first"})
            assert time.perf_counter() - started >= busy_ms / 1000 * 0.9  # it did wait busy_timeout
            assert_verdicts(first)

            texts = {301 + i: f"{SCAM_HANS} #locked-{i}" for i in range(10)}
            started = time.perf_counter()
            sent = await ask_all(live, texts)
            elapsed = time.perf_counter() - started
            assert_verdicts(sent)
            # Ten users answered well within ONE busy_timeout (a queue of waits would take 10 x 1.5 s).
            assert elapsed < busy_ms / 1000, elapsed
            assert live.guard.writer.pending == 1 + len(texts)
            assert len(log_lines(caplog, FAILING)) == 1

            # /forget while the user's report is still queued: the count includes it, and
            # confirming must drop it from the queue too (it must not come back later).
            since = live.api.mark()
            live.api.push_command("/forget", user_id=301, language_code="zh-hans")
            prompt = await reply_to(live.api, 301, since)
            assert prompt.params["text"] == replies.ui("forget.confirm", "zh-Hans", count=1)
            await lock.release()

        since = live.api.mark()
        live.api.push_callback("x:y", user_id=301, message=prompt, language_code="zh-hans")
        edit = await live.api.wait_for("editMessageText", lambda c: c.params.get("chat_id") == 301, since=since)
        assert edit.params["text"] == replies.ui("forget.done", "zh-Hans", count=1)

        await live.flush_job()
        assert live.guard.writer.pending == 0
        assert len(log_lines(caplog, RECOVERED)) == 1
        assert live.errors.errors == []
    assert_stored(db, [SCAM_HANS + " #before", SCAM_HANS + " #locked-first"],
                  [t for uid, t in texts.items() if uid != 301], [])


async def test_flood_while_storage_is_down_keeps_memory_bounded(settings, mnt, caplog):
    """More reports than the queue holds: the oldest are dropped and counted,
    the bot keeps answering, the queue never grows past its bound."""
    caplog.set_level(logging.INFO, logger="callguard")
    db = mnt / "callguard.db"
    async with live_bot(settings, db_path=db, writer_options={"max_pending": 5}) as live:
        writer = live.guard.writer
        filler = fill_disk(mnt)
        texts = {500 + i: f"{SCAM_HANS} #many-{i}" for i in range(12)}
        sent = await ask_all(live, texts)
        assert_verdicts(sent)
        assert writer.pending == 5 and writer.dropped == 7
        assert len(log_lines(caplog, FAILING)) == 1
        filler.unlink()
        await live.flush_job()
        assert writer.pending == 0 and live.errors.errors == []
    assert len(stored_texts(db)) == 5 and set(stored_texts(db)) <= set(texts.values())


async def test_database_deleted_under_the_running_bot_loses_no_report(settings, caplog):
    """``rm callguard.db*`` while the bot runs (issue 12, item 8): the reports acknowledged
    after it went to the deleted file and were lost at the next restart. The flush job now
    notices (device and inode of the path against the open file) and puts the database back
    from the open connection; every report, before and after, is in the file at the path."""
    caplog.set_level(logging.INFO, logger="callguard")
    db = settings.db_path
    async with live_bot(settings) as live:
        before = await ask_all(live, {1: SCAM_HANS + " #before"})
        for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            p.unlink(missing_ok=True)
        during = await ask_all(live, {2: SCAM_HANS + " #deleted"})
        await live.flush_job()
        after = await ask_all(live, {3: SCAM_HANS + " #after"})
        ids = [report_id_of(r[uid]) for r, uid in ((before, 1), (during, 2), (after, 3))]
        assert all(i > 0 for i in ids) and ids == sorted(ids)
        assert len(log_lines(caplog, "was deleted while the bot was running")) == 1
        assert live.errors.errors == []
    assert stored_texts(db) == [SCAM_HANS + " #before", SCAM_HANS + " #deleted", SCAM_HANS + " #after"]
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
