"""Run the examples every rule carries, the way Semgrep and Sigma rules carry tests.

A ``match`` example must make its own rule score at least the medium threshold
*and* win the verdict's category (so a neighbouring rule does not steal it).
A ``no_match`` example must keep its rule below the medium threshold.
The CLI (`callguard rules test`), the test suite and every live reload run this.
"""

from __future__ import annotations

from dataclasses import dataclass

from .verdict import Detector, Verdict

__all__ = ["ExampleFailure", "run_examples"]


@dataclass(frozen=True)
class ExampleFailure:
    rule: str
    kind: str  # "match" | "no_match"
    text: str
    score: int  # the rule's own score for the text
    verdict_category: str | None
    line: int  # the rule's line in the file

    def __str__(self) -> str:
        if self.kind == "match":
            why = f"scored {self.score}"
            if self.verdict_category is not None:
                why += f", verdict category {self.verdict_category}"
            return f"rule '{self.rule}': match example not flagged ({why}): {self.text!r}"
        return f"rule '{self.rule}': no_match example flagged (scored {self.score}): {self.text!r}"


def run_examples(detector: Detector, verdicts: dict[str, Verdict] | None = None) -> list[ExampleFailure]:
    """Every example that does not hold. ``verdicts`` (if given) receives
    each example text's verdict, so a reload's comparison need not judge the
    same texts again (:func:`.build.check_candidate`)."""
    failures: list[ExampleFailure] = []
    medium = detector.ruleset.thresholds.medium
    for rule in detector.ruleset.rules:
        for kind, texts in (("match", rule.examples_match), ("no_match", rule.examples_no_match)):
            for text in texts:
                explanation = detector.explain(text)
                if verdicts is not None:
                    verdicts[text] = explanation.verdict
                own = next((s.score for s in explanation.scores if s.rule.id == rule.id), 0)
                category = explanation.verdict.category
                if kind == "match":
                    ok = own >= medium and category == rule.category
                else:
                    ok = own < medium
                if not ok:
                    failures.append(ExampleFailure(rule.id, kind, text, own, category, rule.line))
    return failures
