"""Hostile input, property-based, through the real handlers.

One CallGuard application runs for the whole module (real PTB, real handlers,
real SQLite) against the fake Bot API; hypothesis drives it with text no
person would type. For every example:

* the person gets a sensible answer: a verdict, or "please describe the call
  in words" (or the answer of the command they sent);
* nothing reaches the error handler and every Bot API call succeeds;
* whatever we send as HTML is valid Telegram HTML whose only markup is our own
  ``<b>``: user-supplied ``<``/``&`` arrive escaped, and text quoted back from
  the message reads exactly as typed.

Each example uses a fresh user and ends with ``/help`` from that same user:
updates of one user are handled in order, so once ``/help`` is answered the
example's updates are completely handled (no sleeping, no guessing).
"""

from __future__ import annotations

import itertools

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from telegram.ext import CommandHandler, ConversationHandler

from callguard import replies
from callguard.ocr import replies as picture_texts
from callguard.config import Settings
from callguard.detect import detect_language, load_rules
from callguard.detect.normalize import normalize
from callguard.telegram.handlers import MAX_TEXT
from tests.reliability.support import (
    RULES,
    SCAM_EN,
    SCAM_HANS,
    SCAM_HANT,
    headings,
    html_problems,
    live_bot,
    visible_text,
)
from tests.support.fake_bot_api import Call

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = hsettings(max_examples=60, deadline=None, derandomize=False,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

LANGS = replies.LANGUAGES
ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]
HELP = {picture_texts.help_text(lang, reading=False, region=region)  # as any user's region fills it; no pictures
        for lang in LANGS for region in (None, *load_rules(ROOT / "rules" / "scam_patterns.yaml").regions.values())}
NEED_WORDS = {replies.ui("need_words", lang) for lang in LANGS}
# A picture without a caption, on a server that reads no pictures (hostile pictures: tests/test_ocr_image.py)
NEED_WORDS_PICTURE = {replies.ui("need_words", lang) + "\n\n" + picture_texts.text("picture.not_here", lang)
                      for lang in LANGS}
UNKNOWN_COMMAND = {replies.ui("unknown_command", lang) for lang in LANGS}
HEADINGS = headings()
_users = itertools.count(1_000_000)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory):
    settings = Settings(token="", db_path=tmp_path_factory.mktemp("hostile") / "callguard.db", rules_path=RULES,
                        admins=frozenset({42}), secret=b"hostile-input", send_rate=0, detect_workers=0,
                        ocr_workers=0)
    async with live_bot(settings) as live:
        yield live


async def exchange(live, uid: int, *updates: dict, language_code: str = "en") -> list[Call]:
    """Push ``updates`` (from user ``uid``), then /help from the same user; return the
    Bot API calls made for them, the /help answer excluded."""
    api = live.api
    since = api.mark()
    for update in updates:
        api.push_update(update)
    api.push_command("/help", user_id=uid, language_code=language_code)
    help_call = await api.wait_for(
        "sendMessage", lambda c: c.params.get("chat_id") == uid and c.params.get("text") in HELP,
        since=since, timeout=20)
    end = api.requests.index(help_call, since)
    return [c for c in api.requests[since:end] if c.method != "getUpdates"]


BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def check_calls(live, calls: list[Call]) -> None:
    """No error handler call, every API call accepted, every HTML text valid and ours, and no
    bidi control from the user's text in what we send (it would reorder our reply on screen)."""
    assert live.errors.errors == [], live.errors.errors
    for call in calls:
        assert call.ok, call
        text = call.params.get("text")
        if text is not None and call.params.get("parse_mode") == "HTML":
            assert not html_problems(text), (html_problems(text), text)
        if text is not None:
            assert not BIDI_CONTROLS & set(text), text


def messages(calls: list[Call], chat_id: int | None = None) -> list[dict]:
    return [c.params for c in calls if c.method == "sendMessage"
            and (chat_id is None or c.params.get("chat_id") == chat_id)]


def assert_verdict(params: dict) -> str:
    """A verdict: HTML, starts with a bold risk/complaint heading. Returns the visible text."""
    assert params.get("parse_mode") == "HTML", params
    assert not html_problems(params["text"])
    seen = visible_text(params["text"])
    assert seen.split("\n", 1)[0] in HEADINGS, seen[:120]
    return seen


def assert_sensible_reply(text: str, params: dict, *, picture: bool = False) -> None:
    if normalize(text[:MAX_TEXT]):
        assert_verdict(params)
    else:
        assert params["text"] in (NEED_WORDS_PICTURE if picture else NEED_WORDS), params


