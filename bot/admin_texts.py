"""What admins read: rule-set status, reload results, ``/why``, statistics.

Shared by the Telegram admin commands and the ``callguard`` CLI, so both say
the same thing. Pure functions of plain values (no Telegram, no storage).
Every function takes ``html``: the bot sends HTML with every dynamic part
escaped, the console prints plain text. Nothing returned here exceeds
Telegram's 4096 characters.
"""

from __future__ import annotations

import html as _html
import unicodedata
from datetime import datetime, timezone
from typing import Iterable, Sequence

from . import i18n
from .detect import Explanation, Problem, RuleSet
from .detect.compare import Comparison, Outcome
from .i18n import MAX_MESSAGE
from .storage import NO_CATEGORY, NO_RULE, WARNINGS, Stats

__all__ = ["MAX_MESSAGE", "t", "category_name", "errors_text", "changes_lines", "why_text", "stats_text", "fit_lines",
           "split_message", "utc_day", "utc_time"]

MAX_ERRORS = 30  # problems listed in a reload failure; the rest are counted
TOP_RULES = 5  # rules listed by "Wrong" feedback rate

def t(key: str, lang: str, **fmt: object) -> str:
    """An admin text in ``lang`` (English for an unknown language); the texts
    live in ``locales/*.yaml`` under ``admin``."""
    return i18n.text(f"admin.{key}", lang, **fmt)


_lang = i18n.language
_esc = i18n.escape
_b = i18n.bold


def _code(text: str, html: bool) -> str:
    return f"<code>{_esc(text, html)}</code>" if html else text


def utc_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")


def category_name(ruleset: RuleSet | None, category: str | None, lang: str) -> str:
    """A category's display name; the id when the rule set does not know it."""
    lang = _lang(lang)
    if category is None or category == NO_CATEGORY:
        return t("no_category", lang)
    if category == WARNINGS:
        return t("warnings_passed_on", lang)
    cat = ruleset.categories.get(category) if ruleset is not None else None
    return cat.name[lang] if cat is not None else category


def _colon(lang: str) -> str:
    return ": " if lang == "en" else "："


# --------------------------------------------------------------------------- length


def fit_lines(head: Sequence[str], lines: Sequence[str], lang: str, limit: int = MAX_MESSAGE) -> str:
    """``head`` then as many whole ``lines`` as fit in ``limit`` characters,
    then "... and N more". Lines are cut whole, so an HTML tag or entity is
    never split."""
    out = "\n".join(head)
    for i, line in enumerate(lines):
        more = "\n" + t("more", lang, n=len(lines) - i)
        if len(out) + 1 + len(line) + (len(more) if i < len(lines) - 1 else 0) > limit:
            out += more
            break
        out += "\n" + line
    return out[:limit]


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Plain text cut into messages of at most ``limit`` characters, at line breaks when possible."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit + 1)
        if cut <= 0:
            cut = limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text:
        parts.append(text)
    return parts


def errors_text(title: str, problems: Sequence[Problem] | str, lang: str, *, html: bool = True) -> str:
    """A reload/upload failure: the title, then ``file:line: message`` lines (escaped), within the limit."""
    lines = [str(p) for p in problems] if not isinstance(problems, str) else problems.splitlines()
    shown = [_esc(line, html) for line in lines[:MAX_ERRORS]]
    if len(lines) > MAX_ERRORS:
        shown.append(_esc(t("more", lang, n=len(lines) - MAX_ERRORS), html))
    # A single enormous line (a YAML error quoting a huge scalar) is shortened, never split mid-entity.
    shown = [line if len(line) <= 1000 else _esc(_html.unescape(line)[:900] + "…", html) for line in shown]
    return fit_lines([_esc(title, html)], shown, lang)


# --------------------------------------------------------------------------- changed verdicts

SAMPLE_CHARS = 90  # of a changed text shown to the admin


def outcome_label(outcome: Outcome, ruleset: RuleSet | None, lang: str) -> str:
    """"scam: fake police (high)", "not a scam: billing complaint", "no scam"."""
    if outcome.scam:
        return t("changes.scam", lang, category=category_name(ruleset, outcome.category, lang),
                 risk=t(f"risk.{outcome.risk}", lang))
    if outcome.category:
        return t("changes.not_scam_kind", lang, category=category_name(ruleset, outcome.category, lang))
    return t("changes.no_scam", lang)


