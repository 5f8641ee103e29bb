"""Read the scam message in a screenshot: OCR, offline, on the CPU.

People forward a screenshot of the SMS or chat far more often than they retype
it. This package turns a picture into lines of text that the detector judges
like a description:

* :mod:`.image` opens a picture within bounds (bytes, pixels, decoders);
* :mod:`.engine` runs RapidOCR on it (models inside the wheel, nothing fetched);
* :mod:`.pool` does that in worker processes with a timeout, off the event loop;
* :mod:`.text` combines caption and lines, and finds the lines to quote;
* :mod:`.replies` holds what the user reads about pictures.

The engine is the optional extra ``callguard[ocr]``; :func:`available` says
whether it is installed. Without it the bot answers pictures as before, plus a
line saying that this server cannot read them. Only :mod:`.text` and
:mod:`.replies` are imported where the extra may be missing.
"""

from __future__ import annotations

import importlib.util

__all__ = ["available", "MISSING", "ENGINE_MODULES"]

MISSING = "this installation cannot read pictures: install the extra with pip install 'callguard[ocr]'"


# What reading a picture imports; the ``ocr`` extra must install every one of them
# (rapidocr 3 leaves the choice of inference engine to us: onnxruntime is listed itself).
ENGINE_MODULES = ("rapidocr", "onnxruntime", "pebble", "PIL", "numpy")


def available() -> bool:
    """Whether the OCR engine and the worker pool are installed (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None for name in ENGINE_MODULES)
