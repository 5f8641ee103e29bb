"""Synthetic schema-2 rule sets and messages for benchmarks.

Everything here is deterministic for a given seed, so two runs (and two
machines) time the same work.

**Rules** resemble rules/scam_patterns.yaml in the ways that matter to the
matcher (measured on that file; see ``_SHAPE``):

* shared **vocab lists** (40 lists of 10-120 terms, Chinese and English, four
  of them made of other lists), used by every rule as ``{slots}``;
* **patterns** of one element (mostly a ``(a|b|c)`` choice, some a slot or a
  literal phrase) and of two to five elements, chained touching or across a
  bounded ``…`` gap, with single-character elements (``(你|您|我)…``), optional
  ``(the|a)?``, entities (``{amount}``, ``转{amount}给我``, ``(钱|{amount})``);
  many choices are shared between rules, as concepts are in the real file;
* 3-6 groups per rule with the file's weights, negative groups of things
  genuine messages say (``fuzzy: false``), ``requires`` and ``requires_all``,
  a group ``gap`` now and then, one **fallback** rule (the universal red
  flags, ``other_scam``) and one rule of a non-scam category.

Chinese terms are two-character "words" drawn from a Zipf-weighted
vocabulary of common characters, so, as in real rules, some bigrams recur in
many terms; English terms are one to three common words. Each rule is built
from its own random stream, so ``make_ruleset(n)``'s rules are the first ``n``
of ``make_ruleset(m)`` for any ``m > n`` (a 1,000-rule and a 10,000-rule set
can be timed on the very same messages). A rule has about 22 patterns (the
shipped rules have 34: broad rules of mechanics, of which a real file holds
dozens, not thousands).

``write_rule_file(path, n)`` writes a complete rule file that passes
``load_rules`` and ``build()`` (every embedded example holds; see
``rule_file_text``) for reload benchmarks. The loader caps a file at
60,000 patterns, so a file holds at most about 2,500 of these rules.

**Messages** (``synthetic_messages.make_messages``, re-exported here) realise
the rules' patterns: a term of each slot, an alternative of each choice,
words in each gap; with typos, filler, long pasted texts and obfuscation.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Sequence

import yaml

from callguard.detect.normalize import has_cjk, normalize
from callguard.detect.patterns import literal, parse_pattern
from callguard.detect.schema import (REQUIRED_CATEGORIES, REQUIRED_TEXTS, Category, Group, Rule, RuleSet, Thresholds,
                                     Vocab)
from synthetic_text import (RARE_HANZI, en_filler, en_term, obfuscate, realise, realise_group, splice, typo, words, zh_filler,
                            zh_term)

__all__ = [
    "DEFAULT_SEED", "DEV_JSONL", "Message", "MESSAGE_KINDS", "make_ruleset", "make_messages", "realise",
    "write_rule_file", "rule_file_text", "load_dev_texts",
]

DEFAULT_SEED = 20261128
DEV_JSONL = Path(os.environ.get("CALLGUARD_DEV_JSONL", "/work/shared/eval/dev.jsonl"))

_GROUP_NAMES = ("claim", "story", "threat", "demand", "pressure", "channel", "payment", "lure")
_NEGATIVE_NAMES = ("warning", "genuine", "official")

# Vocab list names (concepts, as in the real file). The fallback rule and the
# non-scam rule have lists of their own (see ``_special_rule``).
_LIST_NAMES = (
    "police", "justice", "gov_agency", "company", "staff", "family", "acquaintance", "money_verb", "safe_account",
    "scam_payment", "code_word", "card_data", "remote_app", "install", "chat_app", "urgency", "secrecy", "threat",
    "crime", "trouble", "profit", "prize", "fee", "loan", "credit", "task", "job", "romance", "game", "parcel",
    "refund", "membership", "platform", "investment", "warning", "telecom_body", "number_word", "device",
)
_COMPOSITE = {"authority": ("police", "justice", "gov_agency"), "known": ("family", "acquaintance"),
              "org": ("company", "gov_agency"), "payment_any": ("money_verb", "scam_payment")}
_OWN_LISTS = {"fallback": ("fb_identity", "fb_request", "fb_press"), "complaint": ("cp_service", "cp_problem")}
# Lists a positive pattern may use ({warning} is what genuine notices say: negative groups only).
_POSITIVE_LISTS = tuple(n for n in _LIST_NAMES if n != "warning") + tuple(_COMPOSITE)
_ENTITIES = ("amount", "link", "risky_link", "phone", "handle", "code")

# The shape of the shipped rules (rules/scam_patterns.yaml, December 2026), as
# (value, weight) pairs for random.choices.
_SHAPE = {
    "patterns_per_group": ((1, 25), (2, 10), (3, 8), (4, 9), (5, 14), (6, 10), (7, 8), (8, 7), (10, 6), (12, 3)),
    "elements_per_pattern": ((1, 47), (2, 36), (3, 12), (4, 4), (5, 1)),
    "choice_size": ((2, 24), (3, 24), (4, 21), (5, 17), (6, 10), (8, 4)),
    "positive_weight": ((15, 13), (20, 19), (25, 13), (30, 18), (35, 14), (40, 4), (45, 3), (55, 1), (60, 1)),
}


def _pick(rng: random.Random, shape: str) -> int:
    values, weights = zip(*_SHAPE[shape])
    return rng.choices(values, weights)[0]


# --------------------------------------------------------------------------- the vocab lists


@lru_cache(maxsize=4)
def _vocab(seed: int) -> dict[str, tuple[str, ...]]:
    """name -> terms as written, the same for every rule count."""
    w = words(seed)
    rng = random.Random(f"{seed}:vocab")
    out: dict[str, tuple[str, ...]] = {}
    own = {n for names in _OWN_LISTS.values() for n in names}
    for name in _LIST_NAMES + tuple(sorted(own)):
        size = rng.choice((10, 15, 20, 25, 30, 40, 50, 60, 80, 120))
        terms: dict[str, None] = {}
        while len(terms) < size:
            if name in own:  # the special rules' own words: characters no other list or chatter has
                term = "".join(rng.sample(RARE_HANZI, rng.randint(3, 5)))
            else:
                term = zh_term(rng, w) if rng.random() < 0.6 else en_term(rng, w, 3, least=1 + (rng.random() > 0.15))
            if normalize(term) and not any(normalize(term) == normalize(t) for t in terms):
                terms[term] = None
        # Chinese terms first, as the rule file lists them ({zh: [...], en: [...]}).
        out[name] = tuple(sorted(terms, key=lambda t: not has_cjk(t)))
    for name, parts in _COMPOSITE.items():
        out[name] = tuple(f"{{{p}}}" for p in parts)
    return out


def _expanded(vocab: dict[str, tuple[str, ...]], name: str) -> tuple[str, ...]:
    out: list[str] = []
    for term in vocab[name]:
        out += _expanded(vocab, term[1:-1]) if term.startswith("{") else [term]
    return tuple(out)


@lru_cache(maxsize=4)
def _shared_choices(seed: int) -> tuple[str, ...]:
    """Choices that many rules use alike (as ``(号码|手机号|电话卡)`` recurs in the real file)."""
    vocab = _vocab(seed)
    rng = random.Random(f"{seed}:choices")
    out = []
    for name in _POSITIVE_LISTS:
        terms = _expanded(vocab, name)
        for _ in range(3):
            out.append("(" + "|".join(rng.sample(terms, min(len(terms), _pick(rng, "choice_size")))) + ")")
    return tuple(out)


# --------------------------------------------------------------------------- rules as they are written


def _element(rng: random.Random, w, seed: int, zh: bool, first: bool, single: bool) -> str:
    """One element of a pattern, as written."""
    roll = rng.random()
    if single:  # a pattern of one element: mostly a choice, some a slot or a phrase, rarely an entity
        if roll < 0.02:
            return "{" + rng.choice(_ENTITIES) + "}"
        if roll < 0.17:
            return "{" + rng.choice(_POSITIVE_LISTS) + "}"
        if roll < 0.30:
            return zh_term(rng, w, ((4, 30), (5, 30), (6, 20), (8, 20))) if zh else en_term(rng, w)
    else:
        if roll < 0.03 and not first:  # (never the first: a pattern of entities only is one entity)
            return "{amount}" if rng.random() < 0.5 else "(" + rng.choice(("钱", "money", "款")) + "|{amount})"
        if roll < 0.18:
            return "{" + rng.choice(_POSITIVE_LISTS) + "}"
        if roll < 0.26 and first:  # a short class: one character or word, found on demand
            return rng.choice(("(你|您|我)", "(我|你)的", "(要|让|叫)", "(you|i|he|she)", "(my|your)"))
        if roll < 0.36:
            return zh_term(rng, w, ((1, 20), (2, 50), (3, 30))) if zh else en_term(rng, w, 2)
    if rng.random() < 0.2:
        return rng.choice(_shared_choices(seed))
    # Alone, a choice holds specific terms (安全账户, "safe account"); in a
    # chain, short words too (号码, "number"), which mean something only together.
    size = _pick(rng, "choice_size")
    alternatives: dict[str, None] = {}
    while len(alternatives) < size:
        if single:
            term = zh_term(rng, w, ((3, 30), (4, 40), (5, 20), (6, 10))) if zh else en_term(rng, w, 3, least=2)
        else:
            term = zh_term(rng, w, ((2, 40), (3, 40), (4, 20))) if zh else en_term(rng, w, 2)
        alternatives[term] = None
    return "(" + "|".join(alternatives) + ")"


def _pattern(rng: random.Random, w, seed: int) -> str:
    zh = rng.random() < 0.65
    n = _pick(rng, "elements_per_pattern")
    out = ""
    for i in range(n):
        element = _element(rng, w, seed, zh, i == 0, n == 1)
        if i:
            gap = rng.random() < 0.6
            out += "…" if gap else ("" if zh else " ")
            if not gap and not zh and rng.random() < 0.1:
                out += "(the|a)? "
        out += element
    return out


def _rule_spec(i: int, seed: int, category: str) -> dict[str, Any]:
    """Rule ``i`` as it would be written in a rule file (no examples yet)."""
    w = words(seed)
    rng = random.Random(f"{seed}:rule:{i}")
    names = rng.sample(_GROUP_NAMES, rng.randint(3, 6))
    groups: list[dict[str, Any]] = []
    for name in names:
        group: dict[str, Any] = {"name": name, "weight": _pick(rng, "positive_weight")}
        if rng.random() < 0.08:
            group["fuzzy"] = False
        if rng.random() < 0.3:
            group["gap"] = rng.choice((8, 10, 14, 16))
        patterns = list(dict.fromkeys(_pattern(rng, w, seed) for _ in range(_pick(rng, "patterns_per_group"))))
        if rng.random() < 0.15:  # a group of literal phrases too
            group["phrases"] = list(dict.fromkeys(zh_term(rng, w) if rng.random() < 0.65 else en_term(rng, w)
                                                  for _ in range(rng.randint(1, 4))))
        group["patterns"] = patterns
        groups.append(group)
    while sum(g["weight"] for g in groups) < 110:  # as in the real file, a rule's groups can reach 100
        rng.choice(groups)["weight"] += 10
    if rng.random() < 0.25:  # what genuine notices say
        groups.append({"name": rng.choice(_NEGATIVE_NAMES), "weight": -rng.choice((40, 50, 60)), "fuzzy": False,
                       "patterns": ["{warning}"] + [_pattern(rng, w, seed) for _ in range(rng.randint(0, 2))]})
    spec: dict[str, Any] = {"id": f"syn-{i:05d}", "category": category}
    spec["title"] = {"zh-Hans": f"合成规则{i}", "zh-Hant": f"合成規則{i}", "en": f"Synthetic rule {i}"}
    spec["advice"] = {"zh-Hans": ["立刻挂断。", "不要转账。"], "zh-Hant": ["立刻掛斷。", "不要轉帳。"],
                      "en": ["Hang up now.", "Do not transfer money."]}
    roll = rng.random()
    if roll < 0.1:
        spec["requires_all"] = [names[0]]
        spec["requires"] = names[1:3]
    elif roll < 0.9:
        spec["requires"] = rng.sample(names, rng.randint(1, min(3, len(names))))
    spec["groups"] = groups
    return spec


def _special_rule(kind: str, category: str) -> dict[str, Any]:
    """The fallback rule (universal red flags) or the rule of a non-scam
    category; each matches with lists of its own, so that its examples are
    its own."""
    lists = _OWN_LISTS[kind]
    if kind == "fallback":
        groups = [{"name": "identity", "weight": 25, "patterns": [f"{{{lists[0]}}}"]},
                  {"name": "request", "weight": 30, "patterns": [f"{{{lists[1]}}}", f"{{{lists[0]}}}…{{{lists[1]}}}"]},
                  {"name": "press", "weight": 15, "patterns": [f"{{{lists[2]}}}"]}]
        spec = {"id": "syn-fallback", "category": category, "fallback": True, "requires_all": ["request"]}
    else:
        groups = [{"name": "service", "weight": 25, "patterns": [f"{{{lists[0]}}}"]},
                  {"name": "problem", "weight": 30, "patterns": [f"{{{lists[1]}}}", f"{{{lists[0]}}}…{{{lists[1]}}}"]}]
        spec = {"id": "syn-complaint", "category": category, "requires": ["problem"]}
    spec["title"] = {"zh-Hans": f"合成{kind}", "zh-Hant": f"合成{kind}", "en": f"Synthetic {kind}"}
    spec["advice"] = {"zh-Hans": ["先核实。"], "zh-Hant": ["先核實。"], "en": ["Check first."]}
    spec["groups"] = groups
    return spec


def _specs(n: int, seed: int, categories: dict[str, Category]) -> list[dict[str, Any]]:
    scam = [c for c, cat in categories.items() if cat.scam and c != "other_scam"]
    other = [c for c, cat in categories.items() if not cat.scam]
    specs = []
    for i in range(n):
        if i == 0:
            specs.append(_special_rule("fallback", "other_scam" if "other_scam" in categories else scam[0]))
        elif i == 1 and other:
            specs.append(_special_rule("complaint", other[0]))
        else:
            specs.append(_rule_spec(i, seed, scam[i % len(scam)]))
    return specs


# --------------------------------------------------------------------------- rule sets


def _categories() -> dict[str, Category]:
    out = {}
    for cid in (*REQUIRED_CATEGORIES, "other_scam"):
        name = {"zh-Hans": f"类别{cid}", "zh-Hant": f"類別{cid}", "en": f"Category {cid}"}
        how = {"zh-Hans": "合成的说明。", "zh-Hant": "合成的說明。", "en": "A synthetic description."}
        out[cid] = Category(cid, cid != "telecom_complaint", MappingProxyType(name), MappingProxyType(how))
    return out


def _texts() -> dict:
    out = {}
    for key in REQUIRED_TEXTS:
        if key == "emergency":
            block = {"zh-Hans": ("拨打110报警。", "联系银行冻结卡。"), "zh-Hant": ("撥打110報警。", "聯繫銀行凍結卡。"),
                     "en": ("Call the police on 110.", "Call your bank to freeze the card.")}
        else:
            block = {"zh-Hans": f"合成文本{key}。", "zh-Hant": f"合成文本{key}。", "en": f"Synthetic text {key}."}
        out[key] = MappingProxyType(block)
    return out


def _rule(spec: dict[str, Any], keys: dict[str, tuple[str, ...]], examples: tuple = ((), ())) -> Rule:
    """A rule spec as the loader would read it (phrases, then patterns)."""
    groups = []
    for g in spec["groups"]:
        patterns = tuple(literal(p) for p in g.get("phrases", ()))
        patterns += tuple(v for p in g.get("patterns", ()) for v in parse_pattern(p, keys))
        groups.append(Group(name=g["name"], weight=g["weight"], patterns=patterns, fuzzy=g.get("fuzzy", True),
                            gap=g.get("gap", 12)))
    return Rule(id=spec["id"], category=spec["category"], title=MappingProxyType(spec["title"]),
                advice=MappingProxyType({k: tuple(v) for k, v in spec["advice"].items()}), groups=tuple(groups),
                requires=tuple(spec.get("requires", ())), requires_all=tuple(spec.get("requires_all", ())),
                examples_match=tuple(examples[0]), examples_no_match=tuple(examples[1]),
                fallback=spec.get("fallback", False))


def _ruleset(specs: list[dict], seed: int, categories: dict, texts: dict, thresholds: Thresholds, label: str,
             examples: list[tuple] | None = None) -> RuleSet:
    vocab = _vocab(seed)
    keys = {name: tuple(dict.fromkeys(k for k in map(normalize, _expanded(vocab, name)) if k)) for name in vocab}
    built = [_rule(spec, keys) for spec in specs]
    if examples is None:
        examples = [_examples(rule, seed, vocab, attempt=0) for rule in built]
    rules = tuple(_rule(spec, keys, ex) for spec, ex in zip(specs, examples))
    return RuleSet(rules=rules, categories=MappingProxyType(categories), texts=MappingProxyType(texts),
                   thresholds=thresholds,
                   vocab=MappingProxyType({n: Vocab(n, _expanded(vocab, n)) for n in vocab}),
                   label=label, digest=label[:12], source=f"<{label}>")


def make_ruleset(n_rules: int, seed: int = DEFAULT_SEED) -> RuleSet:
    """A synthetic rule set of ``n_rules`` rules, built directly as objects
    (no YAML); its examples are as generated (``rule_file_text`` makes them
    all hold)."""
    categories = _categories()
    return _ruleset(_specs(n_rules, seed, categories), seed, categories, _texts(), Thresholds(),
                    f"synthetic-{n_rules}-{seed}")


# --------------------------------------------------------------------------- examples and rule files


def _shared(pattern, seed: int) -> int:
    """How many of a pattern's elements other rules use too (vocab lists,
    entities, shared choices): examples prefer the rule's own words."""
    shared = _shared_choices(seed)
    return sum(e.kind in ("vocab", "entity") or bool(e.entities) or e.name in shared for e in pattern.elements)


