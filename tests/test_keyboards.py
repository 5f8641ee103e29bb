"""The verdict keyboard: the plain dict the bot sends equals PTB's serialisation of the object."""

from __future__ import annotations

import itertools

import pytest
from telegram import InlineKeyboardMarkup

from callguard.detect import LANGUAGES
from callguard.telegram import keyboards as kb


@pytest.mark.parametrize("lang,scam,feedback,report_id,category", list(itertools.product(
    LANGUAGES, (True, False), (True, False), (None, 0, 7, 10**17), (None, "impersonate_authority"))))
def test_verdict_markup_is_what_ptb_would_send(lang, scam, feedback, report_id, category):
    markup = kb.verdict_markup(report_id, category, lang, scam=scam, feedback=feedback)
    keyboard = kb.verdict_keyboard(report_id, category, lang, scam=scam, feedback=feedback)
    assert isinstance(keyboard, InlineKeyboardMarkup)
    assert keyboard.to_dict() == markup
    assert InlineKeyboardMarkup.de_json(markup, None) == keyboard
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    assert len(buttons) == 1 + scam + 2 * feedback
    assert markup["inline_keyboard"][0][0]["text"] == kb.ui("button.sent_money", lang)  # emergency first
    for button in buttons:  # every button's data is ours and within Telegram's 64 bytes
        assert set(button) == {"text", "callback_data"}
        assert kb.parse(button["callback_data"]) is not None
        assert len(button["callback_data"].encode()) <= 64
