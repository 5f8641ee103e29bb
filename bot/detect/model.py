"""A learned second opinion: a linear model on hashed n-grams.

The rules say *why* a text is a scam; this model only says *how much it reads
like one*. It is a logistic regression over character 1-3-grams of the Chinese
in a text and word 1-2-grams of the rest (English), hashed into a fixed number
of buckets. Inference is this module alone: standard library only, no numpy,
nothing from Telegram or storage, a pure function of (model, text).

Features never see what told the training sources apart instead of the scams
(see ../shared/train/SOURCES.md): links, e-mail addresses, digits, punctuation
and whitespace are removed before any n-gram is formed, so an SMS with its
punctuation stripped and a chat with all of it give the same features for the
same words. A text's feature vector has unit length (each distinct feature
weighs 1/sqrt(count)), so length is not a signal either.

How it combines with the rules (``combine``): it can only ever *raise* a
verdict the rules gave, and only when very confident; it never lowers one.

Words take the rules' normal form (normalize.py: stems, SMS spellings), so a
model file fits the normalisation it was trained with: retrain after changing
it (``callguard train``; bench/loso.py says whether the result helps).
"""

from __future__ import annotations

import json
import math
import re
import struct
import zlib
from array import array
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Mapping

from .normalize import is_cjk, normalize

__all__ = ["Model", "ModelFileError", "features", "combine", "second_opinion", "RISK_ORDER", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MAGIC = b"CGMODEL\n"
RISK_ORDER = ("none", "low", "medium", "high")

# Links, bare domains and e-mail addresses: removed before anything else. The
# Chinese scam SMS of the training corpus had theirs stripped by their authors,
# so a link would otherwise be learned as "not a scam".
_TLDS = "com|net|org|cn|hk|tw|sg|my|uk|us|au|io|co|info|top|xyz|vip|cc|me|ly|gov|edu|app|link|site|shop|online"
# Linear time on any text: each alternative starts only where a link or an
# address can start (the lookbehinds), and possessive repeats never backtrack.
_LINK = re.compile(
    r"(?:https?://|www\.)[!-~]*+"  # a URL: printable ASCII up to a space or the next Chinese character
    r"|(?<![A-Za-z0-9.+_-])[A-Za-z0-9.+_-]++@[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)++"  # an e-mail address
    rf"|(?<![A-Za-z0-9.-])(?:[A-Za-z0-9-]++\.)++(?:{_TLDS})\b[!-~]*+",  # a bare domain, maybe with a path
    re.IGNORECASE,
)
_APOSTROPHES = re.compile("['\u2019\u02bc]")  # removed, as normalize does: "don't" is one word, "dont"
# Runs of Chinese characters, and runs of other letters (words): digits, punctuation,
# whitespace, symbols and "_" only separate them.
_CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"  # as normalize.is_cjk
_WORD_OR_CJK_RUN = re.compile(f"[{_CJK_CHARS}]+|[^\\W\\d_{_CJK_CHARS}]+")

MAX_CHARS = 4096  # a longer text is judged on its first MAX_CHARS characters (a Telegram message is at most 4,096)


def tokens(text: str) -> tuple[str, list[str]]:
    """The Chinese of ``text`` as one string (simplified, without anything
    between its characters), and its other words in the rules' form (lower
    case, NFKC, one form per English word: see normalize.py). Digits go with
    the punctuation: the letters on either side of them are what counts."""
    chinese: list[str] = []
    words: list[str] = []
    for run in _WORD_OR_CJK_RUN.findall(normalize(_APOSTROPHES.sub("", _LINK.sub(" ", text[:MAX_CHARS])))):
        (chinese if is_cjk(run[0]) else words).append(run)
    return "".join(chinese), words


def features(text: str) -> list[str]:
    """The distinct n-gram features of ``text``, in first-seen order:
    ``c:`` + 1-3 Chinese characters, ``w:`` + one word or two words."""
    chinese, words = tokens(text)
    seen: dict[str, None] = {}
    for n in (1, 2, 3):
        for i in range(len(chinese) - n + 1):
            seen["c:" + chinese[i : i + n]] = None
    for i, word in enumerate(words):
        seen["w:" + word] = None
        if i:
            seen["w:" + words[i - 1] + " " + word] = None
    return list(seen)


def language(text_features: Iterable[str]) -> str:
    """``zh`` when the text has at least as many distinct Chinese characters
    as distinct other words, else ``en``: which of the two intercepts applies."""
    chars = words = 0
    for f in text_features:
        if f.startswith("c:"):
            chars += len(f) == 3
        elif " " not in f:
            words += 1
    return "zh" if chars and chars >= words else "en"


def bucket(feature: str, bits: int) -> int:
    """The hash bucket of a feature: CRC-32 (stable across runs and machines,
    unlike ``hash``) of its UTF-8 bytes, cut to ``bits`` bits."""
    return zlib.crc32(feature.encode("utf-8")) & ((1 << bits) - 1)


class ModelFileError(ValueError):
    """A model file that cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Model:
    """Weights of a trained model. Immutable; ``probability`` is pure."""

    bits: int
    weights: Mapping[int, float]  # bucket -> weight; buckets not here weigh 0
    intercepts: Mapping[str, float]  # per language ("zh", "en")
    medium: float  # probability from which a rule verdict below medium is raised to medium
    low: float  # probability from which a "none" verdict is raised to low
    info: Mapping[str, object]  # what it was trained on, for people (not used to decide)

    def probability(self, text: str) -> float:
        """How much ``text`` reads like a scam, 0..1; 0 for a text without
        letters (nothing to judge)."""
        feats = features(text)
        if not feats:
            return 0.0
        get = self.weights.get
        bits = self.bits
        total = math.fsum(get(bucket(f, bits), 0.0) for f in feats)
        z = self.intercepts[language(feats)] + total / math.sqrt(len(feats))
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    # ------------------------------------------------------------- file format
    # MAGIC, a 4-byte little-endian header length, the header (UTF-8 JSON), then
    # zlib(bucket indices as little-endian uint32 + weights as little-endian float32).

    def to_bytes(self) -> bytes:
        buckets = sorted(self.weights)
        header = {"format": FORMAT_VERSION, "bits": self.bits, "count": len(buckets),
                  "intercepts": dict(sorted(self.intercepts.items())), "medium": self.medium, "low": self.low,
                  "info": self.info}
        head = json.dumps(header, sort_keys=True, ensure_ascii=False).encode("utf-8")
        index = array("I", buckets)
        values = array("f", (self.weights[b] for b in buckets))
        if struct.pack("=I", 1) != struct.pack("<I", 1):
            index.byteswap()
            values.byteswap()
        body = zlib.compress(index.tobytes() + values.tobytes(), 9)
        return _MAGIC + struct.pack("<I", len(head)) + head + body

    @classmethod
    def from_bytes(cls, data: bytes, source: str = "<model>") -> "Model":
        def fail(why: str) -> ModelFileError:
            return ModelFileError(f"{source}: not a usable CallGuard model file: {why}")

        if not data.startswith(_MAGIC):
            raise fail("it does not start with the CallGuard model header (train one with `callguard train`)")
        if len(data) < len(_MAGIC) + 4:
            raise fail("the file is cut short")
        (head_len,) = struct.unpack_from("<I", data, len(_MAGIC))
        start = len(_MAGIC) + 4
        if start + head_len > len(data):
            raise fail("the file is cut short")
        try:
            header = json.loads(data[start : start + head_len].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise fail(f"the header is not valid JSON ({exc})") from None
        if not isinstance(header, dict):
            raise fail("the header is not a JSON object")
        if header.get("format") != FORMAT_VERSION:
            raise fail(f"format version {header.get('format')!r}; this CallGuard reads version {FORMAT_VERSION}")
        try:
            bits, count = int(header["bits"]), int(header["count"])
            intercepts = {str(k): float(v) for k, v in header["intercepts"].items()}
            medium, low = float(header["medium"]), float(header["low"])
            info = header.get("info", {})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise fail(f"the header lacks or garbles a field ({exc!r})") from None
        if not 1 <= bits <= 32 or set(intercepts) != {"zh", "en"} or not 0 < low <= medium <= 1:
            raise fail("the header's values are out of range (bits 1-32, intercepts zh and en, 0 < low <= medium <= 1)")
        try:
            body = zlib.decompress(data[start + head_len :])
        except zlib.error as exc:
            raise fail(f"the weights are corrupt ({exc})") from None
        if len(body) != 8 * count:
            raise fail(f"the header announces {count} weights but the file holds {len(body) / 8:g}")
        index, values = array("I"), array("f")
        index.frombytes(body[: 4 * count])
        values.frombytes(body[4 * count :])
        if struct.pack("=I", 1) != struct.pack("<I", 1):
            index.byteswap()
            values.byteswap()
        if any(b >> bits for b in index) or not all(math.isfinite(v) for v in values):
            raise fail("a weight is out of range")
        return cls(bits, dict(zip(index, values)), intercepts, medium, low, info)

    @classmethod
    def load(cls, path: str | Path) -> "Model":
        """Read a model file; a missing, unreadable or malformed file raises
        ``ModelFileError`` with a message fit for the person who configured it."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read the model file: {exc.strerror or exc}") from None
        return cls.from_bytes(data, str(path))

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.to_bytes())


