"""CallGuard end to end in private chats: the real PTB application over real HTTP
against the fake Bot API, with reports in a real SQLite file.

Each test checks both sides of the conversation: what the bot sent (text, parse
mode, buttons) and what it stored."""

from __future__ import annotations

import asyncio
import functools
import html
import logging

import pytest

from callguard.ocr import replies as picture_texts
from callguard.telegram.app import COMMANDS
from tests.e2e.helpers import (
    BENIGN_EN,
    BENIGN_HANS,
    SCAM_EN,
    SCAM_HANS,
    SCAM_HANT,
    button_data,
    buttons,
    eventually,
    idle,
    replies_to,
    reply,
    report_id_of,
    shipped_region,
    ui,
)

CATEGORY = "impersonate_authority"


def category_name(guard, lang: str, category: str = CATEGORY) -> str:
    return guard.detector.ruleset.categories[category].name[lang]


async def rows(guard) -> list[dict]:
    return await guard.writer.store.export_rows(0)


# ------------------------------------------------------------------ commands


@pytest.mark.parametrize("language_code, lang", [
    ("zh-hans", "zh-Hans"), ("zh-hant", "zh-Hant"), ("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("en", "en"),
    ("de", "en"),
])
async def test_start_welcomes_in_the_users_language(bot_env, language_code, lang):
    api, app, guard = bot_env
    api.push_command("/start", user_id=11, language_code=language_code)
    sent = (await reply(api, 11)).params
    assert sent["text"] == ui("welcome", lang) + "\n\n" + ui("example", lang)
    assert sent.get("parse_mode") is None and "reply_markup" not in sent
    assert await rows(guard) == []


@pytest.mark.parametrize("command, expected", [
    ("/help", lambda lang, region: picture_texts.help_text(lang, reading=False, region=region)),  # no pictures
    ("/privacy", lambda lang, region: picture_texts.privacy_text(lang, days=365)),
])
@pytest.mark.parametrize("language_code, lang", [("zh-hans", "zh-Hans"), ("zh-TW", "zh-Hant"), ("en", "en")])
async def test_help_and_privacy(bot_env, command, expected, language_code, lang):
    api, app, guard = bot_env
    api.push_command(command, user_id=12, language_code=language_code)
    sent = (await reply(api, 12)).params
    # Help names the police number of the user's region: zh-TW -> Taiwan, Simplified -> CALLGUARD_REGION
    # (CN); an English client gets no mainland number, only "your local emergency number".
    region = {"zh-TW": "TW", "zh-hans": "CN"}.get(language_code)
    assert sent["text"] == expected(lang, shipped_region(region) if region else None)
    assert await rows(guard) == []


async def test_lang_buttons_then_choice_changes_later_verdicts(bot_env):
    api, app, guard = bot_env
    api.push_command("/lang", user_id=13, language_code="zh-hans")
    picker = await reply(api, 13)
    assert picker.params["text"] == ui("lang.pick", "zh-Hans")
    assert buttons(picker.params) == [[("简体中文", "l:zh-Hans"), ("繁體中文", "l:zh-Hant"), ("English", "l:en")]]

    mark = api.mark()
    api.push_callback("l:en", user_id=13, message=picker, language_code="zh-hans")
    await api.wait_for("answerCallbackQuery", since=mark)
    edit = await api.wait_for("editMessageText", since=mark)
    assert edit.params["text"] == ui("lang.set", "en")
    assert edit.params["message_id"] == api.message_for(picker)["message_id"]
    # Then the region is offered as buttons, in the chosen language.
    offer = (await reply(api, 13, mark)).params
    assert offer["text"] == ui("region.pick", "en")
    assert [data for row in buttons(offer) for _, data in row] == [
        f"g:{code}" for code in guard.detector.ruleset.regions]

    # A Chinese description from a Chinese-language client is now answered in English.
    mark = api.mark()
    api.push_message(SCAM_HANS, user_id=13, language_code="zh-hans")
    verdict = (await reply(api, 13, mark)).params
    assert verdict["text"].startswith("<b>" + ui("risk.high", "en") + "</b>")
    assert f"Type: {category_name(guard, 'en')}" in verdict["text"]
    assert ("🚨 I already sent money", button_data(verdict, "m:")) in buttons(verdict)[0]
    [row] = await rows(guard)
    assert row["lang"] == "en" and row["text"] == SCAM_HANS

    # ... and the choice can be changed again.
    mark = api.mark()
    api.push_command("/lang", user_id=13, language_code="zh-hans")
    picker = await reply(api, 13, mark)
    assert picker.params["text"] == ui("lang.pick", "en")
    api.push_callback("l:zh-Hant", user_id=13, message=picker)
    await api.wait_for("editMessageText", lambda c: c.params["text"] == ui("lang.set", "zh-Hant"), since=mark)
    await api.wait_for("sendMessage", lambda c: c.params["text"] == ui("region.pick", "zh-Hant"), since=mark)
    mark = api.mark()
    api.push_message(SCAM_EN, user_id=13)
    assert (await reply(api, 13, mark)).params["text"].startswith("<b>" + ui("risk.high", "zh-Hant"))


async def test_unknown_command(bot_env):
    api, app, guard = bot_env
    api.push_command("/frobnicate now", user_id=14, language_code="zh-hans")
    assert (await reply(api, 14)).params["text"] == ui("unknown_command", "zh-Hans")
    api.push_command("/cancel", user_id=14, language_code="en")
    assert (await replies_to(api, 14, 2))[1]["text"] == ui("nothing_to_cancel", "en")
    assert await rows(guard) == []


async def test_command_menu_registered_in_english_and_chinese(bot_env):
    api, app, guard = bot_env
    default = api.get_commands()
    chinese = api.get_commands(language_code="zh")
    assert [c["command"] for c in default] == list(COMMANDS) == [c["command"] for c in chinese]
    assert default[0]["description"] == ui("cmd.start", "en")
    assert [c["description"] for c in chinese] == [ui(f"cmd.{name}", "zh-Hans") for name in COMMANDS]


# ------------------------------------------------------------------ descriptions


async def test_scam_description_gets_verdict_buttons_and_a_report_row(bot_env):
    api, app, guard = bot_env
    api.push_message(SCAM_HANS, user_id=21, language_code="zh-hans")
    sent = (await reply(api, 21)).params
    text = sent["text"]
    ruleset = guard.detector.ruleset
    assert sent["parse_mode"] == "HTML"
    assert text.startswith("<b>" + ui("risk.high", "zh-Hans") + "</b>")           # the verdict first
    assert f"类型：{category_name(guard, 'zh-Hans')}" in text                         # the scam type
    assert "露出破绽的话：" in text and "“通信管理局”" in text                           # evidence, quoted
    assert "<b>现在就做</b>\n1. " in text                                             # the steps
    assert ruleset.texts["warning"]["zh-Hans"] in text                                # the general warning
    assert "reply_parameters" not in sent  # private chat: no quote

    [row] = await rows(guard)
    rid = row["id"]
    sig = functools.partial(guard.button_signature, report_id=rid, user_id=21)  # only user 21 can use them
    assert buttons(sent) == [
        [("🚨 我已经转了钱", f"m:{rid}:{sig('m')}")],
        [("👪 提醒家人", f"f:{CATEGORY}")],
        [("👍 有帮助", f"h:{rid}:{sig('h')}"), ("👎 判断有误", f"w:{rid}:{sig('w')}")],
    ]
    assert row["text"] == SCAM_HANS and row["scam"] is True and row["risk"] == "high"
    assert row["category"] == CATEGORY and row["rule"] and row["score"] >= 70
    assert (row["lang"], row["chat_type"], row["source"]) == ("zh-Hans", "private", "message")
    assert row["money_sent"] is None and row["feedback"] is None
    assert row["ruleset_version"] == guard.detector.version


@pytest.mark.parametrize("text, lang", [(BENIGN_HANS, "zh-Hans"), (BENIGN_EN, "en")])
async def test_benign_description_gets_calm_reply(bot_env, text, lang):
    api, app, guard = bot_env
    api.push_message(text, user_id=22, language_code="zh-hans")
    sent = (await reply(api, 22)).params
    assert sent["parse_mode"] == "HTML"
    assert sent["text"].startswith("<b>" + ui("risk.none", lang) + "</b>")  # what was checked, no tick
    assert ui("ask.who", lang) in sent["text"] and ui("ask.what", lang) in sent["text"]
    assert "⚠️" not in sent["text"] and "✅" not in sent["text"]
    [row] = await rows(guard)
    assert row["scam"] is False and row["risk"] == "none" and row["category"] is None and row["lang"] == lang
    rid = row["id"]
    # No "warn my family" for a call that is not a scam; the emergency path stays.
    assert [[data.rsplit(":", 1)[0] for _, data in r] for r in buttons(sent)] == [
        [f"m:{rid}"], [f"h:{rid}", f"w:{rid}"]]


@pytest.mark.parametrize("text, language_code, lang", [
    (SCAM_HANT, "en", "zh-Hant"),   # the text's script wins over the client's language
    (SCAM_EN, "zh-hans", "en"),
])
async def test_traditional_chinese_and_english_descriptions(bot_env, text, language_code, lang):
    api, app, guard = bot_env
    api.push_message(text, user_id=23, language_code=language_code)
    sent = (await reply(api, 23)).params
    assert sent["text"].startswith("<b>" + ui("risk.high", lang) + "</b>")
    name = category_name(guard, lang)
    assert (f"Type: {name}" if lang == "en" else f"類型：{name}") in sent["text"]
    assert guard.detector.ruleset.texts["warning"][lang] in sent["text"]
    assert buttons(sent)[1] == [(ui("button.warn_family", lang), f"f:{CATEGORY}")]
    [row] = await rows(guard)
    assert row["lang"] == lang and row["scam"] is True and row["category"] == CATEGORY


async def test_edited_message_is_judged_again(bot_env):
    api, app, guard = bot_env
    api.push_message(BENIGN_HANS, user_id=24, language_code="zh-hans")
    first = (await reply(api, 24)).params
    assert first["text"].startswith("<b>" + ui("risk.none", "zh-Hans"))
    mark = api.mark()
    api.push_edited_message(SCAM_HANS, user_id=24)
    second = (await reply(api, 24, mark)).params
    assert second["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    assert [(r["text"], r["scam"]) for r in await rows(guard)] == [(BENIGN_HANS, False), (SCAM_HANS, True)]


# ------------------------------------------------------------------ non-text messages

STICKER = {"sticker": {"file_id": "CAACAgIAAxkBAAI-sticker", "file_unique_id": "AgADsticker", "width": 512,
                       "height": 512, "is_animated": False, "is_video": False, "type": "regular"}}
VOICE = {"voice": {"file_id": "AwACAgIAAxkBAAI-voice", "file_unique_id": "AgADvoice", "duration": 7}}
LOCATION = {"location": {"latitude": 31.23, "longitude": 121.47}}


# Photos (captioned or not): tests/e2e/test_pictures.py.
@pytest.mark.parametrize("extra", [STICKER, VOICE, LOCATION], ids=["sticker", "voice", "location"])
async def test_non_text_messages_ask_for_words(bot_env, extra):
    api, app, guard = bot_env
    api.push_message(None, user_id=25, language_code="zh-TW", extra=extra)
    sent = (await reply(api, 25)).params
    assert sent["text"] == ui("need_words", "zh-Hant")
    await idle(api, app)
    assert api.sent_texts(25) == [ui("need_words", "zh-Hant")]
    assert await rows(guard) == []


async def test_blank_text_asks_for_words(bot_env):
    api, app, guard = bot_env
    api.push_message("  ……  ？？", user_id=27, language_code="en")
    assert (await reply(api, 27)).params["text"] == ui("need_words", "en")
    assert await rows(guard) == []


# ------------------------------------------------------------------ buttons under a verdict


async def _scam_verdict(api, user_id: int, text: str = SCAM_HANS, language_code: str = "zh-hans"):
    mark = api.mark()
    api.push_message(text, user_id=user_id, language_code=language_code)
    return await reply(api, user_id, mark)


async def test_emergency_button_sends_steps_at_once_and_marks_money_sent(bot_env):
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 31)
    rid = report_id_of(verdict.params)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "m:"), user_id=31, message=verdict, language_code="zh-hans")
    emergency = await reply(api, 31, mark)
    # Nothing else comes first: the steps are the very next message to the user.
    assert [c.method for c in api.requests[mark:] if c.method != "getUpdates"][:2] == [
        "answerCallbackQuery", "sendMessage"]
    text = emergency.params["text"]
    assert emergency.params["parse_mode"] == "HTML"
    assert text.startswith("<b>" + ui("emergency.title", "zh-Hans") + "</b>\n1. ")
    for needle in ("110", "96110", "银行", "证据"):
        assert needle in text, needle
    assert text.index("110") < text.index("96110")  # police first

    async def marked():
        return (await rows(guard))[0]["money_sent"] is True
    await eventually(marked, what="money_sent=1 in the report row")
    [row] = await rows(guard)
    assert row["id"] == rid and row["scam"] is True


