"""A user's /lang and /region choice: stored by pseudonym, kept across restarts, gone with /forget,
read once per user by the service."""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.config import Settings
from callguard.rulebook import RuleBook
from callguard.service import CallGuard
from callguard.storage import Preferences, ReportWriter, SQLiteStore, StorageError
from callguard.storage.sqlite.schema import MIGRATIONS
from tests.storage_support import (  # noqa: F401  (fixtures)
    T0, Clock, clock, db_path, make_report, old_database, open_store, raw, store,
)

ROOT = Path(__file__).resolve().parent.parent
ALICE, BOB = 7_000_001, 7_000_002


# --------------------------------------------------------------------------- storage


async def test_nothing_chosen_is_all_none(store):
    assert await store.get_preferences(ALICE) == Preferences()


async def test_stored_under_the_reporter_pseudonym_never_the_telegram_id(store, db_path):
    await store.set_preferences(ALICE, Preferences(lang="zh-Hant", region="TW"))
    assert await store.get_preferences(ALICE) == Preferences(lang="zh-Hant", region="TW")
    assert await store.get_preferences(BOB) == Preferences()
    with raw(db_path) as conn:
        rows = conn.execute("SELECT reporter, lang, region FROM preferences").fetchall()
    assert rows == [(store.keys.reporter(ALICE), "zh-Hant", "TW")]
    assert str(ALICE) not in rows[0][0]


async def test_setting_one_choice_keeps_the_other(store):
    await store.set_preferences(ALICE, Preferences(lang="en"))
    await store.set_preferences(ALICE, Preferences(region="HK"))
    assert await store.get_preferences(ALICE) == Preferences(lang="en", region="HK")
    await store.set_preferences(ALICE, Preferences(lang="zh-Hant"))
    assert await store.get_preferences(ALICE) == Preferences(lang="zh-Hant", region="HK")


async def test_kept_when_the_database_is_opened_again(open_store, db_path, clock):
    first = await open_store(db_path, clock=clock, secret=b"a-secret-of-enough-length")
    await first.set_preferences(ALICE, Preferences(region="SG"))
    await first.close()
    again = await open_store(db_path, clock=clock, secret=b"a-secret-of-enough-length")
    assert await again.get_preferences(ALICE) == Preferences(region="SG")


@pytest.mark.parametrize("bad", [Preferences(lang="fr"), Preferences(region="tw"), Preferences(region="TWN"),
                                 Preferences(region="'; DROP")])
async def test_invalid_values_are_refused_before_the_database(store, db_path, bad):
    with pytest.raises(ValueError, match="invalid preferences"):
        await store.set_preferences(ALICE, bad)
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM preferences").fetchone()[0] == 0


async def test_forget_deletes_the_choice_and_counts_it(store):
    await store.set_preferences(ALICE, Preferences(lang="en", region="GB"))
    await store.set_preferences(BOB, Preferences(region="AU"))
    await store.add_report(make_report(), ALICE)
    assert await store.count_user_records(ALICE) == 2  # the report and the choice
    assert await store.forget(ALICE) == 2
    assert await store.get_preferences(ALICE) == Preferences()
    assert await store.count_user_records(ALICE) == 0
    assert await store.get_preferences(BOB) == Preferences(region="AU")  # someone else's stays


async def test_migration_adds_the_table_to_an_existing_database(open_store, db_path, clock):
    old_database(db_path, 3)  # a database as the previous version left it
    s = await open_store(db_path, clock=clock)
    rid = await s.add_report(make_report(), ALICE)
    await s.set_preferences(ALICE, Preferences(region="MY"))
    assert await s.get_preferences(ALICE) == Preferences(region="MY")
    assert (await s.get_report(rid)) is not None
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 4


