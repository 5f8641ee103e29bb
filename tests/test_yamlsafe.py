"""Hostile YAML is refused before it costs time or memory (issue 12, item 1)."""

import subprocess
import sys

import pytest

from callguard.detect.yamlsafe import MAX_NODES, expanded_size, load_yaml


def alias_bomb(levels: int = 70, fanout: int = 10) -> str:
    """About 500 bytes that stand for fanout ** levels values."""
    lines = ["a0: &a0 [x]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * fanout) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_under_the_alias_cap_is_refused_by_its_expanded_size():
    text = alias_bomb(levels=19, fanout=10)  # 171 aliases, under the cap of 200
    doc, problems = load_yaml(text, "bomb.yaml")
    assert doc is None
    assert problems and "values once its aliases are spelled out" in problems[0].message


def test_expanded_size_counts_shared_nodes_once_per_use():
    import yaml

    node = yaml.compose("a: &x [1, 2]\nb: [*x, *x]\n")
    # mapping + 2 keys + list [1, 2] (3) + list of two aliases (1 + 3 + 3)
    assert expanded_size(node) == 1 + 1 + 3 + 1 + 1 + 3 + 3


def test_a_refused_bomb_stays_small_in_time_and_memory():
    """The issue's attack (70 aliases, each list repeating the previous one 10
    times), refused in a child process capped at 200 MB of address space."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (200 * 2**20, 200 * 2**20))\n"
        "from callguard.detect.load import lint_text\n"
        f"text = {alias_bomb()!r}\n"
        "problems = lint_text(text.encode(), 'bomb.yaml')\n"
        "print(problems[0])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "aliases" in proc.stdout and len(proc.stdout) < 400


def test_values_from_the_file_are_never_repr_d_whole():
    from callguard.detect.load import lint_text

    text = "schema: 2\nrules: [[" + ", ".join(["long value"] * 5000) + "]]\n"
    assert all(len(str(p)) < 400 for p in lint_text(text, "r.yaml"))


@pytest.mark.parametrize("number", ["1" * 5_000, ":".join(["59"] * 20_000), "1." + "5" * 5_000],
                         ids=["5,000 digits", "base-60 with 20,000 parts", "5,000-digit float"])
def test_a_long_number_is_refused_with_its_line(number):
    """Python refuses to read an integer of more than 4,300 digits (a ValueError that
    crashed `rules lint`), and a base-60 integer costs quadratic time to build."""
    from callguard.detect.load import lint_text

    problems = lint_text(f"schema: 2\nthresholds:\n  high: {number}\n", "r.yaml")
    assert [str(p) for p in problems if p.severity == "error"][0].startswith(
        f"r.yaml:3: invalid YAML: a number {len(number):,} characters long; at most 100")


def test_the_node_limit_is_generous_for_real_files():
    from pathlib import Path

    import yaml

    rules = Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml"
    assert expanded_size(yaml.compose(rules.read_text(encoding="utf-8"))) < MAX_NODES / 20
