"""What the user reads, in their language, for a Verdict and for each command.

Written for a worried person on a phone: the answer first, in plain words, then
what gave the scam away, then the few steps to take now. Texts about scams come
from the rule file (admins keep them); texts about the bot itself live here.

Every function takes ``html``: the Telegram bot sends HTML (dynamic parts are
escaped), the console prints plain text. No reply exceeds Telegram's 4096
characters.
"""

from __future__ import annotations

import html as _html
from typing import Iterable, Mapping

from .detect import LANGUAGES, RuleSet, Verdict

__all__ = ["MAX_MESSAGE", "ui", "verdict_reply", "emergency_reply", "family_warning"]

MAX_MESSAGE = 4096
MAX_EVIDENCE = 5
MAX_EVIDENCE_CHARS = 40

_UI: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "evidence.low": "看起来可疑的话",
        "cmd.start": "开始使用",
        "cmd.help": "怎么用",
        "cmd.report": "一步步描述可疑电话",
        "cmd.lang": "切换语言",
        "cmd.privacy": "我们保存什么",
        "cmd.forget": "删除我的记录",
        "cmd.cancel": "取消当前操作",
        "nothing_to_cancel": "现在没有进行中的操作。直接把对方说的话发给我就行。",
        "risk.high": "⚠️ 这很可能是诈骗（风险：高）",
        "risk.medium": "⚠️ 这可能是诈骗（风险：中）",
        "risk.low": "ℹ️ 有些地方可疑，但还不能确定是诈骗",
        "risk.none": "✅ 没有发现常见的诈骗特征",
        "complaint": "ℹ️ 这看起来是电信服务问题，不像诈骗",
        "type": "类型",
        "evidence": "露出破绽的话",
        "steps": "现在就做",
        "none.hint": "不过请记住：只要对方要你转账、要验证码，或自称公检法，就先挂断再核实。",
        "number.seen": "号码 {number} 近30天已被举报过 {count} 次。",
        "welcome": "你好，我是 CallGuard 防骗助手。\n接到可疑电话或短信？用自己的话告诉我对方说了什么，我马上告诉你是不是诈骗、该怎么办。",
        "example": "例如：“有人自称通信管理局，说我的号码要被冻结，让我转到安全账户”",
        "help": "直接把对方说的话或短信内容发给我就行，繁体、简体、英文都可以。\n\n/report 一步步回答几个问题\n/lang 切换语言\n/privacy 我们保存什么\n/forget 删除你的记录\n\n已经转了钱？马上打110，并点回复下方的“我已经转了钱”。",
        "privacy": "我们保存：你发来的描述、其中的电话号码、判断结果和时间，用于统计诈骗趋势、提醒其他人。\n不保存你的 Telegram 账号：只存一个无法反推的加密标识。\n记录保存 {days} 天后自动删除，被举报的号码只保留次数。\n发送 /forget 可随时删除你的全部记录。",
        "lang.pick": "请选择语言：",
        "lang.set": "好的，之后用简体中文回复。",
        "button.sent_money": "🚨 我已经转了钱",
        "button.warn_family": "👪 提醒家人",
        "button.helpful": "👍 有帮助",
        "button.wrong": "👎 判断有误",
        "emergency.title": "🚨 已经转了钱，请马上按顺序做：",
        "family.title": "【防骗提醒】",
        "family.tail": "接到这样的电话，先挂断，再打官方电话或110核实。千万不要转账，也不要告诉对方验证码。",
        "feedback.thanks": "谢谢你的反馈！",
        "feedback.ask": "谢谢！哪里判断错了？可以发一句话告诉我们（可选），或者直接忽略。",
        "feedback.comment_thanks": "收到，谢谢，我们会据此改进。",
        "rate_limited": "你发得有点快，请稍等一分钟再发。如果正在被骗，请马上打110。",
        "error": "抱歉，刚才出了点问题，请再发一次。如果情况紧急，请直接打110。",
        "need_words": "请用文字描述这个电话或短信：对方自称是谁、说了什么、要你做什么。",
        "report.number": "对方的电话号码是多少？（不知道就发“不知道”）\n随时发送 /cancel 结束。",
        "report.who": "对方自称是谁？（例如：警察、客服、通信管理局、你的领导）",
        "report.asked": "对方要你做什么？（例如：转账、说验证码、下载软件）",
        "report.money": "你已经转钱了吗？",
        "report.cancelled": "已取消。需要时随时再来。",
        "yes": "是，已经转了",
        "no": "还没有",
        "forget.confirm": "要删除你的全部 {count} 条记录吗？删除后无法恢复。",
        "forget.yes": "确认删除",
        "forget.no": "取消",
        "forget.done": "已删除 {count} 条记录。",
        "forget.kept": "好的，没有删除任何记录。",
        "unknown_command": "我不认识这个命令。直接把对方说的话发给我就行，或者发送 /help。",
    },
    "zh-Hant": {
        "evidence.low": "看起來可疑的話",
        "cmd.start": "開始使用",
        "cmd.help": "怎麼用",
        "cmd.report": "一步步描述可疑電話",
        "cmd.lang": "切換語言",
        "cmd.privacy": "我們保存什麼",
        "cmd.forget": "刪除我的記錄",
        "cmd.cancel": "取消當前操作",
        "nothing_to_cancel": "現在沒有進行中的操作。直接把對方說的話發給我就行。",
        "risk.high": "⚠️ 這很可能是詐騙（風險：高）",
        "risk.medium": "⚠️ 這可能是詐騙（風險：中）",
        "risk.low": "ℹ️ 有些地方可疑，但還不能確定是詐騙",
        "risk.none": "✅ 沒有發現常見的詐騙特徵",
        "complaint": "ℹ️ 這看起來是電信服務問題，不像詐騙",
        "type": "類型",
        "evidence": "露出破綻的話",
        "steps": "現在就做",
        "none.hint": "不過請記住：只要對方要你轉帳、要驗證碼，或自稱公檢法，就先掛斷再核實。",
        "number.seen": "號碼 {number} 近30天已被舉報過 {count} 次。",
        "welcome": "你好，我是 CallGuard 防騙助手。\n接到可疑電話或短信？用自己的話告訴我對方說了什麼，我馬上告訴你是不是詐騙、該怎麼辦。",
        "example": "例如：「有人自稱通信管理局，說我的號碼要被凍結，讓我轉到安全帳戶」",
        "help": "直接把對方說的話或短信內容發給我就行，繁體、簡體、英文都可以。\n\n/report 一步步回答幾個問題\n/lang 切換語言\n/privacy 我們保存什麼\n/forget 刪除你的記錄\n\n已經轉了錢？馬上打110，並點回覆下方的「我已經轉了錢」。",
        "privacy": "我們保存：你發來的描述、其中的電話號碼、判斷結果和時間，用於統計詐騙趨勢、提醒其他人。\n不保存你的 Telegram 帳號：只存一個無法反推的加密標識。\n記錄保存 {days} 天後自動刪除，被舉報的號碼只保留次數。\n發送 /forget 可隨時刪除你的全部記錄。",
        "lang.pick": "請選擇語言：",
        "lang.set": "好的，之後用繁體中文回覆。",
        "button.sent_money": "🚨 我已經轉了錢",
        "button.warn_family": "👪 提醒家人",
        "button.helpful": "👍 有幫助",
        "button.wrong": "👎 判斷有誤",
        "emergency.title": "🚨 已經轉了錢，請馬上按順序做：",
        "family.title": "【防騙提醒】",
        "family.tail": "接到這樣的電話，先掛斷，再打官方電話或110核實。千萬不要轉帳，也不要告訴對方驗證碼。",
        "feedback.thanks": "謝謝你的回饋！",
        "feedback.ask": "謝謝！哪裡判斷錯了？可以發一句話告訴我們（可選），或者直接忽略。",
        "feedback.comment_thanks": "收到，謝謝，我們會據此改進。",
        "rate_limited": "你發得有點快，請稍等一分鐘再發。如果正在被騙，請馬上打110。",
        "error": "抱歉，剛才出了點問題，請再發一次。如果情況緊急，請直接打110。",
        "need_words": "請用文字描述這個電話或短信：對方自稱是誰、說了什麼、要你做什麼。",
        "report.number": "對方的電話號碼是多少？（不知道就發「不知道」）\n隨時發送 /cancel 結束。",
        "report.who": "對方自稱是誰？（例如：警察、客服、通信管理局、你的領導）",
        "report.asked": "對方要你做什麼？（例如：轉帳、說驗證碼、下載軟件）",
        "report.money": "你已經轉錢了嗎？",
        "report.cancelled": "已取消。需要時隨時再來。",
        "yes": "是，已經轉了",
        "no": "還沒有",
        "forget.confirm": "要刪除你的全部 {count} 條記錄嗎？刪除後無法恢復。",
        "forget.yes": "確認刪除",
        "forget.no": "取消",
        "forget.done": "已刪除 {count} 條記錄。",
        "forget.kept": "好的，沒有刪除任何記錄。",
        "unknown_command": "我不認識這個命令。直接把對方說的話發給我就行，或者發送 /help。",
    },
    "en": {
        "evidence.low": "What looked suspicious",
        "cmd.start": "Start",
        "cmd.help": "How to use CallGuard",
        "cmd.report": "Describe a call step by step",
        "cmd.lang": "Change language",
        "cmd.privacy": "What we keep",
        "cmd.forget": "Delete my records",
        "cmd.cancel": "Cancel what you are doing",
        "nothing_to_cancel": "There is nothing to cancel. Just send me what the caller said.",
        "risk.high": "⚠️ This is very likely a scam (risk: high)",
        "risk.medium": "⚠️ This may well be a scam (risk: medium)",
        "risk.low": "ℹ️ Some things look suspicious, but it is not clearly a scam",
        "risk.none": "✅ No common scam signs found",
        "complaint": "ℹ️ This looks like a telecom service problem, not a scam",
        "type": "Type",
        "evidence": "What gave it away",
        "steps": "Do this now",
        "none.hint": "Still: if a caller asks for money, a verification code, or claims to be police or a court, hang up and check first.",
        "number.seen": "The number {number} has been reported {count} times in the last 30 days.",
        "welcome": "Hello, I'm CallGuard.\nGot a suspicious call or text? Tell me in your own words what they said, and I'll tell you right away whether it's a scam and what to do.",
        "example": "For example: \"Someone from the communications administration said my number will be frozen and I must move money to a safe account\"",
        "help": "Just send me what the caller said, or paste the text message. Chinese (simplified or traditional) and English both work.\n\n/report answer a few questions step by step\n/lang change language\n/privacy what we keep\n/forget delete your records\n\nAlready sent money? Call 110 now and tap \"I already sent money\" under my reply.",
        "privacy": "We keep: your description, the phone numbers in it, our verdict and the time, to track scam trends and warn others.\nWe do not keep your Telegram account: only a one-way encrypted tag.\nRecords are deleted after {days} days; reported numbers are kept only as counts.\nSend /forget at any time to delete all your records.",
        "lang.pick": "Choose a language:",
        "lang.set": "OK, I'll reply in English from now on.",
        "button.sent_money": "🚨 I already sent money",
        "button.warn_family": "👪 Warn my family",
        "button.helpful": "👍 Helpful",
        "button.wrong": "👎 Wrong",
        "emergency.title": "🚨 If you already sent money, do this now, in order:",
        "family.title": "[Scam warning]",
        "family.tail": "If you get a call like this, hang up and call the official number or 110 to check. Never transfer money and never read out a verification code.",
        "feedback.thanks": "Thank you for the feedback!",
        "feedback.ask": "Thanks! What was wrong? You can send one message to tell us (optional), or just ignore this.",
        "feedback.comment_thanks": "Got it, thank you. We will use this to improve.",
        "rate_limited": "You're sending messages very fast; please wait a minute. If you are being scammed right now, call 110.",
        "error": "Sorry, something went wrong. Please send it again. If it is urgent, call 110.",
        "need_words": "Please describe the call or message in words: who they said they were, what they said, what they asked you to do.",
        "report.number": "What number did they call from? (Send \"don't know\" if you don't know.)\nSend /cancel at any time to stop.",
        "report.who": "Who did they say they were? (For example: police, customer service, the communications administration, your boss)",
        "report.asked": "What did they ask you to do? (For example: transfer money, read out a code, install an app)",
        "report.money": "Have you already sent money?",
        "report.cancelled": "Cancelled. Come back any time.",
        "yes": "Yes, I sent money",
        "no": "Not yet",
        "forget.confirm": "Delete all {count} of your records? This cannot be undone.",
        "forget.yes": "Yes, delete",
        "forget.no": "Cancel",
        "forget.done": "Deleted {count} records.",
        "forget.kept": "OK, nothing was deleted.",
        "unknown_command": "I don't know that command. Just send me what the caller said, or send /help.",
    },
}


