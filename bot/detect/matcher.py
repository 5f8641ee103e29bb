"""Compile a rule set once; score any text against every rule, fast.

**What is matched.** Every pattern (:mod:`.patterns`) is a sequence of
elements: literal text, a choice, a vocab list, or an entity. An *element
class* is one distinct thing an element can be (the vocab list ``kin``, the
literal ``安全账户``), shared by every pattern that uses it. Its *keys* are
the normalised strings that make it occur.

**One scan.** A single Aho-Corasick automaton holds every key of every class
(and the pinyin spelling of Chinese keys of eight or more pinyin letters),
plus two anchors per key long enough to have a typo. One pass over the
normalised text yields every occurrence of every class. English keys must
meet word boundaries (:func:`.normalize.is_spaced`), so ``pay`` is not found
in ``repay``.

**Typos.** A typo is one wrong, missing or extra character (one Levenshtein
edit), tolerated in keys of 5+ Chinese characters or 8+ Latin characters (shorter English words are one edit from other words: detain and detail, brother and bother). One
edit breaks at most one half of a key, so a key written with a typo still
contains its other half exactly (the pigeonhole principle): where a half
occurs, the characters next to it are compared with the key's other half
(``one_edit``), and only keys that pass are aligned with rapidfuzz. The
alignments per message are bounded (``MAX_ALIGNS``) and repeated windows are
aligned once, so no crafted repetition makes this step slow.

**Patterns.** A pattern of one element is a *phrase*: its group takes the
element's best occurrence. A longer pattern is registered under one of its
elements (its *trigger*, the rarest kind first); only when the trigger
occurs are the other elements' occurrences chained left to right: touching
(English: one space apart), or with a bounded gap. Entities (:mod:`.entities`)
are recognised only when a pattern needs them. Occurrences kept per class
and message are bounded (``MAX_OCCURRENCES``), which bounds the chaining.

**Scores.** A group's strength is the similarity (0..100) of its best match:
100 exact, 95 a pinyin spelling, rapidfuzz's ``ratio`` for a typo, the
weakest element for a pattern. A rule's score is the sum over its groups of
``weight x strength / 100``, clamped to 0..100; negative groups (things
genuine messages say) pull it down; ``requires`` names groups of which at
least one must match, or the rule scores 0.

The work per message follows the keys found in the text, not the number of
rules. Rules are matched independently, so a reload can keep the compiled
rules that did not change (``Matcher(ruleset, previous)``).
"""

from __future__ import annotations

import gc
import re
from collections import Counter
from bisect import bisect_left
from dataclasses import dataclass, replace
from typing import Callable

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from .entities import find_entity
from .inner_loops import SPACED_CHARS as _SPACED_CHARS
from .inner_loops import Automaton, anchor_index, best_hits, gap_cost, one_edit
from .inner_loops import squeeze_words
from .occurrences import Occurrences, WordTables
from .ranking import best_entries, clamp as _clamp, group_needs_bits, needs_bits
from .normalize import SPACED, fold, fold_offsets, has_cjk, normalize_folded, pinyin_alias
from .words import FORMS
from .schema import Element, Rule, RuleSet

__all__ = ["Part", "Hit", "RuleScore", "Matcher", "MAX_MATCH_CHARS", "tolerates_typo", "align", "one_edit",
           "gap_cost", "Scan"]

# Text beyond this many normalised characters is not read: a description of a
# call is never that long, and the bound keeps a pasted book from costing more.
MAX_MATCH_CHARS = 20_000
MAX_OCCURRENCES = 24  # per element class and message
MAX_ALIGNS = 200  # distinct fuzzy alignments per message

PINYIN_SIMILARITY = 95
MIN_FUZZY_CJK = 5
MIN_FUZZY_LATIN = 8
MIN_FUZZY_WORD = 6  # the longest word of an English phrase that tolerates a typo
MIN_PINYIN_ALIAS = 8



