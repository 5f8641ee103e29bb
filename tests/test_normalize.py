from callguard.detect.language import detect_language, from_language_code
from callguard.detect.normalize import normalize, normalize_with_offsets, original_spans, pinyin_alias


def test_traditional_folds_to_simplified():
    assert normalize("通訊管理局說您的帳戶將被凍結") == normalize("通讯管理局说您的账户将被冻结")


def test_zh_variant_zhang_folds():
    assert normalize("安全帐户") == normalize("安全账户") == "安全账户"


def test_traditional_forms_opencc_leaves_alone_fold_too():
    """OpenCC keeps 著, 瞭, 衹 and Taiwan's 妳 (each is also a Simplified character or form), so a
    rule written "照着", "了解", "只要", "你的账户" would miss them."""
    assert normalize("照著做") == normalize("照着做")
    assert normalize("瞭解") == normalize("了解") and normalize("衹要") == normalize("只要")
    assert normalize("妳的帳戶") == normalize("你的账户")


def test_variant_forms_opencc_does_not_know_fold_too():
    """Hong Kong writes 衞生署 (the Department of Health) with 衞, which OpenCC leaves as it is."""
    assert normalize("自稱衞生署職員") == normalize("自称卫生署职员")
    assert normalize("吿訴我") == normalize("告诉我") and normalize("囘覆") == normalize("回覆")


def test_fullwidth_digits_and_letters_become_ascii():
    assert normalize("ＡＢＣ１２３") == "abc123"


def test_case_folding_and_english_word_boundaries():
    assert normalize("Safe ACCOUNT") == normalize("safe account") == normalize("safe,   account!!")
    assert normalize("safe account").count(" ") == 1


def test_english_words_take_one_form():
    """Inflections, SMS spellings and irregular forms meet their base form."""
    assert normalize("transferred") == normalize("transferring") == normalize("transfers") == normalize("transfer")
    assert normalize("pls send ur acct no") == normalize("please send your account no")
    assert normalize("I paid them") == normalize("I pay them")
    assert normalize("don't tell Mum") == normalize("do not tell mom")


def test_short_scam_words_misspelled_in_a_hurry_meet_their_word():
    """Too short for the one-typo tolerance, so they are spelled out."""
    assert normalize("in jale, needs bale mony") == normalize("in jail, needs bail money")
    assert normalize("they will arest me, pay with gift crads") == normalize("they will arrest me, pay with gift cards")
    assert normalize("jail") != normalize("jade")


def test_malay_as_it_is_texted_meets_its_words():
    """A rule that says "dapat" or "bayar" reads "dpt" and "byr" too."""
    assert normalize("sy dpt call, dia ckp kena byr dlm 3 hari") == normalize("saya dapat call, dia cakap kena bayar dalam 3 hari")


def test_english_stems_do_not_collide_with_malay_or_other_rule_words():
    """"naked" is not Malay "nak" (want), "make" not "mak" (mother), "take" not "tak" (not),
    "code" not "cod" (cash on delivery), "note" not "not"; each still meets its own inflections."""
    for english, other in (("naked", "nak"), ("make", "mak"), ("take", "tak"), ("code", "cod"),
                           ("note", "not"), ("wine", "win"), ("care", "car"), ("here", "her"), ("come", "com")):
        assert normalize(english) != normalize(other), english
    assert normalize("making") == normalize("made") == normalize("make")
    assert normalize("took") == normalize("taking") == normalize("take")
    assert normalize("codes") == normalize("code")


def test_spaces_go_between_chinese_and_stay_around_english_words():
    """Every English word stands between spaces, however it was typed."""
    assert normalize("加我 wechat 好友") == normalize("加我wechat好友") == "加我 wechat 好友"
    assert normalize("通 信 管 理 局") == "通信管理局"
    assert normalize("$ 500") == normalize("$500")


def test_whitespace_punctuation_and_emoji_removed():
    assert normalize(" 安全，账户！ 😀 \n\t") == "安全账户"


def test_zero_width_and_bidi_characters_cannot_split_keywords():
    hidden = "通\u200c信\u200b管\u200d理\ufeff局\u202e"
    assert normalize(hidden) == "通信管理局"


def test_control_characters_removed():
    assert normalize("安\x00全\x07账\x1b户") == "安全账户"


def test_empty_and_symbol_only_text():
    assert normalize("") == ""
    assert normalize("!!! ??? 🙂🙂") == ""


def test_offsets_point_back_into_the_original_text():
    text = "喂 通 信，管理局！"
    norm, offsets = normalize_with_offsets(text)
    assert norm == "喂通信管理局"
    assert len(offsets) == len(norm)
    start = norm.index("通信")
    assert text[offsets[start]] == "通"
    assert text[offsets[start + 1]] == "信"
    assert offsets == sorted(offsets)


def test_offsets_agree_with_fast_path():
    text = "ＡＢ 帳戶 ß é 😀 ﬁ"
    assert normalize_with_offsets(text)[0] == normalize(text)


