"""The live rule set: validated in full before use, swapped atomically.

A reload must never leave the bot matching against half-loaded or broken
rules. So a candidate file is parsed, linted and has every rule's embedded
examples run *before* it replaces the live one, and the replacement is one
attribute assignment: a message is judged entirely by the old set or entirely
by the new one. The previous set is kept for ``rollback``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .detect import Detector, Problem, RuleFileError, parse_rules
from .detect.examples import run_examples

__all__ = ["Loaded", "RuleBook", "validate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loaded:
    """A rule set in service: the compiled detector and where it came from."""

    detector: Detector
    path: Path
    loaded_at: float  # unix time
    seconds: float  # how long validation and compilation took

    @property
    def version(self) -> str:
        return self.detector.version

    @property
    def rule_count(self) -> int:
        return len(self.detector.ruleset.rules)


def validate(data: bytes, source: str) -> Detector:
    """Parse, lint, compile and run every embedded example; raise
    :class:`RuleFileError` with ``file:line`` problems if anything fails."""
    detector = Detector(parse_rules(data, source))
    failures = run_examples(detector)
    if failures:
        raise RuleFileError([Problem(source, f.line, str(f)) for f in failures])
    return detector


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RuleFileError([Problem(str(path), 0, f"cannot read the rule file: {exc.strerror or exc}")]) from None


def _load(path: Path) -> Loaded:
    started = time.perf_counter()
    detector = validate(_read(path), str(path))
    return Loaded(detector, path, time.time(), time.perf_counter() - started)


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

    def _swap(self, loaded: Loaded) -> Loaded:
        self._previous, self._live = self._live, loaded
        log.info("rules %s live: %d rules from %s (%.3f s)", loaded.version, loaded.rule_count, loaded.path,
                 loaded.seconds)
        return loaded

    async def reload(self) -> Loaded:
        """Re-read the rule file; raise :class:`RuleFileError` and keep serving
        the old rules if the file does not pass. Validation runs in a worker
        thread so the bot keeps answering meanwhile."""
        async with self._lock:
            loaded = await asyncio.to_thread(_load, self._live.path)
            return self._swap(loaded)

    async def install(self, data: bytes, *, filename: str = "upload.yaml") -> Loaded:
        """Validate uploaded rule-file content, then save it over the live file
        (atomically, with a timestamped backup of the old one) and serve it."""
        async with self._lock:
            path = self._live.path
            started = time.perf_counter()
            detector = await asyncio.to_thread(validate, data, filename)
            await asyncio.to_thread(_save_with_backup, path, data)
            return self._swap(Loaded(detector, path, time.time(), time.perf_counter() - started))

    async def rollback(self) -> Loaded | None:
        """Serve the previous rule set again (None when there is none)."""
        async with self._lock:
            if self._previous is None:
                return None
            previous = self._previous
            return self._swap(Loaded(previous.detector, previous.path, time.time(), 0.0))


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