def combine(risk: str, probability: float, model: Model) -> str:
    """The risk after the model's second opinion on the rules' ``risk``.

    The rules stay in charge: the result is never below ``risk``. A verdict
    below medium becomes medium (a scam: "likely, here is how to check") only
    when ``probability >= model.medium``; a "none" becomes "low" (named as
    something to check, not a scam) from ``model.low``. High and medium stay.
    """
    rank = RISK_ORDER.index(risk)
    if probability >= model.medium:
        return RISK_ORDER[max(rank, 2)]
    if probability >= model.low:
        return RISK_ORDER[max(rank, 1)]
    return risk


def second_opinion(verdict, text: str, model: Model):
    """``verdict`` (a ``verdict.Verdict``) after the model's opinion on
    ``text``: the same object when the model changes nothing, else a copy with
    the raised risk (``combine``); category, rule and evidence stay the rules'.
    A raise from "none" therefore has no category: the reply says "likely a
    scam, here is how to check" without naming a kind.

    A message the rules read as a warning about a scam (``verdict.warns_of``:
    "PSA: callers who say they are from the bank...") is left alone: it is
    full of scam words on purpose, and the reply already tells that scam."""
    if verdict.risk in ("high", "medium") or verdict.warns_of is not None:
        return verdict  # nothing to raise: skip the model's work
    risk = combine(verdict.risk, model.probability(text), model)
    if risk == verdict.risk:
        return verdict
    return replace(verdict, risk=risk, scam=risk in ("high", "medium"))
