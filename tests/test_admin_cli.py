"""``callguard stats | bulletin | export`` on a seeded database."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
import time
from datetime import datetime, timezone

import pytest

from callguard import cli
from callguard.storage import DAY, EXPORT_COLUMNS, Report, SQLiteStore, StorageError
from tests.admin_support import SHIPPED_RULES

NUMBER = "+8613800138000"


def seed(path, now: float) -> None:
    async def run():
        store = await SQLiteStore.open(path, secret=b"cli-test")
        plan = [("impersonate_authority", 6), ("fake_loan", 3), (None, 1)]
        n = 0
        for category, count in plan:
            for i in range(count):
                n += 1
                await store.add_report(Report(
                    text=f"=report {n}", lang="zh-Hans", numbers=(NUMBER,) if category else (),
                    scam=category is not None, risk="high" if category else "none", category=category,
                    rule=f"{category}-rule" if category else None, score=90 if category else 0,
                    ruleset_version="v1", chat_type="private", money_sent=(i == 0) if category else None,
                    created_at=now - (1 + i) * DAY), user_id=1000 + n)
        # one report long ago: outside --days 30, inside an export since 2000
        await store.add_report(Report(text="old", lang="en", numbers=(), scam=True, risk="medium",
                                      category="fake_job", rule="job", score=50, ruleset_version="v0",
                                      chat_type="private", created_at=now - 90 * DAY), user_id=1)
        await store.close()

    asyncio.run(run())


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "callguard.db"
    seed(path, time.time())
    monkeypatch.setenv("CALLGUARD_DB", str(path))
    monkeypatch.setenv("CALLGUARD_RULES", str(SHIPPED_RULES))
    return path


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_stats_table(db, capsys):
    code, out, err = run(capsys, "stats", "--days", "30", "--lang", "en")
    assert code == 0, err
    assert out.startswith("Last 30 days (") and ": 10 reports." in out
    lines = out.splitlines()
    assert any(line.split()[-2:] == ["6", "60.0%"] for line in lines)
    assert any(line.split()[-2:] == ["3", "30.0%"] for line in lines)
    assert any(line.strip().startswith("No clear scam pattern") and line.endswith("10.0%") for line in lines)
    assert "+86 138******00  9x" in out and NUMBER not in out
    assert "Money already sent when reported: 2 (20.0%)" in out
    assert "<b>" not in out


def test_stats_in_chinese_by_default(db, capsys):
    code, out, _ = run(capsys, "stats", "--days", "120")
    assert code == 0 and out.startswith("最近 120 天") and "共收到 11 条举报" in out


def test_stats_chart_writes_a_png(db, capsys, tmp_path):
    chart = tmp_path / "chart.png"
    code, out, err = run(capsys, "stats", "--days", "14", "--chart", str(chart))
    assert code == 0, err
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 10_000
    assert f"chart written to {chart}" in err


def test_chart_into_a_missing_directory_is_one_clear_line(db, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.main(["stats", "--chart", str(tmp_path / "no" / "such" / "dir" / "c.png")])
    assert str(info.value).startswith("callguard stats: cannot write")


def test_bulletin(db, capsys):
    code, out, err = run(capsys, "bulletin", "--days", "30")
    assert code == 0, err
    assert "共收到用户举报 10 件。其中：" in out and "占 60.0%" in out and "占 30.0%" in out and "占 10.0%" in out
    code, out, _ = run(capsys, "bulletin", "--days", "30", "--lang", "en")
    assert "received 10 reports" in out and "(60.0%)" in out
    code, out, _ = run(capsys, "bulletin", "--lang", "zh-Hant")
    assert "佔 60.0%" in out


def test_export_csv(db, capsys, tmp_path):
    out_file = tmp_path / "reports.csv"
    code, out, err = run(capsys, "export", "--since", "2000-01-01", "--out", str(out_file))
    assert code == 0, err
    assert "11 reports written to" in err
    with open(out_file, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == EXPORT_COLUMNS and "reporter" not in rows[0]
    assert len(rows) == 11
    assert rows[0]["text"] == "'=report 1"  # a spreadsheet will not run it as a formula
    recent = datetime.fromtimestamp(time.time() - 30 * DAY, timezone.utc).strftime("%Y-%m-%d")
    code, _, err = run(capsys, "export", "--since", recent, "--out", str(out_file))
    assert "10 reports written" in err


def test_export_to_stdout(db, capsys):
    code, out, _ = run(capsys, "export", "--since", "2000-01-01", "--out", "-")
    assert code == 0 and out.splitlines()[0] == ",".join(EXPORT_COLUMNS) and len(out.splitlines()) == 12


def test_export_masks_phone_numbers_unless_asked_for_them(db, capsys):
    """Issue 12, item 11: the export carried full numbers while stats masked them."""
    code, out, err = run(capsys, "export", "--since", "2000-01-01", "--out", "-")
    assert code == 0 and NUMBER not in out and "FULL" not in err
    assert {r["numbers"] for r in csv.DictReader(io.StringIO(out))} == {"+86138******00", ""}
    code, out, err = run(capsys, "export", "--since", "2000-01-01", "--out", "-", "--full-numbers")
    assert code == 0 and {r["numbers"] for r in csv.DictReader(io.StringIO(out))} == {NUMBER, ""}
    assert "FULL phone numbers" in err


def test_warnings_are_counted_by_the_scam_they_warn_of_and_exported(db, capsys):
    async def add_warnings():
        store = await SQLiteStore.open(db, secret=b"cli-test")
        for rule, category in [("authority-police-case", "impersonate_authority")] * 2 + [("loan-fee", "fake_loan")]:
            await store.add_report(Report(text="PSA: beware of this one", lang="en", numbers=(), scam=False,
                                          risk="none", category=None, rule=None, score=10, ruleset_version="v1",
                                          chat_type="private", created_at=time.time() - DAY, warns_of=rule,
                                          warns_of_category=category), user_id=2000)
        await store.close()

    code, out, _ = run(capsys, "stats", "--days", "30", "--lang", "en")
    assert code == 0 and "Scam warnings passed on" not in out  # none yet: no section
    asyncio.run(add_warnings())
    code, out, err = run(capsys, "stats", "--days", "30", "--lang", "en")
    assert code == 0, err
    section = out.split("Scam warnings passed on (3), by the scam they warn of:\n")[1].split("\n\n")[0]
    assert [line.split()[-2:] for line in section.splitlines()] == [["2", "66.7%"], ["1", "33.3%"]]
    code, out, err = run(capsys, "export", "--since", "2000-01-01", "--out", "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0])[-2:] == ("warns_of", "warns_of_category")
    assert [(r["warns_of"], r["warns_of_category"]) for r in rows if r["warns_of"]] == [
        ("authority-police-case", "impersonate_authority")] * 2 + [("loan-fee", "fake_loan")]


def test_reports_never_change_the_database(db, capsys):
    before = db.read_bytes()
    run(capsys, "stats")
    run(capsys, "bulletin")
    run(capsys, "export", "--since", "2000-01-01", "--out", "-")
    assert db.read_bytes() == before


@pytest.mark.parametrize("argv", [["stats"], ["bulletin"], ["export", "--since", "2026-01-01", "--out", "x.csv"]])
def test_missing_database_is_one_clear_line(argv, tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nope.db"
    monkeypatch.setenv("CALLGUARD_DB", str(missing))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    message = str(info.value)
    assert message == f"callguard {argv[0]}: no database at {missing} (set CALLGUARD_DB to the bot's database file)"
    assert not missing.exists()  # not created by asking


def test_not_a_database_is_one_clear_line(tmp_path, monkeypatch):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("CALLGUARD_DB", str(junk))
    with pytest.raises(SystemExit) as info:
        cli.main(["stats"])
    assert str(info.value).startswith(f"callguard stats: cannot read the database {junk}:")


def test_a_sqlite_file_that_is_not_ours(tmp_path, monkeypatch):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    monkeypatch.setenv("CALLGUARD_DB", str(other))
    with pytest.raises(SystemExit) as info:
        cli.main(["bulletin"])
    assert "not a CallGuard database" in str(info.value)


@pytest.mark.parametrize("argv, fragment", [(["stats", "--days", "0"], "between 1 and 36500"),
                                            (["stats", "--days", "x"], "whole number"),
                                            (["export", "--since", "28.11.2026", "--out", "-"], "YYYY-MM-DD")])
def test_bad_arguments(argv, fragment, capsys):
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert fragment in capsys.readouterr().err


def test_broken_rule_file_still_gives_stats_with_ids(db, tmp_path, monkeypatch, capsys):
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [", encoding="utf-8")
    monkeypatch.setenv("CALLGUARD_RULES", str(broken))
    code, out, err = run(capsys, "stats", "--lang", "en")
    assert code == 0 and "impersonate_authority" in out and "showing category ids" in err
    with pytest.raises(SystemExit) as info:
        cli.main(["bulletin"])
    assert "the rule file has errors" in str(info.value)


def test_readonly_store_refuses_writes(db):
    async def attempt():
        store = await SQLiteStore.open_readonly(db)
        try:
            assert (await store.stats(30)).total == 10
            with pytest.raises(StorageError, match="readonly"):
                await store.purge(1)
        finally:
            await store.close()

    asyncio.run(attempt())
