"""Reading a rule file: YAML to a validated :class:`~.schema.RuleSet`, or
every problem as ``file:line: message``.

Rules are data that anti-fraud staff edit, so every mistake comes back with
its line and never as a traceback, and a file that does not pass never
replaces rules that work. Schema 2 is documented in README.md ("The rule
file"); schema-1 files (literal ``phrases`` only, no ``vocab``) still load,
and ``callguard rules migrate`` rewrites them (:mod:`.migrate`).

Limits keep a hostile or broken file a clear error rather than a hang: the
YAML limits of :mod:`.yamlsafe`, and caps on rules, patterns and terms.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import replace
from types import MappingProxyType
from typing import Any, Callable

from .loadshared import SharedChecks
from .loadvocab import MAX_TERMS, VocabChecks
from .normalize import has_cjk
from .patterns import PatternError, literal, pattern_parser
from .regions import parse_regions, placeholder_problems
from .schema import (LANGUAGES, REQUIRED_CATEGORIES, REQUIRED_TEXTS, SCHEMA_VERSIONS, Category, Group, Pattern,
                     Problem, Rule, RuleFileError, RuleSet, Thresholds)
from .yamlsafe import LineDict, LineList, line_of, load_yaml, show

__all__ = ["parse_rules", "load_rules", "load_and_lint", "lint_text", "lint_file", "read_rule_file",
           "MAX_FILE_BYTES", "MAX_RULES", "MAX_PATTERNS", "MAX_TERMS"]

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_RULES = 50_000
MAX_PATTERNS = 60_000  # in the whole file: what compiling and checking may cost on a reload
MAX_PATTERNS_PER_GROUP = 2_000
MAX_PATTERN_CHARS = 400
# An example is a message a user could send: one Telegram message. A longer one is refused while the
# file is read, before anything is compiled, so refusing a file of huge examples costs little.
MAX_EXAMPLE_CHARS = 4_096
MAX_GAP = 60
DEFAULT_GAP = 12
MIN_MATCH_EXAMPLES = 8
MIN_NO_MATCH_EXAMPLES = 5

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,80}$")
_SLOT_RE = re.compile(r"\{\s*([a-z][a-z0-9_]*)\s*\}")
_TOP_KEYS = ("schema", "version", "thresholds", "texts", "regions", "categories", "vocab", "shared", "rules")
_RULE_KEYS = ("id", "category", "title", "advice", "requires", "requires_all", "groups", "examples", "note", "fallback")
_GROUP_KEYS = ("name", "weight", "phrases", "patterns", "fuzzy", "gap", "negatable", "only_as_done", "note")


class _Checker(VocabChecks, SharedChecks):
    """Walks the loaded document, collecting problems and building the model
    (the ``vocab:`` block: :class:`~.loadvocab.VocabChecks`; the ``shared:``
    block: :class:`~.loadshared.SharedChecks`)."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.schema = 2
        self.vocab_keys: dict[str, tuple[str, ...]] = {}  # vocab name -> normalised terms
        self._parse: Callable[[str], tuple[Pattern, ...]] | None = None  # by the vocabulary, once it is read
        self.used_vocab: set[str] = set()
        self.pattern_count = 0
        self.pattern_limit = MAX_PATTERNS

    def error(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.source, line, message, "warning"))

    def mapping(self, obj: Any, where: str, line: int) -> LineDict | None:
        if not isinstance(obj, dict):
            self.error(line, f"{where} must be a mapping")
            return None
        return obj

    def localized(self, parent: Any, key: str, where: str, *, as_list: bool = False) -> dict:
        """A {zh-Hans, zh-Hant, en} block; reports each missing translation."""
        line = line_of(parent, key)
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
            vline = line_of(block, lang, line)
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
                self.warn(line_of(block, extra, line), f"{where}.{key}: unknown language {show(extra)}")
        return out

    # -- top level

    def document(self, doc: Any) -> RuleSet | None:
        top = self.mapping(doc, "the rule file", 1)
        if top is None:
            return None
        schema = top.get("schema")
        if schema not in SCHEMA_VERSIONS or isinstance(schema, bool):
            self.error(line_of(top, "schema"), f"schema must be one of {', '.join(map(str, SCHEMA_VERSIONS))} "
                                               f"(found {show(schema)})")
        else:
            self.schema = schema
        for key in top:
            if key not in _TOP_KEYS:
                self.warn(line_of(top, key), f"unknown top-level key {show(key)}")
        thresholds = self.thresholds(top)
        texts = self.texts(top)
        categories = self.categories(top)
        vocab = self.vocab(top)
        self.shared(top)
        rules = self.rules(top, categories)
        self.report_unused_shared()
        for name, entry in vocab.items():
            if name not in self.used_vocab:
                self.warn(entry.line, f"vocab '{name}' is not used by any pattern")
        regions, findings = parse_regions(top.get("regions"))
        findings += placeholder_problems(top, regions)
        self.problems += [Problem(self.source, line, message, severity) for severity, line, message in findings]
        if any(p.severity == "error" for p in self.problems):
            return None
        return RuleSet(rules=tuple(rules), categories=MappingProxyType(categories), texts=MappingProxyType(texts),
                       thresholds=thresholds, vocab=MappingProxyType(vocab), regions=regions,
                       label=str(top.get("version", "")), source=self.source, schema=self.schema)

    def thresholds(self, top: dict) -> Thresholds:
        raw = top.get("thresholds", {})
        line = line_of(top, "thresholds")
        if not isinstance(raw, dict):
            self.error(line, "thresholds must be a mapping {high, medium, low}")
            return Thresholds()
        values = {}
        for key, default in (("high", 70), ("medium", 45), ("low", 20)):
            value = raw.get(key, default)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
                self.error(line_of(raw, key, line), f"thresholds.{key} must be a whole number 1..100")
                value = default
            values[key] = value
        if not values["high"] > values["medium"] > values["low"]:
            self.error(line, "thresholds must satisfy high > medium > low")
        return Thresholds(**values)

    def texts(self, top: dict) -> dict:
        raw = self.mapping(top.get("texts"), "texts", line_of(top, "texts"))
        if raw is None:
            return {}
        out = {}
        for key in REQUIRED_TEXTS:
            out[key] = MappingProxyType(self.localized(raw, key, "texts", as_list=(key == "emergency")))
        for key in raw:
            if key not in REQUIRED_TEXTS:
                as_list = isinstance(raw[key], dict) and any(isinstance(v, list) for v in raw[key].values())
                out[key] = MappingProxyType(self.localized(raw, key, "texts", as_list=as_list))
        return out

    def categories(self, top: dict) -> dict[str, Category]:
        line = line_of(top, "categories")
        raw = self.mapping(top.get("categories"), "categories", line)
        if raw is None:
            return {}
        out = {}
        for cid, body in raw.items():
            cline = line_of(raw, cid, line)
            if not isinstance(cid, str) or not _ID_RE.match(cid):
                self.error(cline, f"category id {show(cid)} must be lower-case letters, digits, '_', '-' or '.'")
                continue
            if not isinstance(body, dict):
                self.error(cline, f"category '{cid}' must be a mapping")
                continue
            scam = body.get("scam", True)
            if not isinstance(scam, bool):
                self.error(line_of(body, "scam", cline), f"category '{cid}': scam must be true or false")
                scam = True
            name = self.localized(body, "name", f"category '{cid}'")
            how = self.localized(body, "how", f"category '{cid}'")
            out[cid] = Category(cid, scam, MappingProxyType(name), MappingProxyType(how))
        for cid in REQUIRED_CATEGORIES:
            if cid not in out and cid not in raw:
                self.error(line, f"categories: required category '{cid}' is missing")
        return out

    # -- vocab

    # -- rules

    def rules(self, top: dict, categories: dict) -> list[Rule]:
        line = line_of(top, "rules")
        raw = top.get("rules")
        if not isinstance(raw, list) or not raw:
            self.error(line, "rules must be a non-empty list")
            return []
        if len(raw) > MAX_RULES:
            self.error(line, f"more than {MAX_RULES:,} rules")
            return []
        seen: dict[str, int] = {}
        out = []
        for index, body in enumerate(raw):
            rline = raw.item_lines[index] if isinstance(raw, LineList) else line
            rule = self.rule(body, rline, categories, seen)
            if rule is not None:
                out.append(rule)
            if self.pattern_count > MAX_PATTERNS:
                self.error(rline, f"more than {MAX_PATTERNS:,} patterns in the file; merge rules or use vocab lists")
                return []
        return out

    def rule(self, body: Any, line: int, categories: dict, seen: dict) -> Rule | None:
        if not isinstance(body, dict):
            self.error(line, "each rule must be a mapping")
            return None
        line = line_of(body, default=line)
        rid = body.get("id")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            self.error(line_of(body, "id", line),
                       f"rule id {show(rid)} must be 2-81 lower-case letters, digits, '_', '-' or '.'")
            rid = f"<rule at line {line}>"
        elif rid in seen:
            self.error(line_of(body, "id", line), f"duplicate rule id '{rid}' (first at line {seen[rid]})")
        else:
            seen[rid] = line
        where = f"rule '{rid}'"
        for key in body:
            if key not in _RULE_KEYS:
                self.warn(line_of(body, key, line), f"{where}: unknown key {show(key)}")
        category = body.get("category")
        if not isinstance(category, str) or category not in categories:
            known = ", ".join(sorted(categories)) or "none defined"
            self.error(line_of(body, "category", line), f"{where}: unknown category {show(category)} (known: {known})")
        fallback = body.get("fallback", False)
        if not isinstance(fallback, bool):
            self.error(line_of(body, "fallback", line), f"{where}: fallback must be true or false")
            fallback = False
        title = self.localized(body, "title", where)
        advice = self.localized(body, "advice", where, as_list=True)
        groups = self.groups(body, where, line)
        names = {g.name for g in groups}
        requires = self.group_names(body, "requires", names, where, line)
        requires_all = self.group_names(body, "requires_all", names, where, line)
        match, no_match = self.examples(body, where, line)
        return Rule(id=rid, category=category if isinstance(category, str) else "",
                    title=MappingProxyType(title), advice=MappingProxyType(advice), groups=tuple(groups),
                    requires=requires, requires_all=requires_all, examples_match=match, examples_no_match=no_match,
                    line=line, fallback=fallback)

    def group_names(self, body: dict, key: str, names: set[str], where: str, line: int) -> tuple[str, ...]:
        """``requires`` / ``requires_all``: names of the rule's groups."""
        raw = body.get(key, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            self.error(line_of(body, key, line), f"{where}: {key} must be a list of group names")
            return ()
        for name in raw:
            if not isinstance(name, str) or name not in names:
                self.error(line_of(body, key, line), f"{where}: {key} names unknown group {show(name)}")
        return tuple(str(name) for name in raw)

    def groups(self, body: dict, where: str, line: int) -> list[Group]:
        raw = body.get("groups")
        gline = line_of(body, "groups", line)
        if not isinstance(raw, list) or not raw:
            self.error(gline, f"{where}: groups must be a non-empty list")
            return []
        out: list[Group] = []
        names: set[str] = set()
        for index, g in enumerate(raw):
            line_g = raw.item_lines[index] if isinstance(raw, LineList) else gline
            if not isinstance(g, dict):
                self.error(line_g, f"{where}: each group must be a mapping with name, weight, patterns")
                continue
            line_g = line_of(g, default=line_g)
            if "use" in g:  # a shared group (loadshared.py)
                group = self.use_group(g, where, line_g)
                if group is not None:
                    if group.name in names:
                        self.error(line_g, f"{where}: duplicate group name '{group.name}'")
                    names.add(group.name)
                    out.append(group)
                continue
            name = g.get("name")
            if not isinstance(name, str) or not name:
                self.error(line_g, f"{where}: group without a name")
                continue
            if name in names:
                self.error(line_g, f"{where}: duplicate group name '{name}'")
            names.add(name)
            out.append(self.group(g, name, f"{where}: group '{name}'", line_g))
        if out and not any(g.weight > 0 for g in out):
            self.error(gline, f"{where}: needs at least one group with a positive weight")
        return out

    def group(self, g: dict, name: str, where: str, line: int) -> Group:
        """A group written out, in a rule or in ``shared:``: weight, fuzzy, gap, negatable, patterns."""
        for key in g:
            if key not in _GROUP_KEYS:
                self.warn(line_of(g, key, line), f"{where}: unknown key {show(key)}")
        weight = self.weight(g.get("weight"), where, line_of(g, "weight", line)) or 0
        fuzzy = g.get("fuzzy", True)
        if not isinstance(fuzzy, bool):
            self.error(line_of(g, "fuzzy", line), f"{where} fuzzy must be true or false")
            fuzzy = True
        gap = g.get("gap", DEFAULT_GAP)
        if not isinstance(gap, int) or isinstance(gap, bool) or not 1 <= gap <= MAX_GAP:
            self.error(line_of(g, "gap", line), f"{where} gap must be a whole number 1..{MAX_GAP}")
            gap = DEFAULT_GAP
        negatable = g.get("negatable", False)
        if not isinstance(negatable, bool):
            self.error(line_of(g, "negatable", line), f"{where} negatable must be true or false")
            negatable = False
        elif negatable and weight < 0:
            self.error(line_of(g, "negatable", line), f"{where} negatable is for requests (a positive weight): a "
                                                      f"negative group already counts against the rule")
            negatable = False
        only_as_done = g.get("only_as_done", False)
        if not isinstance(only_as_done, bool):
            self.error(line_of(g, "only_as_done", line), f"{where} only_as_done must be true or false")
            only_as_done = False
        elif only_as_done and weight > 0:
            self.error(line_of(g, "only_as_done", line), f"{where} only_as_done is for counter-evidence (a negative "
                                                         f"weight): a request asked about still counts")
            only_as_done = False
        return Group(name=name, weight=weight, patterns=self.patterns(g, where, line), fuzzy=fuzzy, gap=gap,
                     negatable=negatable, only_as_done=only_as_done)

    def weight(self, value: Any, where: str, line: int) -> int | None:
        """A group's weight (in a rule, in ``shared:`` or beside a ``use:``);
        None, after an error, when it is not a non-zero whole number -100..100."""
        if not isinstance(value, int) or isinstance(value, bool) or not -100 <= value <= 100 or value == 0:
            self.error(line, f"{where} weight must be a non-zero whole number -100..100")
            return None
        return value

    def patterns(self, g: dict, where: str, line: int) -> tuple[Pattern, ...]:
        """A group's ``phrases`` (literal text) and, in schema 2, its
        ``patterns`` (:mod:`.patterns` syntax)."""
        keys = ("phrases", "patterns") if self.schema == 2 else ("phrases",)
        if self.schema == 1 and "patterns" in g:
            self.error(line_of(g, "patterns", line), f"{where}: patterns need schema 2")
        present = [k for k in keys if k in g]
        if not present:
            self.error(line, f"{where} has no {' or '.join(keys)} (an empty group never matches)")
            return ()
        out: list[Pattern] = []
        seen: set[tuple] = set()
        for key in present:
            raw = g.get(key)
            pline = line_of(g, key, line)
            if not isinstance(raw, list) or not raw:
                self.error(pline, f"{where}: {key} must be a non-empty list")
                continue
            if len(raw) > MAX_PATTERNS_PER_GROUP:
                self.error(pline, f"{where} has {len(raw):,} {key}; at most {MAX_PATTERNS_PER_GROUP:,} per group")
                continue
            self.pattern_count += len(raw)
            lines = raw.item_lines if isinstance(raw, LineList) else [pline] * len(raw)
            for item, item_line in zip(raw, lines):
                if isinstance(item, dict) and key == "patterns":  # {use: a_shared_list} (loadshared.py)
                    included = self.use_patterns(item, where, item_line)
                    if not seen.isdisjoint((p.elements, p.gaps) for p in included):
                        self.warn(item_line, f"{where}: {show(item.get('use'))} repeats a pattern of the group")
                    seen.update((p.elements, p.gaps) for p in included)
                    out += included
                    continue
                variants = self.pattern(item, key == "patterns", where, item_line)
                if not variants:
                    continue
                shape = (variants[0].elements, variants[0].gaps)
                if shape in seen:
                    self.warn(item_line, f"{where}: {show(item)} repeats another pattern after normalisation")
                seen.update((v.elements, v.gaps) for v in variants)
                out += variants
        return tuple(out)

    def pattern(self, item: Any, syntax: bool, where: str, line: int) -> tuple[Pattern, ...]:
        """The variants of one pattern (see ``patterns.parse_pattern``), () if it has errors."""
        if not isinstance(item, str):
            self.error(line, f"{where}: {show(item)} must be text")
            return ()
        if len(item) > MAX_PATTERN_CHARS:
            self.error(line, f"{where}: pattern longer than {MAX_PATTERN_CHARS} characters")
            return ()
        try:
            if self._parse is None:  # the vocab block is read before any pattern (``document``)
                self._parse = pattern_parser(self.vocab_keys)
            variants = self._parse(item) if syntax else (literal(item),)
        except PatternError as exc:
            self.error(line, f"{where}: {'pattern' if syntax else 'phrase'} {show(item)}: {exc}")
            return ()
        pattern = variants[0]
        self.used_vocab.update(_SLOT_RE.findall(item) if syntax else ())
        if len(pattern.elements) == 1 and pattern.elements[0].kind == "text":
            key = pattern.elements[0].keys[0]
            if has_cjk(key) and len(key) == 1:
                self.warn(line, f"{where}: {show(item)} is a single character and will match inside many words")
            elif not has_cjk(key) and len(key) < 3:
                self.warn(line, f"{where}: {show(item)} is very short and will match many messages")
        return variants

    def examples(self, body: dict, where: str, line: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
        raw = body.get("examples")
        eline = line_of(body, "examples", line)
        if not isinstance(raw, dict):
            self.error(eline, f"{where}: examples must be a mapping with 'match' and 'no_match' lists")
            return (), ()
        result = []
        for key, minimum in (("match", MIN_MATCH_EXAMPLES), ("no_match", MIN_NO_MATCH_EXAMPLES)):
            items = raw.get(key) or []
            kline = line_of(raw, key, eline)
            if not isinstance(items, list) or not all(isinstance(x, str) and x.strip() for x in items):
                self.error(kline, f"{where}: examples.{key} must be a list of texts")
                items = []
            if len(items) < minimum:
                self.error(kline, f"{where}: needs at least {minimum} examples.{key} (has {len(items)})")
            too_long = [i for i, text in enumerate(items) if len(text) > MAX_EXAMPLE_CHARS]
            if too_long:
                self.error(kline, f"{where}: examples.{key} {', '.join(f'#{i + 1}' for i in too_long[:5])}"
                                  f"{' and more' if len(too_long) > 5 else ''}: longer than a message "
                                  f"({MAX_EXAMPLE_CHARS:,} characters)")
                items = [text for text in items if len(text) <= MAX_EXAMPLE_CHARS]
            result.append(tuple(items))
        return result[0], result[1]


# --------------------------------------------------------------------------- entry points


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def check_bytes(data: bytes, source: str) -> tuple[RuleSet | None, list[Problem]]:
    """The rule set in ``data`` (None when it has errors) and every problem."""
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(source, 1, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [Problem(source, line, "the file is not UTF-8 text")]
    doc, problems = load_yaml(text, source)
    if problems:
        return None, problems
    checker = _Checker(source)
    ruleset = checker.document(doc)
    if ruleset is not None:
        ruleset = replace(ruleset, digest=_digest(data))
    return ruleset, checker.problems


def parse_rules(data: bytes | str, source: str = "<rules>") -> RuleSet:
    """Parse and validate rule-file content; raise :class:`RuleFileError`."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    ruleset, problems = check_bytes(data, source)
    if ruleset is None:
        raise RuleFileError(problems)
    return ruleset


def read_rule_file(path: str | os.PathLike) -> tuple[bytes | None, list[Problem]]:
    """The bytes of a rule file, or a problem that names the path tried."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            return fh.read(MAX_FILE_BYTES + 1), []
    except OSError as exc:
        return None, [Problem(source, 0, f"cannot read the rule file: {exc.strerror or exc}")]


def load_and_lint(path: str | os.PathLike) -> tuple[RuleSet | None, list[Problem]]:
    """Read a rule file once: the rule set (None when it has errors) and every problem."""
    data, problems = read_rule_file(path)
    if data is None:
        return None, problems
    return check_bytes(data, os.fspath(path))


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
    return check_bytes(data, source)[1]


def lint_file(path: str | os.PathLike) -> list[Problem]:
    """All problems (errors and warnings) in a rule file."""
    return load_and_lint(path)[1]
