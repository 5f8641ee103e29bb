"""Hostile rule files never replace rules that work, and the bot keeps answering meanwhile.

tests/test_rules_file.py covers the parser; here each hostile file goes
through the live paths — ``RuleBook.reload`` (the file on disk changed) and
``RuleBook.install`` (an upload) — on a running bot, while a user's message
is being answered. Each is refused with an error that names the problem, and
the live rule set (same version) keeps judging correctly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil

import pytest
import yaml

from callguard import replies
from callguard.detect import RuleFileError
from tests.reliability.support import RULES, SCAM_HANS, live_bot, reply_to, visible_text


def _doc() -> dict:
    return yaml.safe_load(RULES.read_text(encoding="utf-8"))


def _huge_group() -> bytes:
    doc = _doc()
    doc["rules"][0]["groups"][0]["phrases"] = [f"短语{i}" for i in range(100_000)]
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
    "binary garbage": (lambda: bytes(range(256)) * 64, "not UTF-8"),
    "empty file": (lambda: b"", "must be a mapping"),
}


@pytest.fixture
async def live(settings, tmp_path):
    rules = tmp_path / "rules" / "scam_patterns.yaml"
    rules.parent.mkdir()
    shutil.copy(RULES, rules)
    async with live_bot(dataclasses.replace(settings, rules_path=rules)) as live:
        yield live


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
