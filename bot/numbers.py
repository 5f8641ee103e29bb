"""Phone numbers in what people write: found, normalised, shown.

The ``phonenumbers`` library (Google's libphonenumber data) knows every
country's numbering plan, so "138 0013 8000", "+86 13800138000" and
full-width "１３８００１３８０００" all become the same E.164 key, and that key
is what reports count.
"""

from __future__ import annotations

import re
from typing import Sequence

import phonenumbers

__all__ = ["extract_numbers", "display_number", "number_region", "mask_number", "mask_numbers_in_text"]

MAX_NUMBERS = 5  # per message; nobody describes a call with more
MAX_SCAN_CHARS = 5_000
# Crafted text (one number repeated, digit runs that are no number) made the library's matcher try
# every candidate in 5,000 characters: 130 ms. Candidates tried are bounded, valid or not.
MAX_CANDIDATES = 10
# A valid phone number has four digits or more (the shortest any country's plan allows), and
# the library's matcher takes digits apart only by a few punctuation marks or spaces (and "x",
# "ー"), never by letters. phonenumbers reads any Unicode decimal digit (full-width, Arabic-Indic,
# ...), which is what \d matches. A text without such a run (most descriptions; a chat
# with a few small amounts, "3 tickets for 2 adults") holds no number, and the matcher costs
# about half a millisecond on a long one. tests/test_numbers.py holds the library to these bounds.
MIN_DIGITS = 4
MAX_PUNCTUATION = 4  # between two digits of one number (the matcher's own limit)
_DIGIT_RUN = re.compile(rf"\d(?:[\W_xー]{{0,{MAX_PUNCTUATION}}}\d){{{MIN_DIGITS - 1}}}")


def extract_numbers(text: str, region: str | Sequence[str] = "CN", limit: int = MAX_NUMBERS) -> tuple[str, ...]:
    """Valid phone numbers in ``text`` as E.164 strings, first occurrence order.

    ``region`` says how a number without a country code is read ("0912-345-678" is
    a Taiwan mobile, not a mainland number). Several regions are tried in order:
    the user's own first, then the deployment's; a stretch of text is read by the
    first region for which it is a valid number, so a Taiwan user's local number
    and a mainland number in the same message are both found."""
    regions = [region] if isinstance(region, str) else list(region)
    text = text[:MAX_SCAN_CHARS]
    if not regions or _DIGIT_RUN.search(text) is None:
        return ()
    spans: list[tuple[int, int, str]] = []  # (start, end, E.164) of the numbers read so far
    for code in regions:
        if len({e164 for _, _, e164 in spans}) >= limit:
            break
        for tried, match in enumerate(_matches(text, code), 1):  # the library must never cost the user their answer
            if not any(match.start < end and start < match.end for start, end, _ in spans):
                spans.append((match.start, match.end,
                              phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)))
            if tried >= MAX_CANDIDATES or len({e164 for _, _, e164 in spans}) >= limit:
                break
    found: list[str] = []
    for _, _, e164 in sorted(spans):
        if e164 not in found:
            found.append(e164)
    return tuple(found[:limit])


def _matches(text: str, region: str):
    """phonenumbers' matcher over ``text``; a library failure ends the scan, never the caller."""
    try:
        yield from phonenumbers.PhoneNumberMatcher(text, region, max_tries=MAX_CANDIDATES)
    except Exception:
        return


def display_number(e164: str) -> str:
    """A readable international form, e.g. "+86 138 0013 8000"."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def number_region(e164: str) -> str | None:
    """The country (ISO 3166 code, e.g. "TW") a number belongs to; None when unknown."""
    try:
        code = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None
    return code if code and code != "ZZ" else None


def _country_code_length(digits: str) -> int:
    """Length of the country calling code that starts ``digits`` (E.164 codes are prefix-free).

    From libphonenumber's own table of codes; an unknown code counts as three digits,
    the longest there is, so masking hides too little of the country and never too
    little of the subscriber."""
    for length in (1, 2, 3):
        if int(digits[:length]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return length
    return 3


def mask_number(e164: str, sep: str = " ") -> str:
    """Mask a phone number for display: ``+8613800138000 -> +86 138******00``.

    Format: ``+<country code><sep><first 3 national digits><one * per hidden
    digit><last 2 digits>``.  Keeping the operator prefix and the last two
    digits lets staff recognise a campaign without the list being a
    ready-made dialling list.  Numbers too short to hide at least three digits
    that way (service numbers) show only their last two digits.  Input that is
    not E.164 is masked as a bare national number rather than rejected, since
    this is a display helper.  ``sep=""`` gives a masked E.164 string
    (``+86138******00``), one token per number, for lists such as the CSV export.
    """
    raw = e164.strip()
    digits = "".join(ch for ch in raw if ch.isdigit())
    prefix = ""
    national = digits
    if raw.startswith("+") and len(digits) > 3:
        cc_len = _country_code_length(digits)
        prefix = f"+{digits[:cc_len]}{sep}"
        national = digits[cc_len:]
    n = len(national)
    if n >= 8:
        return f"{prefix}{national[:3]}{'*' * (n - 5)}{national[-2:]}"
    if n > 2:
        return f"{prefix}{'*' * (n - 2)}{national[-2:]}"
    return f"{prefix}{'*' * n}"


def mask_numbers_in_text(text: str, region: str = "CN") -> str:
    """``text`` with every phone number in it replaced by its masked form.

    People quote the caller's number in their own words ("138 0013 8000 called
    me"), so masking the export's number column alone would leave the same
    number readable one column further. The numbers found are the ones
    :func:`extract_numbers` would find (the whole text is scanned, not only its
    start); other digits (amounts, dates, codes) are left as they are.
    """
    if _DIGIT_RUN.search(text) is None:
        return text
    out, end = [], 0
    for match in _matches(text, region):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        out += [text[end:match.start], mask_number(e164)]
        end = match.end
    return "".join(out) + text[end:] if out else text
