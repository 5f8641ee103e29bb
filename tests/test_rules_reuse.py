"""parse_rules(..., previous=): unchanged rule entries are reused, and the
result is always exactly the full parse's.

The reference is the full parse the CLI lint runs (``_check_bytes``): a file
it rejects must be rejected with the same ``file:line: message`` problems,
and a file it accepts must give an equal rule set, line numbers included.
Besides targeted cases (edits, shifted lines, anchors, errors, YAML that could
fool a line-based split), random line edits mixing in hazardous lines check
that on many files.
"""

from __future__ import annotations

import random
import re
import textwrap
from pathlib import Path

import pytest

from callguard.detect import RuleFileError, parse_rules
from callguard.detect import rules as rules_module
from callguard.detect.rules import MAX_DEPTH, _check_bytes

SHIPPED = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"
HEAD = SHIPPED.read_text(encoding="utf-8").split("\nrules:\n", 1)[0] + "\n"


def rule_yaml(i: int, *, indent: int = 0, flow: bool = False, category: str = "fake_loan", extra: str = "") -> str:
    """One rule entry (examples need not pass: this is about parsing)."""
    if flow:
        body = (f"- {{id: rule-{i}, category: {category}, title: {{zh-Hans: 规则{i}, zh-Hant: 規則{i}, en: Rule {i}}},\n"
                f"   advice: {{zh-Hans: [挂断], zh-Hant: [掛斷], en: [Hang up]}},\n"
                f"   groups: [{{name: hook, weight: 50, phrases: [无抵押贷款{i}, no collateral loan {i}]}}],\n"
                f"   examples: {{match: [a1, a2, a3, a4, a5, a6, a7, a8], no_match: [b1, b2, b3, b4, b5]}}}}\n")
    else:
        body = textwrap.dedent(f"""\
            - id: rule-{i}
              category: {category}
              title: {{zh-Hans: 规则{i}, zh-Hant: 規則{i}, en: Rule {i}}}
              advice:
                zh-Hans: [挂断]
                zh-Hant: [掛斷]
                en: [Hang up]
              groups:
                - {{name: hook, weight: 50, phrases: [无抵押贷款{i}, "no collateral loan {i}"]}}
                - name: demand
                  weight: 30
                  phrases:
                    - 先交手续费{i}
                    - pay a fee first {i}
              examples:
                match: [无抵押贷款{i}1, 无抵押贷款{i}2, 无抵押贷款{i}3, 无抵押贷款{i}4,
                        无抵押贷款{i}5, 无抵押贷款{i}6, 无抵押贷款{i}7, 无抵押贷款{i}8]
                no_match: [你好1, 你好2, 你好3, 你好4, 你好5]
            """)
    body += extra
    return textwrap.indent(body, " " * indent, lambda line: True)


def rule_file(n: int = 6, *, indent: int = 0, tail: str = "") -> str:
    entries = "".join(rule_yaml(i, indent=indent, flow=i % 3 == 2) + ("# between rules\n" if i % 2 else "")
                      for i in range(n))
    return HEAD + "rules:\n" + entries + tail


