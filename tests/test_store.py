"""Tests for callguard.store: schema, privacy, counting, statistics, deletion and ReportWriter."""

from __future__ import annotations

import asyncio
import csv
import functools
import hashlib
import hmac
import io
import logging
import sqlite3
import stat
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from callguard import store as store_mod
from callguard.store import (
    DAY,
    EXPORT_COLUMNS,
    MIGRATIONS,
    NO_CATEGORY,
    Report,
    ReportWriter,
    Store,
    mask_number,
    percentages,
)

T0 = 1715342400.0  # 2024-05-10T12:00:00Z
A = "+8613800138000"
B = "+8613900139000"
C = "+12025550123"


class Clock:
    """A controllable clock: tests move ``now`` by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_report(**overrides) -> Report:
    values = dict(
        text="您好，这里是公安局，您的账户涉嫌洗钱",
        lang="zh-Hans",
        numbers=(A,),
        scam=True,
        risk="high",
        category="impersonate_authority",
        rule="police_money_laundering",
        score=92,
        ruleset_version="abc123",
        chat_type="private",
    )
    values.update(overrides)
    return Report(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "callguard.db"


@pytest.fixture
async def open_store():
    """Store.open that closes at teardown whatever it opened.

    aiosqlite runs a non-daemon thread per connection: a test failing
    between open and close would otherwise hang the whole pytest process.
    """
    opened: list[Store] = []

    async def _open(path, **kwargs) -> Store:
        s = await Store.open(path, **kwargs)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        await s.close()


@pytest.fixture
async def store(open_store, db_path, clock):
    return await open_store(db_path, clock=clock)


def raw(path) -> sqlite3.Connection:
    """A plain sqlite3 connection for looking behind the Store's back."""
    return sqlite3.connect(path, isolation_level=None, timeout=5)


# --------------------------------------------------------------------------
# Schema and connection settings


async def test_schema_created_and_reopen_is_idempotent(open_store, db_path, clock):
    s = await open_store(db_path, clock=clock)
    rid = await s.add_report(make_report(), 1)
    await s.close()

    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "reports", "report_numbers", "number_tally", "feedback"} <= tables

    for _ in range(2):  # re-running migrations must neither fail nor touch data
        s = await open_store(db_path, clock=clock)
        assert (await s.get_report(rid)).text == make_report().text
        assert await s.integrity_ok()
        await s.close()
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 1


