"""The command line's cache of compiled rules: reused only for the same rules and code, never trusted blindly."""

import os

import pytest

from callguard import compiled_cache
from callguard.detect import Detector, parse_rules
from tests.conftest import ROOT

RULES = (ROOT / "rules" / "scam_patterns.yaml").read_bytes()
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我转到安全账户"


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