@pytest.mark.parametrize("lang, language_code", [("en", "en"), ("zh-Hant", "zh-TW")])
async def test_emergency_steps_in_other_languages(bot_env, lang, language_code):
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 32, text=SCAM_EN if lang == "en" else SCAM_HANT, language_code=language_code)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "m:"), user_id=32, message=verdict, language_code=language_code)
    text = (await reply(api, 32, mark)).params["text"]
    assert text.startswith("<b>" + ui("emergency.title", lang))
    if lang == "en":  # no hint of a region, and CALLGUARD_REGION (CN) assumes Chinese: generic steps
        assert "110" not in text and "local emergency number" in text and "bank" in text and "/region" in text
    else:  # a Taiwanese client: Taiwan's anti-fraud line, not the mainland's
        assert "165" in text and "110" in text and "96110" not in text and "銀行" in text


async def test_warn_family_sends_a_forwardable_warning_naming_the_scam(bot_env):
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 33)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "f:"), user_id=33, message=verdict, language_code="zh-hans")
    await api.wait_for("answerCallbackQuery", since=mark)
    warning = (await reply(api, 33, mark)).params
    category = guard.detector.ruleset.categories[CATEGORY]
    assert warning["text"].startswith(ui("family.title", "zh-Hans") + "\n")
    assert html.escape(f"{category.name['zh-Hans']}：{category.how['zh-Hans']}", quote=False) in warning["text"]
    assert warning["text"].endswith(ui("family.tail", "zh-Hans", region="CN"))
    # Standalone: not a reply, no buttons, nothing about the user; ready to forward.
    assert "reply_markup" not in warning and "reply_parameters" not in warning
    assert len(await rows(guard)) == 1


