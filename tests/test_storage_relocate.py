"""A database file deleted or replaced under a running writer (issue 12, item 8).

After ``rm callguard.db*`` the bot acknowledged reports that SQLite wrote to the
deleted file, and lost them all at the restart. Now the periodic check
(``ReportWriter.check``, the flush job) compares the path's device and inode
with the open file's: a deleted file is put back from the open connection, a
replaced one is switched to, and the reports of the old file the new one lacks
are counted in the log, never silently taken as stored.
"""

from __future__ import annotations

import logging
import os
import shutil

import pytest

from callguard.storage import ReportWriter
from tests.storage_support import clock, db_path, make_report, open_store, raw  # noqa: F401  (fixtures)


def side_files(path):
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def rm_database(path, *, side: bool = True) -> None:
    """``rm callguard.db*`` (or only the main file)."""
    for p in [path, *(side_files(path) if side else [])]:
        if p.exists():
            p.unlink()


def texts_at(path) -> list[tuple[int, str]]:
    with raw(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        return conn.execute("SELECT id, text FROM reports ORDER BY id").fetchall()


async def submit(writer, *texts, user=1) -> list[int | None]:
    return [await writer.submit(make_report(text=t), user) for t in texts]


@pytest.mark.parametrize("side", [True, False], ids=["rm db*", "rm db only"])
async def test_a_deleted_database_is_put_back_with_every_report(open_store, db_path, side, caplog):
    writer = ReportWriter(await open_store(db_path))
    before = await submit(writer, "r1", "r2")
    rm_database(db_path, side=side)
    during = await submit(writer, "r3", "r4")  # acknowledged: SQLite wrote them to the deleted file
    assert None not in during and not db_path.exists()

    assert await writer.check() == 0  # the flush job's check: the file is back
    after = await submit(writer, "r5")
    ids = before + during + after
    assert texts_at(db_path) == list(zip(ids, ["r1", "r2", "r3", "r4", "r5"]))  # ids go on, nothing lost
    assert "was deleted while the bot was running" in caplog.text and writer.pending == 0
    assert [p.name for p in db_path.parent.iterdir() if "rescued" in p.name] == []
    await writer.close()
    assert texts_at(db_path)[-1] == (after[0], "r5")


async def test_a_replaced_database_is_switched_to_and_missing_reports_are_named(open_store, db_path, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    writer = ReportWriter(await open_store(db_path))
    await submit(writer, "r1")
    assert await writer.check() == 0
    backup = tmp_path / "backup.db"
    with raw(db_path) as conn:
        conn.execute("VACUUM INTO ?", (str(backup),))
    await submit(writer, "r2", "r3")  # after the backup: only in the file about to be replaced
    os.replace(backup, db_path)  # an operator restores the backup under the running bot

    await writer.check()
    await submit(writer, "r4")
    assert [t for _, t in texts_at(db_path)] == ["r1", "r4"]
    assert "was replaced by another file" in caplog.text
    assert "2 report(s) written to the replaced database file are not in" in caplog.text


async def test_an_unrecoverable_file_is_an_outage_the_queue_waits_it_out(open_store, tmp_path, caplog):
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "callguard.db"
    writer = ReportWriter(await open_store(path))
    await submit(writer, "r1")
    shutil.rmtree(folder)  # nowhere to put the database back
    await writer.check()
    assert "report storage failing" in caplog.text
    queued = await submit(writer, "r2", "r3")
    assert queued == [None, None] and writer.pending == 2  # not written to the deleted file

    folder.mkdir()
    assert await writer.check() == 2
    assert [t for _, t in texts_at(path)] == ["r1", "r2", "r3"]
    assert "report storage recovered" in caplog.text


@pytest.mark.parametrize("side", [True, False], ids=["rm db*", "rm db only"])
async def test_two_stores_on_one_deleted_file_recover_together(open_store, db_path, side, caplog):
    """Two bots on one database (here: two stores of one process, each with its own connection).
    The first to notice puts the file back; the other switches to it, and the reports it wrote
    to the deleted file after the copy are named as lost, not taken as stored."""
    a = ReportWriter(await open_store(db_path))
    b = ReportWriter(await open_store(db_path))
    await submit(a, "a1")
    await submit(b, "b1")
    rm_database(db_path, side=side)
    await submit(a, "a2")
    await submit(b, "b2")

    await a.check()  # a puts the file back, with b's reports so far
    await submit(a, "a3")
    await submit(b, "b-late")  # b has not noticed yet: into the deleted file, after a's copy
    await b.check()
    assert "1 report(s) written to the replaced database file are not in" in caplog.text
    await submit(b, "b3")
    await submit(a, "a4")
    assert [t for _, t in texts_at(db_path)] == ["a1", "b1", "a2", "b2", "a3", "b3", "a4"]
    assert all(p.exists() for p in side_files(db_path))  # b never removed the new file's -wal/-shm
    assert [p.name for p in db_path.parent.iterdir() if "rescued" in p.name] == []


async def test_a_deleted_key_file_is_written_again(open_store, db_path):
    writer = ReportWriter(await open_store(db_path))
    key_file = db_path.with_name("callguard.key")
    key = key_file.read_bytes()
    key_file.unlink()
    await writer.check()
    assert key_file.read_bytes() == key
