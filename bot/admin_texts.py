"""What admins read: rule-set status, reload results, ``/why``, statistics.

Shared by the Telegram admin commands and the ``callguard`` CLI, so both say
the same thing. Pure functions of plain values (no Telegram, no storage).
Every function takes ``html``: the bot sends HTML with every dynamic part
escaped, the console prints plain text. Nothing returned here exceeds
Telegram's 4096 characters.
"""

from __future__ import annotations

import html as _html
import unicodedata
from datetime import datetime, timezone
from typing import Iterable, Sequence

from .detect import LANGUAGES, Explanation, Problem, RuleSet
from .replies import lookup
from .store import NO_CATEGORY, NO_RULE, Stats

__all__ = ["MAX_MESSAGE", "t", "category_name", "errors_text", "why_text", "stats_text", "fit_lines",
           "split_message", "utc_day", "utc_time"]

MAX_MESSAGE = 4096
MAX_ERRORS = 30  # problems listed in a reload failure; the rest are counted
TOP_RULES = 5  # rules listed by "Wrong" feedback rate

_T: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "rules.info": "当前规则：版本 {version}，{count} 条规则\n文件：{path}\n载入时间：{loaded}（校验和编译用时 {seconds:.2f} 秒）",
        "rules.previous": "可回退到：版本 {version}（{count} 条规则）",
        "rules.no_previous": "没有可回退的上一版。",
        "reload.ok": "✅ 规则已更新：版本 {old} → {new}，{count} 条规则，用时 {seconds:.2f} 秒。",
        "reload.same": "ℹ️ 规则文件没有变化（版本 {version}，{count} 条规则），继续使用当前规则。",
        "reload.failed": "❌ 规则文件未通过校验，没有启用。原来的规则（版本 {version}）继续使用。{n} 个问题：",
        "reload.crashed": "❌ 重新加载时出错：{error}\n原来的规则（版本 {version}）继续使用。",
        "reload.unreadable": "❌ 读取不到规则文件 {path}（{reason}）。{setting}\n原来的规则（版本 {version}）继续使用。",
        "reload.rules_env": "CALLGUARD_RULES 设置为 {value}。",
        "reload.rules_default": "CALLGUARD_RULES 没有设置，这是随 callguard 安装的规则文件。",
        "upload.ok": "✅ 已安装上传的规则文件 {name}：版本 {old} → {new}，{count} 条规则，用时 {seconds:.2f} 秒。\n已保存到 {path}，原文件已在同一目录备份为带时间戳的 .bak 文件。",
        "upload.failed": "❌ 上传的规则文件 {name} 未通过校验，没有保存。原来的规则（版本 {version}）继续使用。{n} 个问题：",
        "upload.too_big": "❌ 文件太大（{size} 字节）：规则文件最大 {limit} MB。没有做任何改动。",
        "upload.download_failed": "❌ 无法下载文件：{error}\n没有做任何改动。",
        "rollback.ok": "↩️ 已回到上一版规则：版本 {old} → {new}，{count} 条规则。\n规则文件已写回版本 {new}{backup}。再发一次 /rollback 可回到版本 {old}。",
        "rollback.backup": "（被替换的文件保存为 {path}）",
        "rollback.failed": "❌ 无法写入规则文件，没有回退，现行规则 {version} 继续使用：{error}",
        "rollback.none": "没有可回退的上一版规则：启动以来规则还没有更新过。",
        "more": "……还有 {n} 条",
        "usage.why": "用法：/why 要分析的文字（也可以回复一条消息发送 /why）",
        "usage.days": "用法：/{command} [天数]，天数为 1 到 {max} 之间的整数，默认 {default}。",
        "usage.bulletin": "用法：/bulletin [天数] [en|zh-Hant]，默认最近 30 天、简体中文。",
        "storage.down": "数据库暂时不可用，请稍后再试。",
        "export.caption": "CallGuard 举报导出：最近 {days} 天（{since} 起）共 {count} 条。不含举报人身份，但包含用户发来的原文，可能有个人信息，请妥善保管。",
        "export.too_big": "导出文件太大（{size} MB），无法通过 Telegram 发送。请在服务器上运行：callguard export --since {since} --out 文件名.csv",
        "why.verdict": "判定",
        "why.scam": "诈骗",
        "why.not_scam": "不是诈骗",
        "why.category": "类型",
        "why.rule": "规则",
        "why.score": "得分",
        "why.thresholds": "阈值",
        "why.normalized": "规范化文本",
        "why.rules": "得分的规则（{n} 条）",
        "why.no_rules": "没有任何规则匹配。",
        "why.requires": "缺少必需的组（{groups}），得分记为 0",
        "why.version": "规则版本",
        "risk.high": "高",
        "risk.medium": "中",
        "risk.low": "低",
        "risk.none": "无",
        "risk": "风险",
        "no_category": "未发现明显诈骗特征",
        "no_rule": "（无规则）",
        "stats.title": "最近 {days} 天（{since} 至 {until}，UTC）共收到 {total} 条举报。",
        "stats.empty": "这段时间没有收到举报。",
        "stats.by_category": "按类型",
        "stats.by_risk": "按风险",
        "stats.numbers": "被举报最多的号码（已打码）",
        "stats.numbers_none": "没有被举报的号码。",
        "stats.times": "{count} 次",
        "stats.feedback": "“判断有误”比例最高的规则",
        "stats.feedback_row": "判断有误 {wrong}/{total}（{rate:.1f}%）",
        "stats.feedback_none": "没有“判断有误”的反馈。",
        "stats.money": "举报时已经转了钱：{count} 条（{pct:.1f}%）",
        "chart.title": "最近 {days} 天每天的举报（按类型）",
        "chart.day": "日期（UTC）",
        "chart.reports": "举报数",
    },
    "zh-Hant": {
        "rules.info": "當前規則：版本 {version}，{count} 條規則\n檔案：{path}\n載入時間：{loaded}（校驗和編譯用時 {seconds:.2f} 秒）",
        "rules.previous": "可回退到：版本 {version}（{count} 條規則）",
        "rules.no_previous": "沒有可回退的上一版。",
        "reload.ok": "✅ 規則已更新：版本 {old} → {new}，{count} 條規則，用時 {seconds:.2f} 秒。",
        "reload.same": "ℹ️ 規則檔案沒有變化（版本 {version}，{count} 條規則），繼續使用當前規則。",
        "reload.failed": "❌ 規則檔案未通過校驗，沒有啟用。原來的規則（版本 {version}）繼續使用。{n} 個問題：",
        "reload.crashed": "❌ 重新載入時出錯：{error}\n原來的規則（版本 {version}）繼續使用。",
        "reload.unreadable": "❌ 讀取不到規則檔案 {path}（{reason}）。{setting}\n原來的規則（版本 {version}）繼續使用。",
        "reload.rules_env": "CALLGUARD_RULES 設定為 {value}。",
        "reload.rules_default": "CALLGUARD_RULES 沒有設定，這是隨 callguard 安裝的規則檔案。",
        "upload.ok": "✅ 已安裝上傳的規則檔案 {name}：版本 {old} → {new}，{count} 條規則，用時 {seconds:.2f} 秒。\n已儲存到 {path}，原檔案已在同一目錄備份為帶時間戳的 .bak 檔案。",
        "upload.failed": "❌ 上傳的規則檔案 {name} 未通過校驗，沒有儲存。原來的規則（版本 {version}）繼續使用。{n} 個問題：",
        "upload.too_big": "❌ 檔案太大（{size} 位元組）：規則檔案最大 {limit} MB。沒有做任何改動。",
        "upload.download_failed": "❌ 無法下載檔案：{error}\n沒有做任何改動。",
        "rollback.ok": "↩️ 已回到上一版規則：版本 {old} → {new}，{count} 條規則。\n規則檔案已寫回版本 {new}{backup}。再發一次 /rollback 可回到版本 {old}。",
        "rollback.backup": "（被替換的檔案保存為 {path}）",
        "rollback.failed": "❌ 無法寫入規則檔案，沒有回退，現行規則 {version} 繼續使用：{error}",
        "rollback.none": "沒有可回退的上一版規則：啟動以來規則還沒有更新過。",
        "more": "……還有 {n} 條",
        "usage.why": "用法：/why 要分析的文字（也可以回覆一則訊息發送 /why）",
        "usage.days": "用法：/{command} [天數]，天數為 1 到 {max} 之間的整數，預設 {default}。",
        "usage.bulletin": "用法：/bulletin [天數] [en|zh-Hant]，預設最近 30 天、簡體中文。",
        "storage.down": "資料庫暫時無法使用，請稍後再試。",
        "export.caption": "CallGuard 舉報匯出：最近 {days} 天（{since} 起）共 {count} 條。不含舉報人身份，但包含用戶發來的原文，可能有個人資料，請妥善保管。",
        "export.too_big": "匯出檔案太大（{size} MB），無法透過 Telegram 發送。請在伺服器上執行：callguard export --since {since} --out 檔名.csv",
        "why.verdict": "判定",
        "why.scam": "詐騙",
        "why.not_scam": "不是詐騙",
        "why.category": "類型",
        "why.rule": "規則",
        "why.score": "得分",
        "why.thresholds": "閾值",
        "why.normalized": "規範化文字",
        "why.rules": "得分的規則（{n} 條）",
        "why.no_rules": "沒有任何規則匹配。",
        "why.requires": "缺少必需的組（{groups}），得分記為 0",
        "why.version": "規則版本",
        "risk.high": "高",
        "risk.medium": "中",
        "risk.low": "低",
        "risk.none": "無",
        "risk": "風險",
        "no_category": "未發現明顯詐騙特徵",
        "no_rule": "（無規則）",
        "stats.title": "最近 {days} 天（{since} 至 {until}，UTC）共收到 {total} 條舉報。",
        "stats.empty": "這段時間沒有收到舉報。",
        "stats.by_category": "按類型",
        "stats.by_risk": "按風險",
        "stats.numbers": "被舉報最多的號碼（已打碼）",
        "stats.numbers_none": "沒有被舉報的號碼。",
        "stats.times": "{count} 次",
        "stats.feedback": "「判斷有誤」比例最高的規則",
        "stats.feedback_row": "判斷有誤 {wrong}/{total}（{rate:.1f}%）",
        "stats.feedback_none": "沒有「判斷有誤」的回饋。",
        "stats.money": "舉報時已經轉了錢：{count} 條（{pct:.1f}%）",
        "chart.title": "最近 {days} 天每天的舉報（按類型）",
        "chart.day": "日期（UTC）",
        "chart.reports": "舉報數",
    },
    "en": {
        "rules.info": "Live rules: version {version}, {count} rules\nFile: {path}\nLoaded: {loaded} (validated and compiled in {seconds:.2f} s)",
        "rules.previous": "Rollback target: version {version} ({count} rules)",
        "rules.no_previous": "No previous version to roll back to.",
        "reload.ok": "✅ Rules updated: version {old} → {new}, {count} rules, took {seconds:.2f} s.",
        "reload.same": "ℹ️ The rule file has not changed (version {version}, {count} rules); the live rules stay.",
        "reload.failed": "❌ The rule file did not pass validation and was not loaded. The old rules (version {version}) keep serving. {n} problem(s):",
        "reload.crashed": "❌ The reload failed: {error}\nThe old rules (version {version}) keep serving.",
        "reload.unreadable": "❌ The bot cannot read the rule file {path} ({reason}). {setting}\nThe old rules (version {version}) keep serving.",
        "reload.rules_env": "CALLGUARD_RULES is set to {value}.",
        "reload.rules_default": "CALLGUARD_RULES is not set: this is the rule file installed with callguard.",
        "upload.ok": "✅ Installed the uploaded rule file {name}: version {old} → {new}, {count} rules, took {seconds:.2f} s.\nSaved to {path}; the previous file is kept beside it as a timestamped .bak file.",
        "upload.failed": "❌ The uploaded rule file {name} did not pass validation and was not saved. The old rules (version {version}) keep serving. {n} problem(s):",
        "upload.too_big": "❌ The file is too large ({size} bytes): a rule file may have at most {limit} MB. Nothing was changed.",
        "upload.download_failed": "❌ Could not download the file: {error}\nNothing was changed.",
        "rollback.ok": "↩️ Back to the previous rules: version {old} → {new}, {count} rules.\nThe rule file holds version {new} again{backup}. Send /rollback again to return to version {old}.",
        "rollback.backup": " (the file it replaced is kept as {path})",
        "rollback.failed": "❌ Could not write the rule file, so nothing was rolled back; rules {version} keep serving: {error}",
        "rollback.none": "There is no previous version to roll back to: the rules have not changed since the start.",
        "more": "… and {n} more",
        "usage.why": "Usage: /why TEXT TO EXPLAIN (or reply /why to a message)",
        "usage.days": "Usage: /{command} [days], a whole number from 1 to {max}; default {default}.",
        "usage.bulletin": "Usage: /bulletin [days] [en|zh-Hant]; default: the last 30 days, Simplified Chinese.",
        "storage.down": "The database is unavailable right now; please try again later.",
        "export.caption": "CallGuard reports export: the last {days} days (since {since}), {count} reports. No reporter identities, but the message texts users sent may contain personal data: keep the file safe.",
        "export.too_big": "The export is too large ({size} MB) to send over Telegram. On the server, run: callguard export --since {since} --out FILE.csv",
        "why.verdict": "Verdict",
        "why.scam": "scam",
        "why.not_scam": "not a scam",
        "why.category": "category",
        "why.rule": "rule",
        "why.score": "score",
        "why.thresholds": "Thresholds",
        "why.normalized": "Normalised text",
        "why.rules": "Rules that scored ({n})",
        "why.no_rules": "No rule matched.",
        "why.requires": "required group missing ({groups}): score counts as 0",
        "why.version": "Rule version",
        "risk.high": "high",
        "risk.medium": "medium",
        "risk.low": "low",
        "risk.none": "none",
        "risk": "risk",
        "no_category": "No clear scam pattern",
        "no_rule": "(no rule)",
        "stats.title": "Last {days} days ({since} to {until}, UTC): {total} reports.",
        "stats.empty": "No reports in this period.",
        "stats.by_category": "By category",
        "stats.by_risk": "By risk",
        "stats.numbers": "Most reported numbers (masked)",
        "stats.numbers_none": "No numbers were reported.",
        "stats.times": "{count}x",
        "stats.feedback": "Rules with the highest \"Wrong\" feedback rate",
        "stats.feedback_row": "wrong {wrong}/{total} ({rate:.1f}%)",
        "stats.feedback_none": "No \"Wrong\" feedback.",
        "stats.money": "Money already sent when reported: {count} ({pct:.1f}%)",
        "chart.title": "Reports per day by category, last {days} days",
        "chart.day": "Day (UTC)",
        "chart.reports": "Reports",
    },
}