async def test_feedback_helpful_is_stored_and_the_feedback_row_removed(bot_env):
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 34)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "h:"), user_id=34, message=verdict, language_code="zh-hans")
    answer = await api.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == ui("feedback.thanks", "zh-Hans")
    edit = await api.wait_for("editMessageReplyMarkup", since=mark)
    kept = [[b["callback_data"] for b in row] for row in edit.params["reply_markup"]["inline_keyboard"]]
    assert kept == [[button_data(verdict.params, "m:")], [f"f:{CATEGORY}"]]
    message = api.message_for(verdict)
    assert api.get_message(34, message["message_id"])["reply_markup"] == edit.params["reply_markup"]
    await idle(api, app)
    assert api.sent_messages(34) == [verdict.params]  # no prompt after "helpful"
    [row] = await rows(guard)
    assert row["feedback"] == "helpful" and row["feedback_comment"] is None


async def test_feedback_wrong_asks_why_and_the_answer_is_a_comment_not_a_report(bot_env):
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 35)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "w:"), user_id=35, message=verdict, language_code="zh-hans")
    prompt = await reply(api, 35, mark)
    assert prompt.params["text"] == ui("feedback.ask", "zh-Hans")
    assert prompt.params["reply_markup"] == {"force_reply": True, "selective": True}
    edit = await api.wait_for("editMessageReplyMarkup", since=mark)
    assert [[b["callback_data"] for b in r] for r in edit.params["reply_markup"]["inline_keyboard"]] == [
        [button_data(verdict.params, "m:")], [f"f:{CATEGORY}"]]

    # The reply to the prompt is stored as the comment; it is not judged as a new report
    # (judged, its "safe account" would earn it a scam verdict).
    comment = "其实是我自己的银行打来的，不是让我转到安全账户"
    mark = api.mark()
    api.push_message(comment, user_id=35, language_code="zh-hans", reply_to=prompt.params)
    thanks = (await reply(api, 35, mark)).params
    assert thanks["text"] == ui("feedback.comment_thanks", "zh-Hans")
    [row] = await rows(guard)
    assert row["feedback"] == "wrong" and row["feedback_comment"] == comment

    # After that, messages are descriptions again.
    mark = api.mark()
    api.push_message(SCAM_HANS, user_id=35, language_code="zh-hans", reply_to=prompt.params)
    assert (await reply(api, 35, mark)).params["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    assert len(await rows(guard)) == 2


async def test_feedback_wrong_on_a_benign_verdict_asks_nothing(bot_env):
    api, app, guard = bot_env
    api.push_message(BENIGN_EN, user_id=36)
    verdict = await reply(api, 36)
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "w:"), user_id=36, message=verdict)
    await api.wait_for("editMessageReplyMarkup", since=mark)
    await idle(api, app)
    assert len(api.sent_messages(36)) == 1
    [row] = await rows(guard)
    assert row["feedback"] == "wrong" and row["feedback_comment"] is None


