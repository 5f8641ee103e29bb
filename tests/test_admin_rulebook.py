"""RuleBook for admins: unchanged reloads, rollback target, timings, examples judged by the whole rule set."""

from __future__ import annotations

import gc
import random
import weakref
from dataclasses import replace

import pytest

from callguard import rulebook
from callguard.detect import Detector, RuleFileError, build
from callguard.detect.examples import run_examples
from callguard.rulebook import RuleBook
from tests import factories
from tests.admin_support import copy_rules, failing_example, flow_rules, good_variant
from tests.factories import group

# --------------------------------------------------------------------------- RuleBook on files


@pytest.fixture
def rules(tmp_path):
    return copy_rules(tmp_path)


async def test_reload_of_unchanged_content_is_a_no_op(rules):
    book = RuleBook.load(rules)
    live = book.live
    rules.write_bytes(rules.read_bytes())  # touched, same content
    assert await book.reload() is live
    assert book.previous is None


async def test_reload_keeps_previous_and_reports_timings(rules):
    book = RuleBook.load(rules)
    first = book.live
    assert first.timings  # built, or read back from the compiled-rules cache (tests/test_compiled_cache.py)
    rules.write_text(good_variant(), encoding="utf-8")
    second = await book.reload()
    assert second.version != first.version and book.previous is first
    assert second.timings["examples_total"] > 0
    back = await book.rollback()
    assert back.version == first.version and book.previous.version == second.version


async def test_rollback_writes_the_previous_rules_back_to_the_file(rules):
    original = rules.read_bytes()
    book = RuleBook.load(rules)
    first = book.live
    rules.write_text(good_variant(), encoding="utf-8")
    second = await book.reload()
    back = await book.rollback()
    assert back.version == first.version and rules.read_bytes() == original
    assert back.backup is not None and back.backup.read_text(encoding="utf-8") == good_variant()
    assert await book.reload() is back  # the file now holds the live rules: nothing to reload
    forward = await book.rollback()
    assert forward.version == second.version and rules.read_text(encoding="utf-8") == good_variant()


async def test_rollback_that_cannot_write_the_file_changes_nothing(rules, monkeypatch):
    book = RuleBook.load(rules)
    rules.write_text(good_variant(), encoding="utf-8")
    second = await book.reload()

    def refuse(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rulebook, "save_with_backup", refuse)
    with pytest.raises(OSError):
        await book.rollback()
    assert book.live is second and rules.read_text(encoding="utf-8") == good_variant()


async def test_failing_reload_keeps_live_and_previous(rules):
    book = RuleBook.load(rules)
    live = book.live
    rules.write_text(failing_example(), encoding="utf-8")
    with pytest.raises(RuleFileError) as info:
        await book.reload()
    assert "match example not flagged" in str(info.value)
    assert book.live is live and book.previous is None


def test_build_restores_the_garbage_collector():
    data = flow_rules().read_bytes()
    assert gc.isenabled()
    build(data, "a.yaml")
    assert gc.isenabled()
    with pytest.raises(RuleFileError):
        build(b"rules: [", "b.yaml")
    assert gc.isenabled()
    gc.disable()
    try:
        build(data, "c.yaml")
        assert not gc.isenabled()  # left as it was found
    finally:
        gc.enable()


def test_validation_leaves_no_cyclic_garbage_and_old_rules_are_freed():
    """Pausing the collector is only free if building a rule set makes no
    cycles: reference counting alone must free a dropped rule set."""
    data = flow_rules().read_bytes()
    gc.collect()
    gc.disable()
    try:
        detector = build(data, "a.yaml")
        ref = weakref.ref(detector)
        del detector
        assert ref() is None
        assert gc.collect() == 0
    finally:
        gc.enable()


# --------------------------------------------------------------------------- incremental == full

WORDS = ["通信管理局", "号码冻结", "安全账户", "客服", "退款", "验证码", "贷款", "手续费", "中奖", "保证金",
         "刷单", "返利", "投资", "稳赚", "链接", "屏幕共享", "公安局", "逮捕令", "理赔", "快递", "兼职",
         "safe account", "verification code", "refund", "police officer", "gift card"]
CATEGORIES = ["impersonate_authority", "impersonate_customer_service", "fake_loan", "task_rebate", "phishing",
              "telecom_complaint"]


