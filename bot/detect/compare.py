"""Would a candidate rule set change verdicts? Ask it about texts it did not write.

A rule file can pass lint and every one of its own examples and still ruin
the verdicts (issue 12): rules whose phrases are nothing but their own
examples turn the classic fake-police "safe account" story into "no scam",
and a weight of 45 on 的/我/了/是 makes "妈妈打电话问我什么时候回家吃饭" a
phishing scam. A file's own examples cannot catch that: they come from the
same author. So before a swap, the candidate judges texts from outside the
file (:class:`Probe`):

* the embedded examples of the **live** rule set, and
* the regression set shipped with the project (``rules/regression.jsonl``:
  scam and benign lines per category, language and region),

and each verdict is compared with the live rule set's verdict on the same
text. A verdict *changes* when the answer a user acts on changes: scam or
not, or the kind of scam (the risk level within "scam" is not counted).

An edit that does what it should changes a few of these ~550 texts; the two
attacks above change dozens. :attr:`Comparison.needs_confirmation` asks for
a person's confirmation when more than :data:`MAX_QUIET_CHANGES` verdicts
change, or when a text known to be a scam, flagged today, would no longer be
(a false reassurance: the worst failure CallGuard can make).

Pure: detectors and texts in, a :class:`Comparison` out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from .schema import RuleSet
from .verdict import Verdict

__all__ = ["Judge", "Probe", "Outcome", "Change", "Comparison", "compare", "example_probes", "regression_probes",
           "MAX_QUIET_CHANGES", "MAX_EXAMPLE_PROBES", "SAMPLES"]

# More changed verdicts than this need a person's confirmation. Three: a real
# fix (a phrase added, a weight tuned) moves a handful of the ~550 texts,
# about one category's worth of scam and benign lines at most; each attack in
# issue 12 moves dozens. A known scam no longer flagged always needs it.
MAX_QUIET_CHANGES = 3
SAMPLES = 5  # changes shown to the admin, the worst first
# The live rules' examples judged at most: all of them for a file like the
# shipped one (~300), a sample across every rule for a big file (1,000 rules
# carry 13,000), so that comparing costs seconds, not minutes.
MAX_EXAMPLE_PROBES = 3_000


class Judge(Protocol):
    def check(self, text: str) -> Verdict: ...


@dataclass(frozen=True)
class Probe:
    """A text from outside the candidate file, and what is known about it."""

    text: str
    source: str  # where it comes from: "regression.jsonl:12", "example of rule 'x'"
    label: str | None = None  # "scam" or "benign" when the truth is known


@dataclass(frozen=True)
class Outcome:
    """The part of a verdict a user acts on (and the risk, for display)."""

    scam: bool
    category: str | None
    risk: str

    @classmethod
    def of(cls, verdict: Verdict) -> "Outcome":
        return cls(verdict.scam, verdict.category, verdict.risk)

    def same_answer(self, other: "Outcome") -> bool:
        return self.scam == other.scam and self.category == other.category


@dataclass(frozen=True)
class Change:
    """One text whose verdict the candidate would change."""

    probe: Probe
    before: Outcome  # the live rule set's verdict
    after: Outcome  # the candidate's

    @property
    def misses_scam(self) -> bool:
        """A known scam that is flagged today and would no longer be."""
        return self.probe.label == "scam" and self.before.scam and not self.after.scam

    @property
    def severity(self) -> int:
        """For ordering samples, worst first: a missed known scam, then any
        "scam" -> "no scam", then a false alarm on a known benign text, then
        the rest (another kind of scam)."""
        if self.misses_scam:
            return 0
        if self.before.scam and not self.after.scam:
            return 1
        if self.probe.label == "benign" and self.after.scam and not self.before.scam:
            return 2
        return 3


@dataclass(frozen=True)
class Comparison:
    """The candidate against the live rule set on ``checked`` texts."""

    checked: int
    changes: tuple[Change, ...]
    live_version: str = ""
    candidate_version: str = ""

    @property
    def missed_scams(self) -> int:
        return sum(c.misses_scam for c in self.changes)

    @property
    def needs_confirmation(self) -> bool:
        return len(self.changes) > MAX_QUIET_CHANGES or self.missed_scams > 0

    def samples(self, n: int = SAMPLES) -> tuple[Change, ...]:
        """The ``n`` worst changes (stable within a severity: the probe order)."""
        return tuple(sorted(self.changes, key=lambda c: c.severity)[:n])


def compare(live: Judge, candidate: Judge, probes: Iterable[Probe], *, live_version: str = "",
            candidate_version: str = "") -> Comparison:
    """Every probe judged by both; the ones whose answer differs. A text that
    appears twice (in two sources) is judged once, under its first source."""
    seen: set[str] = set()
    changes: list[Change] = []
    for probe in probes:
        if probe.text in seen:
            continue
        seen.add(probe.text)
        before = Outcome.of(live.check(probe.text))
        after = Outcome.of(candidate.check(probe.text))
        if not before.same_answer(after):
            changes.append(Change(probe, before, after))
    return Comparison(len(seen), tuple(changes), live_version, candidate_version)


def example_probes(ruleset: RuleSet, limit: int = MAX_EXAMPLE_PROBES) -> list[Probe]:
    """The embedded examples of ``ruleset``'s rules, at most ``limit``: every
    rule's first example, then every rule's second, and so on, so a big
    rule set is sampled across all its rules. A match example of a scam
    category is a known scam; a no_match example is only known not to be
    *that* rule's, so it carries no label."""
    per_rule: list[list[Probe]] = []
    for rule in ruleset.rules:
        category = ruleset.categories.get(rule.category)
        label = "scam" if category is not None and category.scam else None
        source = f"example of rule '{rule.id}'"
        match = [Probe(text, source, label) for text in rule.examples_match]
        no_match = [Probe(text, source) for text in rule.examples_no_match]
        # Interleaved, so a sample of a rule holds both kinds.
        per_rule.append([p for pair in zip(match, no_match) for p in pair] + match[len(no_match):]
                        + no_match[len(match):])
    out: list[Probe] = []
    depth = max(map(len, per_rule), default=0)
    for i in range(depth):
        for probes in per_rule:
            if i < len(probes):
                out.append(probes[i])
                if len(out) >= limit:
                    return out
    return out


def regression_probes(lines: Sequence[str] | Iterable[str], source: str = "regression.jsonl") -> list[Probe]:
    """The lines of a regression set (JSON objects with ``text`` and ``label``
    scam|benign). A line that is not such an object is skipped: the shipped
    set's shape is checked by its own tests, and a broken line must not stop
    a reload."""
    out: list[Probe] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
            continue
        label = item.get("label") if item.get("label") in ("scam", "benign") else None
        out.append(Probe(item["text"], f"{source}:{number}", label))
    return out