async def test_double_tap_on_a_button_is_harmless(bot_env):
    """Two presses before the bot edited the keyboard: the second edit would change
    nothing, which Telegram refuses; that must not turn into an apology."""
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 38)
    api.push_callback(button_data(verdict.params, "h:"), user_id=38, message=verdict)
    api.push_callback(button_data(verdict.params, "h:"), user_id=38, message=verdict)
    await eventually(lambda: len(api.calls("answerCallbackQuery")) == 2, what="both presses answered")
    await idle(api, app)
    assert api.sent_messages(38) == [verdict.params]  # no "sorry, something went wrong"
    [row] = await rows(guard)
    assert row["feedback"] == "helpful"

    mark = api.mark()
    api.push_command("/lang", user_id=38)
    picker = await reply(api, 38, mark)
    api.push_callback("l:en", user_id=38, message=picker)
    api.push_callback("l:en", user_id=38, message=picker)
    await eventually(lambda: len(api.calls("answerCallbackQuery")) == 4, what="both language presses answered")
    await idle(api, app)
    assert api.sent_texts(38)[-2:] == [ui("lang.pick", "en"), ui("region.pick", "en")]  # the region offered once


async def test_buttons_on_a_message_too_old_to_read(bot_env):
    """Telegram sends an "inaccessible message" (date 0, no keyboard) for old messages."""
    api, app, guard = bot_env
    verdict = await _scam_verdict(api, 39)
    old = {"message_id": api.message_for(verdict)["message_id"], "chat": {"id": 39, "type": "private"}, "date": 0}
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "w:"), user_id=39, message=old)
    answer = await api.wait_for("answerCallbackQuery", since=mark)
    assert answer.params["text"] == ui("feedback.thanks", "en")
    await idle(api, app)
    assert ui("error", "en") not in api.sent_texts(39)
    [row] = await rows(guard)
    assert row["feedback"] == "wrong"
    mark = api.mark()
    api.push_callback(button_data(verdict.params, "m:"), user_id=39, message=old)
    assert (await reply(api, 39, mark)).params["text"].startswith("<b>" + ui("emergency.title", "en"))