def _random_rule(rng: random.Random, rid: str):
    groups = []
    for name in rng.sample(["claim", "threat", "demand", "bait"], rng.randint(2, 3)):
        groups.append(group(name, rng.choice((20, 30, 40, 50)), *rng.sample(WORDS, rng.randint(1, 3))))
    if rng.random() < 0.2:
        groups.append(group("legit", -30, *rng.sample(WORDS, 1)))
    rule = factories.rule(rid, *groups, category=rng.choice(CATEGORIES),
                          requires=(groups[0].name,) if rng.random() < 0.3 else ())
    positive = [g for g in rule.groups if g.weight > 0]
    match = tuple("，".join(rng.choice(g.phrases) for g in rng.sample(positive, min(2, len(positive))))
                  for _ in range(3))
    no_match = tuple(rng.choice(["今天天气很好", "我妈打电话", rng.choice(WORDS)]) for _ in range(2))
    return replace(rule, examples_match=match, examples_no_match=no_match)


def _valid_base(rng: random.Random, n: int):
    """A rule set whose examples all pass: failing examples are dropped."""
    rules = [_random_rule(rng, f"r{i}") for i in range(n)]
    while True:
        detector = Detector(factories.ruleset(*rules))
        bad = {(f.rule, f.text) for f in run_examples(detector)}
        if not bad:
            return detector
        rules = [replace(r, examples_match=tuple(t for t in r.examples_match if (r.id, t) not in bad),
                         examples_no_match=tuple(t for t in r.examples_no_match if (r.id, t) not in bad))
                 for r in rules]


def _mutate(rng: random.Random, rules: list, serial: int) -> list:
    rules = list(rules)
    kind = rng.choice(["add", "remove", "phrase", "weight", "category", "swap-adjacent", "example", "title",
                       "example-moved", "example-dropped", "requires", "fuzzy"])
    i = rng.randrange(len(rules))
    r = rules[i]
    if kind == "add":
        rules.insert(rng.randrange(len(rules) + 1), _random_rule(rng, f"new{serial}"))
    elif kind == "remove" and len(rules) > 2:
        del rules[i]
    elif kind == "phrase":
        g = rng.randrange(len(r.groups))
        groups = list(r.groups)
        groups[g] = replace(groups[g], phrases=groups[g].phrases + (rng.choice(WORDS),))
        rules[i] = replace(r, groups=tuple(groups))
    elif kind == "weight":
        g = rng.randrange(len(r.groups))
        groups = list(r.groups)
        groups[g] = replace(groups[g], weight=groups[g].weight + rng.choice((-20, 20)))
        rules[i] = replace(r, groups=tuple(groups))
    elif kind == "category":
        rules[i] = replace(r, category=rng.choice(CATEGORIES))
    elif kind == "swap-adjacent" and i + 1 < len(rules):
        rules[i], rules[i + 1] = rules[i + 1], rules[i]
    elif kind == "title":  # not read by the matcher or the verdict: nothing to run
        rules[i] = replace(r, title=factories.loc(f"{r.id} renamed"))
    elif kind == "example-moved" and r.examples_match:  # a match example is now a no_match one
        rules[i] = replace(r, examples_match=r.examples_match[1:],
                           examples_no_match=r.examples_no_match + r.examples_match[:1])
    elif kind == "example-dropped" and r.examples_no_match:
        rules[i] = replace(r, examples_no_match=r.examples_no_match[1:])
    elif kind == "requires":
        rules[i] = replace(r, requires=() if r.requires else (r.groups[-1].name,))
    elif kind == "fuzzy":
        g = rng.randrange(len(r.groups))
        groups = list(r.groups)
        groups[g] = replace(groups[g], fuzzy=not groups[g].fuzzy)
        rules[i] = replace(r, groups=tuple(groups))
    else:
        rules[i] = replace(r, examples_match=r.examples_match + (rng.choice(WORDS),))
    return rules


def test_another_rule_that_steals_an_example_is_caught():
    """An example is judged by the best rule, not only its own: a new rule in
    another category that matches an unchanged rule's example more strongly
    makes that example fail, and the incremental run must see it."""
    loan = replace(factories.rule("loan", group("hook", 50, "无抵押贷款"), category="fake_loan"),
                   examples_match=("无抵押贷款，今天就放款",), examples_no_match=("今天天气很好",))
    other = replace(factories.rule("refund", group("hook", 50, "退款"), category="impersonate_customer_service"),
                    examples_match=("客服说给我退款",), examples_no_match=("我妈打电话",))
    base = Detector(factories.ruleset(loan, other))
    assert run_examples(base) == []
    thief = replace(factories.rule("thief", group("bait", 90, "今天就放款"), category="fake_investment"),
                    examples_match=("今天就放款",), examples_no_match=("我妈打电话",))
    failures = {str(f) for f in run_examples(Detector(factories.ruleset(loan, other, thief)))}
    assert any("rule 'loan'" in f and "verdict category fake_investment" in f for f in failures)
