"""Shape of the hand-written labelled sets: rules/regression.jsonl and bench/probe/probe.jsonl
(and, for independence only, bench/fresh/fresh.jsonl).

These sets judge whether the scam rules generalise, so they must stay well-formed (every line
scoreable by ../shared/eval/score.py), balanced (each category has its scams and its benign
look-alikes in each language) and independent (no line copied from the rules' own examples or
from the shared training and evaluation data). The verdicts themselves are not checked here:
the rule-reload gate runs the regression set against a candidate rule file.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path

import opencc
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REGRESSION = ROOT / "rules" / "regression.jsonl"
PROBE = ROOT / "bench" / "probe" / "probe.jsonl"
FRESH = ROOT / "bench" / "fresh" / "fresh.jsonl"
HELDOUT = ROOT / "bench" / "fresh" / "heldout.jsonl"  # the batches nobody has read
RULES = ROOT / "rules" / "scam_patterns.yaml"
SHARED = Path(os.environ.get("CALLGUARD_SHARED_DIR", "/work/shared"))

SCAM_CATEGORIES = (
    "impersonate_authority",
    "impersonate_customer_service",
    "impersonate_acquaintance",
    "fake_loan",
    "fake_investment",
    "task_rebate",
    "fake_credit_repair",
    "fake_shopping",
    "online_romance",
    "game_trade",
    "phishing",
    "prize_lottery",
    "fake_kidnapping",
    "fake_job",
    "other_scam",
    "sextortion",
)
NOT_SCAM_CATEGORIES = ("telecom_complaint",)
LANGS = ("zh-Hans", "zh-Hant", "en")
REGIONS = ("CN", "TW", "HK", "SG", "MY", "GB", "US", "AU")
STYLES = ("description", "sms", "chat", "call_transcript", "question")
FIELDS = {"text", "label", "category", "lang", "region", "style", "source"}

# Where each language is used by CallGuard's users; the probe must hold every pair.
PROBE_COMBINATIONS = (
    ("zh-Hans", "CN"), ("zh-Hans", "SG"), ("zh-Hans", "MY"),
    ("zh-Hant", "TW"), ("zh-Hant", "HK"),
    ("en", "GB"), ("en", "US"), ("en", "AU"), ("en", "SG"), ("en", "MY"), ("en", "HK"),
)


def load(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for each non-blank line; a line that is not JSON fails the test."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                pytest.fail(f"{path.name}:{number}: not JSON: {exc}")
    return items


def shape_problems(items: list[tuple[int, dict]], prefix: str, max_chars: int) -> list[str]:
    """Everything wrong with the lines' fields, one 'line N: ...' message per problem."""
    problems = []
    for number, item in items:
        def bad(message: str) -> None:
            problems.append(f"line {number}: {message}")

        if not isinstance(item, dict):
            bad("not a JSON object")
            continue
        missing = FIELDS - item.keys()
        if missing:
            bad(f"missing {sorted(missing)}")
            continue
        extra = item.keys() - FIELDS - {"accept"}
        if extra:
            bad(f"unknown fields {sorted(extra)}")
        text = item["text"]
        if not isinstance(text, str) or not text.strip() or text != text.strip():
            bad("text must be a non-empty string without surrounding blanks")
        elif len(text) > max_chars:
            bad(f"text is {len(text)} characters, more than {max_chars}")
        elif any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
            bad("text holds a control character")
        if item["lang"] not in LANGS:
            bad(f"lang {item['lang']!r}")
        if item["region"] not in REGIONS:
            bad(f"region {item['region']!r}")
        if item["style"] not in STYLES:
            bad(f"style {item['style']!r}")
        elif item["source"] != f"{prefix}-{item['style']}":
            bad(f"source {item['source']!r} should be {prefix}-{item['style']}")
        category = item["category"]
        if item["label"] == "scam":
            if category not in SCAM_CATEGORIES:
                bad(f"scam category {category!r}")
            accept = item.get("accept")
            if (not isinstance(accept, list) or not accept or accept[0] != category
                    or len(set(accept)) != len(accept) or not set(accept) <= set(SCAM_CATEGORIES)):
                bad(f"accept {accept!r} must list scam categories, starting with {category!r}")
        elif item["label"] == "benign":
            if category not in ("",) + SCAM_CATEGORIES + NOT_SCAM_CATEGORIES:
                bad(f"benign category {category!r}")
            if "accept" in item:
                bad("a benign line has no accept list")
        else:
            bad(f"label {item['label']!r}")
        if isinstance(text, str) and item["lang"] in LANGS and _script(text) != item["lang"]:
            bad(f"lang {item['lang']} but the text is {_script(text)}")
    return problems


