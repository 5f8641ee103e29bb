"""CallGuard in group chats: silent unless a message is a clear, high-risk scam
or speaks to the bot (mention, reply, command)."""

from __future__ import annotations

import pytest

from callguard.detect.normalize import normalize
from callguard.ocr import replies as picture_texts
from callguard.telegram.handlers import GROUP_MIN_CHARS
from tests.e2e.helpers import BENIGN_HANS, SCAM_HANS, idle, reply, ui
from tests.support.fake_bot_api import BOT_USERNAME

GROUP = -100_777
MENTION = f"@{BOT_USERNAME}"
# Candidates for texts on each side of the group thresholds; the first that the
# shipped rules judge as required is used, so tuning the rules does not break the
# tests (a rule change that leaves no candidate fails loudly: add one).
SHORT_HIGH = ("号码冻结转安全账户", "公安局安全账户", "通管局冻结号码转安全账户")  # high risk, too short to speak unasked
MEDIUM = ("他说有个安全账户可以保管我的钱", "对方让我存到安全账户里去看看", "对方提到了安全账户这个词，我有点怕",
          "有人说可以帮我开个安全账户")  # long enough, but only medium risk


def pick(guard, candidates, risk: str, long: bool) -> str:
    for text in candidates:
        if guard.detector.check(text).risk == risk and (len(normalize(text)) >= GROUP_MIN_CHARS) == long:
            return text
    pytest.fail(f"no candidate is {risk} risk and {'long' if long else 'short'} under the shipped rules: {candidates}")


def push_group(api, text, *, user_id=201, chat_type="group", **kwargs):
    return api.push_message(text, user_id=user_id, chat_id=GROUP if chat_type == "group" else -1_000_000_000_777,
                            chat_type=chat_type, language_code="zh-hans", **kwargs)


async def rows(guard):
    return await guard.writer.store.export_rows(0)


async def test_preconditions_of_the_group_texts(bot_env):
    """The fixed texts below mean what the tests assume under the shipped rules."""
    api, app, guard = bot_env
    check = guard.detector.check
    assert check(SCAM_HANS).risk == "high" and len(normalize(SCAM_HANS)) >= GROUP_MIN_CHARS
    assert check(BENIGN_HANS).risk == "none"


@pytest.mark.parametrize("kind", ["benign", "short_high", "medium", "哈哈", "晚上一起吃饭吗？"])
async def test_group_stays_silent_unless_high_risk_and_long(bot_env, kind):
    api, app, guard = bot_env
    text = {"benign": BENIGN_HANS, "short_high": pick(guard, SHORT_HIGH, "high", long=False),
            "medium": pick(guard, MEDIUM, "medium", long=True)}.get(kind, kind)
    push_group(api, text)
    await idle(api, app)
    assert api.sent_messages() == []
    assert await rows(guard) == []


@pytest.mark.parametrize("chat_type", ["group", "supergroup"])
async def test_group_high_risk_scam_is_answered_quoting_it(bot_env, chat_type):
    api, app, guard = bot_env
    update = push_group(api, SCAM_HANS, chat_type=chat_type)
    message = update["message"]
    sent = (await reply(api, message["chat"]["id"])).params
    assert sent["parse_mode"] == "HTML"
    assert sent["text"].startswith("<b>" + ui("risk.high", "zh-Hans"))
    assert sent["reply_parameters"]["message_id"] == message["message_id"]
    assert any(data.startswith("f:") for row in sent["reply_markup"]["inline_keyboard"]
               for data in [b["callback_data"] for b in row])
    [row] = await rows(guard)
    assert row["chat_type"] == chat_type and row["scam"] is True and row["text"] == SCAM_HANS


async def test_group_mention_is_answered_even_if_not_high_risk(bot_env):
    api, app, guard = bot_env
    text = f"{MENTION} {BENIGN_HANS}"
    update = push_group(api, text, entities=[{"type": "mention", "offset": 0, "length": len(MENTION)}])
    sent = (await reply(api, GROUP)).params
    assert sent["text"].startswith("<b>" + ui("risk.none", "zh-Hans"))
    assert sent["reply_parameters"]["message_id"] == update["message"]["message_id"]
    [row] = await rows(guard)
    assert row["text"] == BENIGN_HANS  # the mention itself is not part of the description
    assert row["chat_type"] == "group" and row["scam"] is False


async def test_group_bare_mention_asks_for_words(bot_env):
    api, app, guard = bot_env
    push_group(api, MENTION, entities=[{"type": "mention", "offset": 0, "length": len(MENTION)}])
    assert (await reply(api, GROUP)).params["text"] == ui("need_words", "zh-Hans")
    assert await rows(guard) == []


async def test_group_mention_of_someone_else_is_not_addressed(bot_env):
    api, app, guard = bot_env
    push_group(api, f"@somebody_else {BENIGN_HANS}", entities=[{"type": "mention", "offset": 0, "length": 14}])
    await idle(api, app)
    assert api.sent_messages() == []


async def test_group_reply_to_the_bot_is_answered(bot_env):
    api, app, guard = bot_env
    push_group(api, SCAM_HANS, user_id=202)
    verdict = (await reply(api, GROUP)).params
    mark = api.mark()
    question = "那我刚才接的电话呢？对方问我家住哪里"
    asked = push_group(api, question, user_id=203, reply_to=verdict)["message"]
    sent = (await reply(api, GROUP, mark)).params
    assert sent["text"].startswith("<b>") and sent["parse_mode"] == "HTML"  # a verdict, whatever the risk
    assert sent["reply_parameters"]["message_id"] == asked["message_id"]
    assert [r["text"] for r in await rows(guard)] == [SCAM_HANS, question]
    # A reply to another member (not to the bot) stays unanswered.
    other = push_group(api, "好的收到", user_id=204)
    push_group(api, "我也觉得", user_id=205, reply_to=other["message"]["message_id"])
    await idle(api, app)
    assert len(api.sent_messages(GROUP)) == 2


@pytest.mark.parametrize("command, expected", [
    (f"/help@{BOT_USERNAME}", "help"), ("/help", "help"), (f"/privacy@{BOT_USERNAME}", "privacy"),
    ("/help@some_other_bot", None), ("/report", "report.private"), ("/frobnicate", None),
])
async def test_group_commands(bot_env, command, expected):
    api, app, guard = bot_env
    api.push_command(command, user_id=206, chat_id=GROUP, chat_type="group", language_code="en")
    await idle(api, app)
    sent = api.sent_texts(GROUP)
    if expected is None:
        assert sent == []
    else:
        wanted = {"privacy": picture_texts.privacy_text("en", days=365),
                  "help": picture_texts.help_text("en", reading=False, region=None)}  # English: no CN numbers
        assert sent == [wanted.get(expected) or ui(expected, "en")]
    assert await rows(guard) == []
