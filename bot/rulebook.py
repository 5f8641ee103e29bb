"""The live rule set: validated in full before use, swapped atomically.

A reload must never leave the bot matching against half-loaded or broken
rules. So a candidate file is parsed, linted and has every rule's embedded
examples run *before* it replaces the live one, and the replacement is one
attribute assignment: a message is judged entirely by the old set or entirely
by the new one. The previous set is kept for ``rollback``.

A reload is incremental where that is exact, so editing a few rules of a big
file costs far less than loading it:

* parsing reuses the live rule set's parsed rule entries whose text did not
  change (``parse_rules(..., previous=)``; same result and errors as a full
  parse, see bot/detect/rules.py);
* compiling reuses the live matcher for the rules whose phrases did not
  change (``Detector(ruleset, previous)``; same verdicts, see
  bot/detect/matcher.py);
* running the examples (every example is judged by the whole rule set) is
  limited to the examples whose outcome can have changed: those of added
  rules and of rules whose scoring changed, new examples of other rules, and
  examples of unchanged rules that an added, changed or removed rule matches
  at all (see :func:`_examples_to_run`). The outcome is exactly the full
  run's; the full run is used whenever that cannot be shown cheaply.
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
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from .detect import Detector, Problem, RuleFileError, parse_rules
from .detect.examples import run_examples
from .detect.matcher import Matcher
from .detect.normalize import normalize
from .detect.rules import Rule, RuleSet

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


# Detectors whose every example passed (in full or incrementally): the only
# ones an incremental validation may start from.
_VALIDATED: "weakref.WeakSet[Detector]" = weakref.WeakSet()

# Above this share of added/edited/removed rules, checking which examples they
# touch costs more than it saves: run every example.
INCREMENTAL_MAX_CHANGED = 0.5


def validate(data: bytes, source: str, *, previous: Detector | None = None,
             timings: dict[str, float] | None = None) -> Detector:
    """Parse, lint, compile and run the embedded examples; raise
    :class:`RuleFileError` with ``file:line`` problems if anything fails.

    ``previous``: the rule set being replaced. Its parsed rule entries and
    compiled rules are reused where unchanged, and if it passed validation,
    only the examples whose outcome the differences can change are run (same
    result as running them all). ``timings`` (if given) receives seconds for
    ``parse``, ``compile``, ``examples`` and the counts ``examples_run`` /
    ``examples_total``.
    """
    with _building():
        t0 = time.perf_counter()
        ruleset = parse_rules(data, source, previous=previous.ruleset if previous is not None else None)
        t1 = time.perf_counter()
        detector = Detector(ruleset, previous)  # unchanged rules are not compiled again (bot/detect/matcher.py)
        t2 = time.perf_counter()
        subset = _examples_to_run(ruleset, previous) if previous is not None else None
        if subset is None:
            failures = run_examples(detector)
            run = _example_count(ruleset.rules)
        else:
            failures = run_examples(_Only(detector, subset))
            run = _example_count(subset)
        t3 = time.perf_counter()
    if timings is not None:
        timings.update(parse=t1 - t0, compile=t2 - t1, examples=t3 - t2, examples_run=run,
                       examples_total=_example_count(ruleset.rules))
    if failures:
        raise RuleFileError([Problem(source, f.line, str(f)) for f in failures])
    _VALIDATED.add(detector)
    return detector


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


def _example_count(rules) -> int:
    return sum(len(r.examples_match) + len(r.examples_no_match) for r in rules)


class _Only:
    """The detector, but with ``ruleset.rules`` narrowed to the rules (and
    examples) to check, for :func:`run_examples`: examples are judged by the
    whole rule set, only the list being walked is shorter."""

    def __init__(self, detector: Detector, rules: tuple[Rule, ...]):
        self._detector = detector
        self.ruleset = replace(detector.ruleset, rules=rules)

    def __getattr__(self, name: str):
        return getattr(self._detector, name)


def _same_scoring(a: Rule, b: Rule) -> bool:
    """Equal in everything the matcher and the verdict read: a rule's score
    for any text, and what its winning verdict says (title, advice, examples
    and line play no part). Rules parsed from an unchanged entry share these
    objects, so the comparison is mostly identity checks."""
    return a.id == b.id and a.category == b.category and a.groups == b.groups and a.requires == b.requires


def _examples_to_run(new: RuleSet, previous: Detector) -> tuple[Rule, ...] | None:
    """The rules (with only the examples) whose outcome may differ from the
    previous, validated, rule set's; None when every example must run.

    Why this is exact: a rule's score for a text depends only on that rule's
    phrases, weights and ``requires`` and the text (every phrase is found on
    its own, exactly or fuzzily), and the verdict depends on the scores of the
    rules that match the text at all, the order of rules with equal scores,
    their categories, the thresholds and which categories are scams. An
    example's outcome depends on that verdict and its own rule's score. So
    when the thresholds and scam flags are the same and the rules whose
    scoring is unchanged keep their relative order, an example that its rule
    already had in the previous set (as the same kind) and that no added,
    changed or removed rule matches at all gets the same verdict and score as
    before, and it passed before. Every other example runs: all those of
    added rules and of rules whose scoring changed, and the new ones of the
    others. (An example of rule A can be decided by rule B's score, since the
    best rule names the category: that is why the changed rules are matched
    against every example, not only against their own.)
    """
    old = previous.ruleset
    if previous not in _VALIDATED or new.thresholds != old.thresholds:
        return None
    if {c: v.scam for c, v in new.categories.items()} != {c: v.scam for c, v in old.categories.items()}:
        return None
    old_by_id = {r.id: r for r in old.rules}
    same = {r.id for r in new.rules if r.id in old_by_id and _same_scoring(r, old_by_id[r.id])}
    if [r.id for r in new.rules if r.id in same] != [r.id for r in old.rules if r.id in same]:
        return None  # reordered: ties between equal scores could now go the other way
    changed = [r for r in new.rules if r.id not in same] + [r for r in old.rules if r.id not in same]
    if len(changed) > INCREMENTAL_MAX_CHANGED * max(1, len(new.rules)):
        return None
    delta = Matcher(replace(new, rules=tuple(changed))) if changed else None

    def must_run(text: str, before: tuple[str, ...]) -> bool:
        return text not in before or (delta is not None and bool(delta.scan(normalize(text))))

    out = []
    for rule in new.rules:
        if rule.id not in same:
            out.append(rule)
            continue
        before = old_by_id[rule.id]
        match = tuple(t for t in rule.examples_match if must_run(t, before.examples_match))
        no_match = tuple(t for t in rule.examples_no_match if must_run(t, before.examples_no_match))
        if match or no_match:
            out.append(replace(rule, examples_match=match, examples_no_match=no_match))
    return tuple(out)


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
                  f"({t['examples_run']:.0f} of {t['examples_total']:.0f} run)") if t else ""
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