def full(text: str | bytes, source: str = "r.yaml"):
    """What the full parse says: a RuleSet, or the error text."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    ruleset, problems = _check_bytes(data, source)
    if ruleset is None:
        return str(RuleFileError(problems))
    return ruleset


def reused(text: str | bytes, previous=None, source: str = "r.yaml"):
    try:
        return parse_rules(text, source, previous=previous)
    except RuleFileError as exc:
        return str(exc)


def assert_same(got, want) -> None:
    assert type(got) is type(want), (got if isinstance(got, str) else want)
    if isinstance(want, str):
        assert got == want
        return
    assert got == want
    assert [r.line for r in got.rules] == [r.line for r in want.rules]
    assert (got.digest, got.source, got.label) == (want.digest, want.source, want.label)


@pytest.fixture
def count_entry_parses(monkeypatch):
    calls: list[str] = []
    real = rules_module._parse_entry

    def counting(chunk: str):
        calls.append(chunk)
        return real(chunk)

    monkeypatch.setattr(rules_module, "_parse_entry", counting)
    return calls


# --------------------------------------------------------------------------- reuse


@pytest.mark.parametrize("indent", [0, 2])
def test_unchanged_entries_are_not_parsed_again(indent, count_entry_parses):
    text = rule_file(8, indent=indent)
    first = parse_rules(text, "r.yaml")
    assert first.entries is not None and len(count_entry_parses) == 8
    assert_same(first, full(text))

    count_entry_parses.clear()
    assert_same(parse_rules(text, "r.yaml", previous=first), first)
    assert count_entry_parses == []

    edited = text.replace("无抵押贷款3,", "无抵押贷款3, 新短语,", 1)
    again = parse_rules(edited, "r.yaml", previous=first)
    assert len(count_entry_parses) == 1 and "rule-3" in count_entry_parses[0]
    assert_same(again, full(edited))
    assert "新短语" in again.rules[3].groups[0].phrases


def test_lines_after_an_edit_shift_and_reused_rules_share_their_parts(count_entry_parses):
    text = rule_file(6)
    first = parse_rules(text, "r.yaml")
    # Three more lines inside rule 1: every later rule moves down three lines.
    edited = text.replace("- id: rule-1\n", "- id: rule-1\n  note: |\n    a note\n    more\n", 1)
    count_entry_parses.clear()
    again = parse_rules(edited, "r.yaml", previous=first)
    assert len(count_entry_parses) == 1
    assert_same(again, full(edited))
    assert [b.line - a.line for a, b in zip(first.rules, again.rules)] == [0, 0, 3, 3, 3, 3]
    assert again.rules[4].groups is first.rules[4].groups  # reused, not rebuilt


def test_reordered_and_removed_entries_are_reused(count_entry_parses):
    text = rule_file(6)
    first = parse_rules(text, "r.yaml")
    head, rules = text.split("\nrules:\n", 1)
    entries = re.split(r"(?m)^(?=- )", rules)[1:]
    assert len(entries) == 6
    shuffled = head + "\nrules:\n" + "".join(entries[i] for i in (3, 1, 5, 2))
    count_entry_parses.clear()
    assert_same(parse_rules(shuffled, "r.yaml", previous=first), full(shuffled))
    assert count_entry_parses == []


def test_head_changes_are_seen(count_entry_parses):
    text = rule_file(4)
    first = parse_rules(text, "r.yaml")
    for edited in (text.replace("{high: 70, medium: 45, low: 20}", "{high: 80, medium: 50, low: 20}"),
                   text.replace('version: "2026.11.28"', 'version: "next"'),
                   text.replace("\nrules:\n", "\nextra: 1\nrules:\n"),
                   text + "extra: after the rules\n"):
        count_entry_parses.clear()
        got = parse_rules(edited, "r.yaml", previous=first)
        assert count_entry_parses == []
        assert_same(got, full(edited))
    assert parse_rules(text.replace("{high: 70, medium: 45, low: 20}", "{high: 80, medium: 50, low: 20}"),
                       "r.yaml", previous=first).thresholds.high == 80


def test_anchors_and_aliases_fall_back_to_the_full_parse(count_entry_parses):
    text = rule_file(4).replace("[挂断]", "&hang [挂断]", 1).replace("zh-Hans: [挂断]", "zh-Hans: *hang")
    got = parse_rules(text, "r.yaml")
    assert got.entries is None and count_entry_parses == []  # not even tried: the text shows anchors
    assert_same(got, full(text))
    # An anchor the quick look misses (after a tab) is caught by the tokens: still the full parse.
    sneaky = rule_file(4).replace("advice:\n    zh-Hans: [挂断]", "advice:\n    zh-Hans:\t&a [挂断]", 1)
    assert "\t&a" in sneaky
    got = parse_rules(sneaky, "r.yaml")
    assert got.entries is None
    assert_same(got, full(sneaky))


def test_shipped_rules_parse_the_same():
    data = SHIPPED.read_bytes()
    assert_same(parse_rules(data, str(SHIPPED)), full(data, str(SHIPPED)))


# --------------------------------------------------------------------------- errors: exactly the full parse's


ERRORS = {
    "unknown category": lambda t: t.replace("category: fake_loan", "category: no_such", 1),
    "unknown category (flow entry)": lambda t: t.replace("id: rule-2, category: fake_loan", "id: rule-2, category: x"),
    "duplicate rule id across entries": lambda t: t.replace("- id: rule-4\n", "- id: rule-1\n"),
    "duplicate key in an entry": lambda t: t.replace("- id: rule-4\n", "- id: rule-4\n  id: rule-9\n"),
    "YAML error in an entry": lambda t: t.replace("- id: rule-3\n", "- id: [rule-3\n"),
    "unclosed flow spanning entries": lambda t: t.replace("- id: rule-3\n", "- id: rule-3\n  note: [a,\n"),
    "entry less indented": lambda t: t.replace("  category: fake_loan\n", " category: fake_loan\n", 1),
    "bad weight": lambda t: t.replace("weight: 30", "weight: 300", 1),
    "too few examples": lambda t: t.replace("no_match: [你好1, 你好2, 你好3, 你好4, 你好5]", "no_match: [你好1]", 1),
    "category missing from categories": lambda t: t.replace("\n  fake_loan:\n", "\n  fake_loan_x:\n", 1),
    "document end marker in the list": lambda t: t.replace("- id: rule-3\n", "...\n- id: rule-3\n"),
    "second document": lambda t: t + "---\nschema: 1\n",
    "duplicate rules key": lambda t: t + "rules: []\n",
    "object tag in an entry": lambda t: t.replace("- id: rule-3\n", "- id: !!python/name:os.system rule-3\n"),
    "local tag in an entry": lambda t: t.replace("- id: rule-3\n", "- id: !mine rule-3\n"),
    "too deep inside an entry": lambda t: t.replace("- id: rule-3\n",
                                                   "- id: rule-3\n  note: " + "[" * 40 + "]" * 40 + "\n"),
    "not UTF-8": lambda t: t.encode("utf-8").replace(b"rule-3", b"rule-\xff"),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_errors_are_the_full_parse_errors_with_the_same_lines(case):
    text = rule_file(6)
    previous = parse_rules(text, "r.yaml")
    broken = ERRORS[case](text)
    assert broken != text
    want = full(broken)
    assert isinstance(want, str) and want.startswith("r.yaml:"), want
    assert_same(reused(broken, previous), want)
    assert_same(reused(broken), want)


def test_error_line_numbers_after_cached_entries():
    text = rule_file(6)
    previous = parse_rules(text, "r.yaml")
    broken = text.replace("- id: rule-4\n  category: fake_loan\n", "- id: rule-4\n  category: nowhere\n")
    line = broken.splitlines().index("  category: nowhere") + 1
    with pytest.raises(RuleFileError) as info:
        parse_rules(broken, "r.yaml", previous=previous)
    assert str(info.value).startswith(f"r.yaml:{line}: rule 'rule-4': unknown category 'nowhere'")


# --------------------------------------------------------------------------- YAML that could fool a line-based split

VALID_TWISTS = {
    "CRLF line ends": lambda t: t.replace("\n", "\r\n"),
    "BOM at the start": lambda t: "\ufeff" + t,
    "comment lines at column 0 inside the list": lambda t: t.replace("- id: rule-2", "# c\n\n#d\n- id: rule-2"),
    "block scalar with kept trailing lines": lambda t: t.replace("- id: rule-1\n",
                                                                "- id: rule-1\n  note: |+\n    x\n\n\n"),
    "folded scalar ending an entry": lambda t: t.replace("- id: rule-2", "  note: >\n    a\n    b\n- id: rule-2", 1),
    "dash alone on the entry line": lambda t: t.replace("- id: rule-1\n", "-\n  id: rule-1\n"),
    "comment after the dash": lambda t: t.replace("- id: rule-1\n", "- # first\n  id: rule-1\n"),
    "multi-line flow mapping entry": lambda t: t,  # every third rule is one
    "multi-line plain scalar": lambda t: t.replace("  title: {zh-Hans: 规则1,",
                                                  "  note: a\n    b\n  title: {zh-Hans: 规则1,"),
    "explicit str tag in the head": lambda t: t.replace('version: "2026.11.28"', "version: !!str 2026.11.28"),
    "top-level key after the rules": lambda t: t + "extra: 1\n",
    "rules key with a comment": lambda t: t.replace("\nrules:\n", "\nrules:   # the rules\n"),
    "blank and comment lines before the first entry": lambda t: t.replace("\nrules:\n", "\nrules:\n\n  # intro\n\n"),
    "document start marker": lambda t: "---\n" + t,
    "document end marker at the end": lambda t: t + "...\n",
    "no newline at the end": lambda t: t.rstrip("\n"),
    "hash inside a phrase": lambda t: t.replace("pay a fee first 1", "'pay #1 fee'"),
}


def assert_twist_parses_as_in_full(twist, indent: int) -> None:
    """A twisted file parses (or fails) exactly as a full parse, with and without a previous parse."""
    text = rule_file(6, indent=indent)
    previous = parse_rules(text, "r.yaml")
    twisted = twist(text)
    want = full(twisted)
    assert_same(reused(twisted, previous), want)
    assert_same(reused(twisted), want)


@pytest.mark.parametrize("indent", [0, 2])
@pytest.mark.parametrize("case", VALID_TWISTS, ids=list(VALID_TWISTS))
def test_twists_parse_exactly_as_in_full(case, indent):
    assert_twist_parses_as_in_full(VALID_TWISTS[case], indent)


HOSTILE_TWISTS = {
    "lone CR": lambda t: t.replace("- id: rule-2\n", "- id: rule-2\r  note: x\n"),
    "NEL line break": lambda t: t.replace("- id: rule-2\n", "- id: rule-2\x85  note: x\n"),
    "tab indentation": lambda t: t.replace("  category: fake_loan\n", "\tcategory: fake_loan\n", 1),
    "tab after spaces": lambda t: t.replace("  category: fake_loan\n", "  \tcategory: fake_loan\n", 1),
    "rules key inside a top-level flow mapping": lambda t: "{" + t.split("\nrules:\n")[0].replace("\n", "\n ")
    + ",\nrules:\n" + t.split("\nrules:\n")[1] + "}\n",
    "rules line inside a quoted scalar": lambda t: t.replace('version: "2026.11.28"', 'version: "2026\nrules:\n- x"'),
    "TAG directive": lambda t: "%TAG !! tag:example.com,2000:\n---\n" + t,
    "YAML directive": lambda t: "%YAML 1.1\n---\n" + t,
    "alias into an entry from the head": lambda t: t.replace('version: "2026.11.28"', "version: &v x").replace(
        "category: fake_loan", "category: *v", 1),
    "flow sequence spanning two entries": lambda t: t.replace("- id: rule-3\n", "  note: [a,\n- id: rule-3\n  ]\n", 1),
    "entry at a deeper indent in the middle": lambda t: t.replace("- id: rule-3\n", "   - id: rule-3\n"),
    "merge key": lambda t: t.replace("- id: rule-3\n", "- <<: {note: merged}\n  id: rule-3\n"),
}


@pytest.mark.parametrize("case", HOSTILE_TWISTS, ids=list(HOSTILE_TWISTS))
def test_hostile_twists_give_the_full_parse_result(case):
    for indent in (0, 2):
        assert_twist_parses_as_in_full(HOSTILE_TWISTS[case], indent)


@pytest.mark.parametrize("indent", [0, 2])
def test_nesting_limit_is_the_same(indent):
    text = rule_file(4, indent=indent)
    previous = parse_rules(text, "r.yaml")
    results = set()
    for depth in range(MAX_DEPTH - 4, MAX_DEPTH + 2):
        note = "[" * depth + "]" * depth
        deep = text.replace("- id: rule-1\n", f"- id: rule-1\n{' ' * indent}  note: {note}\n")
        assert deep != text
        want = full(deep)
        results.add(isinstance(want, str))
        assert_same(reused(deep, previous), want)
    assert results == {True, False}  # both sides of the limit were tried


# --------------------------------------------------------------------------- random line edits

HAZARDS = ["", "# comment", "...", "---", "- id: rule-x", "-", "  - id: rule-y", "  note: [a,", "  ]", "  note: |",
           "    text", "  note: 'a", "  b'", "\tnote: x", "extra: 1", "rules:", "  note: &a x", "  note: *a",
           "  - 1", " x", "%YAML 1.1", "  note: \"", "#", "  ? complex", "  : key", "  note: >-", "- - nested",
           "  note: !!str x", "  id: rule-0", "  category: fake_job", "  category: nope"]


BENIGN = ["", "# comment", "#", "  # indented comment", "  note: x", "  note: |", "    text", "  note: >-",
          "  note: 'quoted # not a comment'", "  note: [a, b]"]


def _mutate(rng: random.Random, lines: list[str], indent: int) -> list[str]:
    lines = list(lines)
    for _ in range(rng.choice((1, 1, 2, 3))):
        i = rng.randrange(1, len(lines))
        kind = rng.random()
        if kind < 0.5:
            lines.insert(i, " " * indent + rng.choice(BENIGN))
        elif kind < 0.7:
            lines.insert(i, rng.choice(HAZARDS))
        elif kind < 0.75:
            del lines[i]
        elif kind < 0.8:
            lines.insert(i, lines[rng.randrange(len(lines))])  # duplicate a line elsewhere
        elif kind < 0.9:
            lines[i] = " " + lines[i] if rng.random() < 0.5 else lines[i][1:]  # indent or dedent
        else:
            j = rng.randrange(1, len(lines))
            lines[i], lines[j] = lines[j], lines[i]
    return lines


def test_random_edits_give_exactly_the_full_parse_result():
    rng = random.Random(20261128)
    accepted = rejected = by_entries = 0
    for case in range(300):
        indent = rng.choice((0, 2))
        text = rule_file(rng.randint(2, 5), indent=indent, tail=rng.choice(["", "extra: 1\n"]))
        head_lines = HEAD.count("\n")
        previous = parse_rules(text, "r.yaml")
        lines = text.split("\n")
        # Edit the rules part only (from the 'rules:' line on): the head is plain YAML.
        mutated = lines[:head_lines] + _mutate(rng, lines[head_lines:], indent)
        edited = "\n".join(mutated)
        want = full(edited)
        got = reused(edited, previous)
        assert_same(got, want)
        if isinstance(want, str):
            rejected += 1
        else:
            accepted += 1
            by_entries += got.entries is not None
    assert by_entries > 50 and rejected > 100
