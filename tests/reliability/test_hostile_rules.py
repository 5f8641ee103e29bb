"""Hostile rule files never replace rules that work, and the bot keeps answering meanwhile.

tests/test_rules_file.py covers the parser; here each hostile file goes
through the live paths — ``RuleBook.reload`` (the file on disk changed) and
``RuleBook.install`` (an upload) — on a running bot, while a user's message
is being answered. Each is refused with an error that names the problem, and
the live rule set (same version) keeps judging correctly. The worker process
that checks them may use only ``WORKER_MEMORY`` of address space here, so a
file whose refusal costs more than that fails the test instead of passing
slowly; ``callguard rules lint`` is measured the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bench.bench_reload import alias_bomb, many_phrases
from callguard import replies
from callguard.detect import RuleFileError
from callguard.rulebuild import BuildWorker
from tests.reliability.support import RULES, SCAM_HANS, live_bot, reply_to, visible_text

# The worker's address space: what it needs with nothing compiled (~100 MB
# after its imports) plus the 100 MB a refusal may cost (issue 12, item 1).
WORKER_MEMORY = 256 * 2**20


def _doc() -> dict:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def _huge_group() -> bytes:
    doc = _doc()
    own = next(g for g in doc["rules"][0]["groups"] if "use" not in g)  # not a shared group's use
    own["phrases"] = [f"短语{i}" for i in range(100_000)]
    return yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True).encode()


def _billion_laughs() -> bytes:
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 40):
        lines.append(f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 10) + "]")
    return (RULES.read_text(encoding="utf-8") + "\n" + "\n".join(lines) + "\n").encode()


def _base() -> str:
    return RULES.read_text(encoding="utf-8")


HOSTILE = {
    "100k-phrase group": (_huge_group, "100,000 phrases; at most"),
    "100k phrases in groups under the per-group cap": (many_phrases, "more than 60,000 patterns in the file"),
    "deeply nested flow": (lambda: (_base() + "\nextra: " + "[" * 50_000 + "]" * 50_000 + "\n").encode(),
                           "nesting depth"),
    "deeply nested mapping": (lambda: (_base() + "\nextra: " + "{a: " * 500 + "1" + "}" * 500 + "\n").encode(),
                              "nesting deeper than"),
    "python object tag": (lambda: _base().replace(
        "schema: 2", "schema: !!python/object/apply:os.system ['touch {pwned}']", 1).encode(),
        "tags that build objects are not allowed"),
    "python name tag": (lambda: (_base() + "\nextra: !!python/name:os.system\n").encode(),
                        "tags that build objects are not allowed"),
    "duplicate key": (lambda: (_base() + "\nschema: 2\n").encode(), "duplicate key 'schema'"),
    "billion laughs": (_billion_laughs, "aliases"),
    "alias bomb under the alias cap": (alias_bomb, "once its aliases are spelled out"),
    "5,000-digit number": (lambda: _base().replace("schema: 2", "schema: " + "2" * 5_000, 1).encode(),
                           "a number 5,000 characters long"),
    "binary garbage": (lambda: bytes(range(256)) * 64, "not UTF-8"),
    "empty file": (lambda: b"", "must be a mapping"),
}


@pytest.fixture
async def live(settings, tmp_path):
    rules = tmp_path / "rules" / "scam_patterns.yaml"
    rules.parent.mkdir()
    shutil.copy(RULES, rules)
    async with live_bot(dataclasses.replace(settings, rules_path=rules)) as live:
        live.guard.rules._builder = BuildWorker(memory_limit=WORKER_MEMORY)
        try:
            yield live
        finally:
            live.guard.rules.builder.close()


async def answered_correctly_while(live, uid: int, operation) -> BaseException:
    """Run ``operation`` (a reload/install that must fail) while a user asks about a scam;
    return the error it raised after checking the user got the right verdict."""
    since = live.api.mark()
    task = asyncio.create_task(operation())
    live.api.push_message(SCAM_HANS, user_id=uid, language_code="zh-hans")
    reply = await reply_to(live.api, uid, since, timeout=20)
    assert visible_text(reply.params["text"]).startswith(replies.ui("risk.high", "zh-Hans"))
    with pytest.raises(RuleFileError) as caught:
        await asyncio.wait_for(task, 60)
    return caught.value


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
async def test_hostile_rule_file_is_refused_and_live_rules_keep_serving(live, case, tmp_path):
    make, message = HOSTILE[case]
    pwned = tmp_path / "pwned"
    data = make().replace(b"{pwned}", str(pwned).encode())
    book = live.guard.rules
    version, path = book.live.version, book.path
    good = path.read_bytes()

    # 1. Someone saved the hostile file over the live one and asked for a reload.
    path.write_bytes(data)
    error = await answered_correctly_while(live, 1, book.reload)
    assert message in str(error), str(error)[:500]
    assert str(error).startswith(str(path)), str(error)[:200]  # file:line: message
    assert book.live.version == version

    # 2. An admin uploads it: refused before it is saved, the live file stays as it was.
    path.write_bytes(good)
    error = await answered_correctly_while(live, 2, lambda: book.install(data, filename="upload.yaml"))
    assert message in str(error), str(error)[:500]
    assert book.live.version == version and path.read_bytes() == good
    assert not list(path.parent.glob("*.bak"))  # nothing was replaced, so nothing backed up

    assert not pwned.exists()  # no tag ever ran code
    assert live.errors.errors == []
    # And a later good reload still works: the failed attempts left nothing stuck (lock released).
    assert (await book.reload()).version == version


def test_the_alias_bomb_is_the_one_of_the_issue():
    data = alias_bomb()
    assert 400 <= len(data) <= 500 and data.count(b"*") == 71  # 70 in the lists, one to use them
    assert data.count(b"&") == 8


LINT = """
import json, resource, sys, time
from callguard.cli import main
resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, resource.RLIM_INFINITY))  # the unfixed bug: a MemoryError, not 4 GB
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cpu = time.process_time()
status = main(["rules", "lint", sys.argv[1]])
print(json.dumps({"status": status, "cpu_s": time.process_time() - cpu,
                  "grew_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024}),
      file=sys.stderr)
"""


def test_rules_lint_refuses_the_alias_bomb_in_under_a_second_and_100_mb(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_bytes(alias_bomb())
    run = subprocess.run([sys.executable, "-c", LINT, str(path)], capture_output=True, text=True, timeout=120)
    figures = json.loads(run.stderr.strip().splitlines()[-1])
    assert figures["status"] == 1, run.stderr[-2000:]
    assert "once its aliases are spelled out" in run.stdout and len(run.stdout) < 1000, run.stdout[:2000]
    assert figures["cpu_s"] < 1.0 and figures["grew_mb"] < 100, figures


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        pytest.skip("no /proc: the worker's peak memory cannot be read here")
    return next(int(line.split()[1]) / 1024 for line in status.read_text().splitlines() if line.startswith("VmHWM:"))


async def test_refusing_the_alias_bomb_takes_under_a_second_in_the_bot(live):
    """The worker that checks reloads refuses the bomb with < 1 s of its CPU and
    < 100 MB more peak memory (its address space is capped at WORKER_MEMORY
    too); /reload and an upload come back in seconds of wall clock."""
    book = live.guard.rules
    book.builder.check(b"schema: 2\n", "warm-up.yaml")  # the worker's start is not the bomb's cost
    good = book.path.read_bytes()
    before = _peak_rss_mb(book.builder.pid)
    checked = book.builder.check(alias_bomb(), "bomb.yaml", good, str(book.path))
    assert "once its aliases are spelled out" in str(checked.problems[0])
    assert checked.timings["cpu"] < 1.0, checked.timings
    assert _peak_rss_mb(book.builder.pid) - before < 100, "the worker's peak memory grew by 100 MB or more"
    for attempt in ("reload", "upload"):
        started = time.perf_counter()
        with pytest.raises(RuleFileError, match="once its aliases are spelled out"):
            if attempt == "reload":
                book.path.write_bytes(alias_bomb())
                await book.reload()
            else:
                book.path.write_bytes(good)
                await book.install(alias_bomb(), filename="bomb.yaml")
        # Wall clock on a shared machine: a generous bound that the 34 s of the issue still fails.
        assert time.perf_counter() - started < 5.0


async def test_log_lines_about_a_refused_file_stay_short(live, caplog):
    """Every problem is cut to 300 characters and an uploaded file's name to 80,
    so no log line or admin message about a refused file grows with the file."""
    api = live.api
    doc = _doc()
    doc["rules"][0]["examples"]["match"] = ["没有诈骗的字" * 5_000] * 60  # a huge example, refused 60 times
    huge = yaml.dump(doc, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True).encode()
    name = "x" * 5_000 + ".yaml"
    with caplog.at_level(logging.INFO):
        for content in (alias_bomb(), huge):
            since = api.mark()
            api.push_document(name, content, user_id=42)
            answer = (await reply_to(api, 42, since, timeout=120)).params["text"]
            assert answer.startswith("❌") and len(answer) <= 4096
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 2
    assert all(len(message) < 20_000 for message in refused), [len(m) for m in refused]
    assert max(len(r.getMessage()) for r in caplog.records) < 20_000
