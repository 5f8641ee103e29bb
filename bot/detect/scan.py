"""One message being matched: its text, normalised text, and what was found
in it that does not depend on the rules (entities), worked out on first
need, once. The offsets back to the original text are computed only when
an entity or a pinyin spelling needs them (evidence quotes the user's own
characters), never for every message.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING, Mapping

from .entities import find_entity
from .inner_loops import squeeze_words
from .negation import NO_NEGATIONS, Negations, find_negations, find_questions
from .normalize import fold, fold_offsets, normalize_folded
from .words import FORMS

if TYPE_CHECKING:  # pragma: no cover
    from .spelling import Speller

__all__ = ["Scan", "MAX_MATCH_CHARS", "MAX_OCCURRENCES"]

# Text beyond this many normalised characters is not read: a description of a
# call is never that long, and the bound keeps a pasted book from costing more.
MAX_MATCH_CHARS = 20_000
MAX_OCCURRENCES = 24  # per element class and message: bounds the chaining


class Scan:
    """One message being matched: its text, normalised text, and what was
    found in it. The folded text, the offsets and the entities are worked
    out on first need, once."""

    __slots__ = ("text", "norm", "spelled", "_forms", "_folded", "_fold_offsets", "_letters", "_found", "_entities",
                 "_offsets", "_negations", "_with_questions", "occurrences", "ranked")

    def __init__(self, text: str, norm: str | None = None, speller: Speller | None = None):
        """``speller``: the rule set's (:mod:`.spelling`), to spell typos of its words
        right in an English message; without it words take their plain forms."""
        self.text = text
        self._forms: Mapping[str, str] = FORMS
        self._folded: str | None = None
        # Whether the rule set's speller read the message (English): its typos of the rules'
        # words are then spelled right before matching, and, when it holds no Chinese, the
        # layers do not also look for English keys one edit away (``Layer._occurrences``).
        self.spelled = False
        if norm is None:
            self._folded = fold(text)
            if speller is not None and speller.reads_english(self._folded):
                self._forms = speller
                self.spelled = True
            norm = normalize_folded(self._folded, self._forms)
        self.norm = norm[:MAX_MATCH_CHARS]
        self._fold_offsets: list[int] | None = None
        self._letters: list[int] | None = None
        self._found: dict[str, list[tuple[int, int]]] = {}  # entity -> spans in the original text
        self._entities: dict[str, list[tuple[int, int, int]]] = {}  # entity -> occurrences in ``norm``
        self._offsets: list[int] | None = None
        self._negations: Negations | None = None
        self._with_questions: Negations | None = None
        # Per layer, what its scan found (``Layer.occurrences``): read once, however many times
        # the message is ranked (``check``, then ``warns_of`` for a warning's story).
        self.occurrences: dict = {}
        # Per layer, what ranking worked out (:func:`.ranking.best_entries`: candidate groups,
        # classes found on demand, each group's best match): ``warns_of`` ranks the message a
        # second time and reuses it instead of matching the same groups again.
        self.ranked: dict = {}

    @property
    def folded(self) -> str:
        """``fold(text)``: normalisation's step 1 alone."""
        if self._folded is None:
            self._folded = fold(self.text)
        return self._folded

    def from_letters(self, start: int, end: int) -> tuple[int, int] | None:
        """A span of ``fold(text)`` without its spaces, as a span of the
        normalised text (None if it covers no normalised character)."""
        if self._letters is None:
            folded = self.folded
            self._fold_offsets = self._fold_offsets or fold_offsets(self.text, folded)
            self._letters = [self._fold_offsets[i] for i, c in enumerate(folded) if c != " "]
        a, b = self._letters[start], self._letters[end - 1] + 1
        offsets = self.offsets()
        s, e = bisect_left(offsets, a), bisect_left(offsets, b)
        return (s, e) if s < e <= len(self.norm) else None

    def offsets(self) -> list[int]:
        """Per character of ``norm``, the index of the character of ``text`` it came from."""
        if self._offsets is None:
            folded = self.folded
            if self._fold_offsets is None:
                self._fold_offsets = fold_offsets(self.text, folded)
            self._offsets = squeeze_words(folded, self._fold_offsets, self._forms)[1]
        return self._offsets

    def entity(self, name: str) -> list[tuple[int, int, int]]:
        """Occurrences (start, end, 100) of entity ``name`` in the normalised text."""
        found = self._entities.get(name)
        if found is None:
            spans = find_entity(self.text[: MAX_MATCH_CHARS * 2], name, self._found)[:MAX_OCCURRENCES]
            found = []
            if spans:
                offsets, limit = self.offsets(), len(self.norm)
                for a, b in spans:
                    s, e = bisect_left(offsets, a), bisect_left(offsets, b)
                    if s < e <= limit:
                        found.append((s, e, 100))
            self._entities[name] = found
        return found

    def negations(self, questions: bool = False) -> Negations:
        """Where the message denies a request (:mod:`.negation`), as spans of
        ``norm``: found in the original text, whose punctuation ends a
        clause, and mapped with the offsets (only when a cue occurs).
        ``questions``: also the clauses that ask whether to do something
        (``find_questions``), for the counter-evidence that counts only what was done."""
        if self._negations is None:
            self._negations = self._spans(find_negations(self.text[: MAX_MATCH_CHARS * 2]))
        if not questions:
            return self._negations
        if self._with_questions is None:
            asked = find_questions(self.text[: MAX_MATCH_CHARS * 2])
            if not asked:
                self._with_questions = self._negations
            else:
                denied = self._negations
                self._with_questions = Negations.of(
                    list(zip(denied.cue_starts, denied.cue_ends)),
                    list(zip(denied.scope_starts, denied.scope_ends))
                    + [(a, b) for a, b in map(self._map_points, asked) if a < b])
        return self._with_questions

    def _spans(self, found: list[tuple[int, int, int, int]]) -> Negations:
        if not found:
            return NO_NEGATIONS
        at = [self._map_points(spans) for spans in found]
        at = [(a, b, c, d) for a, b, c, d in at if a < b]  # a cue normalisation dropped is none
        return Negations.of([(a, b) for a, b, _, _ in at], [(c, d) for _, _, c, d in at if c < d])

    def _map_points(self, points: tuple[int, ...]) -> list[int]:
        """Offsets in the original text -> offsets in ``norm``."""
        offsets = self.offsets()
        return [bisect_left(offsets, x) for x in points]