def _examples(rule: Rule, seed: int, vocab: dict, attempt: int) -> tuple[list[str], list[str]]:
    """8 match examples (the rule's heaviest groups, realised until their
    weights reach 100, the required ones first; in each group, a pattern of
    the rule's own words rather than shared lists) and 5 no_match examples
    (chatter, two with one light group)."""
    w = words(seed)
    rng = random.Random(f"{seed}:examples:{rule.id}:{attempt}")
    terms = {name: _expanded(vocab, name) for name in vocab}
    positive = sorted((g for g in rule.groups if g.weight > 0), key=lambda g: -g.weight)
    own = rule.id in ("syn-fallback", "syn-complaint")  # only its own lists
    match = []
    for k in range(8):
        chosen = [g for g in positive if g.name in rule.requires_all]
        if rule.requires:
            chosen.append(rng.choice([g for g in positive if g.name in rule.requires]))
        # The heaviest groups first; later attempts try other groups (a
        # group that another rule also matches makes that rule win).
        for g in sorted(positive, key=lambda g: (-g.weight * (attempt < 2), rng.random())):
            if sum(x.weight for x in dict.fromkeys(chosen)) >= 100:
                break
            chosen.append(g)
        chosen = list(dict.fromkeys(chosen))
        rng.shuffle(chosen)
        zh = own or k % 3 != 2
        pieces = []
        for g in chosen:
            pool = [p for p in g.patterns if has_cjk(p.source) == zh] or list(g.patterns)
            fewest = min(_shared(p, seed) for p in pool)
            pieces.append(realise(rng, rng.choice([p for p in pool if _shared(p, seed) == fewest]), terms, g.gap))
        match.append(("，" if zh else ", ").join(pieces))
    light = [g for g in positive if g.weight < 45 and g.name not in rule.requires and g.name not in rule.requires_all]
    no_match = []
    for k in range(5):
        text = zh_filler(rng, w, rng.randint(8, 20)) if k % 2 == 0 else en_filler(rng, w, 30)
        if light and k < 2:
            text += ("，" if k % 2 == 0 else " ") + realise_group(rng, rng.choice(light), terms, k % 2 == 0)
        no_match.append(text)
    return list(dict.fromkeys(match)), list(dict.fromkeys(no_match))


