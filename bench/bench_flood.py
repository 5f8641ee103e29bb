"""Flood benchmark: one user sending 10,000 messages, a thousand other users at the same time.

    python bench/bench_flood.py             # the full run (about a minute)
    python bench/bench_flood.py --quick     # a fifth of the traffic

CallGuard runs exactly as in production, ``python -m bot run`` (long polling, SQLite in a
fresh temporary file, CALLGUARD_SEND_RATE=0 so Telegram's 30 msg/s send limit does not hide
the bot's own speed), against the fake Bot API (tests/support/fake_bot_api.py) served from
this process on 127.0.0.1. The bot has its own process, so on a 2-core machine the bot and
the fake server each have a core. Scenarios, each with a fresh bot process and database:

0. others alone: scenario 1 without the flooder, the reference for what the flood costs others
   on this machine (on a busy machine both numbers rise together).
1. flood + others: the flooder sends 10,000 messages at 1,000 msg/s while 1,000 other users
   send one message each, interleaved over the same 10 s. Reported: the other users' reply
   latency (push to the fake server receiving the ``sendMessage``) p50/p90/p99/max, what the
   flooder got back (expected: ``CALLGUARD_RATE_LIMIT`` verdicts, one polite message, then
   silence), and the bot's resident memory before the flood and its peak (VmHWM) after.
2. burst flood: the 10,000 messages are all waiting before the bot fetches any; 1,000 other
   users write right behind them. They wait for the backlog to drain (Telegram hands updates
   over in order), so this shows the drain rate and the memory the backlog costs.
3. 1,000 users at once: everyone's first message at the same moment; nobody is rate limited;
   reply latency p50/p99 and throughput. In production the outgoing limit (30 msg/s overall)
   dominates this case, not the bot.

Results are printed and written to bench/results/flood.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.support import RULES, SCAM_HANS, BotProcess, percentile  # noqa: E402
from tests.support.env import clean_env  # noqa: E402
from tests.support.fake_bot_api import FakeBotAPI  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "flood.json"
FLOODER = 7
OTHERS_FROM = 100_000
START_TIMEOUT = 60.0


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summary(latencies: list[float]) -> dict:
    if not latencies:
        return {"count": 0}
    return {"count": len(latencies), "p50_ms": ms(percentile(latencies, 0.50)), "p90_ms": ms(percentile(latencies, 0.90)),
            "p99_ms": ms(percentile(latencies, 0.99)), "max_ms": ms(max(latencies))}


class Run:
    """A fresh fake Bot API + bot process + database for one scenario.

    While a scenario runs, the cyclic GC of *this* process (the fake server, which records
    every request) is off: its full collections over tens of thousands of recorded calls
    stalled the fake server for ~100 ms and showed up as the bot's latency. The bot's own
    garbage collector is part of what is measured and stays as it is."""

    def __init__(self, workdir: Path, rate_limit: int):
        self.workdir = workdir
        self.rate_limit = rate_limit

    async def __aenter__(self):
        self.api = await FakeBotAPI().start()
        env = clean_env(TELEGRAM_BOT_TOKEN=self.api.token, CALLGUARD_BOT_API_URL=self.api.base_url,
                        CALLGUARD_DB=str(self.workdir / "flood.db"), CALLGUARD_RULES=str(RULES),
                        CALLGUARD_SECRET="bench", CALLGUARD_SEND_RATE="0", CALLGUARD_RATE_LIMIT=str(self.rate_limit))
        self.bot = BotProcess(env, self.workdir, "bench-bot")
        await self.bot.start()
        # Warm up: the bot is up once it answers, and its detection workers have compiled the
        # rules (they take a core each meanwhile); its memory now is the baseline.
        self.api.push_message("hello", user_id=1)
        await self.bot.until(self.api, lambda: any(c.method == "sendMessage" for c in self.api.requests)
                             and "detection workers ready" in self.bot.log(),
                             timeout=START_TIMEOUT, description="the warm-up reply and the detection workers")
        await asyncio.sleep(0.5)
        self.rss_before_kb = self.bot.rss_kb()
        self.cpu_before = cpu_seconds(self.bot.proc.pid)
        self.started = time.perf_counter()
        self.api.clear()
        gc.collect()
        gc.disable()
        return self

    async def __aexit__(self, *exc):
        gc.enable()
        await self.bot.stop()
        await self.api.stop()

    def replies(self, chat_ids) -> dict[int, float]:
        """First reply time per chat, for the chats in ``chat_ids``."""
        out: dict[int, float] = {}
        for c in self.api.requests:
            if c.method == "sendMessage" and c.ok:
                chat = c.params.get("chat_id")
                if chat in chat_ids and chat not in out:
                    out[chat] = c.at
        return out

    def to_flooder(self) -> list[str]:
        return [c.params.get("text", "") for c in self.api.requests
                if c.method == "sendMessage" and c.params.get("chat_id") == FLOODER]

    async def drained(self, timeout: float = 300.0) -> None:
        await self.bot.until(self.api, lambda: self.api.pending_update_count == 0, timeout=timeout,
                             description="every update fetched")
        # Fetched is not handled: wait until the flooder's last message got its (silent) turn.
        quiet_since = time.perf_counter()
        count = len(self.api.requests)
        while time.perf_counter() - quiet_since < 1.0:
            await asyncio.sleep(0.1)
            if len(self.api.requests) != count:
                count, quiet_since = len(self.api.requests), time.perf_counter()

    def memory(self) -> dict:
        """Memory, and the CPU the bot used: less sensitive to a busy machine than latency."""
        cpu = cpu_seconds(self.bot.proc.pid) - self.cpu_before
        wall = time.perf_counter() - self.started
        return {"rss_before_mb": round(self.rss_before_kb / 1024, 1),
                "peak_rss_mb": round(self.bot.peak_rss_kb() / 1024, 1),
                "rss_after_mb": round(self.bot.rss_kb() / 1024, 1),
                "bot_cpu_s": round(cpu, 2), "wall_s": round(wall, 2)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flooder_outcome(texts: list[str], rate_limit: int) -> dict:
    from callguard import replies

    from callguard.detect import load_rules

    regions = load_rules(Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml").regions.values()
    polite = {replies.ui("rate_limited", lang, region=region) for lang in replies.LANGUAGES for region in (None, *regions)}
    verdicts = sum(1 for t in texts if t.startswith("<b>"))
    notices = sum(1 for t in texts if t in polite)
    return {"verdicts": verdicts, "polite_notices": notices, "other_messages": len(texts) - verdicts - notices,
            "as_expected": verdicts == rate_limit and notices == 1 and texts[rate_limit:] == texts[rate_limit:rate_limit + 1]}


async def scenario_interleaved(workdir: Path, flood: int, others: int, seconds: float, rate_limit: int) -> dict:
    async with Run(workdir, rate_limit) as run:
        api = run.api
        pushed: dict[int, float] = {}
        tick = 0.005
        ticks = max(1, int(seconds / tick))
        started = time.perf_counter()
        sent_flood = sent_others = 0
        for k in range(1, ticks + 1):
            while sent_flood < flood * k // ticks:
                api.push_message(f"{SCAM_HANS} #flood-{sent_flood}", user_id=FLOODER)
                sent_flood += 1
            while sent_others < others * k // ticks:
                uid = OTHERS_FROM + sent_others
                api.push_message(f"{SCAM_HANS} #user-{uid}", user_id=uid)
                pushed[uid] = time.perf_counter()
                sent_others += 1
            await asyncio.sleep(max(0.0, started + k * tick - time.perf_counter()))
        await run.bot.until(api, lambda: len(run.replies(pushed)) == others, timeout=300,
                            description="every other user answered")
        await run.drained()
        answered = run.replies(pushed)
        return {"flood_messages": flood, "other_users": others, "seconds": seconds,
                "others_latency": summary([answered[u] - pushed[u] for u in pushed]),
                "flooder": flooder_outcome(run.to_flooder(), rate_limit), **run.memory()}


async def scenario_burst_flood(workdir: Path, flood: int, others: int, rate_limit: int) -> dict:
    async with Run(workdir, rate_limit) as run:
        api = run.api
        # Pushed in one go (no await in between): the whole backlog is queued before the bot's
        # long poll gets its first batch.
        started = time.perf_counter()
        for i in range(flood):
            api.push_message(f"{SCAM_HANS} #flood-{i}", user_id=FLOODER)
        pushed = {}
        for i in range(others):
            uid = OTHERS_FROM + i
            api.push_message(f"{SCAM_HANS} #user-{uid}", user_id=uid)
            pushed[uid] = time.perf_counter()
        await run.bot.until(api, lambda: api.pending_update_count == 0, timeout=300,
                            description="the backlog fetched")
        fetched = time.perf_counter() - started
        await run.bot.until(api, lambda: len(run.replies(pushed)) == others, timeout=300,
                            description="every other user answered")
        await run.drained()
        answered = run.replies(pushed)
        return {"flood_messages": flood, "other_users_behind_it": others,
                "others_latency": summary([answered[u] - pushed[u] for u in pushed]),
                "backlog_fetched_in_s": round(fetched, 2),
                "flooder": flooder_outcome(run.to_flooder(), rate_limit), **run.memory()}


async def scenario_users_at_once(workdir: Path, users: int, rate_limit: int) -> dict:
    async with Run(workdir, rate_limit) as run:
        api = run.api
        started = time.perf_counter()
        ids = set(range(OTHERS_FROM, OTHERS_FROM + users))
        for uid in sorted(ids):
            api.push_message(f"{SCAM_HANS} #user-{uid}", user_id=uid)
        await run.bot.until(api, lambda: len(run.replies(ids)) == users, timeout=300,
                            description="every user answered")
        answered = run.replies(ids)
        latencies = [at - started for at in answered.values()]
        return {"users": users, "latency": summary(latencies),
                "replies_per_s": round(users / max(latencies)), **run.memory()}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fifth of the traffic")
    parser.add_argument("--rate-limit", type=int, default=20, help="CALLGUARD_RATE_LIMIT (messages per user per minute)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    scale = 5 if args.quick else 1
    flood, others, seconds = 10_000 // scale, 1_000 // scale, 10.0 / scale
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                           "platform": platform.platform()}, "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="callguard-flood-") as tmp:
        for name, coro in (
            ("others_alone", lambda d: scenario_interleaved(d, 0, others, seconds, args.rate_limit)),
            ("flood_and_others", lambda d: scenario_interleaved(d, flood, others, seconds, args.rate_limit)),
            ("burst_flood", lambda d: scenario_burst_flood(d, flood, others, args.rate_limit)),
            ("users_at_once", lambda d: scenario_users_at_once(d, others, args.rate_limit)),
        ):
            workdir = Path(tmp) / name
            workdir.mkdir()
            print(f"{name} ...", file=sys.stderr, flush=True)
            results[name] = await coro(workdir)
            print(json.dumps({name: results[name]}, indent=2), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}", file=sys.stderr)
    ok = results["flood_and_others"]["flooder"]["as_expected"] and results["burst_flood"]["flooder"]["as_expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
