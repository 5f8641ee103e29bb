"""The pattern syntax of rule groups (schema 2).

A pattern says how a scam *works* rather than one sentence it was once told
in. It is text with three kinds of holes::

    {kin}…{money_verb}          a kinship term, then within a short gap a money verb
    我是{org}的{staff}           我是 + an organisation + 的 + a staff title, touching
    转{amount}给我               an amount of money (recognised by code) between 转 and 给我
    (gift|steam|apple) card     one of the words in parentheses, then "card"

* ``{name}``: any term of the vocab list ``name`` (shared by all rules), or
  a built-in entity (:data:`.entities.ENTITIES`: amount, link, risky_link,
  official_link, phone, handle, code).
* ``(a|b|c)``: one of these alternatives; an alternative may be a slot,
  as in ``(钱|{amount})``, and choices may nest: ``(open (your|an) account)``.
* ``(…)?`` or ``{…}?``: optional, as in ``(the )?`` or ``(的)?``.
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
import threading
from typing import Callable, Mapping

from .entities import ENTITIES
from .normalize import rule_key
from .schema import Element, Pattern

__all__ = ["PatternError", "parse_pattern", "pattern_parser", "literal", "GAP"]

GAP = "…"
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


class PatternError(ValueError):
    """A pattern that cannot be compiled; the message says what and where."""


def _tokens(source: str) -> list[tuple[str, str, bool]]:
    """Split ``source`` into (kind, text, optional) tokens: text, slot,
    choice, gap; a slot or choice followed by ``?`` is optional."""
    out: list[tuple[str, str, bool]] = []
    i, n = 0, len(source)
    literal: list[str] = []

    def flush() -> None:
        if literal:
            out.append(("text", "".join(literal), False))
            literal.clear()

    while i < n:
        ch = source[i]
        if ch == GAP or source.startswith("...", i):
            flush()
            out.append(("gap", GAP, False))
            i += 1 if ch == GAP else 3
            while i < n and source[i] == ".":
                i += 1
        elif ch in "{(":
            end = _closing(source, i)
            inner = source[i + 1 : end]
            flush()
            optional = source.startswith("?", end + 1)
            out.append(("slot" if ch == "{" else "choice", inner, optional))
            i = end + 1 + optional
        elif ch in "})|?":
            raise PatternError(f"'{ch}' at character {i + 1} "
                               + ("may only follow (…) or {…}" if ch == "?" else
                                  "has no opening " + ("'{'" if ch == "}" else "'('")))
        else:
            literal.append(ch)
            i += 1
    flush()
    return out


def _closing(source: str, i: int) -> int:
    """Where the '{' or '(' at ``i`` closes (choices may nest; slots may not)."""
    if source[i] == "{":
        end = source.find("}", i + 1)
        if end < 0 or "{" in source[i + 1 : end]:
            raise PatternError(f"'{{' at character {i + 1} is not closed by '}}'")
        return end
    depth = 0
    for j in range(i, len(source)):
        if source[j] == "(":
            depth += 1
        elif source[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    raise PatternError(f"'(' at character {i + 1} is not closed by ')'")


MAX_ALTERNATIVES = 200  # literal alternatives one choice may spell out


def _alternatives(text: str) -> list[str]:
    """The alternatives of a choice's inside, nested choices spelled out:
    "open (your|an) account|forex program" -> open your account, open an
    account, forex program. A nested (…)? may be left out."""
    parts: list[str] = []
    depth = start = 0
    for j, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(text[start:j])
            start = j + 1
    parts.append(text[start:])
    out: list[str] = []
    for part in parts:
        variants = [""]
        j = 0
        while j < len(part):
            if part[j] == "(":
                end = _closing(part, j)
                inner = _alternatives(part[j + 1 : end])
                if part.startswith("?", end + 1):
                    inner.append("")
                    end += 1
                variants = [v + alt for v in variants for alt in inner]
                j = end + 1
            else:
                variants = [v + part[j] for v in variants]
                j += 1
            if len(variants) > MAX_ALTERNATIVES:
                raise PatternError(f"({text}) spells out more than {MAX_ALTERNATIVES} alternatives")
        out += variants
    return out


MAX_OPTIONAL = 4  # optional elements per pattern: 2^4 variants at most


def parse_pattern(source: str, vocab: Mapping[str, tuple[str, ...]]) -> tuple[Pattern, ...]:
    """Compile one pattern into its variants (one per way of leaving out
    optional elements, most complete first). ``vocab``: each vocab name and
    its terms' normalised keys. Raises :class:`PatternError`."""
    elements: list[tuple[Element, bool]] = []  # (element, optional)
    gaps: list[bool] = []  # gaps[i]: a gap before elements[i + 1]
    pending_gap = False
    for kind, text, optional in _tokens(source):
        if kind == "gap":
            if not elements:
                raise PatternError("a pattern cannot start with a gap (…)")
            pending_gap = True
            continue
        element = _element(kind, text, vocab, optional)
        if element is None:  # literal punctuation or spaces only: nothing to match
            continue
        if elements:
            gaps.append(pending_gap)
        elements.append((element, optional))
        pending_gap = False
    if pending_gap:
        raise PatternError("a pattern cannot end with a gap (…)")
    optional_at = [i for i, (_, optional) in enumerate(elements) if optional]
    if len(optional_at) > MAX_OPTIONAL:
        raise PatternError(f"at most {MAX_OPTIONAL} optional (…)? in one pattern")
    variants: list[Pattern] = []
    for mask in range(1 << len(optional_at)):
        dropped = {at for bit, at in enumerate(optional_at) if mask >> bit & 1}
        kept: list[Element] = []
        kept_gaps: list[bool] = []
        gap_before = False  # a gap next to a dropped element stays a gap
        for i, (element, _) in enumerate(elements):
            gap_before = gap_before or (i > 0 and gaps[i - 1])
            if i in dropped:
                continue
            if kept:
                kept_gaps.append(gap_before)
            kept.append(element)
            gap_before = False
        if not kept:
            continue
        if all(e.kind == "entity" for e in kept) and len(kept) > 1:
            raise PatternError("a pattern of entities only must be a single entity, e.g. {link}")
        variant = Pattern(source, tuple(kept), tuple(kept_gaps))
        if variant not in variants:
            variants.append(variant)
    if not variants:
        raise PatternError("the pattern is empty after normalisation")
    return tuple(variants)


