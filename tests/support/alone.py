"""The `alone` marker: a test that runs while the other test process waits.

An autouse fixture, kept in its own module so that tests/test_alone.py can run it
in a pytest of its own.
"""

from __future__ import annotations

import fcntl
import os

import pytest


@pytest.fixture(autouse=True)
def machine_to_itself(request, tmp_path_factory):
    """Tests marked `alone` run with the machine to themselves, the others share it.

    The suite runs on two processes (pytest-xdist), and a latency test beside any
    other test measures that test's load: the reload-latency test skipped as "machine
    too busy" in most runs. Every test holds a shared lock on one file while it runs;
    an `alone` test takes it exclusively, so it starts when the other process's
    current test ends, and that process starts nothing new meanwhile. A second file,
    taken first, is the `alone` test's place in the queue: flock does not queue, and
    back-to-back tests holding the shared lock would otherwise keep it out for good.
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nothing to share
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # one folder for all workers of this run
    alone = request.node.get_closest_marker("alone") is not None
    with open(folder / "machine.queue", "a+b") as queue, open(folder / "machine.lock", "a+b") as lock:
        fcntl.flock(queue, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:  # in the queue only to let a waiting `alone` test go first
            fcntl.flock(queue, fcntl.LOCK_UN)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(queue, fcntl.LOCK_UN)
