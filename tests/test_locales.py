"""The texts people read live in bot/locales/*.yaml: complete, consistent, idiomatic."""

import string

import pytest

from callguard import i18n

LANGS = i18n.LANGUAGES
_FORMAT = string.Formatter()


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in _FORMAT.parse(text) if name}


def test_there_is_one_file_per_language_and_the_fallback_is_one_of_them():
    assert i18n.FALLBACK in LANGS
    for lang in LANGS:
        assert i18n.table(lang), lang


@pytest.mark.parametrize("lang", LANGS)
def test_every_key_exists_in_every_language(lang):
    assert set(i18n.table(lang)) == set(i18n.table(i18n.FALLBACK))


# A date is written differently per language: each picks what it needs of these.
DATE_FIELDS = {"bulletin.date": {"y", "m", "d", "month"}}


@pytest.mark.parametrize("lang", LANGS)
def test_same_placeholders_in_every_language(lang):
    english = i18n.table("en")
    for key, text in i18n.table(lang).items():
        if key in DATE_FIELDS:
            assert fields(text) <= DATE_FIELDS[key], key
        else:
            assert fields(text) == fields(english[key]), key


@pytest.mark.parametrize("lang", LANGS)
def test_no_empty_texts(lang):
    assert all(text.strip() for text in i18n.table(lang).values())


def test_unknown_language_falls_back_to_english():
    assert i18n.text("bot.welcome", "fr") == i18n.text("bot.welcome", "en")
    assert i18n.language("de") == "en" and i18n.language("zh-Hant") == "zh-Hant"


def test_unknown_key_is_an_error_not_an_empty_reply():
    with pytest.raises(KeyError):
        i18n.text("bot.no.such.key", "en")


def test_escape_and_bold():
    assert i18n.escape("<b>&", True) == "&lt;b&gt;&amp;" and i18n.escape("<b>", False) == "<b>"
    assert i18n.bold("a<b", True) == "<b>a&lt;b</b>" and i18n.bold("a<b", False) == "a<b"


# Mainland words that Taiwan and Hong Kong write differently (the left side must not
# appear in zh-Hant; OpenCC's s2twp phrase profile was the draft, every line reviewed).
MAINLAND = {"短信": "簡訊", "軟件": "軟體", "网络": "網路", "網絡": "網路", "視頻": "影片", "默認": "預設",
            "鏈接": "連結", "屏幕": "螢幕", "賬戶": "帳戶", "賬號": "帳號", "質量": "品質", "領導": "主管",
            "信息": "訊息", "數據庫": "資料庫", "文件": "檔案", "設置": "設定"}


def test_traditional_chinese_reads_as_taiwan_or_hong_kong_chinese():
    offenders = [(key, word) for key, text in i18n.table("zh-Hant").items() for word in MAINLAND if word in text]
    assert offenders == []


def test_no_simplified_only_characters_in_traditional_texts():
    from callguard.detect.language import _script

    for key, text in i18n.table("zh-Hant").items():
        assert [ch for ch in text if _script(ch) < 0] == [], key
