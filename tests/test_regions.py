"""The rule file's regions: parsed with line numbers, filled into texts, picked per user."""

import re
from pathlib import Path

import pytest

from callguard.detect import lint_text, load_rules, parse_rules
from callguard.detect.regions import fill, fill_steps, pick_region, placeholders

ROOT = Path(__file__).resolve().parent.parent
RULES_FILE = ROOT / "rules" / "scam_patterns.yaml"
RULESET = load_rules(RULES_FILE)
LANGS = ("zh-Hans", "zh-Hant", "en")
# What the issue asks for, at least: region -> numbers its help must name.
EXPECTED = {"CN": ("110", "96110"), "TW": ("165", "110"), "HK": ("18222", "999"), "SG": ("1799", "999"),
            "GB": ("159", "999", "reportfraud.police.uk"), "US": ("911", "ReportFraud.ftc.gov", "ic3.gov"),
            "AU": ("000", "Scamwatch", "1800 595 160"), "MY": ("997",)}


@pytest.mark.parametrize("code, numbers", EXPECTED.items())
def test_shipped_regions_name_their_lines(code, numbers):
    region = RULESET.regions[code]
    for lang in LANGS:
        steps = " ".join(region.emergency[lang])
        assert 2 <= len(region.emergency[lang]) <= 4
        for number in numbers:
            assert number in steps + " " + region.values(lang)["scam_line"], (code, lang, number)
        assert region.values(lang)["police"] in steps
        assert region.name[lang]


def test_no_region_gets_another_regions_numbers():
    others = {"96110", "165", "18222", "1799", "997", "159", "911", "000"}
    own = {code: set(nums) for code, nums in EXPECTED.items()}
    for code, region in RULESET.regions.items():
        text = " ".join(step for lang in LANGS for step in region.emergency[lang])
        foreign = {n for n in others - own[code] if re.search(rf"(?<![\d ]){n}(?![\d ])", text)}
        assert not foreign, (code, foreign)


def test_every_region_names_its_sources():
    """Each region's block in the rule file carries a comment naming a web page it was checked against."""
    text = RULES_FILE.read_text(encoding="utf-8")
    block = text[text.index("\nregions:\n"):text.index("\ncategories:\n")]
    parts = re.split(r"\n  ([A-Z]{2}):\n", block)[1:]
    assert [code for code in parts[::2]] == list(RULESET.regions)
    for code, body in zip(parts[::2], parts[1::2]):
        comments = "\n".join(line for line in body.splitlines() if line.strip().startswith("#"))
        assert "http" in comments, code
        police = RULESET.regions[code].values("en")["police"]
        assert police in comments, (code, "the police number's source must name it")


def test_language_defaults():
    assert pick_region(RULESET.regions, lang="zh-Hans").code == "CN"
    assert pick_region(RULESET.regions, lang="zh-Hant").code == "TW"
    assert pick_region(RULESET.regions, lang="en") is None
    assert pick_region(RULESET.regions, lang="en", default="GB").code == "GB"


def test_pick_order_chosen_number_tag_language_default():
    regions = RULESET.regions
    assert pick_region(regions, chosen="hk", numbers=["TW"], lang="zh-Hans", default="CN").code == "HK"
    assert pick_region(regions, chosen=None, numbers=[None, "TW"], lang="zh-Hans", default="CN").code == "TW"
    assert pick_region(regions, numbers=["FR"], language_code="en-GB", lang="en", default="CN").code == "GB"
    assert pick_region(regions, numbers=["FR"], language_code="zh-hk", lang="zh-Hant").code == "HK"
    assert pick_region(regions, lang="zh-Hant", default="CN").code == "TW"
    assert pick_region(regions, lang="en", default="AU").code == "AU"
    assert pick_region(regions, lang="en", default="FR") is None
    assert pick_region(regions, chosen="uk", lang="zh-Hans").code == "GB"  # UK is written for GB
    assert pick_region(regions, lang="en", default="UK").code == "GB"


