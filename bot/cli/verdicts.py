"""What ``callguard check`` and ``callguard chat`` say about a text, as the bot would.

The reply text (:func:`describe`) and the JSON verdict (:func:`verdict_json`)
are built here from the same modules the Telegram bot uses (replies, regions,
phone numbers), so the console and the bot always give the same answer.
"""

from __future__ import annotations

from ..detect import Detector, RuleSet, Verdict, detect_language
from ..detect.language import dialect_of
from ..detect.paid import already_paid
from ..detect.regions import Region, number_regions, pick_region, region_hint
from .. import replies
from .loading import settings


def region_of(ruleset: RuleSet, text: str, lang: str | None, chosen: str | None,
              default: str | None = None) -> Region | None:
    """The region the bot would pick for ``text``: the chosen one, a phone number's
    country, the region its words name, its dialect and language, then ``default``
    (None: CALLGUARD_REGION; see ``detect.regions.pick_region``)."""
    from ..numbers import extract_numbers, number_region  # phonenumbers: only when a text is judged

    default = default or settings().default_region
    hinted = region_hint(ruleset.regions, text)
    read_as = number_regions(ruleset.regions, chosen=chosen, lang=lang, default=default, hinted=hinted)
    numbers = [number_region(n) for n in extract_numbers(text, read_as)]
    return pick_region(ruleset.regions, chosen=chosen, numbers=numbers, lang=lang, default=default,
                       dialect=dialect_of(text), hinted=hinted)


def verdict_json(verdict: Verdict, ruleset: RuleSet, text: str, chosen_region: str | None = None,
                 default_region: str | None = None) -> dict:
    """The batch format: the verdict's fields, plus (added, never changed) ``region``,
    the region whose help a reply would give, and ``paid``, whether the text says
    money was already sent. ``default_region``: CALLGUARD_REGION, when the caller
    has read it once for a whole batch."""
    # A text with no letters (a bare number, nothing) says nothing about its writer's language.
    region = region_of(ruleset, text, detect_language(text, default=None), chosen_region, default_region)
    return {**verdict.to_json(), "region": region.code if region else None, "paid": already_paid(text)}


def describe(detector: Detector, text: str, lang: str, chosen_region: str | None = None, *,
             picture: str | None = None, command_line: bool = False) -> str:
    """What the bot would send for ``text``: the emergency steps first when the
    text says money was already sent, then the verdict (plain text); ``picture``
    quotes what was read from a screenshot. ``command_line``: for ``callguard check``,
    whose region is changed with ``--region CODE``, not ``/region``."""
    ruleset = detector.ruleset
    verdict = detector.check(text)
    region = region_of(ruleset, text, lang, chosen_region)
    from ..numbers import display_number, extract_numbers

    numbers = extract_numbers(text, number_regions(ruleset.regions, chosen=chosen_region, lang=lang,
                                                   default=settings().default_region,
                                                   hinted=region_hint(ruleset.regions, text)))
    reply = replies.verdict_reply(verdict, ruleset, lang, html=False, text=text, region=region,
                                  numbers=[display_number(n) for n in numbers], picture=picture)
    if already_paid(text) and (verdict.scam or verdict.category is None or verdict.risk == "low"):
        return replies.emergency_reply(ruleset, lang, html=False, region=region,
                                       command_line=command_line) + "\n\n" + reply
    return reply
