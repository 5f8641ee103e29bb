"""Shared fixtures: the real CallGuard bot running against the fake Bot API."""

from __future__ import annotations

import dataclasses
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from callguard.config import Settings
from callguard.rulebook import Loaded, RuleBook

ROOT = Path(__file__).resolve().parent.parent

# Compiled rule sets by (file, mtime, size): validating and compiling the shipped
# rules takes a good part of a second, and a Detector is immutable, so the
# end-to-end tests share one per file version instead of paying that per test.
_COMPILED_RULES: dict[tuple[str, int, int], Loaded] = {}
_load_rulebook = RuleBook.load


def _rulebook_once(cls, path) -> RuleBook:
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key not in _COMPILED_RULES:
        _COMPILED_RULES[key] = _load_rulebook(resolved).live
    return RuleBook(_COMPILED_RULES[key])  # a fresh book (reloads stay per test), a shared detector


@pytest.fixture
def settings(tmp_path):
    """Settings for a bot under test: temp database, shipped rules, no flood limit, detection on
    the event loop (worker processes cost a second of start-up; their own tests use them)."""
    return Settings(token="", db_path=tmp_path / "callguard.db", rules_path=ROOT / "rules" / "scam_patterns.yaml",
                    admins=frozenset({42}), secret=b"test-secret", send_rate=0, detect_workers=0,
                    ocr_workers=0)  # a bot reads pictures only when a test hands it the shared pool (ocr_pool)


@pytest.fixture(scope="session")
def ocr_pool():
    """One OCR worker pool for the whole test session (starting one costs seconds of CPU).

    Skips the test when the ``ocr`` extra is not installed (.ci/run installs it)."""
    from callguard import ocr

    if not ocr.available():
        pytest.skip(f"OCR tests need the ocr extra: {ocr.MISSING}")
    from callguard.ocr.pool import OcrPool

    pool = OcrPool(1, timeout=60.0)
    yield pool
    pool.close()


@pytest.fixture
async def make_bot(settings, monkeypatch):
    """Factory: ``await make_bot(**setting_overrides, webhook=None, ocr=None)`` -> (api, app, guard).

    Each call starts a fake Bot API and the real CallGuard application (built by
    ``callguard.main.build``) polling it, or serving ``webhook`` (kwargs for
    ``Updater.start_webhook``); everything is stopped at the end of the test."""
    from callguard.main import build
    from tests.support.fake_bot_api import FakeBotAPI
    from tests.support.ptb import running_app

    monkeypatch.setattr(RuleBook, "load", classmethod(_rulebook_once))
    async with AsyncExitStack() as stack:
        async def factory(*, webhook: dict | None = None, ocr=None, **overrides):
            api = await stack.enter_async_context(FakeBotAPI())
            s = dataclasses.replace(settings, token=api.token, bot_api_url=api.base_url,
                                    bot_file_url=api.base_file_url, **overrides)
            app = build(s, ocr=ocr)
            await stack.enter_async_context(running_app(app, webhook=webhook))
            return api, app, app.bot_data["guard"]

        yield factory


@pytest.fixture
async def bot_env(make_bot):
    """(api, app, guard): CallGuard polling the fake Bot API, with a real SQLite file."""
    return await make_bot()
