"""Taking a big object graph into the bot's process, and letting go of one, in small steps.

A compiled rule set of the largest allowed file is millions of Python
objects. Two moments would touch all of them in one C call that holds the
GIL, stalling every user of the bot for hundreds of milliseconds:

* **unpickling** the candidate that the worker process compiled
  (``pickle.loads`` never lets go of the GIL): measured 0.42-0.9 s for a
  1,000-rule file, with stalls of the event loop up to 0.5 s;
* **freeing** a rule set that is no longer needed: the last reference going
  away frees the whole graph in one cascade (0.15 s).

So :func:`dumps` writes the graph as a sequence of small pickles through one
pickler, children before parents, and :func:`loads` reads them back one by
one through one unpickler, pausing between them. The memo
(which pickle keeps per pickler and unpickler, across ``dump``/``load``
calls) makes each object be written once and keeps shared objects shared:
the result is exactly ``pickle.loads(pickle.dumps(root))``.

:func:`release` frees a graph one object at a time: it holds on to an
object's children before dropping the object, so nothing ever frees more
than itself, and it only ever does that to objects that nothing else
references (``sys.getrefcount``), so whatever is still in use elsewhere (a
message being judged by the old rules) stays intact.

In the bot's process both run **on the event loop** (:func:`loads_on_loop`,
:func:`release_on_loop`), not in a thread, and take at most half of its time
(:data:`LOOP_SHARE`). A thread that holds the GIL for a step of a few
milliseconds at a time convoys the event loop: each of the loop's many
GIL-releasing calls per reply (socket, database, ``select``) waits for the
thread's current step and a switch interval. A 300-rule reload pushed users'
p99 from 35 ms to 110-150 ms that way, and still to 60-115 ms with one step
per turn of the loop. With half of the loop's time it stays at 12-17 ms, even
with another process hogging a core; reading takes 0.3 s instead of 0.15 s.
:func:`loads` and :func:`release` are the same steps for a thread or a
process without an event loop.
"""

from __future__ import annotations

import asyncio
import gc
import io
import pickle
import sys
import time
from types import MappingProxyType
from typing import Generator

__all__ = ["dumps", "loads", "loads_on_loop", "release", "release_on_loop", "CHUNK_OBJECTS", "RELEASE_BATCH"]

CHUNK_OBJECTS = 10_000  # objects per pickle: ~5-10 ms to read back
RELEASE_BATCH = 5_000  # objects freed between two pauses
LOOP_SHARE = 0.5  # of the event loop's time that reading or freeing a rule set may take
_CONTAINERS = (tuple, list, dict, set, frozenset, MappingProxyType)
_LEAVES = (str, bytes)
_SCALARS = (int, float, complex, bool, type(None))
_SCALAR_TYPES = frozenset(_SCALARS)
_LEAF_TYPES = frozenset(_LEAVES)


def _walked(obj: object) -> bool:
    """Objects whose insides are walked: plain containers and instances of
    callguard's own classes (never types, modules or functions)."""
    return _walked_type(type(obj))


def _walked_type(kind: type) -> bool:
    return kind in _CONTAINERS or (kind.__module__ or "").startswith("callguard")


def _children(obj: object) -> list[object]:
    """What pickling ``obj`` writes besides itself. For a callguard object or a
    container: what it references. For another library's object (the phrase
    automaton): the parts of its ``__reduce_ex__`` (the automaton's payloads),
    so that they too are written in small steps before it."""
    if _walked(obj):
        return [child for child in gc.get_referents(obj) if not isinstance(child, type)]
    try:
        reduced = obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
    except Exception:  # not picklable: pickle itself will say so
        return []
    if not isinstance(reduced, tuple):
        return []
    # The reduce value is made anew by each call: only what its parts (and
    # their items) hold is shared with the final dump, not the parts, and not
    # bytes (its raw state, written once with it).
    out: list[object] = []
    for part in reduced[1:]:
        for item in (part if isinstance(part, (tuple, list)) else [part]):
            for child in (item if isinstance(item, (tuple, list)) else [item]):
                if not isinstance(child, (type, bytes, *_SCALARS)):
                    out.append(child)
    return out


def _post_order(root: object) -> list[object]:
    """Every object under ``root`` that pickle memoises (not numbers), children
    before parents, each once.

    A compiled rule set is ~600,000 such objects, most of them small tuples
    of numbers and strings, and this walk was most of :func:`dumps`' time:
    so types are compared exactly (a set lookup, where isinstance tried each
    type of a tuple), numbers are never pushed, and strings are written out
    where their parent is expanded (its own entry comes after its children's)."""
    out: list[object] = []
    seen: set[int] = set()
    stack: list[tuple[object, bool]] = [(root, False)]
    walked: dict[type, bool] = {}
    while stack:
        obj, expanded = stack.pop()
        if expanded:
            out.append(obj)
            continue
        kind = type(obj)
        if id(obj) in seen or kind in _SCALAR_TYPES or isinstance(obj, _SCALARS):
            continue
        seen.add(id(obj))
        if kind in _LEAF_TYPES or isinstance(obj, _LEAVES):
            out.append(obj)
            continue
        stack.append((obj, True))
        walk = walked.get(kind)
        if walk is None:
            walk = walked[kind] = _walked_type(kind)
        for child in gc.get_referents(obj) if walk else _children(obj):
            kind = type(child)
            if kind in _SCALAR_TYPES or id(child) in seen:
                continue
            if kind in _LEAF_TYPES:
                seen.add(id(child))
                out.append(child)
            elif not isinstance(child, type):  # a class is pickled by name, never walked
                stack.append((child, False))
    return out


