"""CallGuard served as a webhook: Telegram's secret token is required."""

from __future__ import annotations

import pytest

from callguard.ocr import replies as picture_texts
from tests.e2e.helpers import SCAM_HANS, idle, reply, ui
from tests.support.ptb import free_port

SECRET = "s3cret_Token-42"


@pytest.fixture
async def webhook_bot(make_bot):
    port = free_port()
    api, app, guard = await make_bot(webhook=dict(
        listen="127.0.0.1", port=port, url_path="telegram", secret_token=SECRET,
        webhook_url=f"http://127.0.0.1:{port}/telegram"))
    assert api.webhook["url"] == f"http://127.0.0.1:{port}/telegram"  # registered with Telegram at start
    assert api.webhook["secret_token"] == SECRET
    return api, app, guard


async def test_webhook_with_the_right_secret_is_processed(webhook_bot):
    api, app, guard = webhook_bot
    status, _ = await api.post_webhook(None, api.make_message(SCAM_HANS, user_id=301, language_code="zh-hans"))
    assert status == 200
    sent = (await reply(api, 301)).params
    assert sent["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    [row] = await guard.writer.store.export_rows(0)
    assert row["text"] == SCAM_HANS and row["scam"] is True
    assert api.counts["getUpdates"] == 0  # no polling in webhook mode


@pytest.mark.parametrize("secret", ["wrong-secret", None, ""], ids=["wrong", "missing", "empty"])
async def test_webhook_with_a_wrong_or_missing_secret_is_refused(webhook_bot, secret):
    api, app, guard = webhook_bot
    status, _ = await api.post_webhook(None, api.make_message(SCAM_HANS, user_id=302), secret_token=secret)
    assert status == 403
    await idle(api, app)
    assert api.sent_messages() == []
    assert await guard.writer.store.export_rows(0) == []
    # The bot still serves genuine updates afterwards.
    status, _ = await api.post_webhook(None, api.make_message("/help", user_id=302, language_code="en"))
    assert status == 200
    assert (await reply(api, 302)).params["text"] == picture_texts.help_text("en", reading=False, region=None)


async def test_webhook_malformed_body_is_rejected_and_harmless(webhook_bot):
    api, app, guard = webhook_bot
    status, _ = await api.post_webhook(None, raw_body=b"{not json")
    assert status >= 400  # PTB's webhook answers 500 for a body that is not JSON
    status, _ = await api.post_webhook(None, raw_body=b'{"update_id": "x", "message": 5}')
    assert status == 400
    await idle(api, app)
    assert api.sent_messages() == []
    status, _ = await api.post_webhook(None, api.make_message("/help", user_id=303, language_code="en"))
    assert status == 200
    assert (await reply(api, 303)).params["text"] == picture_texts.help_text("en", reading=False, region=None)