def test_pinyin_alias():
    assert pinyin_alias("通信管理局") == "tongxinguanliju"
    assert pinyin_alias("abc") == ""
    assert pinyin_alias("") == ""


def test_language_detection():
    assert detect_language("有人说我的号码要被冻结") == "zh-Hans"
    assert detect_language("有人說我的號碼要被凍結") == "zh-Hant"
    assert detect_language("someone said my number will be frozen") == "en"
    assert detect_language("13800138000", default="zh-Hant") == "zh-Hant"


def test_telegram_language_codes():
    assert from_language_code("zh-hans") == "zh-Hans"
    assert from_language_code("zh-TW") == "zh-Hant"
    assert from_language_code("zh-hk") == "zh-Hant"
    assert from_language_code("zh") == "zh-Hans"
    assert from_language_code("en-US") == "en"
    assert from_language_code(None) == "en"


def test_original_spans_agree_with_offsets():
    text = "昨天 通 信\u200b管理局 說：Ｐolice！😀 ok"
    norm, offsets = normalize_with_offsets(text)
    spans = [(s, e) for s in range(len(norm)) for e in range(s + 1, len(norm) + 1)]
    assert original_spans(text, spans) == [(offsets[s], offsets[e - 1] + 1) for s, e in spans]
    assert original_spans(text, []) == []


# -- the run-by-run normalize_with_offsets equals the steps applied one by one

import re  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from callguard.detect import normalize as normalize_module  # noqa: E402
from callguard.detect.words import FORMS  # noqa: E402


def _sub_tracked(pattern, replace, text, offsets):
    """``pattern.sub(replace, text)`` and the offsets of the result: a
    replacement's j-th character comes from the j-th replaced one (the last
    one for any beyond); an insertion from the character before it."""
    parts, out, done = [], [], 0
    for m in pattern.finditer(text):
        start, end = m.span()
        new = replace(m)
        if new == m.group():
            continue
        parts.append(text[done:start])
        out += offsets[done:start]
        parts.append(new)
        if len(new) <= end - start:
            out += offsets[start:start + len(new)]
        else:
            out += offsets[start:end] + [offsets[end - 1]] * (len(new) - (end - start))
        done = end
    parts.append(text[done:])
    out += offsets[done:]
    return "".join(parts), out


def reference_with_offsets(text):
    """The module docstring's steps, one regular expression at a time."""
    pieces = [normalize_module.fold(ch) for ch in text]
    t = "".join(pieces)
    offsets = [i for i, piece in enumerate(pieces) for _ in piece]
    t, offsets = _sub_tracked(normalize_module._TYPO_RE, lambda m: normalize_module._TYPOS[m.group()], t, offsets)
    spaced = normalize_module.SPACED
    t, offsets = _sub_tracked(re.compile(" {2,}"), lambda m: " ", t, offsets)
    t, offsets = _sub_tracked(re.compile(f"(?<![{spaced}]) | (?![{spaced}])"), lambda m: "", t, offsets)
    t, offsets = _sub_tracked(re.compile(f"(?<=[{spaced}])(?=[^{spaced} ])|(?<=[^{spaced} ])(?=[{spaced}])"),
                              lambda m: " ", t, offsets)
    return _sub_tracked(re.compile(f"[{spaced}]+"), lambda m: FORMS[m.group()], t, offsets)


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(), st.text(alphabet="ab 1通信 ，\u200bﬁ①㎏帳ÉßIİ'’u", max_size=60),
                 st.text(alphabet="通信  ，\u200b帳’。\u3000", max_size=60),  # no word: squeeze_words' shortcut
                 st.lists(st.sampled_from(["im", "u", "pls", "transferred", " ", "通信", "ﬁ", "，", "$5", "Ⅻ", "保正", "金",
                                           "冻潔", "檢查院"]),
                          max_size=20).map("".join)))
def test_offsets_are_those_of_the_steps_applied_one_by_one(text):
    assert normalize_with_offsets(text) == reference_with_offsets(text)
    assert normalize(text) == reference_with_offsets(text)[0]


def test_homophone_typos_of_scam_words_are_spelled_right_with_offsets_kept():
    # Written with a pinyin keyboard in a hurry: the wrong character of the same sound.
    assert normalize("将冻洁您名下账护") == normalize("将冻结您名下账户")
    assert normalize("檢查院的通緝令") == normalize("检察院的通缉令")  # Traditional, then the typo
    assert normalize("百万保章") == normalize("百万保障")
    assert normalize("公安据说看通济令，这事要保秘") == normalize("公安局说看通缉令，这事要保密")
    assert normalize("身分证被冒用") == normalize("身份证被冒用")  # the Taiwanese form too
    assert normalize("他把我封瑣了") == normalize("他把我封锁了")
    text = "请把验正码告诉课服"
    folded, offsets = normalize_with_offsets(text)
    assert folded == normalize("请把验证码告诉客服") and offsets == list(range(len(text)))
    assert normalize("其中将有三人") == "其中将有三人"  # a real word stays: "中将" is never read as 中奖