def tolerates_typo(key: str) -> bool:
    """Whether a normalised key is long enough to match with one typo: a typo
    in a short one (验证码, "code") makes another word. An English phrase
    needs one long word ("safe account"): in a phrase of short common words
    ("you have") a typo is as likely another phrase, and its halves occur in
    every English text."""
    if has_cjk(key):
        return len(key) >= MIN_FUZZY_CJK
    if " " in key:
        return len(key) >= MIN_FUZZY_LATIN and max(map(len, key.split(" "))) >= MIN_FUZZY_WORD
    return len(key) >= MIN_FUZZY_LATIN


@dataclass(frozen=True, slots=True)
class Part:
    """What one element of a pattern matched (a span of the normalised text)."""

    label: str  # "{kin}", "(gift|steam)", or the literal
    start: int
    end: int
    similarity: int


@dataclass(frozen=True, slots=True)
class Hit:
    """A group's best match in the normalised text."""

    rule: int  # index into RuleSet.rules
    group: int  # index into Rule.groups
    phrase: str  # the pattern as written in the rule file
    start: int
    end: int
    similarity: int  # 100 = exact
    parts: tuple[Part, ...] = ()  # per element, for patterns of several elements or a slot


@dataclass(frozen=True, slots=True)
class RuleScore:
    rule: Rule
    score: int  # 0..100
    hits: tuple[Hit, ...]  # the best hit of each matched group
    requires_met: bool


# ----------------------------------------------------------------- primitives


def align(key: str, norm: str, edits: int, starts: range,
          accept: Callable[[str, int, int], bool] | None = None) -> tuple[int, int, int] | None:
    """The best place for ``key`` in ``norm`` within ``edits`` Levenshtein
    edits, as (similarity, start, end), among windows of ``len(key) +- edits``
    characters that start at one of ``starts`` (and that ``accept(norm,
    start, end)``, if given); None when there is none."""
    n = len(key)
    found = []
    for length in range(max(1, n - edits), n + edits + 1):
        for s in starts:
            if s < 0 or s + length > len(norm) or (accept is not None and not accept(norm, s, s + length)):
                continue
            window = norm[s : s + length]
            if Levenshtein.distance(key, window, score_cutoff=edits) <= edits:
                found.append((int(fuzz.ratio(key, window)), s, s + length))
    return max(found, key=lambda h: (h[0], -h[1], h[2] - h[1]), default=None)


def _short_words_intact(key: str, window: str) -> bool:
    """Whether ``window``, one edit from the English ``key``, keeps the key's
    words and every short one exactly (or with a doubled letter written once),
    so the typo is in a long word: "safe acount" is "safe account" with a
    typo, "save account" is another phrase."""
    kw, ww = key.split(" "), window.split(" ")
    return len(kw) == len(ww) and all(k == w or _doubled(k, w) for k, w in zip(kw, ww) if len(k) < MIN_FUZZY_WORD)


def _doubled(a: str, b: str) -> bool:
    """Whether two words differ only by a doubled letter written once ("wil",
    "will"): the one typo a short word may have."""
    if len(a) < len(b):
        a, b = b, a
    return len(a) == len(b) + 1 and any(a[i] == a[i + 1] and a[:i] + a[i + 1:] == b for i in range(len(a) - 1))


def _bounded(norm: str, start: int, end: int, left: bool = True, right: bool = True) -> bool:
    """Whether norm[start:end] meets a word boundary on its ``left`` and
    ``right`` side (a side that starts or ends with a Latin letter or digit)."""
    return ((not left or start == 0 or norm[start - 1] not in _SPACED_CHARS)
            and (not right or end >= len(norm) or norm[end] not in _SPACED_CHARS))


class Scan:
    """One message being matched: its text, normalised text, and what was
    found in it. The folded text, the offsets and the entities are worked
    out on first need, once."""

    __slots__ = ("text", "norm", "_folded", "_fold_offsets", "_letters", "_found", "_entities", "_offsets")

    def __init__(self, text: str, norm: str | None = None):
        self.text = text
        self._folded: str | None = None
        if norm is None:
            self._folded = fold(text)
            norm = normalize_folded(self._folded)
        self.norm = norm[:MAX_MATCH_CHARS]
        self._fold_offsets: list[int] | None = None
        self._letters: list[int] | None = None
        self._found: dict[str, list[tuple[int, int]]] = {}  # entity -> spans in the original text
        self._entities: dict[str, list[tuple[int, int, int]]] = {}  # entity -> occurrences in ``norm``
        self._offsets: list[int] | None = None

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
            self._offsets = squeeze_words(folded, self._fold_offsets, FORMS)[1]
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


