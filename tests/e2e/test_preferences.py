"""Issue 11, section 2, end to end: the /lang and /region a user chose survive a restart of the
bot on the same database, are gone after /forget, and local numbers are read the way the
user's region writes them. The real bot over HTTP against the fake Bot API."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager

from callguard.main import build
from callguard.ocr import replies as picture_texts
from tests.e2e.helpers import buttons, db_rows, reply, shipped_region, ui
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ptb import running_app

USER = 5_150


@asynccontextmanager
async def bot(settings):
    """One run of the bot on ``settings.db_path``: stopped (as at a restart) when the block ends."""
    async with FakeBotAPI() as api:
        app = build(dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url,
                                        bot_file_url=api.base_file_url))
        async with running_app(app):
            yield api, app.bot_data["guard"]


async def press(api: FakeBotAPI, data: str, message: dict) -> dict:
    mark = api.mark()
    api.push_callback(data, user_id=USER, message=message)
    return (await api.wait_for("editMessageText", since=mark)).params


async def help_text(api: FakeBotAPI) -> str:
    mark = api.mark()
    api.push_command("/help", user_id=USER, language_code="en")
    return (await reply(api, USER, mark)).params["text"]


async def test_chosen_language_and_region_survive_a_restart_until_forget(settings):
    async with bot(settings) as (api, guard):
        api.push_command("/lang", user_id=USER, language_code="en")
        picker = await reply(api, USER)
        mark = api.mark()
        api.push_callback("l:zh-Hant", user_id=USER, message=picker)
        regions = await reply(api, USER, mark)  # after /lang, the region is offered as buttons
        assert regions.params["text"] == ui("region.pick", "zh-Hant")
        assert ("香港", "g:HK") in [b for row in buttons(regions.params) for b in row]
        assert (await press(api, "g:HK", regions))["text"] == ui("region.set", "zh-Hant", region="HK", name="香港")

    [row] = db_rows(settings.db_path, "SELECT * FROM preferences")
    assert (row["lang"], row["region"]) == ("zh-Hant", "HK") and str(USER) not in row["reporter"]

    async with bot(settings) as (api, guard):  # restarted: same database, nothing in memory
        assert await help_text(api) == picture_texts.help_text("zh-Hant", reading=False,
                                                               region=shipped_region("HK"))
        mark = api.mark()
        api.push_command("/forget", user_id=USER, language_code="en")
        prompt = (await reply(api, USER, mark)).params
        assert prompt["text"] == ui("forget.confirm", "zh-Hant", count=1)  # the choice is a record too
        assert (await press(api, "x:y", prompt))["text"] == ui("forget.done", "zh-Hant", count=1)
        assert await help_text(api) == picture_texts.help_text("en", reading=False, region=None)

    assert db_rows(settings.db_path, "SELECT * FROM preferences") == []
    async with bot(settings) as (api, guard):  # and it does not come back after the next restart
        assert await help_text(api) == picture_texts.help_text("en", reading=False, region=None)


async def test_a_local_number_is_read_as_the_users_region_writes_it(settings):
    english = "0912-345-678 called, they said my bank account is frozen"
    async with bot(settings) as (api, guard):
        api.push_message(english, user_id=USER, language_code="en")  # CALLGUARD_REGION=CN: no number there
        await reply(api, USER)
        mark = api.mark()
        api.push_command("/region", user_id=USER, language_code="en")
        await press(api, "g:TW", (await reply(api, USER, mark)).params)
        mark = api.mark()
        api.push_message("0912-345-678", user_id=USER, language_code="en")  # a number alone: what we know of it
        answer = (await reply(api, USER, mark)).params["text"]
        mark = api.mark()  # someone who chose no region, writing Traditional Chinese: Taiwan's way too
        api.push_message("0912-345-678 打來說我的帳戶被凍結", user_id=USER + 1, language_code="en")
        await reply(api, USER + 1, mark)
    rows = db_rows(settings.db_path, "SELECT r.id, n.number FROM reports r LEFT JOIN report_numbers n "
                                     "ON n.report_id = r.id ORDER BY r.id")
    assert [r["number"] for r in rows] == [None, "+886912345678", "+886912345678"]
    assert ui("number.unseen", "en", number="+886 912 345 678") in answer
