"""Process updates concurrently across users, in order within one user.

PTB's default processes one update at a time (a slow send for one person
delays everyone), while its plain concurrent mode can break a guided
conversation that receives two answers at once. This processor gives both:
different users run in parallel, each user's updates run one after another.

Fairness: a user's backlog waits on that user's own lock, so at most one of
their updates holds or awaits a processing slot; a user with fifty queued
updates is one place in the line, not fifty. And users whose messages have
cost a lot of detection lately (``heavy``, see
:class:`~callguard.detection_pool.DetectionPool`) hold at most a quarter of
the slots between them: sixteen expensive accounts could otherwise fill every
slot while their messages wait for the detection workers, and nobody else
would get one.
"""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from telegram import Update
from telegram.ext import BaseUpdateProcessor

__all__ = ["PerUserUpdateProcessor"]


class PerUserUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 256, *, heavy: Callable[[int], bool] | None = None):
        super().__init__(max_concurrent_updates)
        self._locks: dict[object, list] = {}  # key -> [lock, tasks using it]
        self._heavy = heavy
        self.heavy_slots = max(1, max_concurrent_updates // 4)
        self._heavy_gate = asyncio.BoundedSemaphore(self.heavy_slots)

    @staticmethod
    def _key(update: object) -> object:
        if isinstance(update, Update):
            if update.effective_user is not None:
                return ("user", update.effective_user.id)
            if update.effective_chat is not None:
                return ("chat", update.effective_chat.id)
            return None  # not tied to anyone: no ordering needed
        return getattr(update, "ordering_key", None)  # an update not parsed yet (see intake.py)

    async def process_update(self, update: object, coroutine: Awaitable) -> None:
        """Wait for this user's turn first, then for a processing slot.

        The base class takes the slot (semaphore) first: then a user with many
        queued updates would hold every slot while waiting for their own lock,
        and everyone else would wait behind them."""
        key = self._key(update)
        if key is None:
            await super().process_update(update, coroutine)
            return
        entry = self._locks.get(key)
        if entry is None:
            entry = self._locks[key] = [asyncio.Lock(), 0]
        entry[1] += 1
        try:
            async with entry[0]:
                if self._heavy is not None and key[0] == "user" and self._heavy(key[1]):
                    async with self._heavy_gate:  # before the slot: see the module docstring
                        await super().process_update(update, coroutine)
                else:
                    await super().process_update(update, coroutine)
        finally:
            entry[1] -= 1
            if entry[1] == 0:  # nobody holds or awaits it: forget it, memory stays bounded
                del self._locks[key]

    async def do_process_update(self, update: object, coroutine: Awaitable) -> None:
        await coroutine  # ordering and the slot are taken care of in process_update

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass
