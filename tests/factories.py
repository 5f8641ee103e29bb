"""Small rule sets built in code, so core tests do not depend on the shipped rules."""

from __future__ import annotations

from types import MappingProxyType

from callguard.detect.rules import LANGUAGES, REQUIRED_CATEGORIES, Category, Group, Rule, RuleSet, Thresholds


def loc(text: str) -> MappingProxyType:
    return MappingProxyType({lang: text for lang in LANGUAGES})


def group(name: str, weight: int, *phrases: str, fuzzy: bool = True) -> Group:
    return Group(name=name, weight=weight, phrases=tuple(phrases), fuzzy=fuzzy)


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
