"""Shared by the admin tests: a private copy of the rule file and variants of it.

Reloads and uploads write the live rule file, so every admin test works on its
own copy in ``tmp_path``, never on ``rules/scam_patterns.yaml``. Variants are
made by editing the parsed document and dumping it again, so they do not
depend on how the shipped file happens to be laid out.

The copy is the shipped rules with only the first few examples of each rule
(:func:`flow_rules`): these tests check what a reload, an upload or a
rollback does, and every reload runs all of a file's examples (nearly 2,000 in the
shipped one, about half of each check's time). The shipped examples
themselves are tests/test_rule_examples.py's business.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Set CALLGUARD_TEST_RULES to run the admin tests against another rule file.
SHIPPED_RULES = Path(os.environ.get("CALLGUARD_TEST_RULES") or ROOT / "rules" / "scam_patterns.yaml")

# libyaml when PyYAML has it (as callguard.detect.yamlsafe does): the pure-Python parser takes
# about a second for the shipped file, and the variants below parse and dump it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

BENIGN = "今天天气很好，我们去公园散步吧"
ADMIN = 42
USER = 7


@functools.cache
def flow_rules() -> Path:
    """The shipped rules (every rule, vocabulary and region as shipped) with
    each rule's examples cut to the minimum lint asks for: written once per
    test process."""
    from callguard.detect.load import MIN_MATCH_EXAMPLES, MIN_NO_MATCH_EXAMPLES

    doc = yaml.load(SHIPPED_RULES.read_text(encoding="utf-8"), Loader=_LOADER)
    for rule in doc["rules"]:
        examples = rule["examples"]
        examples["match"] = examples["match"][:MIN_MATCH_EXAMPLES]
        examples["no_match"] = examples["no_match"][:MIN_NO_MATCH_EXAMPLES]
    folder = Path(tempfile.mkdtemp(prefix="callguard-flow-rules-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "scam_patterns.yaml"
    path.write_text(_dump(doc), encoding="utf-8")
    return path


def copy_rules(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "scam_patterns.yaml"
    shutil.copyfile(flow_rules(), path)
    return path


def _doc() -> dict:
    return yaml.load(flow_rules().read_text(encoding="utf-8"), Loader=_LOADER)


def _dump(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True, sort_keys=False, width=1000)


def good_variant(tag: str = "edited") -> str:
    """Valid rules with different content (a new version): the test's rules plus a comment."""
    return flow_rules().read_text(encoding="utf-8") + f"\n# {tag}\n"


def bad_yaml() -> str:
    """Not YAML at all (an unclosed flow sequence at the end)."""
    return flow_rules().read_text(encoding="utf-8") + "\n  - id: [broken\n"


@functools.cache  # a pure function of the test's rules; tests only read the text
def schema_error() -> str:
    """Well-formed YAML that breaks the schema: a rule in an unknown category."""
    doc = _doc()
    doc["rules"][0]["category"] = "no_such_category"
    return _dump(doc)


@functools.cache  # a pure function of the test's rules; tests only read the text
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


# --------------------------------------------------------------------------- the rule-file attacks of issue 12

POLICE_STORY = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"
MOTHER_CALLS = "妈妈打电话问我什么时候回家吃饭"


@functools.cache  # a pure function of the test's rules; tests only read the text
def own_examples_only() -> str:
    """Passes lint and every example, yet detects almost nothing: each rule's
    only phrases are its own match examples, word for word."""
    doc = _doc()
    for rule in doc["rules"]:
        phrases = list(dict.fromkeys(rule["examples"]["match"]))
        rule["groups"] = [{"name": "own", "weight": 100, "fuzzy": False, "phrases": phrases}]
        rule.pop("requires", None)
        rule.pop("requires_all", None)
    doc.pop("vocab", None)
    doc.pop("shared", None)  # shared groups use the vocab lists; no rule uses them now
    return _dump(doc)


@functools.cache  # a pure function of the test's rules; tests only read the text
def common_characters_rule() -> str:
    """Passes lint and every example, yet calls ordinary Chinese a scam: a
    phishing rule gives weight 45 (the medium threshold) to 的/我/了/是 (as a
    fallback rule, so that it takes few other rules' examples away; the
    examples it does take are edited out, as an attacker would)."""
    doc = _doc()
    title = {"zh-Hans": "常用字", "zh-Hant": "常用字", "en": "Common characters"}
    advice = {"zh-Hans": ["不要点击链接。", "不要提供验证码。"], "zh-Hant": ["不要點擊連結。", "不要提供驗證碼。"],
              "en": ["Do not click the link.", "Do not give the code."]}
    doc["rules"].append({
        "id": "phishing-common-characters", "category": "phishing", "fallback": True, "title": title,
        "advice": advice,
        "groups": [{"name": "hook", "weight": 45, "fuzzy": False, "phrases": ["的", "我", "了", "是"]}],
        "examples": {"match": ["我的", "是我", "好了", "我是", "的是", "我了", "来了", "真的"],
                     "no_match": ["今天天气很好", "明天见", "谢谢你", "晚安", "早上好"]},
    })
    return _dump(_without_failing_examples(doc))


def _without_failing_examples(doc: dict) -> dict:
    """``doc`` with the examples its rules fail removed, each rule's lists
    padded back to the minimum with copies of its passing ones."""
    from callguard.detect import Detector, parse_rules
    from callguard.detect.examples import run_examples

    failing = {(f.rule, f.kind, f.text) for f in run_examples(Detector(parse_rules(_dump(doc))))}
    for rule in doc["rules"]:
        for kind, minimum in (("match", 8), ("no_match", 5)):
            kept = [x for x in rule["examples"][kind] if (rule["id"], kind, x) not in failing]
            rule["examples"][kind] = kept + [f"{kept[i % len(kept)]} {i}" for i in range(max(0, minimum - len(kept)))]
    return doc
