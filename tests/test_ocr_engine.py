"""The OCR engine and its worker pool (the ``ocr`` extra; skipped with the reason without it).

* the engine reads a screenshot with the network forbidden: its models come from the
  wheel, nothing is fetched (a subprocess, through ``callguard check --image``);
* the pool refuses work past its queue at once, replaces a worker that runs past its
  timeout or dies, and reads the next picture as if nothing happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from callguard import ocr
from callguard.ocr.engine import group_lines
from callguard.ocr.pool import OcrBusy, OcrFailed, OcrTimeout
from tests.support.screenshots import SAMPLES, Style, cjk_font_path, render

ROOT = Path(__file__).resolve().parent.parent


def box(x0: float, y0: float, x1: float, y1: float) -> list[list[float]]:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def test_boxes_on_one_row_are_one_line_read_left_to_right():
    found = [(box(520, 16, 690, 45), "76%", 0.9), (box(29, 13, 87, 49), "9:41", 0.99),
             (box(53, 248, 537, 280), "媽，我是小明", 0.97), (box(54, 294, 300, 323), "車禍了", 0.98),
             (box(320, 296, 537, 321), "急需一筆錢", 0.98)]
    assert group_lines(found) == ["9:41 76%", "媽，我是小明", "車禍了 急需一筆錢"]
    assert group_lines([(box(0, 0, 9, 9), "  ", 0.9)]) == []


def test_a_doubtful_line_is_read_again_from_a_sharper_copy():
    """At 720 pixels wide this dark screenshot's second line came out as "or ar l er a uar
    and" (score 0.68); read again from a 1080-wide copy it is right."""
    if not ocr.available():
        pytest.skip(f"needs the ocr extra: {ocr.MISSING}")
    if cjk_font_path() is None:
        pytest.skip("no CJK font to draw the screenshot with (apt-get install fonts-wqy-microhei)")
    from callguard.ocr import engine
    from callguard.ocr.image import load

    sample = next(s for s in SAMPLES if s.id == "sms-freeze-en")
    shot = render(sample, Style(width=1242, dark=True, font_scale=0.85))
    assert "Your number has sent illegal messages and" in engine.read_image(shot.data).lines
    pixels = load(shot.data)
    found = engine._read(pixels)
    line = next(i for i, (_, text, _) in enumerate(found) if "frozen" in text)
    found[line] = (found[line][0], "w1ll b3 fr0z3n", 0.3)  # as if this line had been misread
    again = engine._second_look(shot.data, pixels.shape[1], found)
    assert again[line][1] == "will be frozen in 2 hours. Press 1 to speak" and again[line][2] > 0.9
    confident = [i for i, (_, _, score) in enumerate(found) if score >= engine.SECOND_LOOK_BELOW]
    assert [again[i][1] for i in confident] == [found[i][1] for i in confident]  # lines read well stay as read
    assert engine._read(pixels)  # and the next picture is read whole again (detection included)


# A subprocess that forbids every network connection, then reads a screenshot with the CLI.
OFFLINE = """
import sys
def no_network(event, args):
    if event.startswith("socket.") and event not in ("socket.__new__", "socket.gethostname"):
        raise RuntimeError(f"the OCR engine used the network: {event} {args!r}")
sys.addaudithook(no_network)
from callguard import cli
sys.exit(cli.main(["check", "--json", "--image", sys.argv[1]]))
"""


def test_the_engine_reads_a_screenshot_offline(tmp_path):
    if not ocr.available():
        pytest.skip(f"needs the ocr extra: {ocr.MISSING}")
    if cjk_font_path() is None:
        pytest.skip("no CJK font to draw the screenshot with (apt-get install fonts-wqy-microhei)")
    sample = next(s for s in SAMPLES if s.id == "sms-freeze-hant")
    shot = render(sample, Style(width=1170, jpeg_quality=80))
    path = tmp_path / "shot.jpg"
    path.write_bytes(shot.data)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLGUARD_")}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"))  # no model cache to fall back on either
    result = subprocess.run([sys.executable, "-c", OFFLINE, str(path)], capture_output=True, text=True,
                            timeout=180, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads(result.stdout)
    assert "【通訊管理局】您的電話號碼涉嫌發送違法" in record["image_text"].replace("\n", "")
    assert record["verdict"]["scam"] is True and record["verdict"]["risk"] == "high"
    written = [p.name for p in tmp_path.rglob("*") if p.is_file() and p != path]
    assert not [name for name in written if name.endswith((".onnx", ".txt", ".yaml"))], written  # no model, no dict


# ------------------------------------------------------------------ the pool (one per session)


async def test_a_full_queue_refuses_at_once(ocr_pool):
    ocr_pool.max_waiting, saved = 1, ocr_pool.max_waiting
    try:
        sleeping = asyncio.ensure_future(ocr_pool._run(time.sleep, 1.0))
        await asyncio.sleep(0)
        started = time.perf_counter()
        with pytest.raises(OcrBusy):
            await ocr_pool.read(b"any picture")
        assert time.perf_counter() - started < 0.5
        await sleeping
    finally:
        ocr_pool.max_waiting = saved
    assert ocr_pool.waiting == 0


async def test_a_picture_past_its_timeout_or_a_dying_worker_is_replaced(ocr_pool):
    """Both kill the worker; the pool starts another and reads on."""
    with pytest.raises(OcrTimeout):
        await ocr_pool._run(time.sleep, 30, timeout=0.5)
    with pytest.raises(OcrFailed):
        await ocr_pool._run(os._exit, 3)
    from callguard.ocr.image import ImageRejected

    with pytest.raises(ImageRejected) as info:  # a bad picture comes back as its reason, the worker lives on
        await ocr_pool.read(b"not a picture")
    assert info.value.reason == "not_an_image"
    assert ocr_pool.waiting == 0


# A process with a started OCR pool: prints its workers' pids, then waits to be killed.
WITH_POOL = """
import asyncio, multiprocessing
from callguard.ocr.pool import OcrPool

async def main():
    pool = OcrPool(1)
    await pool.warm_up()
    print(*[p.pid for p in multiprocessing.active_children()], flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def test_a_killed_bot_leaves_no_ocr_worker_behind(tmp_path):
    if not ocr.available():
        pytest.skip(f"needs the ocr extra: {ocr.MISSING}")
    script = tmp_path / "with_pool.py"  # spawn re-imports the main module: it must be a file
    script.write_text(WITH_POOL)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert workers and all(Path(f"/proc/{pid}").exists() for pid in workers)
    finally:
        parent.kill()
        parent.wait(30)
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers):
        assert time.monotonic() < deadline, f"OCR workers {workers} outlived their parent"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"
