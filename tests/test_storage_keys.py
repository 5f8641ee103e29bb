"""The reporter key lives outside the database (issue 12, item 10).

From the database file alone, a reporter's Telegram id was recovered in 1.5 s:
the HMAC key sat in the ``meta`` table. Now it is CALLGUARD_SECRET or a key
file beside the database (mode 0600, created atomically); a key found in an
older database is moved out with every hash still valid, and a key that cannot
be moved out is reported loudly at every start.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import stat
from pathlib import Path

import pytest

from callguard.config import Settings
from callguard.storage import SQLiteStore, StorageError, default_key_file
from callguard.storage.keys import KeyFileError, ReporterKeys, read_key_file, write_key_file
from callguard.storage.sqlite.schema import MIGRATIONS
from tests.storage_support import clock, db_path, make_report, open_store, raw  # noqa: F401  (fixtures)

OLD_SECRET = bytes(range(32))


def reporter_of(secret: bytes, user_id: int) -> str:
    return hmac.new(secret, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


def meta_keys(path) -> set[str]:
    with raw(path) as conn:
        return {k for (k,) in conn.execute("SELECT key FROM meta")}


def old_database(path, secret: bytes = OLD_SECRET) -> None:
    """A database as versions before the key file left it: the key in ``meta``, one report by user 42."""
    with raw(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        for sql in MIGRATIONS[0]:
            conn.execute(sql)
        conn.execute("PRAGMA user_version = 1")
        conn.execute("INSERT INTO meta VALUES ('reporter_secret', ?)", (secret,))
        conn.execute("INSERT INTO reports (created_at, reporter, text, lang, scam, risk, score, ruleset_version, "
                     "chat_type, source) VALUES (1.7e9, ?, 'old report', 'en', 1, 'high', 90, 'v', 'private', "
                     "'message')", (reporter_of(secret, 42),))


def file_bytes(path) -> bytes:
    """The database file and its WAL, as someone who copied them would have them."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


async def test_a_new_database_keeps_its_key_in_a_0600_file_beside_it(open_store, db_path):
    s = await open_store(db_path)
    await s.add_report(make_report(), 42)
    key_file = db_path.with_name("callguard.key")
    assert default_key_file(db_path) == key_file and key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = read_key_file(key_file)
    assert s.reporter_key(42) == reporter_of(secret, 42)
    assert "reporter_secret" not in meta_keys(db_path)
    assert secret not in file_bytes(db_path) and secret.hex().encode() not in file_bytes(db_path)
    await s.close()
    again = await open_store(db_path)
    assert again.reporter_key(42) == reporter_of(secret, 42)


async def test_the_key_in_an_old_database_is_moved_out_and_hashes_stay_valid(open_store, db_path, caplog):
    old_database(db_path)
    assert OLD_SECRET in file_bytes(db_path)
    s = await open_store(db_path)
    assert read_key_file(db_path.with_name("callguard.key")) == OLD_SECRET
    assert "reporter_secret" not in meta_keys(db_path)
    assert await s.count_user_records(42) == 1  # /forget still finds the reports hashed before
    await s.close()
    assert OLD_SECRET not in file_bytes(db_path)  # not in a free page, not in the WAL
    assert "moved the reporter key out of the database" in caplog.text


async def test_a_key_that_cannot_be_moved_out_stays_working_and_is_reported_loudly(open_store, db_path, tmp_path,
                                                                                   caplog):
    old_database(db_path)
    unwritable = tmp_path / "no-such-folder" / "callguard.key"
    for _ in range(2):  # at every start
        s = await open_store(db_path, key_file=unwritable)
        assert await s.count_user_records(42) == 1
        await s.close()
    loud = [r for r in caplog.records if "SECURITY" in r.getMessage()]
    assert len(loud) == 2 and all(r.levelno == logging.ERROR for r in loud)
    assert "cannot be written" in loud[0].getMessage()
    assert "reporter_secret" in meta_keys(db_path)
    unwritable.parent.mkdir()
    s = await open_store(db_path, key_file=unwritable)  # fixed: moved out at the next start
    assert read_key_file(unwritable) == OLD_SECRET and "reporter_secret" not in meta_keys(db_path)
    assert await s.count_user_records(42) == 1


async def test_with_callguard_secret_an_old_key_is_still_moved_out_of_the_database(open_store, db_path):
    old_database(db_path)
    secret = b"0123456789abcdef0123456789abcdef"
    s = await open_store(db_path, secret=secret)
    assert s.reporter_key(7) == reporter_of(secret, 7)
    assert read_key_file(db_path.with_name("callguard.key")) == OLD_SECRET  # kept, outside the database
    assert "reporter_secret" not in meta_keys(db_path)


async def test_stores_opening_a_new_database_together_agree_on_one_key(tmp_path):
    path = tmp_path / "new.db"
    stores = await asyncio.gather(*(SQLiteStore.open(path) for _ in range(4)))
    try:
        assert len({s.reporter_key(42) for s in stores}) == 1
        assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []
    finally:
        for s in stores:
            await s.close()


async def test_a_damaged_key_file_is_never_replaced(open_store, db_path):
    key_file = db_path.with_name("callguard.key")
    key_file.write_text("not a key\n")
    with pytest.raises(KeyFileError, match="not a CallGuard key file"):
        await open_store(db_path)
    assert key_file.read_text() == "not a key\n"


async def test_a_key_file_others_can_read_is_warned_about(open_store, db_path, caplog):
    await (await open_store(db_path)).close()
    key_file = db_path.with_name("callguard.key")
    key_file.chmod(0o644)
    await open_store(db_path)
    assert "can be read by other users" in caplog.text


async def test_an_unwritable_key_file_for_a_new_database_is_a_storage_outage(open_store, db_path, tmp_path):
    """No key can be kept: nothing is stored (the writer queues and retries), nothing put in the database."""
    with pytest.raises(StorageError):
        await open_store(db_path, key_file=tmp_path / "missing" / "callguard.key")
    assert "reporter_secret" not in meta_keys(db_path)


def test_a_short_callguard_secret_is_warned_about(caplog):
    from callguard.storage.keys import choose_secret

    choose_secret(b"short", None, None)
    assert "CALLGUARD_SECRET has only 5 characters" in caplog.text


def test_write_key_file_keeps_the_first_key(tmp_path):
    path = tmp_path / "k.key"
    assert write_key_file(path, b"a" * 32) == b"a" * 32
    assert write_key_file(path, b"b" * 32) == b"a" * 32  # exists: the other process's key wins
    assert read_key_file(path) == b"a" * 32


def test_log_tags_are_keyed_and_not_the_stored_reporter_value():
    keys = ReporterKeys(OLD_SECRET)
    tag = keys.log_tag(1001)
    assert tag.startswith("user#") and "1001" not in tag
    assert tag == keys.log_tag(1001) != keys.log_tag(1002) != ReporterKeys(b"x" * 32).log_tag(1001)
    assert tag[len("user#"):] not in keys.reporter(1001)


def test_key_file_setting(tmp_path):
    settings = Settings.from_env({"CALLGUARD_SECRET_FILE": str(tmp_path / "k.key")})
    assert settings.secret_file == tmp_path / "k.key" and settings.secret is None
    assert Settings.from_env({}).secret_file is None
    assert default_key_file("data/bot.sqlite3") == Path("data/bot.key")
    assert default_key_file("callguard.db") == Path("callguard.key")  # `rm callguard.db*` leaves it alone
    assert default_key_file("x.key") == Path("x.key.key") and default_key_file(":memory:") is None
