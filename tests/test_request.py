"""JSONRequest: PTB's HTTP client with application/json bodies (bot/telegram/request.py)."""

from __future__ import annotations

import datetime
import json

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest, RequestData
from telegram.request._requestparameter import RequestParameter

from callguard.telegram.request import JSONRequest

BOT_USER = {"id": 1, "is_bot": True, "first_name": "CallGuard", "username": "callguard_test_bot"}


def _request(handler) -> JSONRequest:
    return JSONRequest(connection_pool_size=2, httpx_kwargs={"transport": httpx.MockTransport(handler)})


def _data(**params) -> RequestData:
    return RequestData([RequestParameter.from_input(k, v) for k, v in params.items()])


def _recording(result) -> tuple[JSONRequest, list[httpx.Request]]:
    """A JSONRequest whose every call gets ``{"ok": true, "result": result}``, and the list
    of the requests it sent."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True, "result": result})

    return _request(handler), seen


async def test_body_is_json_with_the_values_ptb_would_send():
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("🚨 我已经转了钱", callback_data="m:7")]])
    data = _data(chat_id=42, text="<b>这很可能是诈骗</b> & more", parse_mode="HTML", reply_markup=markup,
                 disable_notification=None)
    request, seen = _recording(True)
    async with request:
        code, body = await request.do_request("https://api.example/bot1:x/sendMessage", "POST", data)
    assert (code, json.loads(body)) == (200, {"ok": True, "result": True})
    sent = seen[0]
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"] == HTTPXRequest.USER_AGENT
    assert "我已经转了钱".encode() in sent.content  # UTF-8, not \\u escapes or %-encoding
    decoded = json.loads(sent.content)
    assert decoded == data.parameters  # None values left out, as in PTB's form
    assert decoded["reply_markup"] == markup.to_dict()
    # the form PTB would have sent carries the same values, with nested ones JSON-encoded
    form = data.json_parameters  # strings; numbers and nested values JSON-encoded
    assert {k: v if k in ("text", "parse_mode") else json.loads(v) for k, v in form.items()} == decoded
    timeout = sent.extensions["timeout"]
    assert timeout == {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 1.0}  # PTB's defaults


async def test_explicit_timeouts_are_used():
    request, seen = _recording([])
    async with request:
        await request.do_request("https://api.example/bot1:x/getUpdates", "POST", _data(offset=3, timeout=10),
                                 read_timeout=12.5, write_timeout=None, connect_timeout=2, pool_timeout=0.5)
    assert seen[0].extensions["timeout"] == {"connect": 2, "read": 12.5, "write": None, "pool": 0.5}
    assert json.loads(seen[0].content) == {"offset": 3, "timeout": 10}


async def test_uploads_keep_ptb_s_multipart_form():
    request, seen = _recording(True)
    async with request:
        await request.do_request("https://api.example/bot1:x/sendDocument", "POST",
                                 _data(chat_id=1, document=InputFile(b"rules: []\n", filename="r.yaml")))
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b"rules: []" in seen[0].content


async def test_no_parameters_no_body():
    request, seen = _recording(BOT_USER)
    async with request:
        await request.do_request("https://api.example/bot1:x/getMe", "POST", None)
    assert seen[0].content == b""


@pytest.mark.parametrize("error,expected,message", [
    (httpx.PoolTimeout("pool"), TimedOut, "every connection to the Bot API is busy"),
    (httpx.ReadTimeout("read"), TimedOut, "Timed out"),
    (httpx.ConnectError("refused"), NetworkError, "httpx.ConnectError: refused"),
])
async def test_errors_are_ptb_s(error, expected, message):
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    request = _request(handler)
    async with request:
        with pytest.raises(expected, match=message):
            await request.do_request("https://api.example/bot1:x/sendMessage", "POST", _data(chat_id=1, text="x"))


async def test_closed_request_refuses():
    request = _request(lambda r: httpx.Response(200))
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="before initialize"):
        await request.do_request("https://api.example/bot1:x/sendMessage", "POST", _data(chat_id=1, text="x"))


async def test_a_bot_sends_a_dict_keyboard_and_gets_a_message_back():
    """What the verdict handler does: send_message with the keyboard as a plain dict."""
    seen: list[httpx.Request] = []
    markup = {"inline_keyboard": [[{"text": "👍 有帮助", "callback_data": "h:7"}]]}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/getMe"):
            return httpx.Response(200, json={"ok": True, "result": BOT_USER})
        params = json.loads(request.content)
        return httpx.Response(200, json={"ok": True, "result": {
            "message_id": 5, "date": 1, "chat": {"id": params["chat_id"], "type": "private"}, "from": BOT_USER,
            "text": params["text"], "reply_markup": params["reply_markup"]}})

    bot = Bot("1:x", base_url="https://api.example/bot", request=_request(handler),
              get_updates_request=_request(handler))
    async with bot:
        message = await bot.send_message(42, "<b>你好</b>", parse_mode="HTML", reply_markup=markup)  # type: ignore[arg-type]
    assert message.reply_markup == InlineKeyboardMarkup.de_json(markup, None)
    assert json.loads(seen[-1].content) == {"chat_id": 42, "text": "<b>你好</b>", "parse_mode": "HTML",
                                            "reply_markup": markup}


@pytest.mark.parametrize("quote", [False, True])
@pytest.mark.parametrize("topic", [False, True])
async def test_send_reply_sends_what_reply_html_sends(quote, topic):
    """send_reply skips building a Message from Telegram's answer; the request is the
    same as ``Message.reply_html``'s, in a forum topic and when quoting too."""
    from telegram import Chat, Message

    from callguard.telegram.request import send_reply

    sent: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            return httpx.Response(200, json={"ok": True, "result": BOT_USER})
        body = json.loads(request.content)
        sent.append(body)
        return httpx.Response(200, json={"ok": True, "result": {
            "message_id": 99, "date": 0, "chat": {"id": body["chat_id"], "type": "supergroup"},
            "text": body["text"]}})

    bot = Bot("1:x", request=_request(handler))
    message = Message(5, datetime.datetime.now(datetime.timezone.utc), Chat(-100, "supergroup"),
                      message_thread_id=7 if topic else None, is_topic_message=topic)
    message.set_bot(bot)
    markup = {"inline_keyboard": [[{"text": "🚨 我已经转了钱", "callback_data": "m:7"}]]}
    async with bot:
        await send_reply(message, "<b>这很可能是诈骗</b>", markup, quote=quote)
        await message.reply_html("<b>这很可能是诈骗</b>", reply_markup=InlineKeyboardMarkup.de_json(markup, bot),
                                 do_quote=quote)
    ours, ptbs = sent[-2:]
    assert ours == ptbs
    assert ("message_thread_id" in ours) == topic and ("reply_parameters" in ours) == quote
