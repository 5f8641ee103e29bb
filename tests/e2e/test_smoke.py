async def test_scam_description_gets_verdict(bot_env):
    api, app, guard = bot_env
    api.push_message("有人自称通信管理局，说我的号码要被冻结，让我把钱转到安全账户", user_id=7, language_code="zh-hans")
    call = await api.wait_for("sendMessage", lambda c: c.params["chat_id"] == 7)
    assert "很可能是诈骗" in call.params["text"]
    assert call.params["parse_mode"] == "HTML"
    rows = await guard.writer.store.export_rows(0)
    assert len(rows) == 1 and rows[0]["category"] == "impersonate_authority"
