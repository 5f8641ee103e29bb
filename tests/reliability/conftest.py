"""Fixtures for the reliability tests."""

from __future__ import annotations

import dataclasses

import pytest

from tests.reliability.support import RULES


@pytest.fixture
def settings(settings):
    """The suite's settings, with the rule file the reliability tests use (see support.RULES)."""
    return dataclasses.replace(settings, rules_path=RULES)
