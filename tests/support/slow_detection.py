"""An artificially expensive detector, to test and measure fairness without depending on the
matcher's speed: marked messages burn a fixed amount of CPU time, then are judged as usual.

In a worker process: ``python -m tests.support.slow_detection`` (run from the repository root,
or with it on PYTHONPATH) speaks :mod:`callguard.detection_worker`'s protocol; the cost and the
marker come from ``SLOW_DETECTION_SECONDS`` (default 0.25) and ``SLOW_DETECTION_MARKER``
(default ``#expensive``). On the event loop: wrap a detector in :class:`SlowDetector`.
"""

from __future__ import annotations

import os
import sys
import time

from callguard.detection_worker import _build, serve, setup

MARKER = "#expensive"


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this process's CPU time (not wall time: a busy machine does not shorten it)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


class SlowDetector:
    def __init__(self, detector, seconds: float = 0.25, marker: str = MARKER):
        self.detector = detector
        self.seconds = seconds
        self.marker = marker

    def check(self, text: str):
        if self.marker in text:
            burn(self.seconds)
        return self.detector.check(text)

    def __getattr__(self, name: str):
        return getattr(self.detector, name)


def main() -> None:
    seconds = float(os.environ.get("SLOW_DETECTION_SECONDS", "0.25"))
    marker = os.environ.get("SLOW_DETECTION_MARKER", MARKER)
    channel, nice, model = setup(sys.argv[1:])
    serve(sys.stdin.buffer, channel, build=lambda data, source: SlowDetector(_build(data, source), seconds, marker),
          nice=nice, model=model)


if __name__ == "__main__":
    main()