_TO_SIMPLIFIED = opencc.OpenCC("t2s")


def _script(text: str) -> str:
    """'en' without Han characters, else 'zh-Hant' when OpenCC would change a character, else 'zh-Hans'."""
    if not re.search(r"[\u3400-\u9fff]", text):
        return "en"
    return "zh-Hant" if _TO_SIMPLIFIED.convert(text) != text else "zh-Hans"


_NOT_ALNUM = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Letters and digits only, case-folded: two lines that differ in spacing or punctuation are one."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())



def duplicates(texts: list[str]) -> list[str]:
    return [text for text, n in Counter(fold(t) for t in texts).items() if n > 1]


@pytest.fixture(scope="module")
def regression():
    return load(REGRESSION)


@pytest.fixture(scope="module")
def probe():
    return load(PROBE)


@pytest.fixture(scope="module")
def fresh():
    return load(FRESH) + load(HELDOUT)


# ------------------------------------------------------------------ the checker itself


def test_the_shape_checker_reports_each_kind_of_bad_line():
    good = {"text": "Your parcel fee is £1.99, pay at example.top", "label": "scam", "category": "phishing",
            "lang": "en", "region": "GB", "style": "sms", "source": "probe-sms", "accept": ["phishing"]}
    assert shape_problems([(1, good)], "probe", 300) == []
    broken = [
        ({k: v for k, v in good.items() if k != "region"}, "missing ['region']"),
        (good | {"label": "maybe"}, "label 'maybe'"),
        (good | {"category": "telecom_complaint", "accept": ["telecom_complaint"]}, "scam category"),
        (good | {"accept": ["fake_loan", "phishing"]}, "accept"),
        (good | {"accept": ["phishing", "phishing"]}, "accept"),
        (good | {"label": "benign"}, "no accept list"),
        (good | {"lang": "zh"}, "lang 'zh'"),
        (good | {"lang": "zh-Hans"}, "the text is en"),
        (good | {"text": "轉帳給你了", "lang": "zh-Hans"}, "the text is zh-Hant"),
        (good | {"text": "转账给你了", "lang": "zh-Hant"}, "the text is zh-Hans"),
        (good | {"region": "FR"}, "region 'FR'"),
        (good | {"style": "email"}, "style 'email'"),
        (good | {"source": "probe-chat"}, "source"),
        (good | {"text": " padded "}, "surrounding blanks"),
        (good | {"text": "x" * 301}, "301 characters"),
        (good | {"text": "bell\x07"}, "control character"),
        (good | {"colour": "red"}, "unknown fields"),
    ]
    for n, (item, expected) in enumerate(broken, 1):
        problems = shape_problems([(n, item)], "probe", 300)
        assert any(expected in p for p in problems), (item, problems)


def test_fold_merges_lines_that_differ_only_in_spacing_case_and_punctuation():
    assert duplicates(["Is this a scam?", "is this  a SCAM", "Is this legit?"]) == ["isthisascam"]
    assert duplicates(["转账给你了", "轉帳給你了"]) == []  # the two scripts are different lines on purpose


def test_runs_catch_a_pasted_sentence_whatever_its_punctuation_and_case():
    chinese = "你好，这里是某市公安局刑侦支队，你名下的一张银行卡涉嫌一起洗钱案件"
    english = "Your parcel could not be delivered because the address was incomplete."
    assert runs(chinese.replace("，", " ") + "？") & runs(chinese)
    assert runs(english.upper().replace(" ", "  ")) & runs(english)
    assert not runs("你名下的银行卡涉嫌洗钱") and not runs("Your parcel could not be delivered")


# ------------------------------------------------------------------ rules/regression.jsonl


def test_regression_lines_have_the_documented_shape(regression):
    assert shape_problems(regression, "regression", 300) == []


def test_regression_has_no_duplicate_lines(regression):
    assert duplicates([item["text"] for _, item in regression]) == []


def test_regression_covers_each_category_in_each_language_with_benign_look_alikes(regression):
    items = [item for _, item in regression]
    scams = Counter((x["category"], x["lang"]) for x in items if x["label"] == "scam")
    benign = Counter(x["category"] for x in items if x["label"] == "benign")
    short = []
    for category in SCAM_CATEGORIES:
        total = sum(scams[category, lang] for lang in LANGS)
        if total < 6:
            short.append(f"{category}: {total} scam lines, need 6")
        short += [f"{category}: {scams[category, lang]} {lang} scam lines, need 2"
                  for lang in LANGS if scams[category, lang] < 2]
        if benign[category] < 4:
            short.append(f"{category}: {benign[category]} benign look-alikes, need 4")
    if benign["telecom_complaint"] < 4:
        short.append(f"telecom_complaint: {benign['telecom_complaint']} genuine complaints, need 4")
    assert short == []
    assert 250 <= len(items) <= 320