# The patterns parsed by the last load under each of the last few vocabularies (``pattern_parser``).
_REMEMBERED_VOCABULARIES = 2
_parsed: dict[tuple, dict[str, tuple[Pattern, ...]]] = {}
_parsed_lock = threading.Lock()


def pattern_parser(vocab: Mapping[str, tuple[str, ...]]) -> Callable[[str], tuple[Pattern, ...]]:
    """``parse_pattern`` for one vocabulary, taking what the last load under the
    same vocabulary parsed.

    A reload, an admin's check of an edit, and the rule-builder worker each read a
    whole rule file whose patterns are mostly the ones read last time: parsing
    them is half of reading the file (~0.5 s for the shipped one). A pattern's
    variants depend on its text and the vocabulary only, and are immutable, so
    they are shared between the rule sets read under the same vocabulary.

    What is kept stays bounded: per vocabulary, the patterns of the latest load
    only (each load starts a new memo and reads the previous one), for the last
    two vocabularies (the live rules' and a candidate's). Errors are not kept:
    they are raised again, with their message, each time."""
    key = tuple(sorted(vocab.items()))
    mine: dict[str, tuple[Pattern, ...]] = {}
    with _parsed_lock:
        before = _parsed.pop(key, {})
        while len(_parsed) >= _REMEMBERED_VOCABULARIES:
            del _parsed[next(iter(_parsed))]  # the least recently used
        _parsed[key] = mine
    frozen = dict(vocab)  # what ``key`` says, whatever the caller's mapping becomes

    def parse(source: str) -> tuple[Pattern, ...]:
        variants = mine.get(source) or before.get(source) or parse_pattern(source, frozen)
        mine[source] = variants
        return variants

    return parse


def literal(text: str) -> Pattern:
    """A phrase: literal text only, no syntax (schema 1's ``phrases``).
    Raises :class:`PatternError` when nothing is left after normalisation."""
    key = rule_key(text)
    if not key:
        raise PatternError("the phrase is empty after normalisation")
    return Pattern(text, (Element("text", text.strip(), (key,)),), ())


def _element(kind: str, text: str, vocab: Mapping[str, tuple[str, ...]], optional: bool = False) -> Element | None:
    if kind == "text":
        key = rule_key(text)
        return Element("text", text.strip(), (key,)) if key else None
    if kind == "choice":
        alternatives = _alternatives(text) if "(" in text else text.split("|")
        keys: list[str] = []
        entities: list[str] = []
        for alternative in alternatives:
            slot = alternative.strip()
            if slot.startswith("{") and slot.endswith("}"):
                element = _slot(slot[1:-1], vocab)
                keys += element.keys
                entities += [element.name] if element.kind == "entity" else []
            elif "{" in alternative or "}" in alternative:
                raise PatternError(f"({text}): a slot inside (…) must be a whole alternative, like (钱|{{amount}})")
            else:
                key = rule_key(alternative)
                if not key:
                    what = f"the alternative '{alternative}' is empty after normalisation (punctuation and spaces do not count)" \
                        if alternative.strip() else "an alternative is empty"
                    raise PatternError(f"({text}): {what}")
                keys.append(key)
        return Element("choice", f"({text})", tuple(dict.fromkeys(keys)), tuple(dict.fromkeys(entities)))
    return _slot(text, vocab)


def _slot(text: str, vocab: Mapping[str, tuple[str, ...]]) -> Element:
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
