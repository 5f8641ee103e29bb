"""The OCR engine: RapidOCR with the PP-OCRv6 "small" models on onnxruntime.

``rapidocr`` 3.10 ships its three models (text detection, orientation,
recognition of Simplified and Traditional Chinese and English; about 31 MB)
inside the wheel. The engine is told the path of each model file explicitly,
so RapidOCR never takes the code path that downloads a model: a missing file
is an error, nothing is fetched (tests/test_ocr_engine.py runs it with the
network forbidden).

Why not ``rapidocr-onnxruntime`` 1.4 (PP-OCRv4): its recogniser's 6,623
characters lack 詐, 騙, 錢, 嗎, 別, 帳, 禍, 訴... the very words of a Traditional
Chinese scam message. On the same 54 benchmark screenshots its character error
rate was 7.6 % on Traditional Chinese (PP-OCRv6: 0.4 %) and its verdicts agreed
with the text's for 94 % of them (PP-OCRv6: 100 %), for the same CPU time per
picture (bench/README.md, "Screenshots").

This module runs in the OCR worker processes (see :mod:`callguard.ocr.pool`)
and, for ``callguard check --image``, in the CLI's own process. Each process
loads the models once. The engine uses one thread: a worker is meant to use one
core at most, leaving the other to the bot (see docs/reliability.md).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from .image import load
from .text import ImageText

__all__ = ["read_image", "init_worker", "group_lines", "warm_up", "MODEL_FILES"]

# The model files inside the rapidocr wheel, by step (its default "PP-OCRv6 small" set).
MODEL_FILES = {"Det": "PP-OCRv6_det_small.onnx", "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
               "Rec": "PP-OCRv6_rec_small.onnx"}

# A line read with less confidence than this is read again from a sharper copy of the picture.
SECOND_LOOK_BELOW = 0.85
SECOND_LOOK_SHARPNESS = 1.5  # 720 -> 1080 pixels wide for a phone screenshot

_engine = None


def _get_engine():
    """The process's RapidOCR instance with its three models loaded (about 2 s)."""
    global _engine
    if _engine is None:
        import rapidocr

        models = Path(rapidocr.__file__).resolve().parent / "models"
        params = {
            "Global.log_level": "error",  # it warns on every picture without text
            "Global.max_side_len": 100_000,  # ``image.load`` has bounded and scaled the picture already
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        for step, name in MODEL_FILES.items():
            path = models / name
            if not path.is_file():  # never let RapidOCR fall back to downloading it
                raise FileNotFoundError(f"the OCR model {path} is missing: reinstall the ocr extra")
            params[f"{step}.model_path"] = str(path)
        engine = rapidocr.RapidOCR(params=params)
        for load_model in ("_load_det_model", "_load_cls_model", "_load_rec_model"):  # it loads them lazily
            getattr(engine, load_model, lambda: None)()
        _engine = engine
    return _engine


def init_worker(nice: int = 10) -> None:
    """Pool initializer: lower the worker's CPU priority, then load the models.

    With a nice value of 10 the bot's own process wins the CPU whenever both
    want it, so text users stay fast while pictures are read. A failure to
    load is logged and retried by the first read (which then reports it)."""
    if nice:
        try:
            os.nice(nice)
        except OSError:  # not permitted here: carry on at normal priority
            pass
    try:
        _get_engine()
    except Exception:
        import logging

        logging.getLogger(__name__).exception("the OCR models could not be loaded")


def warm_up() -> bool:
    """A task that only makes sure the worker has started and loaded its models."""
    _get_engine()
    return True


def read_image(data: bytes) -> ImageText:
    """The lines of text in the picture ``data`` (raises ``ImageRejected`` for a bad picture)."""
    started = time.perf_counter()
    pixels = load(data)
    found = _read(pixels)
    if any(score < SECOND_LOOK_BELOW for _, _, score in found):
        found = _second_look(data, pixels.shape[1], found)
    return ImageText(tuple(group_lines(found)), round(time.perf_counter() - started, 3))


def _read(pixels) -> list:
    """``(box, text, score)`` for every line of text the engine finds in ``pixels``.

    The steps are named on every call: RapidOCR keeps the ones given last."""
    result = _get_engine()(pixels, use_det=True, use_cls=True, use_rec=True)
    if result.txts is None or result.boxes is None:
        return []
    return list(zip(result.boxes, result.txts, result.scores))


def _second_look(data: bytes, width: int, found: list) -> list:
    """Read the doubtful lines again from a sharper copy of the picture.

    At 720 pixels wide nearly every line reads right, and the detector does a
    third of the work it would at 1080; but now and then one line comes out as
    noise with a low score ("or ar l er a uar and" for "Your number has sent illegal
    messages and", bench/README.md). That line alone is cut from a copy 1.5 times
    sharper and recognised again; the better reading wins."""
    sharp = load(data, SECOND_LOOK_SHARPNESS)
    factor = sharp.shape[1] / width
    if factor <= 1.01:  # the picture is no sharper than what was read
        return found
    engine = _get_engine()
    better = []  # the steps are named on every call: RapidOCR keeps the ones given last
    for box, text, score in found:
        if score < SECOND_LOOK_BELOW:
            xs, ys = [p[0] * factor for p in box], [p[1] * factor for p in box]
            margin = 0.2 * (max(ys) - min(ys))
            crop = sharp[max(0, int(min(ys) - margin)):int(max(ys) + margin) + 1,
                         max(0, int(min(xs) - margin)):int(max(xs) + margin) + 1]
            again = engine(crop, use_det=False, use_cls=False, use_rec=True)
            if again.txts and again.txts[0].strip() and again.scores[0] > score:
                text, score = again.txts[0], again.scores[0]
        better.append((box, text, score))
    return better


def group_lines(result: Iterable) -> list[str]:
    """Turn the engine's boxes into lines of text, top to bottom.

    Boxes whose vertical centres lie within half a box height of each other are
    one line (a status bar's clock and battery level; words the detector split),
    read left to right and joined by a space."""
    boxes = []
    for box, text, _score in result:
        text = str(text).strip()
        if not text:
            continue
        ys = [point[1] for point in box]
        xs = [point[0] for point in box]
        boxes.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text))
    boxes.sort()
    rows: list[list[tuple[float, float, float, str]]] = []
    for box in boxes:
        if rows and abs(box[0] - rows[-1][0][0]) <= max(box[1], rows[-1][0][1]) / 2:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [" ".join(b[3] for b in sorted(row, key=lambda b: b[2])) for row in rows]
