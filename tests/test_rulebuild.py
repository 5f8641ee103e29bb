"""The rule builder process and the handover of its result (issue 12, item 2).

A candidate is checked in a worker process and handed back in small pickles;
a worker that crashes, hangs or runs out of memory must leave the live rules
serving and say what happened.
"""

from __future__ import annotations

import asyncio
import gc
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest
import yaml

from callguard import handover
from callguard.detect import Detector, build, lint_text, parse_rules
from callguard.detect.load import MAX_PATTERNS
from callguard.detect.compare import Probe
from callguard.rulebook import RuleBook
from callguard.rulebuild import BuildFailed, BuildWorker, shipped_regression
from tests.admin_support import SHIPPED_RULES, copy_rules, flow_rules, good_variant, schema_error
from tests.support.env import clean_env


@pytest.fixture(scope="module")
def worker():
    w = BuildWorker()
    yield w
    w.close()


@pytest.fixture(scope="module")
def live_data() -> bytes:
    return flow_rules().read_bytes()


def test_the_candidate_comes_back_with_the_same_verdicts(worker, live_data):
    data = good_variant("worker").encode()
    checked = worker.check(data, "candidate.yaml", live_data, "live.yaml")
    assert checked.problems == () and checked.comparison.changes == ()
    assert checked.timings["pickle_mb"] > 0.1
    candidate = checked.load()
    here = build(data, "candidate.yaml")
    assert candidate.version == here.version
    for probe in shipped_regression():
        assert candidate.check(probe.text) == here.check(probe.text), probe.source
    assert worker.pid is not None and worker.pid != os.getpid()


def test_a_fresh_worker_compiles_only_the_changed_rules_when_the_live_ones_are_cached(tmp_path, monkeypatch,
                                                                                     live_data):
    """The bot stores the rules it loads in the compiled-rules cache; the worker's first check
    reads them back and compiles only what the candidate changed (a second layer)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CALLGUARD_CACHE_DIR", str(cache))
    RuleBook.load(copy_rules(tmp_path / "live"))  # as the bot starts: checked, and stored
    doc = yaml.load(live_data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    next(g for g in doc["rules"][0]["groups"] if "weight" in g)["weight"] += 1
    data = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()
    worker = BuildWorker()
    try:
        checked = worker.check(data, "candidate.yaml", live_data, "live.yaml")
    finally:
        worker.close()
    assert checked.problems == () and checked.comparison is not None
    assert checked.load().matcher.layers == 2  # a full compile is one layer (its verdicts: the test above)


def test_a_refused_file_gets_the_problems_lint_gives(worker, live_data):
    data = schema_error().encode()
    checked = worker.check(data, "bad.yaml", live_data, "live.yaml")
    errors = [p for p in lint_text(data, "bad.yaml") if p.severity == "error"]
    assert checked.problems == tuple(errors) and checked.blob == b""


def test_a_worker_that_takes_too_long_is_killed_and_replaced(live_data):
    worker = BuildWorker()
    try:
        worker.check(b"schema: 2\n", "warm-up.yaml")  # started: the timeout counts the check alone
        first = worker.pid
        worker.timeout = 0.05
        with pytest.raises(BuildFailed, match="longer than"):
            worker.check(good_variant("slow").encode(), "slow.yaml", live_data, "live.yaml")
        assert worker.pid is None
        _wait_gone(first)
        worker.timeout = 300
        assert worker.check(good_variant("after").encode(), "after.yaml", live_data, "live.yaml").problems == ()
        assert worker.pid not in (None, first)
    finally:
        worker.close()


def test_a_worker_that_dies_mid_check_is_reported_and_replaced(live_data):
    worker = BuildWorker()
    try:
        worker.check(b"schema: 2\n", "warm-up.yaml")
        pid = worker.pid
        killer = threading.Timer(0.2, os.kill, (pid, signal.SIGKILL))
        killer.start()
        with pytest.raises(BuildFailed, match=r"stopped unexpectedly \(exit code -9\)"):
            worker.check(good_variant("killed").encode(), "killed.yaml", live_data, "live.yaml")
        killer.join()
        assert worker.check(good_variant("after").encode(), "after.yaml", live_data, "live.yaml").problems == ()
    finally:
        worker.close()


def test_a_file_that_needs_too_much_memory_is_refused_with_that_reason():
    """The worker caps its own address space; a file past it is a clear message, not a dead bot."""
    doc = yaml.safe_load(SHIPPED_RULES.read_text(encoding="utf-8"))
    body = doc["rules"][0]
    shipped = parse_rules(SHIPPED_RULES.read_bytes(), "live.yaml")
    room = MAX_PATTERNS - sum(len(group.patterns) for rule in shipped.rules for group in rule.groups) - 100
    r = 0
    while room > 0:  # nearly as many patterns as a file may have, however many the shipped rules hold
        n = min(2000, room)
        doc["rules"].append({**body, "id": f"big-{r}", "requires_all": [], "requires": [], "groups": [
            {"name": "a", "weight": 50, "phrases": [f"短语{r:02d}{i:05d}号" for i in range(n)]}]})
        room -= n
        r += 1
    data = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()
    worker = BuildWorker(memory_limit=200 * 2**20)
    try:
        with pytest.raises(BuildFailed, match="more than the 200 MB"):
            worker.check(data, "huge.yaml")
        assert worker.check(b"schema: 2\n", "small.yaml").problems  # and it still answers
    finally:
        worker.close()


async def test_live_rules_keep_serving_when_the_check_fails(tmp_path):
    rules = copy_rules(tmp_path)
    book = RuleBook(RuleBook.load(rules).live, builder=BuildWorker())
    live = book.live
    rules.write_text(good_variant("never"), encoding="utf-8")
    try:
        book.builder.check(b"schema: 2\n", "warm-up.yaml")
        book.builder.timeout = 0.05
        with pytest.raises(BuildFailed):
            await book.reload()
        assert book.live is live and book.previous is None and book.pending is None
        book.builder.timeout = 300
        reloaded = await book.reload()
        assert reloaded.version != live.version
        # What the detection workers read instead of compiling the rules again.
        assert handover.loads(reloaded.compiled).version == reloaded.version
        assert live.compiled == b""  # the rules it started with: compiled here, never pickled
        rules.write_text(good_variant("again"), encoding="utf-8")
        await book.reload()
        assert (await book.rollback()).compiled == reloaded.compiled  # a rollback hands over the same
    finally:
        book.builder.close()


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    pytest.fail(f"process {pid} still runs")


# --------------------------------------------------------------------------- the handover


def Node(value) -> Probe:
    """Any object of callguard's own (walked by the handover) holding ``value``."""
    return Probe(value, "test")


