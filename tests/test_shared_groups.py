"""The ``shared:`` block: groups and pattern lists written once, used by several rules.

A use must give exactly what the written-out copies give (same groups, same
verdicts and evidence), and every mistake is a lint error at the line of the
shared entry or of the ``use``.
"""

import textwrap
from pathlib import Path

import pytest

from callguard.detect import Detector, lint_text, parse_rules

SHIPPED = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"
HEAD = SHIPPED.read_text(encoding="utf-8").split("\nrules:\n", 1)[0]
# The shipped file may already have a shared block (the lead converts it): these tests bring their own.
HEAD = HEAD.split("\nshared:\n", 1)[0]

EXAMPLES = """\
  examples:
    match: [m1, m2, m3, m4, m5, m6, m7, m8]
    no_match: [n1, n2, n3, n4, n5]
"""


def rule(rid: str, groups: str) -> str:
    return (f"- id: {rid}\n  category: fake_loan\n  title: {{zh-Hans: 贷款, zh-Hant: 貸款, en: Loan}}\n"
            f"  advice: {{zh-Hans: [挂断], zh-Hant: [掛斷], en: [Hang up]}}\n  groups:\n"
            + textwrap.indent(textwrap.dedent(groups), "    ") + EXAMPLES)


def document(rules: list[str], shared: str | None = None) -> str:
    text = HEAD
    if shared is not None:
        text += "\nshared:\n" + textwrap.indent(textwrap.dedent(shared), "  ")
    return text + "\nrules:\n" + textwrap.indent("".join(rules), "  ")


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The 1-based line of the nth occurrence of ``needle``."""
    at = -1
    for _ in range(nth):
        at = text.index(needle, at + 1)
    return text.count("\n", 0, at) + 1


def problems(text: str, severity: str = "error") -> list[str]:
    return [str(p) for p in lint_text(text, "r.yaml") if p.severity == severity]


SHARED = """\
- name: not_them
  weight: -35
  fuzzy: false
  patterns: ["(wrong number|wrong department)", "(this is not|this isn't) the bank"]
- name: gift_card_payment
  patterns: ["(pay|buy|send)…{gift_cards}", "{gift_cards}…(code|codes|pin|卡密)"]
