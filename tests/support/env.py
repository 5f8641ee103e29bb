"""The environment of a bot or command that a test or benchmark starts as a process."""

from __future__ import annotations

import os

__all__ = ["clean_env"]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without its TELEGRAM_* and CALLGUARD_* settings (a
    developer's token or rule file must not reach the process under test), plus ``extra``.

    CALLGUARD_CACHE_DIR stays: in a test session it is the session's compiled-rules cache
    (tests/conftest.py), which keeps a started bot from writing to ~/.cache and lets it
    read the rules the session already checked."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TELEGRAM_", "CALLGUARD_")) or k == "CALLGUARD_CACHE_DIR"}
    env.update(extra)
    return env
