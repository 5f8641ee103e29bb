"""Every CLI command, in-process (fast) plus one real subprocess run."""

import io
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from callguard import cli
from callguard.cli.loading import load_detector

ROOT = Path(__file__).resolve().parent.parent
SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_prints_the_chat_reply_in_the_texts_language(capsys):
    code, out, _ = run(capsys, "check", SCAM)
    assert code == 0
    assert "诈骗" in out and "<b>" not in out
    code, out, _ = run(capsys, "check", "Someone", "said", "move", "my", "money", "to", "a", "safe", "account")
    assert "scam" in out.lower() and "Do this now" in out


def test_check_json(capsys):
    _, out, _ = run(capsys, "check", "--json", SCAM)
    verdict = json.loads(out)
    assert verdict["scam"] is True and verdict["category"] == "impersonate_authority"


def test_check_without_text_explains_usage(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["check"])
    assert "--jsonl" in str(info.value)


def test_check_dash_reads_the_message_from_stdin(capsys, monkeypatch):
    # A pasted SMS keeps its lines; "-" is not judged as the text itself.
    code, out, _ = run(capsys, "check", "--json", "-", stdin="Bank notice\n" + SCAM + "\n", monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["scam"] is True
    with pytest.raises(SystemExit) as info:
        run(capsys, "check", "-", stdin="  \n", monkeypatch=monkeypatch)
    assert "stdin" in str(info.value)


def test_batch_keeps_order_copies_fields_and_reports_bad_lines(capsys, monkeypatch):
    lines = [
        json.dumps({"id": "a", "text": SCAM, "extra": [1, 2]}, ensure_ascii=False),
        "this is not json",
        json.dumps({"id": "b", "text": "今天天气很好"}, ensure_ascii=False),
        json.dumps(["not", "an", "object"]),
        json.dumps({"id": "c"}),
        "",
        json.dumps({"id": "d", "text": ""}),
    ]
    code, out, _ = run(capsys, "check", "--jsonl", "-", stdin="\n".join(lines) + "\n", monkeypatch=monkeypatch)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 6  # the blank line is skipped
    assert rows[0]["id"] == "a" and rows[0]["extra"] == [1, 2] and rows[0]["verdict"]["scam"] is True
    # The verdict format is an interface: fields are only ever added (region, paid).
    assert set(rows[0]["verdict"]) == {"scam", "risk", "category", "rule", "score", "evidence", "region", "paid"}
    assert rows[1] == {"line": 2, "error": rows[1]["error"]} and rows[1]["error"]
    assert rows[2]["id"] == "b" and rows[2]["verdict"]["scam"] is False
    assert "error" in rows[3] and "error" in rows[4] and rows[4]["line"] == 5
    assert rows[5]["verdict"] == {"scam": False, "risk": "none", "category": None, "rule": None, "score": 0,
                                  "evidence": [], "region": "CN", "paid": False}


def test_batch_from_file(tmp_path, capsys):
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"text": SCAM}, ensure_ascii=False) + "\n", encoding="utf-8")
    _, out, _ = run(capsys, "check", "--jsonl", str(f))
    assert json.loads(out)["verdict"]["scam"] is True


