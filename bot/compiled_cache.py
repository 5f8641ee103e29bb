"""Compiled rules kept on disk between runs of a short-lived command.

``callguard check "…"`` is a whole process per question. Compiling the
shipped rules costs more than everything else it does together (about half a
second, most of it building the pinyin spellings of the Chinese phrases),
while reading back the compiled detector takes about a tenth of that. So the
command line keeps the compiled detector in a cache file and reuses it while
both the rule file and the detection code are unchanged: the file's name is
a digest of the rule file's bytes, the detection package's source and data
and the Python version, so any change to one of them simply misses the cache.

A cache file is a pickle, and loading a pickle runs code, so a file is used
only when it and its folder belong to the current user and nobody else may
write them; anything unexpected (a damaged file, an unwritable folder) is
skipped quietly and the rules are compiled as if there were no cache.

The bot uses the cache too: a start with the same rule file and code reads
the rules back (~0.4 s) where checking them costs ~5 s of CPU, and its
detection workers read what the bot stored. The bot must never start on
rules whose own examples fail, which the command line does not run, so an
entry built with the examples run is stored under a key of its own
(``checked=True``): a checked lookup never takes an unchecked entry, an
unchecked one takes either.

``CALLGUARD_CACHE_DIR`` sets the folder (default ``$XDG_CACHE_HOME/callguard``
or ``~/.cache/callguard``); ``off`` turns the cache off.
"""

from __future__ import annotations

import copyreg
import hashlib
import io
import logging
import os
import pickle
import stat
import sys
import tempfile
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Callable

from .detect import Detector

__all__ = ["cache_dir", "code_files", "load_or_build", "lookup", "reduce_mapping_proxy"]

log = logging.getLogger(__name__)


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    setting = os.environ.get("CALLGUARD_CACHE_DIR", "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "callguard"


def code_files() -> list[Path]:
    """The detection package's code and the data it reads (brand names, official domains,
    phrases of money already gone): a change to any of them may change a verdict, so an
    entry checked against the old ones must not come back."""
    package = Path(__file__).resolve().parent / "detect"
    return sorted(p for p in package.iterdir() if p.suffix in (".py", ".txt", ".yaml"))


@lru_cache(maxsize=1)
def _code_digest() -> bytes:
    """What the compiled form depends on besides the rule file: the detection code and data."""
    digest = hashlib.sha256(sys.version.encode())
    for source in code_files():
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.digest()


def _safe(path: Path) -> bool:
    """Owned by us and writable by nobody else (see the module docstring)."""
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _mapping_proxy(items: dict) -> MappingProxyType:
    return MappingProxyType(items)


def reduce_mapping_proxy(proxy: MappingProxyType):
    """Rule sets hold read-only views (MappingProxyType), which pickle cannot
    copy by itself: store the dict, rebuild the view. (The rule builder's
    worker process pickles its compiled rules the same way.)"""
    return _mapping_proxy, (dict(proxy),)


def _dumps(detector: Detector) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[MappingProxyType] = reduce_mapping_proxy
    pickler.dump(detector)
    return buffer.getvalue()


def _path(folder: Path, data: bytes, checked: bool) -> Path:
    kind = b"checked" if checked else b"compiled"
    key = hashlib.sha256(_code_digest() + hashlib.sha256(data).digest() + kind).hexdigest()[:40]
    return folder / f"detector-{key}.pickle"


def _read(folder: Path, path: Path) -> Detector | None:
    if not (_safe(folder) and _safe(path)):
        return None
    try:
        with open(path, "rb") as file:
            cached = pickle.load(file)
        return cached if isinstance(cached, Detector) else None
    except Exception as exc:  # a damaged or foreign file: compile instead
        log.debug("ignoring the compiled-rules cache %s: %s", path, exc)
        return None


def _store(folder: Path, path: Path, detector: Detector) -> None:
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _safe(folder):
            blob = _dumps(detector)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".detector-", suffix=".tmp")  # mode 0600
            try:
                with os.fdopen(fd, "wb") as file:
                    file.write(blob)
                os.replace(tmp, path)
            except OSError:
                os.unlink(tmp)
                raise
    except (OSError, pickle.PicklingError) as exc:
        log.debug("not caching the compiled rules in %s: %s", folder, exc)


def _cached(folder: Path, data: bytes, checked: bool) -> Detector | None:
    """The entry for ``data``: a checked one, or (unless ``checked``) either."""
    for entry_checked in (True,) if checked else (True, False):
        cached = _read(folder, _path(folder, data, entry_checked))
        if cached is not None:
            return cached
    return None


def lookup(data: bytes) -> Detector | None:
    """The cached detector for rule-file content ``data`` (checked or not), or
    None: for a caller that must not compile here when it is missing."""
    folder = cache_dir()
    return None if folder is None else _cached(folder, data, checked=False)


def load_or_build(data: bytes, build: Callable[[bytes], Detector], *, checked: bool = False) -> Detector:
    """The detector for rule-file content ``data``: from the cache when it
    holds one for exactly this content and code, else ``build(data)`` (whose
    errors pass through unchanged), stored for next time.

    ``checked``: ``build`` runs the rule file's own examples (and raises when
    one fails), and only a detector built that way may come back."""
    folder = cache_dir()
    if folder is None:
        return build(data)
    cached = _cached(folder, data, checked)
    if cached is not None:
        return cached
    detector = build(data)
    _store(folder, _path(folder, data, checked), detector)
    return detector
