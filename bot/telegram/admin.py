"""Admin commands: live rule updates, ``/why``, statistics, bulletin, export,
retention, and rule reloads on SIGHUP or when the rule file changes.

Only user ids in ``settings.admins`` may use them, checked on every call, in
the callback itself (not only in a filter). Anyone else gets exactly the
reply an unknown command gets, so the commands cannot even be discovered,
and the attempt is logged. Admin commands work in private chats only: in a
group they are as silent as any other command.

The handlers are registered before the user handlers (``build_application``),
so ``/reload`` never reaches the "unknown command" handler. Rule documents
(``.yaml``/``.yml``) are consumed only when an admin sends them privately;
anyone else's document goes on to the user handlers ("describe it in words").
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import os
import signal
import time
from pathlib import Path
from typing import Awaitable, Callable

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler, ContextTypes, MessageHandler, filters

from .. import replies
from ..admin_texts import changes_lines, errors_text, split_message, stats_text, t, utc_day, utc_time, why_text
from ..bulletin import bulletin
from ..detect import LANGUAGES, RuleFileError
from ..detect.load import MAX_FILE_BYTES
from ..rulebook import ConfirmationNeeded, Loaded
from ..rulebuild import BuildFailed
from ..rulefiles import open_error
from ..service import CallGuard
from ..storage import StorageError
from .handlers import MAX_TEXT, Handlers
from .rule_changes import RuleConfirmations, applied_text

__all__ = ["AdminHandlers", "ADMIN_COMMANDS"]

log = logging.getLogger(__name__)

ADMIN_COMMANDS = ("reload", "rules", "rollback", "why", "stats", "bulletin", "export")
DEFAULT_DAYS = 30
MAX_DAYS = 36_500
PURGE_EVERY = 24 * 3600.0  # seconds between retention purges
WATCH_EVERY = 2.0  # seconds between checks of the rule file when watching it
MAX_DOCUMENT = 49 * 1024 * 1024  # Telegram bots may send files up to 50 MB
MAX_NAME = 80  # characters of an uploaded file's name kept for messages and logs
FULL_NUMBERS = ("full", "--full-numbers")  # /export argument for unmasked phone numbers

Callback = Callable[[Update, ContextTypes.DEFAULT_TYPE], Awaitable[None]]
_PRIVATE = filters.ChatType.PRIVATE
_MESSAGES = filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    """What tells us the rule file changed: (mtime_ns, size, inode); None when missing."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


def _unreadable_text(live: Loaded, error: OSError, lang: str) -> str:
    """The rule file could not be opened: which path, why, and what CALLGUARD_RULES says."""
    setting = os.environ.get("CALLGUARD_RULES", "").strip()
    return t("reload.unreadable", lang, path=live.path, reason=error.strerror or error, version=live.version,
             setting=t("reload.rules_env", lang, value=setting) if setting else t("reload.rules_default", lang))


def _short_name(name: str) -> str:
    """An uploaded file's name as shown and logged: one line, at most MAX_NAME characters."""
    name = " ".join(name.split()) or "upload.yaml"
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def _error_text(error: BaseException) -> str:
    """A failed check or a bug, in one short line for the admin."""
    text = str(error) if isinstance(error, BuildFailed) else f"{type(error).__name__}: {error}"
    return text if len(text) <= 300 else text[:299] + "…"


