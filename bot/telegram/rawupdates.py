"""Reading updates as Telegram sends them (JSON), before PTB turns them into objects.

Two things are decided on the raw JSON:

* who sent it, for the rate limit: a flood is dropped without paying for
  ``Update.de_json`` (the bulk of what one update costs PTB), so 1,000
  messages a second from one user cost the others almost nothing;
* text that is not Unicode. JSON may write a lone surrogate (``"\\ud800"``);
  Python decodes it into a ``str`` that cannot be encoded again, and the
  first attempt (storing the report, sending the reply that quotes it) fails.
  Each one becomes U+FFFD, the replacement character, when the JSON is read.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["GATED", "Sender", "sender", "loads", "without_lone_surrogates"]

# The updates a person sends us directly: rate limited (the same as the bot's handlers see them).
GATED = ("message", "edited_message", "callback_query")

_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class Sender:
    """Who sent a gated update and where an answer would go, read from the raw JSON."""

    __slots__ = ("kind", "user_id", "language_code", "chat_id", "private")

    def __init__(self, kind: str, user_id: int, language_code: str | None, chat_id: int | None, private: bool):
        self.kind = kind  # one of GATED
        self.user_id = user_id
        self.language_code = language_code
        self.chat_id = chat_id
        self.private = private


def sender(raw: dict) -> Sender | None:
    """The sender of a message, edited message or button press; None for other updates
    (and for anything not shaped like Telegram's JSON: PTB judges those)."""
    for kind in GATED:
        body = raw.get(kind)
        if body is None:
            continue
        if not isinstance(body, dict):
            return None
        user = body.get("from")
        if not isinstance(user, dict) or type(user.get("id")) is not int:
            return None
        chat = body.get("chat") if kind != "callback_query" else (body.get("message") or {}).get("chat")
        chat_id = chat.get("id") if isinstance(chat, dict) else None
        language = user.get("language_code")
        return Sender(kind, user["id"], language if isinstance(language, str) else None,
                      chat_id if type(chat_id) is int else None,
                      isinstance(chat, dict) and chat.get("type") == "private")
    return None


def without_lone_surrogates(value: Any) -> Any:
    """``value`` (decoded JSON) with every lone surrogate in its strings, keys included,
    replaced by U+FFFD. Walks without recursion: depth is the sender's choice."""
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        item = container[key]
        if isinstance(item, str):
            container[key] = _LONE_SURROGATE.sub("\ufffd", item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            if any(isinstance(k, str) and _LONE_SURROGATE.search(k) for k in item):
                fixed = {_LONE_SURROGATE.sub("\ufffd", k): v for k, v in item.items()}
                item.clear()
                item.update(fixed)
            stack.extend((item, k) for k in item)
    return root[0]


def loads(payload: bytes, errors: str = "strict") -> Any:
    """JSON from Telegram (or a webhook request) as Python values, with lone surrogates
    replaced; raises ``ValueError`` for anything that is not JSON (in UTF-8, unless
    ``errors="replace"``), or ``RecursionError`` for nesting deeper than Python follows."""
    value = json.loads(payload.decode("utf-8", errors))
    if _ESCAPED_SURROGATE.search(payload):  # only then can there be one: raw UTF-8 cannot encode them
        value = without_lone_surrogates(value)
    return value
