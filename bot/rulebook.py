"""The live rule set: checked in full before use, swapped atomically.

A reload must never leave the bot matching against half-loaded or broken
rules, nor stall the users while it checks. So a candidate file is checked
in a worker process (:mod:`callguard.rulebuild`) by
:func:`callguard.detect.check_candidate`: parsed, linted, compiled, every
rule's embedded examples run, and its verdicts compared with the live rules'
on texts from outside the file (the live rules' examples and the shipped
regression set, :mod:`callguard.detect.compare`). Only then does it
replace the live one, in one attribute assignment: a message is judged
entirely by the old set or entirely by the new one. The previous set is
kept for ``rollback``. This module itself checks nothing: it reads files,
decides from the result whether it may go live, swaps, rolls back and keeps
backups.

A candidate that would change more than a few verdicts, or stop flagging a
known scam, is not swapped in by itself: it becomes :class:`Pending` and
:class:`ConfirmationNeeded` is raised. An admin in Telegram confirms it with
a button (:meth:`RuleBook.confirm`); a reload that cannot ask (SIGHUP, the
file watch) goes ahead only with ``force`` or when the file's exact content
was approved beforehand (:func:`approve`, ``callguard rules apply --force``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from . import compiled_cache, handover
from .detect import Detector, Problem, RuleFileError, build
from .detect.compare import Comparison
from .rulebuild import BuildWorker, Checked, shared_worker

__all__ = ["Loaded", "Pending", "ConfirmationNeeded", "NotPending", "RuleBook", "approve", "approved",
           "save_with_backup", "PENDING_SECONDS"]

log = logging.getLogger(__name__)

PENDING_SECONDS = 15 * 60  # how long a candidate waits for its confirmation


@dataclass(frozen=True)
class Loaded:
    """A rule set in service: the compiled detector and where it came from."""

    detector: Detector
    path: Path
    loaded_at: float  # unix time
    seconds: float  # how long checking and compiling took (at start: or reading them back from the cache)
    timings: Mapping[str, float] = field(default_factory=dict)  # parse, compile, examples, compare, load, cached, ...
    data: bytes = field(default=b"", repr=False)  # the file content it came from (what rollback writes back)
    backup: Path | None = None  # set by rollback: where the file it replaced was kept
    comparison: Comparison | None = None  # its verdicts against the rules it replaced (None: not compared)
    # The rule builder's pickle of ``detector`` (callguard.handover; empty when compiled in this
    # process): the detection workers read it instead of compiling the rules again.
    compiled: bytes = field(default=b"", repr=False)

    @property
    def version(self) -> str:
        return self.detector.version

    @property
    def rule_count(self) -> int:
        return len(self.detector.ruleset.rules)


@dataclass(frozen=True)
class Pending:
    """A candidate that passed every check but would change too many
    verdicts: it waits for its ``owner`` (the admin who sent it) to confirm."""

    token: str  # names it in the confirmation button
    loaded: Loaded
    against: str  # the live version it was compared with
    name: str  # the uploaded file's name, or the rule file's path
    upload: bool  # True: the file is saved over the live one on confirmation
    owner: int | None
    expires: float  # time.monotonic()

    @property
    def comparison(self) -> Comparison:
        return self.loaded.comparison


class ConfirmationNeeded(Exception):
    """The candidate would change too many verdicts; nothing changed yet.
    ``pending`` is the candidate kept for :meth:`RuleBook.confirm` (None when
    the reload could not ask, and it was only reported)."""

    def __init__(self, comparison: Comparison, pending: Pending | None = None):
        self.comparison = comparison
        self.pending = pending
        super().__init__(f"rules {comparison.candidate_version} would change {len(comparison.changes)} of "
                         f"{comparison.checked} verdicts ({comparison.missed_scams} known scam(s) no longer "
                         f"flagged): confirmation needed")


class NotPending(Exception):
    """A confirmation that cannot be applied; ``reason`` is one of ``gone``
    (expired, replaced by a newer candidate, or already decided),
    ``not_owner``, ``stale`` (the live rules changed since the comparison)
    and ``changed`` (the rule file changed since)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]  # RuleSet.digest: the version reports keep


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise RuleFileError([Problem(str(path), 0, f"cannot read the rule file: {exc.strerror or exc}")]) from None


def _load(path: Path) -> Loaded:
    """Start-up: check and compile the file at ``path`` in this process (no
    users yet, and nothing live to compare with), or read back what an earlier
    start with the same file and code checked (callguard.compiled_cache)."""
    started = time.perf_counter()
    data = _read(path)
    timings: dict[str, float] = {}
    detector = compiled_cache.load_or_build(data, lambda content: build(content, str(path), timings=timings),
                                            checked=True)
    seconds = time.perf_counter() - started
    if not timings:  # not built: read back
        timings["cached"] = seconds
    return Loaded(detector, path, time.time(), seconds, timings, data)


