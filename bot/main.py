"""The composition root: settings, rules, storage and the bot, wired once.

Everything else receives what it needs as arguments; only this module knows
how the pieces fit together.
"""

from __future__ import annotations

import functools
import gc
import logging
import sys

from telegram import Update

from .config import Settings
from .detect import RuleFileError
from .detect.chinese_words import load_dictionary
from .detect.model import Model, ModelFileError
from .detection_pool import DetectionPool
from .rulebook import RuleBook
from .rulefiles import unreadable
from .service import CallGuard
from .storage import ReportWriter, SQLiteStore, default_key_file
from .telegram.app import build_application

__all__ = ["build", "run"]

log = logging.getLogger(__name__)

NO_TOKEN = ("callguard run: TELEGRAM_BOT_TOKEN is not set. Ask @BotFather in Telegram for a token "
            "(/newbot), then export TELEGRAM_BOT_TOKEN=... ; `callguard chat` works without one.")


def build(settings: Settings, *, ocr=None):
    """The PTB Application for ``settings``; raises RuleFileError for bad rules and
    ModelFileError for a model file (CALLGUARD_MODEL) that cannot be used.

    ``ocr``: an :class:`~callguard.ocr.pool.OcrPool` to share (the caller closes it);
    by default the bot makes its own when it can read pictures (see :func:`ocr_pool`)."""
    rules = RuleBook.load(settings.rules_path)
    # Rules read back from the compiled-rules cache have judged nothing yet: load the Chinese
    # segmenter's dictionary now (~0.15 s, ~30 MB), as the detection workers do, not for the
    # first Chinese user (and so the memory the bot starts with is the memory it runs with).
    load_dictionary()
    model = Model.load(settings.model_path) if settings.model_path is not None else None
    writer = ReportWriter(functools.partial(SQLiteStore.open, settings.db_path, secret=settings.secret,
                                            key_file=settings.secret_file or default_key_file(settings.db_path)))
    owns_ocr = ocr is None
    pool = DetectionPool(settings.detect_workers, model=model, model_path=settings.model_path if model else None)
    guard = CallGuard(settings, rules, writer, pool,
                      ocr=ocr_pool(settings) if owns_ocr else ocr, owns_ocr=owns_ocr)
    return build_application(settings, guard)


def ocr_pool(settings: Settings):
    """The OCR worker pool for pictures, or None when this server does not read them."""
    from . import ocr

    if settings.ocr_workers == 0:
        log.info("pictures are not read: CALLGUARD_OCR_WORKERS=0")
        return None
    if not ocr.available():
        log.warning("pictures are not read: %s", ocr.MISSING)
        return None
    from .ocr.pool import OcrPool

    max_waiting = max(1, min(8, settings.concurrency // 2))  # pictures never take more than half the update slots
    log.info("pictures are read by %d OCR worker(s), at most %d at a time queued", settings.ocr_workers, max_waiting)
    return OcrPool(settings.ocr_workers, timeout=settings.ocr_timeout, max_waiting=max_waiting)


def run(settings: Settings, *, webhook: bool = False) -> int:
    """Start the bot (long polling, or a webhook server); returns an exit status.

    PTB stops on SIGINT/SIGTERM; shutdown then writes pending reports."""
    if not settings.token:
        print(NO_TOKEN, file=sys.stderr)
        return 2
    if webhook and not (settings.webhook_url and settings.webhook_secret):
        print("callguard run --webhook: set CALLGUARD_WEBHOOK_URL (the public https URL) and "
              "CALLGUARD_WEBHOOK_SECRET (letters, digits, _ and -).", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app = build(settings)
    except RuleFileError as exc:
        reason = unreadable(settings.rules_path) or f"the rule file has errors:\n{exc}"
        print(f"callguard run: {reason}", file=sys.stderr)
        return 1
    except ModelFileError as exc:
        print(f"callguard run: {exc} (CALLGUARD_MODEL; `off` runs the rules alone)", file=sys.stderr)
        return 1
    if settings.model_path is not None:
        log.info("second opinion: the model %s", settings.model_path)
    # The compiled rules and the libraries are ~250,000 objects that live as long as the
    # process; left to the cyclic GC, every full collection walks them all (75-90 ms on
    # the event loop, more under a backlog). Freeze them out of it (see docs/reliability.md).
    gc.collect()
    gc.freeze()
    if webhook:  # served by callguard.telegram.webhook through the intake (app.updater)
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=settings.webhook_path,
            secret_token=settings.webhook_secret,
            webhook_url=f"{settings.webhook_url.rstrip('/')}/{settings.webhook_path}",
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0
