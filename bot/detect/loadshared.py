"""Reading the ``shared:`` block of a rule file: groups and pattern lists
written once and used by several rules.

Rules repeat mechanics ("you dialled the wrong number", "I called them back
myself", paying in gift cards). Copied by hand, the copies drift: an admin
fixes one and forgets the others. A shared entry is written like a rule's
group and comes in two kinds:

* a **group** (it has a ``weight``): a rule lists it as ``- use: not_them``
  in its ``groups``, optionally with its own ``weight:`` (nothing else: a
  different gap, fuzziness or pattern list is a different group);
* a **pattern list** (no ``weight``, ``gap`` or ``fuzzy``): any group, in a
  rule or in ``shared:``, lists it as ``{use: gift_card_payment}`` among its
  ``patterns``; its patterns stand there, in that place, and take that
  group's gap and fuzziness.

Both become exactly what writing the copies out gives (same ``Group``
values, same names in evidence and ``/why``), so the matcher never knows.
A shared entry is checked once, where it is written; a ``use`` that names
nothing, the wrong kind, or itself (through other lists) is an error at the
``use``.

It is one part of the rule-file checker in :mod:`.load` (mixed into its
``_Checker``, which provides ``error``, ``warn``, ``schema``, ``group``,
``weight``, ``patterns``, ``pattern_count`` and ``pattern_limit``), kept apart like
:mod:`.loadvocab`. A use counts its patterns again against the file's
pattern limit: a list of 2,000 patterns used 2,000 times is 4 million
patterns to compile, however short the file.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .loadvocab import NAME_RE
from .schema import Group, Pattern
from .yamlsafe import LineList, line_of, show

__all__ = ["SharedChecks", "USE_KEYS"]

USE_KEYS = ("use", "weight", "note")  # what a rule's `- use:` group may say
_LIST_KEYS = ("name", "patterns", "phrases", "note")


class SharedChecks:
    """The ``shared:`` part of the rule-file checker (see the module docstring)."""

    def shared(self, top: dict) -> None:
        """Read and check every shared entry (so an unused one is checked too)."""
        self.shared_written: dict[str, tuple[dict, int]] = {}
        self.shared_done: dict[str, Group | tuple[Pattern, ...]] = {}
        self.shared_used: set[str] = set()
        self.shared_resolving: list[str] = []
        self.shared_over_limit = False
        if "shared" not in top:
            return
        line = line_of(top, "shared")
        if self.schema == 1:
            self.error(line, "shared needs schema 2 (run `callguard rules migrate FILE`)")
            return
        raw = top.get("shared")
        if not isinstance(raw, list) or not raw:
            self.error(line, "shared must be a non-empty list of groups and pattern lists (each with a name)")
            return
        for index, body in enumerate(raw):
            bline = raw.item_lines[index] if isinstance(raw, LineList) else line
            if not isinstance(body, dict):
                self.error(bline, "each shared entry must be a mapping with a name and patterns")
                continue
            bline = line_of(body, default=bline)
            name = body.get("name")
            if not isinstance(name, str) or not NAME_RE.match(name):
                self.error(line_of(body, "name", bline),
                           f"shared name {show(name)} must be lower-case letters, digits and '_'")
                continue
            if name in self.shared_written:
                self.error(bline, f"duplicate shared name '{name}' (first at line {self.shared_written[name][1]})")
                continue
            self.shared_written[name] = (body, bline)
        for name in self.shared_written:
            self.shared_entry(name, line)

    def shared_entry(self, name: str, use_line: int) -> Group | tuple[Pattern, ...] | None:
        """The shared group or pattern list ``name``, checked on first use;
        None (after an error at ``use_line``) when it uses itself."""
        if name in self.shared_done:
            return self.shared_done[name]
        if name in self.shared_resolving:
            cycle = self.shared_resolving[self.shared_resolving.index(name):] + [name]
            self.error(use_line, f"shared '{name}' uses itself ({' -> '.join(cycle)})")
            return None
        body, line = self.shared_written[name]
        self.shared_resolving.append(name)
        try:
            if "weight" in body:
                entry: Group | tuple[Pattern, ...] = self.group(body, name, f"shared group '{name}'", line)
            else:
                where = f"shared list '{name}'"
                for key in body:
                    if key in ("gap", "fuzzy"):
                        self.error(line_of(body, key, line), f"{where}: a pattern list has no {key} (the group that "
                                                             f"uses it decides); give it a weight to make it a group")
                    elif key not in _LIST_KEYS:
                        self.warn(line_of(body, key, line), f"{where}: unknown key {show(key)}")
                entry = self.patterns(body, where, line)
        finally:
            self.shared_resolving.pop()
        self.shared_done[name] = entry
        return entry

    def _find(self, name: Any, where: str, line: int) -> Group | tuple[Pattern, ...] | None:
        if not isinstance(name, str) or name not in self.shared_written:
            known = ", ".join(sorted(self.shared_written)) or "none defined"
            self.error(line, f"{where}: use names unknown shared entry {show(name)} (known: {known})")
            return None
        self.shared_used.add(name)
        return self.shared_entry(name, line)

    def use_group(self, g: dict, where: str, line: int) -> Group | None:
        """A rule's ``- use: NAME`` (optionally ``weight: N``): the shared group NAME."""
        name = g.get("use")
        group = self._find(name, where, line)
        if group is None:
            return None
        if not isinstance(group, Group):
            self.error(line, f"{where}: shared '{name}' is a pattern list (it has no weight): write "
                             f"{{use: {name}}} inside a group's patterns, or give it a weight to make it a group")
            return None
        for key in g:
            if key not in USE_KEYS:
                self.error(line_of(g, key, line), f"{where}: a used group takes only a weight beside 'use' "
                                                  f"({show(key)} belongs in shared group '{name}', or write "
                                                  f"a group of your own)")
        if not self._count(group.patterns, where, line):
            return None
        if "weight" in g:
            weight = self.weight(g["weight"], f"{where}: group '{name}'", line_of(g, "weight", line))
            if weight is not None and weight < 0 and group.negatable:
                self.error(line_of(g, "weight", line), f"{where}: shared group '{name}' is negatable (a request); "
                                                       f"it cannot take a negative weight")
            elif weight is not None and weight > 0 and group.only_as_done:
                self.error(line_of(g, "weight", line), f"{where}: shared group '{name}' counts only as done "
                                                       f"(counter-evidence); it cannot take a positive weight")
            elif weight is not None:
                group = replace(group, weight=weight)
        return group

    def use_patterns(self, item: dict, where: str, line: int) -> tuple[Pattern, ...]:
        """``{use: NAME}`` among a group's patterns: the patterns of the shared list NAME."""
        name = item.get("use")
        extra = [key for key in item if key != "use"]
        if extra:
            self.error(line, f"{where}: {{use: ...}} among patterns takes nothing else (found {show(extra[0])})")
        patterns = self._find(name, where, line)
        if patterns is None:
            return ()
        if isinstance(patterns, Group):
            self.error(line, f"{where}: shared '{name}' is a group (it has a weight): a rule lists it as "
                             f"'- use: {name}' in its groups; only a pattern list (no weight) goes among patterns")
            return ()
        return patterns if self._count(patterns, where, line) else ()

    def _count(self, patterns: tuple, where: str, line: int) -> bool:
        """Count a use's patterns; False (and an error) past the file's limit."""
        self.pattern_count += len(patterns)
        if self.pattern_count > self.pattern_limit:
            if not self.shared_over_limit:
                self.error(line, f"{where}: more than {self.pattern_limit:,} patterns in the file once shared "
                                 f"entries are spelled out; use fewer copies")
            self.shared_over_limit = True
            return False
        return True

    def report_unused_shared(self) -> None:
        for name, (_, line) in self.shared_written.items():
            if name not in self.shared_used:
                self.warn(line, f"shared '{name}' is not used by any rule")