def lookup(table: Mapping[str, Mapping[str, str]], key: str, lang: str, **fmt: object) -> str:
    """``table[lang][key]`` (English for an unknown language), formatted with ``fmt``."""
    text = table.get(lang, table["en"])[key]
    return text.format(**fmt) if fmt else text


def ui(key: str, lang: str, **fmt: object) -> str:
    """A bot text in ``lang`` (falls back to English for an unknown language)."""
    return lookup(_UI, key, lang, **fmt)


def _esc(text: str, html: bool) -> str:
    return _html.escape(text, quote=False) if html else text


def _bold(text: str, html: bool) -> str:
    return f"<b>{_esc(text, html)}</b>" if html else text


def _steps(steps: Iterable[str], html: bool) -> str:
    return "\n".join(f"{i}. {_esc(step, html)}" for i, step in enumerate(steps, 1))


# Bidirectional-text controls (LRE..RLO, LRI..PDI, LRM, RLM, ALM) in a quoted phrase would
# reorder the rest of our reply on the user's screen (e.g. "safe" shown where the text says
# "scam"); what matched is just as readable without them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def _quote(text: str) -> str:
    text = " ".join(text.translate(_BIDI_CONTROLS).split())
    if len(text) > MAX_EVIDENCE_CHARS:
        text = text[: MAX_EVIDENCE_CHARS - 1] + "…"
    return f"“{text}”"


