"""What the user reads about pictures, in Simplified Chinese, Traditional Chinese and English.

Kept together in one table so it can move with the other bot texts; the verdict
itself is the same reply as for a typed description (:mod:`callguard.replies`),
with the picture's lines that gave the scam away quoted in it.
"""

from __future__ import annotations

import html as _html
from typing import Sequence

from ..replies import lookup, ui
from .text import Judged, quoted_lines, shorten

__all__ = ["text", "picture_block", "picture_part", "help_text", "privacy_text", "REJECTED_KEYS"]

SHOWN_WHEN_NOTHING_MATCHED = 2  # lines shown from a picture that gave nothing away

_TEXTS: dict[str, dict[str, str]] = {
    "zh-Hans": {
        "picture.quoted": "图片里露出破绽的话",
        "picture.read": "我从图片里读到",
        "picture.caption_only": "这张图片里没有找到文字，下面只根据你写的话判断。",
        "picture.no_text": "我在这张图片里没有找到文字。请把短信或聊天内容打字发给我：对方自称是谁、说了什么、要你做什么。",
        "picture.not_here": "这台服务器读不了图片里的字，请把短信或聊天内容打字发给我。",
        "picture.not_here_caption": "这台服务器读不了图片里的字，下面只根据你写的话判断。",
        "picture.too_big": "这张图片太大了，读不了。请只截取短信或聊天那一段再发，或者直接打字告诉我内容。",
        "picture.too_long": "这张长截图太长了，读不了。请只截取可疑的那一段再发，或者直接打字告诉我内容。",
        "picture.unreadable": "这张图片打不开。请发普通截图（JPG 或 PNG），或者直接打字告诉我内容。",
        "picture.failed": "抱歉，这张图片没能读出来。请再发一次，或者直接打字告诉我内容。如果情况紧急，请直接打110。",
        "picture.busy": "现在要读的图片太多，请一分钟后再发，或者直接打字告诉我内容。如果正在被骗，请马上打110。",
        "picture.rate_limited": "你发的图片有点多，请稍等几分钟再发，或者直接打字告诉我内容。如果正在被骗，请马上打110。",
        "help.pictures": "也可以直接发短信或聊天记录的截图，我会读出上面的字再判断。",
        "help.voice": "语音消息我还听不了，请打字告诉我对方说了什么。",
        "privacy.pictures": "你发来的图片：只保存从图片里读出的文字，并注明来自图片；图片本身不保存。",
    },
    "zh-Hant": {
        "picture.quoted": "圖片裡露出破綻的話",
        "picture.read": "我從圖片裡讀到",
        "picture.caption_only": "這張圖片裡沒有找到文字，以下只根據你寫的話判斷。",
        "picture.no_text": "我在這張圖片裡沒有找到文字。請把簡訊或聊天內容打字傳給我：對方自稱是誰、說了什麼、要你做什麼。",
        "picture.not_here": "這台伺服器無法讀取圖片裡的文字，請把簡訊或聊天內容打字傳給我。",
        "picture.not_here_caption": "這台伺服器無法讀取圖片裡的文字，以下只根據你寫的話判斷。",
        "picture.too_big": "這張圖片太大了，無法讀取。請只截取簡訊或聊天那一段再傳，或者直接打字告訴我內容。",
        "picture.too_long": "這張長截圖太長了，無法讀取。請只截取可疑的那一段再傳，或者直接打字告訴我內容。",
        "picture.unreadable": "這張圖片打不開。請傳一般的截圖（JPG 或 PNG），或者直接打字告訴我內容。",
        "picture.failed": "抱歉，這張圖片沒能讀出來。請再傳一次，或者直接打字告訴我內容。如果情況緊急，請直接報警。",
        "picture.busy": "現在要讀的圖片太多，請一分鐘後再傳，或者直接打字告訴我內容。如果正在被騙，請馬上報警。",
        "picture.rate_limited": "你傳的圖片有點多，請稍等幾分鐘再傳，或者直接打字告訴我內容。如果正在被騙，請馬上報警。",
        "help.pictures": "也可以直接傳簡訊或聊天紀錄的截圖，我會讀出上面的字再判斷。",
        "help.voice": "語音訊息我還聽不了，請打字告訴我對方說了什麼。",
        "privacy.pictures": "你傳來的圖片：只保存從圖片裡讀出的文字，並註明來自圖片；圖片本身不保存。",
    },
    "en": {
        "picture.quoted": "In your picture",
        "picture.read": "What I read in your picture",
        "picture.caption_only": "I found no words in this picture, so this answer is about what you wrote only.",
        "picture.no_text": "I found no words in this picture. Please type what the message said: who they said they were, "
                           "what they said, what they asked you to do.",
        "picture.not_here": "This server cannot read pictures. Please type the words of the message.",
        "picture.not_here_caption": "This server cannot read pictures, so this answer is about what you wrote only.",
        "picture.too_big": "This picture is too large to read. Please send a screenshot of just the message, "
                           "or type what it said.",
        "picture.too_long": "This screenshot is too long to read. Please send just the suspicious part, or type "
                            "what it said.",
        "picture.unreadable": "I could not open this picture. Please send an ordinary screenshot (JPG or PNG), or "
                              "type what it said.",
        "picture.failed": "Sorry, I could not read this picture. Please send it again, or type what it said. If it "
                          "is urgent, call the police.",
        "picture.busy": "I have too many pictures to read right now. Please send it again in a minute, or type what "
                        "it said. If you are being scammed right now, call the police.",
        "picture.rate_limited": "You have sent a lot of pictures; please wait a few minutes, or type what the "
                                "message said. If you are being scammed right now, call the police.",
        "help.pictures": "You can also send a screenshot of the text message or chat; I'll read the words in it.",
        "help.voice": "I can't listen to voice messages yet: please type what was said.",
        "privacy.pictures": "For pictures you send, we keep only the text read from them, marked as coming from a "
                            "picture; never the picture itself.",
    },
}

