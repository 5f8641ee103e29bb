"""End-to-end checks of the fake Bot API with the real PTB Application over real HTTP."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.support.fake_bot_api import BotAPIError, FakeBotAPI, UploadedFile
from tests.support.ptb import app_builder, free_port, running_app

KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton("Scam", callback_data="verdict:scam"),
      InlineKeyboardButton("Safe", callback_data="verdict:safe")]]
)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text(f"start args={context.args}")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.effective_message.reply_text("Is it a scam?", reply_markup=KEYBOARD)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("noted")
    await query.edit_message_text(f"You chose {query.data.split(':')[1]}")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    document = update.effective_message.document
    tg_file = await document.get_file()
    data = await tg_file.download_as_bytearray()
    await update.effective_message.reply_text(f"got {document.file_name}: {bytes(data).decode()}")


async def on_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    text = f"edited: {update.edited_message.text}"
    await context.bot.send_message(update.effective_chat.id, text)


def build_app(api: FakeBotAPI):
    app = app_builder(api).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE & filters.TEXT, on_edit))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button, pattern=r"^verdict:"))
    return app


@pytest.fixture
async def api():
    async with FakeBotAPI() as server:
        yield server


# ---------------------------------------------------------------------------------- basics


async def test_get_me_via_app_bot(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:  # initialize() calls getMe
        me = await app.bot.get_me()
    assert me.is_bot and me.username == "callguard_test_bot" and me.id == 123456
    assert app.bot.username == "callguard_test_bot"
    assert api.counts["getMe"] == 2
    assert api.calls("getMe")[0].ok


async def test_echo_round_trip_and_offset_confirmation(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)):
        update = api.push_message("hello there", user_id=42, first_name="Ann", username="ann")
        call = await api.wait_for("sendMessage")
        assert call.params["chat_id"] == 42
        assert call.params["text"] == "echo: hello there"
        # reply_text quotes nothing by default in private chats; message is Telegram-shaped
        assert call.result["from"]["username"] == "callguard_test_bot"
        assert call.result["chat"] == {"id": 42, "type": "private", "first_name": "Ann",
                                       "username": "ann"}
        assert call.result["message_id"] == update["message"]["message_id"] + 1
        # PTB confirms the update with the next getUpdates offset; the fake drops it then.
        await api.wait_for(
            "getUpdates", lambda c: c.params.get("offset") == update["update_id"] + 1
        )
        assert api.pending_update_count == 0
    assert api.sent_texts(42) == ["echo: hello there"]
    assert api.sent_messages(chat_id=999) == []


async def test_command_entity_and_group_chat(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)):
        update = api.push_command("start ref42")
        assert update["message"]["entities"] == [
            {"type": "bot_command", "offset": 0, "length": 6}
        ]
        call = await api.wait_for("sendMessage")
        assert call.params["text"] == "start args=['ref42']"

        group_update = api.push_message("/start@callguard_test_bot x", chat_type="supergroup")
        group_id = group_update["message"]["chat"]["id"]
        assert group_id < 0
        call = await api.wait_for("sendMessage", lambda c: c.params["chat_id"] == group_id)
        assert call.params["text"] == "start args=['x']"


async def test_edited_message(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)):
        api.push_message("first")
        await api.wait_for("sendMessage")
        edited = api.push_edited_message("second")
        assert edited["edited_message"]["message_id"] == 1
        call = await api.wait_for("sendMessage", lambda c: c.params["text"].startswith("edited"))
        assert call.params["text"] == "edited: second"


async def test_callback_answer_and_edit(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)):
        api.push_command("/menu")
        sent = await api.wait_for("sendMessage")
        # reply_markup arrives JSON-encoded in the form body and is recorded decoded
        assert sent.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
            "verdict:scam"
        )
        assert sent.result["reply_markup"] == sent.params["reply_markup"]

        update = api.push_callback("verdict:scam", message=api.sent_messages()[0])
        assert update["callback_query"]["message"]["message_id"] == sent.result["message_id"]
        answer = await api.wait_for("answerCallbackQuery")
        assert answer.params == {
            "callback_query_id": update["callback_query"]["id"],
            "text": "noted",
        }
        edit = await api.wait_for("editMessageText")
        assert edit.ok
        assert edit.params["message_id"] == sent.result["message_id"]
        assert edit.params["text"] == "You chose scam"
        stored = api.get_message(1001, sent.result["message_id"])
        assert stored["text"] == "You chose scam" and "reply_markup" not in stored

        # default target: the last message the bot sent to that chat
        api.push_callback("verdict:safe")
        await api.wait_for("editMessageText", lambda c: c.params["text"] == "You chose safe")


async def test_raw_updates(api: FakeBotAPI) -> None:
    app = build_app(api)

    async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        width = update.effective_message.photo[-1].width
        await update.effective_message.reply_text(f"photo {width}")

    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    photo = api.register_file(b"\xff\xd8jpeg", kind="photos")
    async with running_app(app):
        api.push_update({"message": {
            "message_id": 50, "date": 1700000000,
            "chat": {"id": 9, "type": "private", "first_name": "Raw"},
            "from": {"id": 9, "is_bot": False, "first_name": "Raw"},
            "photo": [{**photo, "width": 90, "height": 90}],
        }})
        call = await api.wait_for("sendMessage")
        assert call.params["text"] == "photo 90"
        assert call.result["message_id"] == 51  # ids keep increasing after the raw one

        # a hand-written callback on a message the fake never saw: answer + edit still work
        api.push_update({"callback_query": {
            "id": "raw-cb-1", "chat_instance": "1", "data": "verdict:safe",
            "from": {"id": 9, "is_bot": False, "first_name": "Raw"},
            "message": {"message_id": 7, "date": 1700000000, "text": "Is it a scam?",
                        "chat": {"id": 9, "type": "private", "first_name": "Raw"},
                        "from": api.bot_user},
        }})
        edit = await api.wait_for("editMessageText")
        assert edit.ok and edit.params["message_id"] == 7
        assert api.calls("answerCallbackQuery")[0].ok


async def test_edit_not_modified_and_unknown_message(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        msg = await app.bot.send_message(7, "same", reply_markup=KEYBOARD)
        with pytest.raises(BadRequest, match="(?i)not modified"):
            await app.bot.edit_message_text("same", 7, msg.message_id, reply_markup=KEYBOARD)
        edited = await app.bot.edit_message_reply_markup(7, msg.message_id, reply_markup=None)
        assert edited.reply_markup is None
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await app.bot.edit_message_text("x", 7, 999)
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await app.bot.send_message(7, "")
        with pytest.raises(BadRequest, match="(?i)too long"):
            await app.bot.send_message(7, "x" * 4097)


async def test_set_my_commands_recorded(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        commands = [BotCommand("start", "Start"), BotCommand("check", "Check a number")]
        assert await app.bot.set_my_commands(commands)
        assert await app.bot.set_my_commands([BotCommand("start", "Inicio")], language_code="es")
        got = await app.bot.get_my_commands()
        assert [c.command for c in got] == ["start", "check"]
        with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
            await app.bot.set_my_commands([BotCommand("Bad-Name", "x")])
        assert await app.bot.delete_my_commands(language_code="es")
    call = api.calls("setMyCommands")[0]
    assert call.params["commands"] == [
        {"command": "start", "description": "Start"},
        {"command": "check", "description": "Check a number"},
    ]
    assert api.get_commands() == call.params["commands"]
    assert api.get_commands(language_code="es") == []


# ---------------------------------------------------------------------------------- files


async def test_send_document_multipart_recorded(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        msg = await app.bot.send_document(
            1001, document=b"line1\nline2", filename="r\u00e9port.txt", caption="report",
            reply_markup=KEYBOARD,
        )
    assert msg.document.file_name == "r\u00e9port.txt"
    assert msg.document.file_size == 11
    assert msg.caption == "report"
    call = api.calls("sendDocument")[0]
    upload = call.params["document"]
    assert isinstance(upload, UploadedFile)
    assert upload.filename == "r\u00e9port.txt"
    assert upload.content == b"line1\nline2"
    assert call.params["chat_id"] == 1001
    assert call.params["caption"] == "report"
    assert call.params["reply_markup"]["inline_keyboard"][0][1]["text"] == "Safe"


async def test_document_download_via_get_file(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)) as app:
        api.push_document("evidence.txt", b"call me back", caption="look")
        call = await api.wait_for("sendMessage")
        assert call.params["text"] == "got evidence.txt: call me back"
        get_file = api.calls("getFile")[0]
        assert get_file.result["file_path"].startswith("documents/")

        # a document the bot uploaded itself is downloadable too
        sent = await app.bot.send_document(1001, b"bot bytes", filename="out.bin")
        tg_file = await app.bot.get_file(sent.document.file_id)
        assert bytes(await tg_file.download_as_bytearray()) == b"bot bytes"
        with pytest.raises(BadRequest, match="(?i)invalid file_id"):
            await app.bot.get_file("nope")


# ---------------------------------------------------------------------------------- errors


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_fault_injection(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        api.fail_next("sendMessage", 429, retry_after=3)
        with pytest.raises(RetryAfter) as excinfo:
            await app.bot.send_message(1001, "hi")
        assert "Retry in 3 seconds" in str(excinfo.value)
        msg = await app.bot.send_message(1001, "hi again")  # only the next call failed
        assert msg.text == "hi again"
    failed, ok = api.calls("sendMessage")
    assert failed.response == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert ok.ok
    assert api.sent_texts() == ["hi again"]
    assert len(api.sent_messages(include_failed=True)) == 2


async def test_other_faults_delay_and_custom_handler(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        api.fail_next("sendMessage", 403)
        with pytest.raises(Forbidden, match="blocked"):
            await app.bot.send_message(1001, "x")
        api.fail_next("sendMessage", disconnect=True)
        with pytest.raises(NetworkError):
            await app.bot.send_message(1001, "x")

        api.set_delay("sendChatAction", 0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await app.bot.send_chat_action(1001, "typing")
        assert loop.time() - started >= 0.19
        api.set_delay("sendChatAction", None)

        def member_count(params: dict) -> int:
            if params["chat_id"] != -100:
                raise BotAPIError(400, "Bad Request: chat not found")
            return 42

        api.set_handler("getChatMemberCount", member_count)
        assert await app.bot.get_chat_member_count(-100) == 42
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await app.bot.get_chat_member_count(5)
        assert (await app.bot.get_chat(1001)).type == "private"
        assert (await app.bot.send_message(1001, "fine")).text == "fine"


async def test_wrong_token_401_and_unknown_method_404(api: FakeBotAPI) -> None:
    bot = Bot("999:WRONG", base_url=api.base_url, base_file_url=api.base_file_url)
    with pytest.raises(InvalidToken):
        async with bot:  # initialize() calls getMe; shuts the bot down again on failure
            pass
    assert api.requests == [] and len(api.unauthorized) == 1
    async with httpx.AsyncClient(trust_env=False) as client:
        resp = await client.post(f"{api.base_url}999:WRONG/getMe")
        assert resp.status_code == 401
        assert resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        resp = await client.post(f"{api.base_url}{api.token}/fooBar", data={"x": "1"})
        assert resp.status_code == 404
        assert resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert api.calls("fooBar")[0].params == {"x": 1}


async def test_wait_for_timeout_lists_received_calls(api: FakeBotAPI) -> None:
    app = build_app(api)
    async with app:
        await app.bot.send_message(5, "not what you want")
    with pytest.raises(TimeoutError) as excinfo:
        await api.wait_for("sendMessage", lambda c: c.params["text"] == "nope", timeout=0.2)
    message = str(excinfo.value)
    assert "timed out after 0.2s" in message
    assert "getMe(" in message
    assert "text='not what you want'" in message
    assert "did not match the predicate" in message


# ---------------------------------------------------------------------------------- protocol


async def test_get_updates_long_poll_semantics(api: FakeBotAPI) -> None:
    url = f"{api.base_url}{api.token}/getUpdates"
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        resp = await client.post(url, data={"timeout": "0.3"})
        assert resp.json() == {"ok": True, "result": []}
        assert 0.25 <= loop.time() - started < 2

        mark = api.mark()
        poll = asyncio.ensure_future(client.post(url, data={"timeout": "5"}))
        await api.wait_for("getUpdates", since=mark)  # the long poll is parked server-side
        first = api.push_message("a")
        resp = await asyncio.wait_for(poll, 2)  # returns as soon as something is queued
        assert [u["update_id"] for u in resp.json()["result"]] == [first["update_id"]]

        second = api.push_message("b")
        resp = await client.post(url, data={"offset": str(first["update_id"] + 1)})
        assert [u["update_id"] for u in resp.json()["result"]] == [second["update_id"]]
        assert api.pending_update_count == 1

        # a second concurrent long poll terminates the first one with 409
        resp = await client.post(url, data={"offset": str(second["update_id"] + 1)})
        assert resp.json()["result"] == []
        async with httpx.AsyncClient(trust_env=False, timeout=5) as other:
            mark = api.mark()
            older = asyncio.ensure_future(client.post(url, data={"timeout": "5"}))
            await api.wait_for("getUpdates", since=mark)
            newer = asyncio.ensure_future(other.post(url, data={"timeout": "0"}))
            assert (await asyncio.wait_for(older, 2)).status_code == 409
            assert (await newer).status_code == 200

        # while a webhook is set, getUpdates conflicts
        await client.post(f"{api.base_url}{api.token}/setWebhook", data={"url": "https://x/y"})
        resp = await client.post(url)
        assert resp.status_code == 409 and "webhook is active" in resp.json()["description"]
        info = (await client.post(f"{api.base_url}{api.token}/getWebhookInfo")).json()
        assert info["result"]["url"] == "https://x/y"


async def test_stop_is_prompt_with_inflight_long_poll() -> None:
    api = await FakeBotAPI().start()
    async with httpx.AsyncClient(trust_env=False, timeout=5) as client:
        poll = asyncio.ensure_future(
            client.post(f"{api.base_url}{api.token}/getUpdates", data={"timeout": "30"})
        )
        await api.wait_for("getUpdates")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await api.stop()
        assert loop.time() - started < 1.5
        resp = await asyncio.wait_for(poll, 2)
        assert resp.json() == {"ok": True, "result": []}


# ---------------------------------------------------------------------------------- webhook


async def test_webhook_helper_against_ptb_webhook(api: FakeBotAPI) -> None:
    port = free_port()
    hook_url = f"http://127.0.0.1:{port}/tg-hook"
    webhook = dict(
        listen="127.0.0.1", port=port, url_path="tg-hook", secret_token="s3cret",
        webhook_url=hook_url,
    )
    async with running_app(build_app(api), webhook=webhook):
        call = api.calls("setWebhook")[0]
        assert call.params["url"] == hook_url
        assert call.params["secret_token"] == "s3cret"
        assert api.webhook["secret_token"] == "s3cret"

        good = api.make_message("via webhook", user_id=77)
        status, _ = await api.post_webhook(hook_url, good)  # registered secret by default
        assert status == 200
        reply = await api.wait_for("sendMessage")
        assert reply.params == {"chat_id": 77, "text": "echo: via webhook"}

        bad = api.make_message("wrong secret", user_id=78)
        status, _ = await api.post_webhook(hook_url, bad, secret_token="nope")
        assert status == 403
        status, _ = await api.post_webhook(None, bad, secret_token=None)
        assert status == 403
        status, _ = await api.post_webhook(hook_url, bad, content_type="text/plain")
        assert status == 403
        status, _ = await api.post_webhook(hook_url, None, raw_body=b"{not json")
        assert status >= 400

        # process one more good update: PTB handles updates in order, so once its reply is
        # recorded the rejected ones would have been answered too if they had got through
        await api.post_webhook(hook_url, api.make_message("again", user_id=77))
        await api.wait_for("sendMessage", lambda c: c.params["text"] == "echo: again")
        assert api.sent_messages(78) == []
        assert [p["text"] for p in api.sent_messages()] == ["echo: via webhook", "echo: again"]


# ---------------------------------------------------------------------------------- latency


async def test_reply_latency_recording(api: FakeBotAPI) -> None:
    async with running_app(build_app(api)):
        for i in range(3):
            api.push_message(f"m{i}", user_id=500)
        api.push_message("other", user_id=501)
        await api.wait_until(lambda: len(api.sent_messages()) == 4, timeout=5)
    assert len(api.latencies) == 4
    assert all(0 < latency < 5 for latency in api.latencies)
    assert api.pending_replies == 0
    stats = api.latency_stats()
    assert stats["count"] == 4 and stats["p50"] <= stats["max"]


async def test_json_and_query_params_are_decoded(api: FakeBotAPI) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        base = f"{api.base_url}{api.token}"
        resp = await client.post(
            f"{base}/sendMessage",
            json={"chat_id": "12", "text": "123", "reply_markup": json.dumps(
                {"inline_keyboard": [[{"text": "a", "callback_data": "1"}]]})},
        )
        assert resp.json()["ok"]
        resp = await client.get(f"{base}/sendMessage?chat_id=12&text=true")
        assert resp.json()["result"]["text"] == "true"
    first, second = api.sent_messages(12)
    assert first["chat_id"] == 12 and first["text"] == "123"
    assert first["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"
    assert second == {"chat_id": 12, "text": "true"}