def verdict_reply(
    verdict: Verdict,
    ruleset: RuleSet,
    lang: str,
    *,
    html: bool = True,
    number_counts: Mapping[str, int] | None = None,
) -> str:
    """The answer to a description of a call: verdict, type, evidence, steps."""
    lang = lang if lang in LANGUAGES else "en"
    texts = ruleset.texts
    rule = next((r for r in ruleset.rules if r.id == verdict.rule), None)
    category = ruleset.categories.get(verdict.category or "")
    parts: list[str] = []
    extras: list[str] = []  # dropped first if the reply would be too long
    if verdict.scam:
        parts.append(_bold(ui(f"risk.{verdict.risk}", lang), html))
        parts.extend(_type_and_evidence(verdict, category, lang, html))
        if rule is not None:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(rule.advice[lang][:4], html))
        if verdict.risk == "medium":
            parts.append(_esc(texts["verify"][lang], html))
        extras.append(_esc(texts["warning"][lang], html))
    elif category is not None and not category.scam:
        parts.append(_bold(ui("complaint", lang), html))
        if rule is not None:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(rule.advice[lang][:4], html))
    else:  # low risk names what looked suspicious, so the person knows what to check
        parts.append(_bold(ui(f"risk.{verdict.risk}", lang), html))
        if verdict.risk == "low":
            parts.extend(_type_and_evidence(verdict, category, lang, html))
        parts.append(_esc(ui("none.hint", lang), html))
        parts.append(_esc(texts["verify"][lang], html))
    for number, count in (number_counts or {}).items():
        if count > 0:
            parts.append(_esc(ui("number.seen", lang, number=number, count=count), html))
    if verdict.scam:
        extras.append(_esc(texts["source"][lang], html))
    return _fit(parts, extras)


