"""From rule scores to a decision a person can act on.

The decision is deliberately simple so it can be explained to a user and to
an admin reading ``/why``:

* the best-scoring *scam* rule sets the risk: ``high`` / ``medium`` (both
  mean "scam": medium is "likely a scam, here is how to check") / ``low`` /
  ``none``, by the rule file's thresholds;
* the kind of scam is named by the best *specific* scam rule. A fallback
  rule (the universal red flags: an unsolicited identity or offer meeting a
  request for money, codes or a move to another channel) can raise the risk
  of a story no specific rule knows, but it names the kind (``other_scam``)
  only when no specific rule reaches ``low``;
* when no scam rule reaches medium but a non-scam rule does (a billing
  complaint for the telecom regulator), the verdict names that category
  with ``scam=False`` so the user gets the right advice;
* evidence is the deciding rules' matched words, in the text the user
  wrote: whole words (Chinese ones by a dictionary, :mod:`.chinese_words`),
  each span once, overlaps merged;
* a message that is not a scam only because it speaks like an anti-fraud
  warning (the rule file's ``warning`` vocab: "提醒大家", "PSA", "saw it on
  the news") but tells a scam's story carries that scam's rule in
  ``warns_of``. The warning words keep labelled news and notices from being
  called scams, yet "PSA: <a scam text>" forwarded to a parent is a scam to
  that parent, and the reply must say what the story is, never "nothing
  matched" (:meth:`Detector.warns_of`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from .matcher import Matcher, RuleScore, Scan
from .model import Model, second_opinion
from .chinese_words import whole_chinese_words
from .inner_loops import Automaton
from .normalize import has_cjk, is_spaced, normalize
from .ranking import clamp
from .schema import RuleSet, Thresholds

__all__ = ["Evidence", "Verdict", "Explanation", "Detector"]


@dataclass(frozen=True, slots=True)
class Evidence:
    phrase: str  # the rule's pattern (or phrase) as written
    text: str  # what the user actually wrote there
    start: int  # span in the original text
    end: int
    group: str  # which signal group it belongs to (claim, threat, demand ...)
    similarity: int  # 100 = exact
    slot: str | None = None  # the vocab list, choice or entity that matched, e.g. "{kin}"

    def to_json(self) -> dict:
        out = {"phrase": self.phrase, "text": self.text, "start": self.start, "end": self.end,
               "group": self.group, "similarity": self.similarity}
        if self.slot is not None:
            out["slot"] = self.slot
        return out


@dataclass(frozen=True, slots=True)
class Verdict:
    scam: bool
    risk: str  # "high" | "medium" | "low" | "none"
    category: str | None
    rule: str | None
    score: int
    evidence: tuple[Evidence, ...] = ()
    # Not a scam as written, but a warning about the scam of this rule (id): see ``Detector.warns_of``.
    warns_of: str | None = None

    def to_json(self) -> dict:
        """The batch-checker format (an interface: keep it stable; ``warns_of`` only when set)."""
        out = {"scam": self.scam, "risk": self.risk, "category": self.category, "rule": self.rule,
               "score": self.score, "evidence": [e.to_json() for e in self.evidence]}
        if self.warns_of is not None:
            out["warns_of"] = self.warns_of
        return out


@dataclass(frozen=True)
class Explanation:
    """Everything behind a verdict, for admins: every rule that scored."""

    verdict: Verdict
    scores: tuple[RuleScore, ...]
    thresholds: Thresholds
    normalized: str


# A pattern match at most this long (normalised characters) is quoted whole;
# a longer one element by element, so the words in a gap are never quoted.
COMPACT_SPAN = 16

# Rule kinds, as Detector ranks them.
_SPECIFIC, _FALLBACK, _OTHER = range(3)

# The vocab list of what anti-fraud warnings say; a pattern that names it is "warning words".
NOTICE_VOCAB = "warning"
_NOTICE_SLOT = "{" + NOTICE_VOCAB + "}"


class Detector:
    """A rule set compiled once per load; ``check`` is a pure function of
    (rule set, text). Safe to share between tasks: nothing mutates."""

    def __init__(self, ruleset: RuleSet, previous: "Detector | None" = None, *, model: Model | None = None):
        """``previous``: the live detector, on a reload, so rules that did not
        change are not compiled again (see ``Matcher``); verdicts are the same
        either way."""
        self.ruleset = ruleset
        self.matcher = Matcher(ruleset, previous.matcher if previous is not None else None)
        # Each rule's kind, by its index in the rule set.
        self._kinds = tuple(_OTHER if not ruleset.categories[rule.category].scam
                            else _FALLBACK if rule.fallback else _SPECIFIC for rule in ruleset.rules)
        # --- learned second opinion (bot/detect/model.py), opt-in: None = rules only.
        # It can only raise a verdict; a reload keeps the previous detector's model.
        self.model = model if model is not None else (previous.model if previous is not None else None)
        # The warning words, normalised: a message without any is never looked at again (``warns_of``).
        notice = ruleset.vocab.get(NOTICE_VOCAB)
        terms = sorted({normalize(t).strip() for t in notice.terms} - {""}) if notice is not None else []
        self._notice = Automaton(terms, terms) if terms else None
        # The counter-groups holding warning words ("PSA", "提醒大家"): left out to score the story a
        # warning tells (``warns_of``). One that also holds other counter-evidence (a bank's "we'll
        # never ask for this code") is counted again for the story found when its best hit was not
        # through warning words (``_mixed``: rule index -> such groups).
        self._warning_groups = self.matcher.group_ids(
            lambda rule, group: group.weight < 0 and any(_NOTICE_SLOT in p.source for p in group.patterns))
        self._mixed = {r: tuple(g for g, group in enumerate(rule.groups) if group.weight < 0
                                and any(_NOTICE_SLOT in p.source for p in group.patterns)
                                and not all(_NOTICE_SLOT in p.source for p in group.patterns))
                       for r, rule in enumerate(ruleset.rules)}

    @property
    def version(self) -> str:
        return self.ruleset.digest

    def with_model(self, model: Model | None) -> "Detector":
        """This detector asking ``model`` for a second opinion (None: the rules alone).
        A shallow copy: the compiled rules are shared, not built again."""
        if model is self.model:
            return self
        twin = copy.copy(self)
        twin.model = model
        return twin

    def check(self, text: str) -> Verdict:
        """The verdict on ``text``: ``explain(text).verdict``, without
        scoring in full the rules that do not decide it."""
        scan = self.matcher.read(text)
        best = self.matcher.best_of_each(scan, self._kinds, self._worth)
        verdict = self._decide(scan, best.get(_SPECIFIC), best.get(_FALLBACK), best.get(_OTHER))
        if not verdict.scam and self._has_warning_words(scan):
            verdict = self._with_warns_of(verdict, scan)
        if self.model is not None:  # model hook, as in explain(); never raises a warning (warns_of)
            verdict = second_opinion(verdict, text, self.model)
        return verdict

    def explain(self, text: str) -> Explanation:
        scan = self.matcher.read(text)
        scores = self.matcher.scores(scan)
        best: dict[int, RuleScore] = {}
        for s in scores:  # best first
            best.setdefault(self._kinds[s.hits[0].rule], s)
        verdict = self._decide(scan, best.get(_SPECIFIC), best.get(_FALLBACK), best.get(_OTHER))
        if not verdict.scam and self._has_warning_words(scan):
            verdict = self._with_warns_of(verdict, scan)
        if self.model is not None:  # model hook: may only raise the rules' verdict
            verdict = second_opinion(verdict, text, self.model)
        return Explanation(verdict, tuple(scores), self.ruleset.thresholds, scan.norm)

    def _has_warning_words(self, scan: Scan) -> bool:
        """Whether the text holds a warning word at all (a substring test, so never a miss):
        only then is the story it may tell looked for (``warns_of``)."""
        return self._notice is not None and bool(self._notice.iter(scan.norm))

    def _with_warns_of(self, verdict: Verdict, scan: Scan) -> Verdict:
        story = self.warns_of(scan)
        return verdict if story is None else replace(verdict, warns_of=story)

    def warns_of(self, scan: Scan) -> str | None:
        """The scam rule (id) that would put ``scan`` at medium risk or above were its
        warning words' counter-evidence left out: the best specific rule, else the fallback;
        None when none would. Other counter-evidence still counts (a code message's "do not
        share it", a call back on the number on file), also inside a counter-group that holds
        warning words too (``_score_past_warnings``).

        Ranked like ``check`` (:mod:`.ranking`), not by scoring every rule: only a rule that
        can reach medium risk is matched, so a long text full of rule words and one
        "PSA" costs about one ``check`` more, not a full scoring of the rule set."""
        medium = self.ruleset.thresholds.medium

        def worth(kind: int, best: dict[int, int]) -> int | None:
            return None if kind == _OTHER else medium - 1  # a story below medium risk is no story to tell

        skip = self._warning_groups
        while True:
            best = self.matcher.best_of_each(scan, self._kinds, worth, skip)
            for kind in (_SPECIFIC, _FALLBACK):
                story = best.get(kind)
                if story is None or story.score < medium:
                    continue
                r = story.hits[0].rule
                if self._score_past_warnings(scan, story) < medium:
                    skip = self.matcher.without_rule(skip, r)  # not this one: the next best may be
                    break
                return story.rule.id
            else:
                return None

    def _score_past_warnings(self, scan: Scan, story: RuleScore) -> int:
        """``story``'s score (ranked with every counter-group holding warning words left out)
        with its mixed counter-groups (``_mixed``) counted again where their best hit was not
        through warning words."""
        r = story.hits[0].rule
        groups = story.rule.groups
        total = sum(groups[h.group].weight * h.similarity for h in story.hits)
        for g in self._mixed[r]:
            hit = self.matcher.group_hit(scan, r, g)
            if hit is not None and _NOTICE_SLOT not in hit.phrase:
                total += groups[g].weight * hit.similarity
        return clamp(total)

    def _worth(self, kind: int, best: dict[int, int]) -> int | None:
        """What the best rule of ``kind`` must score to change what ``_decide`` makes of the
        kinds before it (``best``: their best scores; see ``ranking.Worth``): lets ``check``
        skip the rules that cannot. Kept beside ``_decide``, which it mirrors."""
        if kind == _FALLBACK:  # taken only over a specific rule it outscores
            return best.get(_SPECIFIC, -1)
        if kind == _OTHER:  # heard only when no scam rule reaches medium risk, and from medium on
            medium = self.ruleset.thresholds.medium
            top = max(best.values(), default=-1)
            return None if top >= medium else medium - 1
        return -1

    def _decide(self, scan: Scan, specific: RuleScore | None, fallback: RuleScore | None,
                other: RuleScore | None) -> Verdict:
        thresholds = self.ruleset.thresholds
        top = max((s for s in (specific, fallback) if s is not None), key=lambda s: s.score, default=None)
        score = top.score if top else 0
        risk = thresholds.risk(score)
        # The kind: the specific rule when it recognises the story at all.
        namer = specific if specific is not None and specific.score >= thresholds.low else top
        deciding = [s for s in (namer, top) if s is not None]
        if top is not None and risk in ("high", "medium"):
            return self._verdict(scan, namer, True, risk, score, deciding)
        if other is not None and other.score >= thresholds.medium:
            return self._verdict(scan, other, False, "low" if risk == "low" else "none", other.score, [other])
        if top is not None and risk == "low":
            return self._verdict(scan, namer, False, "low", score, deciding)
        return Verdict(False, "none", None, None, score)

    def _verdict(self, scan: Scan, namer: RuleScore, scam: bool, risk: str, score: int,
                 deciding: list[RuleScore]) -> Verdict:
        rule = namer.rule
        return Verdict(scam, risk, rule.category, rule.id, score, tuple(_evidence(scan, deciding)))


def _evidence(scan: Scan, scores: list[RuleScore]) -> list[Evidence]:
    """The words behind ``scores`` in the user's text: positive groups only,
    a short pattern match whole and a long one element by element, widened
    to whole English and Chinese words, overlaps merged, in reading order."""
    raw: list[tuple[int, int, str, str, int, str | None]] = []  # (start, end, phrase, group, similarity, slot)
    seen_rules = set()
    for s in scores:
        if s.rule.id in seen_rules:
            continue
        seen_rules.add(s.rule.id)
        for hit in s.hits:
            group = s.rule.groups[hit.group]
            if group.weight <= 0:
                continue
            if len(hit.parts) > 1 and hit.end - hit.start <= COMPACT_SPAN:
                # A short match reads best whole ("號碼將被凍結", not "號" and "凍結").
                raw.append((hit.start, hit.end, hit.phrase, group.name, hit.similarity, None))
            elif hit.parts:
                for part in hit.parts:
                    slot = part.label if part.label.startswith(("{", "(")) else None
                    raw.append((part.start, part.end, hit.phrase, group.name, part.similarity, slot))
            else:
                raw.append((hit.start, hit.end, hit.phrase, group.name, hit.similarity, None))
    if not raw:
        return []
    offsets = scan.offsets()
    text = scan.text
    spans = []
    for start, end, phrase, group, sim, slot in raw:
        a, b = offsets[start], offsets[end - 1] + 1
        a, b = _whole_words(text, a, b)
        spans.append([a, b, phrase, group, sim, slot])
    # Whole Chinese words after a first merge (fewer spans to widen), then merge what now overlaps.
    merged = _merge(spans)
    if has_cjk(text):
        for span in merged:
            span[0], span[1] = whole_chinese_words(text, span[0], span[1])
        merged = _merge(merged)
    return [Evidence(phrase, text[a:b], a, b, group, sim, slot) for a, b, phrase, group, sim, slot in merged]


def _merge(spans: list[list]) -> list[list]:
    """``[start, end, phrase, group, similarity, slot]`` spans in reading order, overlapping
    ones made one (named by the longer of the two)."""
    spans.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    merged: list[list] = []
    for item in spans:
        if merged and item[0] < merged[-1][1]:  # overlaps the previous one: one piece of evidence
            last = merged[-1]
            if item[1] - item[0] > last[1] - last[0]:
                last[2:] = item[2:]
            last[1] = max(last[1], item[1])
            continue
        merged.append(list(item))
    return merged


def _whole_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span of ``text`` that starts or ends inside an English word
    (or number) to the whole word: a stem ("transfer") quotes what the user
    wrote ("transferred")."""
    while start > 0 and is_spaced(text[start - 1].casefold()[:1]) and is_spaced(text[start].casefold()[:1]):
        start -= 1
    while end < len(text) and is_spaced(text[end].casefold()[:1]) and is_spaced(text[end - 1].casefold()[:1]):
        end += 1
    return start, end