def dumps(root: object, *, chunk: int = CHUNK_OBJECTS) -> bytes:
    """``root`` as a sequence of pickles that :func:`loads` reads in small
    steps; the last one is ``root`` itself."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    batch: list[object] = []
    for obj in _post_order(root):
        if not (_walked(obj) or isinstance(obj, _LEAVES)):  # another library's object: a pickle of its own
            if batch:
                pickler.dump(batch)
            pickler.dump(obj)
            batch = []
            continue
        batch.append(obj)
        if len(batch) >= chunk:
            pickler.dump(batch)  # a list of them: each written once, then remembered by the memo
            batch = []
    if batch:
        pickler.dump(batch)
    pickler.dump(root)
    return buffer.getvalue()


def _reading(data: bytes) -> Generator[None, None, object]:
    """What :func:`dumps` wrote, read one pickle per step (the generator
    returns the root).

    The cyclic garbage collector is paused meanwhile, and everything read is
    then moved out of its reach (``gc.freeze()``, as ``callguard run`` does
    for the rule set it starts with): otherwise the next collection walks the
    million new objects at once (0.6 s measured), and every later full
    collection again. What is frozen is freed by reference counting as usual
    when it is dropped; only reference cycles that happen to be garbage at
    that moment are never collected (a few objects per reload)."""
    unpickler = pickle.Unpickler(io.BytesIO(data))
    collecting = gc.isenabled()
    gc.disable()
    try:
        result = None
        while True:
            try:
                result = unpickler.load()
            except EOFError:
                break
            yield
        del unpickler  # its memo: a reference to every object read
        gc.freeze()
        return result
    finally:
        if collecting:
            gc.enable()


def _in_thread(steps: Generator[None, None, object]) -> object:
    """Run ``steps`` here, letting other threads run between two of them (``time.sleep(0)``)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        time.sleep(0)


def loads(data: bytes) -> object:
    """What :func:`dumps` wrote, letting other threads run between two pickles:
    for a thread or a process without an event loop."""
    return _in_thread(_reading(data))


async def _on_loop(steps: Generator[None, None, object], share: float) -> object:
    """Run ``steps`` on the event loop using at most ``share`` of its time:
    after a step that took ``t`` seconds the loop is left to the others for
    ``t * (1 - share) / share``. A reply needs a few dozen turns of the loop;
    with only ``sleep(0)`` between two steps (one step per turn), reading a
    300-rule set still doubled the users' p99."""
    while True:
        started = time.perf_counter()
        try:
            next(steps)
        except StopIteration as done:
            return done.value
        await asyncio.sleep((time.perf_counter() - started) * (1 - share) / share)


async def loads_on_loop(data: bytes, *, share: float = LOOP_SHARE) -> object:
    """What :func:`dumps` wrote, read on the event loop with at most ``share``
    of its time (see the module docstring for why not in a thread)."""
    return await _on_loop(_reading(data), share)


def _releasing(box: list, batch: int) -> Generator[None, None, None]:
    """Free what ``box`` holds (its only item, taken out) one object at a
    time, pausing (a step) every ``batch`` objects."""
    pending: list[object] = box[:]
    box.clear()
    done = 0
    while pending:
        obj = pending.pop()
        # 2: ``obj`` here and getrefcount's argument. Anything more is a
        # reference from elsewhere: then only our reference is dropped.
        if sys.getrefcount(obj) == 2:
            if _walked(obj):
                pending.extend(child for child in gc.get_referents(obj) if not isinstance(child, type))
            elif hasattr(obj, "values") and type(obj).__module__ == "ahocorasick":
                pending.extend(obj.values())  # the automaton's payloads outlive it, then go one by one
        del obj
        done += 1
        if done % batch == 0:
            yield


def release(box: list, *, batch: int = RELEASE_BATCH) -> None:
    """Free what ``box`` holds, letting other threads run every ``batch``
    objects: for a thread or a process without an event loop."""
    _in_thread(_releasing(box, batch))


async def release_on_loop(box: list, *, batch: int = RELEASE_BATCH, share: float = LOOP_SHARE) -> None:
    """Free what ``box`` holds on the event loop, ``batch`` objects per step,
    with at most ``share`` of the loop's time."""
    await _on_loop(_releasing(box, batch), share)