def changes_lines(comparison: Comparison, live: RuleSet | None, candidate: RuleSet | None, lang: str, *,
                  html: bool = True) -> list[str]:
    """What a candidate would change: one summary line, then the worst few
    changes as "text: before -> after" (each verdict named by its own rule set)."""
    lang = _lang(lang)
    n = len(comparison.changes)
    if not n:
        return [_esc(t("changes.none", lang, checked=comparison.checked), html)]
    missed = t("changes.missed", lang, n=comparison.missed_scams) if comparison.missed_scams else ""
    lines = [_esc(t("changes.some", lang, n=n, checked=comparison.checked, missed=missed), html)]
    for change in comparison.samples():
        text = " ".join(change.probe.text.split())
        if len(text) > SAMPLE_CHARS:
            text = text[: SAMPLE_CHARS - 1] + "…"
        lines.append(_esc(t("changes.sample", lang, text=text, before=outcome_label(change.before, live, lang),
                            after=outcome_label(change.after, candidate, lang), source=change.probe.source), html))
    return lines


# --------------------------------------------------------------------------- /why


def why_text(explanation: Explanation, ruleset: RuleSet, lang: str, *, html: bool = True,
             model: tuple[float, float, float] | None = None) -> str:
    """Everything behind a verdict: every rule that scored, with the phrase
    matched per group and how strongly, the thresholds, and the verdict.
    ``model``: the learned second opinion's (probability, medium, low), when
    the bot asks one (it may have raised the verdict)."""
    lang = _lang(lang)
    c = _colon(lang)
    v = explanation.verdict
    th = explanation.thresholds
    risk = t(f"risk.{v.risk}", lang)
    verdict = [t("why.scam" if v.scam else "why.not_scam", lang), f"{t('risk', lang)} {risk}",
               f"{t('why.score', lang)} {v.score}"]
    if v.category:
        verdict.append(f"{t('why.category', lang)} {category_name(ruleset, v.category, lang)} ({v.category})")
    if v.rule:
        verdict.append(f"{t('why.rule', lang)} {v.rule}")
    norm = explanation.normalized
    shown_norm = norm if len(norm) <= 300 else norm[:299] + "…"
    head = [
        _b(t("why.verdict", lang), html) + c + _esc(" · ".join(verdict), html),
        _b(t("why.thresholds", lang), html) + c + _esc(
            f"{t('risk.high', lang)} ≥{th.high} · {t('risk.medium', lang)} ≥{th.medium} · "
            f"{t('risk.low', lang)} ≥{th.low}", html),
        *([_b(t("why.model", lang), html) + c + _esc(t("why.model.values", lang, p=f"{model[0]:.3f}",
                                                          medium=f"{model[1]:.3f}", low=f"{model[2]:.3f}"), html)]
          if model is not None else []),
        _b(t("why.normalized", lang), html) + c + _code(shown_norm, html),
        _b(t("why.version", lang), html) + c + _code(ruleset.digest, html),
        "",
    ]
    scores = explanation.scores
    if not scores:
        head.append(_esc(t("why.no_rules", lang), html))
        return fit_lines(head, [], lang)
    head.append(_b(t("why.rules", lang, n=len(scores)), html) + c.rstrip())
    entries: list[str] = []  # one per rule (several lines), so "... and N more" counts rules
    for i, rs in enumerate(scores, 1):
        rule = rs.rule
        cat = category_name(ruleset, rule.category, lang)
        lines = [f"{i}. {_code(rule.id, html)} {_b(str(rs.score), html)} · {_esc(cat, html)}"]
        for hit in rs.hits:
            group = rule.groups[hit.group]
            found = norm[hit.start:hit.end]
            match = f"“{hit.phrase}”"
            slots = [f"{part.label}=“{norm[part.start:part.end]}”" for part in hit.parts
                     if part.label.startswith(("{", "("))]
            if slots:  # which slot of the pattern matched what
                match += " " + " ".join(slots)
            elif normalized_differs(found, hit.phrase):
                match += f" ≈ “{found}”"
            lines.append("   " + _esc(f"{group.name} ({group.weight:+d}){c}{match} {hit.similarity}%", html))
        if not rs.requires_met:
            lines.append("   " + _esc(t("why.requires", lang, groups=", ".join(rule.requires + rule.requires_all)), html))
        entries.append("\n".join(lines))
    return fit_lines(head, entries, lang)


