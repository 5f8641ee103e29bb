"""``callguard check --image`` and batch lines with ``image``, in-process.

The engine loads its models once per process, so the pictures read here cost about a
second each; pictures without text cost a fraction of that."""

from __future__ import annotations

import io
import json
import sys

import pytest

from callguard import cli, ocr
from tests.support.screenshots import SAMPLES, Style, cjk_font_path, render

SAMPLE = {s.id: s for s in SAMPLES}


@pytest.fixture
def needs_engine():
    if not ocr.available():
        pytest.skip(f"needs the ocr extra: {ocr.MISSING}")


def screenshot(tmp_path, sample_id: str, style: Style, name: str = "shot.png"):
    if cjk_font_path() is None:
        pytest.skip("no CJK font to draw screenshots with (apt-get install fonts-wqy-microhei)")
    shot = render(SAMPLE[sample_id], style)
    path = tmp_path / name
    path.write_bytes(shot.data)
    return path


def blank(tmp_path, name: str = "blank.png"):
    from PIL import Image

    path = tmp_path / name
    Image.new("RGB", (400, 700), "white").save(path)
    return path


def run(capsys, *argv, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_image_prints_the_reply_quoting_the_picture(needs_engine, tmp_path, capsys):
    path = screenshot(tmp_path, "sms-parcel-en", Style(width=1080, jpeg_quality=85), "parcel.jpg")
    code, out, _ = run(capsys, "check", "--image", str(path))
    assert code == 0
    assert out.startswith("⚠️ This is very likely a scam (risk: high)")
    block = out.split("\n\nIn your picture\n", 1)[1].split("\n\n", 1)[0]
    quoted = [line.strip("“”").removesuffix(" …").removesuffix("…") for line in block.split("\n")]  # long lines are cut
    drawn = " ".join(SAMPLE["sms-parcel-en"].text.split())
    assert quoted and all(q in drawn or q == "Royal Mail" for q in quoted), quoted  # lines of the picture
    assert "<b>" not in out
    code, out, _ = run(capsys, "check", "--json", "--image", str(blank(tmp_path)), "Is", "this", "real?")
    record = json.loads(out)
    assert record == {"image": str(tmp_path / "blank.png"), "text": "Is this real?", "image_text": "",
                      "verdict": record["verdict"]} and record["verdict"]["scam"] is False


def test_batch_lines_may_carry_a_picture(needs_engine, tmp_path, capsys):
    screenshot(tmp_path, "chat-boss-hans", Style(width=720, dark=True), "boss.png")
    blank(tmp_path)
    (tmp_path / "notes.png").write_text("not a picture")
    lines = [
        {"id": 1, "image": "boss.png"},
        {"id": 2, "image": "blank.png", "text": "有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户"},
        {"id": 3, "image": "missing.png"},
        {"id": 4, "image": "notes.png"},
        {"id": 5, "image": ["boss.png"]},
        {"id": 6, "image": "blank.png", "text": 7},
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8")
    code, out, _ = run(capsys, "check", "--jsonl", str(batch))  # paths are relative to the batch file
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and len(rows) == 6
    assert rows[0]["verdict"]["scam"] is True and "我是你领导" in rows[0]["image_text"]
    assert rows[1]["image_text"] == "" and rows[1]["verdict"]["risk"] == "high"  # judged on the caption
    assert rows[2]["line"] == 3 and "No such file" in rows[2]["error"]
    assert rows[3]["line"] == 4 and "not_an_image" in rows[3]["error"]
    assert rows[4]["error"] == "'image' must be a picture's path (a string)"
    assert "'text' must be a string" in rows[5]["error"]


def test_without_the_extra_pictures_are_refused_with_the_way_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ocr, "available", lambda: False)
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--image", str(tmp_path / "any.png")])
    assert str(info.value) == f"callguard check: {ocr.MISSING}"
    code, out, _ = run(capsys, "check", "--jsonl", "-", stdin='{"image": "a.png"}\n{"text": "hello"}\n',
                       monkeypatch=monkeypatch)
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {"line": 1, "error": ocr.MISSING} and "verdict" in second


def test_image_and_jsonl_together_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["check", "--image", "a.png", "--jsonl", "-"])
    assert "not both" in str(info.value)
