"""Entities are found in the text as typed; the shortcuts that make that fast
never change what is found (hypothesis against the plain expressions)."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.detect import entities
from callguard.detect.entities import find_entities

# Pieces of every entity and of near misses, so random texts hold many.
PIECES = ["¥", "$", "£", "RM", "rmb", "HK$", "3", "000", ",", ".", " ", "元", "块", "五千", "万", "k", "K",
          "http://", "www.", "a-verify", ".top", "/x", "bit.ly", "@", "tg", "LINE", "Line id", "微信号", "qq",
          "wa.me/", "+44", "7700", "-", "ſ", "K", "İ", "é", "通信", "转", "给我", "验证码", "%", "id:"]
texts = st.one_of(st.text(), st.lists(st.sampled_from(PIECES), max_size=30).map("".join))


@settings(max_examples=500, deadline=None)
@given(texts)
def test_the_first_character_lookahead_finds_what_the_expression_finds(text):
    for name, (body, flags) in entities._BODIES.items():
        plain = re.compile(body, flags)
        assert [m.span() for m in entities._PATTERNS[name].finditer(text)] == \
            [m.span() for m in plain.finditer(text)], name


@settings(max_examples=500, deadline=None)
@given(texts)
def test_the_hints_with_shortcuts_say_what_the_plain_hints_say(text):
    plain_handle = re.compile(r"@|\.me/|微信|qq|line|whatsapp|telegram|tg|skype|signal|kakao|vx|wx|v信|薇信",
                              re.IGNORECASE)
    assert (entities._HINTS["handle"].search(text) is None) == (plain_handle.search(text) is None)
    if entities._HINTS["link"].search(text) is not None:
        assert any(mark in text for mark in entities._LINK_MARKS)


def test_every_entity_is_found():
    found = find_entities("转¥3,000给我 http://a-verify.top/x 微信号abc123 13812345678 验证码 482913")
    assert set(found) == {"amount", "link", "risky_link", "phone", "handle", "code"}
