"""Build the PTB Application: handlers, flood control, commands, periodic jobs."""

from __future__ import annotations

import logging
import traceback

from telegram import BotCommand, Update
from telegram.constants import ChatType
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from .. import replies
from ..config import Settings
from ..ratelimit import RateLimiter
from ..service import CallGuard
from .admin import AdminHandlers
from .concurrency import PerUserUpdateProcessor
from .handlers import Handlers
from .intake import Intake
from .journal import journal_path
from .request import JSONRequest

__all__ = ["build_application", "application_builder", "COMMANDS"]

log = logging.getLogger(__name__)

COMMANDS = ("start", "help", "report", "lang", "region", "privacy", "forget", "cancel")
FLUSH_EVERY = 30.0  # seconds between storage checks and retries of reports queued while it was down


async def _set_commands(app: Application) -> None:
    """Register the command menu in English (default) and Chinese.

    Telegram targets commands by two-letter language code only, so "zh"
    covers both scripts; it gets Simplified Chinese."""
    for lang, code in (("en", None), ("zh-Hans", "zh")):
        commands = [BotCommand(name, replies.ui(f"cmd.{name}", lang)) for name in COMMANDS]
        await app.bot.set_my_commands(commands, language_code=code)


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """One failing update is logged with its traceback and apologised for;
    the bot goes on serving everyone else."""
    error = context.error
    log.error("update failed: %s\n%s", error, "".join(traceback.format_exception(error)))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE:
        return  # never add noise to a group because of our own failure
    try:
        lang = Handlers.language(update, context)
        handlers = context.application.bot_data.get("handlers")
        region = handlers.region(update, context, lang) if handlers is not None else None
        await context.bot.send_message(update.effective_chat.id, replies.ui("error", lang, region=region))
    except Exception:  # the apology itself failed (network?): the log has it all
        log.warning("could not send the apology", exc_info=True)


def application_builder(settings: Settings) -> ApplicationBuilder:
    """A PTB builder with CallGuard's connection to the Bot API: token, URLs, HTTP pool,
    JSON request bodies (:class:`~callguard.telegram.request.JSONRequest`; otherwise PTB's defaults).

    The benchmark's baseline bot starts from this too, so both are measured
    with the same plumbing."""
    return (
        Application.builder()
        .token(settings.token)
        .base_url(settings.bot_api_url)
        .base_file_url(settings.bot_file_url)
        .request(JSONRequest(connection_pool_size=settings.connections))
        .get_updates_request(JSONRequest(connection_pool_size=1))  # PTB's default size for getUpdates
    )


def build_application(settings: Settings, guard: CallGuard, *, limiter: RateLimiter | None = None) -> Application:
    """The whole bot, wired to ``guard``; start it with polling or a webhook."""
    handlers = Handlers(guard)
    admin = AdminHandlers(guard, refuse=handlers.unknown_command)  # non-admins get the very same reply

    async def post_init(app: Application) -> None:
        await guard.start()
        await _set_commands(app)
        if app.job_queue is not None:
            app.job_queue.run_repeating(_flush, interval=FLUSH_EVERY, first=FLUSH_EVERY, name="flush-reports")
        await admin.start(app)  # retention purge, rule-file watch, SIGHUP reload

    async def post_shutdown(app: Application) -> None:
        await admin.stop(app)
        await guard.close()  # pending reports are written before exit

    async def _flush(context: ContextTypes.DEFAULT_TYPE) -> None:
        await guard.check_storage()  # a deleted database file is noticed here; queued reports written

    processor = PerUserUpdateProcessor(settings.concurrency, heavy=guard.pool.is_heavy)
    builder = application_builder(settings).concurrent_updates(processor)
    if settings.send_rate:  # 0 = off: no flood control at all (e.g. a local Bot API server, benchmarks)
        builder.rate_limiter(AIORateLimiter(overall_max_rate=settings.send_rate, overall_time_period=1, max_retries=3))
    app = (
        builder
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    # Updates come in through the intake: rate limit on the raw JSON, journal, completion (intake.py).
    app.updater = Intake(app, limiter=limiter or RateLimiter(settings.rate_limit),
                         journal_path=journal_path(settings.db_path), notice=handlers.rate_limited)
    app.bot_data["guard"] = guard
    app.bot_data["admin"] = admin
    app.bot_data["handlers"] = handlers
    admin.register(app)  # before the user handlers: admin commands never reach "unknown command"
    handlers.register(app)
    app.add_error_handler(_on_error)
    return app