# ----------------------------------------------------------------- compiling


@dataclass(frozen=True, slots=True)
class _Pattern:
    """A pattern of several elements (or an entity), compiled."""

    group: int  # layer group id
    order: int  # position in its group (ties go to the first)
    source: str
    classes: tuple[int, ...]
    labels: tuple[str, ...]
    gaps: tuple[bool, ...]
    gap: int  # the group's bound
    scanned: tuple[int, ...] = ()  # the classes the scan finds (not on demand)


def _class_key(element: Element, fuzzy: bool) -> tuple:
    """Elements that always occur together share a class."""
    if element.kind == "entity":
        return ("entity", element.name)
    return (element.kind, element.name if element.kind == "vocab" else "", element.keys, element.entities, fuzzy)


def _short_keys(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The keys of a short class (see ``_Layer._compile``), or None when one
    of its keys is long enough to scan for."""
    if not keys or any(len(k) > (1 if has_cjk(k) else 2) for k in keys):
        return None
    return keys


def _rank(sim: int, start: int, end: int, order: int) -> tuple[int, int, int, int]:
    """How two matches of one group compare: more similar, earlier, longer,
    then the pattern listed first. A total order, so the result never depends
    on the order in which candidates were found."""
    return sim, -start, end - start, -order


class _Layer:
    """Rules compiled for matching: one automaton and its tables. Hits name
    rules by their index in ``rules``. Immutable after construction."""

    def __init__(self, rules: tuple[Rule, ...]):
        # Compiling creates many small containers, none of them cyclic: the
        # cyclic collector's passes over the growing heap would cost more
        # than the compile itself.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._compile(rules)
        finally:
            if collecting:
                gc.enable()

    def _compile(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self.groups: list[tuple[int, int]] = []  # layer group id -> (rule index, group index)
        self.group_rule: list[int] = []  # layer group id -> rule index (in ``rules``)
        self.group_names: list[str] = []
        self.weights: list[int] = []
        class_ids: dict[tuple, int] = {}
        self.class_labels: list[str] = []
        self.class_slot: list[bool] = []  # a vocab list, choice or entity: evidence names what it matched
        # Classes found on demand, never by the scan: entities (an entity's
        # own class, or a choice like (钱|{amount})) and "short" classes,
        # whose keys are all one Chinese character or one or two Latin letters
        # (的, 我, "a"): these occur everywhere, so scanning for them would cost
        # more than looking where a pattern needs them. Such a class never
        # triggers a pattern and is never a plain phrase.
        self.class_entities: list[tuple[str, ...]] = []
        self.class_short: list[tuple[str, ...] | None] = []  # the keys of a short class
        class_keys: list[tuple[str, ...]] = []
        class_fuzzy: list[bool] = []
        singles: dict[int, list[tuple[int, int, str]]] = {}  # class -> (group, order, source)
        patterns: list[_Pattern] = []

        def intern(element: Element, fuzzy: bool) -> int:
            key = _class_key(element, fuzzy)
            cid = class_ids.get(key)
            if cid is None:
                cid = class_ids[key] = len(self.class_labels)
                self.class_labels.append(str(element))
                self.class_slot.append(element.kind != "text")
                self.class_entities.append((element.name,) if element.kind == "entity" else element.entities)
                self.class_short.append(_short_keys(element.keys))
                class_keys.append(() if self.class_short[cid] is not None else element.keys)
                class_fuzzy.append(fuzzy)
            return cid

        for r, rule in enumerate(rules):
            for g, group in enumerate(rule.groups):
                gid = len(self.groups)
                self.groups.append((r, g))
                self.group_rule.append(r)
                self.group_names.append(group.name)
                self.weights.append(group.weight)
                for order, pattern in enumerate(group.patterns):
                    cids = tuple(intern(e, group.fuzzy) for e in pattern.elements)
                    if len(cids) == 1 and not self._on_demand(cids[0]):
                        singles.setdefault(cids[0], []).append((gid, order, pattern.source))
                    else:
                        patterns.append(_Pattern(gid, order, pattern.source, cids,
                                                 tuple(str(e) for e in pattern.elements), pattern.gaps, group.gap))
        self.class_demand = tuple(self._on_demand(cid) for cid in range(len(self.class_labels)))
        # A class of plain phrases: its label when evidence names what it matched, and its consumers.
        self.singles = {cid: (self.class_labels[cid] if self.class_slot[cid] else None, tuple(v))
                        for cid, v in singles.items()}
        self.patterns = tuple(replace(p, scanned=tuple(c for c in p.classes if not self.class_demand[c]))
                              for p in patterns)
        self._build_automaton(class_keys, class_fuzzy)
        self._index_patterns(class_keys, rules)

    def _on_demand(self, cid: int) -> bool:
        return bool(self.class_entities[cid]) or self.class_short[cid] is not None

    def _index_patterns(self, class_keys: list[tuple[str, ...]], rules: tuple[Rule, ...]) -> None:
        """Register each pattern under its trigger: the element least likely
        to occur, so that few patterns are tried per message. How likely is
        measured on the rules' own examples (in how many of them the class
        occurs exactly), then longer keys count as rarer; a class found on
        demand is never a trigger. Which element triggers changes how much
        is tried, never what matches (a pattern matches only if all its
        scanned classes occur, whichever one triggered it). Only exact
        occurrences are counted: a full scan of every example (typos
        aligned) made compiling 10,000 rules take minutes."""
        seen_in: Counter[int] = Counter()
        automaton = self._automaton
        for rule in rules:
            for text in rule.examples_match + rule.examples_no_match:
                norm = Scan(text).norm
                found: set[int] = set()
                for _, payload in automaton.iter(" " + norm + " ") if norm else ():
                    if payload[1] >= 0:
                        found.update(self.words.classes[payload[1]])
                seen_in.update(found)

        def rarity(cid: int) -> tuple:
            if self._on_demand(cid):
                return (0,)
            return (1, -seen_in.get(cid, 0), min(map(len, class_keys[cid])))

        triggers: dict[int, list[int]] = {}
        always: list[int] = []
        for pid, p in enumerate(self.patterns):
            best = max(p.classes, key=rarity)
            if self._on_demand(best):
                always.append(pid)
            else:
                triggers.setdefault(best, []).append(pid)
        self.triggers = {cid: tuple(v) for cid, v in triggers.items()}
        self.always = tuple(always)
        # What inner_loops.best_hits reads: per class its label, phrase consumers and
        # the patterns it triggers; the patterns as plain tuples; the on-demand flags.
        self.plan = {cid: (self.singles[cid][0] if cid in self.singles else None,
                           self.singles[cid][1] if cid in self.singles else (), self.triggers.get(cid, ()))
                     for cid in set(self.singles) | set(self.triggers)}
        self.pattern_rows = tuple((p.group, p.order, p.source, p.classes, p.labels, p.gaps, p.gap, p.scanned)
                                  for p in self.patterns)
        # A class found on demand: (its short keys, or (); whether it has entities). None: scanned.
        self.demand_plan = tuple((self.class_short[cid] or (), bool(self.class_entities[cid]))
                                 if self.class_demand[cid] else None for cid in range(len(self.class_labels)))
        self._index_groups(triggers)

    def _index_groups(self, triggers: dict[int, list[int]]) -> None:
        """What ranking rules without matching them all reads (:mod:`.ranking`):
        per group its phrases and patterns, each pattern's trigger (-1: found
        on demand), and per class the groups its occurrence makes candidates."""
        n = len(self.groups)
        singles: list[list] = [[] for _ in range(n)]
        for cid, (label, consumers) in self.singles.items():
            for gid, order, source in consumers:
                singles[gid].append((cid, order, source, label))
        pids: list[list[int]] = [[] for _ in range(n)]
        trigger = [-1] * len(self.patterns)
        for cid, ids in triggers.items():
            for pid in ids:
                trigger[pid] = cid
        for pid, p in enumerate(self.patterns):
            pids[p.group].append(pid)
        self.group_singles = tuple(map(tuple, singles))
        self.group_pids = tuple(map(tuple, pids))
        self.pattern_trigger = tuple(trigger)
        # per class: the groups of its phrases (they match), and (group, scanned classes) of the patterns it triggers
        # Per class: the groups its occurrence makes candidates by itself (its
        # phrases, and the patterns it triggers whose only scanned class it
        # is), and (group, the other scanned classes) of its other patterns.
        candidates_of = {}
        for cid, (_, consumers, pids_) in self.plan.items():
            direct = [gid for gid, _, _ in consumers]
            checks = []
            for pid in pids_:
                p = self.patterns[pid]
                others = tuple(c for c in dict.fromkeys(p.scanned) if c != cid)
                if others:
                    checks.append((p.group, others))
                else:
                    direct.append(p.group)
            direct = tuple(dict.fromkeys(direct))
            candidates_of[cid] = (direct, tuple(dict.fromkeys(c for c in checks if c[0] not in direct)))
        self.candidates_of = candidates_of
        self.always_groups = tuple(dict.fromkeys(self.patterns[pid].group for pid in self.always))
        self.bound_weights = tuple(max(0, w) for w in self.weights)
        rule_groups: list[list[int]] = [[] for _ in self.rules]
        for gid, r in enumerate(self.group_rule):
            rule_groups[r].append(gid)
        self.rule_groups = tuple(map(tuple, rule_groups))
        # What of its rule's ``requires`` each group covers, as bits
        # (:func:`.ranking.group_needs_bits`): ranking tells from a rule's
        # candidate groups alone that it cannot be met (it would score 0).
        self.group_needs = tuple(group_needs_bits(self.rules[r], self.rules[r].groups[g].name)
                                 for r, g in self.groups)

    def candidate_groups(self, occ: Occurrences) -> set[int]:
        """The groups that may match, given the scanned classes that occur:
        those with a phrase that occurs, a pattern whose scanned classes all
        occur, or a pattern of classes found on demand (not known without
        looking). Every group ``best_hits`` finds is among them."""
        found = set(self.always_groups)
        candidates_of = self.candidates_of
        present = occ.present
        for cid in present:
            entry = candidates_of.get(cid)
            if entry is None:
                continue
            found.update(entry[0])
            for gid, others in entry[1]:
                if gid not in found:
                    for c in others:
                        if c not in present:
                            break
                    else:
                        found.add(gid)
        return found

    def _build_automaton(self, class_keys: list[tuple[str, ...]], class_fuzzy: list[bool]) -> None:
        exact: dict[str, dict[int, None]] = {}  # key -> its classes
        pinyin: dict[str, set[int]] = {}  # pinyin spelling, no spaces -> classes
        fuzzy: dict[str, list[int]] = {}  # key that tolerates a typo -> its fuzzy classes
        # A key is in many classes (a vocab term in every choice that lists
        # it): what depends on the key alone is worked out once per key.
        about: dict[str, tuple[str, bool]] = {}  # key -> (pinyin alias or "", tolerates a typo)
        for cid, keys in enumerate(class_keys):
            for key in keys:
                exact.setdefault(key, {})[cid] = None
                known = about.get(key)
                if known is None:
                    alias = pinyin_alias(key) if has_cjk(key) and len(key) >= 3 else ""
                    known = about[key] = (alias if len(alias) >= MIN_PINYIN_ALIAS else "", tolerates_typo(key))
                if known[0]:
                    pinyin.setdefault(known[0], set()).add(cid)
                if class_fuzzy[cid] and known[1]:
                    fuzzy.setdefault(key, []).append(cid)
        self.fuzzy_keys = tuple(fuzzy)  # indexed by "key id" (fid)
        self.fuzzy_classes = tuple(tuple(v) for v in fuzzy.values())
        fid_of = {key: fid for fid, key in enumerate(self.fuzzy_keys)}
        # The scan reads the normalised text with a space on each side, and a
        # key that starts (ends) with a Latin letter or digit is looked for
        # with a space before (after) it: English matches whole words only.
        # The payload of each word is what ``inner_loops.scan_matches`` reads;
        # what :mod:`.occurrences` needs of a key is in tables by word id.
        words: dict[str, list] = {}  # automaton word -> [length, word id (-1: an anchor only), lefts, rights]
        word_classes, word_length, word_left, word_right, word_fid = [], [], [], [], []
        of_class: list[list[int]] = [[] for _ in class_keys]
        for key, classes in exact.items():
            left, right = key[0] in _SPACED_CHARS, key[-1] in _SPACED_CHARS
            word = " " * left + key + " " * right
            wid = len(word_classes)
            words[word] = [len(word), wid, [], []]
            word_classes.append(tuple(classes))
            word_length.append(len(word))
            word_left.append(int(left))
            word_right.append(int(right))
            word_fid.append(fid_of.get(key, -1))
            for cid in classes:
                of_class[cid].append(wid)
        self.words = WordTables(tuple(word_classes), tuple(word_length), tuple(word_left), tuple(word_right),
                                tuple(map(tuple, of_class)))
        self.word_fid = tuple(word_fid)
        # Each fuzzy key's two halves are anchors. At a left half, the text
        # after it is compared with the key's right half; at a right half,
        # the text before it, read backward, with the key's left half reversed.
        for fid, key in enumerate(self.fuzzy_keys):
            h = len(key) // 2
            for half, other, side in ((key[:h], key[h:], 2), (key[h:], key[:h][::-1], 3)):
                entry = words.setdefault(half, [len(half), -1, [], []])
                entry[side].append((fid, other))
        for entry in words.values():
            entry[2] = anchor_index(entry[2]) if entry[2] else ()
            entry[3] = anchor_index(entry[3]) if entry[3] else ()
        self._automaton = Automaton(list(words), [tuple(entry) for entry in words.values()])
        # Pinyin is written with spaces anywhere ("haoma yao bei dongjie"), so
        # it is looked for in the text's letters with the spaces taken out.
        self._pinyin = Automaton(list(pinyin), [(len(spelling), tuple(sorted(cids))) for spelling, cids in pinyin.items()])

    # -- matching

    def occurrences(self, scan: Scan) -> Occurrences:
        """Every occurrence (start, end, similarity) of every scanned class,
        at most MAX_OCCURRENCES per class, in the order found (each class's
        list built when first read: :mod:`.occurrences`)."""
        norm = scan.norm
        ends: dict[int, list[int]] = {}  # automaton word -> where it ends in ``padded``
        proposed: set[tuple[int, int]] = set()
        padded = " " + norm + " "  # positions in ``padded`` are one more than in ``norm``
        if norm and len(self._automaton):
            self._automaton.scan_matches(padded, ends, proposed, MAX_OCCURRENCES)
        occ = Occurrences(ends, self.words, MAX_OCCURRENCES)
        if proposed:
            word_fid = self.word_fid
            self._align_proposed(padded, occ, {word_fid[w] for w in ends}, proposed)
        if norm and len(self._pinyin):
            self._pinyin_occurrences(scan, occ)
        return occ

    def _pinyin_occurrences(self, scan: Scan, occ: Occurrences) -> None:
        """Pinyin spellings of Chinese keys, however the writer spaced the
        syllables (looked for in the letters as typed, unstemmed, spaces
        taken out); a match starts and ends at word boundaries."""
        letters = scan.folded.replace(" ", "")
        for end, (length, cids) in self._pinyin.iter(letters):
            span = scan.from_letters(end - length + 1, end + 1)
            if span is None or not _bounded(scan.norm, *span):
                continue
            hit = (*span, PINYIN_SIMILARITY)
            for cid in cids:
                occ.add(cid, hit)

    def entities_of(self, scan: Scan, cid: int) -> list[tuple[int, int, int]]:
        """The occurrences of the entities class ``cid`` stands for (an
        entity, or a choice like (钱|{amount})), in the order of its names."""
        found: list[tuple[int, int, int]] = []
        for name in self.class_entities[cid]:
            found += scan.entity(name)
        return found

    def _align_proposed(self, norm: str, occ: Occurrences, exact_keys: set[int],
                        proposed: set[tuple[int, int]]) -> None:
        """Align the keys the anchors proposed (those not found exactly).
        The same key in the same surroundings is aligned once, so a crafted
        repetition costs one alignment, and at most MAX_ALIGNS are made.
        (``norm`` here is the padded text the scan read.)"""
        keys, classes = self.fuzzy_keys, self.fuzzy_classes
        seen: dict[tuple, tuple[int, int, int] | None] = {}
        for fid, s in sorted(proposed):
            if fid in exact_keys:
                continue
            key = keys[fid]
            # The window holds every candidate (start s-1..s+1, length +-1)
            # and the character on each side of it, for the word boundaries.
            lo, hi = max(0, s - 2), min(len(norm), s + len(key) + 3)
            memo = (fid, norm[lo:hi], lo == 0, hi == len(norm))
            if memo not in seen:
                if len(seen) >= MAX_ALIGNS:
                    break
                left, right = key[0] in _SPACED_CHARS, key[-1] in _SPACED_CHARS
                # A window never takes in the padding spaces at either end of
                # the text, a Latin edge meets a word boundary, and in an
                # English phrase the typo falls in a long word.
                first, last = (1 if memo[2] else 0), len(memo[1]) - (1 if memo[3] else 0)
                edge_ok = (lambda w, a, b: first <= a and b <= last and (a > 0 or memo[2]) and (b < len(w) or memo[3])
                           and _bounded(w, a, b, left, right) and (not left or _short_words_intact(key, w[a:b])))
                seen[memo] = align(key, memo[1], 1, range(s - 1 - lo, s + 2 - lo), edge_ok)
            rel = seen[memo]
            if rel is None:
                continue
            hit = (rel[1] + lo - 1, rel[2] + lo - 1, rel[0])  # ``norm`` is ``padded`` less its first space
            for cid in classes[fid]:
                occ.add(cid, hit)

    def best_hits(self, scan: Scan, occ: Occurrences) -> dict[int, tuple[tuple, str, tuple | None]]:
        """Each group's best match: layer group id -> (rank, pattern source,
        where) with rank ``_rank``'s and ``where`` None for a phrase, else
        (labels, spans) of its elements (``_parts`` makes them Parts).
        See ``inner_loops.best_hits``."""
        return best_hits(occ, self.plan, self.pattern_rows, self.always, lambda cid: self.entities_of(scan, cid),
                         self.demand_plan, scan.norm, MAX_OCCURRENCES)


def _parts(where: tuple | None) -> tuple[Part, ...]:
    """The Parts of a best match (see ``_Layer.best_hits``)."""
    if where is None:
        return ()
    return tuple(Part(label, s, e, sim) for label, (s, e, sim) in zip(*where))


# ----------------------------------------------------------------- the matcher

# A reload that changes at most this share of the rules compiles only those
# and keeps the rest compiled as they were (see ``Matcher``).
LAYER_MAX_SHARE = 0.1


class Matcher:
    """A rule set compiled for matching. Immutable after construction.

    Built from scratch, it is one compiled layer. Built with ``previous`` (the
    live matcher, on a reload), it reuses ``previous``'s base layer for every
    rule whose groups are unchanged (patterns, vocab terms, weights) and
    compiles only the added and changed rules into a small second layer, so
    editing one rule of thousands costs milliseconds instead of a full
    compile. Each rule is matched on its own, so every score and verdict is
    exactly a full compile's; a scan reads two automatons instead of one
    until the next full compile, which happens whenever the changed rules
    would exceed LAYER_MAX_SHARE."""

    def __init__(self, ruleset: RuleSet, previous: "Matcher | None" = None):
        self.ruleset = ruleset
        self._layers = self._compile(ruleset.rules, previous)
        self._gated = tuple(bool(rule.requires or rule.requires_all) for rule in ruleset.rules)
        self._needs = tuple(map(needs_bits, ruleset.rules))
        # per layer: rule index -> the rule's index in the layer
        self._local = tuple({r: lr for lr, r in enumerate(where) if r >= 0} for _, where in self._layers)

    @staticmethod
    def _compile(rules: tuple[Rule, ...], previous: "Matcher | None") -> tuple[tuple[_Layer, tuple[int, ...]], ...]:
        """The compiled layers, each with the index in ``rules`` of each of
        its rules (-1: a rule no longer served)."""
        if previous is not None:
            base, _ = previous._layers[0]
            position = {rule.id: i for i, rule in enumerate(rules)}
            keep = [position.get(rule.id, -1) for rule in base.rules]
            keep = [i if i >= 0 and rules[i].groups == old.groups else -1 for i, old in zip(keep, base.rules)]
            served = set(keep) - {-1}
            fresh = tuple(i for i in range(len(rules)) if i not in served)
            if len(fresh) <= LAYER_MAX_SHARE * len(rules):
                layers: tuple = ((base, tuple(keep)),)
                if fresh:
                    layers += ((_Layer(tuple(rules[i] for i in fresh)), fresh),)
                return layers
        return ((_Layer(rules), tuple(range(len(rules)))),)

    @property
    def layers(self) -> int:
        """How many compiled layers a scan reads (1 after a full compile)."""
        return len(self._layers)

    @property
    def phrase_count(self) -> int:
        return sum(len(group.patterns) for rule in self.ruleset.rules for group in rule.groups)

    def hits(self, scan: Scan) -> list[Hit]:
        """The best hit of every group that matched, in rule-set indices."""
        out = []
        for layer, where in self._layers:
            occ = layer.occurrences(scan)
            for gid, (rank, source, parts) in layer.best_hits(scan, occ).items():
                lr, g = layer.groups[gid]
                r = where[lr]
                if r < 0:
                    continue
                sim, neg_start, length, _ = rank
                out.append(Hit(r, g, source, -neg_start, -neg_start + length, sim, _parts(parts)))
        return out

    def scan(self, norm: str) -> list[Hit]:
        """``hits`` for normalised text (no entities: they need the original)."""
        return self.hits(Scan(norm, norm))

    def score(self, text: str) -> list[RuleScore]:
        """Scores of every rule with at least one hit, best first."""
        return self.scores(Scan(text))

    def scores(self, scan: Scan) -> list[RuleScore]:
        by_rule: dict[int, list[Hit]] = {}
        for hit in self.hits(scan):
            by_rule.setdefault(hit.rule, []).append(hit)
        out = [self._rule_score(r, hits) for r, hits in by_rule.items()]
        out.sort(key=lambda s: (-s.score, s.hits[0].rule))
        return out

    def best_of_each(self, scan: Scan, kind: tuple[int, ...]) -> dict[int, RuleScore]:
        """What ``scores`` would rank first among the rules of each kind
        (``kind[r]`` for the rule at index r): the same RuleScores, but only
        those are built, and only the rules that could be first are matched
        (:mod:`.ranking`)."""
        out = {}
        for k, (r, items) in best_entries(self._layers, self._local, self.ruleset.rules, self._gated, self._needs,
                                          scan, kind, MAX_OCCURRENCES).items():
            hits = []
            for layer, gid, (rank, source, where) in items:
                sim, neg_start, length, _ = rank
                hits.append(Hit(r, layer.groups[gid][1], source, -neg_start, -neg_start + length, sim, _parts(where)))
            out[k] = self._rule_score(r, hits)
        return out

    def _rule_score(self, r: int, hits: list[Hit]) -> RuleScore:
        rule = self.ruleset.rules[r]
        groups = rule.groups
        met = rule.met({groups[h.group].name for h in hits})
        score = _clamp(sum(groups[h.group].weight * h.similarity for h in hits)) if met else 0
        hits.sort(key=lambda h: (h.start, h.group))
        return RuleScore(rule, score, tuple(hits), met)

