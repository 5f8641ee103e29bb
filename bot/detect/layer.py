"""Rules compiled for matching (a *layer*): one automaton and its tables.

**Classes.** Every pattern (:mod:`.patterns`) is a sequence of elements:
literal text, a choice, a vocab list, or an entity. An *element class* is one
distinct thing an element can be (the vocab list ``kin``, the literal
``安全账户``), shared by every pattern that uses it; its *keys* are the
normalised strings that make it occur. A layer numbers them once, so that
per message everything is plain ints and tuples.

**One scan.** One Aho-Corasick automaton holds every key of every class and
two anchors per key long enough to have a typo (:mod:`.typos`); a second one
the pinyin spelling of Chinese keys of eight or more pinyin letters. One pass
over the normalised text yields every occurrence of every class
(:mod:`.occurrences` puts a class's list together when it is read). English
keys must meet word boundaries, so ``pay`` is not found in ``repay``.

**Patterns.** A pattern of one element is a *phrase*: its group takes the
element's best occurrence. A longer pattern is registered under one of its
elements (its *trigger*, the rarest first): only when the trigger occurs are
the other elements' occurrences chained (:mod:`.chaining`). Entities and
classes of single characters are found on demand, never by the scan.

What ranking needs to bound a rule's score without matching it
(:mod:`.ranking`) is indexed here too.
"""

from __future__ import annotations

import gc
from array import array
from collections import Counter
from dataclasses import dataclass, replace

from .chaining import NEGATABLE, ONLY_AS_DONE, best_hits
from .inner_loops import SPACED_CHARS as _SPACED_CHARS
from .inner_loops import Automaton, anchor_index
from .normalize import has_cjk, pinyin_alias
from .occurrences import Occurrences, WordTables
from .ranking import group_needs_bits
from .scan import MAX_OCCURRENCES, Scan
from .schema import Element, Rule
from .typos import align_proposed, bounded, tolerates_typo

__all__ = ["Layer", "PINYIN_SIMILARITY", "MIN_PINYIN_ALIAS", "LAZY_ABOVE_CLASSES"]

PINYIN_SIMILARITY = 95
MIN_PINYIN_ALIAS = 8
# A layer of more element classes than this asks which classes occur one by
# one and takes its candidates from the words found (see ``_index_groups``).
LAZY_ABOVE_CLASSES = 100_000


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
    # 0: its group's matches always count; NEGATABLE: not where a negation governs them;
    # ONLY_AS_DONE: nor inside a question (counter-evidence, ``Group.only_as_done``).
    negatable: int = 0


def _class_key(element: Element, fuzzy: bool) -> tuple:
    """Elements that always occur together share a class."""
    if element.kind == "entity":
        return ("entity", element.name)
    return (element.kind, element.name if element.kind == "vocab" else "", element.keys, element.entities, fuzzy)


def _short_keys(keys: tuple[str, ...]) -> tuple[str, ...] | None:
    """The keys of a short class (see ``Layer._compile``), or None when one
    of its keys is long enough to scan for."""
    if not keys or any(len(k) > (1 if has_cjk(k) else 2) for k in keys):
        return None
    return keys

