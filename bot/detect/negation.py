"""Where a message says a request is *not* made: "we will never ask for your
PIN", "银行不会在电话里要您的密码", "驗證碼請勿告訴他人".

Genuine calls and notices say the scam's words in the negative, and a rule
that sums mechanisms would count "never ask for your code" as an ask for a
code. A group marked ``negatable: true`` (requests: for codes, card data,
money, an app) does not count a match that a negation governs. Other groups
are left alone: "不要告诉别人" (tell no one) is itself the scam's secrecy cue,
and "no collateral needed" is a loan lure's offer.

A negation is a *cue* (不会, 无需, 请勿, never, won't, do not, tak perlu …)
and its *scope*: the words after it up to the end of its clause (a
punctuation mark, or "but / then / just / 但 / 只要 / 然后 …"), at most
``SCOPE_COST`` (one per Chinese character, two per English word: about six
English words or twelve characters). A cue counts only when a verb of
asking, paying or handing over follows closely ("无需押金", no deposit
needed, is a lure's offer, and "don't worry" no denial), and not inside a
condition ("if you don't pay", "否则"). Clauses are read from the original
text, because normalisation drops punctuation; the result is mapped onto the
normalised text that patterns match (:meth:`.scan.Scan.negations`).

A question about need answered "no" is a denial too ("要交钱吗？——不用",
"Do I need to give you my PIN? No, ..."): its scope is the question. Only a
question about need: "can you read me the code? No" is a victim refusing a
request, which still counts.

A match is negated when its first element starts inside a scope ("never
*ask for your PIN*") or a cue stands in a gap between two of its elements
("验证码…请勿…告诉"). Work is done only for a message in which a negatable
group is tried, once per message, with a few regular-expression passes.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from .normalize import CJK_CLASS

__all__ = ["SCOPE_COST", "MAX_NEGATIONS", "Negations", "find_negations", "find_questions"]

# The expressions below are matched on text with its ASCII letters in lower case, not with
# re.IGNORECASE: that flag made the cue scan 2.4 times slower (every alternative compared
# case-blind at every character of a long English transcript).
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

SCOPE_COST = 12  # Chinese characters; an English word counts two
# Denials read per message. A genuine message has a handful; a crafted one of
# thousands would cost milliseconds each pass. Past this, requests count as
# made: the bound errs towards a warning, never towards reassurance.
MAX_NEGATIONS = 32

# A cue counts only when a verb of asking, paying or handing over follows it closely: "无需押金"
# (no deposit needed) is a job lure's offer and "I don't know" is no denial, but "不需要交押金"
# and "we will never ask for" are.
_REQUEST_ZH = ("要|索|问|問|让|讓|叫|要求|通过|通過|以|打|致电|致電|来电|來電|电话|電話|发|發|提供|告知|告诉|告訴|透露|泄露|洩露|"
               "转|轉|汇|匯|付|支付|缴|繳|交|点|點|下载|下載|安装|安裝|填|输入|輸入|回复|回覆|分享|共享|扫|掃|给|給|"
               "俾|畀|讲|講|报|報|收取|收费|收費|登录|登錄|登入|核对|核對|验证|驗證|索取")
_REQUEST_EN = ("ask|call|phone|ring|text|txt|sms|message|email|e-mail|request|require|need|have|has|"
               "share|give|tell|send|pay|transfer|wire|click|tap|download|install|reply|respond|provide|disclose|"
               "reveal|enter|forward|read|charge|collect|contact|demand|want|approach|sell|accept|take|log|verify|confirm")
_REQUEST_MS = "minta|meminta|tanya|hubungi|telefon|call|kongsi|kongsikan|beri|berikan|bagi|dedah|dedahkan|hantar|bayar|" \
              "transfer|klik|tekan|muat|pasang|isi|masukkan|sahkan|baca"
_CLAUSE = "[^，。！？；,.!?;\n]"
# What a denial may name instead of a verb: "不需要密码" (no password needed) denies a request;
# "无需押金" (no deposit needed) is an offer, and stays one.
_SECRETS_ZH = "密码|密碼|验证码|驗證碼|认证码|認證碼|动态码|動態碼|卡号|卡號|身份证|身份證|身分证|身分證|个人信息|個人信息|个人资料|個人資料|otp|cvv|pin"

# Every alternative starts with a literal character (the word-start and 要不要 checks are made on
# each match, in _denials): the engine then skips at C speed to where a cue may start, instead of
# trying every alternative at every character (a lookbehind first made it ~1 µs a character).
_CUE = re.compile(
    # Chinese, Simplified and Traditional (matched on the original text), and Cantonese. A denial
    # ("不会在电话里要您的密码") may put a few words before its verb ...
    "(?:不会|不會|不需要|无需|無需|无须|無須|毋须|毋須|不必|绝不|絕不|决不|決不|从不|從不|从来不|從來不|从未|從未|"
    "不得|唔会|唔會|冇需要|唔需要|不用|唔使|唔洗"
    "|(?:没有|沒有|并没|並沒|没|沒)(?=问|問|叫|让|讓|要求|跟我要|向我要|索要|索取)"
    # ... or the reader's own act, said in full ("没有交任何培训费", "沒有提供卡號"): not a bare 没
    # ("没给货" is a seller who did not deliver).
    "|(?:没有|沒有|并没有|並沒有|从没|從沒|从来没有|從來沒有)(?=交|付|转账|轉賬|轉帳|汇款|匯款|提供|告诉|告訴|透露|下载|下載|安装|安裝|填|输入|輸入)"
    # "冇連結叫我俾錢", "没有链接让我付款": nothing (no link, no one) that asks.
    "|(?:冇|没有|沒有)(?=(?:连结|連結|链接|鏈接|link|人|电话|電話|短信|短讯|短訊|信息|訊息|讯息|邮件|郵件)"
    "(?:叫|让|讓|要求|问|問)(?:我|你|您|佢)))"
    f"(?={_CLAUSE}{{0,6}}?(?:{_REQUEST_ZH}|{_SECRETS_ZH}))"
    # ... an order not to ("不要把验证码告诉任何人", "不要跟陌生人分享") only a preposition and its
    # object: "唔好收线，要佢过数" (don't hang up, transfer) is an order to do it.
    "|(?:切勿|请勿|請勿|不要|唔好|千万别|千萬別|千万不要|千萬不要|别|別)"
    f"(?=(?:随便|隨便|轻易|輕易|再|去|私下|擅自)?(?:(?:把|将|將|向|跟|给|給|对|對|和|与|與){_CLAUSE}{{0,6}}?)?(?:{_REQUEST_ZH}))"
    # English (apostrophes as typed: ' or ’ or none), the verb at most two words on.
    r"|(?:never|won[’']?t|will not|would not|wouldn[’']?t|no need to|not need to|not required to|"
    r"don[’']?t|do not|dont|doesn[’']?t|does not|didn[’']?t|did not|not|"
    # "no link to pay", "no one asked": not "no phone" (Malay no = nombor, a number).
    r"no(?= (?:[a-z]+ )?(?:to|asking|asked|ask|asks|told|telling|requesting|requested) ))"
    rf"(?=(?: [a-z]+){{0,2}}? (?:{_REQUEST_EN})(?:s|es|d|ed|ing)?(?![a-z]))"
    # Malay.
    r"|(?:tidak akan|tak akan|takkan|tidak perlu|tak perlu|tak payah|tidak pernah|tak pernah|jangan|bukan)"
    rf"(?=(?: [a-z]+){{0,2}}? (?:{_REQUEST_MS})(?![a-z]))")
# Not a denial: "if you don't pay", "如果不交", "否则": a threat's condition.
_CONDITION = re.compile(r"(?:(?<![a-z])(?:if|unless|whether|otherwise|or else|kalau|jika|kalo|sekiranya)(?![a-z])|如果|若|要是|假如|否则|否則|不然|万一|萬一)"
                        f"{_CLAUSE}{{0,12}}$")

# Where a cue's scope ends: a clause mark, or a word that starts what the speaker does want.
_CLAUSE_END = re.compile(
    "[，。！？；：、,.!?;:\n\r…]|但|可是|不过|不過|只要|只需|只用|然后|然後|而是|就|请|請"
    r"|(?<![a-z])(?:but|then|just|only|instead|however|rather|simply|please|pls|all you|tapi|tetapi|cuma|hanya|sila)(?![a-z])")
_TOKEN = re.compile(r"[a-z0-9'’]+|[^\sa-z0-9'’]")  # an English word (costs 2) or one other character

# A question about need answered "no": "要交钱吗？——不用", "Do I need to give you my PIN? No, ...".
# The question is then denied. Only questions about need: "can you read me the code? - no"
# is the victim refusing a request, which still counts.
_NEED_QUESTION = re.compile(
    "(?:需要|要不要|需不需要|需唔需要|用不用|使唔使|要唔要|是否需要|要交|要付|要缴|要繳|要收|收费|收費|要钱|要錢|要提供|要给|要給|要俾)"
    r"|(?<![a-z])(?:do i need|do we need|do i have to|do we have to|will i need|would i need|should i|do you need|"
    r"will you need|is there (?:a|any) (?:fee|charge|cost|payment)|perlu ke|kena bayar ke|perlu bayar)(?![a-z])")
_QUESTION_START = re.compile("[。！？；：:\n\r!?;]")
_ANSWERED = re.compile(  # a question mark (or 吗 ending a dialogue's line), then a no (after a speaker's name, if any)
    r"(?:[?？]|吗(?=[ \t]*[\r\n]))[\s\-—–.…]{0,4}(?:[^\s：:，。！？?!,.]{1,8}[：:])?[\s\-—–]{0,3}"  # bounded: no backtracking over a long run
    "(?:不需要|不用|不会|不會|唔使|唔洗|唔需要|唔会|唔會|冇|没有|沒有|不必|无需|無需|免费|免費"
    r"|(?:no|nope|never|not at all|absolutely not|of course not|tak perlu|tidak perlu|tak payah|tak|tidak)(?![a-z]))")


def find_negations(text: str) -> list[tuple[int, int, int, int]]:
    """The negations in ``text``: (cue start, cue end, scope start, scope end),
    offsets in ``text``, at most MAX_NEGATIONS. Empty for most messages. A
    denial's scope starts one character into its cue (a match that begins
    inside "不要" is governed; one that begins with all of "不需要抵押" is not);
    an answer's scope is the question before it."""
    text = text.translate(_ASCII_LOWER)  # same length, same offsets
    out = _denials(text)
    if "?" in text or "？" in text or "吗" in text:  # dialogues written without marks end a question with 吗
        out += _answers(text, MAX_NEGATIONS - len(out))
    return out


