"""Pictures end to end: a screenshot arrives as a Telegram photo or image file, the bot
downloads it from the fake Bot API (getFile + file URL), reads it in the shared OCR
pool, answers with the verdict quoting the lines that gave it away, and stores the
recognised text marked as coming from a picture.

OCR costs one to two seconds of CPU per screenshot, so only a few tests here read
a real one (bench/bench_ocr.py reads hundreds); the others use pictures without
text (read in a fraction of a second) or never reach the engine.
"""

from __future__ import annotations

import io
import re

import pytest

from callguard.ocr import replies as picture_texts
from callguard.ocr.image import MAX_BYTES
from tests.e2e.helpers import SCAM_HANS, idle, replies_to, reply, shipped_region, ui
from tests.support.fake_bot_api import BOT_USERNAME
from tests.support.screenshots import SAMPLES, Style, cjk_font_path, render

GROUP = -100_888
SAMPLE = {s.id: s for s in SAMPLES}


def screenshot(sample_id: str, style: Style = Style()):
    if cjk_font_path() is None:
        pytest.skip("no CJK font to draw screenshots with (apt-get install fonts-wqy-microhei)")
    return render(SAMPLE[sample_id], style)


def blank_png(width: int = 720, height: int = 1280) -> bytes:
    """A picture without a single word, as far as OCR can tell."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (250, 250, 250)).save(buffer, format="PNG")
    return buffer.getvalue()


def pt(key: str, lang: str, region: str | None = None) -> str:
    """A picture text; ``region`` (a code of the shipped rules) fills its ``{police}``."""
    return picture_texts.text(key, lang, region=shipped_region(region) if region else None)


async def rows(guard) -> list[dict]:
    return await guard.writer.store.export_rows(0)


@pytest.fixture
async def ocr_bot(make_bot, ocr_pool):
    return await make_bot(ocr=ocr_pool)


# ------------------------------------------------------------------ private chats


async def test_a_scam_sms_screenshot_gets_the_verdict_quoting_its_lines(ocr_bot):
    api, app, guard = ocr_bot
    shot = screenshot("sms-freeze-hans", Style(width=1080, jpeg_quality=85))
    update = api.push_photo((b"a thumbnail the bot must not fetch", 90, 160), (shot.data, *shot.size),
                            user_id=301, language_code="en")
    sent = (await reply(api, 301, timeout=60)).params
    text = sent["text"]
    assert text.startswith("<b>" + ui("risk.high", "zh-Hans")), text  # in the language of the picture's text
    assert f"<b>{pt('picture.quoted', 'zh-Hans')}</b>\n“【通信管理局】您的手机号码涉嫌发送违法短信" in text, text
    # The wrapped lines of the bubble are quoted as one passage, rejoined as they read; a phrase
    # found across a wrap is shown without the line break (no "涉嫌发 送").
    assert "“【通信管理局】您的手机号码涉嫌发送违法短信，将在2小时内停机冻结。" in text, text
    evidence = next(line for line in text.split("\n") if line.startswith(ui("evidence", "zh-Hans")))
    assert not re.search(r"[\u4e00-\u9fff]\s[\u4e00-\u9fff]", evidence), evidence
    assert sent["reply_markup"]["inline_keyboard"]  # the same buttons as for a typed description
    # Only the full-size picture was fetched; the person saw "typing..." meanwhile.
    assert [c.params["file_id"] for c in api.calls("getFile")] == [update["message"]["photo"][-1]["file_id"]]
    assert [c.params["action"] for c in api.calls("sendChatAction")] == ["typing"]
    [row] = await rows(guard)
    assert row["scam"] is True and row["category"] == "impersonate_authority" and row["from_image"] is True
    assert "【通信管理局】您的手机号码涉嫌发\n送违法短信" in row["text"]  # the recognised lines, not the picture


async def test_an_image_file_with_a_caption_is_judged_with_its_caption(ocr_bot):
    """A screenshot sent as a file (uncompressed PNG); the caption is read with it."""
    api, app, guard = ocr_bot
    shot = screenshot("chat-kid-hant", Style(width=828))
    api.push_document("IMG_2041.png", shot.data, caption="這是真的嗎？", user_id=302, language_code="zh-TW")
    text = (await reply(api, 302, timeout=60)).params["text"]
    assert text.startswith("<b>" + ui("risk.high", "zh-Hant")), text
    assert f"<b>{pt('picture.quoted', 'zh-Hant')}</b>\n“" in text and "車禍" in text, text
    [row] = await rows(guard)
    assert row["text"].startswith("這是真的嗎？\n") and "車禍" in row["text"] and row["from_image"] is True


async def test_a_picture_without_words_asks_for_them_or_judges_the_caption(ocr_bot):
    api, app, guard = ocr_bot
    api.push_photo((blank_png(), 720, 1280), user_id=303, language_code="zh-hans")
    assert (await reply(api, 303, timeout=60)).params["text"] == pt("picture.no_text", "zh-Hans")
    assert await rows(guard) == []
    mark = api.mark()
    api.push_photo((blank_png(), 720, 1280), caption=SCAM_HANS, user_id=303, language_code="zh-hans")
    text = (await reply(api, 303, since=mark, timeout=60)).params["text"]
    assert text.startswith("<b>" + ui("risk.high", "zh-Hans")) and pt("picture.caption_only", "zh-Hans") in text
    [row] = await rows(guard)
    assert row["text"] == SCAM_HANS and row["from_image"] is False  # nothing was read from the picture


async def test_pictures_over_the_bounds_are_refused_before_download(ocr_bot):
    api, app, guard = ocr_bot
    huge = {"file_id": "AgACAgIAAxkBAAI-huge", "file_unique_id": "AQADhuge", "width": 12_000, "height": 9_000,
            "file_size": 900_000}
    api.push_message(None, user_id=304, language_code="en", extra={"photo": [huge]})
    assert (await reply(api, 304)).params["text"] == pt("picture.too_big", "en")
    mark = api.mark()
    document = api.make_document("scan.png", b"x", user_id=304, language_code="en")
    document["message"]["document"]["file_size"] = MAX_BYTES + 1
    api.push_update(document)
    assert (await reply(api, 304, since=mark)).params["text"] == pt("picture.too_big", "en")
    assert api.calls("getFile") == [] and await rows(guard) == []


async def test_a_file_that_is_not_a_picture_is_answered_clearly(ocr_bot):
    api, app, guard = ocr_bot
    api.push_document("photo.jpg", b"\xff\xd8\xff\xe0 not really a JPEG", user_id=305, language_code="en")
    assert (await reply(api, 305, timeout=30)).params["text"] == pt("picture.unreadable", "en")
    mark = api.mark()
    api.push_document("notes.png", b"hello", user_id=305, language_code="en")
    assert (await reply(api, 305, since=mark, timeout=30)).params["text"] == pt("picture.unreadable", "en")
    assert await rows(guard) == []


async def test_a_failed_download_is_answered_and_loses_nothing(ocr_bot):
    api, app, guard = ocr_bot
    api.fail_next("getFile", error_code=400, description="Bad Request: file is too big")
    api.push_photo((blank_png(), 720, 1280), user_id=306, language_code="en")
    assert (await reply(api, 306)).params["text"] == pt("picture.failed", "en")  # English: "your local emergency number"
    api.push_message(SCAM_HANS, user_id=306)  # the next message is served as usual
    await idle(api, app)
    assert len(await rows(guard)) == 1


async def test_pictures_have_a_tighter_limit_than_text(make_bot, ocr_pool):
    api, app, guard = await make_bot(ocr=ocr_pool, image_rate_limit=1)
    api.push_photo((blank_png(), 720, 1280), user_id=307, language_code="en")
    assert (await reply(api, 307, timeout=60)).params["text"] == pt("picture.no_text", "en")
    for _ in range(3):
        api.push_photo((blank_png(), 720, 1280), user_id=307, language_code="en")
    api.push_message(SCAM_HANS, user_id=307)  # text is still welcome
    await replies_to(api, 307, 3, timeout=30)
    await idle(api, app, timeout=30)
    texts = api.sent_texts(307)
    assert texts[1] == pt("picture.rate_limited", "en") and texts[2].startswith("<b>" + ui("risk.high", "zh-Hans"))
    assert len(texts) == 3 and len(api.calls("getFile")) == 1  # one notice, then silence; nothing downloaded


async def test_without_the_ocr_engine_pictures_get_the_old_answer_and_one_line(bot_env):
    api, app, guard = bot_env  # a bot that does not read pictures
    api.push_photo((blank_png(90, 160), 90, 160), user_id=308, language_code="zh-TW")
    assert (await reply(api, 308)).params["text"] == ui("need_words", "zh-Hant") + "\n\n" + pt("picture.not_here",
                                                                                                 "zh-Hant")
    mark = api.mark()
    api.push_photo((blank_png(90, 160), 90, 160), caption=SCAM_HANS, user_id=308, language_code="zh-TW")
    text = (await reply(api, 308, since=mark)).params["text"]
    assert text.startswith("<b>" + ui("risk.high", "zh-Hans")) and pt("picture.not_here_caption", "zh-Hans") in text
    assert api.calls("getFile") == []
    [row] = await rows(guard)
    assert row["text"] == SCAM_HANS


@pytest.mark.parametrize("reading", [True, False], ids=["reading", "not-reading"])
async def test_help_and_privacy_say_what_happens_to_pictures_and_voice(make_bot, ocr_pool, reading):
    api, app, guard = await make_bot(ocr=ocr_pool if reading else None)
    api.push_command("/help", user_id=309, language_code="en")
    help_text = (await reply(api, 309)).params["text"]
    assert (pt("help.pictures", "en") in help_text) == reading and pt("help.voice", "en") in help_text
    assert help_text.startswith(ui("help", "en").split("\n\n")[0])
    mark = api.mark()
    api.push_command("/privacy", user_id=309, language_code="en")
    privacy = (await reply(api, 309, since=mark)).params["text"]
    assert pt("privacy.pictures", "en") in privacy and "365" in privacy


# ------------------------------------------------------------------ groups


async def test_group_picture_of_a_clear_scam_is_answered_and_others_are_not(ocr_bot):
    api, app, guard = ocr_bot
    shot = screenshot("chat-boss-hans", Style(width=720, dark=True, jpeg_quality=80))
    api.push_photo((blank_png(), 720, 1280), user_id=310, chat_id=GROUP, chat_type="group")
    await idle(api, app, timeout=60)
    assert api.sent_messages() == [] and await rows(guard) == []  # nothing to say: silence
    api.push_photo((shot.data, *shot.size), user_id=310, chat_id=GROUP, chat_type="group")
    sent = (await reply(api, GROUP, timeout=60)).params
    assert sent["text"].startswith("<b>" + ui("risk.high", "zh-Hans")) and "我是你领导" in sent["text"]
    assert sent["reply_parameters"]["message_id"]  # quoting the picture it is about
    assert api.calls("sendChatAction") == []  # no "typing..." in a group that did not ask
    [row] = await rows(guard)
    assert row["chat_type"] == "group" and "我是你领导" in row["text"]


async def test_group_picture_addressed_to_the_bot_is_always_answered(ocr_bot):
    api, app, guard = ocr_bot
    mention = f"@{BOT_USERNAME}"
    caption = f"{mention} 这个是真的吗"
    api.push_photo((blank_png(), 720, 1280), caption=caption, user_id=311, chat_id=GROUP, chat_type="group",
                   language_code="zh-hans", extra={"caption_entities": [
                       {"type": "mention", "offset": 0, "length": len(mention)}]})
    sent = (await reply(api, GROUP, timeout=60)).params
    assert sent["text"].startswith("<b>") and "⚠️" not in sent["text"], sent["text"]  # a verdict, not a scam
    assert pt("picture.caption_only", "zh-Hans") in sent["text"]  # no words in the picture: the caption alone
    [row] = await rows(guard)
    assert row["text"] == "这个是真的吗"
