"""Phone screenshots made with Pillow, for the OCR tests and bench/bench_ocr.py.

People forward a screenshot of the scam SMS or chat rather than retyping it. These
pictures imitate that: a status bar (time, signal, battery), a title bar with the
sender, the message in bubbles (an SMS app, or a chat app with green bubbles), or a
printed notice; light, tinted or dark background, different phone widths, PNG or
lightly compressed JPEG. The texts are written for this project (never taken from the
evaluation data): scam and benign SMS and chat messages in Simplified Chinese,
Traditional Chinese and English.

Every text is drawn with a CJK font from the system (Debian: fonts-wqy-microhei or
fonts-noto-cjk; .ci/run installs the first). :func:`cjk_font_path` is None where
there is none, and the tests that need one skip with that reason.
"""

from __future__ import annotations

import io
import random
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

__all__ = ["Sample", "SAMPLES", "Screenshot", "Style", "cjk_font_path", "render", "styles"]

# Fonts with Simplified and Traditional Chinese glyphs, as Debian installs them.
_FONT_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


def cjk_font_path() -> Path | None:
    """The first installed font with CJK glyphs, or None."""
    return next((Path(p) for p in _FONT_PATHS if Path(p).is_file()), None)


@dataclass(frozen=True)
class Sample:
    id: str
    lang: str  # zh-Hans | zh-Hant | en
    scam: bool  # what a person reading it would say
    kind: str  # sms | chat | notice
    sender: str
    text: str


# Written for these tests; the shipped rules judge each one as ``scam`` says.
SAMPLES: tuple[Sample, ...] = (
    Sample("sms-freeze-hans", "zh-Hans", True, "sms", "10655 0231",
           "【通信管理局】您的手机号码涉嫌发送违法短信，将在2小时内停机冻结。请立即回电，我们将为您转接公安机关处理。"),
    Sample("sms-refund-hans", "zh-Hans", True, "sms", "+86 171 2290 4471",
           "您好，我是淘宝客服，您购买的商品有质量问题，我们为您办理双倍理赔退款，请提供银行卡号和收到的验证码。"),
    Sample("sms-etc-hans", "zh-Hans", True, "sms", "106 9027 7310",
           "【ETC服务】您的ETC认证已失效，请点击 http://etc-renzheng.cn 重新认证，逾期将无法通行。"),
    Sample("chat-task-hans", "zh-Hans", True, "chat", "兼职小助手",
           "兼职刷单，动动手指每天赚300元，先垫付后返佣金，做完任务立刻返利，加我QQ详聊。"),
    Sample("chat-boss-hans", "zh-Hans", True, "chat", "王总",
           "我是你领导，这是我的新号码。我在开会不方便接电话，你先帮我转五万块给这个账户，回头给你。"),
    Sample("notice-police-hans", "zh-Hans", True, "notice", "",
           "这里是市公安局，你的身份证涉嫌一起洗钱案，需要把资金转入安全账户配合调查，不要告诉任何人。"),
    Sample("sms-parcel-hans", "zh-Hans", False, "sms", "95338",
           "【顺丰速运】您的快件已到达小区驿站，请凭取件码 3-2-1108 于今日取件。"),
    Sample("chat-mum-hans", "zh-Hans", False, "chat", "妈妈", "妈，我周末回家吃饭，帮我留点饺子，周六下午到。"),
    Sample("sms-freeze-hant", "zh-Hant", True, "sms", "+886 912 345 078",
           "【通訊管理局】您的電話號碼涉嫌發送違法簡訊，將於兩小時內停機凍結。請立即回電，我們將為您轉接警察局處理。"),
    Sample("chat-invest-hant", "zh-Hant", True, "chat", "陳老師",
           "老師帶你投資股票，保證穩賺不賠，每天獲利百分之二十，加入我們的LINE群組就能跟單。"),
    Sample("chat-kid-hant", "zh-Hant", True, "chat", "小明",
           "媽，我是小明，我換了新號碼。我出車禍了，現在急需一筆錢，你先匯五萬到這個帳戶，別告訴爸爸。"),
    Sample("sms-clinic-hant", "zh-Hant", False, "sms", "健康診所",
           "【健康診所】提醒您明天下午三點回診，請攜帶健保卡，如需改期請來電。"),
    Sample("chat-dinner-hant", "zh-Hant", False, "chat", "阿華", "今晚一起吃火鍋嗎？我訂了七點的位子，在捷運站旁邊。"),
    Sample("sms-freeze-en", "en", True, "sms", "+44 7700 900431",
           "This is the communications administration. Your number has sent illegal messages and will be "
           "frozen in 2 hours. Press 1 to speak to the police."),
    Sample("sms-parcel-en", "en", True, "sms", "Royal Mail",
           "Royal Mail: your parcel is held due to unpaid shipping fee. Pay 1.99 GBP at "
           "https://royalmail-redelivery.com within 24 hours."),
    Sample("chat-bank-en", "en", True, "chat", "Bank Security",
           "Your bank account has been compromised. To protect your savings, move your money to a safe "
           "account and tell us the code we send you."),
    Sample("sms-dentist-en", "en", False, "sms", "Smile Dental",
           "Reminder: your dental appointment is on Tuesday at 3pm. Reply C to confirm or call us to reschedule."),
    Sample("chat-dinner-en", "en", False, "chat", "Dad",
           "Hi Dad, I'll be home around seven. Shall I pick up some bread on the way?"),
)


