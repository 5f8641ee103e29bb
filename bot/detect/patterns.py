"""The pattern syntax of rule groups (schema 2).

A pattern says how a scam *works* rather than one sentence it was once told
in. It is text with three kinds of holes::

    {kin}…{money_verb}          a kinship term, then within a short gap a money verb
    我是{org}的{staff}           我是 + an organisation + 的 + a staff title, touching
    转{amount}给我               an amount of money (recognised by code) between 转 and 给我
    (gift|steam|apple) card     one of the words in parentheses, then "card"

* ``{name}``: any term of the vocab list ``name`` (shared by all rules), or
  a built-in entity (:data:`.entities.ENTITIES`: amount, link, risky_link,
  phone, handle, code).
* ``(a|b|c)``: one of these literal alternatives.
* ``…`` (or ``...``): a gap of at most the group's ``gap`` (12 by default:
  twelve Chinese characters, an English word counting two, so six words).
* Anything else is literal text, normalised like messages
  (:mod:`.normalize`): Traditional/Simplified, case, punctuation and English
  inflections do not matter.

Elements not separated by ``…`` must touch (English words: one space apart).
English literals and terms match whole words only.
"""

from __future__ import annotations

import difflib
import re
from typing import Mapping

from .entities import ENTITIES
from .normalize import normalize
from .schema import Element, Pattern

__all__ = ["PatternError", "parse_pattern", "literal", "GAP"]

GAP = "…"
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says what and where."""


def _tokens(source: str) -> list[tuple[str, str]]:
    """Split ``source`` into (kind, text) tokens: text, slot, choice, gap."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(source)
    literal: list[str] = []

    def flush() -> None:
        if literal:
            out.append(("text", "".join(literal)))
            literal.clear()

    while i < n:
        ch = source[i]
        if ch == GAP or source.startswith("...", i):
            flush()
            out.append(("gap", GAP))
            i += 1 if ch == GAP else 3
            while i < n and source[i] == ".":
                i += 1
        elif ch in "{(":
            close = "}" if ch == "{" else ")"
            end = source.find(close, i + 1)
            inner = source[i + 1 : end]
            if end < 0 or "{" in inner or "(" in inner:
                raise PatternError(f"'{ch}' at character {i + 1} is not closed by '{close}'")
            flush()
            out.append(("slot" if ch == "{" else "choice", inner))
            i = end + 1
        elif ch in "})|":
            raise PatternError(f"'{ch}' at character {i + 1} has no opening "
                               + ("'{'" if ch == "}" else "'('"))
        else:
            literal.append(ch)
            i += 1
    flush()
    return out


def parse_pattern(source: str, vocab: Mapping[str, tuple[str, ...]]) -> Pattern:
    """Compile one pattern. ``vocab``: each vocab name and its terms'
    normalised keys. Raises :class:`PatternError`."""
    elements: list[Element] = []
    gaps: list[bool] = []
    pending_gap = False
    for kind, text in _tokens(source):
        if kind == "gap":
            if not elements:
                raise PatternError("a pattern cannot start with a gap (…)")
            pending_gap = True
            continue
        element = _element(kind, text, vocab)
        if element is None:  # literal punctuation or spaces only: nothing to match
            continue
        if elements:
            gaps.append(pending_gap)
        elements.append(element)
        pending_gap = False
    if pending_gap:
        raise PatternError("a pattern cannot end with a gap (…)")
    if not elements:
        raise PatternError("the pattern is empty after normalisation")
    if all(e.kind == "entity" for e in elements) and len(elements) > 1:
        raise PatternError("a pattern of entities only must be a single entity, e.g. {link}")
    return Pattern(source, tuple(elements), tuple(gaps))


def literal(text: str) -> Pattern:
    """A phrase: literal text only, no syntax (schema 1's ``phrases``).
    Raises :class:`PatternError` when nothing is left after normalisation."""
    key = normalize(text)
    if not key:
        raise PatternError("the phrase is empty after normalisation")
    return Pattern(text, (Element("text", text.strip(), (key,)),), ())


def _element(kind: str, text: str, vocab: Mapping[str, tuple[str, ...]]) -> Element | None:
    if kind == "text":
        key = normalize(text)
        return Element("text", text.strip(), (key,)) if key else None
    if kind == "choice":
        options = [normalize(option) for option in text.split("|")]
        if len(options) < 2 or not all(options):
            raise PatternError(f"({text}): write two or more alternatives separated by '|', none empty")
        return Element("choice", f"({text})", tuple(dict.fromkeys(options)))
    name = text.strip()
    if not _NAME.match(name):
        raise PatternError(f"{{{text}}}: a slot name is lower-case letters, digits and '_'")
    if name in ENTITIES:
        return Element("entity", name)
    if name not in vocab:
        known = sorted(vocab) + sorted(ENTITIES)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {{{close[0]}}}?" if close else ""
        raise PatternError(f"{{{name}}} is neither a vocab list nor a built-in entity{hint}")
    return Element("vocab", name, vocab[name])
