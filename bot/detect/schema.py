"""The rule set as values: what a validated rule file becomes.

Everything here is immutable: a reload builds a new :class:`RuleSet` and the
live one is replaced in one assignment, never edited. How a file becomes
these values (and every error it can have) is :mod:`.load`; the pattern
syntax is :mod:`.patterns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "LANGUAGES", "SCHEMA_VERSIONS", "REQUIRED_CATEGORIES", "REQUIRED_TEXTS", "Problem", "RuleFileError",
    "Element", "Pattern", "Group", "Rule", "Category", "Thresholds", "Vocab", "RuleSet",
]

LANGUAGES = ("zh-Hans", "zh-Hant", "en")
SCHEMA_VERSIONS = (1, 2)
REQUIRED_TEXTS = ("source", "warning", "emergency", "verify")
# Category ids are an interface (reports, statistics, evaluation): keep these.
REQUIRED_CATEGORIES = (
    "impersonate_authority",
    "impersonate_customer_service",
    "impersonate_acquaintance",
    "fake_loan",
    "fake_investment",
    "task_rebate",
    "fake_credit_repair",
    "fake_shopping",
    "online_romance",
    "game_trade",
    "phishing",
    "prize_lottery",
    "fake_kidnapping",
    "fake_job",
    "telecom_complaint",
)

MAX_MESSAGE_CHARS = 300  # a problem's message is cut here: it goes to logs and chats


@dataclass(frozen=True)
class Problem:
    """One finding about a rule file; ``str()`` gives ``file:line: message``."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __post_init__(self) -> None:
        if len(self.message) > MAX_MESSAGE_CHARS:
            object.__setattr__(self, "message", self.message[: MAX_MESSAGE_CHARS - 1] + "…")

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}: {tag}{self.message}"


class RuleFileError(Exception):
    """A rule file that must not be used; ``problems`` says why, with lines."""

    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"] or problems
        super().__init__("\n".join(str(p) for p in self.problems[:50]))


@dataclass(frozen=True)
class Element:
    """One position of a pattern: what may stand there.

    ``kind`` is ``text`` (a literal), ``choice`` (``(a|b)``), ``vocab``
    (``{name}``: any term of a named word list) or ``entity`` (``{amount}``:
    recognised by code, :mod:`.entities`). ``keys`` are the normalised
    strings that match (empty for an entity); a choice may also accept
    ``entities``."""

    kind: str
    name: str
    keys: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()  # entities a choice also accepts: ``(钱|{amount})``

    def __str__(self) -> str:
        return self.name if self.kind in ("text", "choice") else "{" + self.name + "}"


@dataclass(frozen=True)
class Pattern:
    """A sequence of elements; between two elements either nothing (they
    touch: ``adjacent``) or a gap bounded by the group's ``gap``."""

    source: str  # as written in the file
    elements: tuple[Element, ...]
    gaps: tuple[bool, ...]  # gaps[i]: a bounded gap between elements[i] and elements[i + 1]

    @property
    def is_literal(self) -> bool:
        return len(self.elements) == 1 and self.elements[0].kind == "text"


@dataclass(frozen=True)
class Group:
    name: str
    weight: int
    patterns: tuple[Pattern, ...]
    fuzzy: bool = True  # may a long literal or term match with one typo
    gap: int = 12  # what ``…`` spans at most: Chinese characters, an English word counting two
    # A request (for a code, card data, money, an app): a match that a negation governs
    # ("we will never ask for your PIN") does not count (:mod:`.negation`).
    negatable: bool = False
    # Counter-evidence that counts only as something done ("I rang the number on my card"): not
    # where a negation governs it ("I didn't call the bank back") nor inside a question
    # ("Can I call back on the number on my card?"), which a scammer's victim asks.
    only_as_done: bool = False

    @property
    def phrases(self) -> tuple[str, ...]:
        """The patterns as written (what admins read in /rules and /why)."""
        return tuple(p.source for p in self.patterns)


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    title: Mapping[str, str]
    advice: Mapping[str, tuple[str, ...]]
    groups: tuple[Group, ...]
    requires: tuple[str, ...] = ()  # at least one of these groups must match, or the rule scores 0
    requires_all: tuple[str, ...] = ()  # every one of these groups must match, or the rule scores 0
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    line: int = 0
    # A fallback rule (the universal red flags) sets the risk like any scam
    # rule, but names the kind of scam only when no other rule recognises it.
    fallback: bool = False

    def met(self, matched: set[str]) -> bool:
        """Whether the groups named ``matched`` satisfy ``requires`` and ``requires_all``."""
        return ((not self.requires or not matched.isdisjoint(self.requires))
                and all(name in matched for name in self.requires_all))


@dataclass(frozen=True)
class Category:
    id: str
    scam: bool
    name: Mapping[str, str]
    how: Mapping[str, str]


@dataclass(frozen=True)
class Thresholds:
    high: int = 70
    medium: int = 45
    low: int = 20

    def risk(self, score: float) -> str:
        if score >= self.high:
            return "high"
        if score >= self.medium:
            return "medium"
        if score >= self.low:
            return "low"
        return "none"


@dataclass(frozen=True)
class Vocab:
    """A named word list shared by every rule (``{kin}``, ``{money_verb}``)."""

    name: str
    terms: tuple[str, ...]  # as written, other lists it includes already spelled out
    line: int = 0
    # The terms normalised as messages are, computed once when the file is read (replies
    # look them up, detect/mentions.py, and must not do that work on the event loop).
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    """A parsed, validated rule file. Immutable: a reload builds a new one."""

    rules: tuple[Rule, ...]
    categories: Mapping[str, Category]
    texts: Mapping[str, Mapping[str, Any]]
    thresholds: Thresholds = field(default_factory=Thresholds)
    vocab: Mapping[str, Vocab] = field(default_factory=dict)
    # The ``regions:`` block (see regions.py): per-region emergency steps and placeholder values.
    regions: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    digest: str = ""  # first 12 hex digits of the file's SHA-256: the version reports keep
    source: str = "<rules>"
    schema: int = 2

    @property
    def version(self) -> str:
        return self.digest

    def text(self, key: str, lang: str) -> Any:
        return self.texts[key][lang]
