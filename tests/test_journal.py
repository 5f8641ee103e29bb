"""The intake journal: what is in hand survives the process; nothing is answered twice."""

from __future__ import annotations

import errno
import json
import os
import stat

import pytest

from callguard.telegram import journal as journal_module
from callguard.telegram.journal import IntakeJournal, journal_path


def update(uid: int, text: str = "hello") -> dict:
    return {"update_id": uid, "message": {"message_id": uid, "date": 1, "text": text,
                                          "chat": {"id": 7, "type": "private"}, "from": {"id": 7}}}


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def crash(journal: IntakeJournal) -> None:
    """What the death of the process does to the journal: its file closed (the lock released), nothing else."""
    os.close(journal._fd)
    journal._fd = None


@pytest.fixture
def path(tmp_path):
    return journal_path(tmp_path / "callguard.db")


def test_the_file_sits_beside_the_database_readable_by_its_owner_only(path):
    assert path.name == "callguard.db-intake"
    journal = IntakeJournal(path)
    assert journal.open() == []
    journal.take([update(1)])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    journal.close()


def test_updates_in_hand_are_answered_after_a_crash_and_done_ones_are_not(path):
    journal = IntakeJournal(path)
    journal.open()
    journal.take([update(1), update(2), update(3)], refused=[4])
    journal.done(2)
    crash(journal)  # a new process finds 1 and 3 to answer
    again = IntakeJournal(path)
    assert [u["update_id"] for u in again.open()] == [1, 3]
    # Telegram redelivers the unconfirmed batch: every id is recognised, in hand or done.
    assert all(again.seen(uid) for uid in (1, 2, 3, 4)) and not again.seen(5)
    assert again.in_hand == 2


def test_an_update_being_handled_at_three_crashes_in_a_row_is_given_up(path, caplog):
    first = IntakeJournal(path)
    first.open()
    first.take([update(1, "poison"), update(2), update(3)])
    crash(first)
    for attempt in (2, 3):
        again = IntakeJournal(path)
        assert [u["update_id"] for u in again.open()] == [1, 2, 3]  # replayed after the first and second crash
        again.replaying(1)  # the poison update's handling starts, and the process dies with it
        if attempt == 3:
            again.replaying(2)  # 2 was under way at this crash too (and 3 never started)
        crash(again)
    last = IntakeJournal(path)
    assert [u["update_id"] for u in last.open()] == [2, 3]  # 2 and 3 are answered; 1 is given up
    assert "giving up 1 update(s)" in caplog.text
    assert last.seen(1)


def test_the_file_is_emptied_once_nothing_is_in_hand_and_telegram_confirmed_it(path):
    journal = IntakeJournal(path)
    journal.open()
    journal.take([update(1, "private text"), update(2)])
    journal.done(1)
    journal.done(2)
    assert path.stat().st_size > 0  # not confirmed yet: a crash now must not answer 1 and 2 again
    journal.confirmed(3)  # the next getUpdates went out with offset 3
    assert path.stat().st_size == 0
    # Webhook mode: a 200 was answered when the update was taken in, nothing to wait for.
    hook = IntakeJournal(path.with_name("hook"), confirm_on_take=True)
    hook.open()
    hook.take([update(5, "private text")])
    assert b"private text" in hook.path.read_bytes()
    hook.done(5)
    assert hook.path.stat().st_size == 0
    assert hook.seen(5)  # a replay of it is still recognised (in memory)


def test_a_write_cut_short_is_ignored_when_reading(path):
    journal = IntakeJournal(path)
    journal.open()
    journal.take([update(1)])
    with open(path, "ab") as fh:
        fh.write(b'{"u": {"update_id": 2, "mess')  # the disk filled up mid-write
    crash(journal)
    assert [u["update_id"] for u in IntakeJournal(path).open()] == [1]


def test_a_second_process_on_the_same_file_goes_on_without_it(path, caplog):
    first = IntakeJournal(path)
    first.open()
    first.take([update(1)])
    second = IntakeJournal(path)
    assert second.open() == []  # it must not answer what the first one holds
    second.take([update(2)])
    second.done(2)
    assert "in use by another CallGuard process" in caplog.text
    assert [r["u"]["update_id"] for r in records(path) if "u" in r] == [1]
    assert second.seen(2)  # still recognises what it saw, in memory


def test_a_file_that_cannot_be_written_is_left_empty_and_the_bot_goes_on(path, monkeypatch, caplog):
    journal = IntakeJournal(path)
    journal.open()
    journal.take([update(1)])

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal_module.os, "write", full)
    journal.take([update(2)])
    journal.done(1)
    journal.done(2)
    assert caplog.text.count("cannot be written") == 1
    monkeypatch.undo()
    assert path.stat().st_size == 0  # a stale journal would make the next start answer 1 again
    assert IntakeJournal(path).open() == []


def test_a_busy_journal_is_compacted_to_what_is_in_hand(path, monkeypatch):
    monkeypatch.setattr(journal_module, "COMPACT_BYTES", 4096)
    journal = IntakeJournal(path, confirm_on_take=True)
    journal.open()
    journal.take([update(0, "kept")])  # stays in hand throughout: the file is never empty
    for uid in range(1, 200):
        journal.take([update(uid, "x" * 100)])
        journal.done(uid)
    assert path.stat().st_size < 4096 + 1000
    journal.close()  # a stop with 0 still in hand: the next start answers it
    assert [u["update_id"] for u in IntakeJournal(path).open()] == [0]
