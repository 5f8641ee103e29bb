"""The public bulletin: report statistics written like a regulator's notice.

Modelled on section 二 of the Zhejiang telecom service notice (2018 No. 1):
"全年…共受理…共计7075件。其中：…涉及服务质量259件，占52.64%；…；其他13件，
占2.64%。", then the hot topics, then the consumer warning. A pure function of
(:class:`~callguard.storage.Stats`, :class:`~callguard.detect.RuleSet`, language), so the
bot's ``/bulletin`` and ``callguard bulletin`` print the same text, and it is
unit-tested without storage or Telegram.

The text is plain (no HTML): it is meant to be copied into a website, a
newsletter or a chat. Percentages come from :func:`callguard.storage.percentages`
(via ``Stats.by_category``), so the ones printed always add up to 100%.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .detect import LANGUAGES, RuleSet
from .storage import NO_CATEGORY, Stats

__all__ = ["bulletin", "HOT_TOPICS"]

HOT_TOPICS = 3  # scam types described in the "hot topics" section

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

_T = {
    "zh-Hans": {
        "title": "CallGuard 防范电信网络诈骗通报",
        "s1": "一、用户举报情况",
        "s2": "二、诈骗热点",
        "s3": "三、消费提醒",
        "total": "{period}，CallGuard 共收到用户举报 {total} 件。",
        "none": "{period}，CallGuard 没有收到用户举报。",
        "of_these": "其中：",
        "item": "涉及{name}的 {count} 件，占 {pct}%",
        "other": "{name}的 {count} 件，占 {pct}%",
        "sep": "；",
        "end": "。",
        "hot": "{i}. {name}：{how}",
        "hot_none": "这段时间没有诈骗类举报。",
        "period": "{a}至{b}",
        "date": "{y}年{m}月{d}日",
        "other_name": "未发现明显诈骗特征",
    },
    "zh-Hant": {
        "title": "CallGuard 防範電信網絡詐騙通報",
        "s1": "一、用戶舉報情況",
        "s2": "二、詐騙熱點",
        "s3": "三、消費提醒",
        "total": "{period}，CallGuard 共收到用戶舉報 {total} 件。",
        "none": "{period}，CallGuard 沒有收到用戶舉報。",
        "of_these": "其中：",
        "item": "涉及{name}的 {count} 件，佔 {pct}%",
        "other": "{name}的 {count} 件，佔 {pct}%",
        "sep": "；",
        "end": "。",
        "hot": "{i}. {name}：{how}",
        "hot_none": "這段時間沒有詐騙類舉報。",
        "period": "{a}至{b}",
        "date": "{y}年{m}月{d}日",
        "other_name": "未發現明顯詐騙特徵",
    },
    "en": {
        "title": "CallGuard bulletin on phone and online fraud",
        "s1": "1. Reports received",
        "s2": "2. Hot topics",
        "s3": "3. Consumer warning",
        "total": "{period}, CallGuard received {total} reports from the public.",
        "none": "{period}, CallGuard received no reports.",
        "of_these": " Of these, ",
        "item": "{count} concerned {name} ({pct}%)",
        "other": "{count} showed {name} ({pct}%)",
        "sep": "; ",
        "end": ".",
        "hot": "{i}. {name}: {how}",
        "hot_none": "No scam reports in this period.",
        "period": "From {a} to {b}",
        "date": "{d} {month} {y}",
        "other_name": "no clear scam pattern",
    },
}


def _date(ts: float, lang: str) -> str:
    d = datetime.fromtimestamp(ts, timezone.utc)
    return _T[lang]["date"].format(y=d.year, m=d.month, d=d.day, month=_MONTHS[d.month - 1])


def _lower_first(name: str) -> str:
    """"Fake loans" -> "fake loans" inside an English sentence; acronyms stay."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def bulletin(stats: Stats, ruleset: RuleSet, lang: str = "zh-Hans") -> str:
    """The bulletin for ``stats`` (plain text) in ``lang``.

    Every category with reports in the period is listed with its count and
    percentage, largest first, with reports that matched no scam pattern
    last; then the top three scam types with how they go (the categories'
    ``how`` texts); then the rule file's warning and source line.
    """
    lang = lang if lang in LANGUAGES else "zh-Hans"
    T = _T[lang]
    period = T["period"].format(a=_date(stats.since, lang), b=_date(stats.until, lang))
    out = [T["title"], "", T["s1"]]
    if stats.total == 0:
        out.append(T["none"].format(period=period))
    else:
        items = []
        rows = sorted(stats.by_category, key=lambda r: r[0] == NO_CATEGORY)  # stable: count order kept
        for cid, count, pct in rows:
            if cid == NO_CATEGORY:
                items.append(T["other"].format(name=T["other_name"], count=count, pct=f"{pct:.1f}"))
                continue
            cat = ruleset.categories.get(cid)
            name = cat.name[lang] if cat is not None else cid
            if lang == "en":
                name = _lower_first(name)
            items.append(T["item"].format(name=name, count=count, pct=f"{pct:.1f}"))
        if lang == "en" and len(items) > 1:
            items[-1] = "and " + items[-1]
        out.append(T["total"].format(period=period, total=stats.total) + T["of_these"] + T["sep"].join(items)
                   + T["end"])
    out += ["", T["s2"]]
    hot = [(cid, count) for cid, count, _ in stats.by_category
           if cid in ruleset.categories and ruleset.categories[cid].scam and count > 0][:HOT_TOPICS]
    if hot:
        for i, (cid, _) in enumerate(hot, 1):
            cat = ruleset.categories[cid]
            out.append(T["hot"].format(i=i, name=cat.name[lang], how=" ".join(cat.how[lang].split())))
    else:
        out.append(T["hot_none"])
    out += ["", T["s3"], ruleset.texts["warning"][lang], "", ruleset.texts["source"][lang]]
    return "\n".join(out)
