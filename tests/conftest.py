"""Shared fixtures: the real CallGuard bot running against the fake Bot API."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from callguard.config import Settings
from callguard.rulebook import Loaded, RuleBook
from tests.support.alone import machine_to_itself  # noqa: F401  (autouse: `alone` tests)

ROOT = Path(__file__).resolve().parent.parent

# Compiled rule sets by file content: validating and compiling the shipped rules
# (running their ~1,300 examples) takes one to two seconds, and a Detector is
# immutable, so the end-to-end tests share one per content instead of paying
# that per test. By content, not by path: the admin tests each load their own
# copy of the shipped file (reloads write it), and keyed by path every copy was
# compiled again (48 tests of test_admin.py, ~2 s of set-up each).
_COMPILED_RULES: dict[bytes, Loaded] = {}
_load_rulebook = RuleBook.load


def _rulebook_once(cls, path) -> RuleBook:
    resolved = Path(path).resolve()
    key = hashlib.sha256(resolved.read_bytes()).digest()
    if key not in _COMPILED_RULES:
        _COMPILED_RULES[key] = _load_rulebook(resolved).live
    # A fresh book (reloads stay per test) on this file, with a shared detector.
    return RuleBook(dataclasses.replace(_COMPILED_RULES[key], path=resolved))


@pytest.fixture(autouse=True, scope="session")
def _compiled_rules_cache(tmp_path_factory):
    """The command line's compiled-rules cache (callguard.compiled_cache) in a
    folder of this test session, never the user's ~/.cache."""
    folder = tmp_path_factory.mktemp("compiled-rules-cache")
    os.chmod(folder, 0o700)
    previous = os.environ.get("CALLGUARD_CACHE_DIR")
    os.environ["CALLGUARD_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("CALLGUARD_CACHE_DIR", None)
    else:
        os.environ["CALLGUARD_CACHE_DIR"] = previous


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