# --------------------------------------------------------------------------- strategies

# Characters normalisation drops: invisible format characters (zero-width, bidi
# overrides and isolates, BOM), spacing, punctuation and markup.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u202a", "\u202b",
             "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u00ad", "\u3000", "\ufe0f"]
MARKUP = ["<", ">", "&", "</>", "<>", "&&", "&#", "\"", "'", "*", "_", "`", "[", "]", "(", ")", "~", "|",
          "#", " ", "\n", "·", "、", "<!--", "-->", "&;"]
JUNK = st.lists(st.sampled_from(INVISIBLE + MARKUP), min_size=1, max_size=3).map("".join)

INJECTIONS = [
    "<b>bold</b>", "<i>x</i>", "</b>", "<b>", "<a href=\"tg://user?id=1\">me</a>", "<script>alert(1)</script>",
    "&lt;b&gt;", "&amp;", "&", "<", "a < b & c > d", "<code>x", "<pre>", "<tg-spoiler>s</tg-spoiler>",
    "*bold* _it_ [link](http://x.y) `code`", "\\*not bold\\*", "<b", "&#60;b&#62;", "<<b>>", "\u202eevil",
]

text_chars = st.characters(blacklist_categories=("Cs",))
any_text = st.one_of(
    st.text(text_chars, max_size=300),
    st.text(st.sampled_from(list("通信管理局安全账户冻结转钱公安<>&\"'*_`\u200b\u202e 0123456789+")), max_size=80),
    st.lists(st.sampled_from(INJECTIONS + [SCAM_HANS, SCAM_EN, "13800138000", "☎️", "❤️"]), max_size=6).map(" ".join),
).map(lambda t: "x" + t if t.startswith("/") else t)  # commands have their own property

emoji_only = st.lists(st.sampled_from(["😀", "😱", "🙏", "📞", "☎️", "❤️", "👍🏽", "👨‍👩‍👧", "🇨🇳", "#️⃣", "🚨",
                                       "\u200d", " ", "\ufe0f"]), min_size=1, max_size=40).map("".join)

name = st.one_of(st.sampled_from(INJECTIONS), st.text(text_chars, min_size=1, max_size=64))


# Inside an English word only invisible characters are junk: spaces and
# punctuation there are word boundaries ("s afe" is two words).
INVISIBLE_JUNK = st.lists(st.sampled_from([c for c in INVISIBLE if not c.isspace()]), min_size=1,
                          max_size=3).map("".join)


@st.composite
def split_scam(draw):
    """A textbook scam script with junk slipped between (almost) every character."""
    base = draw(st.sampled_from([SCAM_HANS, SCAM_HANT, SCAM_EN]))
    out = []
    for i, ch in enumerate(base):
        out.append(ch)
        if draw(st.integers(0, 2)):
            inside_word = ch.isascii() and ch.isalnum() and base[i + 1: i + 2].isalnum()
            out.append(draw(INVISIBLE_JUNK if inside_word else JUNK))
    return base, "".join(out)


# --------------------------------------------------------------------------- properties


@EXAMPLES
@given(case=split_scam(), language_code=st.sampled_from(["en", "zh-hans", "zh-hant", None]))
async def test_keywords_split_by_invisible_or_markup_characters_are_still_detected(live, case, language_code):
    base, text = case
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid, language_code=language_code))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    seen = assert_verdict(params)
    lang = detect_language(text, default={"zh-hans": "zh-Hans", "zh-hant": "zh-Hant"}.get(language_code, "en"))
    assert seen.startswith(replies.ui("risk.high", lang)), seen[:100]
    expected = live.guard.detector.check(base)
    verdict = live.guard.detector.check(text)
    assert (verdict.risk, verdict.category) == (expected.risk, expected.category)
    # What we quote back from the message reads exactly as typed (markup included), i.e. escaped;
    # only whitespace is tidied the way the reply tidies it (a line break inside Chinese goes).
    for ev in verdict.evidence[:1]:
        quoted = replies._quote(ev.text)[1:-1].rstrip("…")[:30]
        assert quoted in seen, (quoted, seen)


@EXAMPLES
@given(text=any_text, language_code=st.sampled_from(["en", "zh-hans", "ar", None]))
async def test_any_text_gets_one_sensible_reply(live, text, language_code):
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid, language_code=language_code))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert_sensible_reply(text, params)


@EXAMPLES
@given(text=any_text, surrogates=st.lists(st.integers(0xD800, 0xDFFF).map(chr), min_size=1, max_size=3),
       at=st.integers(0, 300))