def test_cantonese_writers_get_hong_kong_not_taiwan():
    """Both write Traditional characters; Cantonese is written only in Hong Kong (and Macau)."""
    from callguard.detect.language import writes_cantonese
    text = "有人打嚟話係入境處，話我身份證俾人冒用咗"
    assert writes_cantonese(text) and not writes_cantonese("有人打來說是健保局，說我的健保卡被冒用")
    assert pick_region(RULESET.regions, lang="zh-Hant", dialect="yue").code == "HK"
    assert pick_region(RULESET.regions, lang="zh-Hant").code == "TW"
    assert pick_region(RULESET.regions, chosen="TW", lang="zh-Hant", dialect="yue").code == "TW"  # their choice wins


def test_malay_writers_get_malaysia_unless_the_text_names_singapore():
    """Replies to Malay are in English, but the help lines are Malaysia's (997), not a stranger's."""
    from callguard.detect.language import dialect_of, writes_malay
    text = "mak saya dah transfer RM30,000 ke akaun pegawai polis tu, apa nak buat sekarang"
    assert writes_malay(text) and dialect_of(text) == "ms"
    assert pick_region(RULESET.regions, lang="en", dialect=dialect_of(text)).code == "MY"
    assert dialect_of("sy dah bayar S$500 guna PayNow kat dia, apa nak buat") is None  # Singapore's money
    for english in ("I paid the man at the door and he said to call the bank", "Ada from the bank rang me at 9",
                    "Hi mum, can you send me the bank details for the rent"):
        assert not writes_malay(english) and dialect_of(english) is None, english
    assert pick_region(RULESET.regions, chosen="SG", lang="en", dialect="ms").code == "SG"  # their choice wins


@pytest.mark.parametrize("text, code", [
    ("有人冒充警察，叫我把5万令吉转去安全户口", "MY"),   # Simplified Chinese, written in Malaysia
    ("我已经用PayNow转了800新币给他", "SG"),
    ("阿媽已經用轉數快過咗$8,000俾佢", "HK"),
    ("有人打來說健保卡被盜用，要我打165查證", "TW"),
    ("HMRC said I owe tax and must pay today", "GB"),
    ("The IRS agent wants gift cards", "US"),
    ("A myGov text about a tax refund", "AU"),
    ("someone said to pay RM500 today", "MY"),
    ("storm damage claim, call 1650", None),          # "rm" inside a word, 165 inside a number
    ("有人自称公安局的说我涉嫌洗钱", None),             # nothing only one region writes
    ("paid with PayNow and DuitNow", None),            # one hint each: a tie names no region
])
def test_a_message_names_its_region_by_its_money_banks_and_agencies(text, code):
    """A Malaysian or Singaporean writing Simplified Chinese is not in mainland China: the
    words only their region's people write (its money, banks, agencies) pick the help lines."""
    from callguard.detect.regions import region_hint
    assert region_hint(RULESET.regions, text) == code
    if code:
        lang = "zh-Hans" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en"
        assert pick_region(RULESET.regions, lang=lang, default="CN", hinted=code).code == code
        assert pick_region(RULESET.regions, chosen="GB", lang=lang, hinted=code).code == "GB"  # their choice wins


def test_a_number_is_read_as_the_region_the_message_names_writes_it():
    """"HMRC rang from 020 7946 0018" is a London number: read the mainland way first (a
    deployment for China), 020 is Guangzhou, and the UK user was sent to China's 110."""
    from callguard.detect.regions import number_regions, region_hint
    from callguard.numbers import extract_numbers, number_region
    text = "HMRC rang from 020 7946 0018 saying I owe tax and must pay today"
    hinted = region_hint(RULESET.regions, text)
    read_as = number_regions(RULESET.regions, lang="en", default="CN", hinted=hinted)
    assert read_as == ("GB", "CN")
    numbers = [number_region(n) for n in extract_numbers(text, read_as)]
    assert numbers == ["GB"]
    assert pick_region(RULESET.regions, numbers=numbers, lang="en", default="CN", hinted=hinted).code == "GB"
    assert [number_region(n) for n in extract_numbers(text, ("CN",))] == ["CN"]  # what it was read as before


def test_the_default_region_is_not_forced_on_writers_of_another_language():
    """A deployment for mainland China must not tell an English writer in London to call 110."""
    assert pick_region(RULESET.regions, lang="en", default="CN") is None
    assert pick_region(RULESET.regions, lang="zh-Hans", default="CN").code == "CN"
    assert pick_region(RULESET.regions, lang="en", default="GB").code == "GB"  # GB assumes no language
    assert pick_region(RULESET.regions, default="CN").code == "CN"  # no text: the deployment's region


