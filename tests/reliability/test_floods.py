"""Floods: one user sending thousands of messages, hundreds of users at once.

The flood test is a smaller run of bench/bench_flood.py's first scenario (same
code): the bot as its own process (``python -m bot run``), the fake Bot API in
the test's process, a flooder at 1,000 msg/s interleaved with 100 other users
per second.
"""

from __future__ import annotations

import time

import pytest
from telegram.ext import TypeHandler

from bench.bench_flood import scenario_interleaved
from callguard import replies
from tests.reliability.support import SCAM_HANS, headings, live_bot, percentile, visible_text

HEADINGS = headings()
P99_BOUND_MS = 200.0


async def test_one_flooding_user_is_silenced_and_others_stay_fast(tmp_path, record_property):
    rate_limit = 20

    async def flood(name: str, flood_messages: int = 3000) -> dict:
        workdir = tmp_path / name
        workdir.mkdir()
        result = await scenario_interleaved(workdir, flood=flood_messages, others=300, seconds=3.0,
                                            rate_limit=rate_limit)
        print(f"\n{name}: {result}")
        return result

    result = await flood("flood")
    if result["others_latency"]["p99_ms"] >= P99_BOUND_MS:
        # Too slow: the flood's fault, or a machine busy with something else? Measure the
        # same traffic without the flood; judge only if the machine can meet the bound at all.
        baseline = await flood("no-flood", flood_messages=0)
        if baseline["others_latency"]["p99_ms"] >= P99_BOUND_MS / 2:
            pytest.skip(f"machine too busy to judge: p99 {baseline['others_latency']['p99_ms']} ms "
                        "with no flood at all")
        result = await flood("flood-again")
    record_property("flood_figures", result)
    flooder = result["flooder"]
    # The flooder: exactly rate_limit verdicts, one polite message, then silence.
    assert (flooder["verdicts"], flooder["polite_notices"], flooder["other_messages"]) == (rate_limit, 1, 0)
    assert flooder["as_expected"]
    others = result["others_latency"]
    assert others["count"] == 300
    assert others["p99_ms"] < P99_BOUND_MS, result
    # Memory: 3,000 flood messages must not cost more than a few MB once handled.
    assert result["peak_rss_mb"] - result["rss_before_mb"] < 60, result


def limiter_of(app):
    [gate] = [h for h in app.handlers[-1] if isinstance(h, TypeHandler)]
    return gate.callback.__self__.limiter


async def test_hundreds_of_users_at_once_are_all_answered_and_forgotten(settings, record_property):
    async with live_bot(settings) as live:
        api, app = live.api, live.app
        users = range(200_000, 200_500)
        started = time.perf_counter()
        for uid in users:
            api.push_message(f"{SCAM_HANS} #{uid}", user_id=uid)

        def answered() -> dict[int, float]:
            return {c.params["chat_id"]: c.at for c in api.requests
                    if c.method == "sendMessage" and c.ok and c.params.get("chat_id", 0) >= 200_000}

        await api.wait_until(lambda: len(answered()) == len(users), timeout=60, description="all answered")
        latencies = [at - started for at in answered().values()]
        figures = dict(users=len(users), p50_ms=round(percentile(latencies, 0.5) * 1000),
                       p99_ms=round(percentile(latencies, 0.99) * 1000),
                       replies_per_s=round(len(users) / max(latencies)))
        record_property("burst_figures", figures)
        print(f"\nburst: {figures}")
        texts = [c.params["text"] for c in api.requests if c.method == "sendMessage"]
        assert not any(t.startswith(replies.ui("rate_limited", "en").split(";")[0]) for t in texts)  # nobody throttled
        assert all(visible_text(t).split("\n", 1)[0] in HEADINGS for t in texts)
        rows = await live.guard.writer.store.export_rows(0)
        assert len(rows) == len(users)
        # Per-user bookkeeping is released once users are idle: memory does not grow with users seen.
        await api.wait_until(lambda: app.update_processor.current_concurrent_updates == 0, timeout=10)
        assert app.update_processor._locks == {}
        assert limiter_of(app).tracked_users <= len(users)
        assert live.errors.errors == []
