"""Which of the rule file's word lists a text mentions (``{police}``, ``{family}``, ...).

When no rule matches, the reply asks the questions that decide it. "Who did they say
they were?" is an odd question after "someone from my bank called": the words that tell
who a caller claimed to be are already in the rule file's vocab lists, so the reply
looks them up here instead of keeping lists of its own. Matching is as for a rule's
single characters and entities (``chaining.short_occurrences``): the text and the terms
normalised alike, English terms as whole words.
"""

from __future__ import annotations

from typing import Iterable

from .chaining import short_occurrences
from .normalize import normalize
from .schema import RuleSet

__all__ = ["mentioned"]


def mentioned(ruleset: RuleSet, text: str, names: Iterable[str]) -> set[str]:
    """The names among ``names`` of vocab lists with a term in ``text`` (a name the rule
    file does not define is never mentioned)."""
    norm = normalize(text)
    found = set()
    for name in names:
        vocab = ruleset.vocab.get(name)
        # The few terms that occur as substrings, then the whole-word test on those only: the
        # expressions of all ~1,400 terms of the eight lists a reply asks about took ~0.2 s to
        # compile, on the event loop, at the first reply after every start and reload (a
        # substring test of every term costs ~3 ms for 4,096 characters).
        present = tuple(key for key in vocab.keys if key in norm) if vocab is not None else ()
        if present and short_occurrences(norm, present, 1):
            found.add(name)
    return found