def normalized_differs(found: str, phrase: str) -> bool:
    """Whether the text actually matched reads differently from the rule's phrase."""
    return "".join(found.split()).lower() != "".join(phrase.split()).lower()


# --------------------------------------------------------------------------- /stats


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _table(rows: Iterable[tuple[str, str, str]], html: bool, lang: str) -> list[str]:
    """Rows of (label, count, extra): aligned columns for the console, bullet lines for Telegram."""
    rows = list(rows)
    if html:
        return ["• " + _esc(label, True) + _colon(lang) + _esc(" ".join(x for x in (count, extra) if x), True)
                for label, count, extra in rows]
    wl = max((_width(r[0]) for r in rows), default=0)
    wc = max((len(r[1]) for r in rows), default=0)
    return [f"  {label}{' ' * (wl - _width(label))}  {count.rjust(wc)}  {extra}".rstrip()
            for label, count, extra in rows]


def stats_text(stats: Stats, ruleset: RuleSet | None, lang: str, *, days: int, html: bool = True) -> str:
    """The ``/stats`` report (and ``callguard stats``): categories, warnings
    forwarded by the scam they warn of (only when there are any), risks,
    numbers, worst rules by "Wrong" feedback, money already sent."""
    lang = _lang(lang)
    c = _colon(lang)
    out = [_esc(t("stats.title", lang, days=days, since=utc_day(stats.since), until=utc_day(stats.until),
                  total=stats.total), html)]
    if stats.total == 0:
        out.append(_esc(t("stats.empty", lang), html))
    else:
        pct = 100.0 * stats.money_sent / stats.total
        out.append(_esc(t("stats.money", lang, count=stats.money_sent, pct=pct), html))
        out += ["", _b(t("stats.by_category", lang), html) + c.rstrip()]
        out += _table(((f"{category_name(ruleset, cat, lang)}", str(n), f"{p:.1f}%")
                       for cat, n, p in stats.by_category), html, lang)
        if stats.warnings_by_category:  # forwarded warnings ("PSA: ..."): which scams people warn each other of
            warned = sum(n for _, n, _ in stats.warnings_by_category)
            out += ["", _b(t("stats.warnings", lang, count=warned), html) + c.rstrip()]
            out += _table(((category_name(ruleset, cat, lang), str(n), f"{p:.1f}%")
                           for cat, n, p in stats.warnings_by_category), html, lang)
        order = {"high": 0, "medium": 1, "low": 2, "none": 3}
        out += ["", _b(t("stats.by_risk", lang), html) + c.rstrip()]
        out += _table(((t(f"risk.{risk}", lang) if risk in order else risk, str(n), f"{p:.1f}%")
                       for risk, n, p in sorted(stats.by_risk, key=lambda r: order.get(r[0], 9))), html, lang)
    out += ["", _b(t("stats.numbers", lang), html) + c.rstrip()]
    if stats.top_numbers:
        out += _table(((number, t("stats.times", lang, count=n), "") for number, n in stats.top_numbers), html, lang)
    else:
        out.append(_esc(t("stats.numbers_none", lang), html))
    out += ["", _b(t("stats.feedback", lang), html) + c.rstrip()]
    worst = [r for r in stats.rules_feedback if r[2] > 0][:TOP_RULES]
    if worst:
        out += _table(((t("no_rule", lang) if rule == NO_RULE else rule, "",
                        t("stats.feedback_row", lang, wrong=w, total=h + w, rate=100.0 * rate))
                       for rule, h, w, rate in worst), html, lang)
    else:
        out.append(_esc(t("stats.feedback_none", lang), html))
    return fit_lines(out[:1], out[1:], lang)
