"""The application layer: judge a description, log the report, count numbers.

Telegram-agnostic, so the bot handlers stay thin translations between chat and
this object, and tests can drive it directly. Detection never waits on
storage: the verdict is computed first, and a storage failure only means the
report is queued by :class:`~callguard.store.ReportWriter`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from .config import Settings
from .detect import Detector, RuleSet, Verdict
from .detection_pool import DetectionPool, Judgement
from .numbers import display_number, extract_numbers
from .rulebook import RuleBook
from .store import Report, ReportWriter, Store

__all__ = ["Outcome", "CallGuard"]

log = logging.getLogger(__name__)

NUMBER_WINDOW_DAYS = 30
BUTTON_SIGNATURE_CHARS = 16  # base64url characters: 96 bits


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    ruleset: RuleSet  # the rule set that judged, for the reply texts (even mid-reload)
    numbers: tuple[str, ...]  # E.164
    report_id: int | None  # None when the report is queued (storage down)
    number_counts: dict[str, int] = field(default_factory=dict)  # display form -> earlier reports


class CallGuard:
    def __init__(self, settings: Settings, rules: RuleBook, writer: ReportWriter, pool: DetectionPool | None = None):
        self.settings = settings
        self.rules = rules
        self.writer = writer
        self.pool = pool or DetectionPool(0)  # 0 workers: judged on the event loop
        self._button_key: bytes | None = None

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
        judgement, detector = await self.judge(text, user_id=user_id)
        return await self.record(text, judgement.verdict, detector, user_id=user_id, lang=lang,
                                 chat_type=chat_type, source=source, money_sent=money_sent,
                                 numbers=judgement.numbers)

    async def judge(self, text: str, *, user_id: int | None) -> tuple[Judgement, Detector]:
        """The live rule set's verdict on ``text`` (and the phone numbers in it), with the
        detector that gave it (one rule set for the whole message, even mid-reload). Worked
        out in the detection pool, where the sender's turn depends on how much detection they
        have cost lately."""
        loaded = self.rules.live
        judgement = await self.pool.judge(loaded, text, user_id, self.settings.default_region)
        return judgement, loaded.detector

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
        numbers: tuple[str, ...] | None = None,
    ) -> Outcome:
        """Log a verdict already computed (group chats judge first, log only what they answer);
        ``numbers``: the phone numbers in ``text`` if already found (:meth:`judge`)."""
        if numbers is None:
            numbers = extract_numbers(text, self.settings.default_region)
        report = Report(
            text=text, lang=lang, numbers=numbers, scam=verdict.scam, risk=verdict.risk,
            category=verdict.category, rule=verdict.rule, score=verdict.score,
            ruleset_version=detector.version, chat_type=chat_type, source=source, money_sent=money_sent,
        )
        # The counts are read in the same transaction as the write (one trip to the database).
        report_id, raw = await self.writer.submit_and_count(report, user_id, days=NUMBER_WINDOW_DAYS)
        counts = {display_number(n): c for n, c in raw.items() if c > 0}
        return Outcome(verdict, detector.ruleset, numbers, report_id, counts)

    def button_signature(self, action: str, report_id: int, user_id: int) -> str | None:
        """A keyed hash of (action, report, user): what a button that writes to report
        ``report_id`` carries, so that only ``user_id`` (its reporter) can press it with
        effect. Report ids are sequential; without this, anyone could send feedback on,
        or mark as "money sent", everyone else's reports. None while storage is
        unreachable (the key lives with it); such a report has no id anyway."""
        key = self._button_key
        if key is None:
            store = self.store
            if store is None:
                return None
            key = self._button_key = store.derive_key("buttons")
        mac = hmac.new(key, f"{action}:{report_id}:{user_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode()[:BUTTON_SIGNATURE_CHARS]

    def button_pressed_by_reporter(self, action: str, report_id: int, user_id: int, signature: str | None) -> bool:
        """Whether a press of ``action`` on ``report_id`` carrying ``signature`` comes from
        that report's own reporter (see :meth:`button_signature`)."""
        expected = self.button_signature(action, report_id, user_id) if signature else None
        return expected is not None and hmac.compare_digest(expected, signature)

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
        """Start the detection workers and open storage now so the first user does not pay
        for it; a database that cannot be opened is retried later, the bot answers meanwhile."""
        await self.pool.start(self.rules.live)
        if not await self.writer.connect():
            log.error("report storage unavailable at start; reports are queued until it returns")

    async def close(self) -> None:
        """Write pending reports, close storage, stop the detection workers (at shutdown)."""
        try:
            await self.writer.close()
        finally:
            await self.pool.close()
