"""Tests for the SQLite backend: schema, privacy, counting, statistics, deletion, export."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import hmac
import io
import sqlite3
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from callguard.storage import (
    DAY, EXPORT_COLUMNS, NO_CATEGORY, Report, ReportWriter, SQLiteStore, StorageError, percentages, write_csv,
)
from callguard.storage.models import utc_day
from callguard.storage.sqlite import is_storage_error
from callguard.storage.sqlite.schema import MIGRATIONS
from callguard.numbers import mask_number
from tests.storage_support import (  # noqa: F401  (fixtures)
    A, B, C, T0, Clock, clock, db_path, locked_db, make_report, on_connection, open_store, raw, store,
)


# --------------------------------------------------------------------------
# Schema and connection settings


async def test_schema_created_and_reopen_is_idempotent(open_store, db_path, clock):
    s = await open_store(db_path, clock=clock)
    rid = await s.add_report(make_report(), 1)
    await s.close()

    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "reports", "report_numbers", "number_reporters", "feedback"} <= tables
    assert "number_tally" not in tables

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
        pragmas[name] = await on_connection(store, lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0])
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
    dict(warns_of=""), dict(warns_of_category="phishing"),  # a warned-of category needs its rule
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
    await store.add_report(make_report(numbers=(A, A, C)), 4)  # duplicate counts once

    assert await store.number_counts([A, B, C, "+441234567890"]) == {
        A: 3, B: 1, C: 1, "+441234567890": 0}
    assert await store.number_counts([A], days=60) == {A: 4}
    assert await store.number_counts([A, B], days=1) == {A: 1, B: 0}
    assert await store.number_counts([A, B], days=2) == {A: 2, B: 0}
    assert await store.number_counts([A, C], exclude_user=4) == {A: 2, C: 0}
    assert await store.number_counts([]) == {}

    # Time passes: the window moves with the clock.
    clock.now = T0 + 25 * DAY  # window starts at T0 - 4 days
    assert await store.number_counts([A, B, C]) == {A: 2, B: 0, C: 1}
    # Excluding a user who reported only outside the window subtracts nothing.
    clock.now = T0 + 35 * DAY
    assert await store.number_counts([A], exclude_user=4) == {A: 0}
    assert await store.number_counts([A], days=40) == {A: 2}
    assert await store.number_counts([A], days=40, exclude_user=4) == {A: 1}
    assert await store.number_counts([A], days=40, exclude_user=1) == {A: 2}

    with pytest.raises(ValueError):
        await store.number_counts([A], days=0)


async def test_add_report_and_count_returns_what_number_counts_says(store, clock):
    """The counts read inside the write equal number_counts(..., exclude_user=the reporter)."""
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
        assert counts == await store.number_counts(report.numbers, days=days, exclude_user=4)
        assert (await store.get_report(rid)).numbers == tuple(dict.fromkeys(report.numbers))
    rid, counts = await store.add_report_and_count(make_report(numbers=(A,)), 5)
    assert counts == {} and (await store.number_counts([A]))[A] == 4  # days=None: no counts, still counted
    with pytest.raises(ValueError):
        await store.add_report_and_count(make_report(), 1, days=0)


async def test_one_user_reporting_a_number_again_and_again_counts_once(store, clock):
    """Issue 12, item 5: ten reports of one number by one user made the next user read
    "reported 10 times" and /stats list it 11 times. Reporters are counted, not reports,
    and never the one asking."""
    for _ in range(10):
        rid, counts = await store.add_report_and_count(make_report(numbers=(A,)), 1, days=30)
        assert counts == {A: 0}  # the user's own reports never count for them
    assert (await store.add_report_and_count(make_report(numbers=(A,)), 2, days=30))[1] == {A: 1}
    assert (await store.add_report_and_count(make_report(numbers=(A,)), 1, days=30))[1] == {A: 1}  # user 2
    assert await store.number_counts([A]) == {A: 2}
    assert await store.number_counts([A], exclude_user=2) == {A: 1}
    clock.now += DAY  # another day, the same user again: still one person
    await store.add_report(make_report(numbers=(A,)), 1)
    assert await store.number_counts([A]) == {A: 2}
    assert (await store.stats(30)).top_numbers == [(mask_number(A), 2)]


async def test_version_1_tally_becomes_reporters_of_the_stored_reports(open_store, db_path, clock):
    """Migration 2: reports still stored count once per reporter; tally counts nobody can be
    attributed to (purged or forgotten reports) are dropped with the old table."""
    with raw(db_path) as conn:
        for sql in MIGRATIONS[0]:
            conn.execute(sql)
        conn.execute("PRAGMA user_version = 1")
        for rid, reporter, created in ((1, "k1", T0), (2, "k1", T0 - DAY), (3, "k2", T0), (4, None, T0)):
            conn.execute("INSERT INTO reports (id, created_at, reporter, text, lang, scam, risk, score, "
                         "ruleset_version, chat_type, source) VALUES (?, ?, ?, 't', 'en', 1, 'high', 90, 'v', "
                         "'private', 'message')", (rid, created, reporter))
            conn.execute("INSERT INTO report_numbers VALUES (?, ?)", (rid, A))
        conn.execute("INSERT INTO number_tally VALUES (?, '2024-05-10', 40)", (A,))
        conn.execute("INSERT INTO number_tally VALUES (?, '2024-05-10', 7)", (B,))
    s = await open_store(db_path, clock=clock)
    assert await s.number_counts([A, B]) == {A: 3, B: 0}  # k1, k2 and the report without a reporter
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM number_reporters").fetchone()[0] == 3  # k1 once


async def test_reports_without_a_reporter_count_one_each(store):
    await store.add_report(make_report(numbers=(A,)), None)
    await store.add_report(make_report(numbers=(A,)), None)
    await store.add_report(make_report(numbers=(A,)), 7)
    assert await store.number_counts([A]) == {A: 3}
    assert await store.number_counts([A], exclude_user=7) == {A: 2}


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
    assert s.top_numbers == [(mask_number(A), 3), (mask_number(B), 1)]  # people, not reports
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


# --------------------------------------------------------------------------
# Export


async def test_export_csv(store, clock):
    old = await store.add_report(make_report(created_at=T0 - 10 * DAY), 1)
    rid = await store.add_report(
        make_report(text="=HYPERLINK(\"http://x\")", numbers=(A, B), lang="en", money_sent=True), 123456789)
    await store.set_feedback(rid, 123456789, "wrong", comment="-it was fine")

    out = io.StringIO(newline="")
    assert write_csv(await store.export_rows(T0 - DAY), out) == 1
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
        "warns_of": "", "warns_of_category": "",
    }]
    assert store.reporter_key(123456789) not in text
    assert "123456789" not in text
    assert "reporter" not in text

    out = io.StringIO(newline="")
    assert write_csv(await store.export_rows(0), out) == 2
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
    # the counts survive, no longer leading to alice
    assert await store.number_counts([A, B]) == {A: 2, B: 1}
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM number_reporters WHERE reporter = ?",
                            (store.reporter_key(alice),)).fetchone()[0] == 0
    # secure_delete: the forgotten text is gone from the file itself
    assert "alice one".encode() not in db_path.read_bytes()


async def test_purge_by_age_trims_number_counts_too(store, clock, db_path):
    """Issue 12, item 5: who reported a number is kept no longer than the reports."""
    old = await store.add_report(make_report(numbers=(A,), created_at=T0 - 100 * DAY), 1)
    older = await store.add_report(make_report(numbers=(A, B), created_at=T0 - 91 * DAY), 1)
    edge = await store.add_report(make_report(numbers=(B,), created_at=T0 - 89 * DAY), 1)
    new = await store.add_report(make_report(numbers=(A,)), 2)
    await store.set_feedback(old, 3, "helpful")
    assert await store.number_counts([A, B], days=365) == {A: 2, B: 1}

    assert await store.purge(90) == 2
    assert await store.get_report(old) is None and await store.get_report(older) is None
    assert await store.get_report(edge) is not None and await store.get_report(new) is not None
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM report_numbers WHERE report_id IN (?, ?)",
                            (old, older)).fetchone()[0] == 0
        days = {day for (day,) in conn.execute("SELECT last_day FROM number_reporters")}
    assert days == {"2024-02-11", "2024-05-10"}  # the edge report's day and today
    assert await store.number_counts([A, B], days=365) == {A: 1, B: 1}  # user 1's A only before day 90
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


def test_storage_error_classification():
    assert is_storage_error(sqlite3.OperationalError("database is locked"))
    assert is_storage_error(sqlite3.DatabaseError("file is not a database"))
    assert is_storage_error(OSError(28, "No space left on device"))
    assert not is_storage_error(sqlite3.IntegrityError("CHECK constraint failed"))
    assert not is_storage_error(sqlite3.ProgrammingError("closed"))
    assert not is_storage_error(ValueError("bad"))


# --------------------------------------------------------------------------
# The write of one report


async def _trace(s: SQLiteStore) -> list[str]:
    """Record every SQL statement the store's connection runs (on its database thread)."""
    statements: list[str] = []
    await on_connection(s, lambda conn: conn.set_trace_callback(statements.append))
    return statements


