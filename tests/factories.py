"""Small rule sets built in code, so core tests do not depend on the shipped rules."""

from __future__ import annotations

from types import MappingProxyType

from callguard.detect.normalize import normalize
from callguard.detect.patterns import literal, parse_pattern
from callguard.detect.schema import LANGUAGES, REQUIRED_CATEGORIES, Category, Group, Rule, RuleSet, Thresholds


def loc(text: str) -> MappingProxyType:
    return MappingProxyType({lang: text for lang in LANGUAGES})


def group(name: str, weight: int, *phrases: str, fuzzy: bool = True) -> Group:
    """A group of literal phrases."""
    return Group(name=name, weight=weight, patterns=tuple(map(literal, phrases)), fuzzy=fuzzy)


def pgroup(name: str, weight: int, *patterns: str, vocab: dict[str, list[str]] | None = None,
           fuzzy: bool = True, gap: int = 12) -> Group:
    """A group of patterns (schema-2 syntax) over ``vocab`` {name: terms}."""
    keys = {n: tuple(dict.fromkeys(normalize(t) for t in terms)) for n, terms in (vocab or {}).items()}
    return Group(name=name, weight=weight, patterns=tuple(v for p in patterns for v in parse_pattern(p, keys)),
                 fuzzy=fuzzy, gap=gap)


def rule(rid: str, *groups: Group, category: str = "impersonate_authority", requires: tuple[str, ...] = ()) -> Rule:
    return Rule(
        id=rid,
        category=category,
        title=loc(rid),
        advice=MappingProxyType({lang: ("hang up", "call 110") for lang in LANGUAGES}),
        groups=tuple(groups),
        requires=requires,
    )


def ruleset(*rules: Rule, thresholds: Thresholds = Thresholds()) -> RuleSet:
    categories = {
        cid: Category(cid, cid != "telecom_complaint", loc(cid), loc(f"how {cid}")) for cid in REQUIRED_CATEGORIES
    }
    texts = {key: loc(key) for key in ("source", "warning", "verify")}
    texts["emergency"] = MappingProxyType({lang: ("call 110", "call 96110") for lang in LANGUAGES})
    return RuleSet(rules=tuple(rules), categories=MappingProxyType(categories), texts=MappingProxyType(texts),
                   thresholds=thresholds, digest="test")
