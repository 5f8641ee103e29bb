"""The inner loops of detection, in C when the C module was built, else in Python.

This is the one place where the choice is made, once, at import:
``callguard.detect._kernels`` (bot/detect/_kernels.c, built by ``pip
install`` when a C compiler is there) or its Python twin
:mod:`.pykernels`. Both give the same results (tests/test_kernels.py);
the C ones are several times faster (bench/README.md, "Matcher").
``CALLGUARD_KERNELS=python`` forces the Python ones (for a comparison).

``NAME`` says which ones run: ``"C"`` or ``"Python"``.
"""

from __future__ import annotations

import os

from . import pykernels
from .pykernels import SPACED, SPACED_CHARS

__all__ = ["NAME", "SPACED", "SPACED_CHARS", "Automaton", "squeeze", "squeeze_words", "scan_matches", "one_edit", "gap_cost", "chain",
           "short_occurrences", "best_hits"]


def _load():
    if os.environ.get("CALLGUARD_KERNELS", "").strip().lower() == "python":
        return pykernels, "Python"
    try:
        from . import _kernels
    except ImportError:  # not built (no compiler at install time): the Python twins
        return pykernels, "Python"
    if not all(hasattr(_kernels, name) for name in __all__ if name not in ("NAME", "SPACED", "SPACED_CHARS")):
        return pykernels, "Python"  # a stale build of an older version (tests/test_kernels.py says so)
    return _kernels, "C"


_chosen, NAME = _load()
Automaton = _chosen.Automaton
squeeze = _chosen.squeeze
squeeze_words = _chosen.squeeze_words
scan_matches = _chosen.scan_matches
one_edit = _chosen.one_edit
gap_cost = _chosen.gap_cost
chain = _chosen.chain
best_hits = _chosen.best_hits
short_occurrences = _chosen.short_occurrences
