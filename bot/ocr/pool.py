"""Read pictures in worker processes, never on the bot's event loop.

OCR takes one to a few seconds of CPU per screenshot. Done in the bot's process
it would stall every other user for that long, so it runs in a small pool of
worker processes (pebble's ``ProcessPool``: it kills and replaces a worker whose
task runs past its timeout or that dies, which the standard library's pool
cannot do). The workers run at a lower CPU priority (nice 10) with one thread
each, so with the default single worker the bot keeps the other core and wins
the CPU whenever both want it.

Bounds, so pictures never block text users:

* at most ``max_waiting`` pictures are queued or being read at once; the next
  one is refused at once (:class:`OcrBusy`) instead of waiting for minutes;
* each picture gets ``timeout`` seconds of reading; past that the worker is
  killed and replaced (:class:`OcrTimeout`);
* each worker is replaced after ``max_tasks`` pictures, so memory that the
  engine might leak stays bounded.

Workers are started with "spawn": the bot's process has threads (PTB, SQLite),
and forking a process with threads can deadlock the child.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time

from .image import ImageRejected
from .text import ImageText

__all__ = ["OcrPool", "OcrError", "OcrBusy", "OcrTimeout", "OcrFailed"]

log = logging.getLogger(__name__)

RESTART_EVERY = 60.0  # seconds between attempts to replace a pool whose workers cannot start


class OcrError(Exception):
    """Reading a picture did not work out; the subclass says how."""


class OcrBusy(OcrError):
    """Too many pictures are waiting already."""


class OcrTimeout(OcrError):
    """The picture took longer than the timeout; its worker was replaced."""


class OcrFailed(OcrError):
    """The worker died (or the engine failed) while reading the picture."""


class OcrPool:
    def __init__(self, workers: int = 1, *, timeout: float = 30.0, max_waiting: int = 8, max_tasks: int = 200,
                 nice: int = 10):
        from . import engine

        self.workers = workers
        self.timeout = timeout
        self.max_waiting = max_waiting
        self._engine = engine
        self._options = dict(max_workers=workers, max_tasks=max_tasks, initializer=engine.init_worker,
                             initargs=(nice,), context=multiprocessing.get_context("spawn"))
        self._pool = self._new_pool()
        self._broken_at: float | None = None
        self._waiting = 0
        self._closed = False

    def _new_pool(self):
        from pebble import ProcessPool

        return ProcessPool(**self._options)

    def _schedule(self, function, args: tuple, timeout: float):
        """Hand the task to the pool. A pool whose workers all failed to start is
        broken for good (pebble refuses every task): replace it, at most once a minute."""
        try:
            return self._pool.schedule(function, args=args, timeout=timeout)
        except RuntimeError as exc:
            now = time.monotonic()
            if self._broken_at is None or now - self._broken_at >= RESTART_EVERY:
                log.error("the OCR pool is broken (%s); starting a new one", exc)
                self._broken_at = now
                self._pool.stop()
                self._pool = self._new_pool()
                return self._pool.schedule(function, args=args, timeout=timeout)
            raise OcrFailed(f"the OCR workers cannot start: {exc}") from None

    @property
    def waiting(self) -> int:
        """Pictures queued or being read right now."""
        return self._waiting

    async def read(self, data: bytes) -> ImageText:
        """The text in the picture ``data``.

        Raises :class:`~callguard.ocr.image.ImageRejected` for a picture out of
        bounds or undecodable, :class:`OcrBusy`, :class:`OcrTimeout` or
        :class:`OcrFailed`. Cancelling the caller cancels the task (and stops
        its worker if it had started)."""
        return await self._run(self._engine.read_image, data)

    async def warm_up(self) -> None:
        """Start the workers and load the models now, so the first picture does not wait for it."""
        try:
            await self._run(self._engine.warm_up, timeout=120.0)
        except OcrError as exc:
            log.warning("the OCR workers did not start: %s", exc)

    async def _run(self, function, *args, timeout: float | None = None):
        if self._closed:
            raise OcrFailed("the OCR pool is closed")
        if self._waiting >= self.max_waiting:
            raise OcrBusy(f"{self._waiting} pictures are waiting already")
        self._waiting += 1
        try:
            future = self._schedule(function, args, timeout or self.timeout)
            try:
                return await asyncio.wrap_future(future)
            except ImageRejected:
                raise
            except TimeoutError:  # concurrent.futures.TimeoutError is this one since Python 3.11
                raise OcrTimeout(f"no result within {timeout or self.timeout:g} s") from None
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # our caller was cancelled (wrap_future has cancelled the task too)
                raise OcrFailed("the OCR pool was closed") from None
            except Exception as exc:  # pebble's ProcessExpired (the worker died), or the engine failed
                log.warning("OCR failed: %s: %s", type(exc).__name__, exc)
                raise OcrFailed(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._waiting -= 1

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (a picture being read is abandoned)."""
        if self._closed:
            return
        self._closed = True
        self._pool.stop()
        self._pool.join(timeout)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
