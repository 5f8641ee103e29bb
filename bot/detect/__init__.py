"""The detection core: normalise text, load and lint rules, compile, match, decide.

Pure and self-contained: nothing here imports Telegram or storage, and
``Detector(ruleset).check(text)`` depends only on the rule set and the text.

    load.py      rule file -> RuleSet (schema.py), every problem as file:line
                 (its parts: loadvocab for vocab:, loadshared for shared:)
    patterns.py  the pattern syntax: {vocab}, {entity}, (a|b), … gaps
    entities.py  amounts, links, phone numbers, chat handles, codes
    normalize.py one normalisation for patterns and messages (words.py: English)
    matcher.py   one Aho-Corasick scan, typo tolerance, pattern chaining, scores
                 (its parts: scan, layer, inner_loops, occurrences, typos, chaining, ranking)
    verdict.py   Detector: scores -> Verdict with evidence
    examples.py  every rule's embedded examples
    build.py     lint + compile + examples: the one way rules go into service;
                 check_candidate adds the comparison a reload makes before a swap
    compare.py   a candidate's verdicts against the live rules' on outside texts
    migrate.py   schema 1 -> schema 2
"""

from .build import build, check_candidate
from .language import LANGUAGES, detect_language, from_language_code
from .load import lint_file, lint_text, load_and_lint, load_rules, parse_rules
from .schema import Problem, RuleFileError, RuleSet
from .verdict import Detector, Evidence, Explanation, Verdict

__all__ = [
    "LANGUAGES", "Problem", "RuleFileError", "RuleSet", "lint_file", "lint_text", "load_and_lint",
    "load_rules", "parse_rules", "build", "check_candidate", "Detector", "Evidence", "Explanation", "Verdict",
    "detect_language", "from_language_code",
]
