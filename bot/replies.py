"""What the user reads, in their language, for a Verdict and for each command.

Written for a worried, often older person on a phone. The verdict comes
first, in plain words, then what gave the scam away, then the few steps to
take now. Three rules shape every reply:

* **Never a false all-clear.** When no known pattern matched, the reply says
  what was checked and that it found nothing it knows, asks the one or two
  questions that decide it, and keeps the emergency button. No tick, no
  "safe". A bare link, a bare number and a one-line question each get their
  own answer: what we know, how to check it, what to send us next.
* **Help for the user's region.** Numbers and agencies come from the rule
  file's ``regions:`` block (see :mod:`callguard.detect.regions`); a step that
  names something the user's region does not have is left out.
* **Only what fits.** The regulator's warning and its source line are shown
  for fake-authority and telecom stories only; the advice is the fired rule's.

Texts about scams come from the rule file (admins keep them); texts about the
bot itself come from :mod:`callguard.i18n`. Every function takes ``html``: the
Telegram bot sends HTML (dynamic parts escaped), the console prints plain
text. No reply exceeds Telegram's 4,096 characters.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Sequence

from . import i18n
from .detect import RuleSet, Verdict
from .detect.normalize import fold
from .detect.regions import Region, fill, fill_steps
from .i18n import LANGUAGES, MAX_MESSAGE

__all__ = ["LANGUAGES", "MAX_MESSAGE", "ui", "region_values", "verdict_reply", "emergency_reply",
           "family_warning", "message_kind", "shows_regulator_warning"]

MAX_EVIDENCE = 3
MAX_EVIDENCE_CHARS = 40
MAX_STEPS = 3
# The category whose stories the regulator's warning is about, and the words that
# make any story a telecom one (normalised: Simplified, lower case, no spaces).
AUTHORITY_CATEGORY = "impersonate_authority"
TELECOM_WORDS = ("通信管理", "通讯管理", "电信管理", "工信部", "电信局", "电信公司", "中国电信", "中国移动",
                 "中国联通", "中华电信", "运营商", "电讯", "电话卡", "手机卡", "sim卡", "号码将被", "号码要被",
                 "停机", "telecom", "communicationsadministration", "phonecompany", "mobileoperator",
                 "networkprovider", "simcard", "numberwillbe", "linewillbe", "ofcom", "fcc")
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'，。]+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|top|xyz|"
                  r"vip|cc|info|site|online|shop|club|app|link|icu|hk|tw|sg|my|uk|us|au|io|me|co)(?:/[^\s，。]*)?",
                  re.IGNORECASE)
_PHONE_CHARS = re.compile(r"[\d\s+\-().]+")
SHORT_CHARS = 12  # normalised characters: shorter than this, a message is "one line" to judge


def ui(key: str, lang: str, *, region: Region | None = None, **fmt: object) -> str:
    """A bot text in ``lang`` (English for an unknown language). ``{police}``
    and ``{scam_line}`` in it come from ``region`` (generic words without one)."""
    lang = i18n.language(lang)
    return i18n.text(f"bot.{key}", lang, **{**region_values(region, lang), **fmt})


def region_values(region: Region | None, lang: str) -> dict[str, str]:
    """The placeholder values of ``region`` in ``lang``; without a region,
    ``police`` and ``scam_line`` in generic words ("the police")."""
    lang = i18n.language(lang)
    if region is not None:
        return region.values(lang)
    return {"police": i18n.text("bot.police.generic", lang), "scam_line": i18n.text("bot.scam_line.generic", lang)}


def _esc(text: str, html: bool) -> str:
    return i18n.escape(text, html)


def _bold(text: str, html: bool) -> str:
    return i18n.bold(text, html)


def _steps(steps: Iterable[str], html: bool) -> str:
    return "\n".join(f"{i}. {_esc(step, html)}" for i, step in enumerate(steps, 1))


def _quote(text: str) -> str:
    """The matched words on one line. A line break inside Chinese text (a phrase wrapped
    over two lines of a screenshot) goes away; elsewhere whitespace becomes one space."""
    text = re.sub(r"(?<=[\u2E80-\uFFEF])\s*\n\s*(?=[\u2E80-\uFFEF])", "", text)
    text = " ".join(text.split())
    if len(text) > MAX_EVIDENCE_CHARS:
        text = text[: MAX_EVIDENCE_CHARS - 1] + "…"
    return f"“{text}”"


def _sep(lang: str) -> str:
    return ": " if lang == "en" else "："


# --------------------------------------------------------------------------- what kind of message


def _compact(text: str) -> str:
    """``text`` folded like the rules' text (Simplified, lower case), without spaces or punctuation."""
    return "".join(fold(text).split())


def message_kind(text: str, numbers: Sequence[str] = ()) -> str:
    """``link``, ``number`` or ``short`` for a message that is little more than
    a link, a phone number or one short line; ``story`` otherwise."""
    if not text:
        return "story"
    if _URL.search(text) and len(_compact(_URL.sub(" ", text))) <= 12:
        return "link"
    if numbers and len(_compact(_PHONE_CHARS.sub(" ", text))) <= 8:
        return "number"
    if "\n" not in text.strip() and len(_compact(text)) < SHORT_CHARS:
        return "short"
    return "story"


def shows_regulator_warning(verdict: Verdict, text: str) -> bool:
    """The regulator's warning (it never phones about frozen numbers or crimes)
    fits fake-authority stories and stories about telecoms only."""
    if verdict.category == AUTHORITY_CATEGORY:
        return True
    norm = _compact(text if text else " ".join(ev.text for ev in verdict.evidence))
    return any(word in norm for word in TELECOM_WORDS)


# --------------------------------------------------------------------------- the verdict