def t(key: str, lang: str, **fmt: object) -> str:
    """An admin text in ``lang`` (English for an unknown language)."""
    return lookup(_T, key, lang, **fmt)


def _lang(lang: str) -> str:
    return lang if lang in LANGUAGES else "en"


def _esc(text: object, html: bool) -> str:
    return _html.escape(str(text), quote=False) if html else str(text)


def _b(text: str, html: bool) -> str:
    return f"<b>{_esc(text, html)}</b>" if html else text


def _code(text: str, html: bool) -> str:
    return f"<code>{_esc(text, html)}</code>" if html else text


def utc_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def category_name(ruleset: RuleSet | None, category: str | None, lang: str) -> str:
    """A category's display name; the id when the rule set does not know it."""
    lang = _lang(lang)
    if category is None or category == NO_CATEGORY:
        return t("no_category", lang)
    cat = ruleset.categories.get(category) if ruleset is not None else None
    return cat.name[lang] if cat is not None else category


def _colon(lang: str) -> str:
    return ": " if lang == "en" else "："


# --------------------------------------------------------------------------- length


def fit_lines(head: Sequence[str], lines: Sequence[str], lang: str, limit: int = MAX_MESSAGE) -> str:
    """``head`` then as many whole ``lines`` as fit in ``limit`` characters,
    then "... and N more". Lines are cut whole, so an HTML tag or entity is
    never split."""
    out = "\n".join(head)
    for i, line in enumerate(lines):
        more = "\n" + t("more", lang, n=len(lines) - i)
        if len(out) + 1 + len(line) + (len(more) if i < len(lines) - 1 else 0) > limit:
            out += more
            break
        out += "\n" + line
    return out[:limit]


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Plain text cut into messages of at most ``limit`` characters, at line breaks when possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        parts.append(text)
    return parts


