"""What the user reads, in their language, for a Verdict and for each command.

Written for a worried, often older person on a phone. The verdict comes
first, in plain words, then what gave the scam away, then the few steps to
take now. These rules shape every reply:

* **Never a false all-clear.** When no known pattern matched, the reply says
  what was checked and that it found nothing it knows, asks the one or two
  questions that decide it, and keeps the emergency button. No tick, no
  "safe". A bare link, a bare number and a one-line question each get their
  own answer: what we know, how to check it, what to send us next.
* **Help for the user's region.** Every warning ends with the region's anti-scam
  line and what to do if money has gone (in English unless the reply would pass
  ``MAX_WORDS_EN`` words; the button says it too). Numbers and agencies come from the rule
  file's ``regions:`` block (see :mod:`callguard.detect.regions`); a step that
  names something the user's region does not have is left out.
* **Said what they did.** Someone who hung up and gave nothing ("didn't give
  them anything", "啥都没给") reads, under the warning, that nothing is lost and
  they did the right thing; a message that also says money or a code was given
  does not (:func:`callguard.detect.paid.gave_nothing`).
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
from .detect.entities import find_entity
from .detect.mentions import mentioned
from .detect.normalize import fold
from .detect.paid import gave_nothing
from .detect.regions import Region, fill, fill_steps
from .i18n import LANGUAGES, MAX_MESSAGE

__all__ = ["LANGUAGES", "MAX_MESSAGE", "ui", "region_values", "verdict_reply", "emergency_reply",
           "family_warning", "help_lines", "message_kind", "shows_regulator_warning"]

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
_PHONE_CHARS = re.compile(r"[\d\s+\-().]+")
SHORT_CHARS = 12  # normalised characters: shorter than this, a message is "one line" to judge
# An English verdict stays under this many words (issue 11: read on a phone, verdict first); the
# regulator's warning and its source line give way first, since the steps above them are what to do.
MAX_WORDS_EN = 120


def ui(key: str, lang: str, *, region: Region | None = None, **fmt: object) -> str:
    """A bot text in ``lang`` (English for an unknown language). ``{police}``
    and ``{scam_line}`` in it come from ``region`` (generic words without one)."""
    lang = i18n.language(lang)
    return i18n.text(f"bot.{key}", lang, **{**region_values(region, lang), **fmt})


def _first_check(category: str | None, lang: str, region: Region | None) -> str:
    """The check that settles a doubtful message of this kind. "Call the official
    number" settles an official's or a company's call; a relative, a seller or an
    online friend is settled another way (call the number you already had, pay
    only inside the platform)."""
    specific = f"low.check1.{category}"
    if category and f"bot.{specific}" in i18n.table(i18n.language(lang)):
        return ui(specific, lang, region=region)
    return ui("low.check1", lang, region=region)


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


# Bidirectional-text controls (LRE..RLO, LRI..PDI, LRM, RLM, ALM) in a quoted phrase would
# reorder the rest of our reply on the user's screen (e.g. "safe" shown where the text says
# "scam"); what matched is just as readable without them.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"))


def _quote(text: str) -> str:
    """The matched words on one line, without bidi controls. A line break inside Chinese text (a
    phrase wrapped over two lines of a screenshot) goes away; elsewhere whitespace becomes one space."""
    text = re.sub(r"(?<=[\u2E80-\uFFEF])\s*\n\s*(?=[\u2E80-\uFFEF])", "", text.translate(_BIDI_CONTROLS))
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


def _links(text: str) -> list[tuple[int, int]]:
    """The links in ``text``, found as the rules' ``{link}`` finds them (short links such as
    bit.ly/… included)."""
    return find_entity(text, "link", {})


def _between(spans: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The parts of a text of ``length`` characters outside ``spans`` (sorted, not overlapping)."""
    edges = [0, *(edge for span in spans for edge in span), length]
    return list(zip(edges[::2], edges[1::2]))


def message_kind(text: str, numbers: Sequence[str] = ()) -> str:
    """``link``, ``number`` or ``short`` for a message that is little more than
    a link, a phone number or one short line; ``story`` otherwise."""
    if not text:
        return "story"
    links = _links(text)
    if links and len(_compact("".join(text[a:b] for a, b in _between(links, len(text))))) <= 12:
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
    _max_steps: int = MAX_STEPS,
) -> str:
    """The answer to a description of a call.

    ``text`` is what the user wrote (to tell a bare link or number from a story,
    and a telecom story from others); ``numbers`` the phone numbers found in it
    (display form) and ``number_counts`` how often each was reported before.
    ``picture`` (already formatted, see :func:`callguard.ocr.replies.picture_block`)
    quotes what was read from a screenshot; it comes right after the evidence.

    An English reply stays under ``MAX_WORDS_EN`` words (the quoted picture aside): the
    regulator's warning and source line give way first, then the rule's third step."""
    lang = i18n.language(lang)
    budget = MAX_WORDS_EN + (len(picture.split()) if picture else 0) if lang == "en" else None
    values = region_values(region, lang)
    counts = dict(number_counts or {})
    story = _story(verdict, ruleset)  # a scam's story worded as a warning, or None
    rule = story or _rule(ruleset, verdict.rule)  # whose advice the reply gives
    category = ruleset.categories.get(verdict.category or "")
    parts: list[str] = []
    extras: list[str] = []  # dropped first if the reply would be too long

    def rule_text(key: str) -> str | None:
        filled = fill(ruleset.texts[key][lang], values)
        return _esc(filled, html) if filled is not None else None

    def advice() -> list[str]:
        return fill_steps(rule.advice[lang], values)[:_max_steps] if rule is not None else []

    if verdict.scam:
        parts.append(_bold(ui(f"risk.{verdict.risk}", lang), html))
        if text and gave_nothing(text):  # "I hung up, gave them nothing": say it was right, keep the rest
            parts.append(_esc(ui("averted", lang), html))
        parts.extend(_type_and_evidence(verdict, category, lang, html, text))
        if verdict.rule is None:  # raised by the learned second opinion alone: no words to quote
            parts.append(_esc(ui("model_only", lang), html))
        parts.append(picture)
        steps = advice()
        if steps:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(steps, html))
        if verdict.risk == "medium":
            parts.append(rule_text("verify"))
        # Dropped after the regulator's warning when an English reply runs long: the button
        # under the reply ("I already sent money") leads to the same steps.
        extras += [_esc(line, html) for line in help_lines(ruleset, lang, region)]
        if shows_regulator_warning(verdict, text):
            extras += [rule_text("warning"), rule_text("source")]
    elif story is not None:
        # Worded as a warning, but the story in it is a scam: say which, and what to do if it is
        # happening to the reader (a parent sent "PSA: <the scam text>"), never "nothing matched".
        story_category = ruleset.categories.get(story.category)
        parts.append(_bold(ui("warns.title", lang), html))
        if story_category is not None:
            how = fill(story_category.how[lang], values)
            parts.append(_esc(ui("type", lang), html) + _sep(lang) + _esc(story_category.name[lang], html)
                         + ("\n" + _esc(how, html) if how else ""))
        parts.append(_esc(ui("warns.body", lang), html))
        parts.append(picture)
        steps = advice()
        if steps:
            parts.append(_bold(ui("warns.steps", lang), html) + "\n" + _steps(steps, html))
        extras += [_esc(line, html) for line in help_lines(ruleset, lang, region)]
    elif category is not None and not category.scam:
        # A service complaint. When scam rules saw something too (risk "low"), it is not called
        # "not a scam", and the check that settles it comes last (a refund "from customer
        # service" reads like a billing complaint).
        unsure = verdict.risk == "low"
        parts.append(_bold(ui("complaint.low" if unsure else "complaint", lang), html))
        parts.append(picture)
        steps = advice()
        if steps:
            parts.append(_bold(ui("steps", lang), html) + "\n" + _steps(steps, html))
        if unsure:
            parts.append(_esc(ui("low.check2", lang, region=region), html))
    elif verdict.risk == "low":  # not clearly a scam: what looked suspicious, and the two checks that settle it
        parts.append(_bold(ui("risk.low", lang), html))
        parts.extend(_type_and_evidence(verdict, category, lang, html, text))
        parts.append(picture)
        checks = [_first_check(verdict.category, lang, region), ui("low.check2", lang, region=region)]
        parts.append(_bold(ui("low.checks", lang), html) + "\n" + _steps(checks, html))
        extras += [_esc(line, html) for line in help_lines(ruleset, lang, region)]
    else:
        heading, *rest = _no_match(text, ruleset, lang, html, region, numbers, counts)
        parts.extend([heading, picture, *rest])
        # Unsure is not safe: the region's line to ask (a link's or a number's reply already
        # names it), and its first step if money has gone.
        kind = message_kind(text, numbers)
        ask, paid = help_lines(ruleset, lang, region)
        extras += [_esc(line, html) for line in ((paid,) if kind in ("link", "number") else (ask, paid))]
        if kind == "number":
            counts = {}  # already said, with the numbers nobody reported
    for number, count in counts.items():
        if count > 0:
            parts.append(_esc(ui("number.seen", lang, number=number, count=count), html))
    reply = _fit([p for p in parts if p], [e for e in extras if e], max_words=budget)
    if budget is not None and len(reply.split()) >= budget and _max_steps > 2 and len(advice()) > 2:
        return verdict_reply(verdict, ruleset, lang, html=html, number_counts=number_counts, text=text,
                             region=region, numbers=numbers, picture=picture, _max_steps=_max_steps - 1)
    return reply


