"""The benchmarks' synthetic rule sets (bench/synthetic.py) are what they claim to be.

bench_matcher times them and bench_reload reloads files written by
``write_rule_file``: a file that stopped passing ``build()`` would make every
reload there a refused one, and a 1,000-rule set that were not the first
1,000 of the 10,000 would make the 10k/1k ratio meaningless.
"""

import sys
from pathlib import Path

import pytest

from callguard.detect import Detector, build, load_rules

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import synthetic  # noqa: E402


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    return synthetic.write_rule_file(tmp_path_factory.mktemp("rules") / "synthetic.yaml", 40)


def test_a_written_rule_file_loads_and_builds(written):
    ruleset = load_rules(written)
    detector = build(written.read_bytes(), str(written))  # raises unless every example holds
    assert len(ruleset.rules) == 40
    assert ruleset.schema == 2 and len(ruleset.vocab) >= 40
    assert all(len(r.examples_match) == 8 and len(r.examples_no_match) == 5 for r in ruleset.rules)
    assert detector.ruleset.digest == ruleset.digest


def test_a_written_file_holds_the_rules_make_ruleset_builds(written):
    loaded, made = load_rules(written).rules, synthetic.make_ruleset(40).rules
    assert [(r.id, r.category, r.groups, r.requires, r.requires_all, r.fallback) for r in loaded] == \
        [(r.id, r.category, r.groups, r.requires, r.requires_all, r.fallback) for r in made]


def test_the_rules_use_every_part_of_the_pattern_language():
    rules = synthetic.make_ruleset(60).rules
    elements = [e for r in rules for g in r.groups for p in g.patterns for e in p.elements]
    patterns = [p for r in rules for g in r.groups for p in g.patterns]
    assert {e.kind for e in elements} == {"text", "choice", "vocab", "entity"}
    assert any(e.entities for e in elements)  # (钱|{amount})
    assert any(any(p.gaps) for p in patterns) and any(len(p.elements) > 1 and not any(p.gaps) for p in patterns)
    assert any(g.weight < 0 for r in rules for g in r.groups)
    assert any(r.requires for r in rules) and any(r.requires_all for r in rules)
    assert sum(r.fallback for r in rules) == 1


def test_a_smaller_set_is_the_start_of_a_larger_one_and_runs_are_repeatable():
    small, large = synthetic.make_ruleset(30), synthetic.make_ruleset(60)
    assert small.rules == large.rules[:30]
    assert synthetic.make_messages(small, 50) == synthetic.make_messages(small, 50)


def test_messages_realise_the_rules():
    ruleset = synthetic.make_ruleset(60)
    detector = Detector(ruleset)
    messages = synthetic.make_messages(ruleset, 300)
    flagged = {kind: [] for kind, _, _ in synthetic.MESSAGE_KINDS}
    for m in messages:
        flagged[m.kind].append(detector.check(m.text).scam)
    assert sum(flagged["zh_scam"]) / len(flagged["zh_scam"]) > 0.5
    assert sum(flagged["en_scam"]) / len(flagged["en_scam"]) > 0.5
    assert sum(flagged["benign"]) / len(flagged["benign"]) < 0.3


def test_every_built_in_entity_has_sample_texts_for_the_crafted_inputs():
    """bench_matcher realises the shipped rules' patterns as text (synthetic_text.py): a rule
    that uses an entity without sample texts there stops the benchmark."""
    from callguard.detect.entities import ENTITIES
    import synthetic_text

    assert set(synthetic_text._ENTITY_TEXTS) == set(ENTITIES)