# --------------------------------------------------------------------------- approvals


def approval_path(path: Path) -> Path:
    return path.with_name(f"{path.name}.approved")


def approve(path: Path, data: bytes) -> Path:
    """Record beside the rule file that its next content ``data`` may go live
    even if it changes many verdicts (for reloads that cannot ask: SIGHUP,
    the file watch). Only that exact content is approved."""
    target = approval_path(path)
    target.write_text(hashlib.sha256(data).hexdigest() + "\n", encoding="ascii")
    return target


def approved(path: Path, data: bytes) -> bool:
    try:
        recorded = approval_path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return secrets.compare_digest(recorded, hashlib.sha256(data).hexdigest())


# --------------------------------------------------------------------------- the book


class RuleBook:
    """Holds the live :class:`Loaded` rule set; reloads never break it."""

    def __init__(self, loaded: Loaded, *, builder: BuildWorker | None = None):
        self._live = loaded
        self._previous: Loaded | None = None
        self._pending: Pending | None = None
        self._builder = builder
        self._lock = asyncio.Lock()  # one reload at a time

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RuleBook":
        return cls(_load(Path(path)))

    @property
    def builder(self) -> BuildWorker:
        """The worker process that checks candidates (shared by default)."""
        if self._builder is None:
            self._builder = shared_worker()
        return self._builder

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

    @property
    def pending(self) -> Pending | None:
        """The candidate waiting for a confirmation (None when there is none or it expired)."""
        if self._pending is not None and time.monotonic() > self._pending.expires:
            log.info("rules %s were not confirmed in time and are dropped", self._pending.loaded.version)
            self._drop_pending()
        return self._pending

    def _drop_pending(self) -> None:
        gone = [self._pending]
        self._pending = None
        _retire(gone)

    def _swap(self, loaded: Loaded) -> Loaded:
        gone = [self._previous, self._pending]  # the pending one was compared with rules no longer live
        self._previous, self._live, self._pending = self._live, loaded, None
        _retire(gone)
        t = loaded.timings
        detail = ", ".join(f"{k} {t[k]:.3f} s" for k in ("parse", "compile", "examples", "compare", "load", "cached") if k in t)
        log.info("rules %s live: %d rules from %s (%.3f s%s)", loaded.version, loaded.rule_count, loaded.path,
                 loaded.seconds, f": {detail}" if detail else "")
        return loaded

    async def _check(self, data: bytes, source: str) -> Checked:
        """Check ``data`` in the worker process against the live rules; raises
        RuleFileError (its problems) or BuildFailed (the check itself failed)."""
        live = self._live
        checked: Checked = await asyncio.to_thread(self.builder.check, data, source, live.data, str(live.path))
        if checked.problems:
            raise RuleFileError(list(checked.problems))
        return checked

    async def _candidate(self, checked: Checked, data: bytes, started: float) -> Loaded:
        """The checked candidate, taken into this process (not live yet)."""
        t0 = time.perf_counter()
        detector = await checked.load_on_loop()
        timings = {**checked.timings, "load": time.perf_counter() - t0}
        return Loaded(detector, self._live.path, time.time(), time.perf_counter() - started, timings, data,
                      comparison=checked.comparison, compiled=checked.blob)

    def _may_go_live(self, comparison: Comparison | None, data: bytes, force: bool) -> bool:
        """Whether a candidate may replace the live rules without a
        confirmation: its verdicts change little, or ``force``, or its exact
        content was approved (:func:`approve`)."""
        if comparison is None or not comparison.needs_confirmation:
            return True
        if force or approved(self._live.path, data):
            log.warning("rules %s change %d of %d verdicts (%d known scam(s) no longer flagged); going live as %s",
                        comparison.candidate_version, len(comparison.changes), comparison.checked,
                        comparison.missed_scams, "forced" if force else "approved")
            return True
        return False

    async def _hold(self, checked: Checked, data: bytes, started: float, *, upload: bool, name: str,
                    owner: int | None, keep: bool) -> ConfirmationNeeded:
        """The candidate kept (replacing any other) as :class:`Pending` for
        :meth:`confirm` when ``keep``; else only reported (never taken in)."""
        comparison = checked.comparison
        log.warning("rules %s %s: %d of %d verdicts would change (%d known scam(s) no longer flagged)",
                    comparison.candidate_version, "held for confirmation" if keep else "refused without a confirmation",
                    len(comparison.changes), comparison.checked, comparison.missed_scams)
        if not keep:
            return ConfirmationNeeded(comparison)
        candidate = await self._candidate(checked, data, started)
        self._drop_pending()
        self._pending = Pending(secrets.token_urlsafe(9), candidate, self._live.version, name, upload, owner,
                                time.monotonic() + PENDING_SECONDS)
        return ConfirmationNeeded(comparison, self._pending)

    async def reload(self, *, force: bool = False, owner: int | None = None, hold: bool = True) -> Loaded:
        """Re-read the rule file and check it. Raises :class:`RuleFileError`
        (problems), :class:`~callguard.rulebuild.BuildFailed` (the check
        itself failed) or :class:`ConfirmationNeeded` (kept for
        :meth:`confirm` by ``owner`` when ``hold``; a reload that cannot ask,
        such as SIGHUP, passes ``hold=False``); in each case the old rules
        keep serving. A file whose content is the live rule set's returns the
        live :class:`Loaded` unchanged (no check, no swap, the rollback
        target is kept)."""
        async with self._lock:
            live = self._live
            data = await asyncio.to_thread(_read, live.path)
            if _digest(data) == live.version:
                log.info("rules %s unchanged in %s: nothing to reload", live.version, live.path)
                return live
            started = time.perf_counter()
            checked = await self._check(data, str(live.path))
            if not self._may_go_live(checked.comparison, data, force):
                raise await self._hold(checked, data, started, upload=False, name=str(live.path), owner=owner,
                                       keep=hold)
            return self._swap(await self._candidate(checked, data, started))

    async def install(self, data: bytes, *, filename: str = "upload.yaml", force: bool = False,
                      owner: int | None = None) -> Loaded:
        """Check uploaded rule-file content like a reload; when it may go live,
        save it over the live file (atomically, with a timestamped backup of
        the old one) and serve it. Raises like :meth:`reload`."""
        async with self._lock:
            started = time.perf_counter()
            checked = await self._check(data, filename)
            if not self._may_go_live(checked.comparison, data, force):
                raise await self._hold(checked, data, started, upload=True, name=filename, owner=owner, keep=True)
            candidate = await self._candidate(checked, data, started)
            await asyncio.to_thread(save_with_backup, candidate.path, data)
            return self._swap(candidate)

    def _claim(self, token: str, owner: int | None) -> Pending:
        pending = self.pending
        if pending is None or not secrets.compare_digest(pending.token, token):
            raise NotPending("gone")
        if pending.owner is not None and pending.owner != owner:
            raise NotPending("not_owner")
        return pending

    async def confirm(self, token: str, owner: int | None) -> Loaded:
        """Apply the pending candidate named ``token`` for its ``owner``.
        Raises :class:`NotPending` (nothing changes) when it cannot be."""
        async with self._lock:
            pending = self._claim(token, owner)
            if pending.against != self._live.version:
                self._drop_pending()
                raise NotPending("stale")
            candidate = pending.loaded
            if pending.upload:
                await asyncio.to_thread(save_with_backup, candidate.path, candidate.data)
            elif _digest(await asyncio.to_thread(_read_or_none, candidate.path) or b"") != candidate.version:
                self._drop_pending()
                raise NotPending("changed")
            log.warning("rules %s confirmed by the admin who sent them: %d of %d verdicts change", candidate.version,
                        len(pending.comparison.changes), pending.comparison.checked)
            return self._swap(replace(candidate, loaded_at=time.time()))

    def drop_expired(self, token: str) -> bool:
        """Forget the candidate ``token`` if it expired; True when it did."""
        named = self._pending is not None and self._pending.token == token
        return named and self.pending is None

    def cancel(self, token: str, owner: int | None) -> tuple[str, bool]:
        """Drop the pending candidate named ``token`` (its owner only):
        its version, and whether it was an upload (else the rule file on disk
        still holds it)."""
        pending = self._claim(token, owner)
        version, upload = pending.loaded.version, pending.upload
        del pending
        self._drop_pending()
        log.info("rules %s cancelled by the admin who sent them", version)
        return version, upload

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
                backup = await asyncio.to_thread(save_with_backup, previous.path, previous.data)
            return self._swap(Loaded(previous.detector, previous.path, time.time(), 0.0, data=previous.data,
                                     backup=backup, compiled=previous.compiled))


_releasing: set[asyncio.Task] = set()  # the running releases (a task nothing references may vanish)


def _retire(gone: list) -> None:
    """Free the rule sets in ``gone`` (Loaded or Pending, None skipped) on the
    event loop, a few thousand objects per turn (:func:`callguard.handover.release_on_loop`):
    dropped at once, a big one would stall the event loop while it is freed.
    The caller must hold no other reference to them."""
    if not any(item is not None for item in gone):
        return
    box = [item for item in gone if item is not None]
    gone.clear()
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # no event loop (a script): freed right here
        return
    task = loop.create_task(handover.release_on_loop(box), name="release-rules")
    _releasing.add(task)
    task.add_done_callback(_releasing.discard)


def _read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def save_with_backup(path: Path, data: bytes) -> Path | None:
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