# ------------------------------------------------------------------ bench/probe/probe.jsonl


def test_probe_lines_have_the_documented_shape(probe):
    assert shape_problems(probe, "probe", 300) == []


def test_fresh_batches_have_no_duplicate_lines_and_none_shared_with_the_other_sets(fresh, probe, regression):
    texts = [item["text"] for _, item in fresh]
    assert duplicates(texts) == []
    others = {fold(item["text"]) for _, item in probe + regression}
    assert [t for t in texts if fold(t) in others] == []
    assert {item["label"] for _, item in fresh} == {"scam", "benign"}


def test_probe_has_no_duplicate_lines_and_none_shared_with_the_regression_set(probe, regression):
    probe_texts = [item["text"] for _, item in probe]
    assert duplicates(probe_texts) == []
    regression_folded = {fold(item["text"]) for _, item in regression}
    assert [t for t in probe_texts if fold(t) in regression_folded] == []


def test_probe_is_about_half_benign_and_covers_every_region_language_style_and_category(probe):
    items = [item for _, item in probe]
    assert 600 <= len(items) <= 800
    benign_share = sum(x["label"] == "benign" for x in items) / len(items)
    assert 0.42 <= benign_share <= 0.58
    pairs = Counter((x["lang"], x["region"], x["label"]) for x in items)
    thin = [(lang, region, label) for lang, region in PROBE_COMBINATIONS for label in ("scam", "benign")
            if pairs[lang, region, label] < 5]
    assert thin == []
    styles = Counter((x["style"], x["label"]) for x in items)
    assert [(s, label) for s in STYLES for label in ("scam", "benign") if styles[s, label] < 20] == []
    categories = Counter(x["category"] for x in items if x["label"] == "scam")
    assert [c for c in SCAM_CATEGORIES if categories[c] < 8] == []
    assert sum(x["category"] == "telecom_complaint" for x in items) >= 8
    lengths = [len(x["text"]) for x in items]
    assert min(lengths) <= 15 and max(lengths) >= 200


# ------------------------------------------------------------------ independence


def _strings(node) -> list[str]:
    """Every string anywhere in a parsed YAML document, whatever its schema."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in _strings(key) + _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


def test_no_line_is_one_of_the_rule_file_texts(regression, probe, fresh):
    """A rule tuned on these very sentences would pass the sets without generalising."""
    rule_texts = {fold(s) for s in _strings(yaml.safe_load(RULES.read_text(encoding="utf-8"))) if len(fold(s)) >= 12}
    ours = [item["text"] for _, item in regression + probe + fresh]
    assert [t for t in ours if fold(t) in rule_texts] == []


HAN_RUN = 20  # Han characters in a row, or
WORD_RUN = 10  # words in a row, that count as copied; 8 (the shared corpus's filter) also
# catches idioms that genuine texts share, such as "call the number on the back of your card"
_HAN = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9']+")


def runs(text: str) -> set[str]:
    """The text's 20-Han-character runs (punctuation and other letters skipped) and 10-word runs."""
    han = "".join(_HAN.findall(text))
    words = _WORD.findall(text.casefold())
    return ({han[i:i + HAN_RUN] for i in range(len(han) - HAN_RUN + 1)}
            | {" ".join(words[i:i + WORD_RUN]) for i in range(len(words) - WORD_RUN + 1)})


def test_no_line_shares_a_long_run_with_the_shared_training_or_evaluation_data(regression, probe):
    """The sets were written by hand; this guards against later additions pasted from the shared data."""
    files = [SHARED / "eval" / "dev.jsonl", SHARED / "train" / "corpus.jsonl"]
    if not all(f.exists() for f in files):
        pytest.skip(f"shared data not found under {SHARED} (set CALLGUARD_SHARED_DIR)")
    ours: dict[str, str] = {}
    for _, item in regression + probe:
        for run in runs(item["text"]):
            ours.setdefault(run, item["text"])
    copied = set()
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                copied.update(ours[run] for run in runs(json.loads(line)["text"]) & ours.keys())
    assert sorted(copied) == []