@dataclass(frozen=True)
class Style:
    """How one screenshot looks. :func:`styles` draws a varied set from a seed."""

    width: int = 1080  # pixels; phones are 720-1290 wide
    dark: bool = False
    status_bar: bool = True
    jpeg_quality: int | None = None  # None = PNG; 70-92 is Telegram-like compression
    font_scale: float = 1.0  # 1.0 = 16 sp on a 1080-pixel-wide phone
    background: tuple[int, int, int] | None = None  # a chat wallpaper colour (light mode); None = the app's own


@dataclass(frozen=True)
class Screenshot:
    data: bytes  # the encoded picture, as a user would send it
    mime_type: str
    size: tuple[int, int]
    lines: tuple[str, ...]  # every line of text drawn, top to bottom (what OCR should read)
    body: str  # the message itself, as one string (what the person would have typed)


@lru_cache(maxsize=64)
def _font(size: int):
    from PIL import ImageFont

    path = cjk_font_path()
    if path is None:
        raise RuntimeError("no CJK font installed (apt-get install fonts-wqy-microhei)")
    return ImageFont.truetype(str(path), size)


def _wrap(text: str, font, max_width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width``: between words for
    Latin text, between any two characters for Chinese (as phones do)."""
    if text.isascii():
        lines: list[str] = []
        for chunk in textwrap.wrap(text, width=200):
            line = ""
            for word in chunk.split(" "):
                candidate = f"{line} {word}" if line else word
                if font.getlength(candidate) <= max_width or not line:
                    line = candidate
                else:
                    lines.append(line)
                    line = word
            lines.append(line)
        return lines
    lines, line = [], ""
    for char in text:
        if font.getlength(line + char) > max_width and line:
            lines.append(line)
            line = char.lstrip()
        else:
            line += char
    if line:
        lines.append(line)
    return lines


def _status_bar(draw, width: int, scale: float, fg, clock: str) -> str:
    """Time on the left; signal bars, network, battery level and icon on the right."""
    font = _font(round(40 * scale))
    y = round(22 * scale)
    draw.text((round(48 * scale), y), clock, font=font, fill=fg)
    x = width - round(48 * scale)
    battery_w, battery_h = round(64 * scale), round(30 * scale)
    draw.rounded_rectangle((x - battery_w, y + 6, x, y + 6 + battery_h), radius=6, outline=fg, width=3)
    draw.rectangle((x - battery_w + 5, y + 11, x - battery_w + 5 + round(battery_w * 0.6), y + 1 + battery_h), fill=fg)
    x -= battery_w + round(16 * scale)
    level = "76%"
    x -= round(font.getlength(level))
    draw.text((x, y), level, font=font, fill=fg)
    x -= round(30 * scale)
    for i in range(4):  # signal strength bars
        bar_h = round((10 + 7 * i) * scale)
        draw.rectangle((x - (4 - i) * round(14 * scale), y + round(38 * scale) - bar_h,
                        x - (4 - i) * round(14 * scale) + round(9 * scale), y + round(38 * scale)), fill=fg)
    return f"{clock} {level}"


def render(sample: Sample, style: Style = Style()) -> Screenshot:
    """Draw ``sample`` as a phone screenshot in ``style``."""
    from PIL import Image, ImageDraw

    width = style.width
    scale = width / 1080
    text_size = round(46 * scale * style.font_scale)
    font, small = _font(text_size), _font(round(36 * scale))
    if style.dark:
        page, fg, muted = (17, 17, 19), (236, 236, 236), (150, 150, 155)
        bubble, own_bubble, bubble_fg = (44, 44, 48), (38, 120, 68), (236, 236, 236)
    else:
        page, fg, muted = ((237, 237, 237) if sample.kind == "chat" else (255, 255, 255)), (20, 20, 20), (120, 120, 125)
        page = style.background or page
        bubble, own_bubble, bubble_fg = ((255, 255, 255) if sample.kind == "chat" else (233, 233, 235)), \
            (149, 236, 105), (20, 20, 20)
    margin = round(48 * scale)
    max_text = width - 2 * margin - round(220 * scale)
    if sample.kind == "notice":
        max_text = width - 2 * margin
    body_lines = _wrap(sample.text, font, max_text)
    line_h = round(text_size * 1.45)
    height = max(round(width * 16 / 9), round(600 * scale) + line_h * len(body_lines))
    image = Image.new("RGB", (width, height), page)
    draw = ImageDraw.Draw(image)
    lines: list[str] = []
    y = round(10 * scale)
    if style.status_bar:
        lines.append(_status_bar(draw, width, scale, fg, "9:41"))
        y = round(100 * scale)
    if sample.kind != "notice":
        title_font = _font(round(50 * scale))
        title_w = title_font.getlength(sample.sender)
        draw.text(((width - title_w) / 2, y + round(20 * scale)), sample.sender, font=title_font, fill=fg)
        lines.append(sample.sender)
        y += round(110 * scale)
        draw.line((0, y, width, y), fill=muted, width=max(1, round(2 * scale)))
        y += round(50 * scale)
        stamp = {"zh-Hans": "今天 10:24", "zh-Hant": "今天 上午10:24", "en": "Today 10:24"}[sample.lang]
        stamp_w = small.getlength(stamp)
        draw.text(((width - stamp_w) / 2, y), stamp, font=small, fill=muted)
        lines.append(stamp)
        y += round(80 * scale)
        pad = round(30 * scale)
        text_w = max(font.getlength(line) for line in body_lines)
        box = (margin, y, margin + text_w + 2 * pad, y + line_h * len(body_lines) + 2 * pad - (line_h - text_size))
        draw.rounded_rectangle(box, radius=round(28 * scale), fill=bubble)
        for i, line in enumerate(body_lines):
            draw.text((margin + pad, y + pad + i * line_h), line, font=font, fill=bubble_fg)
        lines.extend(body_lines)
        y = box[3] + round(60 * scale)
        if sample.kind == "chat":  # the user's own worried answer, on the right
            answer = {"zh-Hans": "真的吗？", "zh-Hant": "真的嗎？", "en": "Is this real?"}[sample.lang]
            answer_w = font.getlength(answer)
            right = width - margin
            draw.rounded_rectangle((right - answer_w - 2 * pad, y, right, y + text_size + 2 * pad),
                                   radius=round(28 * scale), fill=own_bubble)
            draw.text((right - answer_w - pad, y + pad), answer, font=font, fill=(20, 20, 20))
            lines.append(answer)
    else:  # a printed notice: black text on paper, a heading
        heading = {"zh-Hans": "通知", "zh-Hant": "通知", "en": "NOTICE"}[sample.lang]
        title_font = _font(round(64 * scale))
        draw.text(((width - title_font.getlength(heading)) / 2, y + round(60 * scale)), heading,
                  font=title_font, fill=fg)
        lines.append(heading)
        y += round(200 * scale)
        for i, line in enumerate(body_lines):
            draw.text((margin, y + i * line_h), line, font=font, fill=fg)
        lines.extend(body_lines)
    buffer = io.BytesIO()
    if style.jpeg_quality is None:
        image.save(buffer, format="PNG", optimize=False)
        mime = "image/png"
    else:
        image.save(buffer, format="JPEG", quality=style.jpeg_quality)
        mime = "image/jpeg"
    return Screenshot(buffer.getvalue(), mime, image.size, tuple(lines), sample.text)


def styles(count: int, seed: int = 13) -> Iterator[Style]:
    """``count`` varied styles: phone widths, light or dark, with or without the status
    bar, PNG or JPEG at quality 70-92, text a little smaller or larger, plain or tinted
    (chat wallpaper) backgrounds."""
    rng = random.Random(seed)
    for _ in range(count):
        width, dark = rng.choice((720, 828, 1080, 1170, 1242)), rng.random() < 0.3
        status_bar, jpeg = rng.random() < 0.8, None if rng.random() < 0.3 else rng.randint(70, 92)
        scale = rng.choice((0.85, 1.0, 1.0, 1.15))
        tint = rng.choice((None, None, (245, 240, 230), (222, 234, 246), (226, 242, 226), (250, 228, 236)))
        yield Style(width=width, dark=dark, status_bar=status_bar, jpeg_quality=jpeg, font_scale=scale,
                    background=None if dark else tint)  # wallpapers tint light mode only
