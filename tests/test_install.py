"""The install works anywhere: the shipped rules are found from any folder, a
missing rule file is named (not called "a file with errors"), and a missing
optional extra says what to install.

The built wheel and sdist themselves are checked in tests/test_packaging.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import callguard.rules
from callguard import cli
from callguard.config import DEFAULT_RULES, Settings
from callguard.detect import Detector, load_rules
from callguard.rulefiles import open_error, shipped, unreadable

ROOT = Path(__file__).resolve().parent.parent
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CALLGUARD_"))}
    env.update(extra)
    return env


# --------------------------------------------------------------------------- the shipped rules


def test_the_default_rule_file_is_the_one_inside_the_package():
    assert DEFAULT_RULES == shipped("scam_patterns.yaml") == Settings.from_env({}).rules_path
    assert DEFAULT_RULES.is_file()
    assert DEFAULT_RULES.parent == Path(callguard.rules.__file__).parent  # the package, not the working folder


def test_check_from_another_folder_uses_the_shipped_rules(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "callguard", "check", "--json", SCAM], cwd=tmp_path,
                          env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["scam"] is True and verdict["category"] == "impersonate_authority"


# --------------------------------------------------------------------------- a rule file that cannot be read


@pytest.fixture
def missing(tmp_path, monkeypatch) -> Path:
    """CALLGUARD_RULES names a file that does not exist."""
    path = tmp_path / "nowhere" / "scam_patterns.yaml"
    monkeypatch.setenv("CALLGUARD_RULES", str(path))
    return path


def assert_names_the_file_and_setting(message: str, path: Path) -> None:
    assert f"cannot read the rule file {path}: No such file or directory" in message
    assert f"CALLGUARD_RULES={path}" in message
    assert "has errors" not in message


@pytest.mark.parametrize("argv", [["check", SCAM], ["check", "--jsonl", "-"], ["chat"]])
def test_check_and_chat_name_the_missing_file_and_the_setting(argv, missing):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert_names_the_file_and_setting(str(info.value), missing)


@pytest.mark.parametrize("command", ["lint", "test"])
def test_rules_commands_name_the_missing_file(command, missing, capsys):
    assert cli.main(["rules", command]) == 1
    out, err = capsys.readouterr()
    assert_names_the_file_and_setting(err, missing)
    assert ":0:" not in out + err  # no lint report for a file that is not there


def test_bulletin_names_the_missing_file(missing, tmp_path, monkeypatch):
    import asyncio

    from callguard.storage import SQLiteStore

    async def create(path: Path) -> None:
        await (await SQLiteStore.open(path, secret=b"x")).close()

    db = tmp_path / "callguard.db"
    asyncio.run(create(db))
    monkeypatch.setenv("CALLGUARD_DB", str(db))
    with pytest.raises(SystemExit) as info:
        cli.main(["bulletin"])
    assert_names_the_file_and_setting(str(info.value), missing)


def test_a_file_named_with_rules_option_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_RULES", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--rules", "mine.yaml", SCAM])
    message = str(info.value)
    assert f"cannot read the rule file mine.yaml (= {tmp_path / 'mine.yaml'})" in message  # the path tried
    assert "named on the command line" in message and "has errors" not in message


def test_settings_in_a_dot_env_file_are_read(tmp_path, monkeypatch):
    monkeypatch.delenv("CALLGUARD_RULES", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CALLGUARD_RULES=from-dot-env.yaml\n", encoding="utf-8")
    try:
        with pytest.raises(SystemExit) as info:
            cli.main(["check", SCAM])
    finally:
        os.environ.pop("CALLGUARD_RULES", None)  # load_dotenv set it in this process
    assert "CALLGUARD_RULES=from-dot-env.yaml names it" in str(info.value)


def test_a_missing_shipped_file_means_a_broken_install(tmp_path):
    message = unreadable(tmp_path / "scam_patterns.yaml", env={})
    assert "CALLGUARD_RULES is not set" in message and "Reinstall callguard" in message


def test_a_folder_or_an_unreadable_file_is_not_a_file_with_errors(tmp_path):
    assert isinstance(open_error(tmp_path), IsADirectoryError)
    assert "Is a directory" in unreadable(tmp_path, env={})
    assert open_error(DEFAULT_RULES) is None and unreadable(DEFAULT_RULES) is None


def test_broken_but_present_file_is_still_reported_as_errors(tmp_path, monkeypatch):
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [", encoding="utf-8")
    monkeypatch.setenv("CALLGUARD_RULES", str(broken))
    with pytest.raises(SystemExit) as info:
        cli.main(["check", SCAM])
    assert "the rule file has errors" in str(info.value) and "broken.yaml:" in str(info.value)


def test_run_names_the_missing_file_before_contacting_telegram(tmp_path):
    path = tmp_path / "gone.yaml"
    proc = subprocess.run([sys.executable, "-m", "callguard", "run"], cwd=tmp_path, capture_output=True, text=True,
                          env=clean_env(TELEGRAM_BOT_TOKEN="123:abc", CALLGUARD_RULES=str(path),
                                        CALLGUARD_BOT_API_URL="http://127.0.0.1:9/bot",
                                        CALLGUARD_DB=str(tmp_path / "db.sqlite")), timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("callguard run: ")
    assert_names_the_file_and_setting(proc.stderr, path)


# --------------------------------------------------------------------------- optional extras


def test_chart_without_matplotlib_says_which_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails, as when not installed
    monkeypatch.setenv("CALLGUARD_DB", str(tmp_path / "none.db"))
    with pytest.raises(SystemExit) as info:
        cli.main(["stats", "--chart", str(tmp_path / "chart.png")])
    assert str(info.value) == "callguard stats --chart needs matplotlib: pip install 'callguard[chart]'"
    assert not (tmp_path / "chart.png").exists()


def test_batch_without_tqdm_runs_without_a_progress_bar(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    detector = Detector(load_rules(DEFAULT_RULES))
    out = io.StringIO()
    lines = [json.dumps({"id": 1, "text": SCAM}, ensure_ascii=False), json.dumps({"id": 2, "text": "明天见"})]
    assert cli.batch(detector, lines, out, progress=True, total=2) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [1, 2] and rows[0]["verdict"]["scam"] is True
    assert "pip install 'callguard[cli]'" in capsys.readouterr().err


def test_batch_with_tqdm_draws_the_bar_on_stderr(capsys):
    detector = Detector(load_rules(DEFAULT_RULES))
    out = io.StringIO()
    cli.batch(detector, [json.dumps({"text": SCAM}, ensure_ascii=False)], out, progress=True, total=1)
    err = capsys.readouterr().err
    assert "1/1" in err and "msg" in err and "callguard[cli]" not in err
