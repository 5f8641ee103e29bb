"""The cache of compiled rules (command line, bot, workers): reused only for the same rules and code, never trusted blindly."""

import os

import pytest
import yaml

from callguard import compiled_cache
from callguard.detect import Detector, RuleFileError, parse_rules
from callguard.rulebook import RuleBook
from tests.admin_support import BENIGN, flow_rules

SCAM = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"


def _one_rule(extra_example: str | None = None) -> bytes:
    """The shipped file cut to its first rule (few examples): what the cache does
    does not depend on the rules' size, and this one compiles in a fraction of a second."""
    doc = yaml.safe_load(flow_rules().read_text(encoding="utf-8"))
    doc["rules"] = doc["rules"][:1]
    if extra_example is not None:
        doc["rules"][0]["examples"]["match"].append(extra_example)
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False).encode()


RULES = _one_rule()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("CALLGUARD_CACHE_DIR", str(folder))
    return folder


def counting_build():
    calls = []

    def build(data):
        calls.append(data)
        return Detector(parse_rules(data, "rules.yaml"))

    return build, calls


def test_the_second_run_reads_the_compiled_rules_back(cache):
    build, calls = counting_build()
    first = compiled_cache.load_or_build(RULES, build)
    second = compiled_cache.load_or_build(RULES, build)
    assert len(calls) == 1
    assert second is not first and second.check(SCAM) == first.check(SCAM)
    [stored] = cache.iterdir()
    assert stored.stat().st_mode & 0o777 == 0o600 and cache.stat().st_mode & 0o777 == 0o700


def test_other_rules_miss_the_cache(cache):
    build, calls = counting_build()
    compiled_cache.load_or_build(RULES, build)
    compiled_cache.load_or_build(RULES + b"\n# an edit\n", build)
    assert len(calls) == 2 and len(list(cache.iterdir())) == 2


def test_a_damaged_cache_file_is_compiled_again(cache):
    build, calls = counting_build()
    compiled_cache.load_or_build(RULES, build)
    [stored] = cache.iterdir()
    stored.write_bytes(b"not a pickle")
    assert compiled_cache.load_or_build(RULES, build).check(SCAM).risk == "high"
    assert len(calls) == 2


def test_a_file_others_may_write_is_never_loaded(cache):
    build, calls = counting_build()
    compiled_cache.load_or_build(RULES, build)
    [stored] = cache.iterdir()
    os.chmod(stored, 0o666)
    compiled_cache.load_or_build(RULES, build)
    assert len(calls) == 2


def test_off_and_unwritable_folders_only_cost_the_compile(tmp_path, monkeypatch):
    build, calls = counting_build()
    monkeypatch.setenv("CALLGUARD_CACHE_DIR", "off")
    assert compiled_cache.cache_dir() is None
    compiled_cache.load_or_build(RULES, build)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CALLGUARD_CACHE_DIR", str(blocker / "cache"))  # cannot be created
    assert compiled_cache.load_or_build(RULES, build).check(SCAM).risk == "high"
    assert len(calls) == 2


def test_rule_file_errors_pass_through(cache):
    build, _ = counting_build()
    with pytest.raises(Exception, match="schema"):
        compiled_cache.load_or_build(b"schema: 99\n", build)
    assert not cache.exists() or not list(cache.iterdir())


def test_a_checked_lookup_never_takes_rules_compiled_without_their_examples(cache):
    """The bot starts only on rules whose own examples pass; ``callguard check``
    compiles without running them. Its entry must not let the bot skip the examples."""
    build, calls = counting_build()
    compiled_cache.load_or_build(RULES, build)  # the command line's entry
    compiled_cache.load_or_build(RULES, build, checked=True)  # the bot: builds again
    assert len(calls) == 2 and len(list(cache.iterdir())) == 2
    compiled_cache.load_or_build(RULES, build, checked=True)
    compiled_cache.load_or_build(RULES, build)
    assert len(calls) == 2  # both find an entry now


def test_the_command_line_takes_what_the_bot_checked(cache):
    build, calls = counting_build()
    compiled_cache.load_or_build(RULES, build, checked=True)
    compiled_cache.load_or_build(RULES, build)
    assert len(calls) == 1 and len(list(cache.iterdir())) == 1


def test_the_bot_starts_from_the_rules_it_checked_at_its_last_start(cache, tmp_path):
    rules = tmp_path / "scam_patterns.yaml"
    rules.write_bytes(RULES)
    first = RuleBook.load(rules).live
    assert set(first.timings) >= {"parse", "compile", "examples", "examples_total"}
    again = RuleBook.load(rules).live
    assert set(again.timings) == {"cached"} and again.version == first.version
    assert again.detector.check(SCAM) == first.detector.check(SCAM)


def test_a_start_with_failing_examples_is_refused_even_after_the_command_line_cached_it(cache, tmp_path):
    broken = _one_rule(extra_example=BENIGN)  # a benign text among the texts it must flag
    rules = tmp_path / "scam_patterns.yaml"
    rules.write_bytes(broken)
    compiled_cache.load_or_build(broken, counting_build()[0])  # `callguard check` with this file works
    with pytest.raises(RuleFileError, match=BENIGN):
        RuleBook.load(rules)


def test_the_key_covers_the_detection_data_files_too():
    """Brand names, official domains and the phrases of money already gone are read by the
    detection code at run time: an entry checked against other ones must not come back."""
    names = {path.name for path in compiled_cache.code_files()}
    assert {"impersonated_brands.txt", "official_domains.txt", "paid.yaml", "normalize.py"} <= names
    assert not any(name.endswith(".cgm") for name in names)  # the model is not part of the rules