def _plain(obj):
    """MappingProxyType/tuple -> dict/list, for YAML."""
    if isinstance(obj, (dict, MappingProxyType)):
        return {k: _plain(x) for k, x in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(x) for x in obj]
    return obj


MAX_ATTEMPTS = 60  # example sets generated for one rule before giving up


def rule_file_text(n_rules: int, seed: int = DEFAULT_SEED, template: RuleSet | None = None) -> str:
    """A complete rule file (YAML text, schema 2) of ``n_rules`` synthetic
    rules that passes ``load_rules`` and ``build()``.

    ``template`` (for example the shipped rule set) supplies the thresholds,
    texts and categories; without it, synthetic ones with the same structure
    are used. Every rule carries 8 match and 5 no_match examples that hold
    against the whole rule set, as ``build`` checks them: candidates are
    generated (``_examples``) and judged, and the first that hold are kept.
    (A rule's examples change no verdict, so the rule set is compiled once.)"""
    from callguard.detect import Detector

    categories = dict(template.categories) if template is not None else _categories()
    texts = dict(template.texts) if template is not None else _texts()
    thresholds = template.thresholds if template is not None else Thresholds()
    label = f"synthetic-{n_rules}-{seed}"
    specs = _specs(n_rules, seed, categories)
    vocab = _vocab(seed)
    detector = Detector(_ruleset(specs, seed, categories, texts, thresholds, label))
    examples = [_holding_examples(detector, rule, seed, vocab) for rule in detector.ruleset.rules]
    doc = {
        "schema": 2,
        "version": label,
        "thresholds": {"high": thresholds.high, "medium": thresholds.medium, "low": thresholds.low},
        "texts": _plain(texts),
        "categories": {cid: {"scam": c.scam, "name": _plain(c.name), "how": _plain(c.how)}
                       for cid, c in categories.items()},
        "vocab": {name: _vocab_entry(terms) for name, terms in vocab.items()},
        "rules": [{**spec, "examples": {"match": ex[0], "no_match": ex[1]}} for spec, ex in zip(specs, examples)],
    }
    header = f"# Synthetic CallGuard rules for benchmarks: {n_rules} rules, seed {seed}. Generated; do not edit.\n"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return header + yaml.dump(doc, Dumper=dumper, allow_unicode=True, sort_keys=False, width=10_000,
                              default_flow_style=None)


