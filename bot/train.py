"""Train the learned second opinion (``callguard train``): see bot/detect/model.py.

    callguard train CORPUS.jsonl [MORE.jsonl ...] --out model.cgm

Input: JSON lines with ``text``, ``label`` (``scam`` | ``benign``) and
``source`` (which collection a text comes from; ``lang`` is optional). Needs
numpy and scipy (``pip install 'callguard[train]'``); the bot does not.

Three choices keep the model from learning what tells the sources apart
instead of what tells scams apart (../shared/train/SOURCES.md):

* the features themselves (bot/detect/model.py: no punctuation, digits, links
  or length);
* **every source weighs the same** within its language and label, and scam and
  benign weigh the same within a language, so three thousand bank questions
  do not outvote twenty real scam calls;
* a feature counts only if it occurs in at least ``MIN_SOURCES`` sources (any
  label): a word only one collection uses says which collection it is.

The confidence thresholds are not guessed: the model is trained once per
source with that source left out, and ``medium`` is set so that no left-out
source's benign texts reach it more often than ``MEDIUM_FP`` (``low``: ``LOW_FP``).
That is what "very confident" has to mean on texts from a collection it never saw.

Training is deterministic: L-BFGS-B from all-zero weights (the threshold fits
start from the final fit's) on the same matrix, texts in file order; the same
files give a byte-identical model file (tests/test_train.py). There is no
random step (no sampling, no shuffling), so there is no seed to set.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .detect.model import Model, bucket, features, language

__all__ = ["Example", "TrainError", "read_examples", "train", "fit", "BITS", "MIN_SOURCES"]

BITS = 20  # 1M buckets: few collisions among the ~1M distinct n-grams, and only kept ones are stored
MIN_SOURCES = 2
MIN_DOCS = 3  # a feature must also occur in this many texts
L2 = 1.0  # on weights; the intercepts are not penalised
MAX_ITER = 1000
PRUNE = 1e-4  # smaller weights change no probability by more than ~0.01 % and are not stored
MEDIUM_FP = 0.005  # at most this share of an unseen source's benign texts may reach "medium"
LOW_FP = 0.02  # ... or "low"


class TrainError(ValueError):
    """Input that cannot be trained on; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    scam: bool
    source: str
    lang: str  # "zh" | "en"


def read_examples(paths: Sequence[str | Path]) -> list[Example]:
    """Labelled texts from JSON-lines files, in order. A file's lines without
    ``source`` count as one source named after the file."""
    examples: list[Example] = []
    for path in paths:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise TrainError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise TrainError(f"{path}: not UTF-8 text") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise TrainError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise TrainError(f"{path}:{number}: each line must be a JSON object with a string 'text'")
            if record.get("label") not in ("scam", "benign"):
                raise TrainError(f"{path}:{number}: 'label' must be 'scam' or 'benign', got {record.get('label')!r}")
            source = str(record.get("source") or Path(path).stem)
            lang = record.get("lang")
            lang = "zh" if isinstance(lang, str) and lang.startswith("zh") else lang  # zh-Hans, zh-Hant
            if lang not in ("zh", "en"):
                lang = language(features(record["text"]))
            examples.append(Example(record["text"], record["label"] == "scam", source, lang))
    return examples


class _Matrix:
    """Every example's features as hash buckets, computed once and reused by
    every fit (the leave-one-source-out fits differ only in rows and columns)."""

    def __init__(self, examples: Sequence[Example], bits: int):
        import numpy as np

        self.bits = bits
        rows, cols, vals = [], [], []
        zh = np.zeros(len(examples), dtype=bool)
        for i, ex in enumerate(examples):
            feats = features(ex.text)
            zh[i] = language(feats) == "zh"
            if feats:
                value = 1.0 / len(feats) ** 0.5
                rows.extend([i] * len(feats))
                cols.extend(bucket(f, bits) for f in feats)
                vals.extend([value] * len(feats))
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.vals = np.asarray(vals, dtype=np.float64)
        self.zh = zh
        self.scam = np.array([ex.scam for ex in examples], dtype=bool)
        self.sources = [ex.source for ex in examples]
        self.langs = [ex.lang for ex in examples]
        source_ids = {s: k for k, s in enumerate(sorted(set(self.sources)))}
        self.entry_source = np.array([source_ids[s] for s in self.sources], dtype=np.int64)[self.rows]


