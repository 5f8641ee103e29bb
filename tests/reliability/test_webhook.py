"""Hostile webhook requests against ``callguard run --webhook`` (a real process).

Whatever arrives on the webhook port — a wrong or missing secret, a wrong
content type, a body that is not an update or not JSON, an oversized body —
is refused without reaching the handlers, and the next genuine update is
answered as usual. Oversized bodies are refused from their headers, before
the body is read (PTB's tornado server would otherwise buffer up to 100 MB
per request before even checking the secret; see bot/telegram/webhook.py).
"""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import pytest
from tornado.httpserver import HTTPServer

from callguard.telegram.webhook import MAX_BODY_BYTES, limit_webhook_server
from tests.reliability.support import RULES, SCAM_HANS, BotProcess, clean_env, reply_to, visible_text
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.ptb import free_port

SECRET = "webhook_Secret-123"


async def raw_request(port: int, head: bytes, body_chunks=(), timeout: float = 5.0) -> bytes:
    """Send a hand-made HTTP request; return what the server answered (b"" if it just
    closed or reset the connection)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    try:
        writer.write(head)
        await writer.drain()
        for chunk in body_chunks:
            if reader.at_eof():
                break
            writer.write(chunk)
            await writer.drain()
        answer = await asyncio.wait_for(reader.read(200), timeout)
    except ConnectionError:
        pass
    except asyncio.TimeoutError:
        answer = b"<no answer: the server is still reading the body>"
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass
    return answer


def headers(secret: str | None = SECRET, content_type: str | None = "application/json") -> dict[str, str]:
    h = {}
    if secret is not None:
        h["X-Telegram-Bot-Api-Secret-Token"] = secret
    if content_type is not None:
        h["Content-Type"] = content_type
    return h


@pytest.mark.slow
async def test_hostile_webhook_requests_are_refused_and_the_bot_carries_on(tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with FakeBotAPI() as api, httpx.AsyncClient(trust_env=False, timeout=10) as client:
        env = clean_env(TELEGRAM_BOT_TOKEN=api.token, CALLGUARD_BOT_API_URL=api.base_url,
                        CALLGUARD_DB=str(tmp_path / "callguard.db"), CALLGUARD_RULES=str(RULES), CALLGUARD_SEND_RATE="0",
                        CALLGUARD_WEBHOOK_URL=f"http://127.0.0.1:{port}", CALLGUARD_WEBHOOK_LISTEN="127.0.0.1",
                        CALLGUARD_WEBHOOK_PORT=str(port), CALLGUARD_WEBHOOK_SECRET=SECRET)
        async with BotProcess(env, tmp_path, "webhook", args=("--webhook",)) as bot:
            await bot.until(api, lambda: api.webhook.get("url") == url, description="setWebhook")
            for _ in range(200):  # setWebhook comes just before the server listens
                try:
                    await raw_request(port, b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            uid = iter(range(900_000, 901_000))

            async def genuine_update_is_answered() -> None:
                user = next(uid)
                since = api.mark()
                update = api.make_message(SCAM_HANS, user_id=user, language_code="zh-hans")
                response = await client.post(url, content=json.dumps(update), headers=headers())
                assert response.status_code == 200
                reply = await reply_to(api, user, since)
                assert visible_text(reply.params["text"]).split("\n")[0].startswith("⚠️")

            await genuine_update_is_answered()
            probe = json.dumps(api.make_message("/start", user_id=899_999))  # must never be answered

            hostile = [
                ("wrong secret", dict(content=probe, headers=headers("not-the-secret")), {403}),
                ("missing secret", dict(content=probe, headers=headers(None)), {403}),
                ("empty secret", dict(content=probe, headers=headers("")), {403}),
                ("secret of another bot", dict(content=probe, headers=headers(SECRET + "x")), {403}),
                ("text/plain", dict(content=probe, headers=headers(content_type="text/plain")), {403}),
                ("form data", dict(content=probe, headers=headers(content_type="application/x-www-form-urlencoded")),
                 {403}),
                ("no content type", dict(content=probe, headers=headers(content_type=None)), {403}),
                ("malformed JSON", dict(content=b"{\"update_id\": 1, ", headers=headers()), {500}),
                ("not UTF-8", dict(content=b"\xff\xfe\x00{}", headers=headers()), {500}),
                ("JSON array", dict(content=b"[1, 2, 3]", headers=headers()), {400}),
                ("JSON null", dict(content=b"null", headers=headers()), {400}),
                ("not an update", dict(content=b'{"update_id": "x", "message": 5}', headers=headers()), {400}),
                ("message without date", dict(content=b'{"update_id": 7, "message": {"chat": {}}}',
                                              headers=headers()), {400}),
                ("empty body", dict(content=b"", headers=headers()), {500}),
            ]
            for name, request, expected in hostile:
                response = await client.post(url, **request)
                assert response.status_code in expected, (name, response.status_code, response.text[:200])
                await genuine_update_is_answered()
            response = await client.get(url, headers=headers())
            assert response.status_code == 405
            response = await client.post(f"http://127.0.0.1:{port}/other", content=probe, headers=headers())
            assert response.status_code == 404

            # Oversized: refused from the headers alone, nothing of the body is read or buffered.
            big = MAX_BODY_BYTES * 50
            for secret in ("wrong", SECRET):
                head = (f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {big}\r\n\r\n").encode()
                answer = await raw_request(port, head)
                assert answer.startswith(b"HTTP/1.1 400"), answer
                await genuine_update_is_answered()
            rss_before = bot.peak_rss_kb()
            # Chunked, so the size is only known while reading: cut off once past the limit.
            head = (f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
            chunk = b"%x\r\n%s\r\n" % (65536, b"a" * 65536)
            answer = await raw_request(port, head, [chunk] * 320)  # 20 MB offered
            assert answer == b"" or answer.startswith(b"HTTP/1.1 400"), answer
            # And bodies sent in full: 3 x 20 MB must not be held in memory.
            for _ in range(3):
                try:
                    await client.post(url, content=b"{" + b" " * (20 * MAX_BODY_BYTES) + b"}", headers=headers())
                except httpx.TransportError:
                    pass  # refused and closed while we were still sending: also fine
            growth_mb = (bot.peak_rss_kb() - rss_before) / 1024
            assert growth_mb < 10, f"the bot's peak RSS grew by {growth_mb:.0f} MB"
            await genuine_update_is_answered()

            # A large but genuine update (a 4096-character message with 100 entities) still fits.
            user = next(uid)
            text = ("我" * 4000) + SCAM_HANS[:96]
            update = api.make_message(text, user_id=user, language_code="zh-hans",
                                      entities=[{"type": "bold", "offset": i * 40, "length": 20} for i in range(100)])
            since = api.mark()
            response = await client.post(url, content=json.dumps(update), headers=headers())
            assert response.status_code == 200
            await reply_to(api, user, since)

            assert 899_999 not in {c.params.get("chat_id") for c in api.requests}
            bot.kill(signal.SIGTERM)
            assert await bot.wait() == 0
        log = bot.log()
        assert "update failed" not in log, log[-3000:]  # nothing reached the error handler


def test_limit_webhook_server_sets_tornado_limits():
    saved = HTTPServer._save_configuration()
    try:
        limit_webhook_server(max_body_bytes=1234, body_timeout=3.0, idle_timeout=7.0)
        server = HTTPServer(lambda request: None)
        params = server.conn_params
        assert (params.max_body_size, params.body_timeout, params.header_timeout) == (1234, 3.0, 7.0)
    finally:
        HTTPServer._restore_configuration(saved)
    assert HTTPServer(lambda request: None).conn_params.max_body_size is None  # back to tornado's default
