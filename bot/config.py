"""Settings from the environment, read and validated once at start.

Every setting has one place (this module) and one name (``CALLGUARD_*`` or
``TELEGRAM_BOT_TOKEN``); a bad value stops the program with one clear line
instead of surfacing as a strange failure later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .rulefiles import shipped

__all__ = ["Settings", "ConfigError", "DEFAULT_RULES", "DEFAULT_MODEL", "SHIPPED_MODEL", "TELEGRAM_API_URL",
           "model_setting"]

DEFAULT_RULES = shipped("scam_patterns.yaml")  # inside the installed package, whatever the working folder
# The learned second opinion's weights shipped with the package, off unless asked for
# (CALLGUARD_MODEL=shipped): trained by ``python bench/fresh_model.py --group 10 --without
# sgd,exais_ham,fbs_sms --save FILE`` on the project's read fresh batches, dev.jsonl and the corpus
# sources whose licences allow it (detect/second_opinion.txt; bench/README.md, "Learned second
# opinion", has what it adds and why it is not on by default).
SHIPPED_MODEL = Path(__file__).parent / "detect" / "second_opinion.cgm"
DEFAULT_MODEL: Path | None = None  # no model unless CALLGUARD_MODEL names one
TELEGRAM_API_URL = "https://api.telegram.org/bot"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def model_setting(value: str, name: str) -> Path | None:
    """The model file a setting names (``name``: CALLGUARD_MODEL, or --model on the command
    line): a path, ``shipped`` (the package's weights) or ``off`` (the rules alone: None)."""
    value = value.strip()
    if value.lower() in ("off", "none", "no", "0"):
        return None
    if value.lower() == "shipped":
        return SHIPPED_MODEL
    if not Path(value).is_file():
        raise ConfigError(f"{name} must be a model file from `callguard train`, shipped or off, "
                          f"and {value!r} is not a file")
    return Path(value)


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    token: str = ""
    db_path: Path = Path("callguard.db")
    rules_path: Path = DEFAULT_RULES
    admins: frozenset[int] = field(default_factory=frozenset)
    bot_api_url: str = TELEGRAM_API_URL
    bot_file_url: str = ""
    webhook_listen: str = "127.0.0.1"  # behind the TLS proxy on the same host; 0.0.0.0 only on purpose
    webhook_port: int = 8443
    webhook_url: str = ""
    webhook_path: str = "telegram"
    webhook_secret: str = ""
    secret: bytes | None = None  # key for hashing reporter ids (CALLGUARD_SECRET)
    secret_file: Path | None = None  # where the key is kept without CALLGUARD_SECRET; None = beside the database
    retention_days: int = 365
    watch_rules: bool = False
    rate_limit: int = 20  # messages per user per minute
    send_rate: int = 30  # outgoing messages per second, all chats together (Telegram's limit); 0 = off
    # Updates processed at once (different users in parallel) and HTTP connections to the
    # Bot API. PTB's defaults are 256 and 256, but httpx/httpcore's connection pool scans
    # every connection (a syscall per idle one), and for each idle one all of them again, on
    # each request: with 256 a send costs ~1.7x the CPU it costs with 16 (bench/README.md,
    # "The whole bot"). 16 in flight still carry ~50 replies/s at a slow ~300 ms round trip
    # to Telegram, above its 30 messages/s limit. connections defaults to concurrency, so an
    # update never waits for a connection (PTB's pool_timeout is 1 s).
    concurrency: int = 16
    connections: int = 16
    # Processes that judge messages, so an expensive message never stops the event loop (and one
    # is kept free from expensive senders; see callguard/detection_pool.py). Each holds the compiled
    # rules (~115 MB with the shipped ones). 0 = judge on the event loop.
    detect_workers: int = 2
    default_region: str = "CN"
    # Pictures (the ``ocr`` extra): worker processes reading them (0 = do not read pictures),
    # seconds one picture may take, and pictures per user per minute (tighter than text).
    ocr_workers: int = 1
    ocr_timeout: int = 30
    image_rate_limit: int = 3
    # The learned second opinion (callguard/detect/model.py): a model file from `callguard train`,
    # or None for the rules alone. CALLGUARD_MODEL: a path, "shipped" (the package's weights), or "off".
    model_path: Path | None = DEFAULT_MODEL

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        admins = set()
        for part in env.get("CALLGUARD_ADMINS", "").replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.lstrip("-").isdigit():
                raise ConfigError(f"CALLGUARD_ADMINS must be Telegram user ids separated by commas, got {part!r}")
            admins.add(int(part))
        api_url = env.get("CALLGUARD_BOT_API_URL", "").strip() or TELEGRAM_API_URL
        if not api_url.startswith(("http://", "https://")):
            raise ConfigError(f"CALLGUARD_BOT_API_URL must start with http:// or https://, got {api_url!r}")
        file_url = env.get("CALLGUARD_BOT_FILE_URL", "").strip()
        if not file_url:
            file_url = api_url[: -len("/bot")] + "/file/bot" if api_url.endswith("/bot") else api_url + "/file/bot"
        webhook_url = env.get("CALLGUARD_WEBHOOK_URL", "").strip()
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise ConfigError(f"CALLGUARD_WEBHOOK_URL must be a full URL, got {webhook_url!r}")
        webhook_secret = env.get("CALLGUARD_WEBHOOK_SECRET", "").strip()
        if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
            raise ConfigError("CALLGUARD_WEBHOOK_SECRET may hold only letters, digits, _ and - (1-256 characters)")
        secret = env.get("CALLGUARD_SECRET", "").strip()
        from .detect.regions import region_code  # here, not at the top: it imports the whole detection package

        region = region_code(env.get("CALLGUARD_REGION", "CN")) or "CN"
        concurrency = _int(env, "CALLGUARD_CONCURRENCY", cls.concurrency, 1, 10000)
        model = env.get("CALLGUARD_MODEL", "").strip()
        model_path = model_setting(model, "CALLGUARD_MODEL") if model else DEFAULT_MODEL
        if len(region) != 2 or not region.isalpha():
            raise ConfigError(f"CALLGUARD_REGION must be a two-letter country code, got {region!r}")
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN", "").strip(),
            db_path=Path(env.get("CALLGUARD_DB", "").strip() or "callguard.db"),
            rules_path=Path(env.get("CALLGUARD_RULES", "").strip() or DEFAULT_RULES),
            admins=frozenset(admins),
            bot_api_url=api_url,
            bot_file_url=file_url,
            webhook_listen=env.get("CALLGUARD_WEBHOOK_LISTEN", "").strip() or cls.webhook_listen,
            webhook_port=_int(env, "CALLGUARD_WEBHOOK_PORT", 8443, 1, 65535),
            webhook_url=webhook_url,
            webhook_path=env.get("CALLGUARD_WEBHOOK_PATH", "").strip().strip("/") or "telegram",
            webhook_secret=webhook_secret,
            secret=secret.encode() if secret else None,
            secret_file=Path(env["CALLGUARD_SECRET_FILE"].strip()) if env.get("CALLGUARD_SECRET_FILE", "").strip()
            else None,
            retention_days=_int(env, "CALLGUARD_RETENTION_DAYS", 365, 1, 36500),
            watch_rules=_flag(env, "CALLGUARD_WATCH_RULES"),
            rate_limit=_int(env, "CALLGUARD_RATE_LIMIT", 20, 1, 10000),
            send_rate=_int(env, "CALLGUARD_SEND_RATE", 30, 0, 10000),
            concurrency=concurrency,
            connections=_int(env, "CALLGUARD_CONNECTIONS", concurrency, 1, 10000),
            detect_workers=_int(env, "CALLGUARD_DETECT_WORKERS", cls.detect_workers, 0, 64),
            default_region=region,
            ocr_workers=_int(env, "CALLGUARD_OCR_WORKERS", 1, 0, 64),
            ocr_timeout=_int(env, "CALLGUARD_OCR_TIMEOUT", 30, 1, 600),
            image_rate_limit=_int(env, "CALLGUARD_IMAGE_RATE_LIMIT", 3, 1, 10000),
            model_path=model_path,
        )