def _rule(ruleset: RuleSet, rule_id: str | None):
    """The rule with this id, or None."""
    return next((r for r in ruleset.rules if r.id == rule_id), None)


def _story(verdict: Verdict, ruleset: RuleSet):
    """The scam rule whose story a message worded as a warning tells (``Verdict.warns_of``), or None."""
    return _rule(ruleset, verdict.warns_of) if verdict.warns_of is not None and not verdict.scam else None


def named_category(verdict: Verdict, ruleset: RuleSet) -> str | None:
    """The category the reply names: the verdict's, or for a scam's story worded as a warning
    the story's, so that "Warn my family" warns of that scam."""
    story = _story(verdict, ruleset)
    return story.category if story is not None else verdict.category


# The rule file's vocab lists that name who a caller claimed to be (an office, a company, its
# staff, a boss): a text that says so is not asked "who did they say they were?" again. Not
# the family list: "my dad got a strange call" names who was called, not who called.
CLAIMED_BY_CALLER = ("authority", "police", "justice", "gov_agency", "telecom_body", "company", "staff", "broker",
                     "acquaintance")


def _no_match(text: str, ruleset: RuleSet, lang: str, html: bool, region: Region | None, numbers: Sequence[str],
              counts: Mapping[str, int]) -> list[str]:
    """No known pattern matched: say what was checked, never "safe"; ask what decides it."""
    kind = message_kind(text, numbers)
    if kind == "link":
        start, end = _links(text)[0]
        link = text[start:end]
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
    asks = [ui("ask.what", lang)]
    if not mentioned(ruleset, text, CLAIMED_BY_CALLER):
        asks.insert(0, ui("ask.who", lang))
    questions = _bold(ui("ask.title" if len(asks) > 1 else "ask.title_one", lang), html) + "\n" + _steps(asks, html)
    heading = "short.title" if kind == "short" else "risk.none"
    return [_bold(ui(heading, lang), html), _esc(ui("none.not_safe", lang), html), questions,
            _esc(ui("none.meanwhile", lang), html)]


# English words that say nothing quoted alone ("“HMRC” “warrant” “for”"): shown only as part
# of a longer quote.
_FUNCTION_WORDS = frozenset("a an the to of for by via in on at as is are was be it its it's i me my you your we "
                            "us our he him his she her they them their and or with from this that".split())


