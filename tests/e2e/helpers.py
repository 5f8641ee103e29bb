"""Small helpers shared by the end-to-end tests (real PTB + fake Bot API + SQLite)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, Awaitable, Callable

from telegram.ext import Application

from callguard import replies
from tests.support.fake_bot_api import Call, FakeBotAPI

# Descriptions the shipped rules judge the same way whatever their fine tuning:
# each is the textbook script of its scam type (see rules/scam_patterns.yaml).
SCAM_HANS = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"
SCAM_HANT = "有人自稱通信管理局，說我的號碼要被凍結，讓我把錢轉到安全帳戶"
SCAM_EN = ("A man said he was from the communications administration, my number will be frozen "
           "and I must move my money to a safe account")
BENIGN_HANS = "今天天气很好，我们去公园散步吧"
BENIGN_EN = "My mum called to ask when I'm coming home for dinner"


async def reply(api: FakeBotAPI, chat_id: int, since: int = 0, *, method: str = "sendMessage",
                timeout: float = 5.0) -> Call:
    """The first ``method`` call to ``chat_id`` recorded from index ``since`` on."""
    return await api.wait_for(method, lambda c: c.params.get("chat_id") == chat_id, since=since, timeout=timeout)


async def replies_to(api: FakeBotAPI, chat_id: int, count: int, since: int = 0, timeout: float = 5.0) -> list[dict]:
    """Wait until ``count`` messages were sent to ``chat_id`` (from ``since`` on); their params."""
    def sent() -> list[dict]:
        return [c.params for c in api.requests[since:]
                if c.method == "sendMessage" and c.ok and c.params.get("chat_id") == chat_id]

    await api.wait_until(lambda: len(sent()) >= count, timeout=timeout,
                         description=f"{count} message(s) to chat {chat_id}")
    return sent()


def buttons(params: dict) -> list[list[tuple[str, str]]]:
    """The inline keyboard of a sent message as rows of (text, callback_data)."""
    markup = params.get("reply_markup") or {}
    return [[(b["text"], b.get("callback_data", "")) for b in row] for row in markup.get("inline_keyboard", [])]


def button_data(params: dict, prefix: str) -> str:
    """The callback data of the (only) button whose data starts with ``prefix``."""
    found = [data for row in buttons(params) for _, data in row if data.startswith(prefix)]
    assert len(found) == 1, (prefix, buttons(params))
    return found[0]


def report_id_of(params: dict) -> int:
    """The report id carried by a verdict's feedback buttons."""
    return int(button_data(params, "h:").split(":")[1])  # h:<report id>:<signature>


def ui(key: str, lang: str, region: str | None = None, **fmt: object) -> str:
    """A bot text; ``region`` (a code of the shipped rule file, e.g. "CN") fills its
    ``{police}`` and ``{scam_line}`` as the bot does for a user of that region."""
    return replies.ui(key, lang, region=shipped_region(region) if region else None, **fmt)


def shipped_region(code: str):
    from callguard.detect import load_rules

    global _SHIPPED
    if _SHIPPED is None:
        _SHIPPED = load_rules(Path(__file__).resolve().parents[2] / "rules" / "scam_patterns.yaml")
    return _SHIPPED.regions[code]


_SHIPPED = None


async def idle(api: FakeBotAPI, app: Application, timeout: float = 5.0) -> None:
    """Wait until every pushed update was fetched and fully processed by the bot.

    Fetched = confirmed by a later getUpdates offset; processed = the intake holds
    no update it has not finished (``Intake.in_hand``) and none is being handled.
    Used to assert *silence* without sleeping for an arbitrary time."""
    processor = app.update_processor

    def done() -> bool:
        return (api.pending_update_count == 0 and app.updater.in_hand == 0
                and processor.current_concurrent_updates == 0)

    await eventually(done, timeout=timeout, what="the bot to become idle")


async def eventually(check: Callable[[], Any] | Callable[[], Awaitable[Any]], *, timeout: float = 5.0,
                     what: str = "condition") -> Any:
    """Re-evaluate ``check`` (sync or async) every few milliseconds until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.005)


def db_rows(path: Path, sql: str = "SELECT * FROM reports ORDER BY id", params: tuple = ()) -> list[sqlite3.Row]:
    """Rows straight from the SQLite file (another connection, as an operator would see them)."""
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()
