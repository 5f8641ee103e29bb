"""Telegram handlers: translate between chat and :class:`~callguard.service.CallGuard`.

Handlers hold no business logic. Each one reads what the person sent, asks the
service, and sends back the texts from :mod:`callguard.replies`. Order of the day:

* the rate limit is applied before updates reach the handlers, on the raw
  JSON (:mod:`callguard.telegram.intake`), which calls :meth:`Handlers.rate_limited`
  for the one update per window that crosses it;
* ``/report`` is a guided conversation (question by question);
* any other text in a private chat is a description of a suspicious call;
* a description that says money was already sent ("我已经转了钱怎么办") gets
  the emergency steps of the user's region first, then the verdict;
* in groups, the bot speaks only for high-risk messages, for someone who says
  they already paid and asks what now, or when addressed.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Awaitable

from telegram import ForceReply, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.error import BadRequest, Forbidden
from telegram.warnings import PTBUserWarning
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from .. import replies
from ..detect import detect_language, from_language_code
from ..detect.normalize import normalize
from ..detect.paid import already_paid, sounds_worried
from ..detect.regions import Region
from ..ocr import replies as picture_texts
from ..service import CallGuard, Outcome
from . import keyboards as kb
from .request import send_reply

__all__ = ["Handlers"]

log = logging.getLogger(__name__)

# In a group, an unaddressed message must be high risk and at least this long
# (normalised characters) before the bot speaks: no noise in family chats.
GROUP_MIN_CHARS = 12
MAX_TEXT = 20_000  # longer messages are judged on their first part

NUMBER, WHO, ASKED, MONEY = range(4)
MESSAGES = filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE
PRIVATE = filters.ChatType.PRIVATE


async def _edit(edit: Awaitable) -> None:
    """Edit a message we sent; an edit that changes nothing is not an error.

    A double tap on a button runs its handler twice against the same old message,
    and Telegram refuses the second, identical edit ("message is not modified")."""
    try:
        await edit
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


_NO_ZH = ("没", "沒", "未", "不", "冇", "唔")  # 冇 / 唔係 / 唔知: Cantonese "no" / "not" / "don't know"
_YES_ZH = ("是", "对", "對", "已", "转了", "轉了", "汇了", "匯了", "付了", "打了",
           "係", "有", "轉咗", "转咗", "俾咗", "畀咗")  # Cantonese: 係呀, 有, 轉咗 ("sent it")
_NO_EN = frozenset({"no", "not", "nope", "never", "didnt", "havent", "hasnt", "dont", "yet"})
_YES_EN = frozenset({"yes", "y", "yeah", "yep", "sent", "paid", "transferred", "wired", "already", "did"})


def said_money_sent(answer: str) -> bool:
    """Whether a typed answer to "have you already sent money?" means yes.

    Any negation wins ("not yet", "还没有", "I don't know"): the emergency
    steps stay one button away under the verdict either way."""
    words = set(re.findall(r"[a-z]+", answer.lower().replace("'", "").replace("’", "")))
    if words & _NO_EN or any(mark in answer for mark in _NO_ZH):
        return False
    return bool(words & _YES_EN) or any(mark in answer for mark in _YES_ZH)


class Handlers:
    def __init__(self, guard: CallGuard):
        from .pictures import Pictures  # it uses this module's helpers

        self.guard = guard
        self.pictures = Pictures(self, rate_limit=guard.settings.image_rate_limit)

    def register(self, app) -> None:
        """Add every handler to a PTB Application, in priority order."""
        app.add_handler(TypeHandler(Update, self.load_preferences), group=-1)  # before any other handler
        app.add_handler(self.report_conversation())
        app.add_handler(CommandHandler("report", self.report_in_group, filters=filters.ChatType.GROUPS))
        for name, callback in (("start", self.start), ("help", self.help), ("privacy", self.privacy),
                               ("lang", self.lang), ("region", self.region_command), ("forget", self.forget),
                               ("cancel", self.nothing_to_cancel)):
            app.add_handler(CommandHandler(name, callback))
        app.add_handler(CallbackQueryHandler(self.button))
        app.add_handler(MessageHandler(MESSAGES & PRIVATE & filters.TEXT & ~filters.COMMAND, self.describe))
        self.pictures.register(app)  # before the caption handlers: a photo's caption is read with the photo
        app.add_handler(MessageHandler(MESSAGES & PRIVATE & filters.CAPTION, self.describe))
        app.add_handler(MessageHandler(MESSAGES & filters.ChatType.GROUPS & (filters.TEXT | filters.CAPTION)
                                       & ~filters.COMMAND, self.group_message))
        app.add_handler(MessageHandler(MESSAGES & PRIVATE & filters.COMMAND, self.unknown_command))
        app.add_handler(MessageHandler(MESSAGES & PRIVATE, self.need_words))

    # ------------------------------------------------------------------ helpers

    async def load_preferences(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Put the user's stored /lang and /region into ``user_data``, where the handlers
        read them, so a restart of the bot does not forget them (the service caches
        them: one query per user, not per message). A choice made in this process wins."""
        user = update.effective_user if isinstance(update, Update) else None
        if user is None or context.user_data is None:
            return
        try:
            prefs = await self.guard.preferences(user.id)
        except Exception:  # never let this keep the update from its handler
            log.exception("preferences of %s not loaded", self.guard.user_tag(user.id))
            return
        if prefs.lang:
            context.user_data.setdefault("lang", prefs.lang)
        if prefs.region:
            context.user_data.setdefault("region", prefs.region)

    @staticmethod
    def language(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str | None = None) -> str:
        """The user's chosen language, else the text's, else Telegram's setting."""
        chosen = context.user_data.get("lang") if context.user_data is not None else None
        if chosen:
            return chosen
        user = update.effective_user
        base = from_language_code(user.language_code if user else None)
        return detect_language(text, default=base) if text else base

    def region(self, update: Update, context: ContextTypes.DEFAULT_TYPE, lang: str | None = None) -> Region | None:
        """The user's region outside a description: their ``/region``, else the region of
        their last verdict, else their language or the deployment's default."""
        data = context.user_data if context.user_data is not None else {}
        user = update.effective_user
        return self.guard.region_for(self.guard.detector.ruleset, chosen=data.get("region") or data.get("last_region"),
                                     lang=lang or self.language(update, context),
                                     language_code=user.language_code if user else None)

    def _assess_kwargs(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> dict:
        user = update.effective_user
        chosen = context.user_data.get("region") if context.user_data is not None else None
        return {"chosen_region": chosen, "language_code": user.language_code if user else None}

    async def _reply_verdict(self, message: Message, outcome: Outcome, lang: str, text: str, *,
                             quote: bool = False, context: ContextTypes.DEFAULT_TYPE | None = None,
                             picture: str | None = None, user_id: int | None = None) -> None:
        """``user_id``: the reporter, the only one whose presses of the buttons that write to
        the report take effect (see keyboards.py)."""
        verdict = outcome.verdict
        if context is not None and context.user_data is not None and outcome.region is not None:
            context.user_data["last_region"] = outcome.region.code  # for the "I already sent money" button
        reply = replies.verdict_reply(verdict, outcome.ruleset, lang, number_counts=outcome.number_counts,
                                      text=text, region=outcome.region, numbers=outcome.displayed_numbers,
                                      picture=picture)
        warn = verdict.scam or verdict.risk == "low" or verdict.warns_of is not None

        def sign(action: str) -> str | None:
            return self.guard.button_signature(action, outcome.report_id, user_id) if user_id is not None else None

        keyboard = kb.verdict_markup(outcome.report_id, replies.named_category(verdict, outcome.ruleset), lang,
                                     scam=warn, sign=sign)
        await send_reply(message, reply, keyboard, quote=quote)

    async def _send_emergency(self, chat_id: int, outcome: Outcome, lang: str, context) -> None:
        await context.bot.send_message(chat_id, replies.emergency_reply(outcome.ruleset, lang, region=outcome.region),
                                       parse_mode="HTML")

    # ------------------------------------------------------------------ rate limit

    async def rate_limited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The update that crossed the user's rate limit (the intake calls this instead of the
        handlers): one polite notice in a private chat, and a button press answered. Updates
        after it in the same window are dropped by the intake without a word."""
        chat = update.effective_chat
        if chat is not None and chat.type == ChatType.PRIVATE:
            lang = self.language(update, context)
            await context.bot.send_message(chat.id, replies.ui("rate_limited", lang,
                                                               region=self.region(update, context, lang)))
        if update.callback_query:
            await update.callback_query.answer()

    # ------------------------------------------------------------------ commands

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = self.language(update, context)
        await update.effective_message.reply_text(replies.ui("welcome", lang) + "\n\n" + replies.ui("example", lang))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = self.language(update, context)
        await update.effective_message.reply_text(picture_texts.help_text(
            lang, reading=self.guard.ocr is not None, region=self.region(update, context, lang)))

    async def privacy(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = self.language(update, context)
        days = self.guard.settings.retention_days
        await update.effective_message.reply_text(picture_texts.privacy_text(lang, days=days))

    async def lang(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(replies.ui("lang.pick", self.language(update, context)),
                                                  reply_markup=kb.language_keyboard())

    async def region_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        lang = self.language(update, context)
        await update.effective_message.reply_text(
            replies.ui("region.pick", lang), reply_markup=kb.region_keyboard(self.guard.ruleset.regions, lang))

    async def forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Asks before deleting; in a group the question goes to the user privately
        (the group should not see it, nor be able to press its buttons)."""
        lang = self.language(update, context)
        user = update.effective_user
        count = await self.guard.count_user_records(user.id)
        confirm = replies.ui("forget.confirm", lang, count=count)
        if update.effective_chat.type == ChatType.PRIVATE:
            await update.effective_message.reply_text(confirm, reply_markup=kb.forget_keyboard(lang))
            return
        try:
            await context.bot.send_message(user.id, confirm, reply_markup=kb.forget_keyboard(lang))
        except Forbidden:  # the user never opened a private chat with the bot
            await update.effective_message.reply_text(replies.ui("forget.open_private", lang))
            return
        await update.effective_message.reply_text(replies.ui("forget.private", lang))

    async def report_in_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/report`` asks personal questions: only in a private chat; say so instead of silence."""
        await update.effective_message.reply_text(replies.ui("report.private", self.language(update, context)))

    async def nothing_to_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(replies.ui("nothing_to_cancel", self.language(update, context)))

    async def unknown_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(replies.ui("unknown_command", self.language(update, context)))

    async def need_words(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(replies.ui("need_words", self.language(update, context)))

    # ------------------------------------------------------------------ descriptions

    async def describe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A private message: judge it, log it, answer with the verdict and buttons."""
        message = update.effective_message
        text = (message.text or message.caption or "")[:MAX_TEXT]
        if await self._maybe_feedback_comment(update, context, text):
            return
        if not normalize(text):
            await self.need_words(update, context)
            return
        lang = self.language(update, context, text)
        outcome = await self.guard.assess(text, user_id=update.effective_user.id, lang=lang,
                                          chat_type=update.effective_chat.type, **self._assess_kwargs(update, context))
        if outcome.paid:  # the emergency path comes first, before any explanation
            await self._send_emergency(message.chat_id, outcome, lang, context)
        await self._reply_verdict(message, outcome, lang, text, context=context, user_id=update.effective_user.id)

    async def group_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """In groups: answer when addressed; unasked only for a clear, high-risk scam, or for
        someone who says they already paid and asks what now ("那我转了的五千怎么办")."""
        message = update.effective_message
        text = (message.text or message.caption or "")[:MAX_TEXT]
        addressed, text = self._addressed(message, context, text)
        user = update.effective_user
        judgement, detector = await self.guard.judge(text, user_id=user.id if user else None,
                                                     **self._assess_kwargs(update, context))
        verdict = judgement.verdict
        worried_payer = already_paid(text) and sounds_worried(text)
        if not addressed and not worried_payer and not (
                verdict.risk == "high" and len(normalize(text)) >= GROUP_MIN_CHARS):
            return
        if addressed and not normalize(text):
            await self.need_words(update, context)
            return
        lang = self.language(update, context, text)
        outcome = await self.guard.record(text, verdict, detector, user_id=user.id if user else None, lang=lang,
                                          chat_type=update.effective_chat.type, numbers=judgement.numbers,
                                          **self._assess_kwargs(update, context))
        if outcome.paid:
            await self._send_emergency(message.chat_id, outcome, lang, context)
        await self._reply_verdict(message, outcome, lang, text, quote=True, context=context,
                                  user_id=user.id if user else None)

    @staticmethod
    def _addressed(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str) -> tuple[bool, str]:
        """Whether a group message speaks to the bot (mention or reply); the text without the mention."""
        bot = context.bot
        reply_to = message.reply_to_message
        addressed = bool(reply_to and reply_to.from_user and reply_to.from_user.id == bot.id)
        mention = f"@{bot.username}".lower() if bot.username else None
        entities = message.parse_entities() if message.text else message.parse_caption_entities()
        for entity, value in entities.items():
            if (entity.type == MessageEntityType.MENTION and mention and value.lower() == mention) or (
                    entity.type == MessageEntityType.TEXT_MENTION and entity.user and entity.user.id == bot.id):
                addressed = True
                text = text.replace(value, " ")
        return addressed, text.strip() if addressed else text  # the report stores what was said, not the mention

    async def _maybe_feedback_comment(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str) -> bool:
        """A reply to our "what was wrong?" prompt is feedback, not a new description."""
        message = update.effective_message
        pending = context.user_data.get("comment_for") if context.user_data is not None else None
        reply_to = message.reply_to_message
        if not pending or reply_to is None or reply_to.message_id != pending[0]:
            return False
        context.user_data.pop("comment_for", None)
        await self.guard.feedback(pending[1], message.from_user.id, "wrong", comment=text[:1000])
        await message.reply_text(replies.ui("feedback.comment_thanks", self.language(update, context)))
        return True

    # ------------------------------------------------------------------ buttons

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        parsed = kb.parse(query.data)
        if parsed is None:  # not ours: answer so the client stops spinning, do nothing
            await query.answer()
            return
        action, arg = parsed
        lang = self.language(update, context)
        chat_id = query.message.chat.id if query.message else query.from_user.id
        user_id = query.from_user.id
        if action in kb.SIGNED:
            report_id, signature = kb.signed(arg)
            own = self.guard.button_pressed_by_reporter(action, report_id, user_id, signature)
        if action == kb.SENT_MONEY:
            # The emergency steps go to whoever asks (a relative in a group, an old button): they
            # help and reveal nothing. Only the report's own reporter marks it "money sent".
            await query.answer()
            await context.bot.send_message(chat_id, replies.emergency_reply(
                self.guard.ruleset, lang, region=self.region(update, context, lang)), parse_mode="HTML")
            if own:
                await self.guard.mark_money_sent(report_id)
        elif action in (kb.HELPFUL, kb.WRONG) and not own:
            await query.answer()  # someone else's report, or forged data: a neutral answer, nothing stored
        elif action == kb.WARN_FAMILY:
            await query.answer()
            await context.bot.send_message(chat_id, replies.family_warning(
                self.guard.ruleset, arg or None, lang, region=self.region(update, context, lang)),
                parse_mode="HTML")
        elif action in (kb.HELPFUL, kb.WRONG):
            await self._feedback(query, context, action, report_id, user_id, lang)
        elif action == kb.LANGUAGE:
            changed = context.user_data.get("lang") != arg
            context.user_data["lang"] = arg
            if changed:
                await self.guard.set_preferences(user_id, lang=arg)
            await query.answer()
            if query.message:
                await _edit(query.edit_message_text(replies.ui("lang.set", arg)))
                if changed and not context.user_data.get("region"):  # then offer the region, once
                    await context.bot.send_message(chat_id, replies.ui("region.pick", arg), reply_markup=kb.region_keyboard(
                        self.guard.ruleset.regions, arg))
        elif action == kb.REGION:
            await query.answer()
            region = self.guard.ruleset.regions.get(arg)
            if region is not None:
                context.user_data["region"] = arg
                await self.guard.set_preferences(user_id, region=arg)
            if query.message and region is not None:
                await _edit(query.edit_message_text(replies.ui("region.set", lang, region=region,
                                                               name=region.name[lang])))
        elif action == kb.FORGET:
            await query.answer()
            if arg == "y":  # also drops this user's reports still queued in memory
                count = await self.guard.forget(user_id)
                context.user_data.clear()
                text = replies.ui("forget.done", lang, count=count)
            else:
                text = replies.ui("forget.kept", lang)
            if query.message:
                await _edit(query.edit_message_text(text))
        else:  # REPORT_MONEY outside its conversation (e.g. after a restart)
            await query.answer()

    async def _feedback(self, query, context, action: str, report_id: int, user_id: int, lang: str) -> None:
        value = "helpful" if action == kb.HELPFUL else "wrong"
        await self.guard.feedback(report_id, user_id, value)
        markup = query.message.reply_markup if query.message else None
        was_scam = bool(markup and any(b.callback_data and b.callback_data.startswith(f"{kb.WARN_FAMILY}:")
                                       for row in markup.inline_keyboard for b in row))
        await query.answer(replies.ui("feedback.thanks", lang))
        if markup is not None:  # feedback is given once: drop the feedback row, keep the rest
            rows = [row for row in markup.inline_keyboard
                    if not any(b.callback_data and b.callback_data[:2] in ("h:", "w:") for b in row)]
            await _edit(query.edit_message_reply_markup(InlineKeyboardMarkup(rows)))
        if value == "wrong" and was_scam and query.message is not None:
            prompt = await context.bot.send_message(query.message.chat.id, replies.ui("feedback.ask", lang),
                                                    reply_markup=ForceReply(selective=True))
            context.user_data["comment_for"] = (prompt.message_id, report_id)

    # ------------------------------------------------------------------ /report

    def report_conversation(self) -> ConversationHandler:
        text = filters.TEXT & ~filters.COMMAND
        with warnings.catch_warnings():
            # PTB warns that with per_message=False a button is tracked per chat, not per message.
            # That is what we want: the yes/no button belongs to the conversation's last question.
            warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
            return self._report_conversation(text)

    def _report_conversation(self, text) -> ConversationHandler:
        return ConversationHandler(
            entry_points=[CommandHandler("report", self.report_start, filters=PRIVATE)],
            states={
                NUMBER: [MessageHandler(text, self.report_number)],
                WHO: [MessageHandler(text, self.report_who)],
                ASKED: [MessageHandler(text, self.report_asked)],
                MONEY: [CallbackQueryHandler(self.report_money, pattern=r"^r:[yn]$"),
                        MessageHandler(text, self.report_money_text)],
            },
            fallbacks=[CommandHandler("cancel", self.report_cancel),
                       MessageHandler(~filters.COMMAND & ~filters.TEXT, self.report_need_words)],
            conversation_timeout=15 * 60,
            name="report",
        )

    async def report_start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data["report"] = {}
        await update.effective_message.reply_text(replies.ui("report.number", self.language(update, context)))
        return NUMBER

    async def _report_step(self, update, context, key: str, next_text: str, state: int, markup=None) -> int:
        context.user_data.setdefault("report", {})[key] = update.effective_message.text[:2000]
        lang = self.language(update, context)
        await update.effective_message.reply_text(replies.ui(next_text, lang), reply_markup=markup)
        return state

    async def report_number(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        return await self._report_step(update, context, "number", "report.who", WHO)

    async def report_who(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        return await self._report_step(update, context, "who", "report.asked", ASKED)

    async def report_asked(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        lang = self.language(update, context)
        return await self._report_step(update, context, "asked", "report.money", MONEY, kb.money_keyboard(lang))

    async def report_money(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        query = update.callback_query
        await query.answer()
        return await self._report_finish(update, context, money_sent=query.data.endswith("y"))

    async def report_money_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        answer = update.effective_message.text[:2000]
        return await self._report_finish(update, context, money_sent=said_money_sent(answer), money_answer=answer)

    async def _report_finish(self, update: Update, context: ContextTypes.DEFAULT_TYPE, *, money_sent: bool,
                             money_answer: str = "") -> int:
        """Judge the answers together, as the one story they tell ("they said they were
        中華電信 … transferred me to 刑事局 … take the money out …"), then, when money
        was sent, the emergency steps right after the verdict."""
        answers = context.user_data.pop("report", {})
        raw = " ".join(answers.get(k, "") for k in ("who", "asked"))
        lang = self.language(update, context, raw)
        text = self.report_story(answers, lang, money_answer)
        money_sent = money_sent or any(already_paid(a) for a in (*answers.values(), money_answer))
        chat = update.effective_chat
        outcome = await self.guard.assess(text or "-", user_id=update.effective_user.id, lang=lang,
                                          chat_type=chat.type, source="report", money_sent=money_sent,
                                          **self._assess_kwargs(update, context))
        await self._reply_verdict(update.effective_message, outcome, lang, text, context=context,
                                  user_id=update.effective_user.id)
        if money_sent:
            await self._send_emergency(chat.id, outcome, lang, context)
        return ConversationHandler.END

    @staticmethod
    def report_story(answers: dict, lang: str, money_answer: str = "") -> str:
        """The /report answers as one description, framed the way the questions asked them."""
        story = replies.ui("report.story", lang, number=answers.get("number", "").strip() or "-",
                           who=answers.get("who", "").strip() or "-", asked=answers.get("asked", "").strip() or "-")
        return f"{story} {money_answer.strip()}".strip()

    async def report_cancel(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        context.user_data.pop("report", None)
        await update.effective_message.reply_text(replies.ui("report.cancelled", self.language(update, context)))
        return ConversationHandler.END

    async def report_need_words(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.need_words(update, context)
        return None  # stay in the same state
