"""Building a rule set: lint, compile and run the rules' own examples, in one place.

Every path that puts rules into service goes through :func:`build`: start-up,
``/reload``, an admin's upload, SIGHUP, the file watcher, and ``callguard
rules test``. A file is used only when it parses without errors *and* every
embedded example holds (:mod:`.examples`); otherwise :class:`RuleFileError`
lists every problem as ``file:line: message`` and the caller keeps what it
had.

A candidate that would replace live rules is also judged on texts it did not
write (:func:`check_candidate`, :mod:`.compare`). Where that runs (a worker
process, so users never wait) is the caller's business
(:mod:`callguard.rulebuild`); what is checked is decided here.
"""

from __future__ import annotations

import gc
import time
from typing import Callable, Sequence

from .compare import Comparison, Judge, Probe, compare, example_probes
from .examples import run_examples
from .load import check_bytes
from .schema import Problem, RuleFileError
from .verdict import Detector, Verdict

__all__ = ["build", "check_candidate"]


def build(data: bytes | str, source: str = "<rules>", *,
          previous: Detector | Callable[[], Detector | None] | None = None,
          timings: dict[str, float] | None = None, verdicts: dict[str, Verdict] | None = None) -> Detector:
    """The detector for rule-file content ``data``, or :class:`RuleFileError`.

    ``previous``: the detector being replaced; its compiled rules are reused
    where unchanged (same verdicts, see ``Matcher``). It may be a function
    returning one, called only once the file has parsed without errors (so
    a refused file never costs what fetching it does). ``timings`` (if given)
    receives seconds for ``parse``, ``compile`` and ``examples`` and the
    count ``examples_total``; ``verdicts`` (if given) the verdict on every
    example text."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    # Parsing and compiling create many small containers and no cyclic
    # garbage: the cyclic collector would walk the growing heap again and
    # again (2-3x the time). Reference counting still frees everything.
    collecting = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        ruleset, problems = check_bytes(data, source)
        if ruleset is None:
            raise RuleFileError(problems)
        t1 = time.perf_counter()
        detector = Detector(ruleset, previous() if callable(previous) else previous)
        t2 = time.perf_counter()
        failures = run_examples(detector, verdicts)
        t3 = time.perf_counter()
    finally:
        if collecting:
            gc.enable()
    if timings is not None:
        timings.update(parse=t1 - t0, compile=t2 - t1, examples=t3 - t2,
                       examples_total=sum(len(r.examples_match) + len(r.examples_no_match) for r in ruleset.rules))
    if failures:
        raise RuleFileError([Problem(source, f.line, str(f)) for f in failures])
    return detector


def check_candidate(data: bytes | str, source: str, *, live: Detector | Callable[[], Detector | None] | None,
                    regression: Sequence[Probe] = (),
                    previous: Detector | Callable[[], Detector | None] | None = None,
                    live_judge: Callable[[Detector], Judge] | None = None,
                    timings: dict[str, float] | None = None) -> tuple[Detector, Comparison | None]:
    """Everything a reload checks before a swap: :func:`build` (lint, compile,
    the file's own examples; raises :class:`RuleFileError`), then the
    candidate's verdicts against ``live``'s on the live rules' examples and
    ``regression`` (:func:`.compare.compare`). The comparison is None when
    there are no live rules.

    ``live`` may be a function returning the live detector: it is called only
    for a candidate that passes, so a refused file costs no more than its own
    check. ``previous``: a detector whose compiled rules may be reused.
    ``live_judge(live)`` judges for ``live`` (e.g. remembering its verdicts
    across checks). ``timings`` also receives ``compare``."""
    known: dict[str, Verdict] = {}
    candidate = build(data, source, previous=previous, timings=timings, verdicts=known)
    t0 = time.perf_counter()
    if callable(live):
        live = live()
    if live is None:
        return candidate, None
    probes = example_probes(live.ruleset) + list(regression)
    judge = live_judge(live) if live_judge is not None else live
    comparison = compare(judge, _Remembered(candidate, known), probes, live_version=live.version,
                         candidate_version=candidate.version)
    if timings is not None:
        timings["compare"] = time.perf_counter() - t0
    return candidate, comparison


class _Remembered:
    """The candidate's judge in a comparison: the verdicts it already gave on
    its own examples (a reload usually keeps the live examples, so ~1,100
    texts of the shipped file are not judged twice), ``check`` for the rest.
    ``check`` is ``explain().verdict`` (see :class:`Detector`), so the
    answers are the same."""

    def __init__(self, detector: Detector, known: dict[str, Verdict]):
        self._detector = detector
        self._known = known

    def check(self, text: str) -> Verdict:
        verdict = self._known.get(text)
        return verdict if verdict is not None else self._detector.check(text)
