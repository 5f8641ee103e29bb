"""The webhook server for ``callguard run --webhook``: a small tornado server of our own.

PTB's webhook server is tornado with tornado's defaults, made for trusted
clients, and anyone who can reach the port is not one:

* it read the whole body (up to 100 MB) before checking the secret token:
  400 parallel 1 MiB bodies with a wrong secret took the bot from 146 to
  632 MB;
* it had no bound on connections and gave each an hour to send its headers:
  1,100 slow connections used up the process's file descriptors, so the bot
  could not even reach Telegram (real updates timed out for 25 s) and logged
  36,051 "Too many open files" tracebacks;
* a body that is not JSON got ``500``.

Here, in order:

1. At most :data:`MAX_CONNECTIONS` connections. A new one beyond that takes
   the place of the oldest connection still waiting for (or dribbling) its
   request headers; if every connection is busy with a request, it is closed.
   Telegram opens at most 40 (``max_connections`` of ``setWebhook``).
   Headers must arrive within :data:`HEADER_TIMEOUT`, the body within
   :data:`BODY_TIMEOUT`, and keep-alive connections idle longer are closed.
2. From the headers alone, before a byte of the body is read: the path
   (404), the method (405), the secret token, compared in constant time, and
   the content type (403), then the declared size (400 past
   :data:`MAX_BODY_BYTES`). A refused request's connection is closed and its
   body never read (one of at most :data:`DISCARD_MAX` bytes is read and
   dropped first, so that the client sees the answer, not a reset).
3. The body: JSON in UTF-8 whose top level is an object with an integer
   ``update_id``, else ``400``. Then the update goes to the intake
   (:class:`~callguard.telegram.intake.Intake`), which journals it and answers
   ``200`` (a replayed ``update_id`` gets ``200`` and is not answered again).
"""

from __future__ import annotations

import hmac
import logging
import socket
import time
from typing import Callable

from tornado import httputil, web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from . import rawupdates

