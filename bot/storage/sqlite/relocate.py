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

SQLite's ``-wal`` and ``-shm`` files are found by name, and closing the last
connection of a database deletes them by name. So the old connection is closed
only when the files under those names are its own (or absent); when they belong
to the new file (another process already uses it), the old connection is parked
open for the life of the process instead, and the path is not reopened while
-wal/-shm files of the deleted database are still held by another process.

Until recovery succeeds every operation raises StorageError, so the writer
keeps reports in memory and they are written once the store is back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sqlite3
import threading
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
    stale: frozenset[Identity] = frozenset()  # the deleted database's -wal/-shm, still held elsewhere
    unchecked: tuple[tuple[int, float], ...] = ()  # (id, created_at) written to a replaced file since last_id

    @classmethod
    def of(cls, conn: sqlite3.Connection, path: Path, busy_timeout_ms: int, connect: Connect,
           key_file: Path | None = None, secret: bytes = b"") -> FileState:
        identity = _identity(path)
        if identity is None:
            raise FileNotFoundError(f"{path} disappeared while it was being opened")
        return cls(path, identity, queries.last_report_id(conn), time.time(), busy_timeout_ms, connect,
                   key_file, secret)


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


def verify(thread, state: FileState) -> FileState:
    """Compare the path's file with the open one; recover on a mismatch (see the module docstring).

    Runs on the database thread (``thread.conn`` is the connection). Raises a
    storage error (OSError or sqlite3.Error) while the database cannot be used."""
    if thread.conn is not None:
        try:
            current = _identity(state.path)
        except OSError as exc:  # cannot tell (e.g. the folder's permissions changed): not a mismatch
            log.warning("cannot check the database file %s: %s", state.path, exc)
            return state
        if current == state.identity:
            restore_key_file(state)
            return dataclasses.replace(state, last_id=queries.last_report_id(thread.conn), checked_at=time.time())
        state = _leave(thread, state, deleted=current is None)
    state = _reopen(thread, state)
    restore_key_file(state)
    return state


def _leave(thread, state: FileState, *, deleted: bool) -> FileState:
    """Stop using the old file: keep a copy of it if it was deleted, then let the connection go."""
    old = thread.conn
    rescue, unchecked = None, ()
    if deleted:
        rescue = _backup(old, state.path)  # raises before anything changed if it cannot be made
        log.error("the database file %s was deleted while the bot was running; copied what the open "
                  "connection still holds (%d reports) to put it back", state.path, queries.last_report_id(old))
    else:
        unchecked = tuple(_reports_after(old, state.last_id))
        log.error("the database file %s was replaced by another file while the bot was running; switching "
                  "to the new file (%d report(s) written to the old one since %s to look for there)", state.path,
                  len(unchecked), time.strftime("%H:%M:%S", time.localtime(state.checked_at)))
    stale = _let_go(thread, old, state.path)
    return dataclasses.replace(state, rescue=rescue, unchecked=unchecked, stale=stale)


def _reopen(thread, state: FileState) -> FileState:
    """Open the file at the path (after linking the rescued copy there, if it is free)."""
    held = [name for name in _side_files(state.path) if _identity(name) in state.stale]
    if held:
        raise sqlite3.OperationalError(
            f"another process still has the deleted database open ({held[0].name} is in use); "
            "waiting for it to let go before putting the database back")
    rescue = state.rescue
    if rescue is not None:
        try:
            os.link(rescue, state.path)
        except FileExistsError:
            pass  # another file (another process's recovery?) took the path: compared below
        else:
            os.unlink(rescue)
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
                               stale=frozenset(), unchecked=())


# -- the pieces -------------------------------------------------------------------------


def _identity(path: Path) -> Identity | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _side_files(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")


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


def _let_go(thread, conn: sqlite3.Connection, path: Path) -> frozenset[Identity]:
    """Close ``conn`` if the -wal/-shm files under its names are its own, else park it.

    Returns the identities of its own -wal/-shm files that still exist after the
    close: other processes still have the deleted database open, and the path
    must not be reopened while those names could be mistaken for the new file's."""
    thread.conn = None
    existing = {name: _identity(name) for name in _side_files(path)}
    existing = {name: ident for name, ident in existing.items() if ident is not None}
    mine = _open_here()
    if mine is not None and any(ident not in mine for ident in existing.values()):
        _park(conn)  # closing would delete files the new database's users need
        return frozenset()
    conn.close()
    return frozenset(ident for name, ident in existing.items() if _identity(name) == ident)


def _open_here() -> set[Identity] | None:
    """(device, inode) of every file this process has open; None where /proc cannot say."""
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return None
    found = set()
    for fd in fds:
        with contextlib.suppress(OSError):
            st = os.stat(f"/proc/self/fd/{fd}")
            found.add((st.st_dev, st.st_ino))
    return found


def _park(conn: sqlite3.Connection) -> None:
    """Keep ``conn`` open until the process ends, never closed by Python.

    A daemon thread holds the references: at exit such a thread is abandoned,
    not unwound, so the connection is released by the operating system as after
    a kill, which SQLite is built to survive, instead of by ``sqlite3_close``,
    which would delete the -wal/-shm files now used by the new database."""
    threading.Thread(target=_hold, args=(conn,), name="callguard-parked-db", daemon=True).start()


def _hold(conn: sqlite3.Connection) -> None:
    threading.Event().wait()  # never set: ``conn`` stays referenced by this frame


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
