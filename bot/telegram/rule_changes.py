"""Confirming a rule set that would change many verdicts: the admin's buttons.

A candidate that passes every check but changes more than a few verdicts of
texts from outside its file, or stops flagging a known scam
(:mod:`callguard.detect.compare`), is held by the rule book
(:class:`~callguard.rulebook.Pending`). The admin who sent it (``/reload`` or
an upload) gets the count and the worst changes with *Apply anyway* /
*Cancel* buttons; only they can press them, and the question expires after
:data:`~callguard.rulebook.PENDING_SECONDS`. The CLI equivalent is
``callguard rules check`` / ``callguard rules apply --force``.

Kept apart from :mod:`.admin` (the commands) so that each stays readable.
"""

from __future__ import annotations

import logging
import re
from typing import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from ..admin_texts import changes_lines, fit_lines, t
from ..i18n import escape
from ..rulebook import PENDING_SECONDS, Loaded, NotPending, Pending
from ..service import CallGuard
from .handlers import Handlers

__all__ = ["RuleConfirmations", "applied_text", "RULES_BUTTON"]

log = logging.getLogger(__name__)

RULES_BUTTON = "rules"  # callback data rules:apply:<token> / rules:cancel:<token>
_RULES_BUTTON = re.compile(r"^rules:(apply|cancel):([A-Za-z0-9_-]{1,40})$")


def applied_text(title: str, loaded: Loaded, before: Loaded, lang: str) -> str:
    """A success message: the title, then how the verdicts changed."""
    lines = []
    if loaded.comparison is not None:
        lines = changes_lines(loaded.comparison, before.detector.ruleset, loaded.detector.ruleset, lang)
    return fit_lines([escape(title)], lines, lang)


class RuleConfirmations:
    """The question under a held candidate, and the answer to its buttons.

    ``is_admin`` is the admin handlers' check; ``remember_file`` tells the
    rule-file watch that the file's current state is seen (after applying)."""

    def __init__(self, guard: CallGuard, is_admin: Callable[[int | None], bool], remember_file: Callable[[], None]):
        self.guard = guard
        self._is_admin = is_admin
        self._remember_file = remember_file

    def register(self, app: Application) -> None:
        app.add_handler(CallbackQueryHandler(self.rules_button, pattern=f"^{RULES_BUTTON}:"))

    async def ask(self, message: Message, context: ContextTypes.DEFAULT_TYPE, pending: Pending, before: Loaded,
                  lang: str) -> None:
        """The report of changed verdicts, with Apply anyway / Cancel buttons;
        when nobody answers in time the message says so."""
        candidate = pending.loaded
        minutes = round(PENDING_SECONDS / 60)
        title = t("changes.confirm", lang, name=pending.name, new=candidate.version, count=candidate.rule_count,
                  version=before.version, minutes=minutes)
        lines = changes_lines(pending.comparison, before.detector.ruleset, candidate.detector.ruleset, lang)
        buttons = InlineKeyboardMarkup([[
            InlineKeyboardButton(t("changes.apply", lang), callback_data=f"{RULES_BUTTON}:apply:{pending.token}"),
            InlineKeyboardButton(t("changes.cancel", lang), callback_data=f"{RULES_BUTTON}:cancel:{pending.token}"),
        ]])
        sent = await message.reply_html(fit_lines([escape(title)], lines, lang), reply_markup=buttons)
        if context.job_queue is not None:
            context.job_queue.run_once(self._expire_job, when=PENDING_SECONDS + 1, name=f"rules-expire-{pending.token}",
                                       data=(pending, sent.chat_id, sent.message_id, before.version, lang))

    async def _expire_job(self, context: ContextTypes.DEFAULT_TYPE) -> None:
        pending, chat_id, message_id, version, lang = context.job.data
        if not self.guard.rules.drop_expired(pending.token):
            return  # answered, or replaced by a newer candidate
        text = t("changes.expired", lang, minutes=round(PENDING_SECONDS / 60), new=pending.loaded.version,
                 version=version)
        try:
            await context.bot.edit_message_text(escape(text), chat_id=chat_id, message_id=message_id,
                                                parse_mode="HTML")
        except TelegramError as exc:
            log.info("could not mark the confirmation of rules %s as expired: %s", pending.loaded.version, exc)

    async def rules_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Apply anyway / Cancel under a report of changed verdicts. Only the
        admin who sent the file may press them; anyone else's press is
        answered with nothing (and logged), like junk callback data."""
        query = update.callback_query
        user = query.from_user.id if query.from_user else None
        match = _RULES_BUTTON.match(query.data or "")
        if match is None or not self._is_admin(user) or query.message is None:
            log.warning("refused a rules button press from non-admin %s", self.guard.user_tag(user))
            await query.answer()
            return
        lang = Handlers.language(update, context)
        action, token = match.groups()
        book = self.guard.rules
        before = book.live
        try:
            if action == "cancel":
                version, upload = book.cancel(token, user)
                text = t("changes.cancelled", lang, new=version, version=before.version)
                if not upload:
                    text += "\n" + t("changes.cancelled_file", lang, path=before.path)
                text = escape(text)
            else:
                loaded = await book.confirm(token, user)
                self._remember_file()
                text = applied_text(t("reload.ok", lang, old=before.version, new=loaded.version,
                                            count=loaded.rule_count, seconds=loaded.seconds), loaded, before, lang)
        except NotPending as exc:
            if exc.reason == "not_owner":
                await query.answer(t("changes.not_owner", lang), show_alert=True)
                return
            text = escape(t(f"changes.{exc.reason}", lang, version=book.live.version))
        except OSError as exc:  # the uploaded file could not be saved: nothing changed
            log.warning("confirmed rules could not be saved to %s: %s", before.path, exc)
            text = escape(t("rollback.failed", lang, version=before.version, error=exc.strerror or exc))
        await query.answer()
        try:
            await query.edit_message_text(text, parse_mode="HTML")
        except TelegramError:  # e.g. the message is too old to edit: say it anew
            await query.message.reply_html(text)