def _evidence_pieces(verdict: Verdict, text: str) -> list[str]:
    """The matched words as the person reads them: pieces that follow each other in ``text``
    with only spaces between them are one quote ("put through to the police", not “put”
    “through to” “the” “police”); a lone function word is left out."""
    pieces: list[list[int]] = []
    for ev in sorted(verdict.evidence, key=lambda e: e.start):
        if text[ev.start:ev.end] != ev.text:  # offsets into another text: quote each as it is
            return [ev.text for ev in verdict.evidence]
        if pieces and not text[pieces[-1][1]:ev.start].strip():
            pieces[-1][1] = max(pieces[-1][1], ev.end)
        else:
            pieces.append([ev.start, ev.end])
    quoted = [text[a:b] for a, b in pieces]
    return [q for q in quoted if q.strip().casefold() not in _FUNCTION_WORDS] or quoted


def _type_and_evidence(verdict: Verdict, category, lang: str, html: bool, text: str = "") -> list[str]:
    """The scam type and the user's own words that matched, quoted."""
    sep = _sep(lang)
    lines = []
    if category is not None and category.scam:
        lines.append(_esc(ui("type", lang), html) + sep + _esc(category.name[lang], html))
    quotes: list[str] = []
    for piece in _evidence_pieces(verdict, text):
        q = _quote(piece)
        if q not in quotes:
            quotes.append(q)
    if quotes:
        label = ui("evidence" if verdict.scam else "evidence.low", lang)
        lines.append(_esc(label, html) + sep + _esc(" ".join(quotes[:MAX_EVIDENCE]), html))
    return lines


def _fit(parts: list[str], extras: list[str], *, max_words: int | None = None) -> str:
    """Join parts; drop optional extras, last first, to stay within Telegram's limit (and
    under ``max_words`` words); then cut parts to stay within the limit."""
    while extras:
        text = "\n\n".join(parts + extras)
        if len(text) <= MAX_MESSAGE and (max_words is None or len(text.split()) < max_words):
            return text
        extras.pop()
    text = "\n\n".join(parts)
    while len(text) > MAX_MESSAGE and len(parts) > 1:
        parts.pop()
        text = "\n\n".join(parts)
    return text[:MAX_MESSAGE]


# --------------------------------------------------------------------------- emergency and family


def _emergency_steps(ruleset: RuleSet, lang: str, region: Region | None) -> list[str]:
    """What to do when money has gone: the region's own steps, else the rule file's generic ones."""
    if region is not None:
        return list(region.emergency[lang])
    return fill_steps(ruleset.texts["emergency"][lang], region_values(None, lang))


_FIRST_SENTENCE = re.compile(r".+?(?:[.!](?=\s|$)|[。！])|.+", re.DOTALL)


def help_lines(ruleset: RuleSet, lang: str, region: Region | None) -> tuple[str, str]:
    """The lines under every warning: who to ask when unsure (the region's anti-scam
    line), and the first thing to do if money has already gone (the first sentence of
    the region's emergency steps), so that neither needs a second message or a button."""
    steps = _emergency_steps(ruleset, lang, region)
    first = _FIRST_SENTENCE.match(steps[0]).group(0).strip() if steps else ""
    return ui("help_line", lang, region=region), ui("help_line.paid", lang, region=region, first_step=first)


def emergency_reply(ruleset: RuleSet, lang: str, *, html: bool = True, region: Region | None = None,
                    command_line: bool = False) -> str:
    """What to do at once when money has already been sent: the region's own
    steps (the rule file's generic ones when the region is unknown), then
    which region they are for and how to change it: ``/region`` in a chat,
    ``--region CODE`` on the command line (``command_line``)."""
    lang = i18n.language(lang)
    how = "_cli" if command_line else ""
    steps = _emergency_steps(ruleset, lang, region)
    if region is not None:
        where = ui(f"emergency.region{how}", lang, region=region, name=region.name[lang])
    else:
        where = ui(f"emergency.no_region{how}", lang)
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
