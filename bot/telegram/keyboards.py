"""Inline keyboards and their callback data.

Callback data is short ``action:argument`` text (Telegram allows 64 bytes).
Anything we did not produce ourselves fails :func:`parse` and is ignored, so a
client sending junk callback data gets a polite no-op, not an error.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from typing import Mapping

from ..detect.regions import Region
from ..i18n import LANGUAGES
from ..replies import ui

__all__ = ["verdict_keyboard", "verdict_markup", "language_keyboard", "region_keyboard", "money_keyboard",
           "forget_keyboard", "parse"]

SENT_MONEY, WARN_FAMILY, HELPFUL, WRONG = "m", "f", "h", "w"
LANGUAGE, REPORT_MONEY, FORGET, REGION = "l", "r", "x", "g"

_PATTERNS = {
    SENT_MONEY: re.compile(r"\d{1,18}"),
    WARN_FAMILY: re.compile(r"[a-z0-9_.-]{0,60}"),
    HELPFUL: re.compile(r"\d{1,18}"),
    WRONG: re.compile(r"\d{1,18}"),
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


def _button(text: str, action: str, arg: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=f"{action}:{arg}")


def verdict_markup(report_id: int | None, category: str | None, lang: str, *, scam: bool,
                   feedback: bool = True) -> dict:
    """Under each verdict: the emergency path first, then the family warning and feedback.

    The ``reply_markup`` exactly as the Bot API receives it (what PTB's ``to_dict()`` of
    :func:`verdict_keyboard` gives). The bot sends this plain dict with every verdict: building
    four ``InlineKeyboardButton`` objects and serialising them back through PTB's generic
    ``to_dict`` cost ~45 us per reply, about as much as a whole detection (bench/README.md).
    """
    rid = report_id or 0
    rows = [[{"text": ui("button.sent_money", lang), "callback_data": f"{SENT_MONEY}:{rid}"}]]
    if scam:  # scams and "low" (not clearly a scam): the family should hear about it either way
        rows.append([{"text": ui("button.warn_family", lang), "callback_data": f"{WARN_FAMILY}:{category or ''}"}])
    if feedback:
        rows.append([{"text": ui("button.helpful", lang), "callback_data": f"{HELPFUL}:{rid}"},
                     {"text": ui("button.wrong", lang), "callback_data": f"{WRONG}:{rid}"}])
    return {"inline_keyboard": rows}


def verdict_keyboard(report_id: int | None, category: str | None, lang: str, *, scam: bool,
                     feedback: bool = True) -> InlineKeyboardMarkup:
    """:func:`verdict_markup` as a PTB object."""
    return InlineKeyboardMarkup.de_json(verdict_markup(report_id, category, lang, scam=scam, feedback=feedback), None)


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
