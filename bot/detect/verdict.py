"""From rule scores to a decision a person can act on.

The decision is deliberately simple so it can be explained to a user and to an
admin reading ``/why``:

* the best-scoring *scam* rule decides the risk: ``high`` / ``medium`` (both
  mean "scam": medium is "likely a scam, here is how to check") / ``low`` /
  ``none``, by the rule file's thresholds;
* when no scam rule reaches medium but a non-scam rule does (for example a
  billing complaint for the telecom regulator), the verdict names that
  category with ``scam=False`` so the user gets the right advice;
* evidence is the winning rule's matched phrases, with spans in the original
  text the user wrote.
"""

from __future__ import annotations

from dataclasses import dataclass

from .matcher import Matcher, RuleScore
from .model import Model, second_opinion
from .normalize import normalize, original_spans
from .rules import RuleSet, Thresholds

__all__ = ["Evidence", "Verdict", "Explanation", "Detector"]


@dataclass(frozen=True, slots=True)
class Evidence:
    phrase: str  # the rule's phrase
    text: str  # what the user actually wrote there
    start: int  # span in the original text
    end: int
    group: str  # which signal group it belongs to (claim, threat, demand ...)
    similarity: int  # 100 = exact

    def to_json(self) -> dict:
        return {"phrase": self.phrase, "text": self.text, "start": self.start, "end": self.end,
                "group": self.group, "similarity": self.similarity}


@dataclass(frozen=True, slots=True)
class Verdict:
    scam: bool
    risk: str  # "high" | "medium" | "low" | "none"
    category: str | None
    rule: str | None
    score: int
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict:
        """The batch-checker format (an interface: keep it stable)."""
        return {"scam": self.scam, "risk": self.risk, "category": self.category, "rule": self.rule,
                "score": self.score, "evidence": [e.to_json() for e in self.evidence]}


@dataclass(frozen=True)
class Explanation:
    """Everything behind a verdict, for admins: every rule that scored."""

    verdict: Verdict
    scores: tuple[RuleScore, ...]
    thresholds: Thresholds
    normalized: str


class Detector:
    """A rule set compiled once per load; ``check`` is a pure function of
    (rule set, text). Safe to share between tasks: nothing mutates."""

    def __init__(self, ruleset: RuleSet, previous: "Detector | None" = None, *, model: Model | None = None):
        """``previous``: the live detector, on a reload, so rules that did not
        change are not compiled again (see ``Matcher``); verdicts are the same
        either way."""
        self.ruleset = ruleset
        self.matcher = Matcher(ruleset, previous.matcher if previous is not None else None)
        self._scam = tuple(ruleset.categories[rule.category].scam for rule in ruleset.rules)
        # --- learned second opinion (bot/detect/model.py), opt-in: None = rules only.
        # It can only raise a verdict; a reload keeps the previous detector's model.
        self.model = model if model is not None else (previous.model if previous is not None else None)

    @property
    def version(self) -> str:
        return self.ruleset.digest

    def check(self, text: str) -> Verdict:
        """The verdict on ``text``: ``explain(text).verdict``, without scoring
        every rule in full (only the best scam and non-scam rules count)."""
        verdict = self._decide(text, *self.matcher.best_scores(normalize(text), self._scam))
        return verdict if self.model is None else second_opinion(verdict, text, self.model)  # model hook

    def explain(self, text: str) -> Explanation:
        norm = normalize(text)
        scores = self.matcher.score_normalized(norm)
        scam_best = next((s for s in scores if self._scam[s.hits[0].rule]), None)
        other_best = next((s for s in scores if not self._scam[s.hits[0].rule]), None)
        verdict = self._decide(text, scam_best, other_best)
        if self.model is not None:  # model hook, as in check
            verdict = second_opinion(verdict, text, self.model)
        return Explanation(verdict, tuple(scores), self.ruleset.thresholds, norm)

    def _decide(self, text: str, scam_best: RuleScore | None, other_best: RuleScore | None) -> Verdict:
        thresholds = self.ruleset.thresholds
        top = scam_best.score if scam_best else 0
        risk = thresholds.risk(top)
        if scam_best is not None and risk in ("high", "medium"):
            return self._verdict(text, scam_best, True, risk)
        if other_best is not None and other_best.score >= thresholds.medium:
            return self._verdict(text, other_best, False, "low" if risk == "low" else "none")
        if scam_best is not None and risk == "low":
            return self._verdict(text, scam_best, False, "low")
        return Verdict(False, "none", None, None, top)

    @staticmethod
    def _verdict(text: str, best: RuleScore, scam: bool, risk: str) -> Verdict:
        rule = best.rule
        spans = original_spans(text, [(hit.start, hit.end) for hit in best.hits])
        evidence = [Evidence(hit.phrase, text[start:end], start, end, rule.groups[hit.group].name, hit.similarity)
                    for hit, (start, end) in zip(best.hits, spans)]
        return Verdict(scam, risk, rule.category, rule.id, best.score, tuple(evidence))
