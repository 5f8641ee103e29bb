"""No input crashes the detection core (hypothesis)."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callguard.detect import Detector, load_rules
from callguard.detect.normalize import has_cjk, normalize, normalize_with_offsets, original_spans
from callguard.replies import MAX_MESSAGE, verdict_reply

RULESET = load_rules(Path(__file__).resolve().parent.parent / "rules" / "scam_patterns.yaml")
DETECTOR = Detector(RULESET)
KEYWORDS = ["通信管理局", "安全账户", "冻结", "公安", "验证码", "safe account", "police", "刷单", "贷款"]

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),  # everything incl. surrogates excluded, controls included
    st.lists(st.sampled_from(KEYWORDS + ["\u200b", "\u202e", "😀", " ", "\x00", "<b>", "&"]), max_size=40).map("".join),
    st.binary(max_size=2000).map(lambda b: b.decode("utf-8", errors="replace")),
    st.binary(max_size=2000).map(lambda b: b.decode("latin-1")),
)


def assert_valid(text: str) -> None:
    v = DETECTOR.check(text)
    assert v.risk in ("high", "medium", "low", "none")
    assert v.scam == (v.risk in ("high", "medium"))
    assert 0 <= v.score <= 100
    for ev in v.evidence:
        assert 0 <= ev.start < ev.end <= len(text)
        assert text[ev.start:ev.end] == ev.text
    for lang in ("zh-Hans", "zh-Hant", "en"):
        assert len(verdict_reply(v, RULESET, lang)) <= MAX_MESSAGE


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_no_input_crashes_the_matcher(text):
    assert_valid(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalisation_is_consistent(text):
    norm, offsets = normalize_with_offsets(text)
    assert norm == normalize(text)
    assert len(offsets) == len(norm)
    assert offsets == sorted(offsets)
    spans = [(i, i + 1) for i in range(len(norm))] + [(0, len(norm))] * bool(norm)
    assert original_spans(text, spans) == [(offsets[s], offsets[e - 1] + 1) for s, e in spans]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="a通 ，\u200bﬁ①㎏帳", min_size=100, max_size=1500), st.data())
def test_spans_of_long_texts_map_back_wherever_they_are(text, data):
    """Spans near the start, at the end and anywhere between map back alike."""
    norm, offsets = normalize_with_offsets(text)
    if not norm:
        return
    starts = data.draw(st.lists(st.integers(0, len(norm) - 1), min_size=1, max_size=4))
    spans = [(s, data.draw(st.integers(s + 1, min(len(norm), s + 6)))) for s in starts]
    assert original_spans(text, spans) == [(offsets[s], offsets[e - 1] + 1) for s, e in spans]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(KEYWORDS), min_size=1, max_size=5), st.sampled_from(["\u200b", "\u200c", "\u202e", " "]))
def test_invisible_characters_do_not_change_the_verdict(words, junk):
    """Zero-width and bidi characters anywhere, and spaces between Chinese
    characters (English words keep their spaces: they mark word boundaries)."""
    if junk == " ":
        words = [w for w in words if has_cjk(w)] or ["通信管理局"]
    plain = "，".join(words)
    split = "".join(ch + junk for ch in plain)
    a, b = DETECTOR.check(plain), DETECTOR.check(split)
    assert (a.scam, a.risk, a.category, a.score) == (b.scam, b.risk, b.category, b.score)


def test_fixed_hostile_inputs():
    for text in ["", " ", "\x00" * 1000, "😀" * 5000, "通" * 100_000, "a" * 100_000,
                 ("通信管理局安全账户" * 12_000)[:100_000], "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
                 "\u202e\u200b" * 10_000, "<script>alert(1)</script>" * 1000]:
        assert_valid(text)


def test_100kb_of_scam_text_is_still_judged():
    text = ("有人自称通信管理局说我的号码要被冻结让我把钱转到安全账户。" * 4000)[:100_000]
    assert DETECTOR.check(text).scam
