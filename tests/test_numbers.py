"""Phone numbers in descriptions: found, normalised, masked for display and export."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st

from callguard import numbers


def test_numbers_in_any_digits_are_found():
    assert numbers.extract_numbers("他用 138 0013 8000 打来的") == ("+8613800138000",)
    assert numbers.extract_numbers("电话１３８００１３８０００") == ("+8613800138000",)  # full-width
    assert numbers.extract_numbers("+1 202-555-0123 called") == ("+12025550123",)
    assert numbers.extract_numbers("call ١٣٨٠٠١٣٨٠٠٠") == ("+8613800138000",)  # Arabic-Indic digits


@pytest.fixture
def library_refused(monkeypatch):
    """phonenumbers' matcher fails the test if it is called at all."""
    def refuse(*args, **kwargs):
        raise AssertionError("PhoneNumberMatcher called for a text that cannot hold a number")

    monkeypatch.setattr(phonenumbers, "PhoneNumberMatcher", refuse)


def test_text_without_digits_skips_the_library(library_refused):
    assert numbers.extract_numbers("有人自称通信管理局，说我的号码要被冻结") == ()
    assert numbers.extract_numbers("call one-eight-hundred FLOWERS, plus eighty-six") == ()


def test_a_text_without_four_digits_in_a_run_skips_the_library(library_refused):
    assert numbers.extract_numbers("3 tickets for 2 adults at 9 pm, room 101") == ()
    assert numbers.extract_numbers("a1b2c3d4e5f6, 转了500元") == ()


def test_the_run_bounds_hold_for_the_library_s_data():
    """No country's numbers are shorter than MIN_DIGITS, and the matcher puts no more
    than MAX_PUNCTUATION marks between two digits: the skip never hides a number."""
    shortest = min(length for region in phonenumbers.SUPPORTED_REGIONS
                   for length in phonenumbers.PhoneMetadata.metadata_for_region(region).general_desc.possible_length
                   if length > 0)
    assert shortest >= numbers.MIN_DIGITS
    from phonenumbers import phonenumbermatcher

    limit = getattr(phonenumbermatcher, "_PUNCTUATION_LIMIT", None)
    if limit is not None:
        assert limit == "{0,%d}" % numbers.MAX_PUNCTUATION


def _library(text: str) -> tuple[str, ...]:
    found = []
    for match in phonenumbers.PhoneNumberMatcher(text, "CN"):
        e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
        if e164 not in found:
            found.append(e164)
    return tuple(found[: numbers.MAX_NUMBERS])


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd", "Cs")), max_size=60))
def test_without_digits_the_library_finds_nothing_either(text):
    assert re.search(r"\d", text) is None
    assert _library(text) == () == numbers.extract_numbers(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789０１２３４５６７８９ +-()./:xーabc号码电话", max_size=40))
def test_with_digits_the_result_is_the_library_s(text):
    assert numbers.extract_numbers(text) == _library(text)


def test_a_local_number_is_read_as_the_first_region_that_has_it():
    text = "0912-345-678 打來，後來又用 13800138000 打"
    assert numbers.extract_numbers(text, "CN") == ("+8613800138000",)  # 0912-345-678 is no mainland number
    assert numbers.extract_numbers(text, ("TW", "CN")) == ("+886912345678", "+8613800138000")  # in text order
    assert numbers.extract_numbers(text, ("CN", "TW")) == ("+886912345678", "+8613800138000")
    assert numbers.extract_numbers("call 2345 6789", ("HK", "CN")) == ("+85223456789",)  # HK's reading first
    assert numbers.extract_numbers(text, ()) == ()


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="0123456789 +-()号码", max_size=40))
def test_more_regions_only_add_numbers_the_first_region_does_not_read(text):
    alone = numbers.extract_numbers(text, "CN")
    both = numbers.extract_numbers(text, ("CN", "TW"))
    assert set(alone) <= set(both) and len(both) <= numbers.MAX_NUMBERS


@pytest.mark.parametrize("number, masked", [
    ("+8613800138000", "+86 138******00"),
    ("+12025550123", "+1 202*****23"),
    ("+79161234567", "+7 916*****67"),
    ("+85291234567", "+852 912***67"),
    ("+886912345678", "+886 912****78"),
    ("+447911123456", "+44 791*****56"),
    ("+8695588", "+86 ***88"),  # too short to show the head
    ("13800138000", "138******00"),  # not E.164: masked anyway, never raises
])
def test_mask_number(number, masked):
    assert numbers.mask_number(number) == masked
    assert numbers.mask_number(number, sep="") == masked.replace(" ", "")  # one token per number


def test_mask_numbers_in_text_masks_what_extract_numbers_finds_and_nothing_else():
    text = "138 0013 8000 打来电话，又用 +1 202-555-0123 发短信，让我转账50000元，验证码 123456，2024-05-10"
    masked = numbers.mask_numbers_in_text(text, "CN")
    assert masked == ("+86 138******00 打来电话，又用 +1 202*****23 发短信，让我转账50000元，验证码 123456，2024-05-10")
    assert numbers.extract_numbers(masked, "CN") == ()
    assert numbers.mask_numbers_in_text("没有号码", "CN") == "没有号码"
    far = "x" * 6000 + " 13800138000"  # past extract_numbers' scan window: masked all the same
    assert numbers.mask_numbers_in_text(far, "CN").endswith("+86 138******00")
