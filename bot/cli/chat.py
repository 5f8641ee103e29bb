"""``callguard chat``: the bot's conversation on a console, no Telegram token needed.

It lets admins and translators try the texts and the rules as a user meets
them: the same replies, commands (/lang, /region, /money, /family) and
language and region choices as the bot, but nothing is stored.
"""

from __future__ import annotations

import argparse
from typing import Callable

from ..detect import Detector, detect_language
from ..detect.regions import Region
from .. import i18n, replies
from .loading import detector_and_region
from .verdicts import describe, region_of


def chat(detector: Detector, read: Callable[[str], str], write: Callable[[str], None], lang: str | None = None,
         region: str | None = None) -> None:
    """The bot's conversation on a console: same texts, same verdicts, same rules
    for the language (``/lang`` wins; until then, each description's own) and
    the region (``/region`` wins; until then, as the bot picks it)."""
    ruleset = detector.ruleset
    chosen_lang = lang  # set by --lang or /lang: applies to every reply
    current = lang or "zh-Hans"  # the language of the conversation so far
    last_category: str | None = None
    last_region: Region | None = None
    codes = " | ".join(ruleset.regions)

    def where() -> Region | None:
        return ruleset.regions.get(region) if region else (last_region or region_of(ruleset, "", current, None))

    write(replies.ui("welcome", current) + "\n" + replies.ui("example", current) + "\n\n"
          + i18n.text("chat.help", current, codes=codes))
    while True:
        try:
            line = read("> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return
        if not line:
            continue
        command, _, rest = line.partition(" ")
        rest = rest.strip()
        if command in ("/quit", "/exit"):
            return
        if command in ("/help", "/start"):
            write(i18n.text("chat.help", current, codes=codes))
        elif command == "/privacy":  # the console stores nothing (the bot's /privacy would speak of /forget)
            write(i18n.text("chat.privacy", current))
        elif command == "/lang":
            if rest in replies.LANGUAGES:
                chosen_lang = current = rest
                write(replies.ui("lang.set", current))
            else:
                write(replies.ui("lang.pick", current) + " zh-Hans | zh-Hant | en")
        elif command == "/region":
            if rest.upper() in ruleset.regions:
                region = rest.upper()
                chosen = ruleset.regions[region]
                write(replies.ui("region.set", current, region=chosen, name=chosen.name[current]))
            else:
                write(replies.ui("region.pick", current) + "\n" + "\n".join(
                    f"  {code}  {r.name[current]}" for code, r in ruleset.regions.items()))
        elif command == "/money":
            write(replies.emergency_reply(ruleset, current, html=False, region=where()))
        elif command == "/family":
            write(replies.family_warning(ruleset, last_category, current, html=False, region=where()))
        elif command.startswith("/"):
            write(replies.ui("unknown_command", current))
        else:
            current = chosen_lang or detect_language(line, default=current)
            last_category = detector.check(line).category
            last_region = region_of(ruleset, line, current, region)
            write(describe(detector, line, current, last_region.code if last_region else None))


def cmd_chat(args: argparse.Namespace) -> int:
    detector, region = detector_and_region(args, "chat")
    chat(detector, input, print, lang=args.lang, region=region)
    return 0