# Where a question's clause ends: a clause mark, commas included ("I rang the number on my card,
# is that right?" asks nothing of the call it reports), but not a digit group's mark ("£3,200"),
# and the spaces that stand for commas in unpunctuated Chinese ("我打了卡背面的电话 这样对吗").
_QUESTION_BREAK = re.compile("[，。！？；：、!?;:\n\r]|[,.](?![0-9])|(?<![0-9])[,.]"
                             f"|(?<=[{CJK_CLASS}])\\s+|\\s+(?=[{CJK_CLASS}])")
# A clause that asks whether to do something: it starts like such a question ("can I call back
# ...", "要不要打回去", "我可以打卡背面的电话核实吗"). A question mark or particle alone is not enough:
# people end a report with one to ask for reassurance ("I rang the number on my card?").
_ASKS = re.compile(
    r"\s*(?:(?:can|could|should|shall|may|must) (?:i|we)|(?:do|did|would) (?:i|we) (?:need|have) to|"
    r"is it (?:ok|okay|safe|fine|alright|all right|better) to|would it be (?:ok|okay|safe|better) to|"
    r"boleh ke (?:saya|kami)|patut ke (?:saya|kami))(?![a-z])"
    "|\\s*(?:要不要|可不可以|可以不可以|能不能|该不该|該不該|应不应该|應不應該|是不是应该|是不是應該|是否应该|是否應該|"
    "使唔使|可唔可以|好唔好)"
    f"|\\s*(?:我|我们|我們|我哋)?(?:可以|能|应该|應該|可否|可唔可以)[^，。！？；：、,.!?;:\\n\\r]*(?:吗|嗎|么|麼|咩)\\s*$")