async def test_wal_and_connection_pragmas(store, db_path):
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    pragmas = {}
    for name in ("synchronous", "busy_timeout", "foreign_keys", "secure_delete"):
        (pragmas[name],), = await store._db.execute_fetchall(f"PRAGMA {name}")
    assert pragmas == {"synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1, "secure_delete": 1}


async def test_newer_schema_is_refused(open_store, db_path):
    with raw(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(RuntimeError, match="newer"):
        await open_store(db_path)


async def test_memory_database_works(open_store, clock):
    s = await open_store(":memory:", clock=clock)
    rid = await s.add_report(make_report(), 7)
    assert (await s.number_counts([A]))[A] == 1
    assert (await s.get_report(rid)).numbers == (A,)
    await s.close()


# --------------------------------------------------------------------------
# Reports and reporter identity


async def test_add_and_read_report(store, clock):
    r = make_report(numbers=[B, A, B], money_sent=False, source="report")
    rid = await store.add_report(r, 42)
    second = await store.add_report(make_report(numbers=(), scam=False, risk="none",
                                                category=None, rule=None, score=0), None)
    assert second == rid + 1

    got = await store.get_report(rid)
    assert got == Report(
        text=r.text, lang="zh-Hans", numbers=(B, A), scam=True, risk="high",
        category="impersonate_authority", rule="police_money_laundering", score=92,
        ruleset_version="abc123", chat_type="private", source="report",
        money_sent=False, created_at=T0,
    )
    got2 = await store.get_report(second)
    assert (got2.numbers, got2.scam, got2.category, got2.money_sent) == ((), False, None, None)
    assert await store.get_report(999) is None

    await store.set_money_sent(rid)
    assert (await store.get_report(rid)).money_sent is True
    await store.set_money_sent(rid, False)
    assert (await store.get_report(rid)).money_sent is False


async def test_explicit_created_at_is_kept(store):
    rid = await store.add_report(make_report(created_at=T0 - 3 * DAY), 1)
    assert (await store.get_report(rid)).created_at == T0 - 3 * DAY


@pytest.mark.parametrize("bad", [
    dict(lang="fr"), dict(risk="extreme"), dict(score=101), dict(score=-1), dict(score=True),
    dict(chat_type="dm"), dict(source="web"), dict(numbers=("",)),
])
async def test_invalid_reports_are_rejected_before_sql(store, db_path, bad):
    with pytest.raises(ValueError):
        await store.add_report(make_report(**bad), 1)
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 0


async def test_reporter_key_is_pseudonymous_and_stable(open_store, db_path, clock):
    user_id = 987654321
    s = await open_store(db_path, clock=clock)
    key = s.reporter_key(user_id)
    assert len(key) == 32 and int(key, 16) >= 0
    assert str(user_id) not in key
    assert key != s.reporter_key(user_id + 1)
    await s.add_report(make_report(text="hello"), user_id)
    await s.close()

    with raw(db_path) as conn:
        (stored,), = conn.execute("SELECT reporter FROM reports").fetchall()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert stored == key
    assert str(user_id).encode() not in db_path.read_bytes()

    s = await open_store(db_path, clock=clock)  # generated secret is reused
    assert s.reporter_key(user_id) == key
    await s.close()

    secret = b"from-the-environment"
    s = await open_store(db_path, secret=secret, clock=clock)
    expected = hmac.new(secret, b"987654321", hashlib.sha256).hexdigest()[:32]
    assert s.reporter_key(user_id) == expected != key
    await s.close()


async def test_changing_secret_is_logged(open_store, db_path, caplog):
    s = await open_store(db_path, secret=b"one")
    await s.close()
    s = await open_store(db_path, secret=b"one")
    await s.close()
    assert not [r for r in caplog.records if "secret changed" in r.getMessage()]
    s = await open_store(db_path, secret=b"two")
    await s.close()
    assert len([r for r in caplog.records if "secret changed" in r.getMessage()]) == 1


async def test_empty_secret_is_refused(open_store, db_path):
    with pytest.raises(ValueError):
        await open_store(db_path, secret=b"")


# --------------------------------------------------------------------------
# Number counts


async def test_number_counts_window_and_exclusion(store, clock):
    await store.add_report(make_report(numbers=(A,), created_at=T0 - 40 * DAY), 1)
    await store.add_report(make_report(numbers=(A, B), created_at=T0 - 10 * DAY), 2)
    await store.add_report(make_report(numbers=(A,), created_at=T0 - 1 * DAY), 3)
    latest = await store.add_report(make_report(numbers=(A, A, C)), 4)  # duplicate counts once

    assert await store.number_counts([A, B, C, "+441234567890"]) == {
        A: 3, B: 1, C: 1, "+441234567890": 0}
    assert await store.number_counts([A], days=60) == {A: 4}
    assert await store.number_counts([A, B], days=1) == {A: 1, B: 0}
    assert await store.number_counts([A, B], days=2) == {A: 2, B: 0}
    assert await store.number_counts([A, C], exclude_report_id=latest) == {A: 2, C: 0}
    assert await store.number_counts([]) == {}

    # Time passes: the window moves with the clock.
    clock.now = T0 + 25 * DAY  # window starts at T0 - 4 days
    assert await store.number_counts([A, B, C]) == {A: 2, B: 0, C: 1}
    # Excluding a report outside the window must not subtract anything.
    clock.now = T0 + 35 * DAY
    assert await store.number_counts([A], exclude_report_id=latest) == {A: 0}
    assert await store.number_counts([A], days=40) == {A: 2}
    assert await store.number_counts([A], days=40, exclude_report_id=latest) == {A: 1}

    with pytest.raises(ValueError):
        await store.number_counts([A], days=0)


async def test_add_report_and_count_returns_what_number_counts_says(store, clock):
    """The counts read inside the write equal number_counts(..., exclude_report_id=the new id)."""
    await store.add_report(make_report(numbers=(A,), created_at=T0 - 40 * DAY), 1)  # outside 30 days
    await store.add_report(make_report(numbers=(A, B), created_at=T0 - 10 * DAY), 2)
    await store.add_report(make_report(numbers=(A,)), 3)
    cases = [
        (make_report(numbers=(A, A, C)), 30),  # duplicate counts once; C never seen before
        (make_report(numbers=(A, B)), 1),  # today only
        (make_report(numbers=(A, B)), 60),
        (make_report(numbers=(A,), created_at=T0 - 45 * DAY), 30),  # an old report: nothing to exclude
        (make_report(numbers=()), 30),
    ]
    for report, days in cases:
        rid, counts = await store.add_report_and_count(report, 4, days=days)
        assert counts == await store.number_counts(report.numbers, days=days, exclude_report_id=rid)
        assert (await store.get_report(rid)).numbers == tuple(dict.fromkeys(report.numbers))
    rid, counts = await store.add_report_and_count(make_report(numbers=(A,)), 5)
    assert counts == {} and (await store.number_counts([A]))[A] == 6  # days=None: no counts, still tallied
    with pytest.raises(ValueError):
        await store.add_report_and_count(make_report(), 1, days=0)


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
# Feedback


async def test_feedback_upsert_and_comment(store):
    rid = await store.add_report(make_report(), 1)
    assert await store.set_feedback(rid, 1, "helpful") is True
    assert await store.set_feedback(rid, 1, "wrong") is True
    assert await store.set_feedback(rid, 1, "wrong", comment="it was my bank") is True
    assert await store.set_feedback(rid, 1, "wrong") is True  # no comment: keep the old one
    [row] = await store.export_rows(0)
    assert (row["feedback"], row["feedback_comment"]) == ("wrong", "it was my bank")

    assert await store.set_feedback(rid, 2, "helpful") is True  # another user, another row
    [row] = await store.export_rows(0)
    assert row["feedback"] == "wrong helpful"

    assert await store.set_feedback(9999, 1, "helpful") is False
    with pytest.raises(ValueError):
        await store.set_feedback(rid, 1, "meh")


# --------------------------------------------------------------------------
# Statistics


async def test_stats_with_known_counts(store, clock):
    cats = ["impersonate_authority", "telecom_complaint", "fake_refund"]
    for i, cat in enumerate(cats):
        rid = await store.add_report(make_report(category=cat, rule=f"r_{cat}", numbers=(A,)), i)
    # 3 reports of each category within the window
    for cat in cats:
        for _ in range(2):
            await store.add_report(make_report(category=cat, rule=f"r_{cat}", numbers=(B,)), 9)
    await store.add_report(make_report(numbers=(C,), created_at=T0 - 20 * DAY), 9)  # outside 7 days

    ids = {cat: [] for cat in cats}
    for row in await store.export_rows(T0 - DAY):
        ids[row["category"]].append(row["id"])
    # r_fake_refund: 1 helpful / 2 wrong; r_telecom_complaint: 0 / 1; r_impersonate_authority: 2 / 0
    await store.set_feedback(ids["fake_refund"][0], 1, "helpful")
    await store.set_feedback(ids["fake_refund"][0], 2, "wrong")
    await store.set_feedback(ids["fake_refund"][1], 1, "wrong")
    await store.set_feedback(ids["telecom_complaint"][0], 1, "wrong")
    await store.set_feedback(ids["impersonate_authority"][0], 1, "helpful")
    await store.set_feedback(ids["impersonate_authority"][1], 1, "helpful")
    await store.set_money_sent(rid)

    s = await store.stats(7)
    assert s.total == 9
    assert s.since == T0 - 7 * DAY and s.until == T0
    assert s.by_category == [
        ("fake_refund", 3, 33.4), ("impersonate_authority", 3, 33.3), ("telecom_complaint", 3, 33.3)]
    assert round(sum(p for _, _, p in s.by_category), 1) == 100.0
    assert s.by_risk == [("high", 9, 100.0)]
    assert s.top_numbers == [(mask_number(B), 6), (mask_number(A), 3)]
    assert s.rules_feedback == [
        ("r_telecom_complaint", 0, 1, 1.0),
        ("r_fake_refund", 1, 2, pytest.approx(2 / 3)),
        ("r_impersonate_authority", 2, 0, 0.0),
    ]
    assert s.money_sent == 1

    wide = await store.stats(30)
    assert wide.total == 10
    assert dict((n, c) for n, c in wide.top_numbers)[mask_number(C)] == 1


async def test_stats_empty_and_uncategorised(store):
    empty = await store.stats(30)
    assert (empty.total, empty.by_category, empty.by_risk, empty.top_numbers,
            empty.rules_feedback, empty.money_sent) == (0, [], [], [], [], 0)
    await store.add_report(make_report(category=None, risk="none", scam=False, numbers=()), 1)
    await store.add_report(make_report(), 1)
    s = await store.stats(1)
    assert s.by_category == [(NO_CATEGORY, 1, 50.0), ("impersonate_authority", 1, 50.0)]
    assert s.by_risk == [("high", 1, 50.0), ("none", 1, 50.0)]


async def test_daily_counts(store, clock):
    await store.add_report(make_report(created_at=T0 - 2 * DAY), 1)
    await store.add_report(make_report(created_at=T0 - 2 * DAY + 60), 1)
    await store.add_report(make_report(category="fake_refund"), 1)
    await store.add_report(make_report(category=None, created_at=T0 - 12 * 3600 + 1), 1)  # 00:00:01 today
    await store.add_report(make_report(created_at=T0 - 5 * DAY), 1)
    await store.add_report(make_report(created_at=T0 - 2 * DAY - 12 * 3600 - 1), 1)  # 05-07 23:59:59
    assert await store.daily_counts(3) == [
        ("2024-05-08", "impersonate_authority", 2),
        ("2024-05-10", NO_CATEGORY, 1),
        ("2024-05-10", "fake_refund", 1),
    ]
    assert len(await store.daily_counts(6)) == 5
    assert await store.daily_counts(1) == [("2024-05-10", NO_CATEGORY, 1), ("2024-05-10", "fake_refund", 1)]


# --------------------------------------------------------------------------
# Pure helpers


@pytest.mark.parametrize("counts, expected", [
    ([1, 1, 1], [33.4, 33.3, 33.3]),
    ([2, 1], [66.7, 33.3]),
    ([1], [100.0]),
    ([5, 0], [100.0, 0.0]),
    ([1, 1, 1, 1, 1, 1, 1], [14.3, 14.3, 14.3, 14.3, 14.3, 14.3, 14.2]),
    ([1, 2, 1, 2], [16.7, 33.3, 16.7, 33.3]),  # remainder tie: earlier of equal counts wins
    ([997, 1, 1, 1], [99.7, 0.1, 0.1, 0.1]),
    ([1, 6], [14.3, 85.7]),
    ([], []),
    ([0, 0], [0.0, 0.0]),
])
def test_percentages_examples(counts, expected):
    assert percentages(counts) == expected


def test_percentages_rejects_negative():
    with pytest.raises(ValueError):
        percentages([3, -1])


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40)
       .filter(lambda xs: sum(xs) > 0))
