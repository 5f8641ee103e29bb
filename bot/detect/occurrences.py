"""What one scan found, per element class, worked out only for the classes read.

The scan (:func:`.inner_loops.scan_matches`) records, per automaton word
(one key), where it ends. A key belongs to many element classes (a vocab
term is in the vocab list's class and in every choice that lists it: dozens
with a thousand rules, hundreds with ten thousand), and recording each
occurrence in each class was most of what a scan cost on long and repetitive
texts, and the part that grew with the rule count. Here a class's
occurrences are put together when something reads them (a group's phrase, a
pattern being chained), and most classes that occur are never read.

A class's list is exactly the one recording every occurrence in every class
would give: its keys' occurrences in the order the automaton found them (by
end, and at one end the longest first), at most ``cap``; then the typo
matches (``add``, in the order aligned), then the pinyin ones, the whole at
most ``cap`` long. (The order matters: it decides which occurrences a long
text keeps, and ties in chaining.)
"""

from __future__ import annotations

__all__ = ["Occurrences"]


class Occurrences(dict):
    """class id -> [(start, end, similarity)] in the normalised text, built
    on first read (``occ[cid]``; a class that does not occur reads as []).
    ``present``: the classes that occur (test membership there, not on the
    dict, which holds only the classes read so far): a set, or with
    ``lazy`` a container that works each class out when asked.

    A set costs ~0.1 µs a class the words found stand for, and matching the
    shipped rules asks about hundreds of them (their groups list dozens of
    patterns each): there a Python call per class asked made checks slower.
    With 10,000 synthetic rules the ~40 words of a message stand for ~2,200
    classes in tables far bigger than the processor's caches, the set cost
    a tenth of a check, and matching asks about few (``Layer`` chooses).

    ``ends``: automaton word -> the indexes in the padded text where it
    ended (``scan_matches``). ``words``: the layer's tables (see
    ``Layer._build_automaton``): per word its classes, length, and whether
    it was padded with a space on the left and on the right; per class its
    words."""

    __slots__ = ("present", "_ends", "_words", "_extra", "_cap")

    def __init__(self, ends: dict[int, list[int]], words: "WordTables", cap: int, lazy: bool = False):
        super().__init__()
        self._ends = ends
        self._words = words
        self._extra: dict[int, list[tuple[int, int, int]]] = {}
        self._cap = cap
        if lazy:
            self.present: set[int] | _Presence = _Presence(ends, words, self._extra)
        else:
            self.present = set()
            for word in ends:
                self.present.update(words.classes[word])

    @property
    def words_found(self):
        """The automaton words found (ids), in the order first found."""
        return self._ends.keys()

    @property
    def extra_classes(self):
        """The classes with a typo or pinyin occurrence (``add``)."""
        return self._extra.keys()

    def add(self, cid: int, hit: tuple[int, int, int]) -> None:
        """Add a typo or pinyin occurrence of class ``cid`` (before any read)."""
        extra = self._extra.get(cid)
        if extra is None:
            self._extra[cid] = [hit]
            self.present.add(cid)
        elif len(extra) < self._cap:
            extra.append(hit)

    def __missing__(self, cid: int) -> list[tuple[int, int, int]]:
        if cid not in self.present:
            found = self[cid] = []  # read again by the next pattern of the class: at dict speed
            return found
        ends, words, cap = self._ends, self._words, self._cap
        mine = ends.keys() & words.of_class[cid]
        if len(mine) == 1:
            (word,) = mine
            shift, right = words.length[word] - words.left[word], words.right[word]
            found = [(end - shift, end - right, 100) for end in ends[word]]
        else:
            order = sorted((end, -words.length[word], word) for word in mine for end in ends[word])[:cap]
            found = [(end + negative + words.left[word], end - words.right[word], 100) for end, negative, word in order]
        extra = self._extra.get(cid)
        if extra:
            found = (found + extra)[:cap]
        self[cid] = found
        return found


class _Presence:
    """The classes that occur, each worked out when first asked about (one
    of its words was found, or a typo or pinyin spelling of it was added);
    iterating builds them all (``best_hits``)."""

    __slots__ = ("_ends", "_words", "_extra", "_known")

    def __init__(self, ends: dict, words: "WordTables", extra: dict):
        self._ends, self._words, self._extra = ends, words, extra
        self._known: dict[int, bool] = {}

    def __contains__(self, cid: int) -> bool:
        known = self._known.get(cid)
        if known is None:
            known = self._known[cid] = cid in self._extra or not self._ends.keys().isdisjoint(self._words.of_class[cid])
        return known

    def add(self, cid: int) -> None:
        self._known[cid] = True

    def __iter__(self):
        found = set(self._extra)
        classes = self._words.classes
        for word in self._ends:
            found.update(classes[word])
        return iter(found)

    def __eq__(self, other) -> bool:
        return set(self) == other

    __hash__ = None


class WordTables:
    """Per automaton word (an exact key) its classes, length (with the
    padding spaces), and padding on each side (0 or 1); per class its words."""

    __slots__ = ("classes", "length", "left", "right", "of_class")

    def __init__(self, classes: tuple, length: tuple, left: tuple, right: tuple, of_class: tuple):
        self.classes, self.length, self.left, self.right, self.of_class = classes, length, left, right, of_class
