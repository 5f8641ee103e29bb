"""What the user reads about pictures, in Simplified Chinese, Traditional Chinese and English.

The texts are in ``bot/locales/*.yaml`` with the bot's others (keys ``bot.picture.*``,
``bot.help.pictures``, ``bot.help.voice``, ``bot.privacy.pictures``); this module puts
them together. The verdict itself is the same reply as for a typed description
(:mod:`callguard.replies`), with the picture's lines that gave the scam away quoted in it.
"""

from __future__ import annotations

from typing import Sequence

from .. import i18n
from ..detect.regions import Region
from ..replies import ui
from .text import Judged, quoted_lines, shorten

__all__ = ["text", "picture_block", "picture_part", "help_text", "privacy_text", "REJECTED_KEYS"]

SHOWN_WHEN_NOTHING_MATCHED = 2  # lines shown from a picture that gave nothing away

# ImageRejected.reason -> the text that explains it
REJECTED_KEYS = {"too_big": "picture.too_big", "too_long": "picture.too_long",
                 "not_an_image": "picture.unreadable", "unreadable": "picture.unreadable"}


def text(key: str, lang: str, *, region: Region | None = None) -> str:
    """A text about pictures in ``lang``; ``{police}`` in it is ``region``'s number."""
    return ui(key, lang, region=region)


def picture_block(lines: Sequence[str], lang: str, *, quoted: bool, html: bool = True) -> str:
    """The quoted lines of a picture under their heading, for the verdict reply.

    ``quoted`` lines gave a scam away ("In your picture"); otherwise they are
    simply what was read ("What I read in your picture"), so the person can see
    whether the picture was read right before trusting a reassuring answer."""
    heading = text("picture.quoted" if quoted else "picture.read", lang)
    body = "\n".join(f"“{line}”" for line in lines)
    return i18n.bold(heading, html) + "\n" + i18n.escape(body, html)


def picture_part(judged: Judged, verdict, lang: str, *, html: bool = True) -> str | None:
    """The picture's part of the verdict reply, or None when nothing was read.

    The lines holding the verdict's evidence are quoted; when the picture gave
    nothing away, its wordiest lines are shown instead, so that a reassuring
    answer also shows what it was based on (a misread picture is visible)."""
    if not judged.lines:
        return None
    lines = quoted_lines(judged, verdict.evidence)
    if lines:
        return picture_block(lines, lang, quoted=verdict.scam, html=html)
    wordiest = sorted(range(len(judged.lines)),  # letters and characters, not a status bar's digits
                      key=lambda i: -sum(c.isalpha() for c in judged.lines[i]))[:SHOWN_WHEN_NOTHING_MATCHED]
    shown = [judged.lines[i] for i in sorted(wordiest)]
    return picture_block([shorten(line) for line in shown], lang, quoted=False, html=html)


def help_text(lang: str, *, reading: bool, region: Region | None = None) -> str:
    """/help: the bot's help, with what it does with pictures (``reading``: this server
    reads them) and voice messages (it cannot: no offline speech model is installable)."""
    first, _, rest = ui("help", lang, region=region).partition("\n\n")
    extra = ([text("help.pictures", lang)] if reading else []) + [text("help.voice", lang)]
    return "\n\n".join([first, "\n".join(extra)] + ([rest] if rest else []))


def privacy_text(lang: str, *, days: int) -> str:
    """/privacy: what is kept, with what is kept of a picture (its text, never the picture)."""
    first, _, rest = ui("privacy", lang, days=days).partition("\n")
    return "\n".join([first, text("privacy.pictures", lang)] + ([rest] if rest else []))
