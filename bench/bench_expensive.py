"""Expensive messages: ten accounts each send twenty messages that are costly to judge; how long
do the other users wait for their replies?

    python bench/bench_expensive.py            # the four modes below, full size (a few minutes)
    python bench/bench_expensive.py --quick    # 100 other users over 4 s instead of 300 over 10 s

Each account stays within its rate limit (20 messages a minute) and sends its twenty at once,
as in the review that found the problem. Meanwhile other users each send one ordinary message,
spread evenly over the run. Reported: the other users' reply latency (push to the fake Bot API
receiving the reply) p50/p90/p99/max, with and without the attack, for each mode:

* ``loop, double``: detection on the event loop (``CALLGUARD_DETECT_WORKERS=0``, the code before
  the detection pool), with a test double that burns 0.25 s of CPU per attack message
  (tests/support/slow_detection.py), the cost the review measured for its crafted text;
* ``workers, double``: the same double in the worker processes (2 workers, the default);
* ``loop, real`` / ``workers, real``: the review's crafted text itself (收到的验证码告诉 repeated
  to 4,096 characters) judged by the real matcher, whatever it costs today.

The bot runs in this process (its detection workers are processes), with the fake Bot API on the
same event loop, the shipped rules and a fresh SQLite file per run. The benchmark waits until the
other users are answered, not for the attack to be judged in full (with the double that is 50 s
of CPU); what is left of it is then judged on the event loop without the double, to finish.

Results are printed and written to bench/results/expensive.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
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

from callguard.config import Settings  # noqa: E402
from callguard.detection_pool import DetectionPool  # noqa: E402
from callguard.rulebook import RuleBook  # noqa: E402
from callguard.service import CallGuard  # noqa: E402
from callguard.storage import ReportWriter, SQLiteStore, default_key_file  # noqa: E402
from callguard.telegram.app import build_application  # noqa: E402
from tests.reliability.support import RULES, SCAM_HANS, percentile  # noqa: E402
from tests.support.fake_bot_api import FakeBotAPI  # noqa: E402
from tests.support.ptb import running_app  # noqa: E402
from tests.support.slow_detection import MARKER, SlowDetector  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "expensive.json"
SLOW_WORKER = (sys.executable, str(ROOT / "tests" / "support" / "slow_detection.py"))
BURN = 0.25
ATTACKERS, PER_ATTACKER = 10, 20
DOUBLE_TEXT = ("我" * 4000 + f" {MARKER} ")[:4096]  # cheap for the real matcher: only the double costs
REAL_TEXT = ("收到的验证码告诉" * 512)[:4096]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def summary(latencies: list[float]) -> dict:
    return {"count": len(latencies), "p50_ms": ms(percentile(latencies, 0.5)), "p90_ms": ms(percentile(latencies, 0.9)),
            "p99_ms": ms(percentile(latencies, 0.99)), "max_ms": ms(max(latencies))}


async def others_write(api: FakeBotAPI, first_uid: int, others: int, seconds: float) -> list[float]:
    pushed: dict[int, float] = {}
    started = time.perf_counter()
    for i in range(others):
        uid = first_uid + i
        api.push_message(f"{SCAM_HANS} #{uid}", user_id=uid)
        pushed[uid] = time.perf_counter()
        await asyncio.sleep(max(0.0, started + (i + 1) * seconds / others - time.perf_counter()))

    def answered() -> dict[int, float]:
        return {c.params["chat_id"]: c.at for c in api.requests
                if c.method == "sendMessage" and c.ok and c.params.get("chat_id") in pushed}

    await api.wait_until(lambda: len(answered()) == others, timeout=600, description="every other user answered")
    return [at - pushed[uid] for uid, at in answered().items()]


async def run_mode(workdir: Path, *, workers: int, double: bool, others: int, seconds: float) -> dict:
    os.environ["SLOW_DETECTION_SECONDS"] = str(BURN)
    async with FakeBotAPI() as api:
        settings = Settings(token=api.token, bot_api_url=api.base_url, bot_file_url=api.base_file_url,
                            db_path=workdir / "bench.db", rules_path=RULES, secret=b"bench", send_rate=0,
                            rate_limit=PER_ATTACKER, detect_workers=workers)
        book = RuleBook.load(RULES)
        if double and workers == 0:  # the double on the event loop
            book = RuleBook(dataclasses.replace(book.live, detector=SlowDetector(book.live.detector, BURN)))
        pool = DetectionPool(workers, command=SLOW_WORKER) if double else DetectionPool(workers)
        writer = ReportWriter(functools.partial(SQLiteStore.open, settings.db_path, secret=settings.secret,
                                                key_file=default_key_file(settings.db_path)))
        app = build_application(settings, CallGuard(settings, book, writer, pool))
        async with running_app(app, step_timeout=600):
            await api.wait_until(lambda: pool.ready_workers == workers, timeout=60, description="workers ready")
            baseline = await others_write(api, 1_000_000, others, seconds)
            text = DOUBLE_TEXT if double else REAL_TEXT
            for a in range(ATTACKERS):
                for i in range(PER_ATTACKER):
                    api.push_message(f"{i} {text}", user_id=2_000_000 + a)
            attacked = await others_write(api, 3_000_000, others, seconds)
            if double and workers == 0:  # finish the rest of the attack without the double
                book.live.detector.seconds = 0.0
            await pool.close()
        return {"workers": workers, "double": double, "others_alone": summary(baseline),
                "others_during_attack": summary(attacked)}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    others, seconds = (100, 4.0) if args.quick else (300, 10.0)
    results = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                           "load_average": os.getloadavg()}, "quick": args.quick, "burn_s": BURN}
    with tempfile.TemporaryDirectory(prefix="callguard-expensive-") as tmp:
        for name, workers, double in (("loop, double", 0, True), ("workers, double", 2, True),
                                      ("loop, real", 0, False), ("workers, real", 2, False)):
            workdir = Path(tmp) / name.replace(", ", "-")
            workdir.mkdir()
            print(f"{name} ...", file=sys.stderr, flush=True)
            results[name] = await run_mode(workdir, workers=workers, double=double, others=others, seconds=seconds)
            print(json.dumps({name: results[name]}), flush=True)
    results["machine"]["load_average_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