def test_fill_and_leave_out():
    values = {"police": "110", "tax_office": "12366"}
    assert fill("Call {police}", values) == "Call 110"
    assert fill("Call {social_security}", values) is None
    assert fill("no placeholder", values) == "no placeholder"
    assert fill("literal {{braces}}", values) == "literal {braces}"
    assert fill("broken {", values) == "broken {"
    assert fill_steps(["a {police}", "b {bank_line}", "c"], values) == ["a 110", "c"]
    assert placeholders("{a} and {b} {{c}}") == {"a", "b"}


MINIMAL = RULES_FILE.read_text(encoding="utf-8")


def with_regions(block: str) -> str:
    start = MINIMAL.index("\nregions:\n")
    end = MINIMAL.index("\ncategories:\n")
    return MINIMAL[:start] + "\n" + block + MINIMAL[end:]


GOOD_REGION = """regions:
  XX:
    name: {zh-Hans: 某地, zh-Hant: 某地, en: Someland}
    police: "112"
    scam_line: {zh-Hans: 热线, zh-Hant: 熱線, en: the hotline}
    fields:
      bank_line: "159"
    emergency:
      zh-Hans: ["打{police}。", 打银行。]
      zh-Hant: ["打{police}。", 打銀行。]
      en: ["Call {police}.", "Call {bank_line}."]
"""


def test_a_region_of_its_own_parses():
    rs = parse_rules(with_regions(GOOD_REGION))
    region = rs.regions["XX"]
    assert region.values("en") == {"police": "112", "scam_line": "the hotline", "bank_line": "159"}
    assert region.emergency["en"] == ("Call {police}.", "Call {bank_line}.")


@pytest.mark.parametrize("change, message", [
    (("XX:", "Xx:"), "two capital letters"),
    (('    police: "112"\n', ""), "missing 'police'"),
    (('en: ["Call {police}.", "Call {bank_line}."]', 'en: ["Call {police}."]'), "give 2 to 4"),
    (('en: ["Call {police}.", "Call {bank_line}."]', 'en: ["Call {police}.", "Call {tax}."]'), "does not define"),
    (("bank_line:", "police:"), "other than police"),
    (("scam_line: {zh-Hans: 热线, zh-Hant: 熱線, en: the hotline}", "scam_line: {zh-Hans: 热线, en: the hotline}"),
     "missing or empty translation 'zh-Hant'"),
])
def test_region_errors_name_the_line(change, message):
    text = with_regions(GOOD_REGION.replace(*change))
    problems = [p for p in lint_text(text, "r.yaml") if p.severity == "error"]
    assert problems and any(message in p.message for p in problems), problems
    start = text.index("\nregions:\n")
    first, last = text.count("\n", 0, start) + 2, text.count("\n", 0, text.index("\ncategories:\n")) + 1
    assert all(first <= p.line <= last for p in problems), [str(p) for p in problems]


def test_lint_warns_about_a_placeholder_no_region_defines():
    text = MINIMAL.replace("en: \"How to check: hang up", "en: \"How to check: call {tax_helpline}, hang up", 1)
    assert text != MINIMAL
    warnings = [p for p in lint_text(text, "r.yaml") if p.severity == "warning"]
    [warning] = [w for w in warnings if "{tax_helpline}" in w.message]
    assert "no region" in warning.message
    assert text.splitlines()[warning.line - 1].lstrip().startswith("en:")
    # Defined by some region: no warning (it is shown where that region applies).
    assert not [p for p in lint_text(MINIMAL, "r.yaml") if "placeholder" in p.message]


def test_a_file_without_regions_still_loads():
    start = MINIMAL.index("\nregions:\n")
    end = MINIMAL.index("\ncategories:\n")
    rs = parse_rules(MINIMAL[:start] + MINIMAL[end:])
    assert dict(rs.regions) == {}


def test_the_deployment_region_may_be_written_uk():
    from callguard.config import Settings

    assert Settings.from_env({"CALLGUARD_REGION": " uk "}).default_region == "GB"
    assert Settings.from_env({}).default_region == "CN"