async def test_lone_surrogates_are_read_as_replacement_characters(live, text, surrogates, at):
    """JSON can carry a lone surrogate ("\\ud800"); Python decodes it into text it cannot
    encode again (to store the report, to send the reply). Read as U+FFFD: a normal reply."""
    text = SCAM_HANS + text[:at] + "".join(surrogates) + text[at:]
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert_verdict(params)


@EXAMPLES
@given(text=emoji_only)
async def test_emoji_only_asks_for_words(live, text):
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert params["text"] in NEED_WORDS, (text, params)


@EXAMPLES
@given(first=name, last=st.none() | name, username=st.none() | name,
       text=st.sampled_from([SCAM_HANS, "hello", "/start", "/privacy", "/lang", "/forget", "/report"]))
async def test_hostile_names_are_never_reflected_as_markup(live, first, last, username, text):
    uid = next(_users)
    update = live.api.make_message(text, user_id=uid, first_name=first, last_name=last, username=username)
    calls = await exchange(live, uid, update)
    check_calls(live, calls)
    sent = messages(calls, uid)
    assert sent, calls
    ours_removed = [p["text"].replace("<b>", "\0").replace("</b>", "\0") for p in sent]
    for payload in {first, last, username} - {None}:
        if "<" in payload and len(payload) > 1:  # names are never echoed, let alone as markup
            assert all(payload not in text for text in ours_removed), payload


NON_TEXT = {
    "photo": {"photo": [{"file_id": "AgADphoto", "file_unique_id": "p1", "width": 90, "height": 90}]},
    "voice": {"voice": {"file_id": "AwADvoice", "file_unique_id": "v1", "duration": 3, "mime_type": "audio/ogg"}},
    "audio": {"audio": {"file_id": "CQADaudio", "file_unique_id": "a1", "duration": 30}},
    "video": {"video": {"file_id": "BAADvideo", "file_unique_id": "vi1", "width": 1, "height": 1, "duration": 1}},
    "video_note": {"video_note": {"file_id": "DQADnote", "file_unique_id": "n1", "length": 240, "duration": 2}},
    "sticker": {"sticker": {"file_id": "CAADsticker", "file_unique_id": "s1", "type": "regular", "width": 512,
                            "height": 512, "is_animated": False, "is_video": False, "emoji": "😀"}},
    "location": {"location": {"latitude": 31.2304, "longitude": 121.4737}},
    "venue": {"venue": {"location": {"latitude": 31.2, "longitude": 121.4}, "title": "<b>x</b>",
                        "address": "&amp;"}},
    "contact": {"contact": {"phone_number": "+8613800138000", "first_name": "<i>Mum</i>", "user_id": 5}},
    "dice": {"dice": {"emoji": "🎲", "value": 4}},
    "document": None,  # built with make_document: a file the bot could download
}
CAPTIONED = ("photo", "video", "audio", "voice", "document")


@EXAMPLES
@given(kind=st.sampled_from(sorted(NON_TEXT)), caption=st.none() | st.sampled_from([SCAM_HANS, "<b>x</b> &", "🙏"]),
       file_name=st.sampled_from(["rules.yaml", "scam.txt", "photo.jpg"]))
async def test_messages_without_text_ask_for_words(live, kind, caption, file_name):
    uid = next(_users)  # never an admin: a .yaml document is not a rule upload here
    if caption is not None and kind not in CAPTIONED:
        caption = None
    if kind == "document":
        update = live.api.make_document(file_name, b"rules: []\n", caption=caption, user_id=uid)
    else:
        extra = dict(NON_TEXT[kind])
        if caption is not None:
            extra["caption"] = caption
        update = live.api.make_message(None, user_id=uid, extra=extra)
    calls = await exchange(live, uid, update)
    check_calls(live, calls)
    [params] = messages(calls, uid)
    picture = kind == "photo" or (kind == "document" and file_name.endswith(".jpg"))
    assert_sensible_reply(caption or "", params, picture=picture)
    assert not any(c.method == "getFile" for c in calls)  # nothing downloaded for a non-admin


CALLBACK_DATA = st.one_of(
    st.none(),
    st.text(text_chars, max_size=64).filter(lambda s: len(s.encode()) <= 64),
    st.tuples(st.sampled_from(list("mfhwlrx") + ["", "zz", "h:", "m:"]),
              st.one_of(st.from_regex(r"-?\d{0,25}", fullmatch=True), st.sampled_from(
                  ["y", "n", "en", "zh-Hans", "../../etc", "<b>", "", "0", "impersonate_authority", "x" * 62]),
                        st.text(text_chars, max_size=20)))
    .map(lambda t: f"{t[0]}:{t[1]}")
    .filter(lambda s: len(s.encode()) <= 64),
)