async def test_read_only_store_refuses_to_write_a_choice(open_store, db_path, clock):
    await open_store(db_path, clock=clock)
    readonly = await SQLiteStore.open_readonly(db_path)
    try:
        with pytest.raises(StorageError):
            await readonly.set_preferences(ALICE, Preferences(region="TW"))
    finally:
        await readonly.close()


# --------------------------------------------------------------------------- the service's cache


class CountingStore:
    """The real store, counting the preference reads that reach it."""

    def __init__(self, inner: SQLiteStore) -> None:
        self._inner = inner
        self.reads = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    async def get_preferences(self, user_id: int) -> Preferences:
        self.reads += 1
        return await self._inner.get_preferences(user_id)


@pytest.fixture
async def guard(open_store, db_path, clock):
    inner = await open_store(db_path, clock=clock)
    counting = CountingStore(inner)
    settings = Settings(token="", db_path=db_path, rules_path=ROOT / "rules" / "scam_patterns.yaml",
                        secret=b"test-secret-of-enough-length")
    service = CallGuard(settings, RuleBook.load(settings.rules_path), ReportWriter(counting))
    yield service, counting


async def test_read_once_per_user_then_from_memory(guard):
    service, store = guard
    await store.set_preferences(ALICE, Preferences(lang="zh-Hant", region="TW"))
    for _ in range(5):
        assert await service.preferences(ALICE) == Preferences(lang="zh-Hant", region="TW")
    assert await service.preferences(BOB) == Preferences()  # nothing chosen is remembered too
    assert await service.preferences(BOB) == Preferences()
    assert store.reads == 2


async def test_a_new_choice_is_used_at_once_and_stored(guard):
    service, store = guard
    await service.set_preferences(ALICE, region="HK")
    await service.set_preferences(ALICE, lang="en")
    assert await service.preferences(ALICE) == Preferences(lang="en", region="HK")
    assert store.reads == 0
    assert await store.get_preferences(ALICE) == Preferences(lang="en", region="HK")


async def test_forget_drops_the_cached_choice(guard):
    service, store = guard
    await service.set_preferences(ALICE, region="HK")
    assert await service.forget(ALICE) == 1
    assert await service.preferences(ALICE) == Preferences()
    assert await store.get_preferences(ALICE) == Preferences()


async def test_storage_down_means_nothing_chosen_and_is_asked_again(guard):
    service, store = guard
    await store.set_preferences(ALICE, Preferences(region="AU"))
    store._inner._broken = "OSError: disk I/O error"  # what check() sets when the file is gone
    assert await service.preferences(ALICE) == Preferences()
    store._inner._broken = None
    assert await service.preferences(ALICE) == Preferences(region="AU")  # not cached while down


async def test_numbers_are_read_as_the_users_region_writes_them(guard):
    service, _ = guard
    taiwan = "0912-345-678 打來說我的帳戶被凍結"
    assert service.number_regions(service.ruleset) == ("CN",)  # CALLGUARD_REGION alone
    assert service.number_regions(service.ruleset, chosen="TW") == ("TW", "CN")
    assert service.number_regions(service.ruleset, lang="zh-Hant") == ("TW", "CN")
    judged, _ = await service.judge(taiwan, user_id=ALICE)
    assert judged.numbers == ()  # a mainland reading sees no number
    judged, _ = await service.judge(taiwan, user_id=ALICE, chosen_region="TW")
    assert judged.numbers == ("+886912345678",)
    outcome = await service.assess(taiwan + "，還有 13800138000", user_id=ALICE, lang="zh-Hant", chat_type="private")
    assert outcome.numbers == ("+886912345678", "+8613800138000")  # a mainland number is still one


@pytest.mark.parametrize("lang", ["zh-Hans", "zh-Hant", "en"])
def test_privacy_says_the_choice_is_kept_until_forget(lang):
    from callguard.ocr.replies import privacy_text

    line = next(line for line in privacy_text(lang, days=365).splitlines() if "/region" in line)
    assert "/lang" in line and "/forget" in line
