"""Pictures never hold up text users: while five users each send a screenshot, the bot (its
own process, one OCR worker at low priority) keeps answering text within 300 ms at p99.

A shorter run of bench/bench_ocr.py's load scenario (same code). Timing on a shared
machine is noisy: a slow result is re-measured against the same traffic without
pictures, and judged only if the machine meets the bound at all.
"""

from __future__ import annotations

import pytest

from bench.bench_ocr import load_pictures, text_while_pictures
from callguard import ocr
from tests.support.screenshots import cjk_font_path

P99_BOUND_MS = 300.0
pytestmark = pytest.mark.slow


async def test_text_users_stay_fast_while_five_pictures_are_read(tmp_path, record_property):
    if not ocr.available():
        pytest.skip(f"needs the ocr extra: {ocr.MISSING}")
    if cjk_font_path() is None:
        pytest.skip("no CJK font to draw screenshots with (apt-get install fonts-wqy-microhei)")

    async def measure(name: str, pictures) -> dict:
        workdir = tmp_path / name
        workdir.mkdir()
        result = await text_while_pictures(workdir, pictures, min_seconds=3.0)
        print(f"\n{name}: {result}")
        return result

    pictures = load_pictures(width=720)  # as read (no scaling): the same OCR work, less decoding
    result = await measure("pictures", pictures)
    if result["text_p99_ms"] >= P99_BOUND_MS:
        alone = await measure("alone", [])
        if alone["text_p99_ms"] >= P99_BOUND_MS / 2:
            pytest.skip(f"machine too busy to judge: text p99 {alone['text_p99_ms']} ms with no pictures at all")
        result = await measure("pictures-again", pictures)
    record_property("pictures_load", result)
    assert len(result["pictures_answered_after_s"]) == 5  # every picture answered
    assert result["text_p99_ms"] < P99_BOUND_MS, result
