"""Pictures sent to the bot: read the screenshot, judge it like a description.

A photo, or an image sent as a file, goes through these steps:

1. a per-user limit for pictures, tighter than for text (reading one costs a
   second or more of CPU, typing a message almost nothing);
2. the smallest size Telegram offers that is still read at full detail is
   chosen, and anything over the byte or pixel bounds is refused before it is
   downloaded (:mod:`callguard.ocr.image` bounds it again while decoding);
3. the OCR pool reads it in a worker process (:mod:`callguard.ocr.pool`), so
   text users are never held up; the person sees "typing..." meanwhile;
4. caption and recognised lines are judged together and logged as a report
   marked as coming from a picture (the picture itself is never kept), and the
   reply quotes the lines that gave the scam away.

In groups the quiet rules for text hold: an unaddressed picture is answered
only when it is a clear, high-risk scam; and it is read only when the OCR
workers are idle, so group chatter never delays someone asking in private.
Without the ``ocr`` extra (or with ``CALLGUARD_OCR_WORKERS=0``) pictures get
the answer they always got, plus a line saying that this server cannot read them.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING

from telegram import Message, Update
from telegram.constants import ChatAction
from telegram.ext import ContextTypes, MessageHandler, filters

from .. import replies
from ..detect import Detector, Verdict
from ..detect.normalize import normalize
from ..detect.paid import already_paid, sounds_worried
from ..ocr import replies as texts
from ..ocr.image import MAX_BYTES, MAX_PIXELS, ImageRejected, scaled_size
from ..ocr.pool import OcrBusy, OcrError
from ..ocr.replies import picture_part
from ..ocr.text import Judged, combine
from ..ratelimit import ALLOW, WARN, RateLimiter
from .handlers import GROUP_MIN_CHARS, MAX_TEXT

if TYPE_CHECKING:
    from .handlers import Handlers

__all__ = ["Pictures", "PICTURES", "pick_photo"]

log = logging.getLogger(__name__)

PICTURES = filters.PHOTO | filters.Document.IMAGE
_MESSAGES = filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE


class TooBig(Exception):
    """Telegram says the picture is over our bounds: not downloaded."""


def pick_photo(sizes) -> object:
    """The ``PhotoSize`` to download: the smallest that is still read at full detail
    (at least the size :func:`~callguard.ocr.image.scaled_size` reads it at), else the
    largest within the bounds. Raises :class:`TooBig` when every size is over them."""
    within = [s for s in sizes if s.width * s.height <= MAX_PIXELS and (s.file_size or 0) <= MAX_BYTES]
    if not within:
        raise TooBig(f"{len(sizes)} sizes, all over the bounds")
    within.sort(key=lambda s: s.width * s.height)
    return next((s for s in within if scaled_size(s.width, s.height) != (s.width, s.height)), within[-1])


class Pictures:
    """The picture handlers; they share the text handlers' helpers (language, replies)."""

    def __init__(self, handlers: "Handlers", *, rate_limit: int):
        self.handlers = handlers
        self.guard = handlers.guard
        self.limiter = RateLimiter(rate_limit, 60.0)

    def register(self, app) -> None:
        """Add the handlers; call before the caption handlers, which would take a captioned picture."""
        app.add_handler(MessageHandler(_MESSAGES & filters.ChatType.PRIVATE & PICTURES, self.private))
        app.add_handler(MessageHandler(_MESSAGES & filters.ChatType.GROUPS & PICTURES, self.group))

    @property
    def reading(self) -> bool:
        """Whether this server reads pictures (the ``ocr`` extra is installed and workers are on)."""
        return self.guard.ocr is not None

    # ------------------------------------------------------------------ private chats

    async def private(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        caption = (message.caption or "")[:MAX_TEXT]
        lang = self.handlers.language(update, context, caption or None)
        if not self.reading:  # the answer of old (the caption judged, or "describe it in words") + one line
            if not normalize(caption):
                await message.reply_text(replies.ui("need_words", lang) + "\n\n" + texts.text("picture.not_here", lang))
            else:
                await self._judge(update, context, combine(caption, ()), note="picture.not_here_caption",
                                  from_image=False)
            return
        decision = self.limiter.check(update.effective_user.id)
        if decision != ALLOW:
            if decision == WARN:
                await message.reply_text(texts.text("picture.rate_limited", lang,
                                                    region=self.handlers.region(update, context, lang)))
            return
        await _typing(message)
        judged = await self._read(update, context, caption, lang, answer=True)
        if judged is not None:
            await self._judge(update, context, judged)

    # ------------------------------------------------------------------ groups

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Speak only when addressed, or unasked for a clear high-risk scam; otherwise silence."""
        if not self.reading:
            await self.handlers.group_message(update, context)  # the caption, as before
            return
        message = update.effective_message
        user = update.effective_user
        caption = (message.caption or "")[:MAX_TEXT]
        addressed, caption = self.handlers._addressed(message, context, caption)
        if not addressed and self.guard.ocr.waiting >= self.guard.ocr.workers:
            return  # the workers are busy: private chats first, unasked group pictures are skipped
        if user is not None and self.limiter.check(user.id) != ALLOW:
            return
        lang = self.handlers.language(update, context, caption or None)
        judged = await self._read(update, context, caption, lang, answer=addressed)
        if judged is None:
            return
        judgement, detector = await self.guard.judge(judged.text, user_id=user.id if user else None,
                                                     **self.handlers._assess_kwargs(update, context))
        verdict = judgement.verdict  # (judged by the detection workers, off the event loop)
        worried_payer = already_paid(caption) and sounds_worried(caption)  # "I paid them, what now?" + a picture
        if addressed or worried_payer or (verdict.risk == "high" and len(normalize(judged.text)) >= GROUP_MIN_CHARS):
            await self._judge(update, context, judged, quote=True, judged_by=(detector, verdict))

    # ------------------------------------------------------------------ answering

    async def _judge(self, update: Update, context: ContextTypes.DEFAULT_TYPE, judged: Judged, *,
                     note: str | None = None, from_image: bool = True, quote: bool = False,
                     judged_by: tuple[Detector, Verdict] | None = None) -> None:
        """Judge caption and picture lines together (unless ``judged_by`` did already), log the
        report, answer with the verdict and the quoted lines (or ``note``: why only the caption
        was judged)."""
        message = update.effective_message
        if not judged.lines and from_image:  # no words in the picture: the caption alone, if there is one
            if not normalize(judged.text):
                lang = self.handlers.language(update, context)
                await message.reply_text(texts.text("picture.no_text", lang))
                return
            note = "picture.caption_only"
        lang = self.handlers.language(update, context, judged.text)
        user = update.effective_user
        if judged_by is None:  # one rule set for the whole picture, even mid-reload; off the event loop
            judgement, detector = await self.guard.judge(judged.text, user_id=user.id if user else None, lang=lang,
                                                         **self.handlers._assess_kwargs(update, context))
            judged_by = detector, judgement.verdict
        detector, verdict = judged_by
        outcome = await self.guard.record(judged.text, verdict, detector, user_id=user.id if user else None,
                                          lang=lang, chat_type=update.effective_chat.type,
                                          from_image=from_image and bool(judged.lines),
                                          **self.handlers._assess_kwargs(update, context))
        if outcome.paid:  # the emergency path comes first, before any explanation
            await self.handlers._send_emergency(message.chat_id, outcome, lang, context)
        picture = html.escape(texts.text(note, lang), quote=False) if note else picture_part(judged, verdict, lang)
        await self.handlers._reply_verdict(message, outcome, lang, judged.text, quote=quote, context=context,
                                           picture=picture, user_id=user.id if user else None)

    # ------------------------------------------------------------------ reading

    async def _read(self, update: Update, context: ContextTypes.DEFAULT_TYPE, caption: str, lang: str, *,
                    answer: bool) -> Judged | None:
        """Download and read the picture; None (after telling the person why, if ``answer``)
        when that did not work."""
        message = update.effective_message
        user_id = message.from_user.id if message.from_user else None
        try:
            data = await self._download(message, context)
            image = await self.guard.ocr.read(data)
        except (TooBig, ImageRejected, OcrError, _DownloadFailed) as exc:
            log.info("picture from user %s not read: %s: %s", user_id, type(exc).__name__, exc)
            if answer:
                region = self.handlers.region(update, context, lang)
                await message.reply_text(texts.text(_problem_key(exc), lang, region=region))
            return None
        log.info("picture from user %s: %d lines in %.2f s", user_id, len(image.lines), image.seconds)
        return combine(caption, image.lines)

    @staticmethod
    async def _download(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bytes:
        if message.photo:
            file_id = pick_photo(message.photo).file_id
        else:
            document = message.document
            if document.file_size and document.file_size > MAX_BYTES:
                raise TooBig(f"{document.file_size} bytes")
            file_id = document.file_id
        try:
            file = await context.bot.get_file(file_id)
            if file.file_size and file.file_size > MAX_BYTES:
                raise TooBig(f"{file.file_size} bytes")
            data = bytes(await file.download_as_bytearray())
        except TooBig:
            raise
        except Exception as exc:  # Telegram refused, the network failed: say so, lose nothing else
            raise _DownloadFailed(f"{type(exc).__name__}: {exc}") from exc
        if len(data) > MAX_BYTES:
            raise TooBig(f"{len(data)} bytes downloaded")
        return data


class _DownloadFailed(Exception):
    pass


def _problem_key(exc: Exception) -> str:
    if isinstance(exc, TooBig):
        return "picture.too_big"
    if isinstance(exc, ImageRejected):
        return texts.REJECTED_KEYS.get(exc.reason, "picture.unreadable")
    if isinstance(exc, OcrBusy):
        return "picture.busy"
    return "picture.failed"


async def _typing(message: Message) -> None:
    """Show "typing..." while the picture is read; a failure here changes nothing."""
    try:
        await message.get_bot().send_chat_action(message.chat_id, ChatAction.TYPING)
    except Exception:
        log.debug("chat action not sent", exc_info=True)
