"""Limits for the webhook server PTB runs for ``callguard run --webhook``.

PTB serves the webhook with a plain tornado ``HTTPServer`` built with
tornado's defaults, and those are made for trusted clients:

* request bodies are buffered up to **100 MB** (``max_body_size``), and the
  secret token is only checked once the whole body is in memory, so anyone
  who can reach the port can make the bot hold 100 MB per connection;
* a body may arrive as slowly as the sender likes (no ``body_timeout``), and
  a connection may sit idle or dribble its headers for an hour.

Telegram's updates are a few kilobytes (a message is at most 4096
characters), so CallGuard caps the body at 1 MiB, requires it within 10 s,
and closes idle connections after a minute. An oversized request is answered
``400 Bad Request`` from its headers alone, before any of the body is read.

What PTB itself already refuses (checked in tests/reliability/test_webhook.py):
a wrong or missing secret token and any Content-Type other than exactly
``application/json`` (403), methods other than POST (405), JSON that is not a
valid update (400); a body that is not JSON at all gets 500. None of these
reach the handlers.

tornado reads these settings when the server is created; PTB creates it
inside ``run_webhook``, so they are installed beforehand with tornado's own
mechanism for defaults, ``HTTPServer.configure``. That is process-wide, which
is right for ``callguard run --webhook`` (the webhook is the only HTTP server
in the process).
"""

from __future__ import annotations

from tornado.httpserver import HTTPServer

__all__ = ["MAX_BODY_BYTES", "BODY_TIMEOUT", "IDLE_TIMEOUT", "limit_webhook_server"]

MAX_BODY_BYTES = 1 << 20  # 1 MiB: hundreds of times a real update
BODY_TIMEOUT = 10.0  # seconds to receive a body once its headers arrived
IDLE_TIMEOUT = 60.0  # seconds an idle keep-alive connection (or one sending headers) may last


def limit_webhook_server(*, max_body_bytes: int = MAX_BODY_BYTES, body_timeout: float = BODY_TIMEOUT,
                         idle_timeout: float = IDLE_TIMEOUT) -> None:
    """Make every tornado HTTPServer created from now on in this process use these limits."""
    HTTPServer.configure(None, max_body_size=max_body_bytes, max_buffer_size=4 * max_body_bytes,
                         body_timeout=body_timeout, idle_connection_timeout=idle_timeout)
