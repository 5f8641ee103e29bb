"""The strings a regular expression cannot match without: a cheap gate before it runs.

"Has this person already paid?" (:mod:`.paid`) runs a few dozen expressions on
every clause of a message. A pasted call transcript has dozens of clauses, and
most expressions cannot match it at all: a Chinese one needs 转账 or 汇款, an
English one "paid" or "sent". :func:`required_factors` reads an expression's
parse tree once and gives a set of strings of which every match contains at
least one; a text that holds none of them is not searched with it.

The gate is sound by construction: any part of an expression it does not
understand (a class with ranges, an optional part, a back-reference, a flag
that changes case) gives no factors, and "no factors" means "always search".
The parse tree comes from ``re._parser`` (Python's own), which is not a public
API: if it ever changes shape, every expression is simply searched again.
"""

from __future__ import annotations

import re

__all__ = ["required_factors", "may_match"]

try:  # CPython 3.11+: the parser behind ``re.compile``
    from re import _constants as _C, _parser as _P
except ImportError:  # pragma: no cover - another implementation: no gate
    _C = _P = None

_ZERO_WIDTH = () if _C is None else (_C.AT, _C.ASSERT, _C.ASSERT_NOT)
_REPEATS = () if _C is None else tuple(getattr(_C, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
                                       if hasattr(_C, name))


def required_factors(pattern: re.Pattern) -> frozenset[str] | None:
    """Strings of which every match of ``pattern`` contains one; None when
    no such set is known (then the pattern must always be searched)."""
    if _P is None or pattern.flags & re.IGNORECASE or not isinstance(pattern.pattern, str):
        return None
    try:
        found = _sequence(_P.parse(pattern.pattern, pattern.flags))
    except Exception:  # an unfamiliar tree: no gate, never a wrong one
        return None
    return frozenset(found) if found else None


def may_match(factors: frozenset[str] | None, text: str) -> bool:
    """Whether an expression with these ``required_factors`` can match in ``text``
    (or in any part of it)."""
    return factors is None or any(f in text for f in factors)


def _sequence(items) -> set[str] | None:
    """A sequence's most selective requirement: each run of literals is one
    string it needs; each other part may need one of several. The choice with
    the longest shortest string is taken (then the fewest strings)."""
    choices: list[set[str]] = []
    run: list[str] = []
    for op, value in items:
        if op is _C.LITERAL:
            run.append(chr(value))
            continue
        if run:
            choices.append({"".join(run)})
            run = []
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: it cannot add to what a match holds
        need = _item(op, value)
        if need:
            choices.append(need)
    if run:
        choices.append({"".join(run)})
    if not choices:
        return None
    return max(choices, key=lambda need: (min(map(len, need)), -len(need)))


def _item(op, value) -> set[str] | None:
    if op is _C.SUBPATTERN:
        _group, add_flags, _del_flags, inner = value
        return None if add_flags & re.IGNORECASE else _sequence(inner)
    if op is _C.BRANCH:
        need: set[str] = set()
        for alternative in value[1]:
            one = _sequence(alternative)
            if not one:
                return None  # an alternative that needs nothing: the branch needs nothing
            need |= one
        return need
    if op is _C.IN:  # a class of plain characters only ([转汇付]); ranges, categories, negation: nothing known
        return {chr(v) for o, v in value} if all(o is _C.LITERAL for o, v in value) else None
    if op in _REPEATS:
        least, _most, inner = value
        return _sequence(inner) if least >= 1 else None
    return None