def fit(matrix: _Matrix, rows: Sequence[int], start: Model | None = None) -> Model:
    """Weighted, L2-regularised logistic regression on the examples ``rows``,
    with non-negative n-gram weights (see ``train``). ``start``: a model whose
    weights to start from; the optimum is unique (strictly convex), so it only
    saves iterations."""
    import numpy as np
    from scipy import sparse
    from scipy.optimize import minimize

    rows = np.asarray(sorted(rows), dtype=np.int64)
    chosen = np.zeros(len(matrix.sources), dtype=bool)
    chosen[rows] = True
    entry = chosen[matrix.rows]
    r, c, v = matrix.rows[entry], matrix.cols[entry], matrix.vals[entry]

    # Keep a bucket only if enough texts and sources have it. (Two features of
    # one text in the same bucket count twice: rare, and harmless here.)
    size = 1 << matrix.bits
    docs = np.bincount(c, minlength=size)
    n_sources = np.zeros(size, dtype=np.int64)
    entry_source = matrix.entry_source[entry]
    for k in np.unique(entry_source):
        n_sources += np.bincount(c[entry_source == k], minlength=size) > 0
    kept = np.flatnonzero((docs >= MIN_DOCS) & (n_sources >= MIN_SOURCES))
    column = np.full(size, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    keep_entry = column[c] >= 0
    position = np.full(len(matrix.sources), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    X = sparse.csr_matrix((v[keep_entry], (position[r[keep_entry]], column[c[keep_entry]])),
                          shape=(len(rows), len(kept)))
    XT = X.T.tocsr()
    zh = matrix.zh[rows].astype(np.float64)
    y = np.where(matrix.scam[rows], 1.0, -1.0)
    weight = _example_weights([matrix.sources[i] for i in rows], [matrix.langs[i] for i in rows], matrix.scam[rows])

    n = len(kept)

    def loss(theta):
        w, b_zh, b_en = theta[:n], theta[n], theta[n + 1]
        z = X @ w + b_zh * zh + b_en * (1.0 - zh)
        m = -y * z
        value = float(weight @ np.logaddexp(0.0, m)) + 0.5 * L2 * float(w @ w)
        g = -weight * y * _sigmoid(m)
        grad = np.empty_like(theta)
        grad[:n] = XT @ g + L2 * w
        grad[n] = g @ zh
        grad[n + 1] = g @ (1.0 - zh)
        return value, grad

    theta0 = np.zeros(n + 2)
    if start is not None:
        dense = np.zeros(size)
        for b, value in start.weights.items():
            dense[b] = value
        theta0[:n] = dense[kept]
        theta0[n], theta0[n + 1] = start.intercepts["zh"], start.intercepts["en"]
    # Weights >= 0: an n-gram can only add evidence of a scam. Otherwise the
    # model learns what the benign *sources* sound like (chat particles, task
    # dialogue) and calls everything that sounds different a scam.
    bounds = [(0.0, None)] * n + [(None, None)] * 2
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": MAX_ITER})
    theta = result.x
    weights = {int(b): float(w) for b, w in zip(kept, theta[:n]) if w > PRUNE}
    return Model(matrix.bits, weights, {"zh": float(theta[n]), "en": float(theta[n + 1])}, 1.0, 1.0, {})


def _sigmoid(x):
    import numpy as np

    return np.exp(-np.logaddexp(0.0, -x))


def _example_weights(sources: Sequence[str], langs: Sequence[str], scam) -> "np.ndarray":
    """Each (language, label) cell weighs the same; within a cell each source
    weighs the same. Scaled so the weights sum to the number of examples."""
    import numpy as np

    cell = [(lang, bool(s)) for lang, s in zip(langs, scam)]
    per_source = Counter(zip(cell, sources))
    sources_in_cell = defaultdict(set)
    for (c, s) in per_source:
        sources_in_cell[c].add(s)
    raw = np.array([1.0 / (len(sources_in_cell[c]) * per_source[(c, s)]) for c, s in zip(cell, sources)])
    return raw * (len(raw) / raw.sum())


def probabilities(model: Model, matrix: _Matrix, rows: Iterable[int]) -> list[float]:
    """The model's probability for the given rows, computed as inference does."""
    import numpy as np

    rows = list(rows)
    w = np.zeros(1 << matrix.bits)
    for b, value in model.weights.items():
        w[b] = value
    z = np.bincount(matrix.rows, weights=matrix.vals * w[matrix.cols], minlength=len(matrix.sources))
    out = []
    for i in rows:
        zi = z[i] + model.intercepts["zh" if matrix.zh[i] else "en"]
        out.append(float(1.0 / (1.0 + np.exp(-zi))))
    return out


def _threshold(scores: Sequence[float], fp: float) -> float:
    """The smallest probability that at most ``fp`` of ``scores`` reach."""
    ordered = sorted(scores, reverse=True)
    allowed = int(fp * len(ordered))  # that many may reach it
    if allowed >= len(ordered):
        return 0.5
    return min(1.0, max(0.5, ordered[allowed] + 1e-9))


def train(examples: Sequence[Example], bits: int = BITS, log=None) -> Model:
    """The model on all ``examples``, with thresholds from leave-one-source-out fits."""
    return train_rows(_Matrix(examples, bits), range(len(examples)), log)


def train_rows(matrix: _Matrix, rows: Iterable[int], log=None, fits: dict | None = None) -> Model:
    """``train`` on some rows of a feature matrix (bench/loso.py leaves a
    source out of the same matrix instead of building it again). ``fits``:
    a cache of threshold fits by the set of sources they saw, which
    bench/loso.py shares between its folds (leaving out A then B is the same
    fit as leaving out B then A)."""
    rows = sorted(rows)
    labels = {bool(matrix.scam[i]) for i in rows}
    if labels != {True, False}:
        raise TrainError("training needs both scam and benign texts")
    final = fit(matrix, rows)
    if log:
        log(f"fitted {len(final.weights)} weights on {len(rows)} texts")
    by_source: dict[str, list[int]] = defaultdict(list)
    for i in rows:
        by_source[matrix.sources[i]].append(i)
    medium = low = 0.5
    measured = False
    for held in sorted(by_source):
        benign = [i for i in by_source[held] if not matrix.scam[i]]
        rest = [i for i in rows if matrix.sources[i] != held]
        if not benign or {bool(matrix.scam[i]) for i in rest} != {True, False}:
            continue
        key = frozenset(matrix.sources[i] for i in rest)
        inner = fits.get(key) if fits is not None else None
        if inner is None:
            inner = fit(matrix, rest, start=final)
            if fits is not None:
                fits[key] = inner
        scores = probabilities(inner, matrix, benign)
        need = _threshold(scores, MEDIUM_FP)
        medium, low = max(medium, need), max(low, _threshold(scores, LOW_FP))
        measured = True
        if log:
            log(f"without {held}: {len(benign)} of its benign texts, {MEDIUM_FP:.1%} reach p >= {need:.4f}")
    if not measured:  # no source could be left out: nothing says how sure is sure, so never raise
        medium = low = 1.0
        if log:
            log("no source could be left out (each needs benign texts and the rest both labels): thresholds 1.0")
    info = {"texts": len(rows), "sources": dict(sorted(Counter(matrix.sources[i] for i in rows).items())),
            "min_sources": MIN_SOURCES, "min_docs": MIN_DOCS, "l2": L2, "medium_fp": MEDIUM_FP, "low_fp": LOW_FP}
    return Model(matrix.bits, final.weights, final.intercepts, round(medium, 6), round(min(low, medium), 6), info)
