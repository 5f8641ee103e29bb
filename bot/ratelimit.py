"""Per-user message rate limit: a sliding window, answered once, then silence.

A panicking person may send a few messages in a row; a bot or a prankster
sends hundreds. Past the limit the user gets one polite message per window
and nothing more, so a flood costs us almost nothing and never blocks others.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

__all__ = ["RateLimiter", "ALLOW", "WARN", "DROP"]

ALLOW, WARN, DROP = "allow", "warn", "drop"


class RateLimiter:
    def __init__(self, limit: int = 20, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 max_users: int = 100_000):
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[int, deque[float]] = {}
        self._warned: dict[int, float] = {}
        self._max_users = max_users

    def check(self, user_id: int) -> str:
        """ALLOW this message, WARN (send the one polite notice), or DROP it."""
        now = self._clock()
        hits = self._hits.get(user_id)
        if hits is None:
            if len(self._hits) >= self._max_users:
                self._prune(now)
            hits = self._hits[user_id] = deque()
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) < self.limit:
            hits.append(now)
            return ALLOW
        warned = self._warned.get(user_id)
        if warned is not None and now - warned < self.window:
            return DROP
        self._warned[user_id] = now
        return WARN

    def _prune(self, now: float) -> None:
        """Forget users idle for a whole window, so memory stays bounded."""
        for uid in [u for u, h in self._hits.items() if not h or now - h[-1] >= self.window]:
            del self._hits[uid]
            self._warned.pop(uid, None)
        if len(self._hits) >= self._max_users:  # everyone is active: drop the oldest
            for uid in list(self._hits)[: len(self._hits) // 10 or 1]:
                del self._hits[uid]
                self._warned.pop(uid, None)

    @property
    def tracked_users(self) -> int:
        return len(self._hits)
