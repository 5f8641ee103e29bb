"""Help for the user's region: emergency numbers, anti-scam lines, steps.

A person in Taipei who has just sent money to a scammer must be told to call
165, not China's 110 and 96110. So everything that depends on where the user
is lives in the rule file's ``regions:`` block (data that anti-fraud staff
keep, each number with the official source it was checked against in a YAML
comment), and this module reads it::

    regions:
      TW:
        name: {zh-Hans: 台湾, zh-Hant: 台灣, en: Taiwan}
        languages: [zh-Hant]         # optional: assumed for users writing this language
        dialects: [yue]              # optional: assumed for users writing this dialect (yue: Cantonese, ms: Malay)
        hints: [新台币, 健保卡, "165"]  # optional: words only this region's people write (see region_hint)
        police: "110"                # the emergency police number
        scam_line: {zh-Hans: 165反诈骗咨询专线, zh-Hant: 165反詐騙諮詢專線, en: the 165 anti-fraud hotline}
        fields:                      # optional named values for placeholders
          bank_line: "..."
        emergency:                   # 2-4 steps per language after money was sent
          zh-Hans: [...]
          zh-Hant: [...]
          en: [...]

Every value may be one text for all languages or a ``{language: text}``
mapping.

**The placeholder contract** (for every text that comes from the rule file:
global ``texts``, category texts, rule advice): ``{police}``, ``{scam_line}``
and the names under a region's ``fields`` (e.g. ``{spam_sms}``, ``{telecom_regulator}``,
``{bank_line}``) are filled from the user's region. An advice step (a list
item) whose placeholder the user's region does not define is LEFT OUT, and
so is a single paragraph: advice that names an agency exists only where that
agency does. ``callguard rules lint`` warns about a placeholder that no region
defines (it could never be shown). Write ``{{`` and ``}}`` for literal braces.

Everything here is a pure function of plain data, so the loader can call it
and the replies can use it without touching Telegram or storage.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Iterable, Iterator, Mapping, Sequence

__all__ = ["Region", "parse_regions", "placeholder_problems", "fill", "fill_steps", "placeholders",
           "pick_region", "region_hint", "number_regions", "region_code", "BUILTIN_FIELDS"]

from .schema import LANGUAGES
from .normalize import fold
BUILTIN_FIELDS = ("police", "scam_line")
# Dialects a region may be assumed for (see ``language.dialect_of``).
DIALECTS = ("yue", "ms")  # written Cantonese; Malay
MIN_STEPS, MAX_STEPS = 2, 4
_CODE = re.compile(r"^[A-Z]{2}$")
# Codes people write for a region whose ISO 3166 code differs: the rule file says GB
# (as phone numbers and Telegram's language tags do), admins and users write UK.
ALIASES = {"UK": "GB"}
_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_FORMATTER = string.Formatter()

# (severity, line, message): rules.py turns these into its Problem objects.
Finding = tuple[str, int, str]


@dataclass(frozen=True)
class Region:
    """One region's help. ``fields`` maps every placeholder name the region
    defines (``police`` and ``scam_line`` included) to its text per language."""

    code: str
    name: Mapping[str, str]
    emergency: Mapping[str, tuple[str, ...]]
    fields: Mapping[str, Mapping[str, str]]
    languages: tuple[str, ...] = ()
    dialects: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()  # words only this region's people write (its money, banks, agencies)

    def values(self, lang: str) -> dict[str, str]:
        """Placeholder values in ``lang``, for :func:`fill`."""
        return {name: texts[lang] for name, texts in self.fields.items()}


# --------------------------------------------------------------------------- placeholders


def placeholders(text: str) -> set[str]:
    """The placeholder names in ``text`` (``{name}``); ``{{`` is a literal brace.
    A text that is not a valid format string has none (it is shown as written)."""
    try:
        return {name for _, name, _, _ in _FORMATTER.parse(text) if name}
    except ValueError:
        return set()


def fill(text: str, values: Mapping[str, str]) -> str | None:
    """``text`` with its placeholders filled; None when one is not in ``values``
    (the caller then leaves the text out)."""
    names = placeholders(text)
    if not names:
        return text.replace("{{", "{").replace("}}", "}") if "{{" in text or "}}" in text else text
    if not names <= values.keys():
        return None
    try:
        return text.format_map({name: values[name] for name in names})
    except (ValueError, KeyError, IndexError, AttributeError):  # e.g. "{police.x}": shown as written
        return text


def fill_steps(steps: Iterable[str], values: Mapping[str, str]) -> list[str]:
    """Advice steps filled from the region; a step it cannot fill is left out."""
    return [filled for filled in (fill(step, values) for step in steps) if filled is not None]


# --------------------------------------------------------------------------- choosing a region


def region_code(code: str) -> str:
    """``code`` as the rule file writes region codes: upper case, ``UK`` as ``GB``."""
    code = code.strip().upper()
    return ALIASES.get(code, code)


def pick_region(regions: Mapping[str, Region], *, chosen: str | None = None,
                numbers: Sequence[str | None] = (), lang: str | None = None,
                language_code: str | None = None, default: str | None = None,
                dialect: str | None = None, hinted: str | None = None) -> Region | None:
    """The user's region, by the first of these that names a region in the file:
    the one they chose (``/region``), the country of a phone number in the
    message (``numbers``: region codes), their Telegram language tag's country
    (``zh-TW``, ``en-GB``), the region the message's own words name
    (``hinted``, see :func:`region_hint`: 令吉, PayNow, HMRC), the dialect
    they write (``yue``: a region listing it in ``dialects``), the language
    they write (a region listing it in ``languages``), and the deployment's
    default (``CALLGUARD_REGION``).

    The default is skipped for someone who writes a language it does not
    assume: a deployment for mainland China must not tell an English writer
    to call 110. None when nothing matches: the replies then use the file's
    generic texts ("your local police"), and the bot offers ``/region``."""
    for code in (chosen, *numbers, _tag_country(language_code), hinted):
        region = regions.get(region_code(code)) if code else None
        if region is not None:
            return region
    if dialect:
        for region in regions.values():
            if dialect in region.dialects:
                return region
    if lang:
        for region in regions.values():
            if lang in region.languages:
                return region
    fallback = regions.get(region_code(default)) if default else None
    if fallback is not None and lang and fallback.languages and lang not in fallback.languages:
        return None
    return fallback


def region_hint(regions: Mapping[str, Region], text: str) -> str | None:
    """The region whose ``hints`` the text names most (distinct hints), if one
    names more than any other: a Malaysian writing Chinese mentions 令吉 or
    Maybank, a Singaporean PayNow or Singpass, a Briton HMRC. Chinese hints
    are found anywhere in the folded text (Traditional as Simplified), other
    hints only as whole words ("rm" in "RM500", not in "storm")."""
    folded = fold(text[:2000])
    counts = {}
    for code, region in regions.items():
        words, ascii_hints, others = _hint_matchers(region.hints)
        n = sum(1 for h in others if h in folded)
        if words is not None and any(h in folded for h in ascii_hints):  # a plain test first: the expression
            n += len(set(words.findall(folded)))  # starts with a lookbehind, so it is tried at every character
        if n:
            counts[code] = n
    if not counts:
        return None
    top = max(counts.values())
    best = [code for code, n in counts.items() if n == top]
    return best[0] if len(best) == 1 else None


@lru_cache(maxsize=64)
def _hint_matchers(hints: tuple[str, ...]) -> tuple[re.Pattern | None, tuple[str, ...], tuple[str, ...]]:
    """One expression for a region's ASCII hints, each a whole word or number (a word ends
    where letters do, "rm" in "rm500"; a number where digits do, "165" not in "1650"), those
    hints, and its other hints, found as substrings. Built once per hint list: this runs per message."""
    def whole(hint: str) -> str:
        after = r"(?![a-z])" if hint[-1].isalpha() else r"(?![0-9])" if hint[-1].isdigit() else ""
        return re.escape(hint) + after
    ascii_hints = sorted((h for h in hints if h.isascii()), key=len, reverse=True)
    words = re.compile(r"(?<![a-z0-9])(" + "|".join(map(whole, ascii_hints)) + ")") if ascii_hints else None
    return words, tuple(ascii_hints), tuple(h for h in hints if not h.isascii())


def number_regions(regions: Mapping[str, Region], *, chosen: str | None = None, lang: str | None = None,
                   language_code: str | None = None, default: str | None = None,
                   hinted: str | None = None) -> tuple[str, ...]:
    """The regions whose way of writing phone numbers is tried, in order: the user's own
    when known (``chosen``, their language tag's country, the region the message names,
    the language they write), then the deployment's ``default`` (``CALLGUARD_REGION``).
    A Taiwan user's "0912-345-678" is no number at all to a mainland reading (see
    ``numbers.extract_numbers``), and "HMRC rang from 020 7946 0018" is a London number,
    not a Guangzhou one."""
    own = pick_region(regions, chosen=chosen, lang=lang, language_code=language_code, hinted=hinted)
    return tuple(dict.fromkeys(code for code in (own.code if own else None, (default or "").upper()) if code))


def _tag_country(tag: str | None) -> str | None:
    """``zh-TW`` -> ``TW``; ``en`` -> None (a language tag's region subtag)."""
    for part in (tag or "").replace("_", "-").split("-")[1:]:
        if len(part) == 2 and part.isalpha():
            return part.upper()
    return None


# --------------------------------------------------------------------------- parsing


def _line(obj: Any, key: Any = None, default: int = 1) -> int:
    """The line of ``obj`` (or of its ``key``), as the rule loader records them."""
    if key is not None:
        lines = getattr(obj, "key_lines", None)
        if lines and key in lines:
            return lines[key]
    return getattr(obj, "line", default) or default


def _localized(value: Any, where: str, line: int, out: list[Finding]) -> dict[str, str] | None:
    """One text for all languages, or a mapping with every language."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
        return {lang: str(value).strip() for lang in LANGUAGES}
    if not isinstance(value, dict):
        out.append(("error", line, f"{where} must be a text or map each of {', '.join(LANGUAGES)} to a text"))
        return None
    texts = {}
    for lang in LANGUAGES:
        text = value.get(lang)
        if not isinstance(text, (str, int)) or isinstance(text, bool) or not str(text).strip():
            out.append(("error", _line(value, lang, line), f"{where}: missing or empty translation '{lang}'"))
            continue
        texts[lang] = str(text).strip()
    for extra in value:
        if extra not in LANGUAGES:
            out.append(("warning", _line(value, extra, line), f"{where}: unknown language '{extra}'"))
    return texts if len(texts) == len(LANGUAGES) else None


def _steps(value: Any, where: str, line: int, out: list[Finding]) -> dict[str, tuple[str, ...]] | None:
    if not isinstance(value, dict):
        out.append(("error", line, f"{where} must map each of {', '.join(LANGUAGES)} to a list of steps"))
        return None
    steps = {}
    for lang in LANGUAGES:
        items = value.get(lang)
        iline = _line(value, lang, line)
        if not isinstance(items, list) or not all(isinstance(s, str) and s.strip() for s in items):
            out.append(("error", iline, f"{where}: '{lang}' must be a list of steps"))
            continue
        if not MIN_STEPS <= len(items) <= MAX_STEPS:
            out.append(("error", iline, f"{where}: '{lang}' has {len(items)} steps; give {MIN_STEPS} to {MAX_STEPS}"))
            continue
        steps[lang] = tuple(s.strip() for s in items)
    return steps if len(steps) == len(LANGUAGES) else None


def parse_regions(raw: Any) -> tuple[Mapping[str, Region], list[Finding]]:
    """The rule file's ``regions:`` block (as loaded, with line numbers) ->
    ``({code: Region}, findings)``; findings are ``(severity, line, message)``.
    A missing block is no regions (the replies use the generic texts)."""
    out: list[Finding] = []
    if raw is None:
        return MappingProxyType({}), out
    if not isinstance(raw, dict):
        return MappingProxyType({}), [("error", _line(raw), "regions must map region codes (CN, TW, ...) to regions")]
    regions: dict[str, Region] = {}
    claimed: dict[str, str] = {}  # language -> region that claims it
    for code, body in raw.items():
        line = _line(raw, code)
        where = f"region {code}"
        if not isinstance(code, str) or not _CODE.match(code):
            out.append(("error", line, f"region code {code!r} must be two capital letters (ISO 3166, e.g. TW)"))
            continue
        if not isinstance(body, dict):
            out.append(("error", line, f"{where} must be a mapping"))
            continue
        for key in body:
            if key not in ("name", "languages", "dialects", "hints", "police", "scam_line", "fields", "emergency"):
                out.append(("warning", _line(body, key, line), f"{where}: unknown key '{key}'"))
        values: dict[str, Mapping[str, str] | None] = {}
        for key in ("name", "police", "scam_line"):
            if key not in body:
                out.append(("error", line, f"{where}: missing '{key}'"))
                values[key] = None
            else:
                values[key] = _localized(body[key], f"{where}.{key}", _line(body, key, line), out)
        fields = {"police": values["police"], "scam_line": values["scam_line"]}
        extra = body.get("fields") or {}
        if not isinstance(extra, dict):
            out.append(("error", _line(body, "fields", line), f"{where}.fields must map names to texts"))
            extra = {}
        for name, value in extra.items():
            fline = _line(extra, name, line)
            if not isinstance(name, str) or not _FIELD.match(name) or name in BUILTIN_FIELDS:
                out.append(("error", fline, f"{where}.fields: {name!r} must be a lower-case name "
                                            f"(letters, digits, _) other than {' and '.join(BUILTIN_FIELDS)}"))
                continue
            fields[name] = _localized(value, f"{where}.fields.{name}", fline, out)
        emergency = _steps(body.get("emergency"), f"{where}.emergency", _line(body, "emergency", line), out)
        languages = body.get("languages") or []
        if not isinstance(languages, list) or not all(lang in LANGUAGES for lang in languages):
            out.append(("error", _line(body, "languages", line),
                        f"{where}.languages must list some of {', '.join(LANGUAGES)}"))
            languages = []
        dialects = body.get("dialects") or []
        if not isinstance(dialects, list) or not all(d in DIALECTS for d in dialects):
            out.append(("error", _line(body, "dialects", line),
                        f"{where}.dialects must list some of {', '.join(DIALECTS)}"))
            dialects = []
        hints = body.get("hints") or []
        if not isinstance(hints, list) or not all(isinstance(h, str) and h.strip() for h in hints):
            out.append(("error", _line(body, "hints", line), f"{where}.hints must be a list of words"))
            hints = []
        for lang in languages:
            if lang in claimed:
                out.append(("error", _line(body, "languages", line),
                            f"{where}: language '{lang}' is already assumed for region {claimed[lang]}"))
            claimed.setdefault(lang, code)
        if values["name"] is None or emergency is None or any(v is None for v in fields.values()):
            continue
        for lang, steps in emergency.items():  # a region's own steps must be complete in that region
            for step in steps:
                missing = placeholders(step) - fields.keys()
                if missing:
                    out.append(("error", _line(body, "emergency", line),
                                f"{where}.emergency: step uses {{{sorted(missing)[0]}}}, which {code} does not define"))
        regions[code] = Region(code, MappingProxyType(values["name"]), MappingProxyType(emergency),
                               MappingProxyType({k: MappingProxyType(v) for k, v in fields.items()}),
                               tuple(languages), tuple(dialects),
                               tuple(dict.fromkeys(fold(h).strip() for h in hints)))
    return MappingProxyType(regions), out


# --------------------------------------------------------------------------- lint


def _texts_with_lines(obj: Any, line: int) -> Iterator[tuple[str, int]]:
    """Every text inside ``obj`` (mappings and lists, as loaded) with its line."""
    if isinstance(obj, str):
        yield obj, line
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield from _texts_with_lines(value, _line(obj, key, line))
    elif isinstance(obj, list):
        lines = getattr(obj, "item_lines", None) or [line] * len(obj)
        for item, item_line in zip(obj, lines):
            yield from _texts_with_lines(item, item_line)


def placeholder_problems(top: Mapping[str, Any], regions: Mapping[str, Region]) -> list[Finding]:
    """Warnings for placeholders in user-facing texts that no region defines:
    such a text or step could never be shown. Looks at ``texts``, every
    category's texts and every rule's ``advice`` (not its phrases or patterns,
    whose braces mean something else)."""
    known = set(BUILTIN_FIELDS)
    for region in regions.values():
        known |= region.fields.keys()
    sources: list[tuple[Any, int]] = []
    if isinstance(top.get("texts"), dict):
        sources.append((top["texts"], _line(top, "texts")))
    if isinstance(top.get("categories"), dict):
        sources.append((top["categories"], _line(top, "categories")))
    rules = top.get("rules")
    if isinstance(rules, list):
        for rule in rules:
            if isinstance(rule, dict) and "advice" in rule:
                sources.append((rule["advice"], _line(rule, "advice")))
    out: list[Finding] = []
    for obj, line in sources:
        for text, text_line in _texts_with_lines(obj, line):
            for name in sorted(placeholders(text) - known):
                out.append(("warning", text_line, f"placeholder {{{name}}} is defined by no region, "
                                                  f"so this text is never shown"))
    return out


def all_fields(regions: Mapping[str, Region]) -> list[str]:
    """Every placeholder name some region defines, sorted (for messages and docs)."""
    names = set(BUILTIN_FIELDS)
    for region in regions.values():
        names |= region.fields.keys()
    return sorted(names)