def errors_text(title: str, problems: Sequence[Problem] | str, lang: str, *, html: bool = True) -> str:
    """A reload/upload failure: the title, then ``file:line: message`` lines (escaped), within the limit."""
    lines = [str(p) for p in problems] if not isinstance(problems, str) else problems.splitlines()
    shown = [_esc(line, html) for line in lines[:MAX_ERRORS]]
    if len(lines) > MAX_ERRORS:
        shown.append(_esc(t("more", lang, n=len(lines) - MAX_ERRORS), html))
    # A single enormous line (a YAML error quoting a huge scalar) is shortened, never split mid-entity.
    shown = [line if len(line) <= 1000 else _esc(_html.unescape(line)[:900] + "…", html) for line in shown]
    return fit_lines([_esc(title, html)], shown, lang)


# --------------------------------------------------------------------------- /why


def why_text(explanation: Explanation, ruleset: RuleSet, lang: str, *, html: bool = True) -> str:
    """Everything behind a verdict: every rule that scored, with the phrase
    matched per group and how strongly, the thresholds, and the verdict."""
    lang = _lang(lang)
    c = _colon(lang)
    v = explanation.verdict
    th = explanation.thresholds
    risk = t(f"risk.{v.risk}", lang)
    verdict = [t("why.scam" if v.scam else "why.not_scam", lang), f"{t('risk', lang)} {risk}",
               f"{t('why.score', lang)} {v.score}"]
    if v.category:
        verdict.append(f"{t('why.category', lang)} {category_name(ruleset, v.category, lang)} ({v.category})")
    if v.rule:
        verdict.append(f"{t('why.rule', lang)} {v.rule}")
    norm = explanation.normalized
    shown_norm = norm if len(norm) <= 300 else norm[:299] + "…"
    head = [
        _b(t("why.verdict", lang), html) + c + _esc(" · ".join(verdict), html),
        _b(t("why.thresholds", lang), html) + c + _esc(
            f"{t('risk.high', lang)} ≥{th.high} · {t('risk.medium', lang)} ≥{th.medium} · "
            f"{t('risk.low', lang)} ≥{th.low}", html),
        _b(t("why.normalized", lang), html) + c + _code(shown_norm, html),
        _b(t("why.version", lang), html) + c + _code(ruleset.digest, html),
        "",
    ]
    scores = explanation.scores
    if not scores:
        head.append(_esc(t("why.no_rules", lang), html))
        return fit_lines(head, [], lang)
    head.append(_b(t("why.rules", lang, n=len(scores)), html) + c.rstrip())
    entries: list[str] = []  # one per rule (several lines), so "... and N more" counts rules
    for i, rs in enumerate(scores, 1):
        rule = rs.rule
        cat = category_name(ruleset, rule.category, lang)
        lines = [f"{i}. {_code(rule.id, html)} {_b(str(rs.score), html)} · {_esc(cat, html)}"]
        for hit in rs.hits:
            group = rule.groups[hit.group]
            found = norm[hit.start:hit.end]
            match = f"“{hit.phrase}”"
            if normalized_differs(found, hit.phrase):
                match += f" ≈ “{found}”"
            lines.append("   " + _esc(f"{group.name} ({group.weight:+d}){c}{match} {hit.similarity}%", html))
        if not rs.requires_met:
            lines.append("   " + _esc(t("why.requires", lang, groups=", ".join(rule.requires + rule.requires_all)), html))
        entries.append("\n".join(lines))
    return fit_lines(head, entries, lang)


