"""Checking a candidate rule file in a process of its own, so users never wait for it.

Parsing, linting, compiling and running the examples of a big rule file is
seconds to minutes of CPU, partly in C calls that hold the GIL (building the
phrase automaton). In a thread of the bot's process that stalled every user
(issue 12: 5.3 s with 100,000 phrases). So a candidate is checked in a
separate worker process (:class:`BuildWorker`): one long-lived process,
started on first use as a fresh interpreter (no copy of the bot's event
loop, sockets or database handles), fed one request at a time over a pipe.

For each request the worker runs :func:`callguard.detect.check_candidate`
(what is checked is decided there, in ``detect/``; this module is only the
process around it):

1. the candidate is built (lint, compile, every rule's examples), reusing
   the compiled matcher of the detector the worker built last, so editing a
   few rules of a big file compiles only those;
2. it is compared with the live rule set (built from its bytes, kept from
   the previous request when it is the same) on texts from outside the
   candidate: the live rule set's examples and the shipped regression set
   (:mod:`callguard.detect.compare`);
3. the worker answers with the problems, or the comparison and the compiled candidate,
   pickled (:mod:`callguard.handover`: in small steps that the bot's process
   reads back without stalling its users). Reading it is about a tenth of
   compiling it again.

The worker limits its own address space (``memory_limit``): a file that needs
more is refused with that reason instead of starving the machine. A worker
that crashes, or exceeds ``timeout`` (it is then killed), raises
:class:`BuildFailed` with a message for the admin; the live rules are never
touched by any of this, and the next request starts a new worker.
"""

from __future__ import annotations

import atexit
import copyreg
import gc
import hashlib
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Sequence

from . import compiled_cache, handover
from .compiled_cache import reduce_mapping_proxy
from .detect import Detector, Problem, RuleFileError, Verdict, check_candidate, parse_rules
from .detect.compare import Comparison, Judge, Probe, regression_probes

__all__ = ["BuildFailed", "Checked", "BuildWorker", "shared_worker", "check_rules", "check_update",
           "shipped_regression", "DEFAULT_TIMEOUT", "DEFAULT_MEMORY_LIMIT"]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 300.0  # seconds for one check; the largest file allowed takes about a minute on a busy 2-core box
DEFAULT_MEMORY_LIMIT = 2 * 1024**3  # bytes of address space for the worker (a 60,000-pattern file needs ~0.5 GB)
KEEP_DETECTORS = 2  # detectors the worker keeps: the live one and the last candidate
WORKER_NICE = 10  # added to the worker's nice value (lower CPU priority than the bot)


class BuildFailed(Exception):
    """The check itself could not be done (worker crashed, timed out, ran
    out of memory): nothing is known about the file, nothing changed."""


@dataclass(frozen=True)
class Checked:
    """What checking a candidate found. ``problems`` non-empty: refused.
    Otherwise ``detector`` is the compiled candidate (:meth:`Checked.load`
    unpickles it when it came from the worker) and ``comparison`` how its
    verdicts differ from the live rules' (None when there were no live rules
    to compare with)."""

    problems: tuple[Problem, ...] = ()
    comparison: Comparison | None = None
    timings: dict[str, float] = field(default_factory=dict)
    blob: bytes = field(default=b"", repr=False)  # the pickled Detector, from the worker
    detector: Detector | None = field(default=None, repr=False)  # the Detector itself, in process

    def load(self) -> Detector:
        """The compiled candidate, read here and now (a script, a thread)."""
        if self.detector is not None:
            return self.detector
        return handover.loads(self.blob)

    async def load_on_loop(self) -> Detector:
        """The compiled candidate, read on the event loop in small steps that
        let the users' callbacks run between them (:func:`callguard.handover.loads_on_loop`)."""
        if self.detector is not None:
            return self.detector
        return await handover.loads_on_loop(self.blob)


# --------------------------------------------------------------------------- the check itself


def shipped_regression() -> list[Probe]:
    """The regression set installed with callguard (rules/regression.jsonl); []
    with a warning when it is missing (a broken install must not stop reloads,
    the live rules' examples are still compared)."""
    from .rulefiles import shipped

    try:
        path = shipped("regression.jsonl")
        return regression_probes(path.read_text(encoding="utf-8").splitlines(), path.name)
    except (OSError, ModuleNotFoundError, RuntimeError) as exc:
        log.warning("the regression set cannot be read (%s): reloads compare the live rules' examples only", exc)
        return []


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]  # as RuleSet.digest


