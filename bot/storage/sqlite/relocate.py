"""A database file deleted or replaced under the running bot: notice it, recover, lose nothing.

SQLite does not notice when its file is unlinked (``rm callguard.db*``) or
renamed over: the open connection keeps writing to the old inode, every commit
succeeds, and all of it vanishes when the process exits. So the store compares,
periodically, the device and inode of the file at the database's path with
those of the file it opened (:func:`verify`, from ``SQLiteStore.check``):

* **Deleted:** the open connection still reads the whole database, including
  what was written after the deletion. It is copied with SQLite's backup API to
  a new file, which is then hard-linked to the path (never over a file that
  appeared there meanwhile) and reopened. Nothing is lost, report ids go on.
* **Replaced** (another file moved to the path, or another process restored it
  first): the store switches to the file now at the path, and logs how many
  reports written to the old file since the last check are not in the new one.

SQLite finds a database's ``-wal`` and ``-shm`` files by name. When the main
file was unlinked or renamed, closing the old connection leaves them in place
(SQLite checks that the file has not moved before it deletes them), and a new
file opened at the path would take the old file's WAL for its own and replay
it. So the store remembers which files were its -wal and -shm at each good
check, and after closing the old connection removes those (other processes
still using the deleted database keep them through their open descriptors),
never files under those names that belong to the new database.

Until recovery succeeds every operation raises StorageError, so the writer
keeps reports in memory and they are written once the store is back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Callable

from ..keys import write_key_file
from . import queries

__all__ = ["FileState", "verify"]

log = logging.getLogger(__name__)

Connect = Callable[[str, int], sqlite3.Connection]
Identity = tuple[int, int]


@dataclasses.dataclass(frozen=True)
class FileState:
    """What the store knows about its file (read and replaced on the database thread only)."""

    path: Path
    identity: Identity  # (st_dev, st_ino) of the file the connection has open
    last_id: int  # the highest report id at the last check
    checked_at: float
    busy_timeout_ms: int
    connect: Connect
    key_file: Path | None = None  # the key file to write again if it is deleted
    secret: bytes = dataclasses.field(default=b"", repr=False)
    rescue: Path | None = None  # a copy of the deleted database, waiting to be linked to the path
    side: frozenset[Identity] = frozenset()  # its -wal/-shm files, as of the last good check
    unchecked: tuple[tuple[int, float], ...] = ()  # (id, created_at) written to a replaced file since last_id

    @classmethod
    def of(cls, conn: sqlite3.Connection, path: Path, busy_timeout_ms: int, connect: Connect,
           key_file: Path | None = None, secret: bytes = b"") -> FileState:
        identity = _identity(path)
        if identity is None:
            raise FileNotFoundError(f"{path} disappeared while it was being opened")
        return cls(path, identity, queries.last_report_id(conn), time.time(), busy_timeout_ms, connect,
                   key_file, secret, side=_side_identities(path))


def restore_key_file(state: FileState) -> None:
    """Write the key file again if someone deleted it (the key is still in memory)."""
    if state.key_file is None or not state.secret or state.key_file.exists():
        return
    try:
        write_key_file(state.key_file, state.secret)
    except OSError as exc:  # the key is still in memory: reports go on, the next check tries again
        log.error("the reporter key file %s was deleted while the bot ran and cannot be written again (%s); "
                  "if the bot restarts before it is, earlier reports can no longer be found by /forget",
                  state.key_file, exc)
    else:
        log.error("the reporter key file %s was deleted while the bot ran; written again", state.key_file)


def verify(thread, state: FileState) -> tuple[FileState, Exception | None]:
    """Compare the path's file with the open one; recover on a mismatch (see the module docstring).

    Runs on the database thread (``thread.conn`` is the connection). Returns the
    new state, and the storage error (OSError or sqlite3.Error) that keeps the
    database from being used now, if any: the state must be kept either way, it
    may hold the only copy of a deleted database."""
    if thread.conn is not None:
        try:
            current = _identity(state.path)
        except OSError as exc:  # cannot tell (e.g. the folder's permissions changed): not a mismatch
            log.warning("cannot check the database file %s: %s", state.path, exc)
            return state, None
        if current == state.identity:
            restore_key_file(state)
            with contextlib.suppress(sqlite3.Error):
                state = dataclasses.replace(state, last_id=queries.last_report_id(thread.conn))
            return dataclasses.replace(state, checked_at=time.time(), side=_side_identities(state.path)), None
        try:
            state = _leave(thread, state, deleted=current is None)
        except (OSError, sqlite3.Error) as exc:  # nothing changed: the old connection is still there
            return state, exc
    try:
        state = _reopen(thread, state)
    except (OSError, sqlite3.Error) as exc:
        return state, exc
    restore_key_file(state)
    return state, None


def _leave(thread, state: FileState, *, deleted: bool) -> FileState:
    """Stop using the old file: keep a copy of it if it was deleted, then let the connection go."""
    old = thread.conn
    rescue, unchecked = None, ()
    if deleted:
        rescue = _backup(old, state.path)  # raises before anything changed if it cannot be made
        log.error("the database file %s was deleted while the bot was running; copied what the open "
                  "connection still holds (reports up to id %d) to put it back", state.path,
                  queries.last_report_id(old))
    else:
        unchecked = tuple(_reports_after(old, state.last_id))
        log.error("the database file %s was replaced by another file while the bot was running; switching "
                  "to the new file (%d report(s) written to the old one since %s to look for there)", state.path,
                  len(unchecked), time.strftime("%H:%M:%S", time.localtime(state.checked_at)))
    thread.conn = None
    old.close()
    for name in _side_files(state.path):  # the old file's -wal/-shm: not for the file that comes next
        if _identity(name) in state.side:
            name.unlink(missing_ok=True)
    return dataclasses.replace(state, rescue=rescue, unchecked=unchecked, side=frozenset())


def _reopen(thread, state: FileState) -> FileState:
    """Open the file at the path (after linking the rescued copy there, if it is free)."""
    rescue = state.rescue
    if rescue is not None and not rescue.exists():
        rescue = None  # linked to the path by an attempt that failed after it
    if rescue is not None:
        try:
            _link_or_rename(rescue, state.path)
        except FileExistsError:
            pass  # another file (another process's recovery?) took the path: compared below
        else:
            log.error("the database %s is back in place; no report was lost", state.path)
            rescue = None
    conn = state.connect(str(state.path), state.busy_timeout_ms)
    try:
        identity = _identity(state.path)
        if identity is None:
            raise FileNotFoundError(f"{state.path} disappeared again while it was being reopened")
        if rescue is not None:
            _settle_rescue(conn, rescue, state.path)
        if state.unchecked:
            _report_missing(conn, state.unchecked, state.path)
        last = queries.last_report_id(conn)
    except BaseException:
        conn.close()
        raise
    thread.conn = conn
    return dataclasses.replace(state, identity=identity, last_id=last, checked_at=time.time(), rescue=None,
                               side=_side_identities(state.path), unchecked=())


# -- the pieces -------------------------------------------------------------------------


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _side_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


def _link_or_rename(source: Path, target: Path) -> None:
    """Give ``source`` the name ``target``, never over an existing file (FileExistsError)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if isinstance(exc, FileExistsError) or exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if os.path.lexists(target):  # no hard links here: rename, which would replace a file
            raise FileExistsError(errno.EEXIST, "exists", str(target)) from None
        os.rename(source, target)
    else:
        os.unlink(source)


