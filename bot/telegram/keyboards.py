"""Inline keyboards and their callback data.

Callback data is short ``action:argument`` text (Telegram allows 64 bytes).
Anything we did not produce ourselves fails :func:`parse` and is ignored, so a
client sending junk callback data gets a polite no-op, not an error.

Buttons that write to a report ("I already sent money", "Helpful", "Wrong")
carry ``action:report_id:signature``. Report ids are sequential, so anyone can
write ``w:<id>`` for someone else's report; the signature (see
:meth:`callguard.service.CallGuard.button_signature`) is a keyed hash of the
action, the report id and the reporter's user id, so it matches only when the
person pressing is the one who asked (:func:`signed`).
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from ..detect.regions import Region
from ..i18n import LANGUAGES
from ..replies import ui

__all__ = ["verdict_keyboard", "verdict_markup", "language_keyboard", "region_keyboard", "money_keyboard",
           "forget_keyboard", "parse"]

SENT_MONEY, WARN_FAMILY, HELPFUL, WRONG = "m", "f", "h", "w"
LANGUAGE, REPORT_MONEY, FORGET, REGION = "l", "r", "x", "g"

SIGNED = frozenset({SENT_MONEY, HELPFUL, WRONG})  # the buttons that write to a report
SIGNATURE_CHARS = 16  # base64url: 96 bits; "w:" + 18 digits + ":" + 16 = 37 of Telegram's 64 bytes
_REPORT = re.compile(r"(\d{1,18})(?::([A-Za-z0-9_-]{%d}))?" % SIGNATURE_CHARS)

_PATTERNS = {
    SENT_MONEY: _REPORT,
    WARN_FAMILY: re.compile(r"[a-z0-9_.-]{0,60}"),
    HELPFUL: _REPORT,
    WRONG: _REPORT,
    LANGUAGE: re.compile("|".join(re.escape(lang) for lang in LANGUAGES)),
    REPORT_MONEY: re.compile(r"[yn]"),
    FORGET: re.compile(r"[yn]"),
    REGION: re.compile(r"[A-Z]{2}"),
}
PATTERN = r"^[mfhwlrxg]:"


def parse(data: object) -> tuple[str, str] | None:
    """``(action, argument)`` for callback data we made, else None."""
    if not isinstance(data, str) or len(data) > 64:
        return None
    action, sep, arg = data.partition(":")
    pattern = _PATTERNS.get(action)
    if not sep or pattern is None or not pattern.fullmatch(arg):
        return None
    return action, arg


def signed(arg: str) -> tuple[int, str | None]:
    """``(report_id, signature)`` of a parsed argument of a :data:`SIGNED` action
    (signature None for buttons sent before they were signed)."""
    report_id, _, signature = arg.partition(":")
    return int(report_id), signature or None


def _button(text: str, action: str, arg: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{action}:{arg}")


def verdict_markup(report_id: int | None, category: str | None, lang: str, *, scam: bool,
                   feedback: bool = True, sign: Callable[[str], str | None] | None = None) -> dict:
    """Under each verdict: the emergency path first, then the family warning and feedback.

    The ``reply_markup`` exactly as the Bot API receives it (what PTB's ``to_dict()`` of
    :func:`verdict_keyboard` gives). The bot sends this plain dict with every verdict: building
    four ``InlineKeyboardButton`` objects and serialising them back through PTB's generic
    ``to_dict`` cost ~45 us per reply, about as much as a whole detection (bench/README.md).

    ``sign(action)``: the signature for this report's reporter (None: the button is unsigned and
    its press changes nothing, e.g. a report that is only queued).
    """
    rid = report_id or 0

    def data(action: str) -> str:
        signature = sign(action) if sign is not None and rid else None
        return f"{action}:{rid}:{signature}" if signature else f"{action}:{rid}"

    rows = [[{"text": ui("button.sent_money", lang), "callback_data": data(SENT_MONEY)}]]
    if scam:  # scams and "low" (not clearly a scam): the family should hear about it either way
        rows.append([{"text": ui("button.warn_family", lang), "callback_data": f"{WARN_FAMILY}:{category or ''}"}])
    if feedback:
        rows.append([{"text": ui("button.helpful", lang), "callback_data": data(HELPFUL)},
                     {"text": ui("button.wrong", lang), "callback_data": data(WRONG)}])
    return {"inline_keyboard": rows}


def verdict_keyboard(report_id: int | None, category: str | None, lang: str, *, scam: bool,
                     feedback: bool = True, sign: Callable[[str], str | None] | None = None) -> InlineKeyboardMarkup:
    """:func:`verdict_markup` as a PTB object."""
    return InlineKeyboardMarkup.de_json(
        verdict_markup(report_id, category, lang, scam=scam, feedback=feedback, sign=sign), None)


def language_keyboard() -> InlineKeyboardMarkup:
    names = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}
    return InlineKeyboardMarkup([[_button(names[lang], LANGUAGE, lang) for lang in LANGUAGES]])


def region_keyboard(regions: Mapping[str, Region], lang: str, per_row: int = 2) -> InlineKeyboardMarkup:
    """One button per region of the rule file, named in ``lang``."""
    buttons = [_button(region.name[lang], REGION, code) for code, region in regions.items()]
    return InlineKeyboardMarkup([buttons[i:i + per_row] for i in range(0, len(buttons), per_row)])


def money_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(ui("yes", lang), REPORT_MONEY, "y"), _button(ui("no", lang), REPORT_MONEY, "n")]])


def forget_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(ui("forget.yes", lang), FORGET, "y"), _button(ui("forget.no", lang), FORGET, "n")]])
