"""Where the rule files are, and what to say when one cannot be read.

The repository's rules/ folder is installed as the package ``callguard.rules``
(pyproject.toml), so its files travel inside the wheel and the sdist. They are
found with importlib.resources: an installed CallGuard works from any folder,
never relative to the working directory or to a source checkout.

A rule file that cannot be opened is a different problem from a rule file with
errors: the person at the keyboard needs the path that was tried and where it
came from (the command line, ``CALLGUARD_RULES``, or the shipped default,
which means a broken install), not a lint report.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Mapping

__all__ = ["RULES_PACKAGE", "shipped", "open_error", "unreadable"]

RULES_PACKAGE = f"{__package__}.rules"


def shipped(name: str) -> Path:
    """The installed path of ``rules/<name>`` (scam_patterns.yaml, regression.jsonl, ...).

    The path may not exist (a file not shipped): callers report that with
    :func:`unreadable`. pip installs wheels as plain files, so the resource is
    a real path that the bot can also watch and reload."""
    try:
        resource = resources.files(RULES_PACKAGE).joinpath(name)
    except ModuleNotFoundError:  # e.g. an editable install made before rules/ became a package
        raise ModuleNotFoundError(f"{RULES_PACKAGE} is not installed, so the rule files cannot be found: "
                                  "reinstall callguard (in a checkout: pip install -e '.[test]')") from None
    if not isinstance(resource, Path):  # imported from a zip archive: no path to read, watch or replace
        raise RuntimeError(f"callguard must be installed as files, not run from an archive ({resource})")
    return resource


def open_error(path: str | os.PathLike) -> OSError | None:
    """Why ``path`` cannot be opened for reading (missing, a folder, no permission), or None."""
    try:
        with open(path, "rb"):
            return None
    except OSError as exc:
        return exc


def unreadable(path: str | os.PathLike, *, from_command_line: bool = False,
               env: Mapping[str, str] | None = None) -> str | None:
    """None when the rule file at ``path`` can be opened; otherwise one message
    that names the path tried (absolute too, when it was relative) and the
    ``CALLGUARD_RULES`` setting, and says what to do."""
    error = open_error(path)
    if error is None:
        return None
    env = os.environ if env is None else env
    tried = os.fspath(path)
    absolute = os.path.abspath(tried)
    where = tried if absolute == tried else f"{tried} (= {absolute})"
    setting = env.get("CALLGUARD_RULES", "").strip()
    if from_command_line:
        origin = "It was named on the command line" + (
            f"; CALLGUARD_RULES={setting} is not used then." if setting else ".")
    elif setting:
        origin = (f"CALLGUARD_RULES={setting} names it: correct the path, or unset CALLGUARD_RULES "
                  "to use the rules shipped with callguard.")
    else:
        origin = ("CALLGUARD_RULES is not set, so this is the rule file shipped with callguard: the "
                  "installation is incomplete. Reinstall callguard, or set CALLGUARD_RULES to a rule file.")
    return f"cannot read the rule file {where}: {error.strerror or error}.\n{origin}"