def verdict_reply(
    verdict: Verdict,
    ruleset: RuleSet,
    lang: str,
    *,
    html: bool = True,
    number_counts: Mapping[str, int] | None = None,
    text: str = "",
    region: Region | None = None,
    numbers: Sequence[str] = (),
    picture: str | None = None,
) -> str:
    """The answer to a description of a call.

    ``text`` is what the user wrote (to tell a bare link or number from a story,
    and a telecom story from others); ``numbers`` the phone numbers found in it
    (display form) and ``number_counts`` how often each was reported before.
    ``picture`` (already formatted, see :func:`callguard.ocr.replies.picture_block`)
    quotes what was read from a screenshot; it comes right after the evidence."""
    lang = i18n.language(lang)
    values = region_values(region, lang)
    counts = dict(number_counts or {})
    rule = next((r for r in ruleset.rules if r.id == verdict.rule), None)
    category = ruleset.categories.get(verdict.category or "")
    parts: list[str] = []
    extras: list[str] = []  # dropped first if the reply would be too long

    def rule_text(key: str) -> str | None:
        filled = fill(ruleset.texts[key][lang], values)
        return _esc(filled, html) if filled is not None else None

    def advice() -> list[str]:
        return fill_steps(rule.advice[lang], values)[:MAX_STEPS] if rule is not None else []

    if verdict.scam:
        parts.append(_bold(ui(f"risk.{verdict.risk}", lang), html))
        parts.extend(_type_and_evidence(verdict, category, lang, html))
        parts.append(picture)
        steps = advice()
        if steps:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(steps, html))
        if verdict.risk == "medium":
            parts.append(rule_text("verify"))
        if shows_regulator_warning(verdict, text):
            extras += [rule_text("warning"), rule_text("source")]
    elif category is not None and not category.scam:
        parts.append(_bold(ui("complaint", lang), html))
        parts.append(picture)
        steps = advice()
        if steps:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(steps, html))
    elif verdict.risk == "low":  # not clearly a scam: what looked suspicious, and the two checks that settle it
        parts.append(_bold(ui("risk.low", lang), html))
        parts.extend(_type_and_evidence(verdict, category, lang, html))
        parts.append(picture)
        checks = [ui("low.check1", lang, region=region), ui("low.check2", lang, region=region)]
        parts.append(_bold(ui("low.checks", lang), html) + "\n" + _steps(checks, html))
    else:
        heading, *rest = _no_match(text, lang, html, region, numbers, counts)
        parts.extend([heading, picture, *rest])
        if message_kind(text, numbers) == "number":
            counts = {}  # already said, with the numbers nobody reported
    for number, count in counts.items():
        if count > 0:
            parts.append(_esc(ui("number.seen", lang, number=number, count=count), html))
    return _fit([p for p in parts if p], [e for e in extras if e])


def _no_match(text: str, lang: str, html: bool, region: Region | None, numbers: Sequence[str],
              counts: Mapping[str, int]) -> list[str]:
    """No known pattern matched: say what was checked, never "safe"; ask what decides it."""
    kind = message_kind(text, numbers)
    questions = _bold(ui("ask.title", lang), html) + "\n" + _steps([ui("ask.who", lang), ui("ask.what", lang)], html)
    if kind == "link":
        match = _URL.search(text)
        link = match.group(0) if match else ""
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", link, flags=re.IGNORECASE).split("/")[0]
        return [_bold(ui("link.title", lang), html),
                _esc(ui("link.known", lang, host=host), html),
                _esc(ui("link.check", lang, region=region), html),
                _esc(ui("link.next", lang), html)]
    if kind == "number":
        lines = [_bold(ui("number.title", lang), html)]
        for number in numbers:
            count = counts.get(number, 0)
            key = "number.seen" if count > 0 else "number.unseen"
            lines.append(_esc(ui(key, lang, number=number, count=count), html))
        return lines + [_esc(ui("number.check", lang, region=region), html), _esc(ui("number.next", lang), html)]
    title = "short.title" if kind == "short" else "risk.none"
    return [_bold(ui(title, lang), html), _esc(ui("none.not_safe", lang), html), questions,
            _esc(ui("none.meanwhile", lang, region=region), html)]


def _type_and_evidence(verdict: Verdict, category, lang: str, html: bool) -> list[str]:
    """The scam type and the user's own words that matched, quoted."""
    sep = _sep(lang)
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


# --------------------------------------------------------------------------- emergency and family


def emergency_reply(ruleset: RuleSet, lang: str, *, html: bool = True, region: Region | None = None) -> str:
    """What to do at once when money has already been sent: the region's own
    steps (the rule file's generic ones when the region is unknown), then
    which region they are for and how to change it."""
    lang = i18n.language(lang)
    if region is not None:
        steps = region.emergency[lang]
        where = ui("emergency.region", lang, region=region, name=region.name[lang])
    else:
        steps = fill_steps(ruleset.texts["emergency"][lang], region_values(None, lang))
        where = ui("emergency.no_region", lang)
    return _fit([_bold(ui("emergency.title", lang), html) + "\n" + _steps(steps, html), _esc(where, html)], [])


def family_warning(ruleset: RuleSet, category: str | None, lang: str, *, html: bool = True,
                   region: Region | None = None) -> str:
    """A short text to forward to relatives about this kind of scam."""
    lang = i18n.language(lang)
    cat = ruleset.categories.get(category or "")
    lines = [ui("family.title", lang)]
    if cat is not None and cat.scam:
        how = fill(cat.how[lang], region_values(region, lang))
        lines.append(cat.name[lang] + _sep(lang) + how if how else cat.name[lang])
    lines.append(ui("family.tail", lang, region=region))
    return _esc("\n".join(lines), html)
