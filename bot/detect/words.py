"""English words as the matcher sees them: one form per word.

A rule says ``transfer``; people write "transferred", "transfering", "ur
acount", "pls". So every English word, in rule patterns and in messages
alike, is reduced to one form before matching:

1. common SMS spellings become the word they stand for (``ur`` -> ``your``,
   ``pls`` -> ``please``, ``acct`` -> ``account``);
2. irregular forms become their base form (``sent`` -> ``send``, ``paid`` ->
   ``pay``, ``won`` -> ``win``);
3. regular inflections are taken off (``transferred``, ``transferring``,
   ``transfers`` -> ``transfer``; ``verified`` -> ``verify``).

Step 3 is deliberately light: it touches only the end of a word (-s, -es,
-ed, -ing, a final -e, a doubled final consonant), never a derivational
suffix as full stemmers do. A typo elsewhere in the word then survives as
the one typo the matcher tolerates ("comunications" -> "comunication", one
edit from "communication"), where a full stemmer cuts the two spellings
differently and the typo is lost.

Because rules and messages go through the same function, a rule never has to
list inflections, and what a form looks like ("polic" for "police") never
shows: evidence is always quoted from the user's own text.

Each distinct word is computed once and remembered (``FORMS``), so the cost on
the hot path is one dictionary lookup per word.
"""

from __future__ import annotations

__all__ = ["FORMS", "word_form", "inflection_off", "SMS_SPELLINGS", "IRREGULAR", "WHOLE_FORMS"]

# Spellings of text messages and chat, and what they mean. Only unambiguous
# ones: "r" (are) or "2" (to) also appear as letters and numbers.
SMS_SPELLINGS = {
    "u": "you", "ur": "your", "urs": "yours", "yr": "your", "ya": "you",
    "pls": "please", "plz": "please",
    "acct": "account", "acc": "account", "acount": "account", "accnt": "account", "acnt": "account",
    "txt": "text", "msg": "message", "msgs": "messages", "sms": "text",
    "b4": "before", "2day": "today", "2moro": "tomorrow", "2morrow": "tomorrow", "tmrw": "tomorrow", "tmr": "tomorrow",
    "asap": "immediately", "nxt": "next", "wk": "week", "wkly": "weekly", "mnth": "month",
    "pmt": "payment", "pymt": "payment", "amt": "amount", "bal": "balance",
    "tkt": "ticket", "tkts": "tickets", "cust": "customer", "svc": "service", "srvc": "service",
    "thx": "thanks", "thnx": "thanks", "ppl": "people", "pic": "picture", "pics": "pictures",
    "pwd": "password", "passwd": "password", "num": "number", "nr": "number",
    "govt": "government", "gov": "government", "dept": "department", "info": "information",
    "approx": "about", "admin": "administrator", "mum": "mom", "mummy": "mom", "mommy": "mom", "mama": "mom",
    "grandmum": "grandma", "granny": "grandma", "gran": "grandma", "nana": "grandma", "grandmother": "grandma",
    "grandfather": "grandpa", "granddad": "grandpa", "grandad": "grandpa",
    "daddy": "dad", "papa": "dad", "im": "i am", "ive": "i have", "dont": "do not",
    "didnt": "did not", "cant": "cannot", "wont": "will not", "isnt": "is not", "youre": "you are",
    "frm": "from", "lnk": "link", "bnk": "bank", "verfy": "verify", "verfiy": "verify", "pswd": "password",
    "paswd": "password", "passwrd": "password", "acout": "account", "accout": "account", "someone1": "someone",
    "some1": "someone", "any1": "anyone", "every1": "everyone", "2nite": "tonight", "tonite": "tonight",
    # Misspellings of short words a scam story turns on, too short for the one-typo tolerance (eight
    # letters or more): a worried person typing fast still means jail, bail, arrest, money.
    "jale": "jail", "jial": "jail", "bale": "bail", "arest": "arrest", "arrst": "arrest", "polise": "police",
    "pollice": "police", "mony": "money", "monay": "money", "muney": "money", "moeny": "money",
    "taxs": "taxes", "crads": "cards", "cardz": "cards", "unles": "unless", "amazn": "amazon", "amzon": "amazon",
    "bitcon": "bitcoin", "bitcoins": "bitcoin", "doubel": "double", "scamer": "scammer", "scamers": "scammers",
    "wierd": "weird", "recieve": "receive", "recieved": "received", "payed": "paid", "wat": "what",
    # Malay as it is texted: a rule that says "dapat" or "bayar" must read "dpt" and "byr" too (the rules
    # listed such spellings one pattern at a time, and a Malay story missed at most where one was left out).
    # Only spellings with no English meaning: not "dr" (doctor), "pd" (police department), "org", "x".
    "sy": "saya", "dpt": "dapat", "ckp": "cakap", "dgn": "dengan", "utk": "untuk", "blh": "boleh",
    "byr": "bayar", "hntr": "hantar", "hnt": "hantar", "skrg": "sekarang", "skrang": "sekarang",
    "mcm": "macam", "kwn": "kawan", "tgh": "tengah", "dlm": "dalam", "lps": "lepas", "tlg": "tolong",
    "jgn": "jangan", "sbb": "sebab", "yg": "yang", "brp": "berapa", "tpi": "tapi", "nk": "nak", "dh": "dah",
    "tk": "tak", "trus": "terus", "smpai": "sampai", "mntk": "minta", "ank": "anak", "akn": "akan",
    "bkn": "bukan", "kne": "kena", "kna": "kena", "knp": "kenapa", "sdh": "sudah", "blm": "belum",
}

