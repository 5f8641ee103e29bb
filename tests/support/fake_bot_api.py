"""A small, fast, in-process fake of the Telegram Bot API for end-to-end tests and benchmarks.

The server runs on the *current* asyncio loop (tornado's HTTP/1.1 server, keep-alive enabled)
and binds ``127.0.0.1`` on a free port.  A real PTB ``Application`` talks to it over real HTTP::

    async with FakeBotAPI() as api:
        app = (
            Application.builder()
            .token(api.token)
            .base_url(api.base_url)
            .base_file_url(api.base_file_url)
            .build()
        )
        ...
        api.push_message("hello")
        call = await api.wait_for("sendMessage")

Design notes
------------
* Requests are parsed the way PTB sends them (``telegram/request/_httpxrequest.py``):
  ``application/x-www-form-urlencoded`` where every non-string value is JSON-encoded, or
  ``multipart/form-data`` when files are uploaded.  JSON bodies and query strings are accepted
  too.  Recorded params are decoded back into Python objects (ints, bools, dicts, lists);
  uploaded files become :class:`UploadedFile`.
* Every request is recorded as a :class:`Call` (a list append, nothing else); there is no
  per-request logging.
* Results are shaped like Telegram's so PTB can deserialise them.  A few Telegram behaviours
  that bots commonly trip over are emulated on purpose: "message is not modified", "message
  text is empty", "message is too long" (4096), invalid bot commands, ``getUpdates`` while a
  webhook is set (409), and a second concurrent ``getUpdates`` terminating the first (409).
* Not thread-safe: call every method from the loop the server runs on.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import mimetypes
import os
import re
import time
from collections import Counter, deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, unquote

import httpx
from tornado import httputil
from tornado.httpserver import HTTPServer
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets

__all__ = ["BotAPIError", "Call", "FakeBotAPI", "UploadedFile", "USE_REGISTERED"]

DEFAULT_TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "callguard_test_bot"
BOT_FIRST_NAME = "CallGuard Test"

MAX_MESSAGE_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024

_UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
_NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

# Form fields whose values are always plain strings (never JSON-decoded / converted).
_STRING_FIELDS = frozenset(
    {
        "text", "caption", "data", "callback_query_id", "inline_message_id", "parse_mode",
        "url", "secret_token", "ip_address", "language_code", "file_id", "description",
        "short_description", "name", "title", "query", "action", "emoji", "question",
        "address", "first_name", "last_name", "phone_number", "vcard", "custom_title",
        "sticker_set_name", "explanation", "message_effect_id", "business_connection_id",
        "switch_pm_text", "switch_pm_parameter", "next_offset", "payload", "currency",
        "start_parameter", "provider_token", "provider_data", "game_short_name",
        "foursquare_id", "foursquare_type", "google_place_id", "google_place_type",
        "custom_emoji_id", "invite_link", "web_app_query_id", "result_id", "error_message",
        "shipping_query_id", "pre_checkout_query_id", "document", "photo", "audio", "voice",
        "video", "animation", "video_note", "sticker", "thumbnail", "certificate",
    }
)
_INT_RE = re.compile(r"-?\d{1,30}")
_FLOAT_RE = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?")
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_HTML_TAG_RE = re.compile(r"<[^>]+>")

_MESSAGE_KEYS = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_message",
    "edited_business_message",
)


class _RegisteredSecret:
    def __repr__(self) -> str:
        return "USE_REGISTERED"


#: Default for ``post_webhook(secret_token=...)``: use the secret recorded by ``setWebhook``.
USE_REGISTERED: Any = _RegisteredSecret()


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode_field(name: str, value: str) -> Any:
    """Turn a form value back into the Python object PTB JSON-encoded into it."""
    if name in _STRING_FIELDS or not value:
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    first = value[0]
    if first in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if first == "-" or first.isdigit():
        if _INT_RE.fullmatch(value):
            return int(value)
        if _FLOAT_RE.fullmatch(value):
            return float(value)
    return value


def _chat_key(chat_id: Any) -> Any:
    """Normalise a chat_id param (int, numeric string or '@username') to a dict key."""
    if isinstance(chat_id, str) and _INT_RE.fullmatch(chat_id):
        return int(chat_id)
    return chat_id


def _as_number(value: Any, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)


# --------------------------------------------------------------------------- public records


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file part of a multipart request (``params["document"]`` for ``sendDocument``)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"

    def __repr__(self) -> str:  # keep recorded params readable
        return f"UploadedFile({self.filename!r}, {len(self.content)} bytes, {self.mime_type!r})"


@dataclass(slots=True, eq=False)
class Call:
    """One recorded Bot API request.

    ``at`` is ``time.perf_counter()`` at arrival.  ``response`` is the JSON body sent back
    (``None`` while a long poll / delayed request is still in flight, or if the client went
    away before it was answered).
    """

    method: str
    params: dict
    at: float
    response: dict | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response and self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result") if self.response else None

    def __repr__(self) -> str:
        status = "pending" if self.response is None else (
            "ok" if self.ok else self.response.get("error_code")
        )
        return f"Call({self.method}, {_short(self.params, 200)}, {status})"


class BotAPIError(Exception):
    """Raise from a custom method handler (see :meth:`FakeBotAPI.set_handler`) to answer with
    a Telegram error; also used internally."""

    def __init__(
        self, error_code: int, description: str, parameters: dict | None = None
    ) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> dict:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.error_code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {detail}")


@dataclass(slots=True)
class _Fault:
    error_code: int
    body: dict
    times: int
    disconnect: bool


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None
    mime_type: str | None


# --------------------------------------------------------------------------- HTTP plumbing


class _Exchange(httputil.HTTPMessageDelegate):
    """One HTTP request/response on a keep-alive connection (tornado message delegate)."""

    __slots__ = ("api", "conn", "verb", "path", "query", "headers", "chunks", "closed",
                 "responded", "waiter", "superseded")

    def __init__(self, api: FakeBotAPI, conn: httputil.HTTPConnection) -> None:
        self.api = api
        self.conn = conn
        self.verb = "GET"
        self.path = "/"
        self.query = ""
        self.headers: httputil.HTTPHeaders | None = None
        self.chunks: list[bytes] = []
        self.closed = False
        self.responded = False
        self.waiter: asyncio.Future | None = None
        self.superseded = False

    def headers_received(self, start_line, headers):  # type: ignore[override]
        self.verb = start_line.method
        self.path, _, self.query = start_line.path.partition("?")
        self.headers = headers
        return None

    def data_received(self, chunk: bytes):  # type: ignore[override]
        self.chunks.append(chunk)
        return None

    def finish(self) -> None:
        body = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks = []
        # Learn about the client going away while we hold the response (long polls, delays).
        self.conn.set_close_callback(self._on_closed)
        try:
            self.api._handle(self, body)
        except Exception as exc:  # a bug in the fake must not leave the client hanging
            error = {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: fake Bot API crashed: {exc!r}",
            }
            self.respond(500, json.dumps(error).encode())

    def on_connection_close(self) -> None:
        self._on_closed()

    def _on_closed(self) -> None:
        self.closed = True
        if self.waiter is not None:
            _resolve(self.waiter)

    def respond(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        if self.responded or self.closed:
            return
        self.responded = True
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        headers = httputil.HTTPHeaders()
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        try:
            self.conn.write_headers(
                httputil.ResponseStartLine("HTTP/1.1", status, reason), headers, body
            )
            self.conn.finish()
        except StreamClosedError:
            self.closed = True

    def disconnect(self) -> None:
        self.responded = True
        self.closed = True
        self.conn.close()  # type: ignore[attr-defined]


class _ServerDelegate(httputil.HTTPServerConnectionDelegate):
    def __init__(self, api: FakeBotAPI) -> None:
        self.api = api

    def start_request(self, server_conn, request_conn):  # type: ignore[override]
        return _Exchange(self.api, request_conn)

    def on_close(self, server_conn) -> None:  # pragma: no cover - nothing to clean up
        pass


# --------------------------------------------------------------------------- the fake API


class FakeBotAPI:
    """Fake Telegram Bot API server.  See the module docstring for an overview.

    Args:
        token: the only token accepted; other tokens get 401 like Telegram.
        latency_methods: Bot API methods that count as "the reply" for latency measurement.
        latency_update_types: update keys (``"message"``, ``"callback_query"``...) whose push
            starts a latency measurement; ``None`` means every update that carries a chat.
        max_stored_messages: how many messages are kept for edits / callbacks / replies
            (oldest evicted first) so long benchmarks stay bounded in memory.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        latency_methods: Iterable[str] = ("sendMessage",),
        latency_update_types: Iterable[str] | None = None,
        max_stored_messages: int = 200_000,
    ) -> None:
        self.token = token
        bot_id_part = token.split(":", 1)[0]
        self.bot_id = int(bot_id_part) if bot_id_part.isdigit() else 123456
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
        }
        self.latency_methods = frozenset(latency_methods)
        self.latency_update_types = (
            None if latency_update_types is None else frozenset(latency_update_types)
        )
        self.max_stored_messages = max_stored_messages

        # Recording
        self.requests: list[Call] = []
        self.unauthorized: list[Call] = []
        self.counts: Counter[str] = Counter()
        self.latencies: list[float] = []

        # Server
        self._server: HTTPServer | None = None
        self.port: int | None = None
        self._stopping = False
        self._tasks: set[asyncio.Task] = set()
        self._http_client: httpx.AsyncClient | None = None

        # Waiters
        self._request_waiters: list[asyncio.Future] = []
        self._poll_waiters: list[asyncio.Future] = []
        self._active_poll: _Exchange | None = None

        # Telegram state
        self._updates: deque[dict] = deque()
        self._updates_ordered = True
        self._update_ids = itertools.count(10_000)
        self._last_update_id = 9_999
        self._message_counters: dict[Any, int] = {}
        self._messages: dict[tuple[Any, int], dict] = {}
        self._last_bot_message: dict[Any, int] = {}
        self._last_user_message: dict[Any, int] = {}
        self._chats: dict[Any, dict] = {}
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._known_callback_ids: set[str] = set()
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._result_by_params: dict[int, dict] = {}
        self._pending_push: dict[Any, deque[float]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.commands: dict[tuple[str, str], list[dict]] = {}

        # Test controls
        self._faults: dict[str, deque[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._custom: dict[str, Callable[[dict], Any]] = {}

        self._builtin: dict[str, Callable[[dict], Any]] = {
            "getMe": self._m_get_me,
            "sendMessage": self._m_send_message,
            "editMessageText": self._m_edit_message_text,
            "editMessageReplyMarkup": self._m_edit_message_reply_markup,
            "deleteMessage": self._m_delete_message,
            "answerCallbackQuery": self._m_answer_callback_query,
            "setMyCommands": self._m_set_my_commands,
            "getMyCommands": self._m_get_my_commands,
            "deleteMyCommands": self._m_delete_my_commands,
            "setWebhook": self._m_set_webhook,
            "deleteWebhook": self._m_delete_webhook,
            "getWebhookInfo": self._m_get_webhook_info,
            "sendDocument": self._m_send_document,
            "sendPhoto": self._m_send_photo,
            "getFile": self._m_get_file,
            "getChat": self._m_get_chat,
        }
        for name in (
            "sendChatAction", "close", "logOut", "setMyDescription", "setMyShortDescription",
            "setMyName", "setChatMenuButton", "setMyDefaultAdministratorRights",
            "setMessageReaction", "leaveChat",
        ):
            self._builtin[name] = self._m_true
        self._canonical = {name.lower(): name for name in (*self._builtin, "getUpdates")}

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotAPI:
        if self._server is not None:
            return self
        _exempt_localhost_from_proxies()
        self._stopping = False
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(_ServerDelegate(self), idle_connection_timeout=60)
        self._server.add_sockets(sockets)
        return self

    async def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._wake(self._poll_waiters)
        if self._tasks:
            # Delayed answers are dropped; woken long polls get to answer `[]` first.
            for task in self._tasks:
                if task.get_name() == "fake-bot-api-delay":
                    task.cancel()
            _, pending = await asyncio.wait(set(self._tasks), timeout=1.0)
            for task in pending:
                task.cancel()
        server, self._server = self._server, None
        server.stop()
        try:
            await asyncio.wait_for(server.close_all_connections(), timeout=5.0)
        except asyncio.TimeoutError:  # pragma: no cover - defensive, never seen
            pass
        if self._http_client is not None:
            await self._http_client.aclose()
            self._http_client = None

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeBotAPI is not started; await api.start() first")
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder.base_url``; PTB appends the token."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder.base_file_url``; PTB appends the token."""
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ recording helpers

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls (all, or only ``method``), in arrival order; failed ones included."""
        if method is None:
            return list(self.requests)
        return [c for c in self.requests if c.method == method]

    def sent_messages(self, chat_id: Any = None, *, include_failed: bool = False) -> list[dict]:
        """Params of the ``sendMessage`` calls that succeeded (in order), optionally per chat."""
        key = _chat_key(chat_id)
        return [
            c.params
            for c in self.requests
            if c.method == "sendMessage"
            and (include_failed or c.ok)
            and (key is None or _chat_key(c.params.get("chat_id")) == key)
        ]

    def sent_texts(self, chat_id: Any = None) -> list[str]:
        return [p.get("text", "") for p in self.sent_messages(chat_id)]

    def message_for(self, params_or_call: dict | Call) -> dict:
        """The Message (as returned to the bot) for a recorded send* params dict or Call."""
        if isinstance(params_or_call, Call):
            if not isinstance(params_or_call.result, dict):
                raise ValueError(f"{params_or_call!r} did not return a message")
            return params_or_call.result
        msg = self._result_by_params.get(id(params_or_call))
        if msg is None:
            raise ValueError("not the params of a recorded, successful send* call")
        return msg

    def get_message(self, chat_id: Any, message_id: int) -> dict | None:
        """Current state of a stored message (after edits), or None."""
        return self._messages.get((_chat_key(chat_id), int(message_id)))

    def get_commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        return list(self.commands.get((self._scope_key(scope), language_code or ""), []))

    def clear(self) -> None:
        """Forget recorded requests, counts and latencies (server state such as queued updates,
        stored messages, files, commands and the webhook is kept)."""
        self.requests.clear()
        self.unauthorized.clear()
        self.counts.clear()
        self.latencies.clear()
        self._pending_push.clear()
        self._result_by_params.clear()

    def mark(self) -> int:
        """Index to pass as ``wait_for(..., since=...)`` to ignore calls recorded so far."""
        return len(self.requests)

    @property
    def pending_update_count(self) -> int:
        """Updates pushed but not yet confirmed by a later getUpdates offset."""
        return len(self._updates)

    @property
    def pending_replies(self) -> int:
        """Pushed updates still waiting for a reply (for latency measurement)."""
        return sum(len(q) for q in self._pending_push.values())

    def latency_stats(self) -> dict[str, float]:
        """count / mean / p50 / p90 / p99 / max of :attr:`latencies`, in seconds."""
        data = sorted(self.latencies)
        if not data:
            return {"count": 0}

        def pct(p: float) -> float:
            return data[min(len(data) - 1, int(round(p * (len(data) - 1))))]

        return {
            "count": len(data),
            "mean": sum(data) / len(data),
            "p50": pct(0.50),
            "p90": pct(0.90),
            "p99": pct(0.99),
            "max": data[-1],
        }

    def reply_latencies(self) -> list[float]:
        return list(self.latencies)

    async def wait_for(
        self,
        method: str | None,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 5.0,
        since: int = 0,
    ) -> Call:
        """Return the first recorded call of ``method`` (any method if None) matching
        ``predicate``, looking at calls from index ``since`` on (already-recorded calls count,
        so there is no race with a reply that arrived before this was awaited).  Waits without
        polling; raises :class:`TimeoutError` describing what was received."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        cursor = since
        while True:
            requests = self.requests
            while cursor < len(requests):
                call = requests[cursor]
                cursor += 1
                if (method is None or call.method == method) and (
                    predicate is None or predicate(call)
                ):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(method, predicate, timeout, since))
            await self._wait_next_request(remaining)

    async def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = 5.0, description: str = ""
    ) -> None:
        """Wait until ``condition()`` is true; re-evaluated after every recorded request."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"FakeBotAPI.wait_until({description or condition!r}) timed out after "
                    f"{timeout}s.\n{self.describe_requests()}"
                )
            await self._wait_next_request(remaining)

    async def _wait_next_request(self, remaining: float) -> None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._request_waiters.append(fut)
        handle = loop.call_later(remaining, _resolve, fut)
        try:
            await fut
        finally:
            handle.cancel()
            if not fut.done():
                fut.cancel()
            try:
                self._request_waiters.remove(fut)
            except ValueError:
                pass

    def describe_requests(self, last: int = 40) -> str:
        """Human-readable summary of the recorded requests (runs of getUpdates collapsed)."""
        lines: list[str] = []
        calls = self.requests[-last:] if last else self.requests
        skipped = len(self.requests) - len(calls)
        run_method, run_len = None, 0

        def flush_run() -> None:
            if run_method is not None:
                lines.append(f"  {run_method} x{run_len}")

        for call in calls:
            if call.method == "getUpdates" and not call.result and (
                call.response is None or call.ok
            ):
                if run_method == "getUpdates":
                    run_len += 1
                    continue
                flush_run()
                run_method, run_len = "getUpdates", 1
                continue
            flush_run()
            run_method, run_len = None, 0
            status = "pending" if call.response is None else (
                "ok" if call.ok else f"error {call.response.get('error_code')}"
            )
            params = ", ".join(f"{k}={_short(v, 50)}" for k, v in call.params.items())
            lines.append(f"  {call.method}({params}) -> {status}")
        flush_run()
        head = f"Received {len(self.requests)} request(s)"
        if skipped:
            head += f" (showing the last {len(calls)})"
        if not self.requests:
            head = "Received no requests at all (is the app running against this server?)"
        tail = f"\nUpdates queued and not yet confirmed: {len(self._updates)}"
        if self.unauthorized:
            tail += f"\nRequests rejected with 401 (wrong token): {len(self.unauthorized)}"
        return head + (":\n" + "\n".join(lines) if lines else "") + tail

    def _timeout_report(
        self, method: str | None, predicate: Any, timeout: float, since: int
    ) -> str:
        what = method or "any method"
        pred = ""
        if predicate is not None:
            code = getattr(predicate, "__code__", None)
            pred = (
                f" matching predicate {getattr(predicate, '__qualname__', predicate)}"
                + (f" ({code.co_filename}:{code.co_firstlineno})" if code else "")
            )
        msg = f"FakeBotAPI.wait_for({what!r}) timed out after {timeout}s waiting for a call{pred}."
        if since:
            msg += f" Only calls from index {since} on were considered."
        if method is not None and predicate is not None:
            rejected = [c for c in self.requests[since:] if c.method == method]
            if rejected:
                msg += f"\n{len(rejected)} {method} call(s) did not match the predicate:\n"
                msg += "\n".join(f"  {c!r}" for c in rejected[-10:])
        return msg + "\n" + self.describe_requests()

    # ------------------------------------------------------------------ test controls

    def fail_next(
        self,
        method: str,
        error_code: int = 429,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        parameters: dict | None = None,
        disconnect: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail.

        ``error_code=429`` answers like Telegram's flood limit, with
        ``parameters: {"retry_after": retry_after or 1}`` (PTB raises ``RetryAfter``).
        ``parameters`` adds/overrides response parameters (e.g. ``migrate_to_chat_id``).
        ``disconnect=True`` drops the connection without an answer (PTB: ``NetworkError``).
        """
        params = dict(parameters or {})
        if error_code == 429:
            params.setdefault("retry_after", 1 if retry_after is None else retry_after)
        elif retry_after is not None:
            params["retry_after"] = retry_after
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {params['retry_after']}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(error_code, "Error")
        body = BotAPIError(error_code, description, params or None).body()
        canonical = self._canonical.get(method.lower(), method)
        self._faults.setdefault(canonical, deque()).append(
            _Fault(error_code, body, times, disconnect)
        )

    def set_delay(self, method: str, seconds: float | None) -> None:
        """Answer ``method`` only after ``seconds`` (None/0 removes the delay)."""
        canonical = self._canonical.get(method.lower(), method)
        if seconds:
            self._delays[canonical] = float(seconds)
        else:
            self._delays.pop(canonical, None)

    def set_handler(self, method: str, handler: Callable[[dict], Any] | None) -> None:
        """Serve ``method`` with ``handler(params) -> result`` (raise :class:`BotAPIError` to
        fail).  Overrides built-ins; ``None`` removes the override."""
        method = self._canonical.setdefault(method.lower(), method)
        if handler is None:
            self._custom.pop(method, None)
        else:
            self._custom[method] = handler

    # ------------------------------------------------------------------ building updates

    def _next_message_id(self, chat_id: Any) -> int:
        mid = self._message_counters.get(chat_id, 0) + 1
        self._message_counters[chat_id] = mid
        return mid

    def _store_message(self, msg: dict) -> None:
        messages = self._messages
        messages[(msg["chat"]["id"], msg["message_id"])] = msg
        if len(messages) > self.max_stored_messages:
            del messages[next(iter(messages))]

    @staticmethod
    def _user(
        user_id: int,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> dict:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _chat(
        self, chat_id: int | None, chat_type: str, user: dict, title: str | None
    ) -> dict:
        if chat_type == "private":
            cid = user["id"] if chat_id is None else chat_id
            chat = {"id": cid, "type": "private", "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    chat[key] = user[key]
        else:
            if chat_id is None:
                offset = 100_000 if chat_type == "group" else 1_000_000_000_000
                chat_id = -(offset + user["id"])
            chat = {
                "id": chat_id,
                "type": chat_type,
                "title": title or f"Test {chat_type} {abs(chat_id)}",
            }
        known = self._chats.get(chat["id"])
        if known != chat:
            self._chats[chat["id"]] = chat
            known = chat
        return known

    def _chat_for(self, chat_id: Any) -> dict:
        """The chat object for a chat_id the bot sends to (synthesised if never seen)."""
        key = _chat_key(chat_id)
        chat = self._chats.get(key)
        if chat is not None:
            return chat
        if not isinstance(key, int):
            raise _bad_request("chat not found")
        if key > 0:
            chat = {"id": key, "type": "private", "first_name": f"User {key}"}
        elif key <= -1_000_000_000_000:
            chat = {"id": key, "type": "supergroup", "title": f"Chat {key}"}
        else:
            chat = {"id": key, "type": "group", "title": f"Chat {key}"}
        self._chats[key] = chat
        return chat

    def _lookup_reply(self, chat_id: Any, reply_to: Any) -> dict | None:
        if reply_to is None:
            return None
        if isinstance(reply_to, dict):
            if "message_id" in reply_to:
                chat = reply_to.get("chat") or {}
                stored = self._messages.get((chat.get("id", chat_id), reply_to["message_id"]))
                msg = stored or reply_to
            else:
                msg = self.message_for(reply_to)
        else:
            msg = self._messages.get((chat_id, int(reply_to)))
            if msg is None:
                return None
        reply = dict(msg)
        reply.pop("reply_to_message", None)  # Telegram does not nest replies further
        return reply

    def make_message(
        self,
        text: str | None,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        entities: list[dict] | None = None,
        reply_to: Any = None,
        title: str | None = None,
        auto_command: bool = True,
        extra: dict | None = None,
    ) -> dict:
        """Build (and store) a message update without queueing it; see :meth:`push_message`."""
        user = self._user(user_id, first_name, last_name, username, language_code)
        chat = self._chat(chat_id, chat_type, user, title)
        cid = chat["id"]
        msg: dict[str, Any] = {"message_id": self._next_message_id(cid)}
        update_key = "message"
        if chat_type == "channel":
            update_key = "channel_post"
            msg["sender_chat"] = chat
        else:
            msg["from"] = user
        msg["chat"] = chat
        msg["date"] = int(time.time())
        if text is not None:
            msg["text"] = text
            if entities is None and auto_command and text.startswith("/"):
                match = _COMMAND_RE.match(text)
                if match:
                    entities = [
                        {"type": "bot_command", "offset": 0, "length": _utf16_len(match[0])}
                    ]
            if entities:
                msg["entities"] = entities
        reply = self._lookup_reply(cid, reply_to)
        if reply is not None:
            msg["reply_to_message"] = reply
        if extra:
            msg.update(extra)
        self._store_message(msg)
        if update_key == "message":
            self._last_user_message[cid] = msg["message_id"]
        return {"update_id": self._new_update_id(), update_key: msg}

    def push_message(self, text: str | None, **kwargs: Any) -> dict:
        """Queue a user message for getUpdates and return the update.

        Keyword args: ``user_id=1001, chat_id=None`` (private chat: the user's id; groups get a
        negative id), ``chat_type="private"|"group"|"supergroup"|"channel"``,
        ``first_name="Test", last_name, username, language_code="en"``, ``entities``,
        ``reply_to`` (message_id, message dict or recorded params), ``title`` (groups),
        ``auto_command=True`` (adds a bot_command entity when text starts with "/"),
        ``extra`` (merged into the message dict, e.g. ``{"photo": [...]}``).
        """
        return self.push_update(self.make_message(text, **kwargs))

    def make_command(self, cmd_text: str, **kwargs: Any) -> dict:
        text = cmd_text if cmd_text.startswith("/") else "/" + cmd_text
        kwargs.pop("auto_command", None)
        return self.make_message(text, auto_command=True, **kwargs)

    def push_command(self, cmd_text: str, **kwargs: Any) -> dict:
        """``push_command("/start ref42")`` (leading "/" optional): a message with the
        bot_command entity set.  Same kwargs as :meth:`push_message`."""
        return self.push_update(self.make_command(cmd_text, **kwargs))

    def make_edited_message(
        self,
        text: str,
        *,
        message: dict | None = None,
        message_id: int | None = None,
        user_id: int = 1001,
        chat_id: int | None = None,
        entities: list[dict] | None = None,
        auto_command: bool = True,
    ) -> dict:
        if message is not None:
            cid = message["chat"]["id"]
            message_id = message["message_id"]
        else:
            cid = user_id if chat_id is None else chat_id
            if message_id is None:
                message_id = self._last_user_message.get(cid)
                if message_id is None:
                    raise ValueError(f"no pushed user message in chat {cid} to edit")
        old = self._messages.get((cid, message_id))
        if old is None:
            raise ValueError(f"unknown message {message_id} in chat {cid}")
        msg = dict(old)
        msg["text"] = text
        msg.pop("entities", None)
        if entities is None and auto_command and text.startswith("/"):
            match = _COMMAND_RE.match(text)
            if match:
                entities = [{"type": "bot_command", "offset": 0, "length": _utf16_len(match[0])}]
        if entities:
            msg["entities"] = entities
        msg["edit_date"] = int(time.time())
        self._store_message(msg)
        return {"update_id": self._new_update_id(), "edited_message": msg}

    def push_edited_message(self, text: str, **kwargs: Any) -> dict:
        """Queue an ``edited_message`` update: the user edits ``message`` / ``message_id``
        (default: their last pushed message in that chat) to ``text``."""
        return self.push_update(self.make_edited_message(text, **kwargs))

    def _resolve_callback_message(
        self, message: Any, message_id: int | None, chat_id: int | None, user_id: int
    ) -> dict:
        if isinstance(message, Call):
            message = self.message_for(message)
        elif isinstance(message, dict) and "message_id" not in message:
            message = self.message_for(message)  # a params dict from sent_messages()
        if isinstance(message, dict):
            cid, message_id = message["chat"]["id"], message["message_id"]
            return self._messages.get((cid, message_id), message)
        cid = user_id if chat_id is None else chat_id
        if message_id is None:
            message_id = self._last_bot_message.get(cid)
            if message_id is None:
                raise ValueError(f"the bot has sent no message to chat {cid} to click on")
        stored = self._messages.get((cid, message_id))
        if stored is not None:
            return stored
        # Unknown message: synthesise one from the bot so edits on it work.
        msg = {
            "message_id": message_id,
            "from": self.bot_user,
            "chat": self._chat_for(cid),
            "date": int(time.time()),
            "text": "",
        }
        self._store_message(msg)
        return msg

    def make_callback(
        self,
        data: str | None,
        *,
        user_id: int = 1001,
        message: Any = None,
        message_id: int | None = None,
        chat_id: int | None = None,
        inline_message_id: str | None = None,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        chat_instance: str | None = None,
    ) -> dict:
        user = self._user(user_id, first_name, last_name, username, language_code)
        query_id = str(next(self._callback_ids))
        self._known_callback_ids.add(query_id)
        query: dict[str, Any] = {"id": query_id, "from": user}
        if inline_message_id is not None:
            query["inline_message_id"] = inline_message_id
            instance_seed = user_id
        else:
            msg = self._resolve_callback_message(message, message_id, chat_id, user_id)
            query["message"] = msg
            instance_seed = msg["chat"]["id"]
        query["chat_instance"] = chat_instance or str((instance_seed * 2654435761) % 10**18)
        if data is not None:
            query["data"] = data
        return {"update_id": self._new_update_id(), "callback_query": query}

    def push_callback(self, data: str | None, **kwargs: Any) -> dict:
        """Queue a ``callback_query`` (the user presses an inline button).

        The clicked message is ``message`` (a Message dict, a recorded ``sendMessage`` params
        dict from :meth:`sent_messages`, or a :class:`Call`), or ``message_id`` (+ ``chat_id``,
        default the user's private chat), or by default the last message the bot sent to
        that chat.  ``inline_message_id`` makes an inline-mode query without a message.
        """
        return self.push_update(self.make_callback(data, **kwargs))

    def register_file(
        self,
        content: bytes,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        kind: str = "documents",
    ) -> dict:
        """Store bytes so ``getFile`` + download work; returns the Telegram file fields
        (file_id, file_unique_id, file_size, and file_name/mime_type when given)."""
        n = next(self._file_counter)
        ext = os.path.splitext(file_name or "")[1]
        prefix = {"documents": "BQACAgIAAxkBAAI", "photos": "AgACAgIAAxkBAAI"}.get(
            kind, "CQACAgIAAxkBAAI"
        )
        stored = _StoredFile(
            file_id=f"{prefix}{n:08d}-fake",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{kind}/file_{n}{ext}",
            content=bytes(content),
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return self._file_fields(stored)

    @staticmethod
    def _file_fields(stored: _StoredFile) -> dict:
        fields: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name is not None:
            fields["file_name"] = stored.file_name
        if stored.mime_type is not None:
            fields["mime_type"] = stored.mime_type
        return fields

    def make_document(
        self,
        file_name: str,
        content: bytes,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        **kwargs: Any,
    ) -> dict:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        document = self.register_file(content, file_name=file_name, mime_type=mime)
        extra = dict(kwargs.pop("extra", None) or {})
        extra["document"] = document
        if caption is not None:
            extra["caption"] = caption
        return self.make_message(None, extra=extra, **kwargs)

    def push_document(
        self, file_name: str, content: bytes, **kwargs: Any
    ) -> dict:
        """Queue a message with a document the bot can download (getFile + file URL).
        Extra kwargs: ``mime_type`` (guessed from the name), ``caption``, plus those of
        :meth:`push_message`."""
        return self.push_update(self.make_document(file_name, content, **kwargs))

    def make_photo(self, *sizes: tuple[bytes, int, int], caption: str | None = None, **kwargs: Any) -> dict:
        """A message with a photo: one ``PhotoSize`` per ``(content, width, height)``, smallest
        first as Telegram sends them, each one downloadable (getFile + file URL)."""
        photo = []
        for content, width, height in sizes:
            fields = self.register_file(content, file_name=f"photo_{width}x{height}.jpg", kind="photos")
            fields.pop("file_name", None)  # a PhotoSize has no name or MIME type
            photo.append({**fields, "width": width, "height": height})
        extra = dict(kwargs.pop("extra", None) or {})
        extra["photo"] = photo
        if caption is not None:
            extra["caption"] = caption
        return self.make_message(None, extra=extra, **kwargs)

    def push_photo(self, *sizes: tuple[bytes, int, int], **kwargs: Any) -> dict:
        """Queue a message with a photo the bot can download (see :meth:`make_photo`).
        Extra kwargs: ``caption``, plus those of :meth:`push_message`."""
        return self.push_update(self.make_photo(*sizes, **kwargs))

    def _new_update_id(self) -> int:
        self._last_update_id = next(self._update_ids)
        return self._last_update_id

    def push_update(self, update: dict) -> dict:
        """Queue any raw update (photo, sticker, location, ...).  ``update_id`` is assigned if
        missing; explicit ids should keep increasing.

        Warning: PTB's polling loop cannot skip an update it fails to parse - it fetches the
        same batch again forever.  Test malformed payloads through :meth:`post_webhook`.
        """
        uid = update.get("update_id")
        if uid is None:
            update = {"update_id": self._new_update_id(), **update}
        elif isinstance(uid, int):
            if uid > self._last_update_id:
                self._last_update_id = uid
                self._update_ids = itertools.count(uid + 1)
            elif self._updates and uid <= self._updates[-1].get("update_id", uid):
                self._updates_ordered = False
        self._updates.append(update)
        self._absorb(update)
        self._track_push(update)
        if self._poll_waiters:
            self._wake(self._poll_waiters)
        return update

    def _absorb(self, update: dict) -> None:
        """Learn from a (possibly hand-written) update: store its messages so the bot can
        reply to / edit them, keep message ids increasing, and accept its callback query id."""
        messages = [update.get(key) for key in _MESSAGE_KEYS]
        query = update.get("callback_query")
        if isinstance(query, dict):
            if "id" in query:
                self._known_callback_ids.add(str(query["id"]))
            messages.append(query.get("message"))
        for msg in messages:
            if not isinstance(msg, dict):
                continue
            chat, mid = msg.get("chat"), msg.get("message_id")
            if not (isinstance(chat, dict) and isinstance(chat.get("id"), int)
                    and isinstance(mid, int)):
                continue
            cid = chat["id"]
            if mid > self._message_counters.get(cid, 0):
                self._message_counters[cid] = mid
            self._chats.setdefault(cid, chat)
            if (cid, mid) not in self._messages:
                self._store_message(msg)

    def _track_push(self, update: dict) -> None:
        types = self.latency_update_types
        for key in _MESSAGE_KEYS:
            msg = update.get(key)
            if msg is not None:
                break
        else:
            key = "callback_query"
            query = update.get(key)
            msg = query.get("message") if isinstance(query, dict) else None
        if not isinstance(msg, dict) or (types is not None and key not in types):
            return
        chat = msg.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            queue = self._pending_push.get(chat["id"])
            if queue is None:
                queue = self._pending_push[chat["id"]] = deque()
            queue.append(time.perf_counter())

    # ------------------------------------------------------------------ webhook helper

    async def post_webhook(
        self,
        url: str | None,
        update: dict | None = None,
        *,
        secret_token: Any = USE_REGISTERED,
        headers: dict[str, str] | None = None,
        raw_body: bytes | str | None = None,
        content_type: str | None = "application/json",
        timeout: float = 5.0,
    ) -> tuple[int, str]:
        """POST an update to a (PTB) webhook like Telegram does; returns (status, body text).

        ``url=None`` uses the URL registered via setWebhook.  ``secret_token`` defaults to the
        one registered via setWebhook; pass a string to override or ``None`` to omit the
        header.  ``raw_body`` replaces the JSON body (malformed / oversized payloads);
        ``content_type=None`` omits the header; ``headers`` are added last.
        """
        if url is None:
            url = self.webhook.get("url") or ""
            if not url:
                raise RuntimeError("no webhook registered via setWebhook; pass url explicitly")
        if secret_token is USE_REGISTERED:
            secret_token = self.webhook.get("secret_token")
        if raw_body is None:
            if update is None:
                raise ValueError("pass an update or raw_body")
            if "update_id" not in update:
                update = {"update_id": self._new_update_id(), **update}
            body = json.dumps(update).encode()
            self._absorb(update)
            self._track_push(update)
        else:
            body = raw_body.encode() if isinstance(raw_body, str) else raw_body
        request_headers: dict[str, str] = {}
        if content_type is not None:
            request_headers["Content-Type"] = content_type
        if secret_token is not None:
            request_headers["X-Telegram-Bot-Api-Secret-Token"] = secret_token
        if headers:
            request_headers.update(headers)
        if self._http_client is None:
            self._http_client = httpx.AsyncClient(trust_env=False)
        response = await self._http_client.post(
            url, content=body, headers=request_headers, timeout=timeout
        )
        return response.status_code, response.text

    # ------------------------------------------------------------------ request handling

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _wake(waiters: list[asyncio.Future]) -> None:
        pending = waiters[:]
        waiters.clear()
        for fut in pending:
            _resolve(fut)

    def _handle(self, ex: _Exchange, body: bytes) -> None:
        path = ex.path
        if path.startswith("/bot"):
            token, sep, method = path[4:].partition("/")
            if not sep or not method or "/" in method:
                ex.respond(404, json.dumps(_NOT_FOUND).encode())
                return
            try:
                params = self._parse_params(ex, body)
            except BotAPIError as exc:
                params, parse_error = {}, exc
            else:
                parse_error = None
            if unquote(token) != self.token:
                self.unauthorized.append(Call(method, params, time.perf_counter(), _UNAUTHORIZED))
                ex.respond(401, json.dumps(_UNAUTHORIZED).encode())
                return
            method = self._canonical.get(method.lower(), method)
            call = Call(method, params, time.perf_counter())
            self.requests.append(call)
            self.counts[method] += 1
            if parse_error is not None:
                self._finish(ex, call, parse_error.error_code, parse_error.body())
            elif self._delays and method in self._delays:
                self._spawn(self._delayed(ex, call, self._delays[method]), "fake-bot-api-delay")
            else:
                self._execute(ex, call)
            if self._request_waiters:
                self._wake(self._request_waiters)
        elif path.startswith("/file/bot"):
            self._serve_file(ex, path[len("/file/bot"):])
        else:
            ex.respond(404, json.dumps(_NOT_FOUND).encode())

    def _parse_params(self, ex: _Exchange, body: bytes) -> dict:
        params: dict[str, Any] = {}
        if ex.query:
            for key, value in parse_qsl(ex.query, keep_blank_values=True):
                params[key] = _decode_field(key, value)
        if not body:
            return params
        headers = ex.headers or httputil.HTTPHeaders()
        ctype = headers.get("Content-Type", "")
        if ctype.startswith("application/json"):
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise _bad_request(f"can't parse JSON body: {exc}") from None
            if not isinstance(data, dict):
                raise _bad_request("JSON body must be an object")
            for key, value in data.items():
                params[key] = _decode_field(key, value) if isinstance(value, str) else value
        elif ctype.startswith("multipart/form-data"):
            args: dict[str, list[bytes]] = {}
            files: dict[str, list[httputil.HTTPFile]] = {}
            try:
                httputil.parse_body_arguments(ctype, body, args, files, headers)
            except httputil.HTTPInputError as exc:
                raise _bad_request(f"can't parse multipart body: {exc}") from None
            for key, values in args.items():
                params[key] = _decode_field(key, values[-1].decode("utf-8", "replace"))
            uploads = {
                name: UploadedFile(parts[-1].filename, parts[-1].body, parts[-1].content_type)
                for name, parts in files.items()
            }
            self._attach_uploads(params, uploads)
        else:
            for key, value in parse_qsl(
                body.decode("utf-8", "replace"), keep_blank_values=True
            ):
                params[key] = _decode_field(key, value)
        return params

    @staticmethod
    def _attach_uploads(params: dict, uploads: dict[str, UploadedFile]) -> None:
        """Put uploads into params, resolving ``attach://name`` references (media, thumbs)."""
        referenced: set[str] = set()

        def substitute(value: Any) -> Any:
            if isinstance(value, str):
                if value.startswith("attach://") and value[9:] in uploads:
                    referenced.add(value[9:])
                    return uploads[value[9:]]
                return value
            if isinstance(value, list):
                return [substitute(v) for v in value]
            if isinstance(value, dict):
                return {k: substitute(v) for k, v in value.items()}
            return value

        for key in list(params):
            params[key] = substitute(params[key])
        for name, upload in uploads.items():
            if name not in referenced:
                params[name] = upload

    async def _delayed(self, ex: _Exchange, call: Call, delay: float) -> None:
        await asyncio.sleep(delay)
        if not ex.closed:
            self._execute(ex, call)

    def _execute(self, ex: _Exchange, call: Call) -> None:
        method = call.method
        faults = self._faults.get(method)
        if faults:
            fault = faults[0]
            fault.times -= 1
            if fault.times <= 0:
                faults.popleft()
            if fault.disconnect:
                ex.disconnect()
            else:
                self._finish(ex, call, fault.error_code, fault.body)
            return
        handler = self._custom.get(method)
        if handler is None:
            if method == "getUpdates":
                self._get_updates(ex, call)
                return
            handler = self._builtin.get(method)
            if handler is None:
                self._finish(ex, call, 404, _NOT_FOUND)
                return
        try:
            result = handler(call.params)
        except BotAPIError as exc:
            self._finish(ex, call, exc.error_code, exc.body())
        except Exception as exc:  # a bug in the fake (or a custom handler): say so loudly
            self._finish(ex, call, 500, {
                "ok": False,
                "error_code": 500,
                "description": f"Internal Server Error: fake Bot API handler crashed: {exc!r}",
            })
        else:
            self._finish(ex, call, 200, {"ok": True, "result": result})

    def _finish(self, ex: _Exchange, call: Call, status: int, body: dict) -> None:
        call.response = body
        if status == 200 and call.method in self.latency_methods:
            queue = self._pending_push.get(_chat_key(call.params.get("chat_id")))
            if queue:
                self.latencies.append(time.perf_counter() - queue.popleft())
        ex.respond(status, json.dumps(body, separators=(",", ":")).encode())

    def _serve_file(self, ex: _Exchange, rest: str) -> None:
        token, _, file_path = rest.partition("/")
        stored = self._files_by_path.get(unquote(file_path))
        if unquote(token) != self.token or stored is None:
            ex.respond(404, json.dumps(_NOT_FOUND).encode())
            return
        ex.respond(200, stored.content, stored.mime_type or "application/octet-stream")

    # ------------------------------------------------------------------ getUpdates

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            keep = -offset
            while len(updates) > keep:
                updates.popleft()
            return
        while updates and updates[0].get("update_id", offset) < offset:
            updates.popleft()
        if not self._updates_ordered:
            self._updates = deque(u for u in updates if u.get("update_id", offset) >= offset)
            self._updates_ordered = True

    def _batch(self, limit: int, allowed: Any) -> list[dict]:
        if not self._updates:
            return []
        if not allowed:
            return list(itertools.islice(self._updates, limit))
        allowed_set = set(allowed)
        batch = []
        for update in self._updates:
            if any(key in allowed_set for key in update if key != "update_id"):
                batch.append(update)
                if len(batch) >= limit:
                    break
        return batch

    def _get_updates(self, ex: _Exchange, call: Call) -> None:
        if self.webhook.get("url"):
            self._finish(ex, call, 409, BotAPIError(409, _WEBHOOK_CONFLICT).body())
            return
        params = call.params
        offset = params.get("offset")
        if isinstance(offset, int):
            self._confirm(offset)
        limit = int(_as_number(params.get("limit"), 100) or 100)
        limit = max(1, min(100, limit))
        timeout = max(0.0, _as_number(params.get("timeout"), 0.0) or 0.0)
        allowed = params.get("allowed_updates")
        previous = self._active_poll
        if previous is not None:
            previous.superseded = True
            if previous.waiter is not None:
                _resolve(previous.waiter)
        batch = self._batch(limit, allowed)
        if batch or timeout <= 0 or self._stopping:
            self._finish(ex, call, 200, {"ok": True, "result": batch})
            return
        self._active_poll = ex
        self._spawn(self._long_poll(ex, call, limit, allowed, timeout), "fake-bot-api-poll")

    async def _long_poll(
        self, ex: _Exchange, call: Call, limit: int, allowed: Any, timeout: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        batch: list[dict] = []
        try:
            while not (ex.closed or ex.superseded or self._stopping):
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                fut = loop.create_future()
                ex.waiter = fut
                self._poll_waiters.append(fut)
                handle = loop.call_later(remaining, _resolve, fut)
                try:
                    await fut
                finally:
                    handle.cancel()
                    ex.waiter = None
                    if self._poll_waiters and fut in self._poll_waiters:
                        self._poll_waiters.remove(fut)  # woken by timeout / close, not a push
                batch = self._batch(limit, allowed)
                if batch:
                    break
        finally:
            if self._active_poll is ex:
                self._active_poll = None
        if ex.closed:
            return
        if ex.superseded:
            reason = _WEBHOOK_CONFLICT if self.webhook.get("url") else _POLL_CONFLICT
            self._finish(ex, call, 409, BotAPIError(409, reason).body())
        else:
            self._finish(ex, call, 200, {"ok": True, "result": batch})

    # ------------------------------------------------------------------ built-in methods

    def _m_true(self, params: dict) -> bool:
        return True

    def _m_get_me(self, params: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _require(params: dict, name: str) -> Any:
        value = params.get(name)
        if value is None or value == "":
            raise _bad_request(f"{name} is empty" if name != "text" else "message text is empty")
        return value

    @staticmethod
    def _visible_length(text: str, parse_mode: Any) -> int:
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            return len(html.unescape(_HTML_TAG_RE.sub("", text)))
        return len(text)

    def _bot_message(self, params: dict, **content: Any) -> dict:
        chat = self._chat_for(self._require(params, "chat_id"))
        cid = chat["id"]
        msg: dict[str, Any] = {
            "message_id": self._next_message_id(cid),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        reply_to = None
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        elif params.get("reply_to_message_id") is not None:
            reply_to = params["reply_to_message_id"]
        if reply_to is not None:
            reply = self._lookup_reply(cid, reply_to)
            if reply is not None:
                msg["reply_to_message"] = reply
        msg.update(content)
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup  # Telegram only echoes inline keyboards
        self._store_message(msg)
        self._last_bot_message[cid] = msg["message_id"]
        self._result_by_params[id(params)] = msg
        return msg

    def _m_send_message(self, params: dict) -> dict:
        text = self._require(params, "text")
        if not isinstance(text, str):
            text = str(text)
        if self._visible_length(text, params.get("parse_mode")) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        content: dict[str, Any] = {"text": text}
        if params.get("entities"):
            content["entities"] = params["entities"]
        return self._bot_message(params, **content)

    def _caption(self, params: dict) -> dict:
        caption = params.get("caption")
        if caption is None or caption == "":
            return {}
        if self._visible_length(str(caption), params.get("parse_mode")) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long")
        content: dict[str, Any] = {"caption": str(caption)}
        if params.get("caption_entities"):
            content["caption_entities"] = params["caption_entities"]
        return content

    def _file_from_param(self, value: Any, kind: str, default_mime: str | None) -> dict:
        if isinstance(value, UploadedFile):
            mime = value.mime_type
            if mime in (None, "", "application/octet-stream") and default_mime is None:
                mime = mimetypes.guess_type(value.filename)[0] or "application/octet-stream"
            return self.register_file(
                value.content, file_name=value.filename, mime_type=mime or default_mime,
                kind=kind,
            )
        if isinstance(value, str) and value in self._files:
            return self._file_fields(self._files[value])
        if isinstance(value, str) and value:
            name = value.rsplit("/", 1)[-1] or "file"
            return self.register_file(b"", file_name=name, kind=kind)  # a URL: no bytes
        raise _bad_request("there is no document in the request")

    def _m_send_document(self, params: dict) -> dict:
        document = self._file_from_param(self._require(params, "document"), "documents", None)
        return self._bot_message(params, document=document, **self._caption(params))

    def _m_send_photo(self, params: dict) -> dict:
        fields = self._file_from_param(self._require(params, "photo"), "photos", "image/jpeg")
        size = {
            "file_id": fields["file_id"],
            "file_unique_id": fields["file_unique_id"],
            "file_size": fields["file_size"],
            "width": 320,
            "height": 240,
        }
        return self._bot_message(params, photo=[size], **self._caption(params))

    def _editable_message(self, params: dict) -> dict | None:
        """The stored message targeted by an edit, or None for inline messages."""
        if params.get("inline_message_id"):
            return None
        chat_id = _chat_key(self._require(params, "chat_id"))
        message_id = self._require(params, "message_id")
        msg = self._messages.get((chat_id, int(message_id)))
        if msg is None:
            raise _bad_request("message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_id:
            raise _bad_request("message can't be edited")
        return msg

    def _m_edit_message_text(self, params: dict) -> dict | bool:
        text = self._require(params, "text")
        if not isinstance(text, str):
            text = str(text)
        if self._visible_length(text, params.get("parse_mode")) > MAX_MESSAGE_LENGTH:
            raise _bad_request("message is too long")
        old = self._editable_message(params)
        if old is None:
            return True
        markup = params.get("reply_markup")
        entities = params.get("entities") or None
        if (
            old.get("text") == text
            and old.get("entities") == entities
            and old.get("reply_markup") == markup
        ):
            raise _bad_request(_NOT_MODIFIED)
        msg = dict(old)
        msg["text"] = text
        msg.pop("entities", None)
        if entities:
            msg["entities"] = entities
        msg.pop("reply_markup", None)  # editing without reply_markup removes the keyboard
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        self._store_message(msg)
        return msg

    def _m_edit_message_reply_markup(self, params: dict) -> dict | bool:
        old = self._editable_message(params)
        if old is None:
            return True
        markup = params.get("reply_markup")
        if not (isinstance(markup, dict) and markup.get("inline_keyboard")):
            markup = None
        if old.get("reply_markup") == markup:
            raise _bad_request(_NOT_MODIFIED)
        msg = dict(old)
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        self._store_message(msg)
        return msg

    def _m_delete_message(self, params: dict) -> bool:
        chat_id = _chat_key(self._require(params, "chat_id"))
        message_id = int(self._require(params, "message_id"))
        if self._messages.pop((chat_id, message_id), None) is None:
            raise _bad_request("message to delete not found")
        return True

    def _m_answer_callback_query(self, params: dict) -> bool:
        query_id = str(self._require(params, "callback_query_id"))
        if query_id not in self._known_callback_ids:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        return True

    @staticmethod
    def _scope_key(scope: Any) -> str:
        if not scope:
            return "default"
        if isinstance(scope, dict):
            if scope.get("type") == "default" and len(scope) == 1:
                return "default"
            return json.dumps(scope, sort_keys=True)
        return str(scope)

    def _m_set_my_commands(self, params: dict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("commands must be a JSON array")
        if len(commands) > 100:
            raise _bad_request("too many commands")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("BOT_COMMAND_INVALID")
            name = str(command.get("command", ""))
            description = str(command.get("description", ""))
            if not _BOT_COMMAND_NAME_RE.fullmatch(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        if commands:
            self.commands[key] = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        else:
            self.commands.pop(key, None)
        return True

    def _m_get_my_commands(self, params: dict) -> list[dict]:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        return list(self.commands.get(key, []))

    def _m_delete_my_commands(self, params: dict) -> bool:
        key = (self._scope_key(params.get("scope")), params.get("language_code") or "")
        self.commands.pop(key, None)
        return True

    def _m_set_webhook(self, params: dict) -> bool:
        url = params.get("url", "")
        if not isinstance(url, str):
            raise _bad_request("url must be a string")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN_RE.fullmatch(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if not url:
            self.webhook = {"url": ""}
            return True
        webhook: dict[str, Any] = {"url": url}
        for key in ("secret_token", "max_connections", "allowed_updates", "ip_address"):
            if params.get(key) is not None:
                webhook[key] = params[key]
        webhook["has_custom_certificate"] = isinstance(params.get("certificate"), UploadedFile)
        self.webhook = webhook
        # Wake a long poll so it sees the conflict (like Telegram terminating it).
        if self._active_poll is not None:
            self._active_poll.superseded = True
            if self._active_poll.waiter is not None:
                _resolve(self._active_poll.waiter)
        return True

    def _m_delete_webhook(self, params: dict) -> bool:
        self.webhook = {"url": ""}
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _m_get_webhook_info(self, params: dict) -> dict:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": bool(self.webhook.get("has_custom_certificate")),
            "pending_update_count": len(self._updates),
        }
        for key in ("max_connections", "allowed_updates", "ip_address"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    def _m_get_chat(self, params: dict) -> dict:
        chat = self._chat_for(self._require(params, "chat_id"))
        return {**chat, "accent_color_id": 0, "max_reaction_count": 11}

    def _m_get_file(self, params: dict) -> dict:
        file_id = str(self._require(params, "file_id"))
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }


def _exempt_localhost_from_proxies() -> None:
    """If the environment configures an HTTP proxy, make sure httpx clients (PTB's included)
    still talk to 127.0.0.1 directly: test traffic must never leave the machine."""
    if not any(
        os.environ.get(name)
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                     "all_proxy")
    ):
        return
    for name in ("NO_PROXY", "no_proxy"):
        current = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        for host in ("127.0.0.1", "localhost"):
            if host not in current:
                current.append(host)
        os.environ[name] = ",".join(current)
