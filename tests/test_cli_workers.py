"""Batch lines judged in several processes: same output, same order, bounded reads."""

import io
import json
import os
import sys

from callguard import cli
from callguard.cli import workers

SCAM = "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"


def test_lines_come_back_in_order_from_several_processes(monkeypatch):
    monkeypatch.setattr(workers, "BLOCK_PER_JOB", 50)  # several blocks: numbering goes on across them
    lines = [f"line {i}" if i % 7 else "  " for i in range(1, 1001)]
    judge = lambda number, line: None if not line.strip() else (f"{number}|{line}|{os.getpid()}", number % 11 == 0)
    results = list(workers.judged_in_order(judge, iter(lines), jobs=2))
    numbers = [int(out.split("|")[0]) for out, _ in results]
    assert numbers == [i for i in range(1, 1001) if i % 7]  # blank lines skipped, the rest in order
    assert all(out.split("|")[1] == f"line {n}" for out, n in zip((o for o, _ in results), numbers))
    assert [failed for _, failed in results] == [n % 11 == 0 for n in numbers]
    pids = {out.split("|")[2] for out, _ in results}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # judged by two workers, not by this process


def test_a_small_batch_or_one_job_is_judged_in_this_process():
    judge = lambda number, line: (str(os.getpid()), False)
    assert {out for out, _ in workers.judged_in_order(judge, ["x"] * 10, jobs=4)} == {str(os.getpid())}
    assert {out for out, _ in workers.judged_in_order(judge, ["x"] * 1000, jobs=1)} == {str(os.getpid())}


def test_the_batch_output_is_the_same_whatever_the_number_of_jobs(capsys, monkeypatch):
    texts = [SCAM, "今天天气很好", "Your parcel is held, pay the £1.99 redelivery fee at royal-mail-fee.top",
             "Hi mum, can you pick me up at 6?", "this is not json", "", '{"text": "ok", "x": NaN}']
    lines = []
    for i in range(700):
        text = texts[i % len(texts)]
        if text in ("this is not json", "") or text.startswith("{"):
            lines.append(text)
        else:
            lines.append(json.dumps({"id": i, "text": text, **({"region": "HK"} if i % 5 == 0 else {})},
                                    ensure_ascii=False))
    stdin = "\n".join(lines) + "\n"
    outputs = []
    for jobs in ("1", "2"):
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        assert cli.main(["check", "--jobs", jobs, "--jsonl", "-"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    rows = [json.loads(line) for line in outputs[0].splitlines()]
    assert len(rows) == 600  # 100 blank lines skipped
    errors = [row["line"] for row in rows if "error" in row]
    assert errors == [i + 1 for i in range(700) if i % 7 in (4, 6)]


def test_jobs_must_be_a_small_positive_number(capsys):
    import pytest

    for bad in ("0", "-2", "many", "100"):
        with pytest.raises(SystemExit):
            cli.main(["check", "--jobs", bad, "--jsonl", "-"])
        assert "--jobs" in capsys.readouterr().err
