"""The detection core: normalise text, match rules, decide.

Pure and self-contained: nothing here imports Telegram or storage, and
``Detector(ruleset).check(text)`` depends only on the rule set and the text.
"""

from .language import detect_language, from_language_code
from .rules import (LANGUAGES, Problem, RuleFileError, RuleSet, lint_file, lint_text, load_and_lint,
                    load_rules, parse_rules)
from .verdict import Detector, Evidence, Explanation, Verdict

__all__ = [
    "LANGUAGES", "Problem", "RuleFileError", "RuleSet", "lint_file", "lint_text", "load_and_lint",
    "load_rules", "parse_rules", "Detector", "Evidence", "Explanation", "Verdict",
    "detect_language", "from_language_code",
]