def check_rules(data: bytes, source: str, *, live: Detector | Callable[[], Detector | None] | None,
                regression: Sequence[Probe] = (), previous: Detector | Callable[[], Detector | None] | None = None,
                live_judge: Callable[[Detector], Judge] | None = None) -> Checked:
    """:func:`callguard.detect.check_candidate` as a :class:`Checked` (its
    problems instead of an exception, and timings), in process (the CLI) or
    in the worker. ``total`` is wall time, ``cpu`` this process's CPU time."""
    timings: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    try:
        candidate, comparison = check_candidate(data, source, live=live, regression=regression, previous=previous,
                                                live_judge=live_judge, timings=timings)
    except RuleFileError as exc:
        problems = tuple(exc.problems)
        candidate, comparison = None, None
    else:
        problems = ()
    timings.update(total=time.perf_counter() - started, cpu=time.process_time() - cpu)
    return Checked(problems=problems, comparison=comparison, timings=timings, detector=candidate)


def check_update(data: bytes, source: str, live_path: Path) -> tuple[Checked, str | None]:
    """What a reload of ``data`` over the rule file at ``live_path`` would
    find, checked in this process (for the CLI): the result, and a note when
    there is nothing to compare with (``live_path`` missing or broken)."""
    live, note = None, None
    try:
        live_data = live_path.read_bytes()
    except OSError as exc:
        note = f"{live_path} cannot be read ({exc.strerror or exc}): the verdicts are not compared"
    else:
        try:
            # The live file is usually the one every earlier command compiled: read back
            # from the compiled-rules cache (a check, then an apply, compile it once).
            live = compiled_cache.load_or_build(live_data, lambda content: Detector(parse_rules(content,
                                                                                            str(live_path))))
        except RuleFileError:
            note = f"{live_path} has errors itself: the verdicts are not compared"
    # A candidate is usually the live file with a few edits: its unchanged rules
    # come compiled from the live detector (as a reload's do), seconds less.
    return check_rules(data, source, live=live, regression=shipped_regression(), previous=live), note


# --------------------------------------------------------------------------- the worker process


class _Remembered:
    """A detector whose verdicts are remembered: the live rules judge the
    same texts on every request until they change."""

    def __init__(self, detector: Detector):
        self.detector = detector
        self.verdicts: dict[str, Verdict] = {}

    def check(self, text: str) -> Verdict:
        verdict = self.verdicts.get(text)
        if verdict is None:
            verdict = self.verdicts[text] = self.detector.check(text)
        return verdict


class _WorkerState:
    """What the worker keeps between requests."""

    def __init__(self):
        self.detectors: OrderedDict[str, Detector] = OrderedDict()  # by version, most recent last
        self.regression: list[Probe] | None = None
        self.live_verdicts: _Remembered | None = None

    def keep(self, detector: Detector) -> None:
        self.detectors[detector.version] = detector
        self.detectors.move_to_end(detector.version)
        while len(self.detectors) > KEEP_DETECTORS:
            self.detectors.popitem(last=False)

    def live(self, data: bytes, source: str) -> Detector | None:
        """The live rule set's detector: kept, else from the compiled-rules
        cache (the bot stored it there when it loaded the rules), else built
        from its bytes."""
        if not data:
            return None
        kept = self.detectors.get(_digest(data))
        if kept is None:
            kept = compiled_cache.lookup(data)
        if kept is None:
            try:
                kept = Detector(parse_rules(data, source), self.last())
            except RuleFileError:  # cannot happen for rules that are live; compare with nothing rather than fail
                log.warning("the live rules do not parse in the rule builder; no comparison")
                return None
        self.keep(kept)
        return kept

    def last(self) -> Detector | None:
        return next(reversed(self.detectors.values()), None)

    def reusable(self, live_data: bytes) -> Detector | None:
        """What a candidate's compile may reuse: the last rule set this worker
        saw, or else the live one when the compiled-rules cache holds it (the
        first check after a start: the bot stored it there; seconds less).
        Asked only once a candidate has parsed: never compiled here, and a
        refused file does not cost the memory of reading it."""
        last = self.last()
        if last is None and live_data:
            last = compiled_cache.lookup(live_data)
            if last is not None:
                self.keep(last)
        return last

    def remembered(self, live: Detector) -> _Remembered:
        """``live`` judging with its verdicts remembered across requests."""
        if self.live_verdicts is None or self.live_verdicts.detector is not live:
            self.live_verdicts = _Remembered(live)
        return self.live_verdicts


def _check_request(state: _WorkerState, data: bytes, source: str, live_data: bytes, live_source: str) -> Checked:
    if state.regression is None:
        state.regression = shipped_regression()
    checked = check_rules(data, source, live=lambda: state.live(live_data, live_source), regression=state.regression,
                          previous=lambda: state.reusable(live_data), live_judge=state.remembered)
    if checked.detector is None:
        return checked
    state.keep(checked.detector)
    t0 = time.perf_counter()
    blob = handover.dumps(checked.detector)
    timings = {**checked.timings, "pickle": time.perf_counter() - t0, "pickle_mb": len(blob) / 1e6}
    return Checked(comparison=checked.comparison, timings=timings, blob=blob)