async def test_nobody_can_press_the_buttons_of_someone_elses_report(bot_env):
    """Report ids are sequential: user B can type A's callback data (or copy it exactly) into a
    press of their own. B gets a neutral answer, and A's report gets no feedback and no
    "money sent"; A's own presses still work."""
    api, app, guard = bot_env
    a, b = 71, 72
    a_verdict = await _scam_verdict(api, a)
    b_verdict = await _scam_verdict(api, b)
    rid_a = report_id_of(a_verdict.params)
    forged = [button_data(a_verdict.params, prefix) for prefix in ("h:", "w:", "m:")]  # A's exact data
    forged += [f"h:{rid_a}", f"w:{rid_a}", f"m:{rid_a}"]                               # unsigned, as before
    b_sig = button_data(b_verdict.params, "w:").rsplit(":", 1)[1]
    forged += [f"w:{rid_a}:{b_sig}", f"h:{rid_a}:{b_sig}"]                             # B's own signature
    forged += [f"w:{rid_a}:{button_data(a_verdict.params, 'h:').rsplit(':', 1)[1]}"]  # A's, of another button
    mark = api.mark()
    for data in forged:
        api.push_callback(data, user_id=b, message=b_verdict, language_code="zh-hans")
    await eventually(lambda: len(api.calls("answerCallbackQuery")) == len(forged), what="every press answered")
    await idle(api, app)
    answers = [c.params for c in api.requests[mark:] if c.method == "answerCallbackQuery"]
    assert all("text" not in answer for answer in answers), answers  # neutral: no "thanks for your feedback"
    assert not [c for c in api.requests[mark:] if c.method.startswith("edit")]  # B's keyboard stays as it was
    # "I already sent money" still shows B the emergency steps (they help anyone), nothing else.
    assert {t.split("\n", 1)[0] for t in api.sent_texts(b)[1:]} == {f"<b>{ui('emergency.title', 'zh-Hans')}</b>"}
    row_a, row_b = await rows(guard)
    assert row_a["id"] == rid_a
    assert (row_a["feedback"], row_a["feedback_comment"], row_a["money_sent"]) == (None, None, None)
    assert (row_b["feedback"], row_b["money_sent"]) == (None, None)
    # B never got the "what was wrong?" prompt, so B's next message is a description, not A's comment.
    mark = api.mark()
    api.push_message("其实是我自己的银行打来的", user_id=b, language_code="zh-hans")
    assert (await reply(api, b, mark)).params["text"].startswith("<b>")
    assert (await rows(guard))[0]["feedback_comment"] is None

    # A's own buttons work.
    mark = api.mark()
    api.push_callback(button_data(a_verdict.params, "m:"), user_id=a, message=a_verdict)
    api.push_callback(button_data(a_verdict.params, "h:"), user_id=a, message=a_verdict)
    answer = await api.wait_for("answerCallbackQuery", lambda c: c.params.get("text"), since=mark)
    assert answer.params["text"] == ui("feedback.thanks", "en")

    async def a_marked():
        row = (await rows(guard))[0]
        return row["money_sent"] is True and row["feedback"] == "helpful"
    await eventually(a_marked, what="A's report marked by A's own presses")


