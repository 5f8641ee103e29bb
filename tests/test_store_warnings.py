"""Reports worded as a warning about a scam keep what they warn of (schema migration 5).

"PSA: beware of callers claiming to be ..." is not itself a scam, so it is stored as "not a
scam, no category"; admins still want to see which scams people warn each other of. The
report keeps the warned-of rule and its category (``Report.warns_of``), /stats counts them
by that category, the export has both columns at its end, and a database made before the
columns existed is migrated in place."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from callguard import storage
from callguard.config import Settings
from callguard.rulebook import RuleBook
from callguard.service import CallGuard
from callguard.storage import DAY, EXPORT_COLUMNS, NO_CATEGORY, ReportWriter, SQLiteStore, write_csv
from callguard.storage.sqlite.schema import MIGRATIONS
from tests.storage_support import (  # noqa: F401  (fixtures)
    T0, Clock, clock, db_path, make_report, old_database, open_store, raw, store,
)

ROOT = Path(__file__).resolve().parent.parent

# Scam stories worded as warnings (the shipped rules call them "not a scam" and name the story).
WARNINGS = [
    ("提醒大家：电话局的人说我的手机号被用来诈骗，要停机，然后把我转接给另一位警官做笔录", "zh-Hans"),
    ("PSA: Mum got a call that her phone line would be cut off, then they put her through to another officer "
     "and she told him her online banking password", "en"),
]
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def warning(rule: str = "authority-police-case", category: str = "impersonate_authority", **overrides):
    """A report of a message worded as a warning about the scam of ``rule``."""
    values = dict(text="PSA: beware of callers claiming to be the police", numbers=(), scam=False, risk="none",
                  category=None, rule=None, score=10, warns_of=rule, warns_of_category=category)
    return make_report(**{**values, **overrides})


# --------------------------------------------------------------------------- storage


async def test_stored_read_and_a_plain_report_has_none(store):
    warned = await store.add_report(warning(), 1)
    plain = await store.add_report(make_report(), 1)
    got = await store.get_report(warned)
    assert (got.scam, got.category, got.warns_of, got.warns_of_category) == (
        False, None, "authority-police-case", "impersonate_authority")
    got = await store.get_report(plain)
    assert (got.warns_of, got.warns_of_category) == (None, None)


@pytest.mark.parametrize("bad", [dict(warns_of=""), dict(warns_of=3), dict(warns_of=None)])
def test_invalid_values_are_rejected_before_sql(bad):
    with pytest.raises(ValueError, match="warns_of"):
        warning(**bad).validate()


async def test_a_database_from_before_warnings_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    old_database(path, 4,  # the schema as it shipped before warns_of
                 ("""INSERT INTO reports (created_at, reporter, text, lang, scam, risk, category, rule, score,
                                          ruleset_version, chat_type, source, from_image)
                     VALUES (?, NULL, 'an old warning', 'en', 0, 'none', NULL, NULL, 10, 'v0', 'private',
                             'message', 1)""", (T0 - DAY,)))
    store = await SQLiteStore.open(path, secret=b"k", clock=Clock())
    try:
        [old] = await store.export_rows(0)
        assert old["text"] == "an old warning" and old["from_image"] is True
        assert (old["warns_of"], old["warns_of_category"]) == (None, None)  # not known then: not made up
        assert (await store.get_report(old["id"])).warns_of is None
        new = await store.add_report(warning(), 7)
        assert (await store.get_report(new)).warns_of == "authority-police-case"
        stats = await store.stats(7)
        assert stats.total == 2 and stats.warnings_by_category == [("impersonate_authority", 1, 100.0)]
    finally:
        await store.close()
    with raw(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 5  # and any later step
        columns = {row[1] for row in conn.execute("PRAGMA table_info(reports)")}
    assert {"warns_of", "warns_of_category"} <= columns


# --------------------------------------------------------------------------- the service's record path


@pytest.fixture
async def guard(open_store, db_path, clock):
    store = await open_store(db_path, clock=clock)
    settings = Settings(token="", db_path=db_path, rules_path=ROOT / "rules" / "scam_patterns.yaml",
                        secret=b"test-secret-of-enough-length")
    return CallGuard(settings, RuleBook.load(settings.rules_path), ReportWriter(store)), store


@pytest.mark.parametrize("text, lang", WARNINGS)
async def test_a_warning_is_recorded_with_the_scam_it_warns_of(guard, text, lang):
    service, store = guard
    verdict = service.detector.check(text)
    assert not verdict.scam and verdict.category is None and verdict.warns_of is not None  # the premise
    story = next(r for r in service.ruleset.rules if r.id == verdict.warns_of)

    outcome = await service.assess(text, user_id=1, lang=lang, chat_type="private")
    report = await store.get_report(outcome.report_id)
    assert (report.scam, report.category, report.rule) == (False, None, None)
    assert (report.warns_of, report.warns_of_category) == (verdict.warns_of, story.category)
    assert (await store.stats(1)).warnings_by_category == [(story.category, 1, 100.0)]


async def test_a_scam_and_a_judged_verdict_recorded_later_carry_no_warning(guard):
    service, store = guard
    outcome = await service.assess(SCAM, user_id=1, lang="zh-Hans", chat_type="private")
    report = await store.get_report(outcome.report_id)
    assert report.scam and (report.warns_of, report.warns_of_category) == (None, None)
    # A group chat judges first and records later (CallGuard.record): the same fields.
    judged, detector = await service.judge(WARNINGS[0][0], user_id=2)
    outcome = await service.record(WARNINGS[0][0], judged.verdict, detector, user_id=2, lang="zh-Hans",
                                   chat_type="group")
    assert judged.verdict.warns_of is not None
    assert (await store.get_report(outcome.report_id)).warns_of == judged.verdict.warns_of


# --------------------------------------------------------------------------- statistics and export


async def test_stats_count_warnings_by_the_category_warned_of(store):
    assert (await store.stats(7)).warnings_by_category == []
    for _ in range(3):
        await store.add_report(warning(), 1)
    await store.add_report(warning(rule="cs-refund-membership", category="impersonate_customer_service"), 2)
    await store.add_report(warning(rule="phish-link", category="phishing", created_at=T0 - 10 * DAY), 3)  # too old
    await store.add_report(make_report(), 4)  # a scam: not a warning
    await store.add_report(make_report(scam=False, risk="none", category=None, rule=None, score=0), 5)

    stats = await store.stats(7)
    assert stats.total == 6
    assert stats.warnings_by_category == [("impersonate_authority", 3, 75.0), ("impersonate_customer_service", 1, 25.0)]
    # Every report is still in by_category under its verdict's category: a warning has none.
    assert stats.by_category == [(NO_CATEGORY, 5, 83.3), ("impersonate_authority", 1, 16.7)]
    assert (await store.stats(30)).warnings_by_category[-1] == ("phishing", 1, 20.0)


async def test_the_chart_counts_warnings_apart_from_no_clear_pattern(store):
    """Per day (``callguard stats --chart``): a warning passed on is its own bucket, not
    "no clear scam pattern", whatever its own verdict's category."""
    for _ in range(2):
        await store.add_report(warning(), 1)
    # A warning whose own verdict named a (low-risk) category still counts as a warning.
    await store.add_report(make_report(scam=False, risk="low", category="phishing", rule="phish-link", score=30,
                                       warns_of="authority-police-case",
                                       warns_of_category="impersonate_authority"), 2)
    await store.add_report(make_report(), 3)  # a scam
    await store.add_report(make_report(scam=False, risk="none", category=None, rule=None, score=0), 4)
    rows = await store.daily_counts(1)
    by_bucket = {category: n for _, category, n in rows}
    assert by_bucket == {storage.WARNINGS: 3, "impersonate_authority": 1, NO_CATEGORY: 1}


async def test_export_has_the_warning_columns_at_the_end(store):
    warned = await store.add_report(warning(), 1)
    plain = await store.add_report(make_report(), 1)
    assert EXPORT_COLUMNS[-2:] == ("warns_of", "warns_of_category")
    assert EXPORT_COLUMNS.index("from_image") == 16  # the columns that were there keep their place

    out = io.StringIO(newline="")
    assert write_csv(await store.export_rows(0), out) == 2
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(out.getvalue(), newline=""))}
    assert list(rows[warned])[-2:] == ["warns_of", "warns_of_category"]
    assert (rows[warned]["warns_of"], rows[warned]["warns_of_category"]) == (
        "authority-police-case", "impersonate_authority")
    assert (rows[warned]["scam"], rows[warned]["category"]) == ("false", "")
    assert (rows[plain]["warns_of"], rows[plain]["warns_of_category"]) == ("", "")
