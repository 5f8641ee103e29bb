"""Shared fixtures: the real CallGuard bot running against the fake Bot API."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(tmp_path):
    """Settings for a bot under test: temp database, shipped rules, no flood limit."""
    return Settings(token="", db_path=tmp_path / "callguard.db", rules_path=ROOT / "rules" / "scam_patterns.yaml",
                    admins=frozenset({42}), secret=b"test-secret", send_rate=0)


@pytest.fixture
async def bot_env(settings):
    """(api, app, guard): CallGuard polling the fake Bot API, with a real SQLite file."""
    from bot.main import build
    from tests.support.fake_bot_api import FakeBotAPI
    from tests.support.ptb import running_app

    async with FakeBotAPI() as api:
        s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url, bot_file_url=api.base_file_url)
        app = build(s)
        async with running_app(app):
            yield api, app, app.bot_data["guard"]