def test_dumps_loads_is_pickle_with_sharing_kept_in_small_steps():
    shared = ("shared", [1, 2, 3])
    root = {"a": [Node(shared) for _ in range(300)], "b": shared, "c": {str(i): (i, str(i)) for i in range(2000)}}
    data = handover.dumps(root, chunk=100)
    assert data.count(pickle.STOP) > 20  # many small pickles
    frozen = gc.get_freeze_count()
    back = handover.loads(data)
    assert gc.get_freeze_count() > frozen  # the objects read are out of the collector's way
    gc.unfreeze()
    assert back["c"] == root["c"] and back["b"] == shared
    assert all(node.text is back["b"] for node in back["a"])  # shared once, as pickle.loads would


def test_dumps_loads_a_compiled_rule_set():
    detector = build(flow_rules().read_bytes(), "live.yaml")
    from callguard.compiled_cache import reduce_mapping_proxy as _reduce_mapping_proxy
    import copyreg
    from types import MappingProxyType

    copyreg.pickle(MappingProxyType, _reduce_mapping_proxy)
    try:
        back = handover.loads(handover.dumps(detector))
    finally:
        copyreg.dispatch_table.pop(MappingProxyType, None)
        gc.unfreeze()
    assert isinstance(back, Detector) and back.version == detector.version
    for probe in shipped_regression()[:60]:
        assert back.check(probe.text) == detector.check(probe.text)


def test_release_frees_what_nothing_else_holds_and_leaves_the_rest():
    kept = [Node("kept")]
    tree = Node([Node(i) for i in range(20_000)] + [kept])
    canary = weakref.ref(tree.text[0])
    box = [tree]
    del tree
    handover.release(box, batch=100)
    assert box == [] and canary() is None
    assert kept[0].text == "kept"  # referenced from here: untouched


async def test_release_runs_beside_the_event_loop():
    tree = [[Node(i) for i in range(100)] for _ in range(2_000)]
    canary = weakref.ref(tree[0][0])
    box = [tree]
    del tree
    await asyncio.to_thread(handover.release, box)
    assert canary() is None


async def _turns_of_the_loop_during(work) -> tuple[object, int]:
    """What awaiting ``work`` returned, and how many times another task ran meanwhile."""
    turns = 0
    done = asyncio.Event()

    async def other_user():
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_user())
    try:
        return await work, turns
    finally:
        done.set()
        await other


def _pickles_in(data: bytes) -> int:
    unpickler, count = pickle.Unpickler(io.BytesIO(data)), 0
    while True:
        try:
            unpickler.load()
        except EOFError:
            return count
        count += 1


async def test_loads_on_loop_lets_other_tasks_run_between_its_steps():
    root = {"a": [Node(i) for i in range(3_000)], "b": [str(i) for i in range(3_000)]}
    data = handover.dumps(root, chunk=100)
    steps = _pickles_in(data)
    assert steps > 20
    back, turns = await _turns_of_the_loop_during(handover.loads_on_loop(data))
    gc.unfreeze()
    assert [node.text for node in back["a"]] == list(range(3_000)) and back["b"] == root["b"]
    assert turns >= steps - 1  # the other task ran between every two pickles


async def test_release_on_loop_frees_in_steps_between_other_tasks():
    tree = [Node(i) for i in range(20_000)]
    canary = weakref.ref(tree[0])
    box = [tree]
    del tree
    _, turns = await _turns_of_the_loop_during(handover.release_on_loop(box, batch=1_000))
    assert canary() is None and box == []
    assert turns >= 19


def test_the_shared_worker_is_stopped_when_the_process_exits(tmp_path):
    """The process-wide worker (``shared_worker``) is closed at exit: before, the bot's
    process dropped its handle on a worker still running ("ResourceWarning: subprocess N
    is still running" at the end of a CI run) and nobody waited for the worker's exit."""
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(flow_rules().read_bytes())
    script = ("import pathlib, sys\n"
              "from callguard.rulebuild import shared_worker\n"
              "w = shared_worker()\n"
              "w.check(pathlib.Path(sys.argv[1]).read_bytes(), sys.argv[1])\n"
              "print(w.pid, flush=True)\n")
    done = subprocess.run([sys.executable, "-W", "default", "-c", script, str(rules)],
                          capture_output=True, text=True, timeout=120, env=clean_env())
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.split()[-1])
    assert "ResourceWarning" not in done.stderr, done.stderr
    assert not _running(pid)


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
