"""What was read from a picture, and how it is judged and quoted.

Pure Python, importable without the ``ocr`` extra: the bot, the CLI and the
tests use it whether or not this installation can read pictures.

The judged text is the caption (what the person wrote) and then the picture's
lines, one per line. Line breaks cost the detector nothing (normalisation drops
whitespace, so a phrase wrapped over two lines of a chat bubble still matches),
and they let the reply quote whole recognised lines: the evidence spans of the
verdict are offsets into the judged text, so the lines they fall on are known.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["ImageText", "Judged", "combine", "quoted_lines", "shorten", "MAX_QUOTED", "MAX_QUOTE_CHARS"]

MAX_QUOTED = 3  # passages quoted from a picture
MAX_QUOTE_CHARS = 120  # per passage; a longer one is cut with an ellipsis


@dataclass(frozen=True)
class ImageText:
    """The lines of text read from one picture, top to bottom."""

    lines: tuple[str, ...]
    seconds: float = 0.0  # time the OCR engine took (decode included), for logs and the benchmark

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class Judged:
    """Caption and picture lines as one text, with where each picture line is in it."""

    text: str
    lines: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # (start, end) of each of ``lines`` in ``text``


def combine(caption: str | None, lines: Sequence[str]) -> Judged:
    """The text to judge and store for a picture: the caption first, then its lines."""
    caption = (caption or "").strip()
    parts: list[str] = [caption] if caption else []
    spans: list[tuple[int, int]] = []
    position = len(caption) + 1 if caption else 0
    kept = tuple(line.strip() for line in lines if line.strip())
    for line in kept:
        spans.append((position, position + len(line)))
        parts.append(line)
        position += len(line) + 1
    return Judged("\n".join(parts), kept, tuple(spans))


def quoted_lines(judged: Judged, evidence: Iterable) -> list[str]:
    """The picture's lines that gave the verdict away, as at most ``MAX_QUOTED`` passages.

    A line is quoted when an evidence span (``.start``/``.end`` in ``judged.text``)
    touches it; neighbouring quoted lines are joined into one passage, the way they
    read on the screen (a chat bubble wraps one sentence over several lines)."""
    hit = [False] * len(judged.lines)
    for ev in evidence:
        for i, (start, end) in enumerate(judged.spans):
            if ev.start < end and ev.end > start:
                hit[i] = True
    passages: list[list[str]] = []
    previous = -2
    for i, line in enumerate(judged.lines):
        if not hit[i]:
            continue
        if i == previous + 1:
            passages[-1].append(line)
        else:
            passages.append([line])
        previous = i
    return [shorten(_join(p)) for p in passages[:MAX_QUOTED]]


def _join(lines: Sequence[str]) -> str:
    """Rejoin wrapped lines: nothing between Chinese characters, a space between words."""
    text = lines[0]
    for line in lines[1:]:
        wide = _wide(text[-1]) or _wide(line[0])  # Chinese characters and full-width punctuation
        text += ("" if wide else " ") + line
    return text


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def shorten(text: str) -> str:
    """``text`` cut to ``MAX_QUOTE_CHARS`` characters, with an ellipsis if it was longer."""
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1] + "…"
