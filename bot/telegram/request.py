"""PTB's HTTP client for the Bot API, sending JSON bodies instead of HTML forms.

PTB posts every call as ``application/x-www-form-urlencoded``: each nested value
(a keyboard, entities) is JSON-encoded into a string first (twice, in fact:
``RequestParameter.json_value`` is a property that ``RequestData.json_parameters``
reads twice), then the whole form is percent-encoded, where every byte of UTF-8
text becomes three characters. The Bot API accepts ``application/json`` bodies
for every method ("Making requests" in the Bot API manual), so this request
class encodes the call once, with ``json.dumps`` in C, in UTF-8: for a verdict
(about 400 characters of mostly Chinese text plus a four-button keyboard) the
body is about a third of the form's size and costs about a fifth of the CPU
to build. Calls that upload files keep PTB's multipart path unchanged.

Everything else (timeouts, errors, the connection pool) is PTB's ``HTTPXRequest``.
"""

from __future__ import annotations

import json
import warnings

import httpx
from telegram import Message
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData
from telegram.warnings import PTBUserWarning

from . import rawupdates

__all__ = ["JSONRequest", "send_reply"]

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class JSONRequest(HTTPXRequest):
    """``HTTPXRequest`` with ``application/json`` bodies (see the module docstring)."""

    __slots__ = ()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files:
            return await super().do_request(url, method, request_data, read_timeout=read_timeout,
                                            write_timeout=write_timeout, connect_timeout=connect_timeout,
                                            pool_timeout=pool_timeout)
        if self._client.is_closed:
            raise RuntimeError("JSONRequest used before initialize() or after shutdown()")
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=defaults.connect if isinstance(connect_timeout, DefaultValue) else connect_timeout,
            read=defaults.read if isinstance(read_timeout, DefaultValue) else read_timeout,
            write=defaults.write if isinstance(write_timeout, DefaultValue) else write_timeout,
            pool=defaults.pool if isinstance(pool_timeout, DefaultValue) else pool_timeout,
        )
        # The same values PTB would send, as one JSON object (None values are left out, as PTB does).
        body = _encode(request_data.parameters).encode()
        try:
            res = await self._client.request(
                method=method,
                url=url,
                headers={"User-Agent": self.USER_AGENT, "Content-Type": "application/json"},
                timeout=timeout,
                content=body,
            )
        # The same exceptions as PTB's own client raises, so its retry logic sees no difference.
        except httpx.PoolTimeout as err:
            raise TimedOut("every connection to the Bot API is busy: the request was not sent") from err
        except httpx.TimeoutException as err:
            raise TimedOut from err
        except httpx.HTTPError as err:  # the base class of httpx's errors: last
            raise NetworkError(f"httpx.{type(err).__name__}: {err}") from err
        return res.status_code, res.content

    @staticmethod
    def parse_json_payload(payload: bytes) -> dict:
        """PTB's parsing (UTF-8 with replacement, ``json.loads``), but a lone surrogate in a
        text becomes U+FFFD (see :mod:`callguard.telegram.rawupdates`)."""
        try:
            return rawupdates.loads(payload, errors="replace")
        except (ValueError, RecursionError) as exc:
            raise TelegramError("Invalid server response") from exc


# ``do_api_request`` warns when the method has a typed PTB method too; here the raw call is the point.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.send_message'", category=PTBUserWarning)


async def send_reply(message: Message, text: str, reply_markup: dict, *, quote: bool = False) -> None:
    """Send an HTML ``text`` with ``reply_markup`` to ``message``'s chat (its forum topic
    too, quoting it when ``quote``), as ``message.reply_html`` would, but without turning
    Telegram's answer into a :class:`telegram.Message`: nothing reads it, and PTB's
    ``Message.de_json`` of a verdict with its keyboard was 14 % of the bot's CPU in a burst
    (``Bot.do_api_request`` with no return type hands back the decoded JSON instead)."""
    params: dict = {"chat_id": message.chat_id, "text": text, "parse_mode": "HTML", "reply_markup": reply_markup}
    if message.is_topic_message and message.message_thread_id is not None:
        params["message_thread_id"] = message.message_thread_id
    if quote:
        params["reply_parameters"] = {"message_id": message.message_id}
    await message.get_bot().do_api_request("send_message", api_kwargs=params)
