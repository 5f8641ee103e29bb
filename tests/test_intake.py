"""The intake in-process: what the journal holds at start is answered once, before new updates;
a stop before the application starts hangs nothing and keeps the updates for the next start."""

from __future__ import annotations

import asyncio
import dataclasses
import json

from callguard.main import build
from callguard.telegram import intake
from callguard.telegram.journal import journal_path
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ptb import running_app

SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def verdicts_to(api: FakeBotAPI, chat_id: int) -> list[dict]:
    return [c.params for c in api.requests
            if c.method == "sendMessage" and c.ok and c.params.get("chat_id") == chat_id]


async def test_updates_left_in_the_journal_are_answered_once_at_start(settings):
    async with FakeBotAPI() as api:
        s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url, bot_file_url=api.base_file_url)
        left = api.make_message(SCAM, user_id=501, language_code="zh-hans")  # taken in by a run that then died
        journal_path(s.db_path).write_text(json.dumps({"u": left}) + "\n")
        api.push_update(left)  # ... and, never confirmed, Telegram delivers it again
        app = build(s)
        async with running_app(app):
            await api.wait_until(lambda: verdicts_to(api, 501) and api.pending_update_count == 0
                                 and app.updater.in_hand == 0, timeout=10, description="answered")
            api.push_message("hello", user_id=502)  # the bot goes on as usual
            await api.wait_until(lambda: verdicts_to(api, 502), timeout=10, description="the next one answered")
        assert len(verdicts_to(api, 501)) == 1
        assert journal_path(s.db_path).read_bytes() == b""  # nothing in hand at the stop: emptied


async def test_what_the_last_run_left_is_answered_before_new_updates(settings, monkeypatch):
    """While only a replayed update is under way, a crash is rightly counted against it (the journal
    gives up an update under way at three crashes): new updates must not crowd in meanwhile."""
    monkeypatch.setattr(intake, "REPLAY_HEAD_START", 60.0)  # the order, not the bound, on a busy machine
    async with FakeBotAPI() as api:
        s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url, bot_file_url=api.base_file_url)
        left = [api.make_message(f"{SCAM} #{uid}", user_id=uid, language_code="zh-hans") for uid in range(601, 609)]
        journal_path(s.db_path).write_text("".join(json.dumps({"u": raw}) + "\n" for raw in left))
        for uid in range(701, 709):
            api.push_message(f"{SCAM} #{uid}", user_id=uid, language_code="zh-hans")
        app = build(s)
        async with running_app(app):
            await api.wait_until(lambda: all(verdicts_to(api, uid) for uid in [*range(601, 609), *range(701, 709)]),
                                 timeout=20, description="all answered")
        order = [c.params["chat_id"] for c in api.requests if c.method == "sendMessage" and c.ok]
        assert order == [*range(601, 609), *order[8:]] and sorted(order[8:]) == list(range(701, 709))


async def test_a_stop_before_the_application_starts_keeps_the_updates_for_the_next_start(settings):
    async with FakeBotAPI() as api:
        s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url, bot_file_url=api.base_file_url)
        app = build(s)
        api.push_message(SCAM, user_id=503)
        await app.initialize()
        try:
            await app.updater.start_polling(poll_interval=0, timeout=1)
            await api.wait_until(lambda: app.updater.in_hand == 1, timeout=10, description="taken in")
            await asyncio.wait_for(app.updater.stop(), 10)  # the application never started
        finally:
            await app.shutdown()
        assert verdicts_to(api, 503) == []
        records = [json.loads(line) for line in journal_path(s.db_path).read_bytes().splitlines()]
        assert [r["u"]["message"]["chat"]["id"] for r in records if "u" in r] == [503]
        app = build(s)
        async with running_app(app):
            await api.wait_until(lambda: verdicts_to(api, 503), timeout=10, description="answered by the next start")
