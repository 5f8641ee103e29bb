"""Judge a batch's lines in several processes, output in input order.

A batch of 18,000 texts took about 40 s on one core: judging is pure Python
(the GIL allows one line at a time per process), and each line is judged on
its own, so the cores of the machine are the cheapest speed there is. The
rules are compiled once, in the parent; the workers are forked from it and
share that memory copy-on-write (``gc.freeze`` first, so that the collector
does not write to every shared object and copy it), so a worker starts in
milliseconds and costs no compilation.

Lines are handed out in blocks of a bounded size, so a stream of a million
lines never sits in memory at once, and each block's results are written
before the next is read, in order. Where processes cannot be forked (no
``fork`` start method: Windows, some macOS set-ups), or for a small batch,
lines are judged in this process, one after another, with the same results.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

__all__ = ["default_jobs", "judged_in_order"]

Judge = Callable[[int, str], "tuple[str, bool] | None"]  # (line number, line) -> (output, is an error) or None
BLOCK_PER_JOB = 512  # lines read ahead per worker: bounds memory, keeps every worker busy
CHUNK = 32  # lines sent to a worker at once: fewer round trips, still even shares
SMALL = 400  # below this many lines, starting workers costs more than it saves

_judge: Judge | None = None  # set in the parent before forking; the workers inherit it


def default_jobs() -> int:
    """The cores this process may run on, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _run(item: tuple[int, str]):
    return _judge(*item)


def judged_in_order(judge: Judge, lines: Iterable[str], jobs: int) -> Iterator[tuple[str, bool]]:
    """``judge(number, line)`` for each line (numbered from 1), in order,
    skipping the lines it returns None for; in ``jobs`` processes when that helps."""
    numbered = enumerate(lines, 1)
    first = list(islice(numbered, max(SMALL, BLOCK_PER_JOB * jobs)))
    forkable = "fork" in multiprocessing.get_all_start_methods()
    if jobs <= 1 or len(first) < SMALL or not forkable:
        for number, line in first:
            if (result := judge(number, line)) is not None:
                yield result
        for number, line in numbered:
            if (result := judge(number, line)) is not None:
                yield result
        return
    global _judge
    _judge = judge
    gc.freeze()  # the compiled rules stay shared with the workers instead of being copied
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            block = first
            while block:
                for result in pool.imap(_run, block, chunksize=CHUNK):
                    if result is not None:
                        yield result
                block = list(islice(numbered, BLOCK_PER_JOB * jobs))
    finally:
        _judge = None
        gc.unfreeze()