def find_questions(text: str) -> list[tuple[int, int]]:
    """The clauses of ``text`` that ask whether to do something (offsets in ``text``, at most
    MAX_NEGATIONS): "Can I call back on the number on my card?", "我可以打卡背面的电话核实吗".
    A check the reader only asks about was not made, so counter-evidence groups that count
    only what was done (``only_as_done``) do not count a match inside one. Not a denial: a
    request asked about ("should I send the code?") still counts as a request."""
    text = text.translate(_ASCII_LOWER)
    out: list[tuple[int, int]] = []
    start = 0
    for mark in (*_QUESTION_BREAK.finditer(text), None):
        end = mark.start() if mark else len(text)
        if start < end and _ASKS.match(text, start, end):
            out.append((start, end))
            if len(out) == MAX_NEGATIONS:
                break
        start = mark.end() if mark else end
    return out


def _answers(text: str, room: int) -> list[tuple[int, int, int, int]]:
    """Questions about need answered "no": (answer start, answer end, question start, question end)."""
    out: list[tuple[int, int, int, int]] = []
    for no in _ANSWERED.finditer(text):
        if len(out) >= room:
            break
        q_end = no.start()
        starts = [m.end() for m in _QUESTION_START.finditer(text, max(0, q_end - 40), q_end)]
        q_start = starts[-1] if starts else max(0, q_end - 40)
        if _NEED_QUESTION.search(text, q_start, q_end):
            out.append((no.end() - 1, no.end(), q_start, q_end))
    return out


