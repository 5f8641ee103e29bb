"""Typos of the rules' words in English messages (detect/spelling.py)."""

import copyreg
from types import MappingProxyType

from callguard import handover
from callguard.compiled_cache import reduce_mapping_proxy
from callguard.detect import Detector
from callguard.detect.spelling import Speller, known_english
from callguard.detect.words import FORMS

from tests.factories import group, rule, ruleset

BAIL = rule("bail", group("who", 30, "grandson"), group("money", 30, "deposit", "bitcoin"),
            group("legit", -40, "official receipt", fuzzy=False), category="fake_kidnapping")


def detector() -> Detector:
    return Detector(ruleset(BAIL))


def test_a_misspelled_rule_word_is_read_as_the_rule_writes_it():
    d = detector()
    spelled = d.check("My grandson says I must pay the deposit in bitcoin")
    typed = d.check("My grandsn says I must pay the depposit in biitcoin")
    assert typed.scam and typed.score == spelled.score == 60


def test_without_the_speller_those_typos_are_missed():
    """What the speller is for: the scan's own typo tolerance needs keys of eight letters
    (it finds "grandsn", not "depposit")."""
    d = detector()
    d.matcher.speller = None  # how a message was read before
    v = d.check("My grandsn says I must pay the depposit in biitcoin")
    assert not v.scam and {e.text for e in v.evidence} == {"grandsn"}


def test_evidence_quotes_the_users_own_spelling():
    d = detector()
    text = "My grandsn wants me to send a depposit today"
    quoted = {e.text for e in d.explain(text).verdict.evidence}
    assert quoted == {"grandsn", "depposit"}


def test_a_known_word_is_never_taken_for_a_typo():
    speller = Speller(map(FORMS.__getitem__, ("brother", "detain", "deposit")))
    assert "bother" in known_english() and speller["bother"] == FORMS["bother"]
    assert speller["detail"] == FORMS["detail"]
    assert speller["deposti"] == "deposit"


def test_the_first_letter_must_be_right_and_the_likeliest_slip_unique():
    speller = Speller(map(FORMS.__getitem__, ("penghantar", "parent", "payment", "detain", "detail")))
    assert speller["menghantar"] == FORMS["menghantar"]  # a Malay prefix, not a typo
    assert speller["penghntar"] == "penghantar"
    assert speller["pament"] == "payment"  # a letter left out is likelier than a wrong one (parent)
    assert speller["detaim"] == FORMS["detaim"]  # one wrong letter from detain and from detail: left alone


def test_words_of_the_rules_and_of_their_examples_are_left_alone():
    speller = Speller({FORMS["malware"]}, known={"mawar"})
    assert speller["mawar"] == "mawar"
    assert Speller({FORMS["malware"]})["malwre"] == FORMS["malware"]


def test_only_messages_mostly_in_english_are_corrected():
    speller = Speller({"deposit"})
    assert speller.reads_english("please send the depposit today")
    assert not speller.reads_english("tolong bayar depposit hari ini kepada saya")
    d = detector()
    # Malay words are mostly unknown to the English dictionary: an unknown word there is as
    # likely a word, so nothing is corrected and the typo'd keys stay unmatched.
    v = d.check("cucu saya grandsn minta bayar depposit segera")
    assert not v.scam and {e.text for e in v.evidence} == {"grandsn"}  # the scan's own tolerance only


def test_the_speller_travels_with_a_pickled_detector(monkeypatch):
    monkeypatch.setitem(copyreg.dispatch_table, MappingProxyType, reduce_mapping_proxy)  # as the rule builder does
    d = handover.loads(handover.dumps(detector()))  # as a detection worker gets it
    assert d.check("My grandsn says I must pay the depposit in biitcoin").score == 60
    assert len(d.matcher.speller) <= 20  # remembered words are not part of the pickle


def test_remembered_words_are_bounded(monkeypatch):
    import callguard.detect.spelling as spelling

    monkeypatch.setattr(spelling, "_MAX_REMEMBERED", 3)
    speller = Speller({"deposit"})
    for word in ("aaaa", "bbbb", "cccc", "dddd", "depposit"):
        speller[word]
    assert len(speller) == 3 and speller["depposit"] == "deposit"


def test_a_short_word_with_a_doubled_letter_written_once_is_read_right():
    d = Detector(ruleset(rule("freeze", group("threat", 50, "number will be frozen"))))
    assert d.check("They said my number wil be frozen tonight").score == 50
    assert d.matcher.speller["wil"] == "will"
    assert d.matcher.speller["usa"] == "usa"  # only a word of the rules that is an English word


def test_in_a_message_the_speller_reads_an_english_key_one_edit_away_is_another_word():
    """"reactivate" is no typo of "deactivated": where the speller reads the message, the scan
    does not look for English keys one edit away (a real typo is the speller's to correct)."""
    d = Detector(ruleset(rule("cut", group("threat", 50, "deactivated"))))
    assert d.check("I found my card and would like to reactivate it").score == 0
    assert d.check("They said my SIM was deactivaated tonight").score == 50  # the speller's
    # A message the speller does not read (Malay) keeps the scan's own tolerance.
    assert 40 < d.check("dia kata nombor saya deactivaated malam ni").score < 50  # weighed by its similarity


def test_a_chinese_message_with_english_words_keeps_the_scan_s_tolerance():
    d = Detector(ruleset(rule("line", group("move", 50, "加LINE"))))
    text = "點進去加了LINE 說是他本人的助理 YouTube 上的廣告"
    assert d.matcher.read(text).spelled  # its English words are all words of the dictionary
    assert 40 < d.check(text).score < 50  # "加了LINE": one character more, weighed by its similarity
