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
one through one unpickler, letting go of the GIL between them. The memo
(which pickle keeps per pickler and unpickler, across ``dump``/``load``
calls) makes each object be written once and keeps shared objects shared:
the result is exactly ``pickle.loads(pickle.dumps(root))``.

:func:`release` frees a graph one object at a time: it holds on to an
object's children before dropping the object, so nothing ever frees more
than itself, and it only ever does that to objects that nothing else
references (``sys.getrefcount``), so whatever is still in use elsewhere (a
message being judged by the old rules) stays intact.
"""

from __future__ import annotations

import gc
import io
import pickle
import sys
import time
from types import MappingProxyType

__all__ = ["dumps", "loads", "release", "CHUNK_OBJECTS", "RELEASE_BATCH"]

CHUNK_OBJECTS = 10_000  # objects per pickle: ~5-10 ms to read back
RELEASE_BATCH = 5_000  # objects freed between two pauses
_CONTAINERS = (tuple, list, dict, set, frozenset, MappingProxyType)
_LEAVES = (str, bytes)
_SCALARS = (int, float, complex, bool, type(None))


def _walked(obj: object) -> bool:
    """Objects whose insides are walked: plain containers and instances of
    callguard's own classes (never types, modules or functions)."""
    kind = type(obj)
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
    before parents, each once."""
    out: list[object] = []
    seen: set[int] = set()
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        obj, expanded = stack.pop()
        if expanded:
            out.append(obj)
            continue
        if id(obj) in seen or isinstance(obj, _SCALARS):
            continue
        seen.add(id(obj))
        if isinstance(obj, _LEAVES):
            out.append(obj)
            continue
        stack.append((obj, True))
        stack.extend((child, False) for child in _children(obj) if id(child) not in seen)
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


def loads(data: bytes) -> object:
    """What :func:`dumps` wrote. Between two pickles the GIL is released
    (``time.sleep(0)``), so the event loop of another thread runs; call it in
    a thread.

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
            time.sleep(0)
        del unpickler  # its memo: a reference to every object read
        gc.freeze()
        return result
    finally:
        if collecting:
            gc.enable()


def release(box: list, *, batch: int = RELEASE_BATCH) -> None:
    """Free what ``box`` holds (its only item, taken out) one object at a
    time, pausing every ``batch`` objects; call it in a thread."""
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
            time.sleep(0)
