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

from . import i18n
from .detect import RuleSet
from .detect.regions import fill
from .i18n import LANGUAGES
from .storage import NO_CATEGORY, Stats

__all__ = ["bulletin", "HOT_TOPICS"]

HOT_TOPICS = 3  # scam types described in the "hot topics" section

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")

class _Texts:
    """``T["key"]``: the bulletin's texts in one language (``locales/*.yaml``, ``bulletin``)."""

    def __init__(self, lang: str):
        self.lang = lang

    def __getitem__(self, key: str) -> str:
        return i18n.text(f"bulletin.{key}", self.lang)


def _date(ts: float, lang: str) -> str:
    d = datetime.fromtimestamp(ts, timezone.utc)
    return _Texts(lang)["date"].format(y=d.year, m=d.month, d=d.day, month=_MONTHS[d.month - 1])


def _lower_first(name: str) -> str:
    """"Fake loans" -> "fake loans" inside an English sentence; acronyms stay."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def _warnings(stats: Stats, ruleset: RuleSet, lang: str) -> str:
    """The sentence on warnings people passed on (``Stats.warnings_by_category``), which the
    counts above file under the verdict's own category (usually "no clear scam pattern"):
    how many, and the scam they warned of most. Empty when there were none."""
    known = [(cid, count) for cid, count, _ in stats.warnings_by_category if cid in ruleset.categories]
    if not known:
        return ""
    name = ruleset.categories[known[0][0]].name[lang]
    total = sum(count for _, count, _ in stats.warnings_by_category)
    return _Texts(lang)["warnings"].format(count=total, name=_lower_first(name) if lang == "en" else name)


def bulletin(stats: Stats, ruleset: RuleSet, lang: str = "zh-Hans") -> str:
    """The bulletin for ``stats`` (plain text) in ``lang``.

    Every category with reports in the period is listed with its count and
    percentage, largest first, with reports that matched no scam pattern
    last; then the top three scam types with how they go (the categories'
    ``how`` texts); then the rule file's warning and source line.
    """
    lang = lang if lang in LANGUAGES else "zh-Hans"
    T = _Texts(lang)
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
                   + T["end"] + _warnings(stats, ruleset, lang))
    out += ["", T["s2"]]
    hot = [(cid, count) for cid, count, _ in stats.by_category
           if cid in ruleset.categories and ruleset.categories[cid].scam and count > 0][:HOT_TOPICS]
    if hot:
        for i, (cid, _) in enumerate(hot, 1):
            cat = ruleset.categories[cid]
            out.append(T["hot"].format(i=i, name=cat.name[lang], how=" ".join(cat.how[lang].split())))
    else:
        out.append(T["hot_none"])
    generic = {"police": i18n.text("bot.police.generic", lang), "scam_line": i18n.text("bot.scam_line.generic", lang)}
    warning, source = (fill(ruleset.texts[key][lang], generic) for key in ("warning", "source"))
    out += ["", T["s3"]] + ([warning] if warning else []) + (["", source] if source else [])
    return "\n".join(out)
