"""`callguard run` as a real process: start-up errors and graceful shutdown.

The fake Bot API runs in the test's event loop; the bot is a subprocess that
talks to it over HTTP, exactly as it would talk to Telegram."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import sys

from tests.e2e.helpers import BENIGN_EN, SCAM_EN, SCAM_HANS, SCAM_HANT, db_rows, reply
from tests.support.env import clean_env
from tests.support.fake_bot_api import FakeBotAPI

START_TIMEOUT = 30.0  # a cold interpreter importing PTB on a busy CI machine


def test_run_without_token_exits_non_zero_with_one_clear_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "callguard", "run"], capture_output=True, text=True, timeout=60,
                          env=clean_env(CALLGUARD_DB=str(tmp_path / "db.sqlite")), cwd=tmp_path)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "TELEGRAM_BOT_TOKEN" in lines[0] and "callguard chat" in lines[0]
    assert proc.stdout == ""
    assert not (tmp_path / "db.sqlite").exists()  # nothing was started


async def test_sigterm_stops_the_bot_gracefully_with_every_report_stored(settings, tmp_path):
    db = tmp_path / "callguard.db"
    async with FakeBotAPI() as api:
        env = clean_env(TELEGRAM_BOT_TOKEN=api.token, CALLGUARD_BOT_API_URL=api.base_url, CALLGUARD_DB=str(db),
                        CALLGUARD_RULES=str(settings.rules_path), CALLGUARD_SECRET="process-test")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "callguard", "run", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            texts = {401: SCAM_HANS, 402: SCAM_HANT, 403: SCAM_EN, 404: BENIGN_EN}
            for uid, text in texts.items():
                api.push_message(text, user_id=uid)
            for uid in texts:
                await reply(api, uid, timeout=START_TIMEOUT)
            # One more whose reply is still in flight when SIGTERM arrives: it must complete.
            api.set_delay("sendMessage", 0.5)
            api.push_message(SCAM_HANS, user_id=405)
            await api.wait_for("sendMessage", lambda c: c.params["chat_id"] == 405, timeout=10)
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=20)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        err = stderr.decode(errors="replace")
        assert proc.returncode == 0, err
        assert "Traceback" not in err, err
        replied = {c.params["chat_id"] for c in api.calls("sendMessage") if c.response is not None and c.ok}
        assert replied == {401, 402, 403, 404, 405}
        # The process has exited: another connection sees every replied report, nothing queued or lost.
        rows = db_rows(db)
        assert sorted(r["text"] for r in rows) == sorted([*texts.values(), SCAM_HANS])
        with sqlite3.connect(db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # The command menu was registered and the bot polled (not a webhook).
        assert api.get_commands() and api.counts["getUpdates"] >= 1