class AdminHandlers:
    def __init__(self, guard: CallGuard, *, refuse: Callback | None = None):
        """``refuse`` answers a non-admin: pass the user handlers' unknown-command
        handler so the reply is the same by construction."""
        self.guard = guard
        self.refuse = refuse or self._unknown_command
        self._watched: tuple[int, int, int] | None = None
        self._sighup_loop: asyncio.AbstractEventLoop | None = None
        self.confirmations = RuleConfirmations(guard, self.is_admin, self._remember_file)

    @property
    def admins(self) -> frozenset[int]:
        return self.guard.settings.admins

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    # ------------------------------------------------------------------ wiring

    def register(self, app: Application) -> None:
        """Add the admin handlers; call before the user handlers' ``register``."""
        for name in ADMIN_COMMANDS:
            app.add_handler(CommandHandler(name, self._guarded(name, getattr(self, f"cmd_{name}"))))
        rule_file = filters.Document.FileExtension("yaml") | filters.Document.FileExtension("yml")
        only_admins = filters.User(user_id=self.admins)  # empty admin list: matches nobody
        app.add_handler(MessageHandler(_MESSAGES & _PRIVATE & only_admins & rule_file,
                                       self._guarded("upload", self.upload)))
        self.confirmations.register(app)

    async def start(self, app: Application) -> None:
        """From ``post_init``: retention purge (now and daily), rule-file watch, SIGHUP."""
        jq = app.job_queue
        if jq is not None:
            # Once as soon as the job queue runs (however late that is), then daily.
            jq.run_once(self._purge_job, when=0, name="purge-reports-at-start",
                        job_kwargs={"misfire_grace_time": None})
            jq.run_repeating(self._purge_job, interval=PURGE_EVERY, first=PURGE_EVERY, name="purge-reports")
            if self.guard.settings.watch_rules:
                self._watched = _file_signature(self.guard.rules.path)
                jq.run_repeating(self._watch_job, interval=WATCH_EVERY, first=WATCH_EVERY, name="watch-rules")
                log.info("watching %s for changes every %.0f s", self.guard.rules.path, WATCH_EVERY)
        else:
            log.warning("no job queue: retention purge and rule-file watch are off")
        self.install_sighup(app)

    async def stop(self, app: Application) -> None:
        """From ``post_shutdown``: remove the SIGHUP handler."""
        if self._sighup_loop is not None and not self._sighup_loop.is_closed():
            try:
                self._sighup_loop.remove_signal_handler(signal.SIGHUP)
            except (RuntimeError, ValueError):
                pass
        self._sighup_loop = None

    def install_sighup(self, app: Application) -> bool:
        """``kill -HUP <pid>`` reloads the rules (result in the log). False where
        signals cannot be handled (Windows, or not the main thread)."""
        sig = getattr(signal, "SIGHUP", None)
        if sig is None:
            return False
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(sig, self.on_sighup, app)
        except (NotImplementedError, RuntimeError, ValueError) as exc:
            log.info("SIGHUP reload not available here (%s)", exc)
            return False
        self._sighup_loop = loop
        return True

    def on_sighup(self, app: Application) -> None:
        log.info("SIGHUP: reloading the rules")
        app.create_task(self.reload_rules("SIGHUP"), name="sighup-reload")

    # ------------------------------------------------------------------ access control

    def _guarded(self, name: str, callback: Callback) -> Callback:
        @functools.wraps(callback)
        async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            user = update.effective_user
            chat = update.effective_chat
            private = chat is not None and chat.type == ChatType.PRIVATE
            who = self.guard.user_tag(user.id if user else None)  # logs never carry Telegram ids
            if not self.is_admin(user.id if user else None):
                log.warning("refused admin command /%s from non-admin %s (%s chat)", name, who,
                            chat.type if chat else "no")
                if private and update.effective_message is not None:
                    await self.refuse(update, context)
                return
            if not private:
                log.info("admin %s used /%s outside a private chat: ignored", who, name)
                return
            log.info("admin %s: /%s", who, name)
            await callback(update, context)

        return guarded

    @staticmethod
    async def _unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """What Handlers.unknown_command sends (used when no ``refuse`` is given)."""
        await update.effective_message.reply_text(replies.ui("unknown_command", Handlers.language(update, context)))

    # ------------------------------------------------------------------ rules

    def _remember_file(self) -> None:
        """After a load/rollback the file's current state is "seen": the watch
        job reacts only to the next change."""
        if self.guard.settings.watch_rules:
            self._watched = _file_signature(self.guard.rules.path)

    async def reload_rules(self, trigger: str, *, owner: int | None = None
                           ) -> tuple[Loaded | None, Loaded, Exception | None]:
        """Reload the rule file; returns (new or None, the rules live before, error).

        ``owner``: the admin who asked (a /reload); without one (SIGHUP, the
        file watch) nobody can confirm, so a file that changes too many
        verdicts is refused with the report in the log. Never raises: on any
        failure the old rules keep serving and it is logged."""
        book = self.guard.rules
        before = book.live
        try:
            loaded = await book.reload(owner=owner, hold=owner is not None)
        except RuleFileError as exc:
            log.warning("rule reload (%s) refused; rules %s keep serving:\n%s", trigger, before.version, exc)
            return None, before, exc
        except ConfirmationNeeded as exc:
            if exc.pending is None:  # nobody to ask: the report goes to the log
                names = before.detector.ruleset
                log.warning("rule reload (%s) held back; rules %s keep serving. %s\n%s\nTo apply it: /reload in "
                            "Telegram (and confirm), or approve this content with `callguard rules apply --force`.",
                            trigger, before.version, exc,
                            "\n".join(changes_lines(exc.comparison, names, names, "en", html=False)))
            return None, before, exc
        except BuildFailed as exc:
            log.error("rule reload (%s) could not check the file; rules %s keep serving: %s", trigger,
                      before.version, exc)
            return None, before, exc
        except Exception as exc:  # a bug must not take the live rules down either
            log.exception("rule reload (%s) failed; rules %s keep serving", trigger, before.version)
            return None, before, exc
        finally:
            self._remember_file()
        log.info("rule reload (%s): %s -> %s, %d rules, %.3f s", trigger, before.version, loaded.version,
                 loaded.rule_count, loaded.seconds)
        return loaded, before, None

    async def cmd_reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = Handlers.language(update, context)
        user = update.effective_user.id
        loaded, before, error = await self.reload_rules(f"/reload by {self.guard.user_tag(user)}", owner=user)
        unreadable = open_error(before.path) if isinstance(error, RuleFileError) else None
        if isinstance(error, ConfirmationNeeded):
            await self.confirmations.ask(update.effective_message, context, error.pending, before, lang)
            return
        if unreadable is not None:  # a missing file did not "fail validation": name the file and the setting
            text = errors_text(_unreadable_text(before, unreadable, lang), [], lang)
        elif isinstance(error, RuleFileError):
            text = errors_text(t("reload.failed", lang, version=before.version, n=len(error.problems)),
                               error.problems, lang)
        elif error is not None:
            text = errors_text(t("reload.crashed", lang, error=_error_text(error), version=before.version), [], lang)
        elif loaded is before:
            text = errors_text(t("reload.same", lang, version=loaded.version, count=loaded.rule_count), [], lang)
        else:
            text = applied_text(t("reload.ok", lang, old=before.version, new=loaded.version,
                                        count=loaded.rule_count, seconds=loaded.seconds), loaded, before, lang)
        await update.effective_message.reply_html(text)

    async def upload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An admin sent a rule file: check it like a reload, then install it."""
        message = update.effective_message
        lang = Handlers.language(update, context)
        document = message.document
        name = _short_name(document.file_name or "upload.yaml")
        user = update.effective_user.id
        book = self.guard.rules
        before = book.live
        if document.file_size and document.file_size > MAX_FILE_BYTES:
            await message.reply_html(errors_text(t("upload.too_big", lang, size=document.file_size,
                                                   limit=MAX_FILE_BYTES // (1024 * 1024)), [], lang))
            return
        try:
            file = await context.bot.get_file(document.file_id)
            data = bytes(await file.download_as_bytearray())
        except Exception as exc:
            log.warning("could not download rule file %r from admin %s: %s", name, self.guard.user_tag(user), exc)
            await message.reply_html(errors_text(t("upload.download_failed", lang, error=str(exc)), [], lang))
            return
        try:
            loaded = await book.install(data, filename=name, owner=user)
        except RuleFileError as exc:
            log.warning("uploaded rule file %r from admin %s refused; rules %s keep serving:\n%s", name,
                        self.guard.user_tag(user), before.version, exc)
            text = errors_text(t("upload.failed", lang, name=name, version=before.version, n=len(exc.problems)),
                               exc.problems, lang)
        except ConfirmationNeeded as exc:
            await self.confirmations.ask(message, context, exc.pending, before, lang)
            return
        except Exception as exc:  # BuildFailed (the check could not be done), or a bug
            if isinstance(exc, BuildFailed):
                log.error("uploaded rule file %r could not be checked; rules %s keep serving: %s", name,
                          before.version, exc)
            else:
                log.exception("installing rule file %r failed; rules %s keep serving", name, before.version)
            text = errors_text(t("reload.crashed", lang, error=_error_text(exc), version=before.version), [], lang)
        else:
            log.info("admin %s installed rule file %r: %s -> %s, %d rules", self.guard.user_tag(user), name,
                     before.version, loaded.version, loaded.rule_count)
            text = applied_text(t("upload.ok", lang, name=name, old=before.version, new=loaded.version,
                                        count=loaded.rule_count, seconds=loaded.seconds, path=loaded.path),
                                      loaded, before, lang)
        finally:
            self._remember_file()
        await message.reply_html(text)

    async def cmd_rules(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = Handlers.language(update, context)
        book = self.guard.rules
        live = book.live
        lines = [t("rules.info", lang, version=live.version, count=live.rule_count, path=live.path,
                   loaded=utc_time(live.loaded_at), seconds=live.seconds)]
        previous = book.previous
        lines.append(t("rules.previous", lang, version=previous.version, count=previous.rule_count)
                     if previous is not None else t("rules.no_previous", lang))
        await update.effective_message.reply_html(errors_text("\n".join(lines), [], lang))

    async def cmd_rollback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = Handlers.language(update, context)
        before = self.guard.rules.live
        try:
            loaded = await self.guard.rules.rollback()
        except OSError as exc:
            log.warning("rollback refused: cannot write %s: %s", before.path, exc)
            await update.effective_message.reply_html(
                errors_text(t("rollback.failed", lang, version=before.version, error=exc.strerror or exc), [], lang))
            return
        finally:
            self._remember_file()
        if loaded is None:
            text = t("rollback.none", lang)
        else:
            log.info("admin %s rolled the rules back: %s -> %s (file backup: %s)",
                     self.guard.user_tag(update.effective_user.id),
                     before.version, loaded.version, loaded.backup)
            backup = t("rollback.backup", lang, path=loaded.backup.name) if loaded.backup else ""
            text = t("rollback.ok", lang, old=before.version, new=loaded.version, count=loaded.rule_count,
                     backup=backup)
        await update.effective_message.reply_html(errors_text(text, [], lang))

    async def cmd_why(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        lang = Handlers.language(update, context)
        parts = (message.text or "").split(None, 1)  # "/why TEXT", "/why@bot TEXT", "/why\nTEXT"
        text = parts[1].strip() if len(parts) > 1 else ""
        if not text and message.reply_to_message is not None:
            text = message.reply_to_message.text or message.reply_to_message.caption or ""
        if not text.strip():
            await message.reply_text(t("usage.why", lang))
            return
        model = self.guard.pool.model  # the second opinion users' verdicts get, if any
        detector = self.guard.detector.with_model(model)  # one rule set for the whole explanation
        explanation = detector.explain(text[:MAX_TEXT])
        opinion = (model.probability(text[:MAX_TEXT]), model.medium, model.low) if model is not None else None
        await message.reply_html(why_text(explanation, detector.ruleset, lang, model=opinion))

    # ------------------------------------------------------------------ reports

    @staticmethod
    def _days(args: list[str], *, others: int = 0) -> int | None:
        """The day count among ``args`` (DEFAULT_DAYS when none); None when there
        are two, it is out of range, or more than ``others`` other arguments."""
        numbers = [a for a in args if a.lstrip("+-").isdigit()]
        if len(numbers) > 1 or len(args) - len(numbers) > others:
            return None
        if not numbers:
            return DEFAULT_DAYS
        days = int(numbers[0])
        return days if 1 <= days <= MAX_DAYS else None

    async def _storage_down(self, update: Update, lang: str, exc: StorageError) -> None:
        log.warning("admin command without storage: %s", exc)
        await update.effective_message.reply_text(t("storage.down", lang))

    async def cmd_stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = Handlers.language(update, context)
        args = context.args or []
        days = self._days(args)
        if days is None:
            await update.effective_message.reply_text(t("usage.days", lang, command="stats", max=MAX_DAYS,
                                                        default=DEFAULT_DAYS))
            return
        try:
            stats = await self.guard.stats(days)
        except StorageError as exc:
            await self._storage_down(update, lang, exc)
            return
        await update.effective_message.reply_html(stats_text(stats, self.guard.ruleset, lang, days=days))

    @staticmethod
    def _bulletin_lang(args: list[str]) -> str | None:
        """``en`` / ``zh-Hant`` / ``zh-Hans`` among the arguments (default zh-Hans); None for junk."""
        lang = "zh-Hans"
        for arg in args:
            if arg.lstrip("+-").isdigit():
                continue
            match = {code.lower(): code for code in LANGUAGES}.get(arg.lower().replace("_", "-"))
            if match is None:
                return None
            lang = match
        return lang

    async def cmd_bulletin(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        ui_lang = Handlers.language(update, context)
        args = context.args or []
        days = self._days(args, others=1)
        lang = self._bulletin_lang(args)
        if days is None or lang is None:
            await update.effective_message.reply_text(t("usage.bulletin", ui_lang))
            return
        try:
            stats = await self.guard.stats(days)
        except StorageError as exc:
            await self._storage_down(update, ui_lang, exc)
            return
        text = bulletin(stats, self.guard.ruleset, lang)
        for part in split_message(text):  # plain text: ready to copy
            await update.effective_message.reply_text(part)

    async def cmd_export(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/export [days] [full]``: phone numbers masked unless ``full`` (logged)."""
        lang = Handlers.language(update, context)
        args = context.args or []
        full = [a for a in args if a.lower() in FULL_NUMBERS]
        days = self._days([a for a in args if a.lower() not in FULL_NUMBERS])
        if days is None or len(full) > 1:
            await update.effective_message.reply_text(t("usage.export", lang, max=MAX_DAYS, default=DEFAULT_DAYS))
            return
        since = time.time() - days * 86_400
        buffer = io.StringIO(newline="")
        try:
            count = await self.guard.export_csv(since, buffer, admin_id=update.effective_user.id,
                                                full_numbers=bool(full))
        except StorageError as exc:
            await self._storage_down(update, lang, exc)
            return
        data = buffer.getvalue().encode("utf-8-sig")  # the BOM lets Excel read the Chinese correctly
        if len(data) > MAX_DOCUMENT:
            await update.effective_message.reply_text(t("export.too_big", lang, size=len(data) // (1024 * 1024),
                                                        since=utc_day(since)))
            return
        filename = f"callguard-reports-{utc_day(since)}-{days}d.csv"
        numbers = t("export.numbers_full", lang) if full else t("export.numbers_masked", lang, days=days)
        await update.effective_message.reply_document(
            document=io.BytesIO(data), filename=filename,
            caption=t("export.caption", lang, days=days, since=utc_day(since), count=count) + "\n" + numbers)

    # ------------------------------------------------------------------ jobs

    async def purge(self) -> int | None:
        """Delete reports older than the retention period; None when storage is down."""
        return await self.guard.purge()

    async def _purge_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.purge()

    async def check_rule_file(self) -> bool:
        """Reload when the rule file changed since last seen; True when a reload ran."""
        signature = _file_signature(self.guard.rules.path)
        if signature is None or signature == self._watched:
            return False  # missing (an editor replacing it): wait for it to come back
        self._watched = signature  # a broken file is reported once, not every 2 s
        await self.reload_rules("file changed")
        return True

    async def _watch_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.check_rule_file()