def _denials(text: str) -> list[tuple[int, int, int, int]]:
    """A cue and the rest of its clause: (cue start, cue end, cue start + 1, scope end)."""
    out: list[tuple[int, int, int, int]] = []
    for cue in _CUE.finditer(text):
        if len(out) == MAX_NEGATIONS:
            break
        start, end = cue.span()
        if start and (text[start - 1] == "要" if cue.group() == "不要" else text[start - 1].isascii()
                      and text[start - 1].isalpha() and text[start].isascii()):
            continue  # 要不要 (whether to) is no order; "no" inside "know" is no word
        if _CONDITION.search(text, max(0, start - 16), start):
            continue
        stop = _CLAUSE_END.search(text, end, end + 4 * SCOPE_COST)
        limit = stop.start() if stop else min(len(text), end + 4 * SCOPE_COST)
        scope_end, cost = end, 0
        for token in _TOKEN.finditer(text, end, limit):
            cost += 2 if token.group()[0].isascii() and token.group()[0].isalnum() else 1
            if cost > SCOPE_COST:
                break
            scope_end = token.end()
        out.append((start, end, start + 1, scope_end))
    return out


@dataclass(frozen=True, slots=True)
class Negations:
    """A message's negations, as spans of its normalised text: the cues
    (start, end) and their scopes (start, end), each sorted by start, and
    the longest scope's length. Build one with :meth:`of`."""

    cue_starts: tuple[int, ...] = ()
    cue_ends: tuple[int, ...] = ()
    scope_starts: tuple[int, ...] = ()
    scope_ends: tuple[int, ...] = ()
    longest: int = 0

    @classmethod
    def of(cls, cues: list[tuple[int, int]], scopes: list[tuple[int, int]]) -> "Negations":
        cues, scopes = sorted(cues), sorted(scopes)
        return cls(tuple(a for a, _ in cues), tuple(b for _, b in cues), tuple(a for a, _ in scopes),
                   tuple(b for _, b in scopes), max((b - a for a, b in scopes), default=0))

    def __bool__(self) -> bool:
        return bool(self.cue_starts or self.scope_starts)

    def governs(self, position: int) -> bool:
        """Whether a match starting at ``position`` is inside a negation's scope."""
        i = bisect_right(self.scope_starts, position) - 1
        # Scopes can overlap ("不会也不需要"): any one that started before, no longer ago than
        # the longest scope, may still be open.
        while i >= 0:
            if position < self.scope_ends[i]:
                return True
            if self.scope_starts[i] + self.longest < position:
                return False
            i -= 1
        return False

    def cue_between(self, start: int, end: int) -> bool:
        """Whether a cue stands wholly inside ``start..end`` (a gap of a pattern)."""
        i = bisect_left(self.cue_starts, start)
        return i < len(self.cue_starts) and self.cue_ends[i] <= end


NO_NEGATIONS = Negations()
