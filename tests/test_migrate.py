"""callguard rules migrate: a schema-1 file as schema 2, matching exactly as before."""

from callguard.cli import main
from callguard.detect import Detector, parse_rules
from callguard.detect.migrate import migrate

from tests.test_patterns import rule_file


def schema_1() -> str:
    """A small schema-1 file: literal phrases, no vocab."""
    text = rule_file("(转账|汇款|transfer)")
    head, rules = text.split("vocab:", 1)
    rules = rules[rules.index("rules:"):]
    rules = rules.replace('requires_all: [who]', 'requires: [who]')
    rules = rules.replace('patterns: ["{family}"]', 'phrases: [外公, 儿子, 妈妈, grandma, son]')
    rules = rules.replace('patterns: ["(转账|汇款|transfer)"]', 'phrases: [转账, 汇款, transfer]')
    return head.replace("schema: 2", "schema: 1") + rules


def test_a_schema_1_file_migrates_and_matches_the_same():
    old = schema_1()
    assert "schema: 1" in old
    new = migrate(old, "r.yaml")
    a, b = parse_rules(old), parse_rules(new)
    assert b.schema == 2 and a.schema == 1
    assert [r.groups for r in a.rules] == [r.groups for r in b.rules]
    for text in ("外公让我转账", "grandma wants a transfer", "今天天气很好"):
        assert Detector(a).check(text) == Detector(b).check(text)


def test_migrating_a_schema_2_file_is_refused(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(migrate(schema_1()), encoding="utf-8")
    assert main(["rules", "migrate", str(path)]) == 1
    assert "already schema 2" in capsys.readouterr().err


def test_the_cli_writes_the_migrated_file(tmp_path):
    src, out = tmp_path / "old.yaml", tmp_path / "new.yaml"
    src.write_text(schema_1(), encoding="utf-8")
    assert main(["rules", "migrate", str(src), "--out", str(out)]) == 0
    assert parse_rules(out.read_bytes()).schema == 2
