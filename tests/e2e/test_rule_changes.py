"""A rule file that would change many verdicts waits for its admin's confirmation (issue 12, item 3).

The real bot, the fake Bot API and the worker process: the admin gets the
report (how many verdicts change, the worst few), and the file goes live only
when the admin who sent it presses "Apply anyway". Reloads that cannot ask
(SIGHUP, the file watch) refuse it, unless its exact content was approved
(``callguard rules apply --force``).
"""

from __future__ import annotations

import logging
import re

import pytest

from callguard import rulebook
from callguard.cli import main as cli
from callguard.telegram import rule_changes
from tests.admin_support import ADMIN, USER, common_characters_rule, copy_rules, good_variant, own_examples_only
from tests.e2e.helpers import SCAM_HANS, button_data, buttons, reply

OTHER_ADMIN = 43


@pytest.fixture
def rules(tmp_path):
    return copy_rules(tmp_path / "rules")


@pytest.fixture
async def bot(make_bot, rules):
    return await make_bot(rules_path=rules, admins=frozenset({ADMIN, OTHER_ADMIN}))


async def verdict_of(api, text: str = SCAM_HANS, user_id: int = USER) -> str:
    mark = api.mark()
    api.push_message(text, user_id=user_id, language_code="zh-hans")
    return (await reply(api, user_id, since=mark, timeout=15)).params["text"]


async def upload(api, content: str, *, user_id: int = ADMIN, lang: str = "en"):
    mark = api.mark()
    api.push_document("new_rules.yaml", content.encode(), user_id=user_id, language_code=lang)
    return (await reply(api, user_id, since=mark, timeout=60)).params


async def reload_file(api, rules, content: str, *, lang: str = "en"):
    """Write ``content`` into the live rule file and send /reload; the bot's answer."""
    rules.write_text(content, encoding="utf-8")
    mark = api.mark()
    api.push_command("/reload", user_id=ADMIN, language_code=lang)
    return (await reply(api, ADMIN, since=mark, timeout=60)).params


async def press(api, asked: dict, action: str, *, user_id: int = ADMIN, lang: str = "en") -> str:
    """Press a button of the question ``asked``; the text the message then shows."""
    data = button_data(asked, f"rules:{action}:")
    mark = api.mark()
    api.push_callback(data, user_id=user_id, message=asked, language_code=lang)
    call = await api.wait_for("editMessageText", lambda c: c.params.get("chat_id") == user_id, since=mark,
                              timeout=60)
    return call.params["text"]


async def test_an_upload_that_changes_many_verdicts_waits_for_apply_anyway(bot, rules):
    api, app, guard = bot
    before, content = guard.rules.live.version, rules.read_bytes()
    asked = await upload(api, own_examples_only())
    text = asked["text"]
    assert text.startswith("⚠️") and "is not live yet" in text and before in text
    assert "known scam(s) that would no longer be flagged" in text and "→ no scam" in text
    comparison = guard.rules.pending.comparison  # the count the admin reads is the comparison's, with its samples
    assert f"{len(comparison.changes)} of {comparison.checked} test texts" in text and len(comparison.changes) > 3
    assert text.count("\n• “") == len(comparison.samples()) == 5
    assert [label for row in buttons(asked) for label, _ in row] == ["Apply anyway", "Cancel"]
    # Nothing changed yet: the old rules judge, the file is as it was.
    assert guard.rules.live.version == before and rules.read_bytes() == content
    assert "很可能是诈骗" in await verdict_of(api)

    done = await press(api, asked, "apply")
    assert done.startswith("✅") and guard.rules.live.version != before
    assert rules.read_text(encoding="utf-8") == own_examples_only()
    assert len(list(rules.parent.glob("*.bak"))) == 1
    assert "很可能是诈骗" not in await verdict_of(api)  # what the admin chose, knowingly


async def test_only_the_admin_who_sent_it_can_apply_it(bot, rules):
    api, app, guard = bot
    before = guard.rules.live.version
    asked = await upload(api, common_characters_rule())
    mark = api.mark()
    api.push_callback(button_data(asked, "rules:apply:"), user_id=OTHER_ADMIN, message=asked)
    answer = await api.wait_for("answerCallbackQuery", lambda c: True, since=mark, timeout=15)
    assert answer.params.get("show_alert") and "Only the admin who sent" in answer.params["text"]
    mark = api.mark()
    api.push_callback(button_data(asked, "rules:apply:"), user_id=USER, message=asked)  # not an admin at all
    answer = await api.wait_for("answerCallbackQuery", lambda c: True, since=mark, timeout=15)
    assert not answer.params.get("text")
    assert guard.rules.live.version == before and guard.rules.pending is not None
    assert not api.calls("editMessageText")