def test_percentages_properties(counts):
    result = percentages(counts)
    tenths = [round(p * 10) for p in result]
    assert all(p == t / 10 for p, t in zip(result, tenths))  # one decimal place
    assert sum(tenths) == 1000  # the displayed values total exactly 100.0
    assert round(sum(result), 1) == 100.0
    total = sum(counts)
    for c, t in zip(counts, tenths):
        exact = Fraction(c * 1000, total)
        assert exact - 1 < t < exact + 1  # never more than 0.1 point off
        if c == 0:
            assert t == 0


@pytest.mark.parametrize("number, masked", [
    ("+8613800138000", "+86 138******00"),
    ("+12025550123", "+1 202*****23"),
    ("+79161234567", "+7 916*****67"),
    ("+85291234567", "+852 912***67"),
    ("+886912345678", "+886 912****78"),
    ("+447911123456", "+44 791*****56"),
    ("+8695588", "+86 ***88"),  # too short to show the head
    ("13800138000", "138******00"),  # not E.164: masked anyway, never raises
])
def test_mask_number(number, masked):
    assert mask_number(number) == masked


# --------------------------------------------------------------------------
# Export


async def test_export_csv(store, clock):
    old = await store.add_report(make_report(created_at=T0 - 10 * DAY), 1)
    rid = await store.add_report(
        make_report(text="=HYPERLINK(\"http://x\")", numbers=(A, B), lang="en", money_sent=True), 123456789)
    await store.set_feedback(rid, 123456789, "wrong", comment="-it was fine")

    out = io.StringIO(newline="")
    assert await store.export_csv(T0 - DAY, out) == 1
    text = out.getvalue()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0].keys()) == list(EXPORT_COLUMNS)
    assert rows == [{
        "id": str(rid), "created_at": "2024-05-10T12:00:00+00:00",
        "category": "impersonate_authority", "rule": "police_money_laundering",
        "risk": "high", "score": "92", "scam": "true", "numbers": f"{A} {B}",
        "text": "'=HYPERLINK(\"http://x\")", "lang": "en", "chat_type": "private",
        "source": "message", "money_sent": "true", "feedback": "wrong",
        "feedback_comment": "'-it was fine", "ruleset_version": "abc123", "from_image": "false",
    }]
    assert store.reporter_key(123456789) not in text
    assert "123456789" not in text
    assert "reporter" not in text

    out = io.StringIO(newline="")
    assert await store.export_csv(0, out) == 2
    assert [r["id"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == [str(old), str(rid)]
    # export_rows keeps raw values for programmatic use
    raw_rows = await store.export_rows(0)
    assert raw_rows[1]["text"].startswith("=") and raw_rows[0]["money_sent"] is None
    assert all("reporter" not in r for r in raw_rows)


# --------------------------------------------------------------------------
# Deletion


async def test_forget_removes_exactly_that_users_rows(store, db_path):
    alice, bob = 111, 222
    a1 = await store.add_report(make_report(text="alice one", numbers=(A,)), alice)
    a2 = await store.add_report(make_report(text="alice two", numbers=(B,)), alice)
    b1 = await store.add_report(make_report(text="bob one", numbers=(A,)), bob)
    anon = await store.add_report(make_report(text="console", numbers=(C,)), None)
    await store.set_feedback(b1, alice, "wrong", "alice on bob")   # alice's feedback elsewhere
    await store.set_feedback(a1, bob, "helpful")                   # bob's feedback on alice's report
    await store.set_feedback(b1, bob, "helpful")                   # bob on bob: stays
    await store.set_feedback(a1, alice, "helpful")                 # alice on alice

    assert await store.count_user_records(alice) == 5  # 2 reports + 3 feedback rows
    assert await store.forget(alice) == 5
    assert await store.count_user_records(alice) == 0
    assert await store.forget(alice) == 0

    assert await store.get_report(a1) is None and await store.get_report(a2) is None
    assert (await store.get_report(b1)).text == "bob one"
    assert (await store.get_report(anon)).text == "console"
    with raw(db_path) as conn:
        feedback = conn.execute("SELECT report_id, value FROM feedback").fetchall()
        numbers = conn.execute("SELECT report_id FROM report_numbers ORDER BY 1").fetchall()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert feedback == [(b1, "helpful")]
    assert numbers == [(b1,), (anon,)]
    assert await store.count_user_records(bob) == 2
    # anonymous counts survive
    assert await store.number_counts([A, B]) == {A: 2, B: 1}
    # secure_delete: the forgotten text is gone from the file itself
    assert "alice one".encode() not in db_path.read_bytes()


async def test_purge_by_age_keeps_tallies(store, clock, db_path):
    old = await store.add_report(make_report(numbers=(A,), created_at=T0 - 100 * DAY), 1)
    older = await store.add_report(make_report(numbers=(A, B), created_at=T0 - 91 * DAY), 1)
    edge = await store.add_report(make_report(numbers=(B,), created_at=T0 - 89 * DAY), 1)
    new = await store.add_report(make_report(numbers=(A,)), 2)
    await store.set_feedback(old, 3, "helpful")

    assert await store.purge(90) == 2
    assert await store.get_report(old) is None and await store.get_report(older) is None
    assert await store.get_report(edge) is not None and await store.get_report(new) is not None
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM report_numbers WHERE report_id IN (?, ?)",
                            (old, older)).fetchone()[0] == 0
    assert await store.number_counts([A, B], days=365) == {A: 3, B: 2}
    assert await store.purge(90) == 0
    with pytest.raises(ValueError):
        await store.purge(0)


# --------------------------------------------------------------------------
# Concurrency


async def test_concurrent_writers_on_two_connections(open_store, db_path, clock):
    s1 = await open_store(db_path, clock=clock)
    s2 = await open_store(db_path, clock=clock)
    try:
        results = await asyncio.gather(*[
            (s1 if i % 2 else s2).add_report(make_report(text=f"msg {i}", numbers=(A,)), i)
            for i in range(50)
        ], return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert errors == []
        assert len(set(results)) == 50
        assert await s1.number_counts([A]) == {A: 50}
        assert len(await s2.export_rows(0)) == 50
    finally:
        await s1.close()
        await s2.close()


async def test_concurrent_read_then_write_transactions(open_store, db_path, clock):
    """set_feedback reads before it writes: only BEGIN IMMEDIATE keeps that from failing under contention."""
    s1 = await open_store(db_path, clock=clock)
    s2 = await open_store(db_path, clock=clock)
    rid = await s1.add_report(make_report(), 1)
    jobs = []
    for i in range(60):
        s = s1 if i % 2 else s2
        jobs.append(s.set_feedback(rid, i, "wrong" if i % 3 else "helpful", f"c{i}"))
        jobs.append(s.add_report(make_report(text=f"m{i}"), i))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 60
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 61


# --------------------------------------------------------------------------
# ReportWriter


class FlakyStore:
    """Stands in for Store: raises the queued exceptions first, then records writes."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.written: list[str] = []
        self.closed = False

    async def add_report(self, report: Report, user_id: int | None) -> int:
        if self.errors:
            raise self.errors.pop(0)
        self.written.append(report.text)
        return len(self.written)

    async def close(self) -> None:
        self.closed = True


async def test_writer_never_lets_a_new_report_overtake_the_queue():
    flaky = FlakyStore()

    async def opener():
        return flaky

    writer = ReportWriter(opener)
    flaky.errors = [sqlite3.OperationalError("disk I/O error")]
    assert await writer.submit(make_report(text="r1"), 1) is None
    # The flush of r1 fails again; r2 could be written now but must wait behind r1.
    flaky.errors = [sqlite3.OperationalError("disk I/O error")]
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
    flaky.errors = [sqlite3.OperationalError("database is locked")] * 2
    assert await writer.submit(make_report(text="poison"), 1) is None
    assert await writer.submit(make_report(text="fine"), 1) is None
    assert writer.pending == 2
    flaky.errors = [sqlite3.IntegrityError("CHECK constraint failed")]
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
            raise sqlite3.OperationalError("unable to open database file")
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



@pytest.fixture
async def locked_db(open_store, db_path, clock):
    """A store with a tiny busy_timeout plus a helper that locks the file from outside."""
    s = await open_store(db_path, clock=clock, busy_timeout_ms=20)

    class Lock:
        conn: sqlite3.Connection | None = None

        def hold(self) -> None:
            self.conn = raw(db_path)
            self.conn.execute("BEGIN EXCLUSIVE")

        def release(self) -> None:
            if self.conn is not None:
                self.conn.rollback()
                self.conn.close()
                self.conn = None

    lock = Lock()
    yield s, lock
    lock.release()


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
    caplog.set_level(logging.WARNING, logger="callguard.store")

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


def test_storage_error_classification():
    assert store_mod.is_storage_error(sqlite3.OperationalError("database is locked"))
    assert store_mod.is_storage_error(sqlite3.DatabaseError("file is not a database"))
    assert store_mod.is_storage_error(OSError(28, "No space left on device"))
    assert not store_mod.is_storage_error(sqlite3.IntegrityError("CHECK constraint failed"))
    assert not store_mod.is_storage_error(sqlite3.ProgrammingError("closed"))
    assert not store_mod.is_storage_error(ValueError("bad"))


# --------------------------------------------------------------------------
# The write of one report


async def _trace(s: Store) -> list[str]:
    """Record every SQL statement the store's connection runs (on aiosqlite's thread)."""
    statements: list[str] = []
    await s._db._execute(s._db._conn.set_trace_callback, statements.append)
    return statements


async def test_report_without_numbers_is_one_autocommitted_insert(store, db_path, clock):
    """No numbers: one INSERT as its own transaction, committed when the call returns."""
    statements = await _trace(store)
    rid, counts = await store.add_report_and_count(make_report(numbers=()), 1, days=30)
    assert counts == {}
    assert len(statements) == 1 and statements[0].lstrip().startswith("INSERT INTO reports")
    assert not await store._db._execute(lambda: store._db._conn.in_transaction)
    with raw(db_path) as other:  # committed: another connection sees it at once
        assert other.execute("SELECT text FROM reports WHERE id = ?", (rid,)).fetchone() == (make_report().text,)
    statements.clear()
    await store.add_report_and_count(make_report(numbers=(A,)), 1, days=30)
    assert statements[0] == "BEGIN IMMEDIATE" and statements[-1] == "COMMIT"  # numbers: one transaction


async def test_report_without_numbers_waits_for_the_write_lock_then_fails_cleanly(locked_db):
    """Another connection holds the write lock: the lone INSERT waits busy_timeout, raises a
    storage error, leaves nothing behind, and the writer queues the report as before."""
    s, lock = locked_db
    lock.hold()
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        await s.add_report_and_count(make_report(numbers=()), 1, days=30)
    assert not await s._db._execute(lambda: s._db._conn.in_transaction)
    writer = ReportWriter(s)
    assert await writer.submit_and_count(make_report(numbers=(), text="queued"), 1, days=30) == (None, {})
    lock.release()
    assert await writer.flush() == 1
    assert [r["text"] for r in await s.export_rows(0)] == ["queued"]


@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False))
def test_utc_day_is_the_utc_date(ts):
    from datetime import datetime, timezone

    assert store_mod._utc_day(ts) == datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


async def test_two_stores_opening_a_new_file_at_once_both_open(tmp_path):
    """Switching a file to WAL needs an exclusive lock. When two connections race for
    it (two processes opening a new file together: two bots, or a bot and ``callguard
    stats``), SQLite refuses one at once, without its busy handler, to avoid a
    deadlock: opening must wait and retry like a busy write, not fail with "database
    is locked". Each aiosqlite connection has its own thread, so these really race."""
    for round_ in range(60):
        path = tmp_path / f"new{round_}.db"
        stores = await asyncio.gather(*(Store.open(path, secret=b"s") for _ in range(3)))
        for store in stores:
            assert (await store._db.execute_fetchall("PRAGMA journal_mode"))[0][0] == "wal"
            await store.close()
