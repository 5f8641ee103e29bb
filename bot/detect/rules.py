"""The rule file: schema, safe loading with line numbers, and lint.

Rules are data that anti-fraud staff edit, so every mistake must come back as
``file:line: message`` and never as a traceback, and a file that does not pass
must never replace rules that work. The schema (version 1) is documented in
README.md; in short::

    schema: 1
    version: "2026.11"                 # a label; the content hash is the real version
    thresholds: {high: 70, medium: 45, low: 20}
    texts:      {warning: {zh-Hans: ..., zh-Hant: ..., en: ...}, ...}
    categories: {impersonate_authority: {scam: true, name: {...}, how: {...}}, ...}
    rules:
      - id: authority-telecom-freeze
        category: impersonate_authority
        title:  {zh-Hans: ..., zh-Hant: ..., en: ...}
        advice: {zh-Hans: [step, ...], zh-Hant: [...], en: [...]}
        requires: [claim]              # optional: score is 0 unless one of these matched
        groups:
          - {name: claim,  weight: 30, phrases: [通信管理局, 工信部, ...]}
          - {name: demand, weight: 60, phrases: [安全账户, ...]}
        examples: {match: [...], no_match: [...]}

Loading is YAML 1.1 *safe* loading only (no object construction tags), with
duplicate keys refused, nesting depth and alias count bounded before the
document is built, and size limits on groups, so a hostile or broken file is a
clear error rather than a hang or a crash.

``parse_rules(data, source, previous=live_ruleset)`` parses only the rule
entries whose text changed since ``previous`` (see "reusing unchanged rule
entries" below); the result and any error are exactly a full parse's.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from .regions import Region, parse_regions, placeholder_problems

try:  # libyaml is bundled with PyYAML wheels; it makes reloads of big files fast
    _BaseLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python fallback
    _BaseLoader = yaml.SafeLoader

__all__ = [
    "LANGUAGES",
    "REQUIRED_CATEGORIES",
    "Problem",
    "RuleFileError",
    "Group",
    "Rule",
    "Category",
    "Thresholds",
    "RuleSet",
    "load_rules",
    "parse_rules",
    "lint_file",
    "lint_text",
]

SCHEMA_VERSION = 1
LANGUAGES = ("zh-Hans", "zh-Hant", "en")
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
MIN_MATCH_EXAMPLES = 8
MIN_NO_MATCH_EXAMPLES = 5

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 200
MAX_PHRASES_PER_GROUP = 2_000
MAX_PHRASE_CHARS = 200
MAX_RULES = 50_000

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,80}$")


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Problem:
    """One finding about a rule file; ``str()`` gives ``file:line: message``."""

    file: str
    line: int
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else "warning: "
        return f"{self.file}:{self.line}: {tag}{self.message}"


class RuleFileError(Exception):
    """A rule file that must not be used; ``problems`` says why, with lines."""

    def __init__(self, problems: list[Problem]):
        self.problems = [p for p in problems if p.severity == "error"] or problems
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Group:
    name: str
    weight: int
    phrases: tuple[str, ...]
    fuzzy: bool = True


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    title: Mapping[str, str]
    advice: Mapping[str, tuple[str, ...]]
    groups: tuple[Group, ...]
    requires: tuple[str, ...] = ()
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    line: int = 0


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
class RuleSet:
    """A parsed, validated rule file. Immutable: a reload builds a new one."""

    rules: tuple[Rule, ...]
    categories: Mapping[str, Category]
    texts: Mapping[str, Mapping[str, Any]]
    thresholds: Thresholds = field(default_factory=Thresholds)
    label: str = ""
    # The ``regions:`` block (see regions.py): per-region emergency steps and placeholder values.
    regions: Mapping[str, Region] = field(default_factory=lambda: MappingProxyType({}))
    digest: str = ""  # first 12 hex digits of the file's SHA-256: the version reports keep
    source: str = "<rules>"
    # How each rule entry of the file parsed on its own, by the entry's exact
    # text, so that the next parse_rules(..., previous=this) skips the entries
    # that did not change. A cache, not part of the value: never compared.
    entries: "Mapping[str, _Entry] | None" = field(default=None, compare=False, repr=False)

    @property
    def version(self) -> str:
        return self.digest

    def text(self, key: str, lang: str) -> Any:
        return self.texts[key][lang]


# --------------------------------------------------------------------------- YAML


class _LineDict(dict):
    """A mapping that remembers where it and each of its keys stood."""

    line = 0
    key_lines: dict


class _LineList(list):
    line = 0
    item_lines: list


class _Loader(_BaseLoader):
    """Safe loader: plain data only, duplicate keys refused, lines kept."""


def _expect_node(node: yaml.Node, kind: type) -> None:
    """An explicit ``!!map`` or ``!!seq`` tag on the wrong kind of node (``!!map
    text``) reaches these constructors: a clear error, not a crash."""
    if not isinstance(node, kind):
        raise yaml.constructor.ConstructorError(None, None, f"expected a {kind.id} node, but found {node.id}",
                                                node.start_mark)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> _LineDict:
    _expect_node(node, yaml.MappingNode)
    loader.flatten_mapping(node)
    out = _LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            ) from None
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> _LineList:
    _expect_node(node, yaml.SequenceNode)
    out = _LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)

_OPENERS = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken,
            yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSERS = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
# What the pre-check looks at, by token type (one dict lookup per token: a
# 1,000-rule file has ~240,000 tokens). Anchors, tags and directives only
# matter to the entry cache (see _parse_by_entries).
_OPEN, _CLOSE, _ALIAS, _OTHER = range(4)
_TOKEN_KIND = {**{t: _OPEN for t in _OPENERS}, **{t: _CLOSE for t in _CLOSERS}, yaml.AliasToken: _ALIAS,
               yaml.AnchorToken: _OTHER, yaml.TagToken: _OTHER, yaml.DirectiveToken: _OTHER}


def _precheck(text: str, source: str, stats: dict | None = None) -> list[Problem]:
    """Scan tokens (iteratively, no recursion) to refuse documents that are
    too deep or use too many aliases, before anything is constructed.

    ``stats`` (if given) receives ``depth`` (the deepest nesting) and ``plain``
    (no anchors, aliases, tags or directives) when there is no problem."""
    depth = deepest = aliases = 0
    plain = True
    kinds = _TOKEN_KIND
    loader = _Loader(text)
    try:
        get_token = loader.get_token
        while True:
            token = get_token()
            if token is None:
                break
            kind = kinds.get(type(token))
            if kind is None:
                continue
            if kind == _OPEN:
                depth += 1
                if depth > deepest:
                    deepest = depth
                    if depth > MAX_DEPTH:
                        return [Problem(source, token.start_mark.line + 1,
                                        f"nesting deeper than {MAX_DEPTH} levels; a rule file never needs that")]
            elif kind == _CLOSE:
                depth -= 1
            else:
                plain = False
                if kind == _ALIAS:
                    aliases += 1
                    if aliases > MAX_ALIASES:
                        return [Problem(source, token.start_mark.line + 1,
                                        f"more than {MAX_ALIASES} YAML aliases; write the phrases out")]
    except yaml.YAMLError as exc:
        return [_yaml_problem(exc, source)]
    finally:
        loader.dispose()
    if stats is not None:
        stats.update(depth=deepest, plain=plain)
    return []


def _yaml_problem(exc: yaml.YAMLError, source: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    what = getattr(exc, "problem", None) or str(exc)
    if "could not determine a constructor" in str(exc):
        what = "YAML tags that build objects are not allowed in a rule file (" + str(getattr(exc, "problem", "")) + ")"
    elif getattr(exc, "context", None) and getattr(exc, "problem", None):
        what = f"{exc.context}: {exc.problem}"
    return Problem(source, line, f"invalid YAML: {what}")


def _load_yaml(text: str, source: str, stats: dict | None = None) -> tuple[Any, list[Problem]]:
    problems = _precheck(text, source, stats)
    if problems:
        return None, problems
    loader = _Loader(text)
    try:
        return loader.get_single_data(), []
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, source)]
    except RecursionError:
        return None, [Problem(source, 1, "nesting too deep")]
    finally:
        loader.dispose()


# --------------------------------------------------------------------------- validation


class _Checker:
    """Walks the loaded document, collecting problems and building the model."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message, "warning"))

    @staticmethod
    def line_of(obj: Any, key: Any = None, default: int = 1) -> int:
        if key is not None and isinstance(obj, _LineDict):
            return obj.key_lines.get(key, obj.line)
        return getattr(obj, "line", default) or default

    def mapping(self, obj: Any, where: str, line: int) -> _LineDict | None:
        if not isinstance(obj, dict):
            self.error(line, f"{where} must be a mapping")
            return None
        return obj

    def localized(self, parent: Any, key: str, where: str, *, as_list: bool = False) -> dict:
        """A {zh-Hans, zh-Hant, en} block; reports each missing translation."""
        line = self.line_of(parent, key)
        block = parent.get(key) if isinstance(parent, dict) else None
        if block is None:
            self.error(line, f"{where}: missing '{key}' (needs {', '.join(LANGUAGES)})")
            return {}
        if not isinstance(block, dict):
            self.error(line, f"{where}.{key} must map languages to text")
            return {}
        out: dict = {}
        for lang in LANGUAGES:
            value = block.get(lang)
            vline = self.line_of(block, lang, line)
            if as_list:
                if isinstance(value, str):
                    value = [value]
                if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                    self.error(vline, f"{where}.{key}: missing or empty translation '{lang}'")
                    continue
                out[lang] = tuple(v.strip() for v in value)
            else:
                if not isinstance(value, str) or not value.strip():
                    self.error(vline, f"{where}.{key}: missing or empty translation '{lang}'")
                    continue
                out[lang] = value.strip()
        for extra in block:
            if extra not in LANGUAGES:
                self.warn(self.line_of(block, extra, line), f"{where}.{key}: unknown language '{extra}'")
        return out

    # -- top level

    def document(self, doc: Any) -> RuleSet | None:
        top = self.mapping(doc, "the rule file", 1)
        if top is None:
            return None
        schema = top.get("schema")
        if schema != SCHEMA_VERSION:
            self.error(self.line_of(top, "schema"), f"schema must be {SCHEMA_VERSION} (found {schema!r})")
        for key in top:
            if key not in ("schema", "version", "thresholds", "texts", "regions", "categories", "rules"):
                self.warn(self.line_of(top, key), f"unknown top-level key '{key}'")
        thresholds = self.thresholds(top)
        texts = self.texts(top)
        categories = self.categories(top)
        rules = self.rules(top, categories)
        regions, findings = parse_regions(top.get("regions"))
        findings += placeholder_problems(top, regions)
        self.problems += [Problem(self.source, line, message, severity) for severity, line, message in findings]
        if any(p.severity == "error" for p in self.problems):
            return None
        return RuleSet(
            rules=tuple(rules),
            categories=MappingProxyType(categories),
            texts=MappingProxyType(texts),
            thresholds=thresholds,
            regions=regions,
            label=str(top.get("version", "")),
            source=self.source,
        )

    def thresholds(self, top: dict) -> Thresholds:
        raw = top.get("thresholds", {})
        line = self.line_of(top, "thresholds")
        if not isinstance(raw, dict):
            self.error(line, "thresholds must be a mapping {high, medium, low}")
            return Thresholds()
        values = {}
        for key, default in (("high", 70), ("medium", 45), ("low", 20)):
            value = raw.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
                self.error(self.line_of(raw, key, line), f"thresholds.{key} must be a whole number 1..100")
                value = default
            values[key] = value
        if not values["high"] > values["medium"] > values["low"]:
            self.error(line, "thresholds must satisfy high > medium > low")
        return Thresholds(**values)

    def texts(self, top: dict) -> dict:
        raw = self.mapping(top.get("texts"), "texts", self.line_of(top, "texts"))
        if raw is None:
            return {}
        out = {}
        for key in REQUIRED_TEXTS:
            out[key] = MappingProxyType(self.localized(raw, key, "texts", as_list=(key == "emergency")))
        for key in raw:
            if key not in REQUIRED_TEXTS:
                out[key] = MappingProxyType(self.localized(raw, key, "texts", as_list=isinstance(raw[key], dict)
                                                           and any(isinstance(v, list) for v in raw[key].values())))
        return out

    def categories(self, top: dict) -> dict[str, Category]:
        line = self.line_of(top, "categories")
        raw = self.mapping(top.get("categories"), "categories", line)
        if raw is None:
            return {}
        out = {}
        for cid, body in raw.items():
            cline = self.line_of(raw, cid, line)
            if not isinstance(cid, str) or not _ID_RE.match(cid):
                self.error(cline, f"category id {cid!r} must be lower-case letters, digits, '_', '-' or '.'")
                continue
            if not isinstance(body, dict):
                self.error(cline, f"category '{cid}' must be a mapping")
                continue
            scam = body.get("scam", True)
            if not isinstance(scam, bool):
                self.error(self.line_of(body, "scam", cline), f"category '{cid}': scam must be true or false")
                scam = True
            name = self.localized(body, "name", f"category '{cid}'")
            how = self.localized(body, "how", f"category '{cid}'")
            out[cid] = Category(cid, scam, MappingProxyType(name), MappingProxyType(how))
        for cid in REQUIRED_CATEGORIES:
            if cid not in out and cid not in raw:
                self.error(line, f"categories: required category '{cid}' is missing")
        return out

    # -- rules

    def rules(self, top: dict, categories: dict) -> list[Rule]:
        line = self.line_of(top, "rules")
        raw = top.get("rules")
        if not isinstance(raw, list) or not raw:
            self.error(line, "rules must be a non-empty list")
            return []
        if len(raw) > MAX_RULES:
            self.error(line, f"more than {MAX_RULES} rules")
            return []
        seen: dict[str, int] = {}
        out = []
        for index, body in enumerate(raw):
            rline = raw.item_lines[index] if isinstance(raw, _LineList) else line
            rule = self.rule(body, rline, categories, seen)
            if rule is not None:
                out.append(rule)
        return out

    def rule(self, body: Any, line: int, categories: dict, seen: dict) -> Rule | None:
        if not isinstance(body, dict):
            self.error(line, "each rule must be a mapping")
            return None
        line = self.line_of(body, default=line)
        rid = body.get("id")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            self.error(self.line_of(body, "id", line),
                       f"rule id {rid!r} must be 2-81 lower-case letters, digits, '_', '-' or '.'")
            rid = f"<rule at line {line}>"
        elif rid in seen:
            self.error(self.line_of(body, "id", line), f"duplicate rule id '{rid}' (first at line {seen[rid]})")
        else:
            seen[rid] = line
        where = f"rule '{rid}'"
        for key in body:
            if key not in ("id", "category", "title", "advice", "requires", "groups", "examples", "note"):
                self.warn(self.line_of(body, key, line), f"{where}: unknown key '{key}'")
        category = body.get("category")
        if not isinstance(category, str) or category not in categories:  # (a list is unhashable)
            known = ", ".join(sorted(categories)) or "none defined"
            self.error(self.line_of(body, "category", line), f"{where}: unknown category {category!r} (known: {known})")
        title = self.localized(body, "title", where)
        advice = self.localized(body, "advice", where, as_list=True)
        groups = self.groups(body, where, line)
        requires = body.get("requires", [])
        if isinstance(requires, str):
            requires = [requires]
        names = {g.name for g in groups}
        if not isinstance(requires, list):
            self.error(self.line_of(body, "requires", line), f"{where}: requires must be a list of group names")
            requires = []
        for name in requires:
            if not isinstance(name, str) or name not in names:
                self.error(self.line_of(body, "requires", line), f"{where}: requires unknown group {name!r}")
        match, no_match = self.examples(body, where, line)
        return Rule(
            id=rid,
            category=category if isinstance(category, str) else "",
            title=MappingProxyType(title),
            advice=MappingProxyType(advice),
            groups=tuple(groups),
            requires=tuple(str(r) for r in requires),
            examples_match=match,
            examples_no_match=no_match,
            line=line,
        )

    def groups(self, body: dict, where: str, line: int) -> list[Group]:
        raw = body.get("groups")
        gline = self.line_of(body, "groups", line)
        if not isinstance(raw, list) or not raw:
            self.error(gline, f"{where}: groups must be a non-empty list")
            return []
        out: list[Group] = []
        names: set[str] = set()
        for index, g in enumerate(raw):
            line_g = raw.item_lines[index] if isinstance(raw, _LineList) else gline
            if not isinstance(g, dict):
                self.error(line_g, f"{where}: each group must be a mapping with name, weight, phrases")
                continue
            name = g.get("name")
            if not isinstance(name, str) or not name:
                self.error(line_g, f"{where}: group without a name")
                continue
            if name in names:
                self.error(line_g, f"{where}: duplicate group name '{name}'")
            names.add(name)
            weight = g.get("weight")
            if not isinstance(weight, int) or isinstance(weight, bool) or not -100 <= weight <= 100 or weight == 0:
                self.error(self.line_of(g, "weight", line_g),
                           f"{where}: group '{name}' weight must be a non-zero whole number -100..100")
                weight = 0
            fuzzy = g.get("fuzzy", True)
            if not isinstance(fuzzy, bool):
                self.error(self.line_of(g, "fuzzy", line_g), f"{where}: group '{name}' fuzzy must be true or false")
                fuzzy = True
            phrases = self.phrases(g, f"{where}: group '{name}'", line_g)
            out.append(Group(name=name, weight=weight, phrases=phrases, fuzzy=fuzzy))
        if out and not any(g.weight > 0 for g in out):
            self.error(gline, f"{where}: needs at least one group with a positive weight")
        return out

    def phrases(self, g: dict, where: str, line: int) -> tuple[str, ...]:
        from .normalize import normalize, has_cjk  # local: keeps the schema importable alone

        raw = g.get("phrases")
        pline = self.line_of(g, "phrases", line)
        if not isinstance(raw, list) or not raw:
            self.error(pline, f"{where} has no phrases (an empty group never matches)")
            return ()
        if len(raw) > MAX_PHRASES_PER_GROUP:
            self.error(pline, f"{where} has {len(raw)} phrases; at most {MAX_PHRASES_PER_GROUP} per group")
            return ()
        out = []
        seen = set()
        for index, phrase in enumerate(raw):
            item_line = raw.item_lines[index] if isinstance(raw, _LineList) else pline
            if not isinstance(phrase, str):
                self.error(item_line, f"{where}: phrase {phrase!r} must be text")
                continue
            norm = normalize(phrase)
            if not norm:
                self.error(item_line, f"{where}: phrase {phrase!r} is empty after normalisation")
                continue
            if len(phrase) > MAX_PHRASE_CHARS:
                self.error(item_line, f"{where}: phrase longer than {MAX_PHRASE_CHARS} characters")
                continue
            if norm in seen:
                self.warn(item_line, f"{where}: phrase {phrase!r} repeats another one after normalisation")
            seen.add(norm)
            if not has_cjk(norm) and len(norm) < 4:
                self.warn(item_line, f"{where}: phrase {phrase!r} is very short and will match inside other words")
            out.append(phrase)
        return tuple(out)

    def examples(self, body: dict, where: str, line: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        raw = body.get("examples")
        eline = self.line_of(body, "examples", line)
        if not isinstance(raw, dict):
            self.error(eline, f"{where}: examples must be a mapping with 'match' and 'no_match' lists")
            return (), ()
        result = []
        for key, minimum in (("match", MIN_MATCH_EXAMPLES), ("no_match", MIN_NO_MATCH_EXAMPLES)):
            items = raw.get(key) or []
            kline = self.line_of(raw, key, eline)
            if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
                self.error(kline, f"{where}: examples.{key} must be a list of texts")
                items = []
            if len(items) < minimum:
                self.error(kline, f"{where}: needs at least {minimum} examples.{key} (has {len(items)})")
            result.append(tuple(items))
        return result[0], result[1]


# --------------------------------------------------------------------------- reusing unchanged rule entries
#
# A reload usually changes a few rules of a big file, yet parsing is the same
# work every time (~0.7 s of CPU for 1,000 rules). So parse_rules cuts the
# text at the rule entries of the top-level ``rules:`` list, parses each entry
# on its own, and remembers the result by the entry's exact text: the next
# parse only parses entries whose text changed. Everything else (the top-level
# keys, texts, categories, and the list itself) is parsed from a "skeleton":
# the same text with each entry replaced by a one-line placeholder and blank
# lines, so every line number stays where it was.
#
# Why the result is the full parse's: YAML's scanner and parser see exactly
# the same tokens for an entry on its own as inside the file when the entry
# starts at a block-sequence item of the ``rules:`` key (the skeleton's parse
# proves that: its placeholders come back as that list's items, at those
# lines), its other lines are comments or indented deeper than its "- " (so it
# cannot close anything outside itself), it parses alone (so its quotes and
# brackets close inside it), and nothing in it refers to anything outside it:
# no anchors or aliases anywhere in the file, no tags or %TAG directives
# (which could give a tag another meaning). Then the file's document is the
# skeleton's with each placeholder replaced by its entry, and the rule and
# document checks are the same functions on the same data; the only checks
# that span entries (duplicate rule ids, known categories, the nesting limit)
# are made again on the whole. Whenever any of this does not hold, or anything
# is wrong with the file at all, the file is parsed in full the usual way, so
# errors and their messages are exactly the full parse's.

# Lines end in "\n" or "\r\n" (YAML's other line breaks: parsed in full).
_RULES_KEY_LINE = re.compile(r"^rules:(?:[ ]+(?:#.*)?)?\r?$", re.M)
_FIRST_CONTENT = re.compile(r"^ *[^ \r\n#]", re.M)  # the next line that holds more than a comment
# Possibly an anchor, an alias or a directive: not worth trying entry by entry
# (only a hint, for speed: the tokens decide). Patterns are anchored on "\n"
# rather than "^" with re.M, which is several times slower on a 2 MB text.
_MAYBE_ANCHORS = re.compile(r"[ \[{,\n][&*][^ \n]|\n%")
_PLACEHOLDER = "- 0"


@dataclass(frozen=True)
class _Entry:
    """One rule entry parsed and checked on its own."""

    rule: Rule  # with the line numbers it has when the entry starts at ``line``
    line: int
    depth: int  # its deepest nesting, parsed on its own

    def at(self, line: int) -> "_Entry":
        """The same entry starting at ``line`` (itself when it does not move)."""
        if line == self.line:
            return self
        return _Entry(replace(self.rule, line=self.rule.line - self.line + line), line, self.depth)


class _NotSplittable(Exception):
    """The file cannot be shown to parse entry by entry: parse it in full."""


class _AnyCategory:
    """Stands for the categories while an entry is checked on its own (they
    are checked against the file's categories when the entries are joined)."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self):  # for the message of a category that is not even text (an error anyway)
        return iter(())


def _split_entries(text: str) -> tuple[int, int, list[int], int]:
    """Where the entries of the top-level ``rules:`` list are: the line of
    the ``rules:`` key, the entries' indent, the offset of each one's first
    line, and the offset where the list ends. Raises
    :class:`_NotSplittable` unless every line between is a comment, blank,
    or indented deeper than the entries' "- "."""
    key = _RULES_KEY_LINE.search(text)
    if key is None or key.end() >= len(text):
        raise _NotSplittable("no 'rules:' line of its own")
    first = _FIRST_CONTENT.search(text, key.end() + 1)
    if first is None:
        raise _NotSplittable("no rule entries")
    indent = len(first.group()) - 1
    if not re.compile(rf" {{{indent}}}-(?:[ \r\n]|$)").match(text, first.start()):
        raise _NotSplittable("the first thing under 'rules:' is not a list entry")
    # The list ends at the first line that holds something at the entries'
    # indent or less and is not an entry: the next top-level key, normally.
    outside = re.compile(rf"\n(?! {{{indent}}}-[ \r\n]) {{0,{indent}}}[^ \r\n#]").search(text, first.start())
    end = len(text) if outside is None else outside.start() + 1
    if text.startswith(" ", end):
        raise _NotSplittable("a line inside the rules list is indented less than its entries")
    starts = [first.start()]
    marker = "\n" + " " * indent + "-"  # an entry: a line with exactly ``indent`` spaces, then "- "
    at = text.find(marker, first.start(), end)
    while at >= 0:
        if text.startswith((" ", "\r", "\n"), at + len(marker)):
            starts.append(at + 1)
        at = text.find(marker, at + len(marker), end)
    return text.count("\n", 0, key.start()) + 1, indent, starts, end


def _parse_entry(chunk: str) -> _Entry | None:
    """Parse and check one rule entry on its own; None if it has any problem,
    anchors, aliases or tags (then the whole file is parsed in full)."""
    stats: dict = {}
    doc, problems = _load_yaml(chunk, "<entry>", stats)
    if problems or not stats["plain"] or not isinstance(doc, _LineList) or len(doc) != 1:
        return None
    checker = _Checker("<entry>")
    rule = checker.rule(doc[0], doc.item_lines[0], _AnyCategory(), {})
    if rule is None or any(p.severity == "error" for p in checker.problems):
        return None
    return _Entry(rule, 1, stats["depth"])


class _JoiningChecker(_Checker):
    """Checks the skeleton; its ``rules`` are the entries parsed on their own."""

    def __init__(self, source: str, entries: list[_Entry], lines: list[int], key_line: int):
        super().__init__(source)
        self.entries, self.lines, self.key_line = entries, lines, key_line

    def rules(self, top: dict, categories: dict) -> list[Rule]:
        raw = top.get("rules")
        # The placeholders must come back as the items of the top-level
        # 'rules' list, at the entries' lines: the entries sit where we think.
        if (self.line_of(top, "rules") != self.key_line or not isinstance(raw, _LineList)
                or raw.item_lines != self.lines or raw != [0] * len(self.lines)):
            raise _NotSplittable("the rules list is not where the entries are")
        if len(raw) > MAX_RULES:
            raise _NotSplittable("too many rules")
        out, seen = [], set()
        for entry in self.entries:
            rule = entry.rule
            # What rule() checks across entries: known category, unique id.
            if rule.category not in categories or rule.id in seen:
                raise _NotSplittable("a rule has an unknown category or a duplicate id")
            seen.add(rule.id)
            out.append(rule)
        return out


def _parse_by_entries(data: bytes, text: str, source: str, memo: Mapping[str, _Entry]) -> RuleSet:
    """``text`` parsed entry by entry, reusing ``memo`` (entry text -> _Entry);
    raises :class:`_NotSplittable` when it cannot be shown to equal the full
    parse, or the file has any error (the full parse then reports it)."""
    if ("\x85" in text or "\u2028" in text or "\u2029" in text or text.find("\ufeff", 1) >= 0
            or ("\r" in text and text.count("\r") != text.count("\r\n"))):
        raise _NotSplittable("line breaks other than \\n and \\r\\n, or a byte-order mark inside")
    if ("&" in text or "*" in text or "%" in text) and (text.startswith("%") or _MAYBE_ANCHORS.search(text)):
        raise _NotSplittable("possibly anchors, aliases or directives")
    key_line, indent, starts, end = _split_entries(text)
    entries: list[_Entry] = []
    lines: list[int] = []
    skeleton = [text[: starts[0]]]
    line = text.count("\n", 0, starts[0]) + 1
    new_memo: dict[str, _Entry] = {}
    for start, stop in zip(starts, starts[1:] + [end]):
        chunk = text[start:stop]
        entry = memo.get(chunk) or _parse_entry(chunk)
        if entry is None or entry.depth + 1 > MAX_DEPTH:  # +1: the rules list around it in the file
            raise _NotSplittable("an entry does not parse cleanly on its own")
        entry = new_memo[chunk] = entry.at(line)
        entries.append(entry)
        lines.append(line)
        breaks = chunk.count("\n")
        skeleton.append(" " * indent + _PLACEHOLDER + "\n" * breaks)
        line += breaks
    skeleton.append(text[end:])
    stats: dict = {}
    doc, problems = _load_yaml("".join(skeleton), source, stats)
    if problems or not stats["plain"]:
        raise _NotSplittable("the rest of the file has problems, anchors, aliases or tags")
    checker = _JoiningChecker(source, entries, lines, key_line)
    ruleset = checker.document(doc)
    if ruleset is None or any(p.severity == "error" for p in checker.problems):
        raise _NotSplittable("the file has errors")
    return replace(ruleset, digest=_digest(data), entries=MappingProxyType(new_memo))


# --------------------------------------------------------------------------- entry points


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def _check_bytes(data: bytes, source: str) -> tuple[RuleSet | None, list[Problem]]:
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(source, 1, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(source, line, "the file is not UTF-8 text")]
    doc, problems = _load_yaml(text, source)
    if problems:
        return None, problems
    checker = _Checker(source)
    ruleset = checker.document(doc)
    if ruleset is not None:
        ruleset = replace(ruleset, digest=_digest(data), source=source)
    return ruleset, checker.problems


def parse_rules(data: bytes | str, source: str = "<rules>", *, previous: RuleSet | None = None) -> RuleSet:
    """Parse and validate rule-file content; raise :class:`RuleFileError`.

    ``previous``: a rule set parsed by this function before (the live one, on
    a reload): rule entries whose text is unchanged are not parsed again. The
    result, or the error, is always exactly what a full parse gives (see
    "reusing unchanged rule entries" above); only the time differs."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) <= MAX_FILE_BYTES:
        try:
            text = data.decode("utf-8")
            memo = previous.entries if previous is not None and previous.entries is not None else {}
            return _parse_by_entries(data, text, source, memo)
        except (UnicodeDecodeError, _NotSplittable):
            pass  # the full parse below decides, and words any error
    ruleset, problems = _check_bytes(data, source)
    if ruleset is None:
        raise RuleFileError(problems)
    return ruleset


def load_rules(path: str | os.PathLike) -> RuleSet:
    """Read, parse and validate a rule file; raise :class:`RuleFileError`."""
    ruleset, problems = load_and_lint(path)
    if ruleset is None:
        raise RuleFileError(problems)
    return ruleset


def lint_text(data: bytes | str, source: str = "<rules>") -> list[Problem]:
    """All problems (errors and warnings) in rule-file content."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _check_bytes(data, source)[1]


def lint_file(path: str | os.PathLike) -> list[Problem]:
    """All problems (errors and warnings) in a rule file."""
    return load_and_lint(path)[1]


def load_and_lint(path: str | os.PathLike) -> tuple[RuleSet | None, list[Problem]]:
    """Read a rule file once: the rule set (None when it has errors) and every problem."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return None, [Problem(source, 0, f"cannot read the rule file: {exc.strerror or exc}")]
    return _check_bytes(data, source)