@pytest.mark.parametrize("data", [
    "nonsense", "m:abc", "h:", "w:-1", "l:fr", "x:maybe", "f:Not Allowed!", "r:y", "m:" + "9" * 70, None,
])
async def test_malformed_callback_data_is_answered_and_nothing_else(bot_env, data):
    api, app, guard = bot_env
    api.push_message(SCAM_HANS, user_id=37, language_code="zh-hans")
    verdict = await reply(api, 37)
    mark = api.mark()
    api.push_callback(data, user_id=37, message=verdict)
    answer = await api.wait_for("answerCallbackQuery", since=mark)
    assert answer.ok and "text" not in answer.params
    await idle(api, app)
    assert [c.method for c in api.requests[mark:] if c.method != "getUpdates"] == ["answerCallbackQuery"]
    [row] = await rows(guard)
    assert row["feedback"] is None and row["money_sent"] is None


# ------------------------------------------------------------------ /report


REPORT_ANSWERS = ("13800138000", "通信管理局", "说我的号码要被冻结，让我把钱转到安全账户")


@pytest.mark.parametrize("how, money_sent", [
    ("button:y", True), ("button:n", False), ("是的，已经转了", True), ("还没有", False), ("yes", True), ("no", False),
])
async def test_report_conversation(bot_env, how, money_sent):
    api, app, guard = bot_env
    uid = 41
    api.push_command("/report", user_id=uid, language_code="zh-hans")
    questions = []
    for answer, question in zip((*REPORT_ANSWERS, None), ("report.number", "report.who", "report.asked", "report.money")):
        prompt = (await replies_to(api, uid, len(questions) + 1))[-1]
        assert prompt["text"] == ui(question, "zh-Hans")
        questions.append(prompt)
        if answer is not None:
            api.push_message(answer, user_id=uid, language_code="zh-hans")
    assert buttons(questions[-1]) == [[(ui("yes", "zh-Hans"), "r:y"), (ui("no", "zh-Hans"), "r:n")]]

    mark = api.mark()
    if how.startswith("button:"):
        api.push_callback("r:" + how[-1], user_id=uid, language_code="zh-hans")
        await api.wait_for("answerCallbackQuery", since=mark)
    else:
        api.push_message(how, user_id=uid, language_code="zh-hans")
    final = await replies_to(api, uid, 2 if money_sent else 1, since=mark)
    if money_sent:  # the verdict, then the emergency steps
        verdict, emergency = final
        assert emergency["text"].startswith("<b>" + ui("emergency.title", "zh-Hans"))
        assert "96110" in emergency["text"]
    else:
        [verdict] = final
    assert verdict["parse_mode"] == "HTML"
    assert verdict["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    [row] = await rows(guard)
    assert row["source"] == "report" and row["money_sent"] is money_sent
    assert row["numbers"] == "+8613800138000"
    story = ui("report.story", "zh-Hans", number=REPORT_ANSWERS[0], who=REPORT_ANSWERS[1], asked=REPORT_ANSWERS[2])
    assert row["text"].startswith(story)  # the answers judged together, as one story
    assert row["scam"] is True and row["category"] == CATEGORY
    assert report_id_of(verdict) == row["id"]
    await idle(api, app)
    assert len(api.sent_messages(uid)) == 4 + len(final)

    # The conversation is over: the next message is an ordinary description.
    mark = api.mark()
    api.push_message(BENIGN_HANS, user_id=uid, language_code="zh-hans")
    assert (await reply(api, uid, mark)).params["text"].startswith("<b>" + ui("risk.none", "zh-Hans"))
    assert [r["source"] for r in await rows(guard)] == ["report", "message"]


async def test_report_cancel_in_the_middle_stores_nothing(bot_env):
    api, app, guard = bot_env
    uid = 42
    api.push_command("/report", user_id=uid, language_code="en")
    await replies_to(api, uid, 1)
    api.push_message("+86 138 0013 8000", user_id=uid, language_code="en")
    assert (await replies_to(api, uid, 2))[-1]["text"] == ui("report.who", "en")
    api.push_message(None, user_id=uid, language_code="en", extra=STICKER)  # not words: asked again, same step
    assert (await replies_to(api, uid, 3))[-1]["text"] == ui("need_words", "en")
    api.push_command("/cancel", user_id=uid, language_code="en")
    assert (await replies_to(api, uid, 4))[-1]["text"] == ui("report.cancelled", "en")
    await idle(api, app)
    assert await rows(guard) == []
    # The next text is a description, not the answer to "who".
    api.push_message(BENIGN_EN, user_id=uid, language_code="en")
    assert (await replies_to(api, uid, 5))[-1]["text"].startswith("<b>" + ui("risk.none", "en"))
    [row] = await rows(guard)
    assert row["source"] == "message" and row["text"] == BENIGN_EN


# ------------------------------------------------------------------ phone numbers


async def test_number_reported_before_is_counted_never_who(bot_env):
    api, app, guard = bot_env
    first = "13800138000 打来电话，" + SCAM_HANS
    api.push_message(first, user_id=51, first_name="Alice", last_name="Wong", username="alice_w",
                     language_code="zh-hans")
    sent = (await reply(api, 51)).params
    assert "13800138000" not in sent["text"] and "138 0013 8000" not in sent["text"]  # nobody reported it before

    mark = api.mark()
    api.push_message("刚才 +86 138 0013 8000 打电话，说我的号码要被冻结", user_id=52, first_name="Bob",
                     language_code="zh-hans")
    text = (await reply(api, 52, mark)).params["text"]
    assert ui("number.seen", "zh-Hans", number="+86 138 0013 8000", count=1) in text
    for secret in ("Alice", "Wong", "alice_w", "51"):
        assert secret not in text

    mark = api.mark()
    api.push_message("Missed call from +8613800138000, is it a scam?", user_id=53, language_code="en")
    text = (await reply(api, 53, mark)).params["text"]
    assert ui("number.seen", "en", number="+86 138 0013 8000", count=2) in text
    assert [r["numbers"] for r in await rows(guard)] == ["+8613800138000"] * 3


async def test_one_user_reporting_a_number_many_times_is_one_person(bot_env):
    """Issue 12, item 5: ten reports by one user made the next one read "reported 10 times"."""
    api, app, guard = bot_env
    text = "13800138000 打来电话，" + SCAM_HANS
    for _ in range(5):
        mark = api.mark()
        api.push_message(text, user_id=61, language_code="zh-hans")
        own = (await reply(api, 61, mark)).params["text"]
        assert "138 0013 8000" not in own  # never counted for themselves
    mark = api.mark()
    api.push_message(text, user_id=62, language_code="zh-hans")
    seen = ui("number.seen", "zh-Hans", number="+86 138 0013 8000", count=1)
    assert seen in (await reply(api, 62, mark)).params["text"]


# ------------------------------------------------------------------ robustness


async def test_per_user_rate_limit(make_bot):
    api, app, guard = await make_bot(rate_limit=3)
    for i in range(6):
        api.push_message(f"{BENIGN_HANS} {i}", user_id=61, language_code="zh-hans")
    api.push_message(BENIGN_EN, user_id=62, language_code="en")
    assert (await reply(api, 62)).params["text"].startswith("<b>" + ui("risk.none", "en"))
    await replies_to(api, 61, 4)
    await idle(api, app)
    texts = api.sent_texts(61)
    assert len(texts) == 4  # three answers, one polite notice, then silence
    assert all(t.startswith("<b>" + ui("risk.none", "zh-Hans")) for t in texts[:3])
    assert texts[3] == ui("rate_limited", "zh-Hans", region="CN")
    assert len(await rows(guard)) == 4  # user 61's three + user 62's one
    # Buttons are limited too: the notice was sent for this window, so a press is dropped
    # unanswered (a flood of presses must not become a flood of answerCallbackQuery calls).
    mark = api.mark()
    api.push_callback(button_data(api.sent_messages(61)[0], "m:"), user_id=61, message=api.sent_messages(61)[0])
    await idle(api, app)
    assert [c.method for c in api.requests[mark:] if c.method != "getUpdates"] == []
    assert api.sent_texts(61) == texts


async def test_handler_error_apologises_logs_and_the_bot_goes_on(bot_env, caplog, monkeypatch):
    api, app, guard = bot_env
    real_assess = guard.assess
    calls = 0

    async def flaky(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("detector exploded")
        return await real_assess(*args, **kwargs)

    monkeypatch.setattr(guard, "assess", flaky)
    caplog.set_level(logging.ERROR, logger="callguard.telegram.app")
    api.push_message(SCAM_HANS, user_id=71, language_code="zh-hans")
    apology = (await reply(api, 71)).params
    assert apology["text"] == ui("error", "zh-Hans", region="CN")
    [record] = [r for r in caplog.records if r.name == "callguard.telegram.app" and r.levelno == logging.ERROR]
    assert "detector exploded" in record.getMessage()
    assert "Traceback (most recent call last)" in record.getMessage() and "in flaky" in record.getMessage()
    assert await rows(guard) == []

    mark = api.mark()
    api.push_message(SCAM_HANS, user_id=71, language_code="zh-hans")
    assert (await reply(api, 71, mark)).params["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    assert len(await rows(guard)) == 1


async def test_send_failure_is_survived(bot_env, caplog):
    """Telegram refusing one reply (user blocked the bot) is logged, not fatal."""
    api, app, guard = bot_env
    caplog.set_level(logging.ERROR, logger="callguard.telegram.app")
    api.fail_next("sendMessage", 403, times=2)  # the verdict and the apology both fail
    api.push_message(SCAM_HANS, user_id=72, language_code="zh-hans")
    await eventually(lambda: api.counts["sendMessage"] >= 2, what="the failed verdict and apology")
    await idle(api, app)
    assert "Forbidden" in caplog.text
    assert len(await rows(guard)) == 1  # the report was stored before the reply failed
    mark = api.mark()
    api.push_message(BENIGN_HANS, user_id=72, language_code="zh-hans")
    assert (await reply(api, 72, mark)).ok


@pytest.mark.filterwarnings("ignore:Deprecated since version v22.2:DeprecationWarning")  # inside PTB's limiter
async def test_flood_control_retries_after_telegrams_429(make_bot):
    """With outgoing flood control on (CALLGUARD_SEND_RATE > 0), a 429 from Telegram is
    waited out and the reply sent again; the user never sees an error."""
    api, app, guard = await make_bot(send_rate=30)
    api.fail_next("sendMessage", 429, retry_after=1)
    api.push_message(SCAM_HANS, user_id=75, language_code="zh-hans")
    sent = await api.wait_for("sendMessage", lambda c: c.params["chat_id"] == 75 and c.ok, timeout=10)
    first = api.calls("sendMessage")[0]
    assert first.response["error_code"] == 429 and sent.at - first.at >= 1.0
    assert sent.params["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    await idle(api, app)
    assert len(api.calls("sendMessage")) == 2 and len(await rows(guard)) == 1


async def test_one_users_flood_does_not_delay_other_users(make_bot, monkeypatch):
    """Updates of one user run one after another; that queue must not take the
    processing slots that other users need (concurrency=4 here, 8 queued updates).

    User 81's checks wait on an event that opens only once user 82 has been answered:
    if 81's queue held every slot, 82 would never be served and `reply` times out.
    (A first version slept 0.1 s per update and failed on a loaded CI machine, where
    82's one reply took longer than 81's eight sleeps.)"""
    api, app, guard = await make_bot(concurrency=4)
    real_assess = guard.assess
    others_served = asyncio.Event()

    async def held_for_81(text, *, user_id, **kwargs):
        if user_id == 81:
            await others_served.wait()
        return await real_assess(text, user_id=user_id, **kwargs)

    monkeypatch.setattr(guard, "assess", held_for_81)
    for i in range(8):
        api.push_message(f"{BENIGN_EN} {i}", user_id=81)
    await eventually(lambda: app.update_processor.current_concurrent_updates >= 1, what="user 81 being served")
    api.push_message(BENIGN_EN, user_id=82)
    await reply(api, 82)
    assert api.sent_messages(81) == []
    others_served.set()
    texts = [p["text"] for p in await replies_to(api, 81, 8)]
    assert len(texts) == 8  # in order, nothing lost
    assert [r["text"] for r in await rows(guard) if r["text"] != BENIGN_EN] == [f"{BENIGN_EN} {i}" for i in range(8)]