def _holding_examples(detector, rule: Rule, seed: int, vocab: dict) -> tuple[list[str], list[str]]:
    """8 match and 5 no_match examples of ``rule`` that hold (the test of
    :func:`callguard.detect.examples.run_examples`)."""
    medium = detector.ruleset.thresholds.medium
    match: list[str] = []
    no_match: list[str] = []
    for attempt in range(MAX_ATTEMPTS):
        candidates = (rule.examples_match, rule.examples_no_match) if attempt == 0 else \
            _examples(rule, seed, vocab, attempt)
        for text in candidates[0]:
            if len(match) < 8 and text not in match:
                explanation = detector.explain(text)
                own = next((s.score for s in explanation.scores if s.rule.id == rule.id), 0)
                if own >= medium and explanation.verdict.category == rule.category:
                    match.append(text)
        for text in candidates[1]:
            if len(no_match) < 5 and text not in no_match:
                own = next((s.score for s in detector.explain(text).scores if s.rule.id == rule.id), 0)
                if own < medium:
                    no_match.append(text)
        if len(match) == 8 and len(no_match) == 5:
            return match, no_match
    raise RuntimeError(f"synthetic rule {rule.id}: no 8 match and 5 no_match examples hold "
                       f"after {MAX_ATTEMPTS} attempts")


