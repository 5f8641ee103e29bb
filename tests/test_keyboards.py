"""The verdict keyboard: the plain dict the bot sends equals PTB's serialisation of the object."""

from __future__ import annotations

import itertools

import pytest
from telegram import InlineKeyboardMarkup

from callguard.detect import LANGUAGES
from callguard.telegram import keyboards as kb


def _sign(action: str) -> str:
    return (action * kb.SIGNATURE_CHARS)[:kb.SIGNATURE_CHARS]


@pytest.mark.parametrize("lang,scam,feedback,report_id,category,sign", list(itertools.product(
    LANGUAGES, (True, False), (True, False), (None, 0, 7, 10**17), (None, "impersonate_authority"),
    (None, _sign))))
def test_verdict_markup_is_what_ptb_would_send(lang, scam, feedback, report_id, category, sign):
    markup = kb.verdict_markup(report_id, category, lang, scam=scam, feedback=feedback, sign=sign)
    keyboard = kb.verdict_keyboard(report_id, category, lang, scam=scam, feedback=feedback, sign=sign)
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


def test_buttons_that_write_to_a_report_carry_the_signature():
    markup = kb.verdict_markup(10**17, "impersonate_authority", "en", scam=True, sign=_sign)
    data = {b["callback_data"].split(":", 1)[0]: b["callback_data"] for row in markup["inline_keyboard"] for b in row}
    for action in kb.SIGNED:
        parsed_action, arg = kb.parse(data[action])
        assert parsed_action == action and kb.signed(arg) == (10**17, _sign(action))
    assert kb.signed(kb.parse("h:12")[1]) == (12, None)  # sent before buttons were signed
    for junk in ("h:12:", "h:12:short", "h:12:" + "a" * 17, "h:12:" + "a" * 15 + "!"):
        assert kb.parse(junk) is None, junk
    # Nothing to sign without a stored report (id 0): the press can change nothing anyway.
    unsigned = kb.verdict_markup(None, None, "en", scam=False, sign=_sign)
    assert all(b["callback_data"].count(":") == 1 for row in unsigned["inline_keyboard"] for b in row)