def _side_identities(path: Path) -> frozenset[Identity]:
    return frozenset(ident for ident in map(_identity, _side_files(path)) if ident is not None)


def _backup(conn: sqlite3.Connection, path: Path) -> Path:
    """A complete copy of what ``conn`` sees, in a new file beside ``path``."""
    copy = path.with_name(f".{path.name}.rescued-{os.getpid()}-{time.strftime('%Y%m%d%H%M%S')}")
    target = sqlite3.connect(copy, isolation_level=None)
    try:
        conn.backup(target)
        target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, whatever the source used
    except BaseException:
        target.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(copy)
        raise
    target.close()
    return copy


def _reports_after(conn: sqlite3.Connection, last_id: int) -> list[tuple[int, float]]:
    return conn.execute("SELECT id, created_at FROM reports WHERE id > ? ORDER BY id", (last_id,)).fetchall()


def _report_missing(conn: sqlite3.Connection, rows: tuple[tuple[int, float], ...], path: Path) -> None:
    """Log which reports of the old file the new one lacks (the same id and time means the same report)."""
    present = set()
    for chunk in queries._chunks([rid for rid, _ in rows]):
        marks = ",".join("?" * len(chunk))
        present.update(conn.execute(f"SELECT id, created_at FROM reports WHERE id IN ({marks})", chunk).fetchall())
    missing = [rid for rid, created in rows if (rid, created) not in present]
    if missing:
        log.error("%d report(s) written to the replaced database file are not in %s (old ids %d..%d): they "
                  "are lost", len(missing), path, missing[0], missing[-1])
    else:
        log.warning("every report written to the replaced database file is also in %s", path)


def _settle_rescue(conn: sqlite3.Connection, rescue: Path, path: Path) -> None:
    """Another file took the path before the rescued copy could: keep the copy unless the new
    file already holds its last report (another process restored the same database later)."""
    copy = sqlite3.connect(f"file:{rescue}?mode=ro", uri=True)
    try:
        last = copy.execute("SELECT id, created_at FROM reports ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        copy.close()
    if last is None or conn.execute("SELECT 1 FROM reports WHERE id = ? AND created_at = ?", last).fetchone():
        os.unlink(rescue)
        log.warning("%s was put back by someone else, with every report of this process's copy", path)
    else:
        log.error("another file took %s before the deleted database could be put back; a copy of the "
                  "deleted database is kept at %s", path, rescue)
