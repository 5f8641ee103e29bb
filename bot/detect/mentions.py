"""Which of the rule file's word lists a text mentions (``{police}``, ``{family}``, ...).

When no rule matches, the reply asks the questions that decide it. "Who did they say
they were?" is an odd question after "someone from my bank called": the words that tell
who a caller claimed to be are already in the rule file's vocab lists, so the reply
looks them up here instead of keeping lists of its own. Matching is as for a rule's
single characters and entities (``chaining.short_occurrences``): the text and the terms
normalised alike, English terms as whole words.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterable

from .chaining import short_occurrences
from .normalize import normalize
from .schema import RuleSet, Vocab

__all__ = ["mentioned"]


def mentioned(ruleset: RuleSet, text: str, names: Iterable[str]) -> set[str]:
    """The names among ``names`` of vocab lists with a term in ``text`` (a name the rule
    file does not define is never mentioned)."""
    norm = normalize(text)
    found = set()
    for name in names:
        vocab = ruleset.vocab.get(name)
        keys = _keys(vocab) if vocab is not None else ()
        if keys and short_occurrences(norm, keys, 1):
            found.add(name)
    return found


@lru_cache(maxsize=128)
def _keys(vocab: Vocab) -> tuple[str, ...]:
    return tuple(sorted({key for key in map(normalize, vocab.terms) if key}))
