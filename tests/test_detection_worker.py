"""The detection worker process: it takes its first rule set at the usual CPU priority and only
then lowers it (``--nice``), so a worker for expensive messages is ready as soon as the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.detection_worker import read_frame, write_frame

RULES = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"


def niceness(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[16])  # field 19 of proc(5), counted after the name


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="no /proc to read a process's niceness from")
def test_the_worker_lowers_its_priority_once_it_holds_its_first_rules():
    proc = subprocess.Popen([sys.executable, "-m", "callguard.detection_worker", "--nice", "5"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        write_frame(proc.stdin, ("hello",))  # answered once the worker serves (after its start-up)
        assert read_frame(proc.stdout)[0] == "error"
        before = niceness(proc.pid)
        write_frame(proc.stdin, ("rules", "v1", RULES.read_bytes(), str(RULES), None))
        assert read_frame(proc.stdout)[:2] == ("ready", "v1")
        after_rules = niceness(proc.pid)
        write_frame(proc.stdin, ("rules", "v2", RULES.read_bytes(), str(RULES), None))  # a reload: no further step
        assert read_frame(proc.stdout)[:2] == ("ready", "v2")
        write_frame(proc.stdin, ("check", "v2", "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户", ""))
        answer = read_frame(proc.stdout)
        assert answer[0] == "verdict" and answer[1].scam
        ours = os.nice(0)  # the worker starts at the priority it inherits
        assert (before, after_rules, niceness(proc.pid)) == (ours, ours + 5, ours + 5)
    finally:
        proc.stdin.close()  # end of input ends the worker
        returncode = proc.wait(timeout=20)
    assert returncode == 0


def test_workers_keep_the_rules_they_build_in_the_compiled_rules_cache(tmp_path):
    """The rules the bot starts with are built by the first worker and read back by the next
    (callguard.compiled_cache), with the same verdicts."""
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    env = {**os.environ, "CALLGUARD_CACHE_DIR": str(cache)}
    text = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"
    answers, stamps = [], []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "callguard.detection_worker"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            write_frame(proc.stdin, ("rules", "v1", RULES.read_bytes(), str(RULES), None))
            assert read_frame(proc.stdout)[:2] == ("ready", "v1")
            write_frame(proc.stdin, ("check", "v1", text, ""))
            answers.append(read_frame(proc.stdout))
        finally:
            proc.stdin.close()
            assert proc.wait(timeout=20) == 0
        [stored] = cache.glob("detector-*.pickle")
        stamps.append((stored.stat().st_ino, stored.stat().st_mtime_ns))
    assert stamps[0] == stamps[1]  # the second worker read the file; building again would have replaced it
    first, second = answers
    assert first[0] == second[0] == "verdict" and first[1] == second[1] and first[1].scam
