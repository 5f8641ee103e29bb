"""Inline keyboards and their callback data.

Callback data is short ``action:argument`` text (Telegram allows 64 bytes).
Anything we did not produce ourselves fails :func:`parse` and is ignored, so a
client sending junk callback data gets a polite no-op, not an error.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from ..detect import LANGUAGES
from ..replies import ui

__all__ = ["verdict_keyboard", "language_keyboard", "money_keyboard", "forget_keyboard", "parse"]

SENT_MONEY, WARN_FAMILY, HELPFUL, WRONG = "m", "f", "h", "w"
LANGUAGE, REPORT_MONEY, FORGET = "l", "r", "x"

_PATTERNS = {
    SENT_MONEY: re.compile(r"\d{1,18}"),
    WARN_FAMILY: re.compile(r"[a-z0-9_.-]{0,60}"),
    HELPFUL: re.compile(r"\d{1,18}"),
    WRONG: re.compile(r"\d{1,18}"),
    LANGUAGE: re.compile("|".join(re.escape(lang) for lang in LANGUAGES)),
    REPORT_MONEY: re.compile(r"[yn]"),
    FORGET: re.compile(r"[yn]"),
}
PATTERN = r"^[mfhwlrx]:"


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


def verdict_keyboard(report_id: int | None, category: str | None, lang: str, *, scam: bool,
                     feedback: bool = True) -> InlineKeyboardMarkup:
    """Under each verdict: the emergency path first, then the family warning and feedback."""
    rid = report_id or 0
    rows = [[_button(ui("button.sent_money", lang), SENT_MONEY, rid)]]
    if scam:
        rows.append([_button(ui("button.warn_family", lang), WARN_FAMILY, category or "")])
    if feedback:
        rows.append([_button(ui("button.helpful", lang), HELPFUL, rid), _button(ui("button.wrong", lang), WRONG, rid)])
    return InlineKeyboardMarkup(rows)


def language_keyboard() -> InlineKeyboardMarkup:
    names = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}
    return InlineKeyboardMarkup([[_button(names[lang], LANGUAGE, lang) for lang in LANGUAGES]])


def money_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(ui("yes", lang), REPORT_MONEY, "y"), _button(ui("no", lang), REPORT_MONEY, "n")]])


def forget_keyboard(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(ui("forget.yes", lang), FORGET, "y"), _button(ui("forget.no", lang), FORGET, "n")]])