@EXAMPLES
@given(data=CALLBACK_DATA, inline=st.booleans())
async def test_malformed_callback_data_is_answered_and_harmless(live, data, inline):
    uid = next(_users)
    if inline:
        update = live.api.make_callback(data, user_id=uid, inline_message_id=f"inline-{uid}")
    else:
        update = live.api.make_callback(data, user_id=uid, message_id=1)  # a message of ours they "clicked"
    query_id = update["callback_query"]["id"]
    calls = await exchange(live, uid, update)
    check_calls(live, calls)
    answers = [c for c in calls if c.method == "answerCallbackQuery"]
    assert [c.params["callback_query_id"] for c in answers] == [query_id], calls


@EXAMPLES
@given(first=any_text, edited=any_text)
async def test_edited_messages_are_judged_again(live, first, edited):
    uid = next(_users)
    original = live.api.make_message(first, user_id=uid)
    edit = live.api.make_edited_message(edited, message=original["message"])
    calls = await exchange(live, uid, original, edit)
    check_calls(live, calls)
    sent = messages(calls, uid)
    assert len(sent) == 2, sent
    assert_sensible_reply(first, sent[0])
    assert_sensible_reply(edited, sent[1])


def registered_commands(app) -> set[str]:
    handlers = [h for group in app.handlers.values() for h in group]
    handlers += [e for h in handlers if isinstance(h, ConversationHandler) for e in h.entry_points]
    return {cmd for h in handlers if isinstance(h, CommandHandler) for cmd in h.commands}


@EXAMPLES
@given(command=st.from_regex(r"[a-z0-9_]{1,32}", fullmatch=True),
       mention=st.sampled_from(["", "@callguard_test_bot"]), args=st.sampled_from(["", " <b>x</b>", " &amp; 1"]))
async def test_unknown_commands_get_a_pointer_to_help(live, command, mention, args):
    if command in registered_commands(live.app):
        return
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_command(f"/{command}{mention}{args}", user_id=uid))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert params["text"] in UNKNOWN_COMMAND


@EXAMPLES
@given(text=any_text, chat_type=st.sampled_from(["group", "supergroup"]))
async def test_group_messages_never_break_the_bot(live, text, chat_type):
    uid = next(_users)
    update = live.api.make_message(text, user_id=uid, chat_type=chat_type, chat_id=-5_000_000 - uid)
    calls = await exchange(live, uid, update)
    check_calls(live, calls)
    for params in messages(calls, -5_000_000 - uid):  # silence, or a verdict for a clear scam
        assert_verdict(params)


# --------------------------------------------------------------------------- named cases


async def test_zero_width_joiners_inside_a_keyword_do_not_hide_it(live):
    uid = next(_users)
    text = "有人自称通\u200c信\u200c管\u200c理\u200c局，说我的号码要被冻结，让我把钱转到安全账户"
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid, language_code="zh-hans"))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    seen = assert_verdict(params)
    assert seen.startswith(replies.ui("risk.high", "zh-Hans"))
    verdict = live.guard.detector.check(text)
    assert verdict.category == "impersonate_authority"
    assert any(normalize(ev.text) == "通信管理局" for ev in verdict.evidence)


async def test_100_kb_of_text_is_judged_on_its_start_and_stored_cut(live):
    uid = next(_users)
    text = SCAM_HANS + ("，" + "我不知道该怎么办" * 20) * 500
    assert len(text.encode()) > 100_000
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid, language_code="zh-hans"))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert visible_text(params["text"]).startswith(replies.ui("risk.high", "zh-Hans"))
    assert len(params["text"]) <= replies.MAX_MESSAGE
    rows = await live.guard.writer.store.export_rows(0)
    [row] = [r for r in rows if r["text"].startswith(SCAM_HANS + "，我不知道")]
    assert len(row["text"]) == MAX_TEXT


async def test_100_kb_of_emoji_asks_for_words(live):
    uid = next(_users)
    text = "😱🙏📞" * 9000
    assert len(text.encode()) > 100_000
    calls = await exchange(live, uid, live.api.make_message(text, user_id=uid))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert params["text"] in NEED_WORDS


async def test_empty_text_asks_for_words(live):
    uid = next(_users)
    calls = await exchange(live, uid, live.api.make_message("", user_id=uid))
    check_calls(live, calls)
    [params] = messages(calls, uid)
    assert params["text"] in NEED_WORDS


async def test_no_update_ever_reached_the_error_handler(live):
    assert live.errors.errors == []
    assert live.app.running
