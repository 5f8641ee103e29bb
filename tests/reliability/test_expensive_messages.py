"""Expensive messages: crafted text that costs a lot of detection must not stall everyone else.

Ten accounts each send twenty messages that cost 0.25 s of CPU each to judge (every account
within its rate limit), all at once; meanwhile other users write as usual. Detection runs in
worker processes (the event loop never judges), expensive senders share one worker and a
quarter of the update slots, and the waiting message whose sender has cost least lately goes
first (callguard/detection_pool.py, callguard/telegram/concurrency.py).

The cost is artificial (tests/support/slow_detection.py burns CPU on marked messages), so the
test does not depend on how fast the matcher happens to be. The bot runs in this process with
its real worker processes; the fake Bot API shares its event loop.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from callguard.detection_pool import DetectionPool
from tests.reliability.support import SCAM_HANS, live_bot, percentile

ROOT = Path(__file__).resolve().parents[2]
SLOW_WORKER = (sys.executable, str(ROOT / "tests" / "support" / "slow_detection.py"))
BURN = 0.25  # CPU seconds per expensive message (what the crafted text cost the matcher in the review)
ATTACKERS, PER_ATTACKER = 10, 20
OTHERS, SECONDS = 100, 3.0
P99_TARGET_MS = 300.0
# 4,096 characters (the longest message Telegram carries), cheap for the real matcher: only the double costs.
ATTACK = ("我" * 4000 + " #expensive ")[:4096]


def p99_bound(baseline_p99_ms: float) -> float:
    """The target, unless the machine is so busy that even without the attack other users'
    p99 is above half of it: then twice that (plus 50 ms)."""
    return max(P99_TARGET_MS, 2 * baseline_p99_ms + 50)


async def others_write(api, first_uid: int) -> list[float]:
    """OTHERS users, one message each, spread over SECONDS; their reply latencies."""
    pushed: dict[int, float] = {}
    started = time.perf_counter()
    for i in range(OTHERS):
        uid = first_uid + i
        api.push_message(f"{SCAM_HANS} #{uid}", user_id=uid)
        pushed[uid] = time.perf_counter()
        await asyncio.sleep(max(0.0, started + (i + 1) * SECONDS / OTHERS - time.perf_counter()))

    def answered() -> dict[int, float]:
        return {c.params["chat_id"]: c.at for c in api.requests
                if c.method == "sendMessage" and c.ok and c.params.get("chat_id") in pushed}

    await api.wait_until(lambda: len(answered()) == OTHERS, timeout=60, description="every other user answered")
    return [at - pushed[uid] for uid, at in answered().items()]


async def attack_pair(settings) -> dict:
    """A fresh bot with two detection workers running the double: other users' latencies
    without the attack, then during it."""
    pool = DetectionPool(2, command=SLOW_WORKER)
    async with live_bot(settings, pool=pool, rate_limit=PER_ATTACKER) as live:
        api = live.api
        try:
            await api.wait_until(lambda: pool.ready_workers == 2, timeout=60, description="both workers ready")
            baseline = await others_write(api, 1_000_000)
            for a in range(ATTACKERS):
                for i in range(PER_ATTACKER):
                    api.push_message(f"{i} {ATTACK}", user_id=3_000_000 + a)
            since = api.mark()
            attacked = await others_write(api, 2_000_000)
            judged = sum(1 for c in api.requests[since:]
                         if c.method == "sendMessage" and c.params.get("chat_id", 0) >= 3_000_000)
            expensive_lane_busy = pool._running_heavy  # judging an attack message as the others finished
        finally:
            await pool.close()  # what is left of the attack: judged on the event loop (no double there), at once
        assert live.errors.errors == []
    return dict(baseline_p50_ms=round(percentile(baseline, 0.5) * 1000),
                baseline_p99_ms=round(percentile(baseline, 0.99) * 1000),
                attacked_p50_ms=round(percentile(attacked, 0.5) * 1000),
                attacked_p99_ms=round(percentile(attacked, 0.99) * 1000),
                expensive_messages_judged_meanwhile=judged, expensive_lane_busy_at_the_end=expensive_lane_busy)


async def test_ten_accounts_of_expensive_messages_do_not_stall_other_users(settings, monkeypatch, record_property):
    monkeypatch.setenv("SLOW_DETECTION_SECONDS", str(BURN))
    figures = []
    for attempt in (1, 2):  # a second pair only if the first misses (a busy moment on the shared machine)
        figures.append(await attack_pair(settings))
        print(f"\nexpensive messages, attempt {attempt}: {figures[-1]}")
        if figures[-1]["attacked_p99_ms"] <= p99_bound(figures[-1]["baseline_p99_ms"]):
            break
    record_property("expensive_messages", figures)
    last = figures[-1]
    # The attack was real: it lasted longer than the others wrote (most of it still waiting at the
    # end, the worker for expensive messages busy with it). How much of it was judged meanwhile
    # depends on how much CPU the busy machine left the niced worker.
    assert last["expensive_messages_judged_meanwhile"] < ATTACKERS * PER_ATTACKER / 2, figures
    assert last["expensive_lane_busy_at_the_end"] == 1, figures
    assert last["attacked_p99_ms"] <= p99_bound(last["baseline_p99_ms"]), figures