"""

USING = [
    rule("loan-a", """\
        - name: hook
          weight: 50
          gap: 8
          patterns: ["(loan|贷款)", {use: gift_card_payment}, "fee"]
        - use: not_them
        """),
    rule("loan-b", """\
        - {name: hook, weight: 60, patterns: [{use: gift_card_payment}]}
        - {use: not_them, weight: -50}
        """),
]

WRITTEN_OUT = [
    rule("loan-a", """\
        - name: hook
          weight: 50
          gap: 8
          patterns: ["(loan|贷款)", "(pay|buy|send)…{gift_cards}", "{gift_cards}…(code|codes|pin|卡密)", "fee"]
        - name: not_them
          weight: -35
          fuzzy: false
          patterns: ["(wrong number|wrong department)", "(this is not|this isn't) the bank"]
        """),
    rule("loan-b", """\
        - {name: hook, weight: 60, patterns: ["(pay|buy|send)…{gift_cards}", "{gift_cards}…(code|codes|pin|卡密)"]}
        - {name: not_them, weight: -50, fuzzy: false,
           patterns: ["(wrong number|wrong department)", "(this is not|this isn't) the bank"]}
        """),
]


def test_uses_give_the_same_groups_as_the_written_out_copies():
    shared = parse_rules(document(USING, SHARED), "r.yaml")
    written = parse_rules(document(WRITTEN_OUT), "r.yaml")
    assert [r.groups for r in shared.rules] == [r.groups for r in written.rules]
    a, b = shared.rules
    assert [g.name for g in a.groups] == ["hook", "not_them"]
    assert a.groups[0].gap == 8  # a pattern list takes the gap of the group that uses it
    assert (a.groups[1].weight, b.groups[1].weight) == (-35, -50)  # `weight:` beside `use:` overrides
    assert not b.groups[1].fuzzy


@pytest.mark.parametrize("text", [
    "they said pay the fee with Apple gift cards and read out the codes",
    "A loan, pay in Steam gift cards. Oh, wrong number, sorry",
    "办贷款要先买iTunes礼品卡，把卡密发过去",
    "hello",
])
def test_compiled_matcher_gives_the_same_verdicts_and_evidence(text):
    shared = Detector(parse_rules(document(USING, SHARED), "r.yaml"))
    written = Detector(parse_rules(document(WRITTEN_OUT), "r.yaml"))
    assert shared.check(text).to_json() == written.check(text).to_json()
    assert [s.rule.id for s in shared.explain(text).scores] == [s.rule.id for s in written.explain(text).scores]


def test_evidence_names_the_group_that_used_the_shared_entry():
    verdict = Detector(parse_rules(document(USING, SHARED), "r.yaml")).check("please pay with gift cards")
    assert verdict.rule == "loan-b" and {e.group for e in verdict.evidence} == {"hook"}


def test_a_used_group_can_be_required():
    rules = [rule("loan-a", """\
        - {name: hook, weight: 50, patterns: ["loan"]}
        - use: not_them
        """).replace("  groups:\n", "  requires: [not_them]\n  groups:\n")]
    assert problems(document(rules, SHARED)) == []


def test_unknown_name_is_an_error_at_the_use():
    rules = [rule("loan-a", """\
        - {name: hook, weight: 50, patterns: ["loan", {use: gift_card_pay}]}
        - use: not_it
        """), rule("loan-b", "- {use: not_them}\n- {name: x, weight: 5, patterns: [{use: gift_card_payment}]}\n")]
    text = document(rules, SHARED)
    assert problems(text) == [
        f"r.yaml:{line_of(text, 'gift_card_pay}')}: rule 'loan-a': group 'hook': use names unknown shared entry "
        "'gift_card_pay' (known: gift_card_payment, not_them)",
        f"r.yaml:{line_of(text, 'use: not_it')}: rule 'loan-a': use names unknown shared entry 'not_it' "
        "(known: gift_card_payment, not_them)",
    ]


def test_a_cycle_is_an_error_at_the_use_that_closes_it():
    shared = """\
        - name: first
          patterns: ["loan", {use: second}]
        - name: second
          patterns: ["fee", {use: first}]
        """
    rules = [rule("loan-a", "- {name: hook, weight: 50, patterns: [{use: first}]}\n")]
    text = document(rules, shared)
    assert problems(text) == [f"r.yaml:{line_of(text, '{use: first}')}: "
                              "shared 'first' uses itself (first -> second -> first)"]
    shared = "- {name: me, patterns: [{use: me}]}\n"
    text = document([rule("loan-a", "- {name: hook, weight: 50, patterns: [{use: me}]}\n")], shared)
    assert problems(text) == [f"r.yaml:{line_of(text, 'name: me')}: shared 'me' uses itself (me -> me)"]


def test_misuse_of_each_kind_is_an_error_at_the_use():
    rules = [rule("loan-a", """\
        - {name: hook, weight: 50, patterns: ["loan", {use: not_them}]}
        - use: gift_card_payment
        - {use: not_them, gap: 20}
        """)]
    text = document(rules, SHARED)
    found = problems(text)
    assert len(found) == 3
    assert found[0].startswith(f"r.yaml:{line_of(text, '{use: not_them}')}: rule 'loan-a': group 'hook': "
                               "shared 'not_them' is a group (it has a weight)")
    assert found[1].startswith(f"r.yaml:{line_of(text, 'use: gift_card_payment')}: rule 'loan-a': "
                               "shared 'gift_card_payment' is a pattern list (it has no weight)")
    assert found[2].startswith(f"r.yaml:{line_of(text, 'gap: 20')}: rule 'loan-a': a used group takes only a weight")


def test_a_used_group_name_counts_against_duplicates():
    rules = [rule("loan-a", """\
        - {name: not_them, weight: 50, patterns: ["loan"]}
        - use: not_them
        """)]
    text = document(rules, SHARED)
    assert problems(text) == [f"r.yaml:{line_of(text, 'use: not_them')}: rule 'loan-a': duplicate group name 'not_them'"]


def test_errors_inside_the_shared_block_point_there_once():
    shared = """\
        - name: broken
          weight: 150
          patterns: ["(open"]
        - name: plain_list
          gap: 10
          patterns: ["{no_such_list}…fee"]
        - {name: broken, weight: 5, patterns: [x]}
        - {name: Bad-Name, patterns: [x]}
        """
    rules = [rule("loan-a", "- use: broken\n- {name: hook, weight: 50, patterns: [{use: plain_list}]}\n"),
             rule("loan-b", "- use: broken\n- {name: hook, weight: 50, patterns: [loan]}\n")]
    text = document(rules, shared)
    found = problems(text)
    assert [p.split(": ", 1)[0] for p in found] == [
        f"r.yaml:{line_of(text, 'name: broken', 2)}", f"r.yaml:{line_of(text, 'Bad-Name')}",
        f"r.yaml:{line_of(text, 'weight: 150')}", f"r.yaml:{line_of(text, '(open')}",
        f"r.yaml:{line_of(text, 'gap: 10')}", f"r.yaml:{line_of(text, 'no_such_list')}"]
    assert "duplicate shared name 'broken'" in found[0]
    assert "shared group 'broken' weight must be" in found[2]
    assert "shared list 'plain_list': a pattern list has no gap" in found[4]


def test_unused_entries_are_warned_and_shared_needs_schema_2():
    text = document([rule("loan-a", "- use: not_them\n- {name: hook, weight: 50, patterns: [loan]}\n")], SHARED)
    assert problems(text) == []
    assert [p for p in problems(text, "warning") if "shared" in p] == [
        f"r.yaml:{line_of(text, 'name: gift_card_payment')}: warning: shared 'gift_card_payment' is not used by any rule"]
    old = document([rule("loan-a", "- {name: hook, weight: 50, phrases: [loan]}\n")],
                   "- {name: x, weight: 5, patterns: [y]}\n").replace("schema: 2", "schema: 1", 1)
    assert any("shared needs schema 2" in p for p in problems(old))


def test_shared_must_be_a_list_of_named_mappings():
    text = document([rule("loan-a", "- {name: hook, weight: 50, patterns: [loan]}\n")], "not_them: {weight: 5}\n")
    assert problems(text) == [f"r.yaml:{line_of(text, 'shared:')}: shared must be a non-empty list of groups "
                              "and pattern lists (each with a name)"]


def test_uses_count_against_the_pattern_limit_and_stop_early():
    """2,000 uses of a 2,000-pattern list would be 4 million patterns from a file of 100 kB."""
    shared = "- name: many\n  patterns: [" + ", ".join(f'"词{i}"' for i in range(2000)) + "]\n"
    uses = ", ".join(["{use: many}"] * 2000)
    text = document([rule("loan-a", f"- {{name: hook, weight: 50, patterns: [{uses}]}}\n")], shared)
    found = problems(text)
    assert found[0] == (f"r.yaml:{line_of(text, '{use: many}')}: rule 'loan-a': group 'hook': more than 60,000 "
                        "patterns in the file once shared entries are spelled out; use fewer copies")