async def test_cancel_leaves_everything_as_it_was(bot, rules):
    api, app, guard = bot
    before, content = guard.rules.live.version, rules.read_bytes()
    asked = await upload(api, common_characters_rule(), lang="zh-hans")
    assert "仍然启用" in str(buttons(asked))
    done = await press(api, asked, "cancel", lang="zh-hans")
    assert done.startswith("已取消") and before in done
    assert guard.rules.live.version == before and rules.read_bytes() == content and guard.rules.pending is None
    again = await press(api, asked, "apply", lang="zh-hans")  # the question is gone now
    assert "已经失效" in again and guard.rules.live.version == before


async def test_reload_asks_too_and_cancel_warns_that_the_file_still_holds_it(bot, rules):
    api, app, guard = bot
    before = guard.rules.live.version
    asked = await reload_file(api, rules, common_characters_rule(), lang="zh-hant")
    assert asked["text"].startswith("⚠️") and "不是詐騙 → 詐騙" in asked["text"]
    assert "仍然啟用" in str(buttons(asked))
    done = await press(api, asked, "cancel", lang="zh-hant")
    assert "重新啟動後會不經這次比對直接載入" in done and guard.rules.live.version == before


async def test_a_reload_confirmed_after_the_file_changed_again_is_refused(bot, rules):
    api, app, guard = bot
    before = guard.rules.live.version
    asked = await reload_file(api, rules, common_characters_rule())
    rules.write_text(good_variant("meanwhile"), encoding="utf-8")
    done = await press(api, asked, "apply")
    assert "changed on disk" in done and guard.rules.live.version == before


async def test_a_confirmation_after_the_live_rules_changed_is_refused(bot, rules):
    api, app, guard = bot
    asked = await upload(api, common_characters_rule())
    rules.write_text(good_variant("meanwhile"), encoding="utf-8")
    mark = api.mark()
    api.push_command("/reload", user_id=OTHER_ADMIN)  # another admin reloads a harmless edit meanwhile
    assert (await reply(api, OTHER_ADMIN, since=mark, timeout=60)).params["text"].startswith("✅")
    now = guard.rules.live.version
    done = await press(api, asked, "apply")
    assert "no longer valid" in done or "changed since this comparison" in done
    assert guard.rules.live.version == now


async def test_an_unanswered_question_expires(make_bot, rules, monkeypatch):
    monkeypatch.setattr(rule_changes, "PENDING_SECONDS", 1)
    monkeypatch.setattr(rulebook, "PENDING_SECONDS", 1)
    api, app, guard = await make_bot(rules_path=rules)
    before = guard.rules.live.version
    asked = await upload(api, common_characters_rule())
    mark = api.mark()
    edit = await api.wait_for("editMessageText", lambda c: c.params.get("chat_id") == ADMIN, since=mark, timeout=30)
    assert edit.params["text"].startswith("⌛") and guard.rules.pending is None
    again = await press(api, asked, "apply")
    assert "no longer valid" in again and guard.rules.live.version == before


async def test_a_small_change_goes_live_with_its_report(bot, rules):
    api, app, guard = bot
    asked = await upload(api, good_variant("harmless"))
    text = asked["text"]
    assert text.startswith("✅") and "none changes" in text and not buttons(asked)


async def test_sighup_and_the_watch_refuse_it_unless_its_content_was_approved(bot, rules, caplog, capsys):
    api, app, guard = bot
    admin = app.bot_data["admin"]
    before = guard.rules.live.version
    rules.write_text(common_characters_rule(), encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        loaded, _, error = await admin.reload_rules("SIGHUP")
    assert loaded is None and guard.rules.live.version == before and guard.rules.pending is None
    held = [r.getMessage() for r in caplog.records if "held back" in r.getMessage()]
    assert len(held) == 1 and "callguard rules apply --force" in held[0] and "no scam → scam: " in held[0]

    # The admin's way out without Telegram: check it, then apply it with --force.
    new = rules.with_name("next.yaml")
    new.write_text(common_characters_rule(), encoding="utf-8")
    rules.write_text(good_variant("reset"), encoding="utf-8")
    assert cli(["rules", "check", str(new), "--live", str(rules)]) == 3
    assert cli(["rules", "apply", str(new), "--live", str(rules)]) == 3  # refused without --force
    assert rules.read_text(encoding="utf-8") == good_variant("reset")
    assert cli(["rules", "apply", str(new), "--live", str(rules), "--force"]) == 0
    out = capsys.readouterr()
    assert "get a different verdict" in out.out and "installed as" in out.err
    assert await admin.check_rule_file()  # the file watch's check: the file changed, so it reloads
    assert guard.rules.live.version == rulebook._digest(new.read_bytes())
    assert rulebook.approved(rules, new.read_bytes())


async def test_the_cli_check_of_a_harmless_edit_passes(rules, tmp_path, capsys):
    new = tmp_path / "next.yaml"
    new.write_text(good_variant("cli"), encoding="utf-8")
    assert cli(["rules", "check", str(new), "--live", str(rules)]) == 0
    assert "none changes" in capsys.readouterr().out
    new.write_text("rules: [", encoding="utf-8")
    assert cli(["rules", "check", str(new), "--live", str(rules)]) == 1
    assert re.search(r"next\.yaml:\d+: invalid YAML", capsys.readouterr().out)
