"""Shared by the admin tests: a private copy of the rule file and variants of it.

Reloads and uploads write the live rule file, so every admin test works on its
own copy in ``tmp_path``, never on ``rules/scam_patterns.yaml``. Variants are
made by editing the parsed document and dumping it again, so they do not
depend on how the shipped file happens to be laid out.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Set CALLGUARD_TEST_RULES to run the admin tests against another rule file.
SHIPPED_RULES = Path(os.environ.get("CALLGUARD_TEST_RULES") or ROOT / "rules" / "scam_patterns.yaml")

BENIGN = "今天天气很好，我们去公园散步吧"
ADMIN = 42
USER = 7


def copy_rules(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scam_patterns.yaml"
    shutil.copyfile(SHIPPED_RULES, path)
    return path


def _doc() -> dict:
    return yaml.safe_load(SHIPPED_RULES.read_text(encoding="utf-8"))


def _dump(doc: dict) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000)


def good_variant(tag: str = "edited") -> str:
    """Valid rules with different content (a new version): the shipped rules plus a comment."""
    return SHIPPED_RULES.read_text(encoding="utf-8") + f"\n# {tag}\n"


def bad_yaml() -> str:
    """Not YAML at all (an unclosed flow sequence at the end)."""
    return SHIPPED_RULES.read_text(encoding="utf-8") + "\n  - id: [broken\n"


def schema_error() -> str:
    """Well-formed YAML that breaks the schema: a rule in an unknown category."""
    doc = _doc()
    doc["rules"][0]["category"] = "no_such_category"
    return _dump(doc)


def failing_example() -> str:
    """Valid schema, but a rule's own match example is not flagged."""
    doc = _doc()
    doc["rules"][0]["examples"]["match"].append(BENIGN)
    return _dump(doc)


class Gate:
    """Hold a function running in a worker thread until the test lets it go.

    ``entered`` is set when the call is waiting; ``release()`` lets it run.
    Used to keep a rule reload "in progress" while the test sends messages."""

    def __init__(self, func):
        self.func = func
        self.entered = threading.Event()
        self._go = threading.Event()

    def __call__(self, *args, **kwargs):
        self.entered.set()
        if not self._go.wait(30):
            raise TimeoutError("Gate was never released")
        return self.func(*args, **kwargs)

    def release(self) -> None:
        self._go.set()