__all__ = ["WebhookServer", "MAX_BODY_BYTES", "MAX_CONNECTIONS", "HEADER_TIMEOUT", "BODY_TIMEOUT"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20  # 1 MiB: hundreds of times a real update (a message is at most 4,096 characters)
MAX_CONNECTIONS = 100  # Telegram uses up to 40; far below the 1,024 file descriptors a process usually gets
# tornado's idle_connection_timeout is also how long it waits for a request's headers (the first
# request's, or the next one's on a keep-alive connection): one limit for both.
HEADER_TIMEOUT = 10.0  # seconds to send the request headers
BODY_TIMEOUT = 10.0  # seconds to send the body once the headers are in
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# A refused request with a body up to this size is read (and dropped) before the answer, so the
# client gets the answer: closing with unread data makes the kernel reset the connection, and the
# client sees a broken connection instead of the 403. Larger or chunked bodies are never read.
DISCARD_MAX = 16 << 10
LOG_EVERY = 60.0  # seconds between two log lines about refused connections


class _Refusals:
    """Counts refused connections; logs at most once a minute, not once per connection."""

    def __init__(self) -> None:
        self.total = 0
        self._unlogged = 0
        self._logged_at = float("-inf")

    def add(self, what: str) -> None:
        self.total += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._logged_at >= LOG_EVERY:
            log.warning("webhook: %s (%d connection(s) refused or cut since the last such line)", what,
                        self._unlogged)
            self._logged_at, self._unlogged = now, 0


class _BoundedHTTPServer(HTTPServer):
    """tornado's HTTPServer with a cap on connections (see the module docstring, 1)."""

    def initialize(self, *args, max_connections: int = MAX_CONNECTIONS, **kwargs) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self.refusals = _Refusals()
        self._awaiting_headers: dict[object, float] = {}  # connection -> since when (insertion order = age)

    def handle_stream(self, stream, address) -> None:  # type: ignore[override]
        if len(self._connections) >= self.max_connections:
            if not self._awaiting_headers:
                self.refusals.add(f"{self.max_connections} connections busy with requests: a new one was closed")
                stream.close()
                return
            oldest = next(iter(self._awaiting_headers))
            self._awaiting_headers.pop(oldest)
            self.refusals.add(f"{self.max_connections} connections open: the oldest one still sending its "
                              "headers was closed for a new one")
            oldest.stream.close()  # on_close removes it from self._connections
        super().handle_stream(stream, address)

    def start_request(self, server_conn, request_conn):  # type: ignore[override]
        self._awaiting_headers[server_conn] = time.monotonic()
        return _HeadersArrived(super().start_request(server_conn, request_conn),
                               lambda: self._awaiting_headers.pop(server_conn, None))

    def on_close(self, server_conn) -> None:  # type: ignore[override]
        self._awaiting_headers.pop(server_conn, None)
        super().on_close(server_conn)


class _HeadersArrived(httputil.HTTPMessageDelegate):
    """Passes everything on to ``delegate``; tells the server when the headers are complete."""

    def __init__(self, delegate: httputil.HTTPMessageDelegate, arrived: Callable[[], object]):
        self.delegate = delegate
        self.arrived = arrived

    def headers_received(self, start_line, headers):
        self.arrived()
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        self.delegate.finish()

    def on_connection_close(self) -> None:
        self.delegate.on_connection_close()


class _Refusing(web.RequestHandler):
    """Refuses from the headers (:meth:`refuse`): a small body is read and dropped, a larger one
    never read (see :data:`DISCARD_MAX`)."""

    refusal: tuple[int, str] | None = None

    def refuse(self, status: int, reason: str) -> None:
        self.refusal = (status, reason)
        declared = self.request.headers.get("Content-Length", "")
        if not (declared.isdigit() and int(declared) <= DISCARD_MAX):
            self._answer_refusal()  # the connection is closed without reading the body

    def _answer_refusal(self) -> None:
        status, reason = self.refusal
        self.set_status(status)
        self.set_header("Connection", "close")
        self.finish({"ok": False, "description": reason})

    def write_error(self, status_code: int, **kwargs) -> None:
        # tornado's own refusals (405, 400 for a body too large) come before the body is read, and
        # the connection is closed after them: say so, or a client reuses it and fails.
        self.set_header("Connection", "close")
        self.finish({"ok": False, "description": self._reason})

    def data_received(self, chunk: bytes) -> None:
        pass  # a refused request's small body: dropped

    def post(self) -> None:
        self._answer_refusal()


@web.stream_request_body
class _UpdateHandler(_Refusing):
    """POST /PATH: one update (see the module docstring, 2 and 3)."""

    SUPPORTED_METHODS = ("POST",)  # anything else: 405 from tornado, before the body

    def initialize(self, secret: bytes, on_update: Callable[[dict], int], max_body: int) -> None:
        self.secret = secret
        self.on_update = on_update
        self.max_body = max_body
        self.chunks: list[bytes] = []
        self.size = 0

    def prepare(self) -> None:
        """Runs with the headers only: refuse here and the body is never read."""
        sent = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(sent, self.secret):
            self.refuse(403, "wrong or missing secret token")
        elif self.request.headers.get("Content-Type") != "application/json":
            self.refuse(403, "the content type must be application/json")

    def data_received(self, chunk: bytes) -> None:
        if self.refusal is not None:
            return
        self.size += len(chunk)
        if self.size > self.max_body:  # tornado's own limit (max_body_size) stops it before this
            raise web.HTTPError(400)
        self.chunks.append(chunk)

    def post(self) -> None:
        if self.refusal is not None:
            self._answer_refusal()
            return
        body = b"".join(self.chunks)
        self.chunks = []
        try:
            raw = rawupdates.loads(body)
        except (ValueError, RecursionError):
            self.refusal = (400, "the body is not JSON in UTF-8")
            self._answer_refusal()
            return
        if not isinstance(raw, dict) or type(raw.get("update_id")) is not int:
            self.refusal = (400, "the body is not an update")
            self._answer_refusal()
            return
        status = self.on_update(raw)
        self.set_status(status)
        if status != 200:
            self.finish({"ok": False, "description": "not a valid update"})

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, web.HTTPError):
            return  # a refusal, not a failure
        super().log_exception(typ, value, tb)


@web.stream_request_body
class _NotFound(_Refusing):
    """Any other path: 404 from the headers (tornado's own 404 reads the whole body first)."""

    SUPPORTED_METHODS = web.RequestHandler.SUPPORTED_METHODS

    def prepare(self) -> None:
        self.refuse(404, "not found")

    def get(self) -> None:
        self._answer_refusal()

    head = delete = patch = put = options = get


class WebhookServer:
    """Serves ``POST /path`` for Telegram; ``on_update(raw) -> HTTP status``."""

    def __init__(self, path: str, secret: str, on_update: Callable[[dict], int], *,
                 max_connections: int = MAX_CONNECTIONS, max_body: int = MAX_BODY_BYTES,
                 header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT):
        if not secret:
            raise ValueError("a webhook needs a secret token")
        app = web.Application([(rf"/{path.strip('/')}/?", _UpdateHandler,
                                dict(secret=secret.encode(), on_update=on_update, max_body=max_body)),
                               (r".*", _NotFound)],
                              log_function=lambda handler: None)  # no access log line per request
        self.server = _BoundedHTTPServer(app, max_connections=max_connections, max_body_size=max_body,
                                         max_buffer_size=4 * max_body, body_timeout=body_timeout,
                                         idle_connection_timeout=header_timeout)

    async def start(self, listen: str, port: int) -> None:
        sockets = bind_sockets(port, listen, family=socket.AF_UNSPEC, backlog=128)
        self.server.add_sockets(sockets)

    @property
    def refused(self) -> int:
        return self.server.refusals.total

    async def stop(self) -> None:
        """Stop listening and close every connection (a request being read is cut off:
        Telegram sends it again)."""
        self.server.stop()
        await self.server.close_all_connections()
