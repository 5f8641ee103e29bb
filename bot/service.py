"""The application layer: judge a description, log the report, count numbers.

Telegram-agnostic, so the bot handlers stay thin translations between chat and
this object, and tests can drive it directly. Detection never waits on
storage: the verdict is computed first, and a storage failure only means the
report is queued by :class:`~callguard.store.ReportWriter`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .config import Settings
from .detect import Detector, RuleSet, Verdict
from .numbers import display_number, extract_numbers
from .rulebook import RuleBook
from .store import Report, ReportWriter, Store

if TYPE_CHECKING:
    from .ocr.pool import OcrPool

__all__ = ["Outcome", "CallGuard"]

log = logging.getLogger(__name__)

NUMBER_WINDOW_DAYS = 30


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    ruleset: RuleSet  # the rule set that judged, for the reply texts (even mid-reload)
    numbers: tuple[str, ...]  # E.164
    report_id: int | None  # None when the report is queued (storage down)
    number_counts: dict[str, int] = field(default_factory=dict)  # display form -> earlier reports


class CallGuard:
    def __init__(self, settings: Settings, rules: RuleBook, writer: ReportWriter, *, ocr: OcrPool | None = None,
                 owns_ocr: bool = True):
        self.settings = settings
        self.rules = rules
        self.writer = writer
        self.ocr = ocr  # reads pictures; None when this server does not (no ``ocr`` extra, or turned off)
        # Close it with the bot (tests share one pool between bots). Its worker starts with the first
        # picture, not with the bot: a server that is sent no pictures never pays for the models.
        self._owns_ocr = owns_ocr

    @property
    def detector(self) -> Detector:
        return self.rules.detector

    @property
    def store(self) -> Store | None:
        return self.writer.store

    async def assess(
        self,
        text: str,
        *,
        user_id: int | None,
        lang: str,
        chat_type: str,
        source: str = "message",
        money_sent: bool | None = None,
    ) -> Outcome:
        """Judge ``text``, log it (committed before we return), count its numbers."""
        detector = self.rules.detector  # one rule set for the whole message, even mid-reload
        return await self.record(text, detector.check(text), detector, user_id=user_id, lang=lang,
                                 chat_type=chat_type, source=source, money_sent=money_sent)

    async def record(
        self,
        text: str,
        verdict: Verdict,
        detector: Detector,
        *,
        user_id: int | None,
        lang: str,
        chat_type: str,
        source: str = "message",
        money_sent: bool | None = None,
        from_image: bool = False,
    ) -> Outcome:
        """Log a verdict already computed (group chats judge first, log only what they answer).

        ``from_image``: ``text`` was read from a picture (with its caption, if any)."""
        numbers = extract_numbers(text, self.settings.default_region)
        report = Report(
            text=text, lang=lang, numbers=numbers, scam=verdict.scam, risk=verdict.risk,
            category=verdict.category, rule=verdict.rule, score=verdict.score,
            ruleset_version=detector.version, chat_type=chat_type, source=source, money_sent=money_sent,
            from_image=from_image,
        )
        # The counts are read in the same transaction as the write (one trip to the database).
        report_id, raw = await self.writer.submit_and_count(report, user_id, days=NUMBER_WINDOW_DAYS)
        counts = {display_number(n): c for n, c in raw.items() if c > 0}
        return Outcome(verdict, detector.ruleset, numbers, report_id, counts)

    async def feedback(self, report_id: int, user_id: int, value: str, comment: str | None = None) -> bool:
        if self.store is None or report_id <= 0:
            return False
        try:
            return await self.store.set_feedback(report_id, user_id, value, comment)
        except Exception:
            log.warning("feedback not stored", exc_info=True)
            return False

    async def mark_money_sent(self, report_id: int) -> None:
        if self.store is None or report_id <= 0:
            return
        try:
            await self.store.set_money_sent(report_id, True)
        except Exception:
            log.warning("money_sent not stored", exc_info=True)

    async def start(self) -> None:
        """Open storage now so the first user does not pay for it; a database
        that cannot be opened is retried later, the bot answers meanwhile."""
        if not await self.writer.connect():
            log.error("report storage unavailable at start; reports are queued until it returns")

    async def close(self) -> None:
        """Write pending reports and close storage (called at shutdown); stop the OCR workers."""
        await self.writer.close()
        if self.ocr is not None and self._owns_ocr:
            await self.ocr.aclose()
