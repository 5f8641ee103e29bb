"""Hostile webhook requests against ``callguard run --webhook`` (a real process).

Whatever arrives on the webhook port — a wrong or missing secret, a wrong
content type, a body that is not an update or not JSON, an oversized body,
hundreds of slow connections, a replayed update — is refused (or recognised)
without reaching the handlers, and the next genuine update is answered as
usual. The secret token is checked from the headers, before the body is read,
and connections are bounded (bot/telegram/webhook.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal

import httpx
import pytest

from callguard import replies
from callguard.config import Settings
from callguard.telegram.webhook import MAX_BODY_BYTES, MAX_CONNECTIONS
from tests.reliability.support import RULES, SCAM_HANS, BotProcess, reply_to, sent_to, visible_text
from tests.support.env import clean_env
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


class WebhookBot:
    """``callguard run --webhook`` as a child process, listening on 127.0.0.1 (the default)."""

    def __init__(self, api: FakeBotAPI, client: httpx.AsyncClient, bot: BotProcess, port: int):
        self.api, self.client, self.bot, self.port = api, client, bot, port
        self.url = f"http://127.0.0.1:{port}/telegram"
        self._users = iter(range(900_000, 901_000))

    async def genuine_update_is_answered(self, timeout: float = 10.0) -> None:
        user = next(self._users)
        since = self.api.mark()
        update = self.api.make_message(SCAM_HANS, user_id=user, language_code="zh-hans")
        response = await self.client.post(self.url, content=json.dumps(update), headers=headers())
        assert response.status_code == 200
        reply = await reply_to(self.api, user, since, timeout=timeout)
        assert visible_text(reply.params["text"]).split("\n")[0].startswith("⚠️")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.bot.proc.pid}/fd"))


@contextlib.asynccontextmanager
async def webhook_bot(tmp_path, *, max_open_files: int | None = None):
    port = free_port()
    async with FakeBotAPI() as api, httpx.AsyncClient(trust_env=False, timeout=10) as client:
        env = clean_env(TELEGRAM_BOT_TOKEN=api.token, CALLGUARD_BOT_API_URL=api.base_url,
                        CALLGUARD_DB=str(tmp_path / "callguard.db"), CALLGUARD_RULES=str(RULES), CALLGUARD_SEND_RATE="0",
                        CALLGUARD_WEBHOOK_URL=f"http://127.0.0.1:{port}", CALLGUARD_WEBHOOK_PORT=str(port),
                        CALLGUARD_WEBHOOK_SECRET=SECRET)
        bot = BotProcess(env, tmp_path, "webhook", args=("--webhook",))
        if max_open_files is not None:  # the child's own file-descriptor limit, as on a small server
            bot.preexec = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))
        async with bot:
            live = WebhookBot(api, client, bot, port)
            await bot.until(api, lambda: api.webhook.get("url") == live.url, description="setWebhook")
            await live.genuine_update_is_answered(timeout=30)  # warm: the first reply may wait for start-up
            yield live
            bot.kill(signal.SIGTERM)
            assert await bot.wait() == 0, bot.log()[-3000:]
        log = bot.log()
        assert "update failed" not in log, log[-3000:]  # nothing reached the error handler
        assert "Traceback" not in log, log[-3000:]


@pytest.mark.slow
async def test_hostile_webhook_requests_are_refused_and_the_bot_carries_on(tmp_path):
    async with webhook_bot(tmp_path) as live:
        api, client, bot, port, url = live.api, live.client, live.bot, live.port, live.url
        genuine_update_is_answered = live.genuine_update_is_answered
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
            ("malformed JSON", dict(content=b"{\"update_id\": 1, ", headers=headers()), {400}),
            ("not UTF-8", dict(content=b"\xff\xfe\x00{}", headers=headers()), {400}),
            ("nested 100,000 deep", dict(content=b"[" * 100_000 + b"]" * 100_000, headers=headers()), {400}),
            ("JSON array", dict(content=b"[1, 2, 3]", headers=headers()), {400}),
            ("JSON null", dict(content=b"null", headers=headers()), {400}),
            ("not an update", dict(content=b'{"update_id": "x", "message": 5}', headers=headers()), {400}),
            ("message without date", dict(content=b'{"update_id": 7, "message": {"chat": {}}}',
                                          headers=headers()), {400}),
            ("empty body", dict(content=b"", headers=headers()), {400}),
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
        for secret, status in (("wrong", b"403"), (SECRET, b"400")):  # the secret is checked first
            head = (f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {big}\r\n\r\n").encode()
            answer = await raw_request(port, head)
            assert answer.startswith(b"HTTP/1.1 " + status), answer
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
        user = 900_999
        text = ("我" * 4000) + SCAM_HANS[:96]
        update = api.make_message(text, user_id=user, language_code="zh-hans",
                                  entities=[{"type": "bold", "offset": i * 40, "length": 20} for i in range(100)])
        since = api.mark()
        response = await client.post(url, content=json.dumps(update), headers=headers())
        assert response.status_code == 200
        await reply_to(api, user, since)

        assert 899_999 not in {c.params.get("chat_id") for c in api.requests}


def wrong_secret_head(length: int) -> bytes:
    return (f"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-Telegram-Bot-Api-Secret-Token: wrong\r\nContent-Length: {length}\r\n\r\n").encode()


@pytest.mark.slow
async def test_the_secret_is_checked_before_the_body_is_read(tmp_path):
    """A wrong secret is refused from the headers: the body is never read, so hundreds of
    parallel 1 MiB bodies cost the bot nothing (PTB's server read each body first)."""
    async with webhook_bot(tmp_path) as live:
        answer = await raw_request(live.port, wrong_secret_head(MAX_BODY_BYTES - 1), timeout=3.0)
        assert answer.startswith(b"HTTP/1.1 403"), answer  # answered with not a byte of the body sent
        rss_before = live.bot.peak_rss_kb()
        body = b"{" + b" " * (MAX_BODY_BYTES - 3) + b"}"
        answers = await asyncio.gather(*(raw_request(live.port, wrong_secret_head(len(body)), [body])
                                         for _ in range(200)))
        assert all(a == b"" or a.startswith(b"HTTP/1.1 403") for a in answers), {a[:40] for a in answers}
        growth_mb = (live.bot.peak_rss_kb() - rss_before) / 1024
        assert growth_mb < 20, f"the bot's peak RSS grew by {growth_mb:.0f} MB for 200 refused 1 MiB bodies"
        await live.genuine_update_is_answered()


async def open_slow_connection(port: int) -> asyncio.StreamWriter | None:
    """A connection that starts a request and never finishes its headers (slowloris)."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /telegram HTTP/1.1\r\nHost: x\r\n")
        await writer.drain()
        return writer
    except OSError:
        return None


@pytest.mark.slow
async def test_hundreds_of_slow_connections_neither_exhaust_files_nor_hold_up_updates(tmp_path):
    """400 connections that never finish their headers, against a bot allowed 256 open files:
    connections stay bounded, genuine updates are answered at once, and nothing is logged per
    connection (PTB's server accepted every one: "Too many open files" on each accept, and the
    bot could no longer reach Telegram)."""
    slow: list[asyncio.StreamWriter | None] = []
    async with webhook_bot(tmp_path, max_open_files=256) as live:
        try:
            for _ in range(400):
                slow.append(await open_slow_connection(live.port))
            await asyncio.sleep(0.5)
            for _ in range(3):
                started = asyncio.get_running_loop().time()
                await live.genuine_update_is_answered(timeout=10)
                assert asyncio.get_running_loop().time() - started < 5
            assert live.open_files() < MAX_CONNECTIONS + 100, live.open_files()
        finally:
            for writer in slow:
                if writer is not None:
                    writer.close()
        log = live.bot.log()
    assert "Too many open files" not in log, log[-3000:]
    assert log.count("webhook:") <= 2, log[-3000:]  # refusals are logged once a minute, not per connection


@pytest.mark.slow
async def test_a_replayed_update_is_answered_once_and_a_lone_surrogate_gets_a_normal_reply(tmp_path):
    async with webhook_bot(tmp_path) as live:
        api, client = live.api, live.client
        update = json.dumps(api.make_message(SCAM_HANS, user_id=880_001, language_code="zh-hans"))
        first = await asyncio.gather(*(client.post(live.url, content=update, headers=headers()) for _ in range(2)))
        assert [r.status_code for r in first] == [200, 200]
        await reply_to(api, 880_001)
        again = await client.post(live.url, content=update, headers=headers())  # after it was answered
        assert again.status_code == 200
        await live.genuine_update_is_answered()  # anything still in flight has been handled by now
        assert len(sent_to(api, 880_001)) == 1

        # "\ud800" in the JSON decodes to a str that cannot be encoded again (storing the report,
        # quoting it back): it must be read as U+FFFD, not end in the apology.
        text = SCAM_HANS[:10] + "\ud800" + SCAM_HANS[10:]
        raw = json.dumps(api.make_message("PLACEHOLDER", user_id=880_002, language_code="zh-hans"))
        raw = raw.replace('"PLACEHOLDER"', json.dumps(text))  # json.dumps writes the surrogate as \ud800
        assert "\\ud800" in raw
        response = await client.post(live.url, content=raw, headers=headers())
        assert response.status_code == 200
        reply = (await reply_to(api, 880_002)).params["text"]
        assert visible_text(reply).split("\n")[0].startswith("⚠️"), reply
        assert replies.ui("error", "zh-Hans") not in api.sent_texts(880_002)


def test_the_webhook_listens_on_the_loopback_interface_by_default():
    assert Settings.from_env({}).webhook_listen == "127.0.0.1"
    assert Settings().webhook_listen == "127.0.0.1"
    assert Settings.from_env({"CALLGUARD_WEBHOOK_LISTEN": "0.0.0.0"}).webhook_listen == "0.0.0.0"
