"""Caption and picture lines as one judged text; the lines a reply quotes; the photo size
that is downloaded; the picture part of a reply. Pure Python: no OCR engine needed."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from callguard.detect import Detector, load_rules
from callguard.config import DEFAULT_RULES
from callguard.ocr import replies as picture_texts
from callguard.ocr.image import MAX_BYTES
from callguard.ocr.text import MAX_QUOTE_CHARS, MAX_QUOTED, combine, quoted_lines
from callguard.telegram.pictures import TooBig, pick_photo

LINES = ("9:41 76%", "10655 0231", "【通信管理局】您的手机号码涉嫌发", "送违法短信，将在2小时内停机冻结。",
         "请立即回电，我们将为您转接公安机", "关处理。")


def span(judged, line: int, start: int, end: int):
    """An evidence-like object covering characters start:end of picture line ``line``."""
    base = judged.spans[line][0]
    return SimpleNamespace(start=base + start, end=base + end)


def test_the_caption_comes_first_and_every_line_keeps_its_place():
    judged = combine("  is this real?  ", ["  first line ", "", "second"])
    assert judged.text == "is this real?\nfirst line\nsecond"
    assert judged.lines == ("first line", "second")
    assert [judged.text[a:b] for a, b in judged.spans] == ["first line", "second"]
    assert combine(None, ["only"]).text == "only" and combine("", []).text == ""


def test_quoted_lines_are_those_the_evidence_touches_rejoined_as_they_read():
    judged = combine("真的吗", LINES)
    # "涉嫌发送" runs over the wrap between lines 2 and 3; "转接" is on line 4.
    evidence = [span(judged, 2, 13, 16), span(judged, 3, 0, 1), span(judged, 4, 12, 14)]
    assert quoted_lines(judged, evidence) == [
        "【通信管理局】您的手机号码涉嫌发送违法短信，将在2小时内停机冻结。请立即回电，我们将为您转接公安机"]
    assert quoted_lines(judged, [span(judged, 0, 0, 2), span(judged, 5, 0, 2)]) == ["9:41 76%", "关处理。"]
    caption_only = SimpleNamespace(start=0, end=2)  # evidence in the caption is not a picture line
    assert quoted_lines(judged, [caption_only]) == []


def test_english_lines_are_rejoined_with_a_space_and_long_passages_cut():
    judged = combine(None, ["Your parcel is held due to", "unpaid shipping fee.", "x" * 300])
    assert quoted_lines(judged, [span(judged, 0, 5, 11), span(judged, 1, 0, 6)]) == [
        "Your parcel is held due to unpaid shipping fee."]
    [long] = quoted_lines(judged, [span(judged, 2, 0, 1)])
    assert len(long) == MAX_QUOTE_CHARS and long.endswith("…")
    many = combine(None, [f"line {i}" for i in range(10)])
    assert len(quoted_lines(many, [span(many, i, 0, 1) for i in range(0, 10, 2)])) == MAX_QUOTED


def test_the_picture_part_quotes_evidence_or_shows_what_was_read():
    detector = Detector(load_rules(DEFAULT_RULES))
    scam = combine(None, LINES)
    part = picture_texts.picture_part(scam, detector.check(scam.text), "zh-Hans", html=False)
    assert part.startswith(picture_texts.text("picture.quoted", "zh-Hans") + "\n“【通信管理局】")
    benign = combine(None, ["9:41", "妈妈", "我周末回家吃饭，帮我留点饺子", "好的"])
    verdict = detector.check(benign.text)
    assert not verdict.scam
    part = picture_texts.picture_part(benign, verdict, "zh-Hans")
    # Nothing gave it away: the wordiest lines show what the reassuring answer is based on.
    assert part == "<b>我从图片里读到</b>\n“妈妈”\n“我周末回家吃饭，帮我留点饺子”"
    assert picture_texts.picture_part(combine("caption", []), verdict, "en") is None


def photo(width: int, height: int, size: int | None = None):
    return SimpleNamespace(width=width, height=height, file_size=size, file_id=f"{width}x{height}")


def test_the_photo_size_downloaded_is_the_smallest_read_at_full_detail():
    sizes = [photo(90, 200), photo(320, 711), photo(576, 1280), photo(1080, 2400), photo(1440, 3200)]
    assert pick_photo(sizes).file_id == "1080x2400"  # 576 wide would be read as it is: 1080 is scaled to 720
    assert pick_photo(sizes[:3]).file_id == "576x1280"  # nothing bigger: the largest
    assert pick_photo([photo(1080, 2400, MAX_BYTES + 1), photo(576, 1280)]).file_id == "576x1280"
    with pytest.raises(TooBig):
        pick_photo([photo(12_000, 9_000)])
