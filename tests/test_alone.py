"""The `alone` marker (tests/support/alone.py): while a marked test runs, the other
test process runs nothing. Checked in a pytest of its own on two processes, with
each test writing down when it ran."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CONFTEST = """
from tests.support.alone import machine_to_itself  # noqa: F401
"""

TESTS = """
import json, os, time
import pytest

def _ran(name, seconds):
    start = time.monotonic()
    time.sleep(seconds)
    with open(os.environ["RAN_LOG"], "a") as log:
        log.write(json.dumps([name, start, time.monotonic()]) + "\\n")

@pytest.mark.alone
def test_alone():
    _ran("alone", 1.0)

@pytest.mark.parametrize("n", range(12))
def test_shared(n):
    _ran(f"shared{n}", 0.25)
"""


def test_no_other_test_runs_beside_an_alone_test(tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(TESTS))
    log = tmp_path / "ran.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
         "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "RAN_LOG": str(log), "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout + run.stderr
    ran = {name: (start, end) for name, start, end in map(json.loads, log.read_text().splitlines())}
    assert len(ran) == 13
    start, end = ran.pop("alone")
    beside = sorted(name for name, (s, e) in ran.items() if s < end and e > start)
    assert beside == [], f"ran beside the alone test: {beside}"
