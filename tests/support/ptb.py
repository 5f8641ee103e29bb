"""Helpers to run a real PTB Application against :class:`FakeBotAPI` inside a test."""

from __future__ import annotations

import asyncio
import socket
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from telegram.ext import Application, ApplicationBuilder

from tests.support.fake_bot_api import FakeBotAPI


def app_builder(api: FakeBotAPI) -> ApplicationBuilder:
    """An ``ApplicationBuilder`` already pointed at the fake server (token + URLs)."""
    return (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for PTB's webhook server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def running_app(
    app: Application,
    *,
    poll_timeout: int = 1,
    webhook: dict[str, Any] | None = None,
    drop_pending_updates: bool | None = None,
    allowed_updates: list[str] | None = None,
    run_hooks: bool = True,
    step_timeout: float = 10.0,
) -> AsyncIterator[Application]:
    """Run ``app`` like ``run_polling``/``run_webhook`` would, without owning the event loop.

    Polling (default) uses ``poll_interval=0`` and a short long-poll ``timeout`` so stopping is
    quick (PTB cancels the in-flight getUpdates anyway).  Pass ``webhook=dict(...)`` to start
    ``app.updater.start_webhook(**webhook)`` instead.  ``post_init`` / ``post_stop`` /
    ``post_shutdown`` run when ``run_hooks`` is true, in the same order as ``run_polling``.
    Every lifecycle step is bounded by ``step_timeout`` so a stuck handler fails the test
    instead of hanging it.
    """

    async def bounded(coro: Any, what: str) -> None:
        try:
            await asyncio.wait_for(coro, step_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"running_app: {what} did not finish in {step_timeout}s") from None

    await bounded(app.initialize(), "app.initialize()")
    try:
        if run_hooks and app.post_init:
            await bounded(app.post_init(app), "post_init")
        if webhook is not None:
            await bounded(app.updater.start_webhook(**webhook), "updater.start_webhook()")
        else:
            await bounded(
                app.updater.start_polling(
                    poll_interval=0,
                    timeout=poll_timeout,
                    drop_pending_updates=drop_pending_updates,
                    allowed_updates=allowed_updates,
                ),
                "updater.start_polling()",
            )
        await bounded(app.start(), "app.start()")
        yield app
    finally:
        try:
            if app.updater and app.updater.running:
                await bounded(app.updater.stop(), "updater.stop()")
            if app.running:
                await bounded(app.stop(), "app.stop() (a handler or task still running?)")
                if run_hooks and app.post_stop:
                    await bounded(app.post_stop(app), "post_stop")
        finally:
            await bounded(app.shutdown(), "app.shutdown()")
            if run_hooks and app.post_shutdown:
                await bounded(app.post_shutdown(app), "post_shutdown")
