"""The live rule set: validated in full before use, swapped atomically.

A reload must never leave the bot matching against half-loaded or broken
rules. So a candidate file is parsed, linted and has every rule's embedded
examples run *before* it replaces the live one, and the replacement is one
attribute assignment: a message is judged entirely by the old set or entirely
by the new one. The previous set is kept for ``rollback``.

Parsing, linting, compiling and running the examples are
:func:`callguard.detect.build` (the detection core); this module only reads
files, swaps atomically, rolls back and keeps backups. A reload reuses the
live matcher for the rules whose groups did not change, so editing a few rules
of a big file compiles only those (same verdicts, see
bot/detect/matcher.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .detect import Detector, Problem, RuleFileError, build

__all__ = ["Loaded", "RuleBook", "validate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """A rule set in service: the compiled detector and where it came from."""

    detector: Detector
    path: Path
    loaded_at: float  # unix time
    seconds: float  # how long validation and compilation took
    timings: Mapping[str, float] = field(default_factory=dict)  # see validate()
    data: bytes = field(default=b"", repr=False)  # the file content it came from (what rollback writes back)
    backup: Path | None = None  # set by rollback: where the file it replaced was kept

    @property
    def version(self) -> str:
        return self.detector.version

    @property
    def rule_count(self) -> int:
        return len(self.detector.ruleset.rules)


def validate(data: bytes, source: str, *, previous: Detector | None = None,
             timings: dict[str, float] | None = None) -> Detector:
    """:func:`callguard.detect.build` with the settings a build in a worker
    thread needs (see ``_building``)."""
    with _building():
        return build(data, source, previous=previous, timings=timings)


# While a rule set is built in a worker thread, the event loop thread must
# win the GIL back quickly to answer users: the default switch interval
# (5 ms) costs each await up to 5 ms behind the builder ("convoy effect").
BUILD_SWITCH_INTERVAL = 0.001

_build_lock = threading.Lock()
_builds = 0
_saved: tuple[bool, float] = (True, 0.005)


@contextlib.contextmanager
def _building():
    """Settings for the duration of a rule-set build, restored after the last one.

    * Python's cyclic garbage collector is paused. Parsing and compiling create
      millions of small containers, none of them cyclic garbage (validation
      leaves none: tested), and with the collector on, its passes walk the
      whole heap (the live rule set included) again and again: 2-3x the time,
      and event-loop pauses while it holds the GIL. Reference counting still
      frees everything meanwhile.
    * The GIL switch interval is shortened (BUILD_SWITCH_INTERVAL).

    Nested and concurrent builds count up; the last one restores both."""
    global _builds, _saved
    with _build_lock:
        if _builds == 0:
            _saved = (gc.isenabled(), sys.getswitchinterval())
            gc.disable()
            sys.setswitchinterval(min(BUILD_SWITCH_INTERVAL, _saved[1]))
        _builds += 1
    try:
        yield
    finally:
        with _build_lock:
            _builds -= 1
            if _builds == 0:
                sys.setswitchinterval(_saved[1])
                if _saved[0]:
                    gc.enable()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RuleFileError([Problem(str(path), 0, f"cannot read the rule file: {exc.strerror or exc}")]) from None


def _load(path: Path, live: Loaded | None = None) -> Loaded:
    """Validate and compile the file at ``path``; ``live`` itself when the file
    still holds exactly the live rules (nothing to validate or swap)."""
    started = time.perf_counter()
    data = _read(path)
    # RuleSet.digest is the first 12 hex digits of the file's SHA-256.
    if live is not None and live.path == path and hashlib.sha256(data).hexdigest()[:12] == live.version:
        return live
    timings: dict[str, float] = {}
    detector = validate(data, str(path), previous=live.detector if live else None, timings=timings)
    return Loaded(detector, path, time.time(), time.perf_counter() - started, timings, data)


class RuleBook:
    """Holds the live :class:`Loaded` rule set; reloads never break it."""

    def __init__(self, loaded: Loaded):
        self._live = loaded
        self._previous: Loaded | None = None
        self._lock = asyncio.Lock()  # one reload at a time

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RuleBook":
        return cls(_load(Path(path)))

    @property
    def live(self) -> Loaded:
        return self._live

    @property
    def detector(self) -> Detector:
        return self._live.detector

    @property
    def path(self) -> Path:
        return self._live.path

    @property
    def previous(self) -> Loaded | None:
        """The rule set ``rollback`` would bring back (None when there is none)."""
        return self._previous

    def _swap(self, loaded: Loaded) -> Loaded:
        self._previous, self._live = self._live, loaded
        t = loaded.timings
        detail = (f": parse {t['parse']:.3f} s, compile {t['compile']:.3f} s, examples {t['examples']:.3f} s "
                  f"({t['examples_total']:.0f} run)") if t else ""
        log.info("rules %s live: %d rules from %s (%.3f s%s)", loaded.version, loaded.rule_count, loaded.path,
                 loaded.seconds, detail)
        return loaded

    async def reload(self) -> Loaded:
        """Re-read the rule file; raise :class:`RuleFileError` and keep serving
        the old rules if the file does not pass. Validation runs in a worker
        thread so the bot keeps answering meanwhile. A file whose content is
        the live rule set's returns the live :class:`Loaded` unchanged (no
        validation, no swap, the rollback target is kept)."""
        async with self._lock:
            live = self._live
            loaded = await asyncio.to_thread(_load, live.path, live)
            if loaded is live:
                log.info("rules %s unchanged in %s: nothing to reload", live.version, live.path)
                return live
            return self._swap(loaded)

    async def install(self, data: bytes, *, filename: str = "upload.yaml") -> Loaded:
        """Validate uploaded rule-file content, then save it over the live file
        (atomically, with a timestamped backup of the old one) and serve it."""
        async with self._lock:
            path = self._live.path
            started = time.perf_counter()
            timings: dict[str, float] = {}
            detector = await asyncio.to_thread(validate, data, filename, previous=self._live.detector,
                                               timings=timings)
            await asyncio.to_thread(_save_with_backup, path, data)
            return self._swap(Loaded(detector, path, time.time(), time.perf_counter() - started, timings, data))

    async def rollback(self) -> Loaded | None:
        """Serve the previous rule set again and write it back to the rule
        file (atomically, the replaced file kept as a timestamped backup), so
        a restart or a /reload does not bring back the rules just rolled back.
        None when there is no previous set. Raises ``OSError`` when the file
        cannot be written: then nothing changes."""
        async with self._lock:
            if self._previous is None:
                return None
            previous = self._previous
            backup = None
            if await asyncio.to_thread(_read_or_none, previous.path) != previous.data:
                backup = await asyncio.to_thread(_save_with_backup, previous.path, previous.data)
            return self._swap(Loaded(previous.detector, previous.path, time.time(), 0.0, data=previous.data,
                                     backup=backup))


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _save_with_backup(path: Path, data: bytes) -> Path | None:
    """Write ``data`` to ``path`` atomically; keep the old file as
    ``<name>.<UTC timestamp>.bak`` beside it. Returns the backup path."""
    backup = None
    if path.exists():
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup = path.with_name(f"{path.name}.{stamp}.bak")
        n = 1
        while backup.exists():
            backup = path.with_name(f"{path.name}.{stamp}-{n}.bak")
            n += 1
        shutil.copy2(path, backup)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return backup
