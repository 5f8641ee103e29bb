"""Admin commands end to end: the real bot, the fake Bot API, a real SQLite file.

Every test works on its own copy of the rule file (reloads and uploads write it).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
import os
import re
import signal
import threading
import time

import pytest

from callguard import rulebook
from callguard.admin_texts import t
from callguard.replies import ui
from callguard.storage import DAY, EXPORT_COLUMNS, Report, SQLiteStore
from callguard.telegram import admin as admin_module
from callguard.telegram.admin import ADMIN_COMMANDS
from tests.admin_support import (ADMIN, USER, Gate, bad_yaml, copy_rules, failing_example, good_variant,
                                 schema_error)
from tests.e2e.helpers import SCAM_EN, SCAM_HANS, db_rows, eventually, idle, reply

OTHER = 8
ERROR_LINE = re.compile(r"scam_patterns\.yaml:\d+: |rules\.yaml:\d+: ")


@pytest.fixture
def rules(tmp_path):
    return copy_rules(tmp_path / "rules")


@pytest.fixture
async def admin_bot(make_bot, rules):
    return await make_bot(rules_path=rules)


def versions(settings_db) -> list[str]:
    return [r["ruleset_version"] for r in db_rows(settings_db)]


async def admin_says(api, command: str, *, since: int | None = None, timeout: float = 15.0, **kwargs) -> str:
    mark = api.mark() if since is None else since
    api.push_command(command, user_id=ADMIN, **kwargs)
    call = await reply(api, ADMIN, since=mark, timeout=timeout)
    return call.params["text"]


async def user_verdict(api, text: str = SCAM_HANS, user_id: int = USER) -> str:
    mark = api.mark()
    api.push_message(text, user_id=user_id, language_code="zh-hans")
    return (await reply(api, user_id, since=mark)).params["text"]


# --------------------------------------------------------------------------- /reload


@pytest.mark.parametrize("variant, ok", [(good_variant, True), (bad_yaml, False), (schema_error, False),
                                         (failing_example, False)],
                         ids=["good", "bad-yaml", "schema-error", "failing-example"])
async def test_reload_serves_users_during_and_keeps_old_rules_on_failure(admin_bot, rules, monkeypatch, variant, ok):
    api, app, guard = admin_bot
    before = guard.rules.live.version
    assert "很可能是诈骗" in await user_verdict(api)  # judged by the old rules

    rules.write_text(variant(), encoding="utf-8")
    gate = Gate(guard.rules.builder.check)  # hold the reload while the worker process checks the file
    monkeypatch.setattr(guard.rules.builder, "check", gate)
    mark = api.mark()
    api.push_command("/reload", user_id=ADMIN)
    assert await asyncio.to_thread(gate.entered.wait, 10)

    # A user message DURING the reload: answered at once, with a correct verdict, by the old rules.
    assert "很可能是诈骗" in await user_verdict(api)
    assert not [c for c in api.requests[mark:] if c.method == "sendMessage" and c.params["chat_id"] == ADMIN]
    assert guard.rules.live.version == before

    gate.release()
    answer = (await reply(api, ADMIN, since=mark, timeout=30)).params["text"]
    after = guard.rules.live.version
    assert "很可能是诈骗" in await user_verdict(api)  # and after it
    db = guard.settings.db_path
    if ok:
        assert after != before
        assert answer.startswith("✅") and before in answer and after in answer
        assert f"{guard.rules.live.rule_count} rules" in answer
        assert versions(db) == [before, before, after]  # each report keeps the version that judged it
    else:
        assert after == before
        assert answer.startswith("❌") and f"(version {before}) keep serving" in answer
        assert ERROR_LINE.search(answer), answer
        assert versions(db) == [before, before, before]
    assert len(answer) <= 4096


async def test_reload_errors_in_chinese_and_html_escaped(admin_bot, rules):
    api, app, guard = admin_bot
    rules.write_text(schema_error().replace("no_such_category", "<b>&no_such"), encoding="utf-8")
    mark = api.mark()
    api.push_command("/reload", user_id=ADMIN, language_code="zh-hans")
    call = await reply(api, ADMIN, since=mark, timeout=30)
    assert call.params["parse_mode"] == "HTML"
    assert "未通过校验" in call.params["text"] and "继续使用" in call.params["text"]
    assert "&lt;b&gt;&amp;no_such" in call.params["text"]  # the file's text is escaped, not markup


async def test_reload_error_list_is_cut_to_one_telegram_message(admin_bot, rules):
    import yaml

    api, app, guard = admin_bot
    doc = yaml.safe_load(rules.read_text(encoding="utf-8"))
    template = doc["rules"][0]
    doc["rules"] = [dict(template, id=f"broken-{i:04d}", category=f"nope_{'x' * 60}_{i}") for i in range(400)]
    rules.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")
    text = await admin_says(api, "/reload", timeout=30)
    assert len(text) <= 4096 and "more" in text
    assert guard.rules.live.rule_count > 0


async def test_reload_of_an_unchanged_file_says_so(admin_bot):
    api, app, guard = admin_bot
    live = guard.rules.live
    text = await admin_says(api, "/reload")
    assert "has not changed" in text and guard.rules.live is live


async def test_reload_of_a_missing_file_keeps_the_rules(admin_bot, rules, monkeypatch):
    api, app, guard = admin_bot
    monkeypatch.setenv("CALLGUARD_RULES", str(rules))  # as the bot was started
    before = guard.rules.live.version
    rules.unlink()
    text = await admin_says(api, "/reload")
    assert text.startswith("❌") and f"cannot read the rule file {rules} (No such file or directory)" in text
    assert f"CALLGUARD_RULES is set to {rules}." in text and "validation" not in text  # not "a file with errors"
    assert guard.rules.live.version == before
    text = await admin_says(api, "/reload", language_code="zh-hant")
    assert f"讀取不到規則檔案 {rules}" in text and "CALLGUARD_RULES 設定為" in text


# --------------------------------------------------------------------------- /rules and /rollback


async def test_rules_then_rollback_then_rollback_again(admin_bot, rules):
    api, app, guard = admin_bot
    first = guard.rules.live.version
    text = await admin_says(api, "/rollback")
    assert "no previous version" in text and guard.rules.live.version == first
    text = await admin_says(api, "/rules")
    assert first in text and str(rules) in text and "No previous version" in text
    assert f"{guard.rules.live.rule_count} rules" in text

    rules.write_text(good_variant(), encoding="utf-8")
    await admin_says(api, "/reload", timeout=30)
    second = guard.rules.live.version
    assert second != first
    text = await admin_says(api, "/rules")
    assert second in text and f"Rollback target: version {first}" in text

    text = await admin_says(api, "/rollback")
    assert guard.rules.live.version == first
    assert f"{second} → {first}" in text and f"The rule file holds version {first} again" in text
    backups = sorted(rules.parent.glob(f"{rules.name}.*.bak"))
    assert len(backups) == 1 and backups[0].name in text
    assert backups[0].read_text(encoding="utf-8") == good_variant()  # the rolled-back file is kept
    assert hashlib.sha256(rules.read_bytes()).hexdigest()[:12] == first  # a restart serves the same rules
    await user_verdict(api)
    assert versions(guard.settings.db_path) == [first]

    text = await admin_says(api, "/rollback", language_code="zh-hans")
    assert guard.rules.live.version == second and "已回到上一版规则" in text


async def test_rollback_that_cannot_write_the_file_keeps_the_live_rules(admin_bot, rules, monkeypatch):
    api, app, guard = admin_bot
    rules.write_text(good_variant(), encoding="utf-8")
    await admin_says(api, "/reload", timeout=30)
    second = guard.rules.live.version

    def refuse(path, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(rulebook, "save_with_backup", refuse)
    text = await admin_says(api, "/rollback")
    assert "Could not write the rule file" in text and "Permission denied" in text and second in text
    assert guard.rules.live.version == second


# --------------------------------------------------------------------------- rule file upload


async def test_upload_of_good_rules_installs_them_with_a_backup(admin_bot, rules):
    api, app, guard = admin_bot
    before = guard.rules.live.version
    old_content = rules.read_bytes()
    new_content = good_variant("uploaded").encode()
    mark = api.mark()
    api.push_document("new_rules.yaml", new_content, user_id=ADMIN)
    text = (await reply(api, ADMIN, since=mark, timeout=30)).params["text"]
    assert text.startswith("✅") and "new_rules.yaml" in text
    assert guard.rules.live.version != before and guard.rules.live.version in text
    assert rules.read_bytes() == new_content
    backups = list(rules.parent.glob("scam_patterns.yaml.*.bak"))
    assert len(backups) == 1 and backups[0].read_bytes() == old_content
    assert "很可能是诈骗" in await user_verdict(api)
    assert versions(guard.settings.db_path) == [guard.rules.live.version]


@pytest.mark.parametrize("variant", [bad_yaml, schema_error, failing_example])
async def test_upload_of_bad_rules_changes_nothing(admin_bot, rules, variant):
    api, app, guard = admin_bot
    before = guard.rules.live.version
    old_content = rules.read_bytes()
    mark = api.mark()
    api.push_document("rules.yml", variant().encode(), user_id=ADMIN, language_code="zh-hans")
    text = (await reply(api, ADMIN, since=mark, timeout=30)).params["text"]
    assert text.startswith("❌") and "没有保存" in text and re.search(r"rules\.yml:\d+: ", text)
    assert guard.rules.live.version == before
    assert rules.read_bytes() == old_content
    assert not list(rules.parent.glob("*.bak"))
    assert "很可能是诈骗" in await user_verdict(api)


async def test_upload_during_which_users_are_answered(admin_bot, rules, monkeypatch):
    api, app, guard = admin_bot
    gate = Gate(guard.rules.builder.check)
    monkeypatch.setattr(guard.rules.builder, "check", gate)
    mark = api.mark()
    api.push_document("rules.yaml", good_variant().encode(), user_id=ADMIN)
    assert await asyncio.to_thread(gate.entered.wait, 10)
    assert "很可能是诈骗" in await user_verdict(api)
    gate.release()
    text = (await reply(api, ADMIN, since=mark, timeout=30)).params["text"]
    assert text.startswith("✅")


async def test_documents_that_are_not_admin_rule_files_go_to_the_user_handlers(admin_bot, rules):
    api, app, guard = admin_bot
    content = rules.read_bytes()
    need_words = ui("need_words", "en")
    for user_id, name in ((USER, "rules.yaml"), (ADMIN, "notes.txt")):
        mark = api.mark()
        api.push_document(name, good_variant().encode(), user_id=user_id)
        assert (await reply(api, user_id, since=mark)).params["text"] == need_words
    assert rules.read_bytes() == content and not api.calls("getFile")


async def test_upload_too_large_is_refused_before_download(admin_bot, rules, monkeypatch):
    api, app, guard = admin_bot
    monkeypatch.setattr(admin_module, "MAX_FILE_BYTES", 100)
    mark = api.mark()
    api.push_document("rules.yaml", good_variant().encode(), user_id=ADMIN)
    text = (await reply(api, ADMIN, since=mark)).params["text"]
    assert "too large" in text and not api.calls("getFile")


# --------------------------------------------------------------------------- who may use them


NON_ADMIN_ATTEMPTS = {
    "reload": "/reload", "rules": "/rules", "rollback": "/rollback", "why": f"/why {SCAM_HANS}",
    "stats": "/stats 7", "bulletin": "/bulletin 30 en", "export": "/export",
}


def test_every_admin_command_is_tried_by_a_non_admin():
    assert set(NON_ADMIN_ATTEMPTS) == set(ADMIN_COMMANDS)


@pytest.mark.parametrize("command", sorted(NON_ADMIN_ATTEMPTS))
@pytest.mark.parametrize("language_code, lang", [("en", "en"), ("zh-hant", "zh-Hant")])
async def test_non_admin_gets_the_unknown_command_reply_and_is_logged(admin_bot, rules, caplog, command,
                                                                      language_code, lang):
    api, app, guard = admin_bot
    live = guard.rules.live
    rules.write_text(good_variant(), encoding="utf-8")  # a /reload that got through would change the version
    mark = api.mark()
    api.push_command("/nosuchcommand", user_id=USER, language_code=language_code)
    unknown = (await reply(api, USER, since=mark)).params
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="callguard.telegram.admin"):
        mark = api.mark()
        api.push_command(NON_ADMIN_ATTEMPTS[command], user_id=USER, language_code=language_code)
        answer = (await reply(api, USER, since=mark)).params
        await idle(api, app)
    assert answer["text"] == unknown["text"] == ui("unknown_command", lang)
    assert {k: v for k, v in answer.items() if k != "reply_parameters"} == \
        {k: v for k, v in unknown.items() if k != "reply_parameters"}
    assert [c.method for c in api.requests[mark:] if c.method != "getUpdates"] == ["sendMessage"]
    assert guard.rules.live is live
    refused = [r for r in caplog.records if r.levelno == logging.WARNING and "non-admin" in r.getMessage()]
    assert len(refused) == 1 and f"/{command}" in refused[0].getMessage()
    assert guard.user_tag(USER) in refused[0].getMessage() and not raw_id_in(USER, refused[0].getMessage())


async def test_admin_commands_stay_silent_in_groups(admin_bot, caplog):
    api, app, guard = admin_bot
    with caplog.at_level(logging.WARNING, logger="callguard.telegram.admin"):
        mark = api.mark()
        api.push_command("/stats", user_id=USER, chat_id=-100, chat_type="group")
        api.push_command("/stats", user_id=ADMIN, chat_id=-100, chat_type="group")
        await idle(api, app)
    assert not [c for c in api.requests[mark:] if c.method.startswith("send")]
    assert any("non-admin" in r.getMessage() and guard.user_tag(USER) in r.getMessage() for r in caplog.records)


def raw_id_in(user_id: int, text: str) -> bool:
    """Whether ``text`` names ``user_id`` the way the log did ("user 1001", "admin 42", "(chat 42)")."""
    return re.search(rf"(?:user|admin|by|from|chat)\W+{user_id}(?!\w)", text) is not None


async def test_logs_name_users_by_a_keyed_hash_never_their_telegram_id(admin_bot, caplog):
    """Issue 12, item 11: "refused admin command ... from non-admin user 1001" put raw
    Telegram ids in the log. Every log line now names users by a keyed hash."""
    api, app, guard = admin_bot
    stranger, someone = 1001, 987654321
    with caplog.at_level(logging.DEBUG, logger="callguard"):
        for command in ("/stats", "/rules", "/reload"):
            await admin_says(api, command)
        await export_rows(api, "/export")
        for user_id, command in ((stranger, "/stats"), (someone, "/export")):
            mark = api.mark()
            api.push_command(command, user_id=user_id)
            await reply(api, user_id, since=mark)
        api.push_command("/stats", user_id=stranger, chat_id=-100, chat_type="group")
        await idle(api, app)
    text = "\n".join(r.getMessage() for r in caplog.records)
    for user_id in (stranger, ADMIN, someone):
        assert guard.user_tag(user_id) in text
        assert not raw_id_in(user_id, text), [line for line in text.splitlines() if str(user_id) in line]
    assert "1001" not in text and "987654321" not in text
    assert guard.user_tag(stranger) != guard.user_tag(someone)


async def test_nobody_is_admin_without_admins(make_bot, rules):
    api, app, guard = await make_bot(rules_path=rules, admins=frozenset())
    mark = api.mark()
    api.push_command("/rules", user_id=ADMIN)
    assert (await reply(api, ADMIN, since=mark)).params["text"] == ui("unknown_command", "en")
    mark = api.mark()
    api.push_document("rules.yaml", good_variant().encode(), user_id=ADMIN)
    assert (await reply(api, ADMIN, since=mark)).params["text"] == ui("need_words", "en")


# --------------------------------------------------------------------------- /why


async def test_why_shows_every_scoring_rule_thresholds_and_verdict(admin_bot):
    api, app, guard = admin_bot
    mark = api.mark()
    api.push_command(f"/why {SCAM_HANS}", user_id=ADMIN)
    call = await reply(api, ADMIN, since=mark)
    text, explanation = call.params["text"], guard.detector.explain(SCAM_HANS)
    assert call.params["parse_mode"] == "HTML" and len(text) <= 4096
    th = explanation.thresholds
    assert f"high ≥{th.high}" in text and f"medium ≥{th.medium}" in text and f"low ≥{th.low}" in text
    assert "Verdict" in text and f"score {explanation.verdict.score}" in text
    assert explanation.verdict.rule in text
    # Rules in the order of their scores, each with every hit, until the message is full;
    # the rest are counted (a long message still fits Telegram's 4,096 characters).
    scores = list(explanation.scores)
    shown = [s for s in scores if f"<code>{s.rule.id}</code>" in text]
    assert shown == scores[:len(shown)] and any(s.score for s in shown) and shown[0].rule.id == explanation.verdict.rule
    assert all(s.score == 0 for s in scores[len(shown):])
    assert len(shown) == len(scores) or f"… and {len(scores) - len(shown)} more" in text
    for score in shown:
        for hit in score.hits:
            assert f"{hit.similarity}%" in text and score.rule.groups[hit.group].name in text


async def test_why_without_text_explains_usage_and_works_as_a_reply(admin_bot):
    api, app, guard = admin_bot
    text = await admin_says(api, "/why")
    assert text == t("usage.why", "en")
    mark = api.mark()
    original = api.push_message(SCAM_EN, user_id=ADMIN)
    await reply(api, ADMIN, since=mark)  # the admin gets the user verdict like anyone
    mark = api.mark()
    api.push_command("/why", user_id=ADMIN, reply_to=original["message"]["message_id"])
    text = (await reply(api, ADMIN, since=mark)).params["text"]
    assert guard.detector.check(SCAM_EN).rule in text


async def test_why_of_a_huge_text_fits_one_message(admin_bot):
    api, app, guard = admin_bot
    text = await admin_says(api, "/why " + (SCAM_HANS + " <&> ") * 150)
    assert len(text) <= 4096


# --------------------------------------------------------------------------- statistics


NUMBER = "+8613800138000"


async def seed(store: SQLiteStore, now: float) -> dict[str, int]:
    """10 reports in the last 30 days (5/3/2 by category), 1 older; returns ids by label."""
    def report(category, rule, *, risk="high", days_ago=1.0, numbers=(), money=None, lang="zh-Hans"):
        return Report(text=f"{category} text", lang=lang, numbers=numbers, scam=category != "telecom_complaint",
                      risk=risk, category=category, rule=rule, score=80, ruleset_version="v-seed",
                      chat_type="private", money_sent=money, created_at=now - days_ago * DAY)

    ids = {}
    for i in range(5):
        ids[f"auth{i}"] = await store.add_report(
            report("impersonate_authority", "auth-rule", numbers=(NUMBER,) if i < 3 else (), money=i == 0,
                   days_ago=1 + i), user_id=100 + i)
    for i in range(3):
        ids[f"cs{i}"] = await store.add_report(
            report("impersonate_customer_service", "cs-rule", risk="medium", days_ago=2 + i), user_id=200 + i)
    for i in range(2):
        ids[f"loan{i}"] = await store.add_report(report("fake_loan", "loan-rule", money=i == 0, days_ago=3),
                                                 user_id=300 + i)
    ids["old"] = await store.add_report(report("fake_job", "job-rule", days_ago=45), user_id=400)
    await store.set_feedback(ids["cs0"], 900, "wrong")
    await store.set_feedback(ids["cs1"], 901, "helpful")
    await store.set_feedback(ids["auth0"], 902, "helpful")
    return ids


def names(guard, lang: str) -> dict[str, str]:
    return {cid: c.name[lang] for cid, c in guard.detector.ruleset.categories.items()}


async def test_stats_on_a_seeded_database(admin_bot):
    api, app, guard = admin_bot
    await seed(guard.writer.store, time.time())
    en, zh = names(guard, "en"), names(guard, "zh-Hans")
    text = await admin_says(api, "/stats")
    assert "Last 30 days" in text and ": 10 reports" in text
    assert f"{en['impersonate_authority']}: 5 50.0%" in text
    assert f"{en['impersonate_customer_service']}: 3 30.0%" in text
    assert f"{en['fake_loan']}: 2 20.0%" in text
    assert "high: 7 70.0%" in text and "medium: 3 30.0%" in text
    assert "+86 138******00: 3x" in text and NUMBER not in text and "13800138000" not in text
    assert "cs-rule: wrong 1/2 (50.0%)" in text and "auth-rule: wrong" not in text
    assert "Money already sent when reported: 2 (20.0%)" in text
    text = await admin_says(api, "/stats 60", language_code="zh-hans")
    assert "最近 60 天" in text and "共收到 11 条举报" in text and f"{zh['fake_job']}：1 9.1%" in text
    text = await admin_says(api, "/stats lots")
    assert text.startswith("Usage: /stats")


async def test_bulletin_on_a_seeded_database(admin_bot):
    api, app, guard = admin_bot
    await seed(guard.writer.store, time.time())
    zh = names(guard, "zh-Hans")
    text = await admin_says(api, "/bulletin")
    assert f"共收到用户举报 10 件。其中：涉及{zh['impersonate_authority']}的 5 件，占 50.0%；" in text
    assert (f"涉及{zh['impersonate_customer_service']}的 3 件，占 30.0%；"
            f"涉及{zh['fake_loan']}的 2 件，占 20.0%。") in text
    rules = guard.detector.ruleset
    assert rules.categories["impersonate_authority"].how["zh-Hans"] in text
    assert rules.texts["warning"]["zh-Hans"] in text and rules.texts["source"]["zh-Hans"] in text
    assert "parse_mode" not in api.sent_messages(ADMIN)[-1]  # plain text, ready to copy
    text = await admin_says(api, "/bulletin 60 en")
    job = names(guard, "en")["fake_job"]
    assert "received 11 reports" in text and f"1 concerned {job[0].lower() + job[1:]} (9.1%)" in text
    assert rules.texts["warning"]["en"] in text
    text = await admin_says(api, "/bulletin zh-Hant")
    assert "佔 50.0%" in text
    text = await admin_says(api, "/bulletin 7 fr")
    assert text.startswith("Usage: /bulletin")


async def export_rows(api, command: str) -> tuple[list[dict], str]:
    mark = api.mark()
    api.push_command(command, user_id=ADMIN)
    call = await reply(api, ADMIN, since=mark, method="sendDocument")
    return list(csv.DictReader(io.StringIO(call.params["document"].content.decode("utf-8-sig")))), \
        call.params["caption"]


async def test_export_masks_phone_numbers_unless_the_admin_asks_and_logs_who_did(admin_bot, caplog):
    """Issue 12, item 11: /export carried full phone numbers while /stats masked them."""
    api, app, guard = admin_bot
    store = guard.writer.store
    await store.add_report(Report(text="刚才 138 0013 8000 打来电话，让我转账5000元", lang="zh-Hans", numbers=(NUMBER,),
                                  scam=True, risk="high", category="phishing", rule="r", score=90,
                                  ruleset_version="v", chat_type="private"), user_id=USER)
    rows, caption = await export_rows(api, "/export")
    assert [(r["numbers"], r["text"]) for r in rows] == [("+86138******00", "刚才 +86 138******00 打来电话，让我转账5000元")]
    assert "/export 30 full" in caption
    with caplog.at_level(logging.INFO, logger="callguard"):
        rows, caption = await export_rows(api, "/export full")
    assert [(r["numbers"], r["text"]) for r in rows] == [(NUMBER, "刚才 138 0013 8000 打来电话，让我转账5000元")]
    assert "Full phone numbers" in caption
    full = [r for r in caplog.records if "WITH FULL PHONE NUMBERS" in r.getMessage()]
    assert len(full) == 1 and full[0].levelno == logging.WARNING
    assert guard.user_tag(ADMIN) in full[0].getMessage() and not raw_id_in(ADMIN, full[0].getMessage())
    assert (await export_rows(api, "/export 7 full"))[0][0]["numbers"] == NUMBER
    assert (await admin_says(api, "/export full full")).startswith("Usage: /export [days] [full]")
    assert (await admin_says(api, "/export all")).startswith("Usage: /export")


async def test_export_sends_a_csv_without_reporter_identities(admin_bot):
    api, app, guard = admin_bot
    ids = await seed(guard.writer.store, time.time())
    mark = api.mark()
    api.push_command("/export", user_id=ADMIN)
    call = await reply(api, ADMIN, since=mark, method="sendDocument")
    upload = call.params["document"]
    assert upload.filename.endswith("-30d.csv")
    assert "10 reports" in call.params["caption"]
    content = upload.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content)))
    assert tuple(rows[0]) == EXPORT_COLUMNS and "reporter" not in rows[0]
    assert len(rows) == 10 and int(rows[0]["id"]) == ids["auth0"]
    assert {r["category"] for r in rows} == {"impersonate_authority", "impersonate_customer_service", "fake_loan"}
    assert [r["feedback"] for r in rows if r["id"] == str(ids["cs0"])] == ["wrong"]
    reporter_keys = {k for (k,) in db_rows(guard.settings.db_path, "SELECT reporter FROM reports")}
    assert not any(key in content for key in reporter_keys)
    mark = api.mark()
    api.push_command("/export 60", user_id=ADMIN)
    call = await reply(api, ADMIN, since=mark, method="sendDocument")
    assert len(list(csv.DictReader(io.StringIO(call.params["document"].content.decode("utf-8-sig"))))) == 11


# --------------------------------------------------------------------------- privacy: /forget and retention


async def test_forget_removes_exactly_that_users_rows(admin_bot):
    api, app, guard = admin_bot
    db = guard.settings.db_path
    for user_id, text in ((USER, SCAM_HANS), (USER, SCAM_EN + " +86 138 0013 8000"), (OTHER, SCAM_HANS)):
        await user_verdict(api, text, user_id=user_id)
    ids = {r["id"]: r["reporter"] for r in db_rows(db)}
    other_report = max(ids)
    await guard.feedback(other_report, USER, "wrong")  # USER's feedback on OTHER's report goes too
    await guard.feedback(other_report, OTHER, "helpful")  # OTHER's own feedback stays
    tally_before = await guard.writer.store.number_counts([NUMBER])

    mark = api.mark()
    api.push_command("/forget", user_id=USER)
    prompt = (await reply(api, USER, since=mark)).params
    assert prompt["text"] == ui("forget.confirm", "en", count=3)
    mark = api.mark()
    api.push_callback("x:y", user_id=USER, message=prompt)
    edit = await api.wait_for("editMessageText", since=mark)
    assert edit.params["text"] == ui("forget.done", "en", count=3)

    rows = db_rows(db)
    assert [r["id"] for r in rows] == [other_report]
    assert [tuple(r) for r in db_rows(db, "SELECT report_id, value FROM feedback")] == [(other_report, "helpful")]
    assert db_rows(db, "SELECT COUNT(*) AS n FROM report_numbers WHERE report_id != ?", (other_report,))[0]["n"] == 0
    assert await guard.writer.store.number_counts([NUMBER]) == tally_before  # numbers stay only as counts

    mark = api.mark()
    api.push_command("/forget", user_id=USER)
    assert (await reply(api, USER, since=mark)).params["text"] == ui("forget.confirm", "en", count=0)


async def test_retention_purge_at_start_and_scheduled_daily(make_bot, settings, rules):
    now = time.time()
    store = await SQLiteStore.open(settings.db_path, secret=settings.secret)
    for days_ago in (40, 31, 29, 1):
        await store.add_report(Report(text=f"{days_ago} days ago", lang="en", numbers=(NUMBER,), scam=True,
                                      risk="high", category="phishing", rule="r", score=90, ruleset_version="v",
                                      chat_type="private", created_at=now - days_ago * DAY),
                               user_id=days_ago)
    await store.close()

    api, app, guard = await make_bot(rules_path=rules, retention_days=30)

    def texts():
        return [r["text"] for r in db_rows(settings.db_path)]

    await eventually(lambda: len(texts()) == 2, what="the purge at start")
    assert texts() == ["29 days ago", "1 days ago"]
    # who reported the number goes with the reports: the two kept reporters remain
    assert (await guard.writer.store.number_counts([NUMBER], days=60))[NUMBER] == 2
    (job,) = app.job_queue.get_jobs_by_name("purge-reports")
    assert job.job.trigger.interval.total_seconds() == 24 * 3600


async def test_purge_without_storage_is_skipped(admin_bot, caplog, monkeypatch):
    api, app, guard = admin_bot
    admin = app.bot_data["admin"]
    monkeypatch.setattr(type(guard.writer), "store", property(lambda self: None))
    with caplog.at_level(logging.WARNING, logger="callguard.telegram.admin"):
        assert await admin.purge() is None
    assert "storage unavailable" in caplog.text
    text = await admin_says(api, "/stats")
    assert text == t("storage.down", "en")


# --------------------------------------------------------------------------- SIGHUP and the file watch


async def test_sighup_handler_reloads_and_logs(admin_bot, rules, caplog):
    api, app, guard = admin_bot
    admin = app.bot_data["admin"]
    before = guard.rules.live.version
    rules.write_text(good_variant(), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="callguard.telegram.admin"):
        admin.on_sighup(app)
        await eventually(lambda: guard.rules.live.version != before, timeout=30, what="the SIGHUP reload")
    assert "rule reload (SIGHUP)" in caplog.text
    rules.write_text(bad_yaml(), encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="callguard.telegram.admin"):
        loaded, _, error = await admin.reload_rules("SIGHUP")
    assert loaded is None and error is not None and "keep serving" in caplog.text
    assert "很可能是诈骗" in await user_verdict(api)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
async def test_a_real_sighup_reaches_the_bot(admin_bot, rules):
    api, app, guard = admin_bot
    admin = app.bot_data["admin"]
    if threading.current_thread() is not threading.main_thread() or admin._sighup_loop is None:
        pytest.skip("the SIGHUP handler is not installed (not the main thread)")
    assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, None)  # safe to send: it is handled
    before = guard.rules.live.version
    rules.write_text(good_variant(), encoding="utf-8")
    os.kill(os.getpid(), signal.SIGHUP)
    await eventually(lambda: guard.rules.live.version != before, timeout=30, what="the reload after SIGHUP")


async def test_sighup_handler_is_removed_at_shutdown(make_bot, rules):
    api, app, guard = await make_bot(rules_path=rules)
    admin = app.bot_data["admin"]
    installed = admin._sighup_loop is not None
    await admin.stop(app)
    assert admin._sighup_loop is None
    if installed:
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_DFL


def write_atomic(path, text: str) -> None:
    """Replace the file in one step (as editors and deploy tools do), so the
    watcher never sees it half-written."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def test_watch_reloads_a_changed_file_and_survives_a_broken_one(make_bot, rules, monkeypatch, caplog):
    monkeypatch.setattr(admin_module, "WATCH_EVERY", 0.1)
    api, app, guard = await make_bot(rules_path=rules, watch_rules=True)
    assert app.job_queue.get_jobs_by_name("watch-rules")
    first = guard.rules.live.version
    write_atomic(rules, good_variant("one"))
    await eventually(lambda: guard.rules.live.version != first, timeout=30, what="the watch reload")
    second = guard.rules.live.version

    with caplog.at_level(logging.WARNING, logger="callguard.telegram.admin"):
        write_atomic(rules, schema_error())
        await eventually(lambda: "refused" in caplog.text, timeout=30, what="the broken file to be noticed")
        await asyncio.sleep(0.5)  # several more polls: the same broken file is not retried
    assert caplog.text.count("refused") == 1
    assert guard.rules.live.version == second
    assert "很可能是诈骗" in await user_verdict(api)

    write_atomic(rules, good_variant("two"))
    await eventually(lambda: guard.rules.live.version not in (first, second), timeout=30, what="the fixed file")


async def test_no_watch_job_unless_asked(admin_bot):
    api, app, guard = admin_bot
    assert not app.job_queue.get_jobs_by_name("watch-rules")
