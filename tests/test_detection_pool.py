"""The detection pool: worker processes judge exactly as the detector does, fairly between users."""

from __future__ import annotations

import asyncio
import copyreg
import os
import signal
import sys
import time
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest

from callguard import compiled_cache, handover
from callguard.detect import Detector, parse_rules
from callguard.detection_pool import HEAVY_SECONDS, LONG_TEXT, DetectionFailed, DetectionPool, RecentCost
from callguard.rulebook import RuleBook
from tests.admin_support import flow_rules

ROOT = Path(__file__).resolve().parent.parent
SLOW_WORKER = (sys.executable, str(ROOT / "tests" / "support" / "slow_detection.py"))
BURN = 0.3  # CPU seconds a marked message costs in the slow worker

TEXTS = [
    "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户",
    "有人自稱通信管理局，說我的號碼要被凍結，讓我把錢轉到安全帳戶",
    "A man said he was from the communications administration and I must move my money to a safe account",
    "My mum called to ask when I'm coming home for dinner",
    "刷单返利，先垫付再返佣金，日赚三百",
    "",
]


@pytest.fixture(scope="module")
def loaded():
    # The shipped rules with few examples (tests/admin_support.py): every worker builds its rules
    # from the file's bytes, examples included, and these tests are about the workers.
    return RuleBook.load(flow_rules()).live


@pytest.fixture
def slow_env(monkeypatch):
    monkeypatch.setenv("SLOW_DETECTION_SECONDS", str(BURN))


async def until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_workers_judge_exactly_as_the_detector_and_follow_a_reload(loaded):
    pool = DetectionPool(2)
    await pool.start(loaded)
    try:
        await until(lambda: pool.ready_workers == 2)
        verdicts = await asyncio.gather(*(pool.check(loaded, text, key=i) for i, text in enumerate(TEXTS)))
        assert list(verdicts) == [loaded.detector.check(text) for text in TEXTS]
        assert len(pool.cost) == len(TEXTS)  # the workers' CPU time was charged to each sender
        # A reload (another version): judged at once on the event loop, in the workers once they have it.
        reloaded = SimpleNamespace(detector=loaded.detector, data=loaded.data + b"\n# edited\n", path=loaded.path,
                                   version="edited")
        assert await pool.check(reloaded, TEXTS[0], key=1) == verdicts[0]
        await until(lambda: all(reloaded.version in w.versions for w in pool._workers))
        assert await pool.check(reloaded, TEXTS[2], key=1) == verdicts[2]
    finally:
        await pool.close()
    assert pool._workers == []


async def test_after_a_reload_the_workers_take_the_compiled_candidate_and_judge_by_it(loaded, monkeypatch):
    """The workers read the rule builder's compiled candidate instead of building it again (its
    bytes here are not even a rule file: building from them would fail), every message after
    the reload is judged by the new rules, and a compiled file that cannot be used falls back
    to building from the bytes."""
    monkeypatch.setitem(copyreg.dispatch_table, MappingProxyType, compiled_cache.reduce_mapping_proxy)
    edited = loaded.data.replace("安全账户".encode(), b"zzqx")
    assert edited != loaded.data
    new = Detector(parse_rules(edited, "edited.yaml"))
    reloaded = SimpleNamespace(detector=new, data=b"not: [a rule file", path=loaded.path, version=new.version,
                               compiled=handover.dumps(new))
    pool = DetectionPool(2)
    await pool.start(loaded)
    try:
        await until(lambda: pool.ready_workers == 2)
        await pool.check(reloaded, TEXTS[0], key=1)
        await until(lambda: all(reloaded.version in w.versions for w in pool._workers))
        assert pool._deaths == 0  # neither worker tried to build the broken bytes
        verdicts = await asyncio.gather(*(pool.check(reloaded, text, key=i) for i, text in enumerate(TEXTS)))
        assert list(verdicts) == [new.check(text) for text in TEXTS]
        assert verdicts[0] != loaded.detector.check(TEXTS[0])  # the new rules, not the old ones
        compiled_file = pool._compiled[1]
        assert compiled_file.exists()

        damaged = SimpleNamespace(detector=loaded.detector, data=loaded.data + b"\n# edited\n", path=loaded.path,
                                  version="damaged", compiled=b"not a pickle")
        await pool.check(damaged, TEXTS[0], key=1)
        await until(lambda: all(damaged.version in w.versions for w in pool._workers))
        assert pool._deaths == 0 and not compiled_file.exists()  # the older version's file is gone
        assert await pool.check(damaged, TEXTS[2], key=1) == loaded.detector.check(TEXTS[2])
    finally:
        await pool.close()
    assert pool._compiled is None


