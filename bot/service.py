"""The application layer: judge a description, log the report, count numbers.

Telegram-agnostic, so the bot handlers stay thin translations between chat and
this object, and tests can drive it directly. Detection never waits on
storage: the verdict is computed first, and a storage failure only means the
report is queued by :class:`~callguard.storage.ReportWriter`.

The Telegram handlers reach storage only through this object: what they may
read or delete is the list of methods below, whatever the backend.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from .config import Settings
from .detect import Detector, RuleSet, Verdict
from .detect.language import dialect_of
from .detect.paid import already_paid
from .detect.regions import Region, number_regions, pick_region, region_hint
from .detection_pool import DetectionPool, Judgement
from .numbers import display_number, extract_numbers, number_region
from .rulebook import RuleBook
from .storage import Preferences, Report, ReportStore, ReportWriter, Stats, StorageError, mask_row, write_csv
from .storage.models import utc_day

if TYPE_CHECKING:
    from .ocr.pool import OcrPool

__all__ = ["Outcome", "CallGuard"]

log = logging.getLogger(__name__)

NUMBER_WINDOW_DAYS = 30
PREFERENCES_CACHED = 100_000  # users whose /lang and /region are kept in memory (a few hundred bytes each)
BUTTON_SIGNATURE_CHARS = 16  # base64url characters: 96 bits


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    ruleset: RuleSet  # the rule set that judged, for the reply texts (even mid-reload)
    numbers: tuple[str, ...]  # E.164
    report_id: int | None  # None when the report is queued (storage down)
    number_counts: dict[str, int] = field(default_factory=dict)  # display form -> other people who reported it
    region: Region | None = None  # whose emergency numbers the reply gives (None: generic texts)
    paid: bool = False  # the text says money was already sent: the emergency steps come first

    @property
    def displayed_numbers(self) -> tuple[str, ...]:
        return tuple(display_number(n) for n in self.numbers)


def _warned_category(verdict: Verdict, ruleset: RuleSet) -> str | None:
    """The category of the scam a message worded as a warning tells (``verdict.warns_of``),
    as the rule set that judged it has that rule; stored with the report so /stats can
    count warnings by the scam they warn of even after the rule file changes."""
    if verdict.warns_of is None:
        return None
    return next((r.category for r in ruleset.rules if r.id == verdict.warns_of), None)


class CallGuard:
    def __init__(self, settings: Settings, rules: RuleBook, writer: ReportWriter, pool: DetectionPool | None = None,
                 *, ocr: OcrPool | None = None, owns_ocr: bool = True):
        self.settings = settings
        self.rules = rules
        self.writer = writer
        self.pool = pool or DetectionPool(0)  # detection workers; 0 workers: judged on the event loop
        self.ocr = ocr  # reads pictures; None when this server does not (no ``ocr`` extra, or turned off)
        # Close it with the bot (tests share one pool between bots). Its worker starts with the first
        # picture, not with the bot: a server that is sent no pictures never pays for the models.
        self._owns_ocr = owns_ocr
        # user id -> their /lang and /region, read from storage once per user (least recently used dropped)
        self._preferences: collections.OrderedDict[int, Preferences] = collections.OrderedDict()

    @property
    def detector(self) -> Detector:
        return self.rules.detector

    @property
    def ruleset(self) -> RuleSet:
        """The live rule set (texts, categories) as of now."""
        return self.rules.detector.ruleset

    def user_tag(self, user_id: int | None) -> str:
        """How logs name a user: a keyed hash, never the Telegram id (see ReporterKeys.log_tag)."""
        keys = self.writer.keys
        if keys is None:  # storage never opened: the key is not known yet
            return "user#unknown" if user_id is not None else "user#none"
        return keys.log_tag(user_id)

    async def assess(
        self,
        text: str,
        *,
        user_id: int | None,
        lang: str,
        chat_type: str,
        source: str = "message",
        money_sent: bool | None = None,
        chosen_region: str | None = None,
        language_code: str | None = None,
    ) -> Outcome:
        """Judge ``text``, log it (committed before we return), count its numbers.

        ``chosen_region`` (the user's ``/region``) and ``language_code`` (their
        client's language tag) help pick the region whose help the reply gives."""
        judgement, detector = await self.judge(text, user_id=user_id, chosen_region=chosen_region, lang=lang,
                                               language_code=language_code)
        return await self.record(text, judgement.verdict, detector, user_id=user_id, lang=lang,
                                 chat_type=chat_type, source=source, money_sent=money_sent,
                                 chosen_region=chosen_region, language_code=language_code,
                                 numbers=judgement.numbers)

    async def judge(self, text: str, *, user_id: int | None, chosen_region: str | None = None,
                    lang: str | None = None, language_code: str | None = None) -> tuple[Judgement, Detector]:
        """The live rule set's verdict on ``text`` (and the phone numbers in it), with the
        detector that gave it (one rule set for the whole message, even mid-reload). Worked
        out in the detection pool, where the sender's turn depends on how much detection they
        have cost lately. Local numbers are read as the user's region writes them
        (:meth:`number_regions`)."""
        loaded = self.rules.live
        regions = self.number_regions(loaded.detector.ruleset, chosen=chosen_region, lang=lang,
                                      language_code=language_code, text=text)
        judgement = await self.pool.judge(loaded, text, user_id, regions)
        return judgement, loaded.detector

    def number_regions(self, ruleset: RuleSet, *, chosen: str | None = None, lang: str | None = None,
                       language_code: str | None = None, text: str | None = None) -> tuple[str, ...]:
        """The regions whose way of writing phone numbers is tried, in order: the user's own
        when known (their ``/region``, their Telegram language tag's country, the region
        ``text`` names, the language they write), then ``CALLGUARD_REGION`` (see
        ``detect.regions.number_regions``)."""
        return number_regions(ruleset.regions, chosen=chosen, lang=lang, language_code=language_code,
                              default=self.settings.default_region,
                              hinted=region_hint(ruleset.regions, text) if text else None)

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
        chosen_region: str | None = None,
        language_code: str | None = None,
        from_image: bool = False,
        numbers: tuple[str, ...] | None = None,
    ) -> Outcome:
        """Log a verdict already computed (group chats judge first, log only what they answer);
        ``numbers``: the phone numbers in ``text`` if already found (:meth:`judge`).

        A text that says money was already sent ("我已经转了钱") is logged as such
        unless the caller knows better (``money_sent``). ``from_image``: ``text`` was
        read from a picture (with its caption, if any)."""
        if numbers is None:
            numbers = extract_numbers(text, self.number_regions(detector.ruleset, chosen=chosen_region, lang=lang,
                                                                language_code=language_code, text=text))
        paid = already_paid(text) and (verdict.scam or verdict.category is None or verdict.risk == "low")
        if money_sent is None and paid:
            money_sent = True
        report = Report(
            text=text, lang=lang, numbers=numbers, scam=verdict.scam, risk=verdict.risk,
            category=verdict.category, rule=verdict.rule, score=verdict.score,
            ruleset_version=detector.version, chat_type=chat_type, source=source, money_sent=money_sent,
            from_image=from_image, warns_of=verdict.warns_of,
            warns_of_category=_warned_category(verdict, detector.ruleset),
        )
        # The counts are read in the same transaction as the write (one trip to the database):
        # how many *other* people reported each number, so nobody can inflate it alone.
        report_id, raw = await self.writer.submit_and_count(report, user_id, days=NUMBER_WINDOW_DAYS)
        counts = {display_number(n): c for n, c in raw.items() if c > 0}
        region = self.region_for(detector.ruleset, numbers=numbers, chosen=chosen_region, lang=lang,
                                 language_code=language_code, dialect=dialect_of(text),
                                 hinted=region_hint(detector.ruleset.regions, text))
        return Outcome(verdict, detector.ruleset, numbers, report_id, counts, region, paid)

    def region_for(self, ruleset: RuleSet, *, numbers: tuple[str, ...] = (), chosen: str | None = None,
                   lang: str | None = None, language_code: str | None = None,
                   dialect: str | None = None, hinted: str | None = None) -> Region | None:
        """The user's region, in order: their ``/region``, the country of a phone number in the
        message, their language tag, the region the message's words name (令吉, PayNow, HMRC),
        the dialect they write (Cantonese, Malay), their language, and ``CALLGUARD_REGION``
        (see ``detect.regions.pick_region``)."""
        return pick_region(ruleset.regions, chosen=chosen, numbers=[number_region(n) for n in numbers],
                           lang=lang, language_code=language_code, default=self.settings.default_region,
                           dialect=dialect, hinted=hinted)

    def button_signature(self, action: str, report_id: int, user_id: int) -> str | None:
        """A keyed hash of (action, report, user): what a button that writes to report
        ``report_id`` carries, so that only ``user_id`` (its reporter) can press it with
        effect. Report ids are sequential; without this, anyone could send feedback on,
        or mark as "money sent", everyone else's reports. None while storage has never
        opened (the key comes with it); such a report has no id anyway."""
        keys = self.writer.keys
        if keys is None:
            return None
        mac = hmac.new(keys.derived_key("buttons"), f"{action}:{report_id}:{user_id}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).decode()[:BUTTON_SIGNATURE_CHARS]

    def button_pressed_by_reporter(self, action: str, report_id: int, user_id: int, signature: str | None) -> bool:
        """Whether a press of ``action`` on ``report_id`` carrying ``signature`` comes from
        that report's own reporter (see :meth:`button_signature`)."""
        expected = self.button_signature(action, report_id, user_id) if signature else None
        return expected is not None and hmac.compare_digest(expected, signature)

    async def feedback(self, report_id: int, user_id: int, value: str, comment: str | None = None) -> bool:
        store = self.writer.store
        if store is None or report_id <= 0:
            return False
        try:
            return await store.set_feedback(report_id, user_id, value, comment)
        except Exception:
            log.warning("feedback not stored", exc_info=True)
            return False

    async def mark_money_sent(self, report_id: int) -> None:
        store = self.writer.store
        if store is None or report_id <= 0:
            return
        try:
            await store.set_money_sent(report_id, True)
        except Exception:
            log.warning("money_sent not stored", exc_info=True)

    # -- a user's /lang and /region ---------------------------------------------------

    async def preferences(self, user_id: int) -> Preferences:
        """What the user chose with /lang and /region, kept across restarts.

        Read from storage the first time a user is seen, then from memory: no query
        per message. While storage is down the answer is "nothing chosen" and is
        not cached, so the stored choice is read once storage is back."""
        cached = self._preferences.get(user_id)
        if cached is not None:
            self._preferences.move_to_end(user_id)
            return cached
        store = self.writer.store
        if store is None:
            return Preferences()
        try:
            prefs = await store.get_preferences(user_id)
        except StorageError as exc:
            log.warning("preferences of %s not read: %s", self.user_tag(user_id), exc)
            return Preferences()
        self._cache_preferences(user_id, prefs)
        return prefs

    async def set_preferences(self, user_id: int, *, lang: str | None = None, region: str | None = None) -> None:
        """Remember the user's /lang (``lang``) or /region (``region``) choice; None keeps
        the other. In use at once; stored for the next restart when storage is up (a
        failure is logged, and the choice still holds until this process ends)."""
        choice = Preferences(lang=lang, region=region)
        choice.validate()
        known = self._preferences.get(user_id) or Preferences()
        self._cache_preferences(user_id, Preferences(lang=lang or known.lang, region=region or known.region))
        store = self.writer.store
        if store is None:
            log.warning("preferences of %s not stored: report storage unavailable", self.user_tag(user_id))
            return
        try:
            await store.set_preferences(user_id, choice)
        except StorageError as exc:
            log.warning("preferences of %s not stored: %s", self.user_tag(user_id), exc)

    def _cache_preferences(self, user_id: int, prefs: Preferences) -> None:
        self._preferences[user_id] = prefs
        self._preferences.move_to_end(user_id)
        while len(self._preferences) > PREFERENCES_CACHED:
            self._preferences.popitem(last=False)

    # -- a user's own records (/forget) -------------------------------------------------

    async def count_user_records(self, user_id: int) -> int:
        """What /forget would delete, reports still queued included. Raises StorageError."""
        return await self.writer.count_user_records(user_id)

    async def forget(self, user_id: int) -> int:
        """Delete the user's records, stored and queued; the count. Raises StorageError
        (the user must learn that nothing was deleted)."""
        count = await self.writer.forget(user_id)
        self._preferences.pop(user_id, None)  # their /lang and /region went with the rest
        return count

    # -- for admins ------------------------------------------------------------------

    async def _store(self) -> ReportStore:
        store = self.writer.store
        if store is None and await self.writer.connect():
            store = self.writer.store
        if store is None:
            raise StorageError("report storage is not available")
        return store

    async def stats(self, days: int) -> Stats:
        """Report statistics for the last ``days`` days. Raises StorageError."""
        return await (await self._store()).stats(days)

    async def daily_counts(self, days: int) -> list[tuple[str, str, int]]:
        return await (await self._store()).daily_counts(days)

    async def export_csv(self, since: float, out: TextIO, *, admin_id: int, full_numbers: bool = False) -> int:
        """The reports created since ``since`` (unix time) as CSV; returns how many.

        Phone numbers are masked as /stats shows them unless ``full_numbers``;
        who asked for full numbers is logged (as a keyed hash). Raises StorageError."""
        rows = await (await self._store()).export_rows(since)
        if not full_numbers:
            rows = [mask_row(row, self.settings.default_region) for row in rows]
        count = write_csv(rows, out)
        if full_numbers:
            log.warning("%s exported %d reports since %s WITH FULL PHONE NUMBERS", self.user_tag(admin_id), count,
                        utc_day(since))
        else:
            log.info("%s exported %d reports since %s (phone numbers masked)", self.user_tag(admin_id), count,
                     utc_day(since))
        return count

    async def purge(self) -> int | None:
        """Delete reports (and number counts) older than the retention period; None when
        storage is down (logged)."""
        days = self.settings.retention_days
        try:
            removed = await (await self._store()).purge(days)
        except StorageError as exc:
            log.warning("retention purge skipped: report storage unavailable (%s)", exc)
            return None
        except Exception:
            log.exception("retention purge failed")
            return None
        log.info("retention purge: %d report(s) older than %d days deleted", removed, days)
        return removed

    async def check_storage(self) -> int:
        """The periodic job: the storage checks itself (a deleted database file is put
        back), then the reports queued during an outage are written; how many."""
        written = await self.writer.check()
        if written:
            log.info("wrote %d queued reports", written)
        return written

    async def start(self) -> None:
        """Start the detection workers and open storage now so the first user does not pay
        for it; a database that cannot be opened is retried later, the bot answers meanwhile."""
        await self.pool.start(self.rules.live)
        if not await self.writer.connect():
            log.error("report storage unavailable at start; reports are queued until it returns")

    async def close(self) -> None:
        """Write pending reports and close storage (called at shutdown); stop the OCR and
        detection workers."""
        try:
            await self.writer.close()
        finally:
            if self.ocr is not None and self._owns_ocr:
                await self.ocr.aclose()
            await self.pool.close()