def test_batch_missing_file(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--jsonl", "/no/such/file.jsonl"])
    assert "cannot read" in str(info.value)


def test_chat_conversation():
    inputs = iter(["", SCAM, "/money", "/family", "/lang en", "/privacy", "/nope", "/help", "/quit"])
    out: list[str] = []
    detector = load_detector(None)
    cli.chat(detector, lambda prompt: next(inputs), out.append)
    text = "\n".join(out)
    assert "CallGuard" in out[0]
    assert "很可能是诈骗" in out[1]
    assert "96110" in out[2]
    assert "防骗提醒" in out[3] and "冒充公检法" in out[3]
    assert "English" in out[4]
    assert "keeps nothing" in out[5] and "/forget" not in out[5]  # the console stores nothing
    assert "don't know that command" in out[6]
    assert "/money" in out[7] and "/region" in out[7]
    assert "/report" not in out[7] and "/forget" not in out[7]  # only what works on the console
    assert len(out) == 8, text


def chat_lines(*lines, **kwargs) -> list[str]:
    inputs = iter([*lines, "/quit"])
    out: list[str] = []
    cli.chat(load_detector(None), lambda prompt: next(inputs), out.append, **kwargs)
    return out


def test_chat_lang_applies_to_descriptions():
    out = chat_lines("/lang en", SCAM)
    assert out[2].startswith("⚠️ This is very likely a scam")  # a Chinese description, answered in English


def test_chat_money_and_family_answer_in_the_users_language():
    out = chat_lines("Someone said my number will be frozen and I must move my money to a safe account",
                     "/money", "/family")
    assert out[2].startswith("🚨 If you already sent money") and "[Scam warning]" in out[3]


def test_chat_region_changes_the_emergency_numbers():
    out = chat_lines("/region TW", "/money", "/region XX")
    assert "台湾" in out[1]  # the console starts in Simplified Chinese
    assert "165" in out[2] and "96110" not in out[2]
    assert "TW" in out[3] and "GB" in out[3]  # an unknown region lists the known ones
    assert "999" in chat_lines("/money", region="GB")[1]


def test_chat_answers_someone_who_already_paid_with_the_steps_first():
    out = chat_lines("I already sent the money, what now?", region="GB")
    assert out[1].startswith("🚨 If you already sent money") and "159" in out[1]
    assert out[1].index("159") < out[1].index(cli.replies.ui("risk.none", "en"))


def test_check_region_and_paid(capsys):
    code, out, _ = run(capsys, "check", "--region", "TW", "我已經轉了錢怎麼辦")
    assert code == 0 and out.startswith("🚨") and "165" in out and "96110" not in out
    _, out, _ = run(capsys, "check", "--json", "--region", "hk", SCAM)
    verdict = json.loads(out)
    assert verdict["region"] == "HK" and verdict["paid"] is False and verdict["scam"] is True
    _, out, _ = run(capsys, "check", "--json", "那我转了的五千怎么办")
    assert json.loads(out)["paid"] is True and json.loads(out)["region"] == "CN"
    _, out, _ = run(capsys, "check", "--json", "--region", "UK", SCAM)
    assert json.loads(out)["region"] == "GB"
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--region", "ZZ", SCAM])
    assert "unknown region" in str(info.value) and "TW" in str(info.value)


@pytest.mark.parametrize("lang, region", [("en", "GB"), ("zh-Hans", "CN"), ("zh-Hant", "TW")])
def test_check_says_to_change_the_region_with_the_option_not_the_bot_command(capsys, lang, region):
    """On the command line the region is ``--region CODE``; ``/region`` works only in the bot and chat."""
    _, out, _ = run(capsys, "check", "--lang", lang, "--region", region, "I already sent the money, what now?")
    assert "--region" in out and "/region" not in out
    _, out, _ = run(capsys, "check", "--lang", lang, "我已经转了钱怎么办")  # no --region: the language's region
    assert "--region" in out and "/region" not in out
    assert "/region" in chat_lines("/money", lang=lang)[1]  # the console chat has /region


def test_check_reads_local_numbers_as_the_chosen_region_writes_them(capsys):
    _, out, _ = run(capsys, "check", "--region", "TW", "0912-345-678")
    assert out.startswith(cli.replies.ui("number.title", "en")) and "+886 912 345 678" in out
    _, out, _ = run(capsys, "check", "0912-345-678")  # CALLGUARD_REGION=CN: no number, too short to judge
    assert "+886" not in out and not out.startswith(cli.replies.ui("number.title", "en"))


def test_check_region_from_a_phone_number(capsys):
    _, out, _ = run(capsys, "check", "--json", "+886 912 345 678 打來說我的帳戶涉案")
    assert json.loads(out)["region"] == "TW"


def test_batch_lines_may_carry_a_region(capsys, monkeypatch):
    lines = [json.dumps({"text": "I already paid them", "region": "AU"}),
             json.dumps({"text": "I already paid them"}),
             json.dumps({"text": "hello", "region": "Narnia"}),
             json.dumps({"text": "I already paid them", "region": "uk"})]  # people write UK for GB
    code, out, _ = run(capsys, "check", "--jsonl", "-", "--region", "GB", stdin="\n".join(lines) + "\n",
                       monkeypatch=monkeypatch)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["verdict"]["region"] == "AU" and rows[0]["verdict"]["paid"] is True
    assert rows[1]["verdict"]["region"] == "GB"
    assert rows[2] == {"line": 3, "error": rows[2]["error"]} and "unknown region" in rows[2]["error"]
    assert rows[3]["verdict"]["region"] == "GB"


def test_chat_ends_on_eof():
    def read(prompt):
        raise EOFError

    out: list[str] = []
    cli.chat(load_detector(None), read, out.append)
    assert len(out) == 2


def test_rules_lint_ok_and_bad(tmp_path, capsys):
    code, out, err = run(capsys, "rules", "lint")
    assert code == 0 and "0 error(s)" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nrules: []\n", encoding="utf-8")
    code, out, err = run(capsys, "rules", "lint", str(bad))
    assert code == 1
    assert all(line.startswith(f"{bad}:") for line in out.splitlines())
    assert "rules must be a non-empty list" in out


def test_rules_test_ok_and_failing(tmp_path, capsys):
    code, _, err = run(capsys, "rules", "test")
    assert code == 0 and " 0 failed" in err
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    doc = yaml.load((ROOT / "rules" / "scam_patterns.yaml").read_text(encoding="utf-8"), Loader=loader)
    # A rule whose no_match examples include one of its own match examples must fail
    # (the first rule alone, with every list it may use: checking it takes a fraction of the whole file's time).
    doc["rules"] = doc["rules"][:1]
    first = doc["rules"][0]["examples"]
    first["no_match"] = first["no_match"] + first["match"][:1]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    code, out, err = run(capsys, "rules", "test", str(path))
    assert code == 1
    assert "no_match example flagged (scored" in out and out.startswith(f"{path}:")


def test_bad_rules_file_for_check(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("not: [valid", encoding="utf-8")
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--rules", str(bad), "hello"])
    assert f"{bad}:" in str(info.value)


def test_python_dash_m_and_console_script():
    proc = subprocess.run([sys.executable, "-m", "callguard", "check", "--json", SCAM], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scam"] is True


def test_verdicts_do_not_depend_on_the_process_hash_seed(tmp_path):
    """Set iteration order differs between processes; ties must not follow it."""
    from callguard.detect import load_rules

    rs = load_rules(ROOT / "rules" / "scam_patterns.yaml")
    texts = [t for r in rs.rules for t in r.examples_match + r.examples_no_match]
    payload = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    outputs = []
    for seed in ("1", "2"):
        # Each process compiles the rules itself: from the compiled-rules cache, the second
        # would read back what the first compiled, under the first one's seed.
        env = {**os.environ, "PYTHONHASHSEED": seed, "CALLGUARD_CACHE_DIR": "off"}
        proc = subprocess.run([sys.executable, "-m", "callguard", "check", "--jsonl", "-"], input=payload, text=True,
                              capture_output=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == len(texts)


def _strict_json(line: str) -> object:
    """json.loads that refuses NaN/Infinity, which are not JSON (Python writes them by default)."""
    def refuse(name):
        raise AssertionError(f"{name} in the output: not valid JSON")
    return json.loads(line, parse_constant=refuse)


def test_batch_hostile_lines_each_get_an_error_record_and_the_run_goes_on(capsys, monkeypatch):
    good = json.dumps({"id": "ok", "text": SCAM}, ensure_ascii=False)
    hostile = [
        '{"text": "\\ud800"}',                              # a lone surrogate: not Unicode text
        '{"text": "ok", "name": "\\udfff x"}',              # ... in a field that would be copied through
        "[" * 100_000 + "]" * 100_000,                      # nested deeper than the parser can follow
        '{"text": "ok", "x": NaN}',                         # not JSON, but Python reads (and writes) it
        '{"text": "ok", "x": -Infinity}',
        '{"text": "ok", "x": 1e999}',                       # a float that becomes infinity
        '{"text": "ok", "x": ' + "9" * 5000 + "}",          # an int past Python's conversion limit
    ]
    lines = [x for bad in hostile for x in (bad, good)]
    code, out, _ = run(capsys, "check", "--jsonl", "-", stdin="\n".join(lines) + "\n", monkeypatch=monkeypatch)
    assert code == 0
    rows = [_strict_json(line) for line in out.splitlines()]
    assert len(rows) == len(lines)
    for number, row in enumerate(rows, 1):
        if number % 2:  # a hostile line: its own error record, with its line number
            assert set(row) == {"line", "error"} and row["line"] == number and row["error"], row
        else:  # the good line after it was judged as usual
            assert row["id"] == "ok" and row["verdict"]["scam"] is True
    out.encode("utf-8")  # the whole output is valid UTF-8


def test_batch_from_stdin_with_bytes_that_are_not_utf8():
    payload = b'{"text": "\xff\xfe bad bytes"}\n' + json.dumps({"text": SCAM}).encode() + b"\n"
    proc = subprocess.run([sys.executable, "-m", "callguard", "check", "--jsonl", "-"], input=payload,
                          capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    first, second = (_strict_json(line) for line in proc.stdout.decode("utf-8").splitlines())
    assert first["text"] == "\ufffd\ufffd bad bytes" and "verdict" in first
    assert second["verdict"]["scam"] is True
