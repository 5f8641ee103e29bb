"""Reports read from a picture are marked as such (schema migration 3): the recognised
text is stored with a flag, never the picture; a database made before the flag existed
is migrated in place, its reports marked as typed."""

from __future__ import annotations

import sqlite3

import pytest

from callguard.storage import Report
from callguard.storage.sqlite import SQLiteStore
from callguard.storage.sqlite.schema import MIGRATIONS
from tests.storage_support import old_database


def report(**overrides) -> Report:
    values = dict(text="【通信管理局】您的手机号码涉嫌发\n送违法短信", lang="zh-Hans", numbers=(), scam=True, risk="high",
                  category="impersonate_authority", rule="authority-telecom-freeze", score=90,
                  ruleset_version="v1", chat_type="private")
    return Report(**{**values, **overrides})


async def test_the_flag_is_stored_read_and_exported(tmp_path):
    store = await SQLiteStore.open(tmp_path / "db.sqlite", secret=b"k")
    try:
        typed = await store.add_report(report(text="typed"), 1)
        read = await store.add_report(report(from_image=True), 1)
        assert (await store.get_report(typed)).from_image is False
        assert (await store.get_report(read)).from_image is True
        rows = {r["id"]: r for r in await store.export_rows(0)}
        assert (rows[typed]["from_image"], rows[read]["from_image"]) == (False, True)
        assert rows[read]["text"] == report().text
    finally:
        await store.close()
    with pytest.raises(ValueError, match="from_image"):
        report(from_image="yes").validate()


async def test_a_database_from_before_the_flag_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    old_database(path, 2,  # the schema as it shipped before pictures
                 ("""INSERT INTO reports (created_at, reporter, text, lang, scam, risk, category, rule, score,
                                          ruleset_version, chat_type, source)
                     VALUES (1.7e9, NULL, 'an old report', 'en', 0, 'none', NULL, NULL, 0, 'v0', 'private', 'message')""", ()))
    store = await SQLiteStore.open(path, secret=b"k")
    try:
        [old] = await store.export_rows(0)
        assert old["text"] == "an old report" and old["from_image"] is False
        new = await store.add_report(report(from_image=True), 7)
        assert (await store.get_report(new)).from_image is True
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 3  # and any later step
    conn.close()