def _vocab_entry(terms: tuple[str, ...]) -> Any:
    if all(t.startswith("{") for t in terms):
        return list(terms)
    by_language = {"zh": [t for t in terms if has_cjk(t)], "en": [t for t in terms if not has_cjk(t)]}
    return {lang: items for lang, items in by_language.items() if items}


def write_rule_file(path: str | os.PathLike, n_rules: int, seed: int = DEFAULT_SEED,
                    template: RuleSet | None = None) -> Path:
    """Write ``rule_file_text(...)`` to ``path`` (atomically) and return the path."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(rule_file_text(n_rules, seed, template), encoding="utf-8")
    tmp.replace(path)
    return path


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Message:
    kind: str
    text: str


# (kind, share of the synthetic messages, what it is)
MESSAGE_KINDS = (
    ("zh_scam", 0.30, "Chinese description, 30-150 chars, realising 1-4 groups of one rule"),
    ("en_scam", 0.15, "English description, 30-150 chars, realising 1-3 groups of one rule"),
    ("typo", 0.15, "like the above (60% Chinese), one edit in each realised pattern"),
    ("benign", 0.25, "chatter, 30-150 chars, no pattern realised (60% Chinese)"),
    ("obfuscated", 0.05, "a scam description with zero-width characters, full-width letters, dots"),
    ("long", 0.10, "pasted text of 400-3,000 chars realising 0-6 groups of 1-3 rules"),
)


def make_messages(ruleset: RuleSet, n: int, seed: int = DEFAULT_SEED) -> list[Message]:
    """``n`` messages for ``ruleset`` (realising its rules' patterns, with
    the terms of its vocab lists); see MESSAGE_KINDS."""
    w = words(seed)
    rng = random.Random(seed + 2)
    rules = [r for r in ruleset.rules if any(g.weight > 0 and g.patterns for g in r.groups)]
    terms = {name: v.terms for name, v in ruleset.vocab.items()}
    kinds = [k for k, _, _ in MESSAGE_KINDS]
    shares = [s for _, s, _ in MESSAGE_KINDS]

    def groups_of(rule: Rule, k: int) -> list[Group]:
        positive = [g for g in rule.groups if g.weight > 0 and g.patterns]
        rng.shuffle(positive)
        return positive[:k]

    out: list[Message] = []
    for _ in range(n):
        kind = rng.choices(kinds, shares)[0]
        rule = rng.choice(rules)
        length = rng.randint(30, 150)
        if kind in ("zh_scam", "en_scam"):
            zh = kind == "zh_scam"
            pieces = [realise_group(rng, g, terms, zh) for g in groups_of(rule, rng.randint(1, 4 if zh else 3))]
            room = max(10, length - sum(map(len, pieces)))
            text = splice(rng, zh_filler(rng, w, room), pieces) if zh else \
                splice(rng, en_filler(rng, w, room), pieces, " ")
        elif kind == "typo":
            zh = rng.random() < 0.6
            pieces = [realise_group(rng, g, terms, zh, typo) for g in groups_of(rule, rng.randint(1, 4))]
            filler = zh_filler(rng, w, length) if zh else en_filler(rng, w, length)
            text = splice(rng, filler, pieces, "" if zh else " ")
        elif kind == "benign":
            text = zh_filler(rng, w, length) if rng.random() < 0.6 else en_filler(rng, w, length)
        elif kind == "obfuscated":
            pieces = [obfuscate(rng, realise_group(rng, g, terms)) for g in groups_of(rule, rng.randint(2, 3))]
            text = splice(rng, zh_filler(rng, w, length), pieces)
        else:  # long
            target = rng.randint(400, 3000)
            parts: list[str] = []
            size = 0
            while size < target:
                part = zh_filler(rng, w, rng.randint(40, 200)) if rng.random() < 0.7 else \
                    en_filler(rng, w, rng.randint(40, 200))
                parts.append(part)
                size += len(part)
            pieces = []
            for r in rng.sample(rules, min(len(rules), rng.randint(1, 3))):
                pieces += [realise_group(rng, g, terms) for g in groups_of(r, rng.randint(0, 2))]
            text = splice(rng, "\n".join(parts), pieces, " ")
        out.append(Message(kind, text))
    return out


def load_dev_texts(path: Path = DEV_JSONL) -> list[str]:
    """The texts of the shared evaluation set, or [] when it is not there."""
    try:
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line)["text"] for line in fh if line.strip()]
    except OSError:
        return []


if __name__ == "__main__":  # a quick look: python bench/synthetic.py
    rs = make_ruleset(4)
    for r in rs.rules:
        print(r.id, r.category, "requires", r.requires, r.requires_all, "fallback" * r.fallback)
        for g in r.groups:
            print(f"  {g.name:9} {g.weight:4} fuzzy={g.fuzzy!s:5} gap={g.gap}", " ; ".join(g.phrases)[:300])
        print("  e.g.", r.examples_match[:2])
    for m in make_messages(make_ruleset(1000), 12):
        print(f"[{m.kind}] {m.text[:160]!r}")