def _limit_memory(limit: int) -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _serve(requests: Connection, answers: Connection, memory_limit: int) -> None:
    """The worker's loop: one request in, one pickled answer out, until told
    to stop or the bot's end of the pipe closes."""
    if memory_limit:
        _limit_memory(memory_limit)
    copyreg.pickle(MappingProxyType, reduce_mapping_proxy)
    state = _WorkerState()
    while True:
        try:
            request = requests.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            answer: object = _check_request(state, *request)
        except MemoryError:
            state.detectors.clear()
            state.live_verdicts = None
            gc.collect()
            answer = BuildFailed(f"checking the file needed more than the {memory_limit // 2**20} MB of memory "
                                 "the rule builder may use")
        except Exception as exc:  # a bug: report it, keep serving
            answer = BuildFailed(f"{type(exc).__name__}: {exc}"[:500])
        try:
            try:
                answers.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
            except MemoryError:
                answers.send_bytes(pickle.dumps(BuildFailed("the compiled rules are too large to hand over")))
        except OSError:  # the bot is gone (or killed us for taking too long)
            return


def serve_stdio() -> None:
    """Entry point of the worker process: requests on stdin, answers on
    stdout (which nothing else may write to: print() goes to stderr)."""
    answers = Connection(os.dup(1), readable=False)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s (rule builder): %(message)s")
    _serve(Connection(os.dup(0), writable=False), answers, int(sys.argv[1]) if len(sys.argv) > 1 else 0)


# The worker runs at a lower CPU priority than the bot from its first line
# (its imports included): on a machine with few cores the scheduler then
# serves the users first and the check second.
_WORKER_COMMAND = ("import os\n"
                   "try:\n    os.nice({nice})\nexcept (AttributeError, OSError):\n    pass\n"
                   "from callguard.rulebuild import serve_stdio\nserve_stdio()\n")


class BuildWorker:
    """The bot's handle on the worker process. :meth:`check` blocks (call it
    in a thread); requests from several threads are served one at a time.
    Holds no event-loop state, so one worker can serve several loops (tests).

    The worker is a plain subprocess (``python -c``), not a multiprocessing
    child: multiprocessing's spawn would import the bot's ``__main__`` again
    in the child, whatever script that is."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, memory_limit: int = DEFAULT_MEMORY_LIMIT):
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._requests: Connection | None = None
        self._answers: Connection | None = None

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs (None before the first check)."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def _start(self) -> None:
        process = subprocess.Popen([sys.executable, "-c", _WORKER_COMMAND.format(nice=WORKER_NICE),
                                    str(self.memory_limit)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True)
        self._process = process
        self._requests = Connection(os.dup(process.stdin.fileno()), readable=False)
        self._answers = Connection(os.dup(process.stdout.fileno()), writable=False)
        process.stdin.close()
        process.stdout.close()
        log.info("rule builder process %d started", process.pid)

    def _discard(self, *, kill: bool) -> int | None:
        """Forget the worker: killed at once when ``kill``, else given a few
        seconds to finish by itself. Returns its exit code."""
        process = self._process
        for conn in (self._requests, self._answers):
            if conn is not None:
                conn.close()
        self._process = self._requests = self._answers = None
        if process is None:
            return None
        if not kill:
            try:
                return process.wait(5)
            except subprocess.TimeoutExpired:
                pass
        process.kill()
        return process.wait()

    def check(self, data: bytes, source: str, live_data: bytes = b"", live_source: str = "<live rules>") -> Checked:
        """Check ``data`` in the worker. Raises :class:`BuildFailed` when the
        worker crashes, runs out of memory or time."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                if self._process is not None:
                    self._discard(kill=False)
                self._start()
            try:
                self._requests.send((data, source, live_data, live_source))
                if not self._answers.poll(self.timeout):
                    self._discard(kill=True)
                    log.error("rule builder killed: checking %s took longer than %g s", source, self.timeout)
                    raise BuildFailed(f"checking the file took longer than {self.timeout:g} s, so it was stopped")
                answer = pickle.loads(self._answers.recv_bytes())
            except (EOFError, OSError) as exc:
                code = self._discard(kill=True)
                log.error("rule builder process stopped while checking %s (exit code %s): %s", source, code, exc)
                raise BuildFailed(f"the rule builder process stopped unexpectedly (exit code {code})") from None
        if isinstance(answer, BuildFailed):
            raise answer
        return answer

    def close(self) -> None:
        """Stop the worker (it also stops by itself when the bot exits)."""
        with self._lock:
            if self._requests is not None:
                try:
                    self._requests.send(None)
                except OSError:
                    pass
            self._discard(kill=False)


_shared: BuildWorker | None = None
_shared_lock = threading.Lock()


def shared_worker() -> BuildWorker:
    """The process's worker (created on first use; its process starts on the
    first check). One is enough: checks are rare and one at a time. Closed
    when the interpreter exits: the worker would stop by itself at the end of
    its input, but the bot's process would first drop its handle on a
    process still running (a ResourceWarning, and an exit nobody waited for)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = BuildWorker()
            atexit.register(_shared.close)
        return _shared