class Layer:
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
                    # A negatable (or only-as-done) group's phrases are patterns: only chaining looks at negations.
                    if len(cids) == 1 and not self._on_demand(cids[0]) and not (group.negatable or group.only_as_done):
                        singles.setdefault(cids[0], []).append((gid, order, pattern.source))
                    else:
                        patterns.append(_Pattern(gid, order, pattern.source, cids,
                                                 tuple(str(e) for e in pattern.elements), pattern.gaps, group.gap,
                                                 negatable=NEGATABLE if group.negatable
                                                 else ONLY_AS_DONE if group.only_as_done else 0))
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
        # What chaining.best_hits reads: per class its label, phrase consumers and
        # the patterns it triggers; the patterns as plain tuples; the on-demand flags.
        self.plan = {cid: (self.singles[cid][0] if cid in self.singles else None,
                           self.singles[cid][1] if cid in self.singles else (), self.triggers.get(cid, ()))
                     for cid in set(self.singles) | set(self.triggers)}
        self.pattern_rows = tuple((p.group, p.order, p.source, p.classes, p.labels, p.gaps, p.gap, p.scanned,
                                   p.negatable) for p in self.patterns)
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
        # In a large layer (LAZY_ABOVE_CLASSES), per class every group its
        # occurrence may make a candidate: its phrases' and the patterns' it
        # triggers (whether their other classes occur is left to matching: the
        # bound stays an upper bound). Per automaton word, those of all its
        # classes in one flat array: a message's candidates are a union of one
        # slice per word found (~40 at 10,000 synthetic rules), not a Python
        # step per class that occurs (~2,200) and per group, each a cache miss
        # or more in tables that size.
        # Below that size ``present`` is a set, and the patterns' other classes
        # are checked, as cheap as it is exact: per class the groups it makes
        # candidates by itself (``direct_of``), and (group, the other scanned
        # classes) of its other patterns. (Measured: 24,500 classes, 1,000
        # synthetic rules, are faster this way; 233,000, 10,000 rules, the other.)
        self.lazy_presence = len(self.class_labels) > LAZY_ABOVE_CLASSES
        class_groups, direct_of, checks_of = {}, {}, {}
        for cid, (_, consumers, pids_) in self.plan.items():
            class_groups[cid] = tuple(dict.fromkeys([gid for gid, _, _ in consumers]
                                                    + [self.patterns[pid].group for pid in pids_]))
            direct, checks = [gid for gid, _, _ in consumers], []
            for pid in pids_:
                p = self.patterns[pid]
                others = frozenset(p.scanned) - {cid}
                if others:
                    checks.append((p.group, others))
                else:
                    direct.append(p.group)
            direct_of[cid] = tuple(dict.fromkeys(direct))
            if checks:
                checks_of[cid] = tuple(dict.fromkeys(c for c in checks if c[0] not in direct_of[cid]))
        self.class_groups, self.direct_of, self.checks_of = class_groups, direct_of, checks_of
        self.triggering = frozenset(direct_of)
        flat, starts = array("I"), array("I", [0])
        for classes in self.words.classes:
            gids: set[int] = set()
            for cid in classes:
                gids.update(class_groups.get(cid, ()))
            flat.extend(sorted(gids))
            starts.append(len(flat))
        self.word_groups, self.word_starts = flat, starts
        # The patterns of classes found on demand only ({link}, (要|拿)…{amount}),
        # by their classes: (classes, their groups). Ranking finds those
        # classes before it counts the groups as candidates (most messages
        # have no link, no amount: with thousands of rules, counting every
        # such group a candidate for every message was most of ranking's work).
        always: dict[tuple[int, ...], list[int]] = {}
        for pid in self.always:
            p = self.patterns[pid]
            always.setdefault(tuple(dict.fromkeys(p.classes)), []).append(p.group)
        self.always_checks = tuple((classes, tuple(dict.fromkeys(gids))) for classes, gids in always.items())
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
        # The order ranking matches a rule's groups in (:func:`.ranking.best_entries`): the
        # positive groups its ``requires`` name, then the other positive ones, heaviest first,
        # then the negative ones, so that the most it can still score falls fastest.
        self.match_order = tuple(tuple(sorted(gids, key=lambda g: (
            self.weights[g] <= 0, not self.group_needs[g], -self.weights[g], g))) for gids in rule_groups)

    def candidate_groups(self, occ: Occurrences, scan: Scan) -> set[int]:
        """The groups that may match: those of the classes that occur (see
        ``_index_groups``; when many do, without checking a pattern's other
        classes), and those of the patterns of classes found on demand
        whose classes may all occur (``_may_occur``). Every group
        ``best_hits`` finds is among them."""
        found: set[int] = set()
        present = occ.present
        if not self.lazy_presence:
            direct_of, checks_of = self.direct_of, self.checks_of
            for cid in present.intersection(self.triggering):  # most classes that occur trigger nothing
                found.update(direct_of[cid])
                for gid, others in checks_of.get(cid, ()):
                    if gid not in found and present.issuperset(others):
                        found.add(gid)
        else:
            flat, starts = self.word_groups, self.word_starts
            for word in occ.words_found:
                found.update(flat[starts[word]:starts[word + 1]])
            class_groups = self.class_groups
            for cid in occ.extra_classes:
                found.update(class_groups.get(cid, ()))
        if self.always_checks:
            known: dict[int, bool] = {}
            for classes, gids in self.always_checks:
                for c in classes:
                    here = known.get(c)
                    if here is None:
                        here = known[c] = self._may_occur(c, occ, scan)
                    if not here:
                        break
                else:
                    found.update(gids)
        return found

    def _may_occur(self, cid: int, occ: Occurrences, scan: Scan) -> bool:
        """Whether class ``cid``, found on demand, may occur: the scan found
        one of its words, or one of its short keys is in the text (without
        the word-boundary test chaining makes), or one of its entities is
        there. A superset of what chaining finds, at a substring search a key."""
        if cid in occ.present:
            return True
        norm = scan.norm
        for key in self.class_short[cid] or ():
            if key in norm:
                return True
        for name in self.class_entities[cid]:
            if scan.entity(name):
                return True
        return False

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
        # For :mod:`.spelling`: the words of every key (never taken for a typo), and those of
        # the keys that tolerate typos (what a message's misspelling is spelled as).
        latin = [(key, classes) for key, classes in exact.items() if not has_cjk(key)]
        self.key_words = frozenset(word for key, _ in latin for word in key.split(" "))
        self.rule_words = frozenset(word for key, classes in latin if any(class_fuzzy[c] for c in classes)
                                    for word in key.split(" "))
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
        # Halves without Chinese (of English keys, and "you" of "给 you") are an
        # automaton of their own (``_latin_anchors``), not read in a message of
        # English the speller read (see ``_occurrences``).
        latin_anchors: dict[str, list] = {}
        for fid, key in enumerate(self.fuzzy_keys):
            h = len(key) // 2
            for half, other, side in ((key[:h], key[h:], 2), (key[h:], key[:h][::-1], 3)):
                table = words if has_cjk(half) else latin_anchors
                entry = table.setdefault(half, [len(half), -1, [], []])
                entry[side].append((fid, other))
        for entry in (*words.values(), *latin_anchors.values()):
            entry[2] = anchor_index(entry[2]) if entry[2] else ()
            entry[3] = anchor_index(entry[3]) if entry[3] else ()
        self._automaton = Automaton(list(words), [tuple(entry) for entry in words.values()])
        self._latin_anchors = Automaton(list(latin_anchors), [tuple(entry) for entry in latin_anchors.values()])
        # Pinyin is written with spaces anywhere ("haoma yao bei dongjie"), so
        # it is looked for in the text's letters with the spaces taken out.
        self._pinyin = Automaton(list(pinyin), [(len(spelling), tuple(sorted(cids))) for spelling, cids in pinyin.items()])

    # -- matching

    def occurrences(self, scan: Scan) -> Occurrences:
        """Every occurrence (start, end, similarity) of every scanned class,
        at most MAX_OCCURRENCES per class, in the order found (each class's
        list built when first read: :mod:`.occurrences`). Worked out once per
        message and layer (``Scan.occurrences``): the lists fill the same way
        whoever reads them first."""
        found = scan.occurrences.get(self)
        if found is None:
            found = scan.occurrences[self] = self._occurrences(scan)
        return found

    def _occurrences(self, scan: Scan) -> Occurrences:
        norm = scan.norm
        ends: dict[int, list[int]] = {}  # automaton word -> where it ends in ``padded``
        proposed: set[tuple[int, int]] = set()
        padded = " " + norm + " "  # positions in ``padded`` are one more than in ``norm``
        if norm and len(self._automaton):
            self._automaton.scan_matches(padded, ends, proposed, MAX_OCCURRENCES)
        if norm and (not scan.spelled or has_cjk(norm)):
            # An English message's typos were spelled right by the speller, which leaves real
            # words alone; an edit away from an English key is mostly another word there
            # ("reactivate" is no typo of "deactivate"), and these anchors were a third of the
            # time of a long English transcript. Malay messages keep them, and Chinese ones
            # with English words in them ("加了LINE" for "加LINE").
            self._latin_anchors.scan_matches(padded, ends, proposed, MAX_OCCURRENCES)
        occ = Occurrences(ends, self.words, MAX_OCCURRENCES, self.lazy_presence)
        if proposed:
            word_fid = self.word_fid
            align_proposed(self.fuzzy_keys, self.fuzzy_classes, padded, occ, {word_fid[w] for w in ends}, proposed)
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
            if span is None or not bounded(scan.norm, *span):
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

    def best_hits(self, scan: Scan, occ: Occurrences) -> dict[int, tuple[tuple, str, tuple | None]]:
        """Each group's best match: layer group id -> (rank, pattern source,
        where), rank = (similarity, -start, length, -order of the pattern in
        its group), ``where`` None for a phrase, else (labels, spans) of its
        elements. See :func:`.chaining.best_hits`."""
        return best_hits(occ, self.plan, self.pattern_rows, self.always, lambda cid: self.entities_of(scan, cid),
                         scan.negations, self.demand_plan, scan.norm, MAX_OCCURRENCES)
