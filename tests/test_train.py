"""``callguard train`` (bot/train.py): deterministic, and its input errors are clear."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("scipy")  # the [train] extra; the [test] extra installs it

from callguard.cli import main  # noqa: E402
from callguard.detect.model import Model  # noqa: E402
from callguard.train import TrainError, read_examples, train  # noqa: E402

# Hand-written for these tests: three "sources" that say scam and benign things
# in their own ways, so a feature must be shared to count.
SCAM = [
    "they told me to buy gift cards and read them the codes",
    "the caller said my account is frozen and I must transfer money to a safe account",
    "a man said he was from the bank and asked for the verification code",
    "pay the redelivery fee with gift cards or the parcel is returned",
    "对方说我的账户被冻结，让我把钱转到安全账户",
    "客服让我把验证码告诉他，说要退款",
    "他让我下载一个软件共享屏幕，然后转账",
]
BENIGN = [
    "my parcel arrived this morning and the box was fine",
    "can we meet for lunch tomorrow at noon",
    "the bank branch opens at nine on saturdays",
    "I paid for the groceries with my card",
    "今天天气很好，我们去公园散步吧",
    "晚上一起吃饭吗，我订好了餐厅",
    "银行网点周六上午九点开门",
]


def corpus_lines(prefix: str) -> list[str]:
    lines = []
    for source in ("north", "south", "east"):
        for text in SCAM:
            lines.append(json.dumps({"text": f"{prefix}{text} ({source})", "label": "scam", "source": source}))
        for text in BENIGN:
            lines.append(json.dumps({"text": f"{text} ({source})", "label": "benign", "source": source}))
    return lines


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(corpus_lines("")) + "\n", encoding="utf-8")
    return path


def test_training_is_deterministic(corpus, tmp_path):
    first, second = tmp_path / "a.cgm", tmp_path / "b.cgm"
    assert main(["train", str(corpus), "--out", str(first)]) == 0
    assert main(["train", str(corpus), "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    model = Model.load(first)
    assert model.info["texts"] == 42 and set(model.info["sources"]) == {"north", "south", "east"}
    assert 0.5 <= model.low <= model.medium <= 1.0


def test_the_trained_model_ranks_scams_above_benign_texts(corpus):
    model = train(read_examples([corpus]))
    scam = [model.probability(t) for t in SCAM]
    benign = [model.probability(t) for t in BENIGN]
    assert min(scam) > max(benign)
    assert all(w > 0 for w in model.weights.values())  # n-grams only add evidence of a scam


def test_a_feature_of_one_source_only_gets_no_weight(tmp_path):
    lines = corpus_lines("")
    lines.append(json.dumps({"text": "zebracode zebracode zebracode", "label": "scam", "source": "north"}))
    lines.append(json.dumps({"text": "zebracode again", "label": "scam", "source": "north"}))
    lines.append(json.dumps({"text": "zebracode once more", "label": "scam", "source": "north"}))
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    model = train(read_examples([path]))
    from callguard.detect.model import bucket

    assert bucket("w:zebracode", model.bits) not in model.weights
    assert bucket("w:gift", model.bits) in model.weights


@pytest.mark.parametrize("content, says", [
    ('{"text": "hi", "label": "spam", "source": "x"}', ":1: 'label' must be 'scam' or 'benign'"),
    ('not json', ":1: not JSON"),
    ('{"label": "scam"}', ":1: each line must be a JSON object with a string 'text'"),
])
def test_bad_training_input_names_file_and_line(tmp_path, content, says):
    path = tmp_path / "bad.jsonl"
    path.write_text(content + "\n", encoding="utf-8")
    with pytest.raises(TrainError, match=says) as caught:
        read_examples([path])
    assert str(path) in str(caught.value)


def test_cli_train_reports_errors_without_a_traceback(tmp_path, capsys):
    missing = tmp_path / "missing.jsonl"
    with pytest.raises(SystemExit, match="callguard train: .*missing.jsonl: cannot read"):
        main(["train", str(missing), "--out", str(tmp_path / "m.cgm")])
    one_label = tmp_path / "one.jsonl"
    one_label.write_text(json.dumps({"text": "hello", "label": "benign", "source": "a"}) + "\n")
    with pytest.raises(SystemExit, match="needs both scam and benign"):
        main(["train", str(one_label), "--out", str(tmp_path / "m.cgm")])


def test_check_with_a_model_file(corpus, tmp_path, capsys):
    out = tmp_path / "m.cgm"
    main(["train", str(corpus), "--out", str(out)])
    capsys.readouterr()
    assert main(["check", "--json", "--model", str(out), "hello there"]) == 0
    assert json.loads(capsys.readouterr().out)["risk"] in ("none", "low")
    bad = tmp_path / "bad.cgm"
    bad.write_bytes(b"nonsense")
    with pytest.raises(SystemExit, match="bad.cgm: not a usable CallGuard model file"):
        main(["check", "--model", str(bad), "hello"])
