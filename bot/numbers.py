"""Phone numbers in what people write: found, normalised, shown.

The ``phonenumbers`` library (Google's libphonenumber data) knows every
country's numbering plan, so "138 0013 8000", "+86 13800138000" and
full-width "１３８００１３８０００" all become the same E.164 key, and that key
is what reports count.
"""

from __future__ import annotations

import re

import phonenumbers

__all__ = ["extract_numbers", "display_number"]

MAX_NUMBERS = 5  # per message; nobody describes a call with more
MAX_SCAN_CHARS = 5_000
# Crafted text (one number repeated, digit runs that are no number) made the library's matcher try
# every candidate in 5,000 characters: 130 ms. Candidates tried are bounded, valid or not.
MAX_CANDIDATES = 10
# A phone number has digits; phonenumbers reads any Unicode decimal digit (full-width,
# Arabic-Indic, ...), which is what \d matches. Most descriptions have none, and the
# library's matcher costs a few microseconds even on a text without a single digit.
_DIGIT = re.compile(r"\d")


def extract_numbers(text: str, region: str = "CN", limit: int = MAX_NUMBERS) -> tuple[str, ...]:
    """Valid phone numbers in ``text`` as E.164 strings, first occurrence order."""
    found: list[str] = []
    text = text[:MAX_SCAN_CHARS]
    if _DIGIT.search(text) is None:
        return ()
    try:
        matcher = phonenumbers.PhoneNumberMatcher(text, region, max_tries=MAX_CANDIDATES)
        for tried, match in enumerate(matcher, 1):
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            if e164 not in found:
                found.append(e164)
            if len(found) >= limit or tried >= MAX_CANDIDATES:
                break
    except Exception:  # the library must never cost the user their answer
        return tuple(found)
    return tuple(found)


def display_number(e164: str) -> str:
    """A readable international form, e.g. "+86 138 0013 8000"."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164
