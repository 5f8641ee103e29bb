"""Taking updates from Telegram and seeing each one through to its answer.

:class:`Intake` replaces PTB's ``Updater`` (``app.updater``), so
``run_polling``/``run_webhook`` and the tests' ``running_app`` drive it as
usual. What it does differently, and why:

* **Floods are dropped before parsing.** Each update's sender is read from
  the raw JSON (:mod:`~callguard.telegram.rawupdates`) and the per-user rate
  limit is applied there: an update over the limit is never turned into PTB
  objects (``Update.de_json`` was most of what a dropped update cost), and a
  dropped button press is not answered. The one update per window that
  crosses the limit gets the polite notice (and a press its answer), in
  order after the user's earlier updates.
* **Nothing fetched is lost in a crash.** PTB confirms a ``getUpdates`` batch
  to Telegram as soon as it is fetched, before it is handled. Here each
  accepted update is written to the :class:`~callguard.telegram.journal.IntakeJournal`
  first and marked done only once handled (report committed, reply sent);
  a restart answers what the journal holds, and an ``update_id`` seen again
  (Telegram redelivering, a webhook request replayed) is not answered twice.
* **What the last run left is answered first.** New updates are taken in
  (journaled) at once but handled only once the replay has finished, or
  :data:`REPLAY_HEAD_START` seconds after the start at the latest: those
  users have waited longest, and while a replayed update is the only thing
  under way, a crash is rightly counted against it (journal.py gives up an
  update under way at three crashes in a row). Replayed behind a burst of new
  updates, an innocent update sat in the detection queue across three kills
  and was given up, never answered.
* **Each update is handled by the application** through its update processor
  (:class:`~callguard.telegram.concurrency.PerUserUpdateProcessor`: one user's
  updates in order, users in parallel, expensive users held to a share),
  calling ``Application.process_update``, so handlers, the error handler and
  PTB's conversation machinery work as always.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import time
import warnings
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application, Updater
from telegram.warnings import PTBUserWarning

from ..ratelimit import DROP, WARN, RateLimiter
from . import rawupdates
from .journal import IntakeJournal
from .webhook import MAX_CONNECTIONS, WebhookServer

__all__ = ["Intake"]

log = logging.getLogger(__name__)

READ_MARGIN = 5.0  # seconds beyond a long poll's own timeout to wait for Telegram's answer (PTB's read timeout)
RETRY_FIRST, RETRY_MAX = 1.0, 30.0  # seconds between getUpdates attempts after a failure, doubling
LOG_EVERY = 60.0  # seconds between two log lines about the same getUpdates failure
REPLAY_HEAD_START = 5.0  # seconds new updates wait, at most, for what the last run left to be answered

# The raw getUpdates call is the point here (Bot.get_updates parses every update).
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'", category=PTBUserWarning)


class _Unparsed:
    """A message or button press waiting for its sender's turn, still raw JSON.

    PTB's ``Update.de_json`` of a 4,096-character message costs about a millisecond; parsing
    a burst when it arrives (200 such messages from ten accounts within their rate limits)
    held the event loop for 200 ms. Parsed when its turn comes instead, one at a time. The
    update processor orders it by ``ordering_key`` (the sender, read from the raw JSON)."""

    __slots__ = ("raw", "ordering_key")

    def __init__(self, raw: dict, ordering_key: tuple[str, int]):
        self.raw = raw
        self.ordering_key = ordering_key


class _NotStarted(Exception):
    """The intake stopped before the application started: nothing was handled."""


def _seconds(timeout: float | dtm.timedelta | None) -> float:
    if isinstance(timeout, dtm.timedelta):
        return timeout.total_seconds()
    return float(timeout or 0)


class Intake(Updater):
    """The bot's ``app.updater``: long polling or a webhook, with the rate-limit gate,
    the journal and per-update completion (see the module docstring)."""

    def __init__(self, app: Application, *, limiter: RateLimiter, journal_path: Path | None,
                 notice: Callable[[Update, Any], Awaitable[None]]):
        """``notice(update, context)``: what to send for the update that crosses a user's rate
        limit (``Handlers.rate_limited``: the texts live with the handlers)."""
        super().__init__(app.bot, app.update_queue)
        self.app = app
        self.limiter = limiter
        self.notice = notice
        self.journal_path = journal_path
        self.journal = IntakeJournal(None)
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        self._webhook: WebhookServer | None = None
        self._offset: int | None = None  # the next getUpdates offset (all below it are in the journal)
        self._replayed = asyncio.Event()  # set once the last run's leftovers are answered (or the head start ends)

    @property
    def in_hand(self) -> int:
        """Updates taken in and not yet handled."""
        return self.journal.in_hand

    # ------------------------------------------------------------------ starting and stopping

    def _check_can_start(self) -> None:
        if self._running:
            raise RuntimeError("This Updater is already running!")
        if not self._initialized:
            raise RuntimeError("This Updater was not initialized via `Updater.initialize`!")

    async def start_polling(  # type: ignore[override]
        self,
        poll_interval: float = 0.0,
        timeout: float | dtm.timedelta = dtm.timedelta(seconds=10),
        bootstrap_retries: int = 0,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        error_callback: Any = None,
    ) -> "asyncio.Queue[object]":
        self._check_can_start()
        self._running = True
        try:
            await self._bootstrap(bootstrap_retries, webhook_url="", allowed_updates=None,
                                  drop_pending_updates=drop_pending_updates)
            self._begin(IntakeJournal(self.journal_path))
            self._poller = asyncio.create_task(
                self._poll(_seconds(timeout), poll_interval, list(allowed_updates) if allowed_updates else None),
                name="callguard-intake-poll")
        except BaseException:
            self._running = False
            raise
        return self.update_queue

    async def start_webhook(  # type: ignore[override]
        self,
        listen: str = "127.0.0.1",
        port: int = 80,
        url_path: str = "",
        cert: Any = None,
        key: Any = None,
        bootstrap_retries: int = 0,
        webhook_url: str | None = None,
        allowed_updates: Sequence[str] | None = None,
        drop_pending_updates: bool | None = None,
        ip_address: str | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        unix: Any = None,
    ) -> "asyncio.Queue[object]":
        if cert is not None or key is not None or unix is not None:
            raise ValueError("CallGuard's webhook serves plain HTTP on a TCP port; put TLS in front (README)")
        if not secret_token:
            raise ValueError("a webhook needs a secret token (CALLGUARD_WEBHOOK_SECRET)")
        self._check_can_start()
        self._running = True
        try:
            self._begin(IntakeJournal(self.journal_path, confirm_on_take=True))
            server = WebhookServer(url_path, secret_token, self.receive)
            await server.start(listen, port)
            self._webhook = server
            await self._bootstrap(bootstrap_retries, webhook_url=webhook_url, allowed_updates=allowed_updates,
                                  drop_pending_updates=drop_pending_updates, ip_address=ip_address,
                                  max_connections=min(max_connections, MAX_CONNECTIONS), secret_token=secret_token)
        except BaseException:
            if self._webhook is not None:
                await self._webhook.stop()
                self._webhook = None
            self.journal.close()
            self._running = False
            raise
        return self.update_queue

    def _begin(self, journal: IntakeJournal) -> None:
        self.journal = journal
        replay = journal.open()  # what the last run took in and never answered
        self._replayed = asyncio.Event()
        if not replay:
            self._replayed.set()
            return
        task = asyncio.create_task(self._replay(replay), name="callguard-intake-replay")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        replayed = self._replayed
        task.add_done_callback(lambda _: replayed.set())
        asyncio.get_running_loop().call_later(REPLAY_HEAD_START, replayed.set)

    async def _replay(self, raws: list[dict]) -> None:
        """Answer what the last run left, one update at a time, while new updates wait (up to
        REPLAY_HEAD_START, see the module docstring). One at a time, so that when the process
        dies again, the journal knows which replayed update was being handled: one that was,
        twice, is given up (a poison update, see journal.py); had all been replayed at once,
        every one of them would have been a suspect, and a bot killed soon after each start
        would give up innocent updates."""
        for raw in raws:
            who = rawupdates.sender(raw)
            item = _Unparsed(raw, ("user", who.user_id)) if who is not None else self._parse(raw)
            if item is None:
                self.journal.done(raw["update_id"])
                continue
            await self._finish(raw["update_id"], self._handle(item, replay=True))

    async def stop(self) -> None:
        """Stop taking updates, finish every update in hand, confirm them to Telegram."""
        if not self._running:
            raise RuntimeError("This Updater is not running!")
        self._running = False
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except asyncio.CancelledError:
                pass
            self._poller = None
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._offset is not None:
            await self._confirm(self._offset)
        self.journal.close()

    async def _confirm(self, offset: int) -> None:
        """One last short ``getUpdates`` so Telegram forgets what was handled (as PTB does);
        if it fails, the journal remembers them and the next start skips them."""
        try:
            await self.bot.do_api_request("getUpdates", api_kwargs={"offset": offset, "limit": 1, "timeout": 0})
        except TelegramError as exc:
            log.warning("could not confirm the last updates to Telegram (%s); the next start skips them", exc)
            return
        self.journal.confirmed(offset)

    # ------------------------------------------------------------------ long polling

    async def _poll(self, timeout: float, interval: float, allowed: list[str] | None) -> None:
        delay = RETRY_FIRST
        logged_at = float("-inf")
        while self._running:
            offset = self._offset
            try:
                raws = await self.bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": allowed},
                    read_timeout=READ_MARGIN + timeout)
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
                continue
            except InvalidToken:
                log.critical("Telegram refuses the bot token (TELEGRAM_BOT_TOKEN): no more updates are fetched")
                return
            except Exception as exc:  # TelegramError (network, 5xx, 409 conflict), or a bug: never stop polling
                if time.monotonic() - logged_at >= LOG_EVERY:
                    log.warning("getUpdates failed (%s: %s); retrying every %.0f s at most", type(exc).__name__,
                                exc, RETRY_MAX, exc_info=not isinstance(exc, TelegramError))
                    logged_at = time.monotonic()
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX, 2 * delay)
                continue
            delay = RETRY_FIRST
            if offset is not None:
                self.journal.confirmed(offset)  # Telegram got this offset: it forgot everything below
            if isinstance(raws, list) and raws:
                last = raws[-1].get("update_id") if isinstance(raws[-1], dict) else None
                self.take(raws)
                if type(last) is int:
                    self._offset = last + 1
            if interval:
                await asyncio.sleep(interval)

    # ------------------------------------------------------------------ taking updates in

    def receive(self, raw: dict) -> int:
        """A webhook request's update (an object with an integer update_id): take it in;
        the HTTP status to answer Telegram with (400: not a valid update)."""
        if not self._running:
            return 503  # stopping: Telegram sends it again later
        return 400 if self.take([raw], parse_now=True) else 200

    def take(self, raws: list, *, parse_now: bool = False) -> list[int]:
        """Gate a batch of raw updates, journal what passes, and start handling it.

        A message or button press is parsed only when its sender's turn comes
        (:class:`_Unparsed`); ``parse_now`` parses everything at once (a webhook request
        holds one update, and Telegram should hear at once that it is not one). Returns
        the ids of updates found not to be valid updates (skipped, logged)."""
        accepted: list[tuple[dict, Update | _Unparsed, bool]] = []  # (raw, what to process, notice)
        refused: list[int] = []
        invalid: list[int] = []
        for raw in raws:
            if not isinstance(raw, dict) or type(raw.get("update_id")) is not int:
                log.warning("ignoring an update without an update_id from Telegram")
                continue
            uid = raw["update_id"]
            if self.journal.seen(uid):
                continue  # redelivered or replayed: it is being, or was, answered
            who = rawupdates.sender(raw)
            decision = self.limiter.check(who.user_id) if who is not None else None
            if decision == DROP:
                refused.append(uid)  # never parsed, never answered
                continue
            item = _Unparsed(raw, ("user", who.user_id)) if who is not None and not parse_now else self._parse(raw)
            if item is None:
                invalid.append(uid)
                refused.append(uid)
                continue
            accepted.append((raw, item, decision == WARN))
        self.journal.take([raw for raw, _, _ in accepted], refused)
        for raw, item, notice in accepted:
            self._spawn(raw["update_id"], self._handle(item, notice=notice))
        return invalid

    def _spawn(self, update_id: int, work: Awaitable) -> None:
        task = asyncio.create_task(self._finish(update_id, work), name=f"callguard-update-{update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, update_id: int, work: Awaitable) -> None:
        try:
            await work
        except _NotStarted:
            return  # stopped before the application started: still in the journal for the next start
        except Exception:  # handlers' errors go to the error handler; this is anything else
            log.exception("update %d could not be handled", update_id)
        self.journal.done(update_id)

    def _parse(self, raw: dict) -> Update | None:
        try:
            return Update.de_json(raw, self.bot)
        except Exception as exc:  # not shaped like an update: answering it is impossible anyway
            log.warning("update %s is not a valid update (%s: %s): skipped", raw.get("update_id"),
                        type(exc).__name__, exc)
            return None

    async def _app_running(self) -> None:
        """Handle nothing before ``Application.start`` (it comes right after the updater's start);
        :class:`_NotStarted` if the intake is stopped first (the application failed to start)."""
        while not self.app.running:
            if not self._running:
                raise _NotStarted
            await asyncio.sleep(0.01)

    async def _handle(self, item: Update | _Unparsed, *, replay: bool = False, notice: bool = False) -> None:
        """Process an update through the application's update processor (its sender's updates
        in order, see concurrency.py); ``notice``: the one that crossed the rate limit gets the
        polite notice instead of the handlers."""
        await self._app_running()
        if not replay:
            await self._replayed.wait()  # the last run's leftovers first (see the module docstring)
        await self.app.update_processor.process_update(item, self._process(item, replay=replay, notice=notice))

    async def _process(self, item: Update | _Unparsed, *, replay: bool, notice: bool) -> None:
        """Its turn has come: parse it if not yet done, and handle it."""
        update = item if isinstance(item, Update) else self._parse(item.raw)
        if update is None:
            return
        if replay:
            self.journal.replaying(update.update_id)  # its handling starts (again) now
        if notice:
            await self._send_notice(update)
        else:
            await self.app.process_update(update)

    async def _send_notice(self, update: Update) -> None:
        try:
            context = self.app.context_types.context.from_update(update, self.app)
            await context.refresh_data()
            await self.notice(update, context)
        except TelegramError as exc:
            log.warning("could not send the rate-limit notice: %s", exc)