# Irregular forms a stemmer leaves alone, mapped to their base form.
IRREGULAR = {
    "sent": "send", "paid": "pay", "won": "win", "gave": "give", "given": "give", "told": "tell",
    "said": "say", "sold": "sell", "bought": "buy", "froze": "freeze", "frozen": "freeze",
    "stole": "steal", "stolen": "steal", "caught": "catch", "lost": "lose", "took": "take",
    "taken": "take", "got": "get", "gotten": "get", "made": "make", "brought": "bring", "left": "leave",
    "kept": "keep", "spoke": "speak", "spoken": "speak", "wrote": "write", "written": "write",
    "called": "call", "rang": "ring", "rung": "ring", "threw": "throw", "thrown": "throw",
    "hung": "hang", "met": "meet", "lent": "lend", "owed": "owe", "withdrew": "withdraw",
    "withdrawn": "withdraw", "fell": "fall", "fallen": "fall", "hurt": "hurt", "was": "be", "were": "be",
    "been": "be", "is": "be", "are": "be", "am": "be", "has": "have", "had": "have", "did": "do",
    "does": "do", "done": "do", "went": "go", "gone": "go", "came": "come", "saw": "see", "seen": "see",
    "knew": "know", "known": "know", "thought": "think", "found": "find", "began": "begin",
    "begun": "begin", "chose": "choose", "chosen": "choose", "forgot": "forget", "forgotten": "forget",
    "understood": "understand", "held": "hold", "used": "use", "using": "use", "led": "lead", "meant": "mean",
    "forgiven": "forgive", "forgave": "forgive", "broken": "break", "broke": "break", "driven": "drive",
    "drove": "drive", "eaten": "eat", "ate": "eat", "hidden": "hide", "hid": "hide", "beaten": "beat",
    "forbidden": "forbid", "mistaken": "mistake", "shaken": "shake", "chose": "choose", "woke": "wake",
    "children": "child", "men": "man", "women": "woman", "people": "person",
}

# English words whose light stem would be a word of another language the rules read, or of
# another rule word: "make" -> "mak" (Malay: mother), "naked" -> "nak" (Malay: want), "take" ->
# "tak" (Malay: not), "code" -> "cod" (cash on delivery), "note" -> "not", "care" -> "car",
# "wine" -> "win", "here" -> "her", "come" -> "com". A Malay "sy nak video call" matched
# "naked ... video". These keep their whole form, inflected or not.
WHOLE_FORMS = {
    **dict.fromkeys(("make", "makes", "making"), "make"), **dict.fromkeys(("take", "takes", "taking"), "take"),
    "naked": "naked", **dict.fromkeys(("code", "codes", "coded", "coding"), "code"),
    **dict.fromkeys(("note", "notes", "noted"), "note"), **dict.fromkeys(("care", "cares", "cared", "caring"), "care"),
    **dict.fromkeys(("wine", "wines"), "wine"), "here": "here", **dict.fromkeys(("come", "comes", "coming"), "come"),
}

_VOWELS = frozenset("aeiouy")


def inflection_off(word: str) -> str:
    """``word`` without a regular inflection (step 3 of the module docstring)."""
    if len(word) < 4:
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and _VOWELS.intersection(stem):
            word = stem
            if len(word) >= 4 and word[-1] == word[-2] and word[-1] not in _VOWELS and word[-1] not in "lsz":
                word = word[:-1]  # transferr -> transfer
            break
    if len(word) >= 4 and word.endswith("e") and word[-2] != "e":
        word = word[:-1]  # make / making -> mak
    return word


def _form(word: str) -> str:
    """The matching form of one lower-case word of Latin letters or digits."""
    word = SMS_SPELLINGS.get(word, word)
    if " " in word:  # "im" -> "i am": each part on its own
        return " ".join(map(_form, word.split(" ")))
    word = IRREGULAR.get(word, word)
    if word in WHOLE_FORMS:
        return WHOLE_FORMS[word]
    if not word.isalpha() or not word.isascii():
        return word  # numbers, "2fa", accented words: as written
    return inflection_off(word)


class _Forms(dict):
    """word -> form, filled on first sight of a word (bounded, see below)."""

    __slots__ = ()

    def __missing__(self, word: str) -> str:
        form = _form(word)
        if len(self) < _MAX_REMEMBERED:  # a flood of invented words must not grow memory without end
            self[word] = form
        return form


_MAX_REMEMBERED = 200_000
FORMS = _Forms()


def word_form(word: str) -> str:
    """The matching form of ``word`` (see the module docstring)."""
    return FORMS[word]
