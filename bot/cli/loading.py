"""What every ``callguard`` command needs first: the settings, the rule file, a detector.

One place for it so that every command reads CALLGUARD_* the same way and says
the same thing when the rule file (or a model file) cannot be used: one line on
stderr and an exit status, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from .. import compiled_cache
from ..config import ConfigError, Settings, model_setting
from ..detect import Detector, RuleFileError, RuleSet, load_rules, parse_rules
from ..detect.load import read_rule_file
from ..detect.model import Model, ModelFileError
from ..detect.regions import region_code
from ..rulefiles import unreadable


def settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise SystemExit(f"callguard: {exc}") from None


def rules_path(arg: str | None) -> Path:
    return Path(arg) if arg else settings().rules_path


def rules_problem(path: Path, exc: RuleFileError, *, from_command_line: bool = False) -> str:
    """Why the rule file cannot be used: it cannot be read (the path tried and
    the CALLGUARD_RULES setting), or it has errors (file:line lines)."""
    return unreadable(path, from_command_line=from_command_line) or f"the rule file has errors:\n{exc}"


def load_detector(arg: str | None, model_arg: str | None = None) -> Detector:
    """The rule file's detector (``arg``, else CALLGUARD_RULES or the shipped rules),
    asking the learned second opinion of ``model_arg`` (a model file, or "off"),
    else of CALLGUARD_MODEL's; a clear exit when either cannot be used."""
    model = _model(model_arg)
    path = rules_path(arg)
    try:
        data, problems = read_rule_file(path)
        if data is None:
            raise RuleFileError(problems)
        # A one-shot command compiles the same rules every time: keep them compiled (see compiled_cache).
        detector = compiled_cache.load_or_build(data, lambda content: Detector(parse_rules(content, str(path))))
    except RuleFileError as exc:
        raise SystemExit(f"callguard: {rules_problem(path, exc, from_command_line=arg is not None)}") from None
    return detector.with_model(model)


def _model(arg: str | None):
    """The model of ``--model`` (a file, ``shipped`` or ``off``), else of CALLGUARD_MODEL; None for the rules alone."""
    try:
        path = settings().model_path if arg is None else model_setting(arg, "--model")
        return Model.load(path) if path is not None else None
    except (ConfigError, ModelFileError) as exc:
        raise SystemExit(f"callguard: {exc}") from None


def detector_and_region(args, command: str) -> tuple[Detector, str | None]:
    """What a judging command (check, chat) starts with: the detector and its
    --region checked against the rule file, a clear exit when unknown."""
    detector = load_detector(args.rules, args.model)
    try:
        return detector, known_region(detector.ruleset, args.region)
    except ValueError as exc:
        raise SystemExit(f"callguard {command}: {exc}") from None


def known_region(ruleset: RuleSet, code: str | None) -> str | None:
    """``code`` as the rule file writes it (upper case, UK as GB) when the file has that
    region; a clear error otherwise."""
    if code is None:
        return None
    if not isinstance(code, str) or region_code(code) not in ruleset.regions:
        known = ", ".join(ruleset.regions) or "none"
        raise ValueError(f"unknown region {code!r} (the rule file has: {known})")
    return region_code(code)
