"""Detection in worker processes, shared fairly between users.

Detection (and finding the phone numbers in a message) is CPU work. On the event loop, a message that costs 250 ms of
matching stops every other user's reply for 250 ms: ten accounts each sending
twenty crafted messages (every account within its rate limit) pushed other
users' p99 from 28 ms to 3.3 s. Threads do not help with CPU work in Python
(one GIL), so the bot judges in worker processes
(:mod:`callguard.detection_worker`) and decides whose message goes next:

* **Least recent cost first.** Each user's detection CPU time is summed with
  a half-life of :data:`HALF_LIFE` seconds (:class:`RecentCost`); of the
  messages waiting, the one whose sender has used the least goes first. A
  user who has cost nothing lately is served before one who has been costing
  seconds, however long the latter's queue.
* **A worker kept for everyone else.** A message is *expensive* when its
  sender's recent cost (including the time their message being judged has
  taken so far) is above :data:`HEAVY_SECONDS`, or it is longer than
  :data:`LONG_TEXT` characters. With two or more workers, expensive messages
  go only to the first ``workers - 1`` of them, which also run at a lower CPU
  priority (``nice`` :data:`EXPENSIVE_NICE`, from when they hold their first
  rule set: see detection_worker.py): one worker is always free for
  everyone else, and when the machine is short of CPU, the event loop and the
  others' detection get it first. (:class:`~callguard.telegram.concurrency.PerUserUpdateProcessor`
  applies the same idea to the bot's update slots.)

After a reload the workers take the candidate the rule builder already
compiled (``compiled``: its :mod:`callguard.handover` pickle, written once to
a temporary file that each worker reads itself, so the 34 MB never cross the
event loop): about 0.5 s each for 1,000 rules, where building it again from
the file's bytes cost 10-35 s of CPU per worker and, on a busy 2-core machine,
pushed users' p99 past 100 ms when a second reload came meanwhile. The rule set
the bot starts with (no pickle from the builder) is read from the compiled-rules
cache, where the bot's own start stored it, or built from the bytes when the
cache is off (detection_worker._build). The workers take a rule set one at a
time, the others serving meanwhile, and only the newest: a reload that comes
while they are still taking the previous one replaces it, it does not queue
behind it.

The workers take each rule set the first time a message needs it. Until a worker holds the rule set
a message needs (at start, for a second after each reload), a cheap message is
judged here, on the event loop, as before, and an expensive one waits for a
worker: crafted text sent at that moment must not stall everyone either
(:meth:`DetectionPool._waits_for_a_worker`). A worker that dies, or takes
longer than :data:`JOB_TIMEOUT` for one message, is replaced, and that
message fails (its sender gets the apology and can send it again).

With ``workers=0`` every message is judged on the event loop, in order: the
tests' default, and enough for a small bot.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import pickle
import struct
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from .detect import Detector, Verdict
from .detect.model import Model
from .detection_worker import judge

__all__ = ["DetectionPool", "DetectionFailed", "Judgement", "RecentCost", "WORKER_COMMAND"]

log = logging.getLogger(__name__)

WORKER_COMMAND = (sys.executable, "-m", "callguard.detection_worker")
HALF_LIFE = 30.0  # seconds: how fast a user's past detection cost is forgiven
HEAVY_SECONDS = 0.1  # recent detection CPU above which a user's messages count as expensive
LONG_TEXT = 2000  # characters: a message this long counts as expensive from the start
EXPENSIVE_NICE = 10  # CPU priority the workers for expensive messages give up (CFS: ~1/10 of the weight)
JOB_TIMEOUT = 10.0  # seconds one message may take in a worker before the worker is replaced
RESPAWN_DELAYS = (0.0, 1.0, 5.0, 30.0)  # seconds before replacing a worker that died, growing while they keep dying
_LENGTH = struct.Struct(">I")


class DetectionFailed(RuntimeError):
    """A message could not be judged (its worker died or took too long)."""


class RuleSource(Protocol):
    """What a rule set in service provides (:class:`callguard.rulebook.Loaded`)."""

    detector: Detector
    data: bytes
    path: Any
    # Optional: ``compiled`` (bytes), the rule builder's pickle of ``detector`` (empty or absent:
    # the workers build it from ``data``).

    @property
    def version(self) -> str: ...


class RecentCost:
    """Each key's detection CPU seconds, decaying with a half-life: cost ``c`` spent
    ``t`` seconds ago counts ``c * 0.5 ** (t / half_life)`` now."""

    def __init__(self, half_life: float = HALF_LIFE, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 100_000):
        self.half_life = half_life
        self._clock = clock
        self._cost: dict[object, tuple[float, float]] = {}  # key -> (cost, as of when)
        self._max_keys = max_keys

    def _decayed(self, cost: float, since: float, now: float) -> float:
        return cost * math.pow(0.5, (now - since) / self.half_life)

    def add(self, key: object, seconds: float) -> None:
        now = self._clock()
        cost, since = self._cost.get(key, (0.0, now))
        if key not in self._cost and len(self._cost) >= self._max_keys:
            self._prune(now)
        self._cost[key] = (self._decayed(cost, since, now) + seconds, now)

    def recent(self, key: object) -> float:
        entry = self._cost.get(key)
        return 0.0 if entry is None else self._decayed(entry[0], entry[1], self._clock())

    def _prune(self, now: float) -> None:
        """Forget keys whose cost has decayed to nothing; memory stays bounded."""
        for key in [k for k, (c, t) in self._cost.items() if self._decayed(c, t, now) < 1e-3]:
            del self._cost[key]
        if len(self._cost) >= self._max_keys:  # everyone is costly: forget the least recent tenth
            for key in sorted(self._cost, key=lambda k: self._cost[k][1])[: len(self._cost) // 10 or 1]:
                del self._cost[key]

    def __len__(self) -> int:
        return len(self._cost)


@dataclass(frozen=True)
class Judgement:
    """What the CPU work on a message found: the verdict and the phone numbers (E.164)."""

    verdict: Verdict
    numbers: tuple[str, ...]


@dataclass(eq=False)
class _Job:
    key: object
    text: str
    region: str | tuple[str, ...]  # how local numbers are read, in order (numbers.extract_numbers)
    source: RuleSource
    seq: int
    future: asyncio.Future = field(repr=False)
    heavy: bool = False


class _Worker:
    """One worker process and the rule-set versions it holds."""

    def __init__(self, proc: asyncio.subprocess.Process, expensive_lane: bool):
        self.proc = proc
        self.expensive_lane = expensive_lane  # may judge expensive messages (and runs niced)
        self.versions: list[str] = []  # what it holds, most recent last (it keeps two)

    async def call(self, request: tuple) -> tuple:
        body = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(_LENGTH.pack(len(body)) + body)
        await self.proc.stdin.drain()
        (size,) = _LENGTH.unpack(await self.proc.stdout.readexactly(_LENGTH.size))
        answer = pickle.loads(await self.proc.stdout.readexactly(size))
        if answer[0] == "error":
            raise DetectionFailed(f"detection worker: {answer[1]}")
        return answer

    async def load(self, source: RuleSource, compiled: Path | None = None) -> str:
        """Make the worker hold ``source``'s rule set, read from ``compiled`` when given
        (else built from the bytes); returns how ("compiled" or "built")."""
        answer = await self.call(("rules", source.version, source.data, str(source.path), str(compiled or "")))
        if source.version in self.versions:
            self.versions.remove(source.version)
        self.versions = (self.versions + [source.version])[-2:]
        return answer[3]

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


class DetectionPool:
    """``await pool.judge(source, text, key, region)``: the verdict of ``source``'s rule set
    on ``text`` and its phone numbers, worked out in a worker process, fairly between keys
    (users)."""

    def __init__(self, workers: int = 0, *, command: Sequence[str] = WORKER_COMMAND,
                 job_timeout: float = JOB_TIMEOUT, cost: RecentCost | None = None,
                 model: Model | None = None, model_path: Path | None = None):
        """``model``: the learned second opinion every verdict is given to, judged here;
        ``model_path``: its file, which the workers read (both or neither)."""
        self.size = workers
        self.model = model
        self.command = tuple(command) + (("--model", str(model_path)) if model_path is not None else ())
        self.job_timeout = job_timeout
        self.cost = cost or RecentCost()
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._waiting: list[_Job] = []
        self._running: set[_Job] = set()
        self._started: dict[object, float] = {}  # key -> when its oldest message being judged started
        self._running_heavy = 0
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task] = set()
        self._deaths = 0
        self._closed = False
        self._latest: RuleSource | None = None
        self._loading = False  # a worker is loading the latest rule set
        self._starting = 0  # worker processes about to start or starting (not those waiting out a delay)
        self._compiled: tuple[str, Path] | None = None  # (version, temporary file of its compiled rules)
        self._compiled_lock = asyncio.Lock()  # one file per version, even if two workers start at once

    @property
    def heavy_share(self) -> int:
        """How many workers expensive messages may occupy at once."""
        return max(1, self.size - 1)

    def is_heavy(self, key: object) -> bool:
        """Whether ``key``'s messages have cost a lot lately (see the module docstring)."""
        return self._cost_now(key) > HEAVY_SECONDS

    def _cost_now(self, key: object) -> float:
        """Recent cost, plus the time its messages being judged right now have taken so far
        (their cost is known only when they are done, and a message that is still running
        after a while is expensive)."""
        started = self._started.get(key)
        in_flight = time.monotonic() - started if started is not None else 0.0
        return self.cost.recent(key) + in_flight

    @property
    def ready_workers(self) -> int:
        return sum(1 for worker in self._workers if worker.versions)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, source: RuleSource | None = None) -> None:
        """Start the workers (they load ``source``'s rule set in the background)."""
        self._latest = source
        for i in range(self.size):
            self._spawn_later(0.0, expensive_lane=self.size >= 2 and i < self.heavy_share)

    async def close(self) -> None:
        """Stop the workers; messages still waiting or being judged are judged here."""
        self._closed = True
        unfinished = [*self._waiting, *self._running]
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for job in unfinished:
            self._judge_here(job)
        self._waiting.clear()
        self._running.clear()
        for worker in self._workers:
            worker.kill()
            try:
                worker.proc.stdin.close()
            except (OSError, RuntimeError):
                pass
        for worker in self._workers:
            await worker.proc.wait()
        self._workers.clear()
        self._idle.clear()
        self._drop_compiled()

    def _spawn_later(self, delay: float, *, expensive_lane: bool) -> None:
        if not delay:
            self._starting += 1  # from now: a message that waits for this worker finds it counted
        task = asyncio.get_running_loop().create_task(self._spawn(delay, expensive_lane),
                                                      name="detection-worker-start")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _spawn(self, delay: float, expensive_lane: bool) -> None:
        if delay:
            await asyncio.sleep(delay)
            self._starting += 1
        nice = ("--nice", str(EXPENSIVE_NICE)) if expensive_lane else ()
        try:
            proc = await asyncio.create_subprocess_exec(*self.command, *nice, stdin=asyncio.subprocess.PIPE,
                                                        stdout=asyncio.subprocess.PIPE)
        except OSError as exc:
            log.error("cannot start a detection worker (%s): messages are judged on the event loop", exc)
            self._judge_orphans()  # expensive messages that were waiting for it
            return
        finally:
            self._starting -= 1
        worker = _Worker(proc, expensive_lane)
        self._workers.append(worker)
        source = self._latest
        if source is not None and source.data:
            try:
                await self._give_rules(worker, source)
            except (OSError, EOFError, asyncio.IncompleteReadError, DetectionFailed) as exc:
                self._lost(worker, f"it failed to load the rules ({exc})")
                return
        self._idle.append(worker)
        self._dispatch()

    async def _give_rules(self, worker: _Worker, source: RuleSource) -> None:
        """Make ``worker`` hold ``source``'s rule set: its compiled form when there is one."""
        started = time.perf_counter()
        how = await worker.load(source, await self._compiled_file(source))
        holding = sum(1 for w in self._workers if source.version in w.versions)
        log.info("detection worker %s took rules %s (%s, %.2f s); %d of %d hold them", worker.proc.pid,
                 source.version, how, time.perf_counter() - started, holding, self.size)
        if holding == self.size:
            log.info("detection workers ready: %d holding rules %s", holding, source.version)

    async def _compiled_file(self, source: RuleSource) -> Path | None:
        """A temporary file holding ``source``'s compiled rules for the workers to read (None
        when there are none: the workers build them). Written once per version, in a thread;
        the previous version's file is deleted then. It stays while that version is the
        newest, for a worker that is replaced later."""
        compiled = getattr(source, "compiled", b"")
        if not compiled:
            return None
        async with self._compiled_lock:
            if self._compiled is not None and self._compiled[0] == source.version:
                return self._compiled[1]
            self._drop_compiled()
            try:
                path = await asyncio.to_thread(_write_temporary, compiled)
            except OSError as exc:
                log.warning("cannot write the compiled rules for the detection workers (%s): they build them", exc)
                return None
            self._compiled = (source.version, path)
            return path

    def _drop_compiled(self) -> None:
        if self._compiled is not None:
            _, path = self._compiled
            self._compiled = None
            try:
                path.unlink()
            except OSError:
                pass

    def _lost(self, worker: _Worker, why: str) -> None:
        """A worker died or hung: replace it, waiting longer while they keep dying."""
        worker.kill()
        if worker in self._workers:
            self._workers.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if self._closed:
            return
        delay = RESPAWN_DELAYS[min(self._deaths, len(RESPAWN_DELAYS) - 1)]
        self._deaths += 1
        log.error("detection worker %s: %s; starting another in %.0f s", worker.proc.pid, why, delay)
        self._spawn_later(delay, expensive_lane=worker.expensive_lane)
        self._judge_orphans()

    # ------------------------------------------------------------------ judging

    async def judge(self, source: RuleSource, text: str, key: object, region: str | tuple[str, ...]) -> Judgement:
        """The verdict on ``text`` by ``source``'s rule set and its phone numbers (``region``:
        for numbers written without a country code); ``key`` (the sender) decides the turn.
        Raises :class:`DetectionFailed` if its worker died on it."""
        if self.size == 0 or self._closed or not source.data:
            return self._judge_now(source, text, key, region)
        if self._latest is None or self._latest.version != source.version:
            self._latest = source  # a reload: idle workers load it now (see _dispatch)
        if not any(source.version in worker.versions for worker in self._workers):
            self._dispatch()  # lets idle workers start loading it
            if not self._waits_for_a_worker(text, key):
                return self._judge_now(source, text, key, region)
        job = _Job(key, text, region, source, next(self._seq), asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        self._dispatch()
        return await job.future

    def _waits_for_a_worker(self, text: str, key: object) -> bool:
        """Whether a message that no worker can judge yet (its rule set is still being loaded)
        waits for one instead of being judged on the event loop: an expensive one does (long,
        or from a sender who has cost a lot lately; judged here, crafted text stalled every
        user), as long as a worker process is running or starting to load it. If none holds it
        in the end (the worker died, a newer rule set came first), it is judged here after all
        (:meth:`_judge_orphans`)."""
        expensive = len(text) > LONG_TEXT or self.is_heavy(key)
        return expensive and bool(self._workers or self._starting)

    async def check(self, source: RuleSource, text: str, key: object) -> Verdict:
        """Only the verdict (no numbers looked for)."""
        return (await self.judge(source, text, key, "")).verdict

    def _judge_now(self, source: RuleSource, text: str, key: object, region: str | tuple[str, ...]) -> Judgement:
        """On the event loop (no worker for it)."""
        started = time.process_time()
        verdict, numbers = judge(source.detector, text, region, self.model)
        self.cost.add(key, time.process_time() - started)
        return Judgement(verdict, numbers)

    def _judge_here(self, job: _Job) -> None:
        if job.future.done():
            return
        try:
            job.future.set_result(self._judge_now(job.source, job.text, job.key, job.region))
        except Exception as exc:
            job.future.set_exception(exc)

    def _judge_orphans(self) -> None:
        """Waiting messages whose rule set no worker holds any more: judged here."""
        for job in [j for j in self._waiting if not any(j.source.version in w.versions for w in self._workers)]:
            self._waiting.remove(job)
            self._judge_here(job)

    def _dispatch(self) -> None:
        """Give idle workers the next messages (least recent cost first; expensive ones
        within their share), and the newest rule set to idle workers that lack it."""
        latest = self._latest
        if latest is not None and latest.data and not self._loading:  # one load at a time: the others serve
            worker = next((w for w in self._idle if latest.version not in w.versions), None)
            if worker is not None:
                self._idle.remove(worker)
                self._loading = True
                self._start(self._load(worker, latest))
        while self._idle and self._waiting:
            picked = self._pick()
            if picked is None:
                return
            job, worker = picked
            self._waiting.remove(job)
            if job.future.done():  # its sender's task was cancelled
                continue
            self._idle.remove(worker)
            if job.heavy:
                self._running_heavy += 1
            self._start(self._run(worker, job))

    def _pick(self) -> tuple[_Job, _Worker] | None:
        """The waiting message to judge next and the idle worker for it: least recent cost
        first, among those an idle worker may take (its rule set; its lane)."""
        best = None
        for job in self._waiting:
            job.heavy = len(job.text) > LONG_TEXT or self.is_heavy(job.key)
            if job.heavy and self._running_heavy >= self.heavy_share:
                continue
            worker = self._worker_for(job)
            if worker is None:
                continue
            rank = (self._cost_now(job.key), job.seq)
            if best is None or rank < best[0]:
                best = (rank, job, worker)
        return best[1:] if best else None

    def _worker_for(self, job: _Job) -> _Worker | None:
        """An idle worker holding the job's rule set: for an expensive message one of the
        expensive lane (any, with a single worker), for another preferably one outside it."""
        fitting = [w for w in self._idle if job.source.version in w.versions]
        if job.heavy and any(w.expensive_lane for w in self._workers):  # (none while it is being replaced)
            fitting = [w for w in fitting if w.expensive_lane]
        fitting.sort(key=lambda w: w.expensive_lane)
        return fitting[0] if fitting else None

    def _start(self, work) -> None:
        task = asyncio.get_running_loop().create_task(work, name="detection-job")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, worker: _Worker, source: RuleSource) -> None:
        try:
            await self._give_rules(worker, source)
        except (OSError, EOFError, asyncio.IncompleteReadError, DetectionFailed) as exc:
            self._lost(worker, f"it failed to load the rules ({exc})")
            return
        else:
            self._idle.append(worker)
            self._judge_orphans()
        finally:
            self._loading = False
        self._dispatch()

    async def _run(self, worker: _Worker, job: _Job) -> None:
        healthy = False
        self._running.add(job)
        self._started.setdefault(job.key, time.monotonic())
        try:
            request = ("check", job.source.version, job.text, job.region)
            _, verdict, numbers, cpu = await asyncio.wait_for(worker.call(request), self.job_timeout)
            self.cost.add(job.key, cpu)
            healthy = True
            self._deaths = 0
            if not job.future.done():
                job.future.set_result(Judgement(verdict, numbers))
        except DetectionFailed as exc:  # the worker is fine but did not judge: judge here (same code)
            healthy = True
            log.warning("%s; judging that message on the event loop", exc)
            self._judge_here(job)
        except asyncio.TimeoutError:
            self.cost.add(job.key, self.job_timeout)
            self._fail(job, f"judging one message took longer than {self.job_timeout:.0f} s")
            self._lost(worker, "one message took too long")
        except (OSError, EOFError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
            self._fail(job, f"the detection worker died ({type(exc).__name__})")
            self._lost(worker, f"it died ({type(exc).__name__})")
        finally:
            self._running.discard(job)
            if not any(other.key == job.key for other in self._running):
                self._started.pop(job.key, None)
            if job.heavy:
                self._running_heavy -= 1
            if healthy and not self._closed:
                self._idle.append(worker)
            self._dispatch()

    @staticmethod
    def _fail(job: _Job, why: str) -> None:
        if not job.future.done():
            job.future.set_exception(DetectionFailed(why))


def _write_temporary(data: bytes) -> Path:
    """``data`` in a new temporary file (mode 0600) that only this process and its workers use."""
    fd, name = tempfile.mkstemp(prefix="callguard-rules-", suffix=".pickle")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)