class OnTheLoop:
    """A detector that notes the texts it judged: what the event loop judged (the workers build
    their own detectors from the rule file's bytes)."""

    def __init__(self, detector):
        self.detector = detector
        self.judged: list[str] = []

    def check(self, text: str):
        self.judged.append(text)
        return self.detector.check(text)

    def __getattr__(self, name: str):
        return getattr(self.detector, name)


async def test_expensive_messages_wait_for_a_worker_while_it_loads_the_rules(loaded):
    """At start, and for a second after a reload, no worker holds the rule set yet: a cheap
    message is judged on the event loop meanwhile, an expensive one (long, or from a sender who
    has cost a lot lately) waits for the worker instead of stalling everyone."""
    long_text = (TEXTS[0] + " ") * (LONG_TEXT // len(TEXTS[0]))
    assert len(long_text) > LONG_TEXT
    on_loop = OnTheLoop(loaded.detector)
    first = SimpleNamespace(detector=on_loop, data=loaded.data, path=loaded.path, version="first")
    pool = DetectionPool(1)
    await pool.start(first)
    try:
        assert pool.ready_workers == 0  # the worker is only starting
        verdicts = await asyncio.gather(pool.check(first, long_text, key="a"), pool.check(first, TEXTS[3], key="b"))
        assert on_loop.judged == [TEXTS[3]]
        assert list(verdicts) == [loaded.detector.check(long_text), loaded.detector.check(TEXTS[3])]

        reloaded = SimpleNamespace(detector=on_loop, data=loaded.data + b"\n# edited\n", path=loaded.path,
                                   version="edited")
        pool.cost.add("costly", 2 * HEAVY_SECONDS)
        verdicts = await asyncio.gather(pool.check(reloaded, long_text, key="c"),
                                        pool.check(reloaded, TEXTS[1], key="costly"),
                                        pool.check(reloaded, TEXTS[4], key="d"))
        assert on_loop.judged == [TEXTS[3], TEXTS[4]]
        assert list(verdicts) == [loaded.detector.check(t) for t in (long_text, TEXTS[1], TEXTS[4])]
    finally:
        await pool.close()


async def test_an_expensive_message_waiting_for_a_worker_that_cannot_start_is_judged_on_the_loop(loaded, tmp_path):
    pool = DetectionPool(1, command=(str(tmp_path / "no-such-worker"),))
    await pool.start(loaded)
    try:
        long_text = TEXTS[2] * (LONG_TEXT // len(TEXTS[2]) + 1)
        verdict = await asyncio.wait_for(pool.check(loaded, long_text, key="a"), 30)
        assert verdict == loaded.detector.check(long_text)
        assert pool._workers == []
    finally:
        await pool.close()


async def test_the_cheapest_sender_goes_first_and_expensive_ones_keep_a_worker_free(loaded, slow_env):
    pool = DetectionPool(2, command=SLOW_WORKER)
    await pool.start(loaded)
    try:
        await until(lambda: pool.ready_workers == 2)
        done: list[tuple[str, float]] = []
        started = time.perf_counter()

        async def send(who: str, text: str) -> None:
            await pool.check(loaded, text, key=who)
            done.append((who, time.perf_counter() - started))

        # Two expensive senders queue four messages each (each burns BURN s of CPU in a worker),
        # all of a's before any of b's: first come, first served would finish a's four first.
        heavy = [asyncio.create_task(send(who, f"{TEXTS[0]} #expensive {i}"))
                 for who in ("a", "b") for i in range(4)]
        await until(lambda: pool.is_heavy("a") and pool.is_heavy("b"))
        # Once they are known to be expensive, they share one worker: the other stays free, and
        # five other users are all answered before the expensive message being judged is done.
        # (A sender becomes expensive while its messages run, so the ones already running when
        # that happened were dispatched as cheap and may still finish first: count them as done.)
        heavy_done = (sum(who in ("a", "b") for who, _ in done)
                      + sum(job.key in ("a", "b") for job in pool._running))
        await asyncio.gather(*(send(f"user-{i}", TEXTS[3]) for i in range(5)))
        assert sum(who in ("a", "b") for who, _ in done) <= heavy_done + 1, done
        assert pool._running_heavy <= pool.heavy_share == 1
        await asyncio.gather(*heavy)
        # Between the two expensive senders, the one who has cost less lately goes next: b does not
        # wait behind a's queue, and neither gets far ahead of the other.
        order = [who for who, _ in done if who in ("a", "b")]
        assert order.count("a") == order.count("b") == 4
        assert order.index("b") < 3, order
        assert all(abs(order[:n].count("a") - order[:n].count("b")) <= 2 for n in range(len(order))), order
    finally:
        await pool.close()


async def test_a_worker_that_dies_or_hangs_fails_that_message_and_is_replaced(loaded, slow_env, monkeypatch):
    pool = DetectionPool(1, command=SLOW_WORKER, job_timeout=BURN * 20)
    await pool.start(loaded)
    try:
        await until(lambda: pool.ready_workers == 1)
        job = asyncio.create_task(pool.check(loaded, f"{TEXTS[0]} #expensive", key="x"))
        await until(lambda: pool._running)
        [worker] = pool._workers
        os.kill(worker.proc.pid, signal.SIGKILL)
        with pytest.raises(DetectionFailed):
            await job
        await until(lambda: pool.ready_workers == 1)  # replaced
        assert pool._workers[0] is not worker
        assert await pool.check(loaded, TEXTS[0], key="x") == loaded.detector.check(TEXTS[0])

        pool.job_timeout = BURN / 2  # a message that runs past the limit: its worker is replaced too
        with pytest.raises(DetectionFailed, match="took longer"):
            await pool.check(loaded, f"{TEXTS[0]} #expensive", key="y")
        assert pool.cost.recent("y") > HEAVY_SECONDS  # and its sender counts as expensive from now on
        await until(lambda: pool.ready_workers == 1)
    finally:
        await pool.close()


async def test_closing_judges_what_is_still_waiting(loaded, slow_env):
    pool = DetectionPool(1, command=SLOW_WORKER)
    await pool.start(loaded)
    await until(lambda: pool.ready_workers == 1)
    jobs = [asyncio.create_task(pool.check(loaded, f"{TEXTS[0]} #expensive {i}", key=i)) for i in range(4)]
    await until(lambda: pool._running)
    await pool.close()
    assert [v.scam for v in await asyncio.gather(*jobs)] == [True] * 4


async def test_without_workers_messages_are_judged_on_the_event_loop(loaded):
    pool = DetectionPool(0)
    await pool.start(loaded)
    assert await pool.check(loaded, TEXTS[0], key=1) == loaded.detector.check(TEXTS[0])
    assert pool._workers == [] and len(pool.cost) == 1
    await pool.close()


def test_recent_cost_halves_every_half_life_and_forgets_idle_users():
    now = [0.0]
    cost = RecentCost(half_life=10.0, clock=lambda: now[0], max_keys=3)
    cost.add("a", 0.8)
    now[0] = 10.0
    assert cost.recent("a") == pytest.approx(0.4)
    cost.add("a", 0.1)
    now[0] = 20.0
    assert cost.recent("a") == pytest.approx(0.25)
    assert cost.recent("never") == 0.0
    cost.add("b", 1.0)
    cost.add("c", 1.0)
    now[0] = 1000.0  # everyone idle for a long time: a new key makes room
    cost.add("d", 1.0)
    assert len(cost) == 1 and cost.recent("d") == 1.0
