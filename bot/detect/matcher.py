"""Compile a rule set once; score any text against every rule, fast.

How a text is scored, in two passes over the normalised text:

1. **Exact pass.** Every phrase (and the pinyin spelling of every Chinese
   phrase of three or more characters) sits in one Aho-Corasick automaton, so
   all exact occurrences of all phrases come out of a single scan whose cost
   does not grow with the number of rules.
2. **Fuzzy pass.** Phrases long enough to have typos (5+ Chinese characters,
   6+ Latin letters) are indexed by their q-grams (bigrams for Chinese,
   trigrams for Latin). A phrase becomes a candidate only when the text shares
   enough of its q-grams to be within the allowed edits (the q-gram lemma), and
   only candidates are verified with rapidfuzz's ``partial_ratio``. The number
   of candidates still grows with the rule count when phrases share common
   q-grams (bench/README.md has the figures); a position-aware filter is the
   next step.
   Candidates of one cutoff are scored against a short text in one rapidfuzz
   call, and only those that reach the cutoff are aligned one by one.

A rule's score is the sum over its groups of ``weight x strength``, where a
group's strength is the similarity (0..1) of its best-matching phrase; the sum
is clamped to 0..100. Negative groups (things legitimate messages say) pull the
score down. ``requires`` names groups of which at least one must match, or the
rule scores 0.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from itertools import chain

import ahocorasick
from rapidfuzz import fuzz, process

from .normalize import has_cjk, normalize, pinyin_alias
from .rules import Rule, RuleSet

__all__ = ["Hit", "RuleScore", "Matcher", "MAX_MATCH_CHARS"]

# Text beyond this many normalised characters is not read: a description of a
# call is never that long, and the bound keeps a pasted book from costing more.
MAX_MATCH_CHARS = 50_000

PINYIN_SIMILARITY = 95  # a pinyin spelling is a strong but not exact match
MIN_FUZZY_CJK = 5
MIN_FUZZY_LATIN = 6
MIN_PINYIN_ALIAS = 8
WHOLE_TEXT_WINDOW = 400  # below this, fuzzy verification reads the whole text


@dataclass(frozen=True, slots=True)
class Hit:
    """One phrase found in the normalised text."""

    rule: int  # index into RuleSet.rules
    group: int  # index into Rule.groups
    phrase: str  # as written in the rule file
    start: int  # span in the normalised text
    end: int
    similarity: int  # 100 = exact


@dataclass(frozen=True, slots=True)
class RuleScore:
    rule: Rule
    score: int  # 0..100
    hits: tuple[Hit, ...]  # the best hit of each matched group
    requires_met: bool


def _edits_allowed(key: str, cjk: bool) -> int:
    n = len(key)
    if cjk:
        return 0 if n < MIN_FUZZY_CJK else (1 if n < 10 else 2)
    return 0 if n < MIN_FUZZY_LATIN else (1 if n < 12 else 2)


def _grams(text: str, q: int) -> set[str]:
    return {text[i : i + q] for i in range(len(text) - q + 1)}


# Trigrams are indexed only for keys without CJK characters, so a trigram of a
# text can be a key's only inside a run of three or more non-CJK characters.
_NON_CJK_RUN = re.compile("[^\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002ffff\uf900-\ufaff]{3,}")


class _FirstPositions(dict):
    """``text.find(gram)`` for q-grams of a long text, each looked up once.

    With ``complete``, every bigram of the text (and every trigram inside a run
    of non-CJK characters) is filled in one pass, which pays off when many keys
    are checked; a q-gram not filled in is then absent (-1). Otherwise each
    q-gram is found on first use."""

    __slots__ = ("text", "complete")

    def __init__(self, text: str, complete: bool, trigrams: bool):
        # Assigning from the last position to the first leaves the first one.
        super().__init__({text[i : i + 2]: i for i in range(len(text) - 2, -1, -1)} if complete else ())
        if complete and trigrams:
            for match in reversed(list(_NON_CJK_RUN.finditer(text))):
                start, run = match.start(), match.group()
                self.update({run[i : i + 3]: start + i for i in range(len(run) - 3, -1, -1)})
        self.text = text
        self.complete = complete

    def __missing__(self, gram: str) -> int:
        if self.complete:
            return -1
        i = self[gram] = self.text.find(gram)
        return i


_BATCH_MIN = 6  # score this many keys of one cutoff with one rapidfuzz call
_BATCH_SLACK = 0.01  # far above float noise between rapidfuzz's code paths; extra keys are re-checked
_SHORT_NEEDLE = 64  # rapidfuzz finds the optimal partial_ratio alignment up to this length


@dataclass(frozen=True, slots=True)
class _FuzzyKey:
    key: str
    grams: tuple[str, ...]
    need: int  # shared q-grams needed before verification
    cutoff: float  # rapidfuzz score needed to count as a match
    entries: tuple[int, ...]  # fuzzy-enabled phrase entries with this key


def _keep_best(found: dict, eid: int, hit: tuple[int, int, int]) -> None:
    """Keep the better occurrence of one phrase: more similar, then earlier,
    then longer. A total order, so the result never depends on the order in
    which candidates were found (set order differs between processes)."""
    prev = found.get(eid)
    if prev is None or (hit[0], -hit[1], hit[2] - hit[1]) > (prev[0], -prev[1], prev[2] - prev[1]):
        found[eid] = hit


def _hit_rank(hit: "Hit") -> tuple:
    """Which phrase speaks for a group: most similar, earliest, longest
    ("通信管理局" over "通信管理"), then the phrase text for a total order."""
    return hit.similarity, -hit.start, hit.end - hit.start, hit.phrase


class Matcher:
    """A rule set compiled for matching. Immutable after construction."""

    def __init__(self, ruleset: RuleSet):
        self.ruleset = ruleset
        rules = ruleset.rules
        # One entry per (rule, group, phrase): what a hit points back to.
        entries: list[tuple[int, int, str]] = []
        exact: dict[str, list[tuple[int, int]]] = {}
        fuzzy_entries: dict[str, list[int]] = {}
        for r, rule in enumerate(rules):
            for g, group in enumerate(rule.groups):
                for phrase in group.phrases:
                    eid = len(entries)
                    entries.append((r, g, phrase))
                    key = normalize(phrase)
                    if not key:
                        continue
                    exact.setdefault(key, []).append((eid, 100))
                    alias = pinyin_alias(key) if len(key) >= 3 else ""
                    if len(alias) >= MIN_PINYIN_ALIAS:
                        exact.setdefault(alias, []).append((eid, PINYIN_SIMILARITY))
                    if group.fuzzy and _edits_allowed(key, has_cjk(key)):
                        fuzzy_entries.setdefault(key, []).append(eid)
        self._entries = tuple(entries)

        fuzzy: list[_FuzzyKey] = []
        index: dict[str, list[int]] = {}
        for key, eids in fuzzy_entries.items():
            cjk = has_cjk(key)
            q = 2 if cjk else 3
            edits = _edits_allowed(key, cjk)
            grams = tuple(sorted(_grams(key, q)))
            fid = len(fuzzy)
            fuzzy.append(_FuzzyKey(key, grams, max(1, len(grams) - q * edits),
                                   100.0 * (1 - edits / len(key)) - 1e-6, tuple(eids)))
            for gram in grams:
                index.setdefault(gram, []).append(fid)
        self._fuzzy = tuple(fuzzy)
        self._index = {gram: tuple(ids) for gram, ids in index.items()}
        self._has_latin_grams = any(not has_cjk(f.key) for f in fuzzy)
        # Flat per-key arrays for the hot loop (indexed by fuzzy key id).
        self._need = tuple(f.need for f in fuzzy)
        fid_of_key = {f.key: fid for fid, f in enumerate(fuzzy)}

        # Each automaton word also carries the id of the fuzzy key it is (or -1):
        # a fuzzy key found exactly needs no fuzzy verification.
        automaton = ahocorasick.Automaton()
        for key, items in exact.items():
            automaton.add_word(key, (len(key), tuple(items), fid_of_key.get(key, -1)))
        if len(automaton):
            automaton.make_automaton()
        self._automaton = automaton

    @property
    def phrase_count(self) -> int:
        return len(self._entries)

    # -- scanning

    def scan(self, norm: str) -> list[Hit]:
        """Every phrase entry found in normalised text (best occurrence each)."""
        norm = norm[:MAX_MATCH_CHARS]
        found: dict[int, tuple[int, int, int]] = {}  # entry -> (similarity, start, end)
        exact_fids: set[int] = set()  # fuzzy keys that occur exactly: nothing to verify
        if len(self._automaton):
            for end, (length, items, fid) in self._automaton.iter(norm):
                start = end - length + 1
                for eid, sim in items:
                    _keep_best(found, eid, (sim, start, end + 1))
                if fid >= 0:
                    exact_fids.add(fid)
        if self._fuzzy and len(norm) >= MIN_FUZZY_CJK - 1:
            self._fuzzy_pass(norm, found, exact_fids)
        entries = self._entries
        return [Hit(entries[e][0], entries[e][1], entries[e][2], s, t, sim) for e, (sim, s, t) in found.items()]

    def _fuzzy_pass(self, norm: str, found: dict, exact_fids: set[int]) -> None:
        index = self._index
        # Set order varies between processes; ties never depend on it (see _keep_best).
        text_grams = _grams(norm, 2)
        if self._has_latin_grams:
            text_grams |= _grams(norm, 3)
        # Keys sharing enough q-grams with the text (the q-gram lemma), as ids.
        need = self._need
        shared = Counter(chain.from_iterable(map(index.__getitem__, text_grams & index.keys())))
        candidates = [fid for fid, count in shared.items() if count >= need[fid]]
        if exact_fids:
            candidates = [fid for fid in candidates if fid not in exact_fids]
        if not candidates:
            return
        fuzzy = self._fuzzy
        if len(norm) <= WHOLE_TEXT_WINDOW:
            verified = self._verify_whole(norm, candidates)
        else:
            # Filling every q-gram's position costs about as much as finding
            # 1 in 20 of the text's q-grams one by one.
            first = _FirstPositions(norm, 20 * len(candidates) > len(norm), self._has_latin_grams)
            verified = self._verify_windows(norm, candidates, first)
        for fid, hit in verified:
            sim, start, end = hit
            for eid in fuzzy[fid].entries:
                _keep_best(found, eid, (sim, start, end))

    def _verify_whole(self, norm: str, candidates: list[int]):
        """``_verify`` for a text short enough to be read whole, in batches:
        rapidfuzz scores all keys of one cutoff against the text in one call,
        and only the keys that reach it are aligned (exactly as ``_verify``)."""
        fuzzy = self._fuzzy
        if len(candidates) < _BATCH_MIN:
            passed = candidates
        else:
            passed = self._batch_filter(norm, candidates)
        out = []
        for fid in candidates:  # in candidate order, as before
            if fid in passed:
                fk = fuzzy[fid]
                a = fuzz.partial_ratio_alignment(fk.key, norm, score_cutoff=fk.cutoff)
                if a is not None:
                    out.append((fid, (int(a.score), a.dest_start, a.dest_end)))
        return out

    def _batch_filter(self, norm: str, candidates: list[int]) -> set[int]:
        """The candidates that may reach their cutoff against ``norm`` (a superset
        of those that do), scored in one rapidfuzz call per cutoff."""
        fuzzy = self._fuzzy
        groups: dict[float, list[int]] = {}
        passed: set[int] = set()
        for fid in candidates:
            fk = fuzzy[fid]
            if len(fk.key) <= _SHORT_NEEDLE:
                groups.setdefault(fk.cutoff, []).append(fid)
            else:  # rapidfuzz's long-needle search is a heuristic: align these directly
                passed.add(fid)
        for cutoff, fids in groups.items():
            if len(fids) >= _BATCH_MIN:
                # partial_ratio is the score partial_ratio_alignment reports;
                # the slightly lower cutoff only lets extra keys through to the
                # exact check below, never keeps one out.
                passed.update(fids[i] for _, _, i in process.extract(
                    norm, [fuzzy[f].key for f in fids], scorer=fuzz.partial_ratio,
                    score_cutoff=cutoff - _BATCH_SLACK, limit=None))
            else:
                passed.update(fids)
        return passed

    def _verify_windows(self, norm: str, candidates: list[int], first: _FirstPositions):
        """``_verify`` for a long text, with each q-gram's first position looked up once."""
        fuzzy = self._fuzzy
        position = first.__getitem__
        out = []
        for fid in candidates:
            fk = fuzzy[fid]
            key = fk.key
            n = len(key)
            offsets = []
            for i in map(position, fk.grams[:4]):
                if i >= 0:
                    offsets.append(i - n if i > n else 0)
            if not offsets:
                continue
            if len(offsets) > 1:
                offsets = sorted(set(offsets))
            span = 3 * n
            cutoff = fk.cutoff
            best = None
            for offset in offsets:
                a = fuzz.partial_ratio_alignment(key, norm[offset : offset + span], score_cutoff=cutoff)
                if a is not None and (best is None or a.score > best[0]):
                    best = (a.score, offset + a.dest_start, offset + a.dest_end)
            if best is not None:
                out.append((fid, (int(best[0]), best[1], best[2])))
        return out

    @staticmethod
    def _verify(fk: _FuzzyKey, norm: str) -> tuple[int, int, int] | None:
        """The reference verification of one key (the batched paths above give
        the same answers; kept for tests and for reading)."""
        if len(norm) <= WHOLE_TEXT_WINDOW:
            windows = [0]
            span = len(norm)
        else:  # look only around places where the phrase's q-grams occur
            span = 3 * len(fk.key)
            windows = sorted({max(0, i - len(fk.key)) for g in fk.grams[:4] if (i := norm.find(g)) >= 0})
        best = None
        for offset in windows:
            a = fuzz.partial_ratio_alignment(fk.key, norm[offset : offset + span], score_cutoff=fk.cutoff)
            if a is not None and (best is None or a.score > best[0]):
                best = (a.score, offset + a.dest_start, offset + a.dest_end)
        if best is None:
            return None
        return int(best[0]), best[1], best[2]

    # -- scoring

    def score(self, text: str) -> list[RuleScore]:
        """Scores of every rule with at least one hit, best first."""
        return self.score_normalized(normalize(text))

    def score_normalized(self, norm: str) -> list[RuleScore]:
        best: dict[int, dict[int, Hit]] = {}
        for hit in self.scan(norm):
            groups = best.setdefault(hit.rule, {})
            prev = groups.get(hit.group)
            if prev is None or _hit_rank(hit) > _hit_rank(prev):
                groups[hit.group] = hit
        rules = self.ruleset.rules
        out = []
        for r, groups in best.items():
            rule = rules[r]
            raw = sum(rule.groups[g].weight * h.similarity for g, h in groups.items()) / 100  # integer sum: order-free
            met = not rule.requires or any(rule.groups[g].name in rule.requires for g in groups)
            score = max(0, min(100, round(raw))) if met else 0
            out.append(RuleScore(rule, score, tuple(sorted(groups.values(), key=lambda h: (h.start, h.group))), met))
        out.sort(key=lambda s: (-s.score, s.hits[0].rule if s.hits else 0))
        return out
