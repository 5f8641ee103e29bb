"""Reporter keys: how a Telegram user id becomes a pseudonym, and where the secret lives.

A user id is stored only as ``HMAC-SHA256(secret, str(user_id))`` (32 hex
digits), which finds "this user's rows" for /forget without keeping who they
are. Telegram ids are short numbers, so whoever holds the secret *and* the
database can recover every reporter by trying them all (about a second per
user). The secret must therefore never sit in the database file: it comes from
``CALLGUARD_SECRET``, or from a key file beside the database (``callguard.key``
for ``callguard.db``: not matched by ``rm callguard.db*``), created once with
mode 0600. Databases from before kept a generated key in their ``meta`` table;
the backend moves it to the key file on open (:func:`choose_secret`) and says
so loudly whenever it cannot.

Logs name users by another keyed hash (:meth:`ReporterKeys.log_tag`): stable,
so an operator can follow one user through the log, but neither the Telegram
id nor a value that matches the database's reporter column.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["KeyFileError", "ReporterKeys", "SecretChoice", "choose_secret", "default_key_file",
           "read_key_file", "write_key_file"]

log = logging.getLogger(__name__)

SECRET_BYTES = 32
MIN_SECRET_CHARS = 16  # a shorter CALLGUARD_SECRET can be guessed from the database with one's own report
_REPORTER_HEX = 32
_LOG_TAG_HEX = 12


class KeyFileError(Exception):
    """The key file exists but holds no usable key: never guess, never replace it."""


class ReporterKeys:
    """The keyed hashes of one secret."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("secret must not be empty")
        # Keyed once; each hash copies the state instead of setting the key up again.
        self._reporter = hmac.new(secret, digestmod=hashlib.sha256)
        self._log = hmac.new(secret, b"log-tag:", hashlib.sha256)
        self._derived = hmac.new(secret, b"callguard-derived-key:", hashlib.sha256)
        self.fingerprint = hmac.new(secret, b"callguard-secret-check", hashlib.sha256).hexdigest()[:16]

    def reporter(self, user_id: int) -> str:
        """The value stored for this user: first 32 hex digits of HMAC-SHA256(secret, str(user_id))."""
        mac = self._reporter.copy()
        mac.update(str(int(user_id)).encode())
        return mac.hexdigest()[:_REPORTER_HEX]

    def derived_key(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (e.g. signing buttons), derived from the secret: one
        secret to keep, and no use of it reveals another's key."""
        mac = self._derived.copy()
        mac.update(purpose.encode())
        return mac.digest()

    def log_tag(self, user_id: int | None) -> str:
        """How logs name a user: ``user#`` and 12 hex digits of a keyed hash, never the id."""
        if user_id is None:
            return "user#none"
        mac = self._log.copy()
        mac.update(str(int(user_id)).encode())
        return "user#" + mac.hexdigest()[:_LOG_TAG_HEX]


def default_key_file(db_path: str | os.PathLike[str]) -> Path | None:
    """The key file beside a database file (``data/callguard.db`` -> ``data/callguard.key``);
    None for an in-memory database, whose pseudonyms die with it anyway."""
    if os.fspath(db_path) == ":memory:":
        return None
    path = Path(db_path)
    key = path.with_suffix(".key")
    return key if key != path else path.with_name(path.name + ".key")


def read_key_file(path: Path) -> bytes | None:
    """The key in ``path`` (hex digits, whitespace ignored), or None when there is no file.

    Raises KeyFileError for a file that holds something else, OSError when it
    cannot be read. Warns when other users may read it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        secret = bytes.fromhex(raw.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise KeyFileError(f"{path} is not a CallGuard key file (expected {2 * SECRET_BYTES} hex digits); "
                           "restore the right file or set CALLGUARD_SECRET") from None
    if len(secret) < MIN_SECRET_CHARS:
        raise KeyFileError(f"{path} holds a key of {len(secret)} bytes; CallGuard keys have {SECRET_BYTES}")
    mode = path.stat().st_mode
    if mode & 0o077:
        log.warning("the reporter key file %s can be read by other users (mode %03o): chmod 600 it",
                    path, mode & 0o777)
    return secret


def write_key_file(path: Path, secret: bytes) -> bytes:
    """Create ``path`` holding ``secret`` (mode 0600), unless it exists; returns the key now in it.

    Atomic: the key is written and synced under a temporary name, then hard-linked
    to ``path``, which fails if the file exists. So two processes starting together
    agree on one key (the loser reads the winner's), and nobody ever reads a
    half-written file. Where hard links are not supported, the file is created
    exclusively in place instead."""
    data = secret.hex().encode() + b"\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            existing = read_key_file(path)
            if existing is None:  # deleted again meanwhile: try once more, from the top
                return write_key_file(path, secret)
            return existing
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            _create_in_place(path, data)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _sync_directory(path.parent)
    return secret


def _create_in_place(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_directory(directory: Path) -> None:
    """Make the new name durable too (best effort: not every system can open a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass(frozen=True)
class SecretChoice:
    secret: bytes
    source: str  # for the log: "CALLGUARD_SECRET", the key file's path, "the database" or "memory"
    drop_stored: bool  # the key found in the database is kept outside it now: delete it there


def choose_secret(env_secret: bytes | None, key_file: Path | None, stored: bytes | None) -> SecretChoice:
    """Decide which secret hashes reporters, and move a key found in the database out of it.

    ``env_secret`` is CALLGUARD_SECRET, ``key_file`` the key file's path (None for an
    in-memory database), ``stored`` a key an older version kept in the database.
    The secret in use is CALLGUARD_SECRET, else the key file's, else (only when
    the file cannot be written) the stored one, else a new one written to the key
    file. A stored key is first copied to the key file when there is none yet, so
    the hashes made with it stay valid, and dropped from the database once it is
    kept outside; when it cannot be, that is logged as an error at every start.
    Raises OSError when a new key file cannot be written (the caller retries later).
    """
    if env_secret is not None and len(env_secret) < MIN_SECRET_CHARS:
        log.warning("CALLGUARD_SECRET has only %d characters: with a copy of the database and their own "
                    "report, someone could guess it and then every reporter's Telegram id. Use %d random hex "
                    "digits (python3 -c 'import secrets; print(secrets.token_hex(32))').",
                    len(env_secret), 2 * SECRET_BYTES)
    from_file = read_key_file(key_file) if key_file is not None else None
    problem = None
    if stored is not None and from_file is None and key_file is not None:
        try:
            from_file = write_key_file(key_file, stored)
            log.warning("moved the reporter key out of the database into %s (mode 0600); keep it with the "
                        "database's backups: without it /forget cannot find earlier reports", key_file)
        except OSError as exc:
            problem = f"the key file {key_file} cannot be written: {exc.strerror or exc}"
    drop_stored = stored is not None and stored in (from_file, env_secret)
    if stored is not None and not drop_stored:
        problem = problem or (f"the key file {key_file} holds a different key" if key_file is not None
                              else "the database is in memory")
        log.error("SECURITY: the reporter key is still stored in the database file (%s). Anyone with a copy of "
                  "the file can recover the Telegram ids of the people who reported. Fix the cause, or set "
                  "CALLGUARD_SECRET, and restart: the key is then moved out.", problem)
    if env_secret is not None:
        return SecretChoice(env_secret, "CALLGUARD_SECRET", drop_stored)
    if from_file is not None:
        return SecretChoice(from_file, str(key_file), drop_stored)
    if stored is not None:
        return SecretChoice(stored, "the database", False)
    if key_file is None:
        return SecretChoice(secrets.token_bytes(SECRET_BYTES), "memory", False)
    secret = write_key_file(key_file, secrets.token_bytes(SECRET_BYTES))
    log.info("created the reporter key file %s (mode 0600); keep it with the database's backups", key_file)
    return SecretChoice(secret, str(key_file), False)