def normalized_differs(found: str, phrase: str) -> bool:
    """Whether the text actually matched reads differently from the rule's phrase."""
    return "".join(found.split()).lower() != "".join(phrase.split()).lower()


# --------------------------------------------------------------------------- /stats


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _table(rows: Iterable[tuple[str, str, str]], html: bool, lang: str) -> list[str]:
    """Rows of (label, count, extra): aligned columns for the console, bullet lines for Telegram."""
    rows = list(rows)
    if html:
        return ["• " + _esc(label, True) + _colon(lang) + _esc(" ".join(x for x in (count, extra) if x), True)
                for label, count, extra in rows]
    wl = max((_width(r[0]) for r in rows), default=0)
    wc = max((len(r[1]) for r in rows), default=0)
    return [f"  {label}{' ' * (wl - _width(label))}  {count.rjust(wc)}  {extra}".rstrip()
            for label, count, extra in rows]


def stats_text(stats: Stats, ruleset: RuleSet | None, lang: str, *, days: int, html: bool = True) -> str:
    """The ``/stats`` report (and ``callguard stats``): categories, risks,
    numbers, worst rules by "Wrong" feedback, money already sent."""
    lang = _lang(lang)
    c = _colon(lang)
    out = [_esc(t("stats.title", lang, days=days, since=utc_day(stats.since), until=utc_day(stats.until),
                  total=stats.total), html)]
    if stats.total == 0:
        out.append(_esc(t("stats.empty", lang), html))
    else:
        pct = 100.0 * stats.money_sent / stats.total
        out.append(_esc(t("stats.money", lang, count=stats.money_sent, pct=pct), html))
        out += ["", _b(t("stats.by_category", lang), html) + c.rstrip()]
        out += _table(((f"{category_name(ruleset, cat, lang)}", str(n), f"{p:.1f}%")
                       for cat, n, p in stats.by_category), html, lang)
        order = {"high": 0, "medium": 1, "low": 2, "none": 3}
        out += ["", _b(t("stats.by_risk", lang), html) + c.rstrip()]
        out += _table(((t(f"risk.{risk}", lang) if risk in order else risk, str(n), f"{p:.1f}%")
                       for risk, n, p in sorted(stats.by_risk, key=lambda r: order.get(r[0], 9))), html, lang)
    out += ["", _b(t("stats.numbers", lang), html) + c.rstrip()]
    if stats.top_numbers:
        out += _table(((number, t("stats.times", lang, count=n), "") for number, n in stats.top_numbers), html, lang)
    else:
        out.append(_esc(t("stats.numbers_none", lang), html))
    out += ["", _b(t("stats.feedback", lang), html) + c.rstrip()]
    worst = [r for r in stats.rules_feedback if r[2] > 0][:TOP_RULES]
    if worst:
        out += _table(((t("no_rule", lang) if rule == NO_RULE else rule, "",
                        t("stats.feedback_row", lang, wrong=w, total=h + w, rate=100.0 * rate))
                       for rule, h, w, rate in worst), html, lang)
    else:
        out.append(_esc(t("stats.feedback_none", lang), html))
    return fit_lines(out[:1], out[1:], lang)
