"""Reading the ``vocab:`` block of a rule file: named word lists that every
rule's patterns share (``{kin}``, ``{money_verb}``), each either a list of
terms or ``{zh: [...], en: [...]}``, and able to include another list by
writing ``{other}`` as a term.

It is one part of the rule-file checker in :mod:`.load` (mixed into its
``_Checker``, which provides ``error``, ``warn``, ``mapping``, ``schema``,
``vocab_keys`` and ``used_vocab``), kept apart because lists, inclusion
cycles and term limits are a concern of their own.
"""

from __future__ import annotations

import re
from typing import Any

from .entities import ENTITIES
from .normalize import rule_key
from .schema import LANGUAGES, Vocab
from .yamlsafe import LineList, line_of, show

__all__ = ["MAX_TERMS", "NAME_RE", "VocabChecks"]

MAX_TERMS = 20_000  # vocab terms in the whole file
MAX_TERM_CHARS = 400
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_VOCAB_LANGS = ("zh", "en", *LANGUAGES)


class VocabChecks:
    """The vocab part of the rule-file checker (see the module docstring)."""

    def vocab(self, top: dict) -> dict[str, Vocab]:
        """Named word lists. A list is terms, or {zh: [...], en: [...]}; a
        term written ``{other}`` includes the list ``other``."""
        if "vocab" not in top:
            return {}
        line = line_of(top, "vocab")
        if self.schema == 1:
            self.error(line, "vocab needs schema 2 (run `callguard rules migrate FILE`)")
            return {}
        raw = self.mapping(top.get("vocab"), "vocab", line)
        if raw is None:
            return {}
        written: dict[str, tuple[list[str], int]] = {}
        for name, body in raw.items():
            vline = line_of(raw, name, line)
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.error(vline, f"vocab name {show(name)} must be lower-case letters, digits and '_'")
                continue
            if name in ENTITIES:
                self.error(vline, f"vocab '{name}' has the name of a built-in entity")
                continue
            terms = self.terms(body, f"vocab '{name}'", vline)
            if terms:
                written[name] = (terms, vline)
        total = 0
        out: dict[str, Vocab] = {}
        for name, (terms, vline) in written.items():
            expanded = self.expand(name, written, vline)
            keys = tuple(dict.fromkeys(k for k in map(rule_key, expanded) if k))
            total += len(keys)
            out[name] = Vocab(name, tuple(expanded), vline, keys)
            self.vocab_keys[name] = keys
        if total > MAX_TERMS:
            self.error(line, f"vocab lists hold {total:,} terms in all; at most {MAX_TERMS:,}")
        return out

    def terms(self, body: Any, where: str, line: int) -> list[str]:
        items: list[tuple[Any, int]] = []
        if isinstance(body, list):
            items = list(zip(body, body.item_lines if isinstance(body, LineList) else [line] * len(body)))
        elif isinstance(body, dict):
            for lang, value in body.items():
                lline = line_of(body, lang, line)
                if lang not in _VOCAB_LANGS:
                    self.warn(lline, f"{where}: unknown language {show(lang)} (use zh or en)")
                if not isinstance(value, list):
                    self.error(lline, f"{where}.{lang} must be a list of terms")
                    continue
                lines = value.item_lines if isinstance(value, LineList) else [lline] * len(value)
                items += list(zip(value, lines))
        else:
            self.error(line, f"{where} must be a list of terms, or {{zh: [...], en: [...]}}")
            return []
        out: list[str] = []
        seen: set[str] = set()
        for term, tline in items:
            if not isinstance(term, str) or not term.strip():
                self.error(tline, f"{where}: term {show(term)} must be text")
                continue
            if len(term) > MAX_TERM_CHARS:
                self.error(tline, f"{where}: term longer than {MAX_TERM_CHARS} characters")
                continue
            if not (term.startswith("{") and term.endswith("}")):
                if any(c in term for c in "{}()|…"):
                    self.error(tline, f"{where}: term {show(term)}: a term is literal text (only a whole "
                                      "'{other_list}' includes another list)")
                    continue
                key = rule_key(term)
                if not key:
                    self.error(tline, f"{where}: term {show(term)} is empty after normalisation")
                    continue
                if key in seen:
                    self.warn(tline, f"{where}: term {show(term)} repeats another one after normalisation")
                seen.add(key)
            out.append(term)
        if not out:
            self.error(line, f"{where} has no terms")
        return out

    def expand(self, name: str, written: dict, line: int, path: tuple[str, ...] = ()) -> list[str]:
        """The terms of ``name`` with included lists spelled out."""
        if name in path:
            self.error(line, f"vocab '{name}' includes itself ({' -> '.join(path + (name,))})")
            return []
        out: list[str] = []
        for term in written[name][0]:
            if term.startswith("{") and term.endswith("}"):
                other = term[1:-1].strip()
                if other not in written:
                    self.error(written[name][1], f"vocab '{name}' includes unknown list {show(other)}")
                    continue
                self.used_vocab.add(other)
                out += self.expand(other, written, written[other][1], path + (name,))
            else:
                out.append(term)
        return out
