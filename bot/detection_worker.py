"""A detection worker process: ``python -m callguard.detection_worker``.

Started by :class:`callguard.detection_pool.DetectionPool`; reads requests on
stdin and writes answers on stdout, one at a time, each a frame: a 4-byte
big-endian length, then a pickle. (Both ends are this program; pickle is
fine between a process and the child it started.)

Requests and answers::

    ("rules", version, data, source, compiled)
                                      ->  ("ready", version, seconds, how)  take a rule set: read the file
                                          ``compiled`` (the rule builder's candidate, pickled by
                                          callguard.handover) when given, else (or when it cannot be
                                          read) build it from the rule file's bytes (already
                                          validated); ``how`` says which ("compiled" or "built")
    ("check", version, text, region)  ->  ("verdict", verdict, numbers, cpu_seconds)
                                          the verdict and the phone numbers in the text (both are
                                          CPU work on what the user wrote: see detection_pool.judge)
    any failure                       ->  ("error", "ExceptionType: message")

Reading the compiled candidate costs about a tenth of building it again
(0.5 s against 10-35 s of CPU for 1,000 rules): after a reload the workers no
longer compete with the users' event loop for the CPU for half a minute.

The two most recent rule sets are kept, so messages still being judged by
the previous one after a reload find it here. End of stdin (the bot stopped,
or died) ends the worker. ``--nice N`` lowers its CPU priority (the pool
starts the workers that judge expensive messages so) once it holds its
first rule set: the start (imports, building the rules from the file) runs
at the usual priority. Niced from the start, on a machine whose two cores
were busy, that worker took its rules after tens of seconds, and a long
message (one for that worker only) waited as long.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import time
from pathlib import Path
from typing import BinaryIO, Callable

__all__ = ["main", "serve", "setup", "read_frame", "write_frame"]

KEEP_VERSIONS = 2
_LENGTH = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> object | None:
    """The next message, or None at end of input."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(head)
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def write_frame(stream: BinaryIO, message: object) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def judge(detector, text: str, region: str | tuple[str, ...], model=None) -> tuple[object, tuple[str, ...]]:
    """The verdict on ``text`` and the phone numbers in it (E.164; none looked for without a
    ``region``): all the CPU work on a message. ``model``: the learned second opinion
    (callguard.detect.model), which may raise the rules' verdict; None for the rules alone."""
    from .detect.model import second_opinion
    from .numbers import extract_numbers

    verdict = detector.check(text)
    if model is not None:
        verdict = second_opinion(verdict, text, model)
    return verdict, (extract_numbers(text, region) if region else ())


def _build(data: bytes, source: str):
    """The detector for rule-file content ``data``, through the compiled-rules cache
    (callguard.compiled_cache): a worker taking the rules the bot starts with reads back
    what the bot stored at its start (~0.4 s) where building them costs ~3.5 s of CPU,
    each worker, each start."""
    from .compiled_cache import load_or_build
    from .detect import Detector, parse_rules

    return load_or_build(data, lambda content: Detector(parse_rules(content, source)))


def _read_compiled(path: str, version: str):
    """The rule builder's compiled candidate from the file at ``path``, or None when it cannot
    be used (missing, unreadable, another version): the caller builds from the bytes instead."""
    from .handover import loads

    try:
        detector = loads(Path(path).read_bytes())
    except Exception as exc:  # a file that is gone or damaged only costs the build it would have saved
        print(f"detection worker: cannot read the compiled rules {path} ({type(exc).__name__}: {exc}); "
              "building them from the rule file", file=sys.stderr)
        return None
    return detector if getattr(detector, "version", None) == version else None


def serve(stdin: BinaryIO, stdout: BinaryIO, build: Callable[[bytes, str], object] = _build, *,
          nice: int = 0, model=None) -> None:
    """Answer requests until stdin ends. ``build(data, source)`` makes a detector (an
    object with ``check(text)``); tests pass one that is artificially slow. ``nice``: lower
    the CPU priority by this much once the first rule set is taken (see the module docstring).
    ``model``: the learned second opinion every verdict is given to (``judge``), or None."""
    detectors: dict[str, object] = {}  # version -> detector, oldest first
    while True:
        request = read_frame(stdin)
        if request is None:
            return
        try:
            kind = request[0]
            if kind == "rules":
                _, version, data, source, compiled = request
                started = time.perf_counter()
                detectors.pop(version, None)
                detector = _read_compiled(compiled, version) if compiled else None
                how = "compiled" if detector is not None else "built"
                detectors[version] = detector if detector is not None else build(data, source)
                while len(detectors) > KEEP_VERSIONS:
                    del detectors[next(iter(detectors))]
                if len(detectors) == 1:  # the first rule set: ready means ready to answer quickly
                    from .detect.chinese_words import load_dictionary

                    load_dictionary()
                answer = ("ready", version, time.perf_counter() - started, how)
                if nice:
                    os.nice(nice)
                    nice = 0
            elif kind == "check":
                _, version, text, region = request
                started = time.process_time()
                verdict, numbers = judge(detectors[version], text, region, model)
                answer = ("verdict", verdict, numbers, time.process_time() - started)
            else:
                answer = ("error", f"unknown request {kind!r}")
        except Exception as exc:  # reported to the bot, which fails that one message
            answer = ("error", f"{type(exc).__name__}: {exc}"[:500])
        try:
            write_frame(stdout, answer)
        except BrokenPipeError:  # the bot is gone (killed, or stopped while this was judged)
            return


def setup(argv: list[str]) -> tuple[BinaryIO, int, object]:
    """Take stdout as the channel to the bot, so nothing printed by accident can corrupt it;
    and read the command line for ``serve``: the niceness to take once serving (``--nice N``)
    and the model file to ask for a second opinion (``--model FILE``; the bot checked it
    before starting the worker, so a failure here ends the worker, and the pool reports it)."""
    nice = int(argv[argv.index("--nice") + 1]) if "--nice" in argv else 0
    model = None
    if "--model" in argv:
        from .detect.model import Model

        model = Model.load(argv[argv.index("--model") + 1])
    channel = sys.stdout.buffer
    sys.stdout = sys.stderr
    return channel, nice, model


def main() -> None:
    channel, nice, model = setup(sys.argv[1:])
    serve(sys.stdin.buffer, channel, nice=nice, model=model)


if __name__ == "__main__":
    main()