async def test_report_without_numbers_is_one_autocommitted_insert(store, db_path, clock):
    """No numbers: one INSERT as its own transaction, committed when the call returns."""
    statements = await _trace(store)
    rid, counts = await store.add_report_and_count(make_report(numbers=()), 1, days=30)
    assert counts == {}
    assert len(statements) == 1 and statements[0].lstrip().startswith("INSERT INTO reports")
    assert not await on_connection(store, lambda conn: conn.in_transaction)
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
    with pytest.raises(StorageError, match="locked"):
        await s.add_report_and_count(make_report(numbers=()), 1, days=30)
    assert not await on_connection(s, lambda conn: conn.in_transaction)
    writer = ReportWriter(s)
    assert await writer.submit_and_count(make_report(numbers=(), text="queued"), 1, days=30) == (None, {})
    lock.release()
    assert await writer.flush() == 1
    assert [r["text"] for r in await s.export_rows(0)] == ["queued"]


@given(st.floats(min_value=-2e9, max_value=4e9, allow_nan=False))
def test_utc_day_is_the_utc_date(ts):
    from datetime import datetime, timezone

    assert utc_day(ts) == datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


async def test_two_stores_opening_a_new_file_at_once_both_open(tmp_path):
    """Switching a file to WAL needs an exclusive lock. When two connections race for
    it (two processes opening a new file together: two bots, or a bot and ``callguard
    stats``), SQLite refuses one at once, without its busy handler, to avoid a
    deadlock: opening must wait and retry like a busy write, not fail with "database
    is locked". Each store's connection has its own thread, so these really race."""
    for round_ in range(60):
        path = tmp_path / f"new{round_}.db"
        stores = await asyncio.gather(*(SQLiteStore.open(path, secret=b"s") for _ in range(3)))
        for store in stores:
            assert await on_connection(store, lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
            await store.close()


# --------------------------------------------------------------------------
# Number counts against a model (the SQL functions directly, on a plain connection)

_users = st.integers(min_value=0, max_value=3)
_report = st.tuples(st.just("report"), st.one_of(st.none(), _users, _users, _users),
                    st.lists(st.sampled_from([A, B, C]), min_size=1, max_size=2),
                    st.integers(min_value=0, max_value=40))
_operations = st.lists(st.one_of(  # mostly reports: counting is what is tested
    _report, _report, _report, _report,
    st.tuples(st.just("forget"), _users),
    st.tuples(st.just("purge"), st.integers(min_value=1, max_value=40)),
), min_size=1, max_size=40)


@given(_operations)
def test_number_counts_are_the_distinct_reporters_of_the_window(operations):
    """Whatever the order of reports, /forget and purges: "reported by N" is the number of
    distinct people (each report without a reporter one person) whose reports of the number
    fall in the window, not counting the one asking."""
    from callguard.storage.sqlite import queries, schema

    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.configure(conn, 1000)
    schema.migrate(conn)
    model: dict[str, dict[str, str]] = {n: {} for n in (A, B, C)}  # number -> person -> latest day
    key = {u: f"key{u}" for u in range(4)}
    for step, op in enumerate(operations):
        if op[0] == "report":
            _, user, numbers, ago = op
            day = utc_day(T0 - ago * DAY)
            numbers = list(dict.fromkeys(numbers))
            rid, _ = queries.insert_report(conn, T0 - ago * DAY, None if user is None else key[user],
                                           queries.report_values(make_report(numbers=tuple(numbers))), numbers, day,
                                           None)
            for n in numbers:
                person = key[user] if user is not None else f"report:{rid}"
                model[n][person] = max(model[n].get(person, day), day)
        elif op[0] == "forget":
            token = f"forgotten-{step}"  # the store draws a random one
            queries.forget(conn, key[op[1]], token)
            for people in model.values():
                if key[op[1]] in people:
                    people[token] = people.pop(key[op[1]])
        else:
            cutoff_day = utc_day(T0 - op[1] * DAY)
            queries.purge(conn, T0 - op[1] * DAY, cutoff_day)
            for people in model.values():
                for person in [p for p, d in people.items() if d < cutoff_day]:
                    del people[person]
    for days in (1, 5, 30, 41):
        since = utc_day(T0 - (days - 1) * DAY)
        for exclude in (None, *key.values()):
            expected = {n: sum(1 for p, d in people.items() if d >= since and p != exclude)
                        for n, people in model.items()}
            assert queries.number_counts(conn, [A, B, C], since, exclude) == expected, (days, exclude)
        everyone = {n: sum(1 for d in people.values() if d >= since) for n, people in model.items()}
        assert dict(queries.stats_counts(conn, 0.0, since)["numbers"]) == {n: c for n, c in everyone.items() if c}