# ImageRejected.reason -> the text that explains it
REJECTED_KEYS = {"too_big": "picture.too_big", "too_long": "picture.too_long",
                 "not_an_image": "picture.unreadable", "unreadable": "picture.unreadable"}


def text(key: str, lang: str) -> str:
    """A text about pictures in ``lang`` (English for an unknown language)."""
    return lookup(_TEXTS, key, lang)


def picture_block(lines: Sequence[str], lang: str, *, quoted: bool, html: bool = True) -> str:
    """The quoted lines of a picture under their heading, for the verdict reply.

    ``quoted`` lines gave a scam away ("In your picture"); otherwise they are
    simply what was read ("What I read in your picture"), so the person can see
    whether the picture was read right before trusting a reassuring answer."""
    heading = text("picture.quoted" if quoted else "picture.read", lang)
    body = "\n".join(f"“{line}”" for line in lines)
    if html:
        return f"<b>{_html.escape(heading, quote=False)}</b>\n{_html.escape(body, quote=False)}"
    return f"{heading}\n{body}"


def picture_part(judged: Judged, verdict, lang: str, *, html: bool = True) -> str | None:
    """The picture's part of the verdict reply, or None when nothing was read.

    The lines holding the verdict's evidence are quoted; when the picture gave
    nothing away, its wordiest lines are shown instead, so that a reassuring
    answer also shows what it was based on (a misread picture is visible)."""
    if not judged.lines:
        return None
    lines = quoted_lines(judged, verdict.evidence)
    if lines:
        return picture_block(lines, lang, quoted=verdict.scam, html=html)
    wordiest = sorted(range(len(judged.lines)),  # letters and characters, not a status bar's digits
                      key=lambda i: -sum(c.isalpha() for c in judged.lines[i]))[:SHOWN_WHEN_NOTHING_MATCHED]
    shown = [judged.lines[i] for i in sorted(wordiest)]
    return picture_block([shorten(line) for line in shown], lang, quoted=False, html=html)


def help_text(lang: str, *, reading: bool) -> str:
    """/help: the bot's help, with what it does with pictures (``reading``: this server
    reads them) and voice messages (it cannot: no offline speech model is installable)."""
    first, _, rest = ui("help", lang).partition("\n\n")
    extra = ([text("help.pictures", lang)] if reading else []) + [text("help.voice", lang)]
    return "\n\n".join([first, "\n".join(extra), rest] if rest else [first, "\n".join(extra)])


def privacy_text(lang: str, *, days: int) -> str:
    """/privacy: what is kept, with what is kept of a picture (its text, never the picture)."""
    first, _, rest = ui("privacy", lang, days=days).partition("\n")
    return "\n".join([first, text("privacy.pictures", lang)] + ([rest] if rest else []))