def _type_and_evidence(verdict: Verdict, category, lang: str, html: bool) -> list[str]:
    """The scam type and the user's own words that matched, quoted."""
    sep = "：" if lang != "en" else ": "
    lines = []
    if category is not None and category.scam:
        lines.append(_esc(ui("type", lang), html) + sep + _esc(category.name[lang], html))
    quotes: list[str] = []
    for ev in verdict.evidence:
        q = _quote(ev.text)
        if q not in quotes:
            quotes.append(q)
    if quotes:
        label = ui("evidence" if verdict.scam else "evidence.low", lang)
        lines.append(_esc(label, html) + sep + _esc(" ".join(quotes[:MAX_EVIDENCE]), html))
    return lines


def _fit(parts: list[str], extras: list[str]) -> str:
    """Join parts; drop optional extras, then cut, to stay within Telegram's limit."""
    while extras:
        text = "\n\n".join(parts + extras)
        if len(text) <= MAX_MESSAGE:
            return text
        extras.pop()
    text = "\n\n".join(parts)
    while len(text) > MAX_MESSAGE and len(parts) > 1:
        parts.pop()
        text = "\n\n".join(parts)
    return text[:MAX_MESSAGE]


def emergency_reply(ruleset: RuleSet, lang: str, *, html: bool = True) -> str:
    """What to do at once when money has already been sent."""
    lang = lang if lang in LANGUAGES else "en"
    return _bold(ui("emergency.title", lang), html) + "\n" + _steps(ruleset.texts["emergency"][lang], html)


def family_warning(ruleset: RuleSet, category: str | None, lang: str, *, html: bool = True) -> str:
    """A short text to forward to relatives about this kind of scam."""
    lang = lang if lang in LANGUAGES else "en"
    cat = ruleset.categories.get(category or "")
    lines = [ui("family.title", lang)]
    if cat is not None and cat.scam:
        lines.append(f"{cat.name[lang]}：{cat.how[lang]}" if lang != "en" else f"{cat.name[lang]}: {cat.how[lang]}")
    lines.append(ui("family.tail", lang))
    return _esc("\n".join(lines), html)
