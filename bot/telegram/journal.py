"""The intake journal: updates taken from Telegram but not yet answered, kept on disk.

Telegram forgets an update once the bot confirms it: the next ``getUpdates``
call with a higher offset, or a ``200`` to a webhook request. Confirming only
after an update is answered would need the offset held at the oldest
unanswered update, and ``getUpdates`` returns at most 100 updates from the
offset on: a backlog of 100 slow updates (ten accounts sending expensive
messages within their rate limit) would hide every newer update, everyone
else's included. So the bot confirms a batch at once, as PTB does, but first
writes the updates it accepted here; each is marked done once handled (its
report committed, its reply sent). After a crash, the next start answers what
the journal still holds. Telegram keeps redelivering what was fetched but not
yet journaled (it was never confirmed), and what was journaled *and* fetched
again is recognised by its ``update_id``.

What "on disk" means here: one ``write()`` per batch into the page cache,
which outlives the process (SIGKILL, OOM kill, a crash), not a power cut
(no fsync, as for the database: see docs/reliability.md).

Format: one JSON object per line, appended::

    {"u": <raw update>}   taken in
    {"d": <update_id>}    done: answered, refused, or given up
    {"r": <update_id>}    its handling started again after a restart (the
                          intake replays one update at a time, so at a crash
                          at most one replayed update is under way). An update
                          under way at three crashes in a row (the first run
                          and two replays) is given up (logged), so a poison
                          update cannot crash the bot in a loop, while one that
                          merely was in flight at a crash is still answered

Privacy: the file holds raw updates (user ids, names, texts) only while they
are being answered. It is emptied whenever nothing is in hand and Telegram
has confirmed everything done, which on a bot that is not flooded means
within a second of each answer, and it is created with mode 0600.

The journal is an aid, never a reason to stop answering: when the file cannot
be opened or written (disk full, read-only, a second process using it) the bot
logs that once and goes on without it, as PTB would.
"""

from __future__ import annotations

import collections
import errno
import fcntl
import json
import logging
import os
from pathlib import Path

__all__ = ["IntakeJournal", "journal_path"]

log = logging.getLogger(__name__)

MAX_REPLAYS = 2  # handling restarts after crashes before an update is given up
RECENT_IDS = 10_000  # update ids remembered after they are done, to recognise a redelivery or replay
COMPACT_BYTES = 8 << 20  # rewrite a busy journal (never idle long enough to empty) past this size


def journal_path(db_path: Path) -> Path:
    """Where the journal of a bot with database ``db_path`` lives: beside it."""
    return db_path.with_name(db_path.name + "-intake")


def _dumps(obj: object) -> str:
    # ensure_ascii: a lone surrogate in a text (Telegram's JSON may carry \ud800) stays an escape
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


class IntakeJournal:
    """Which updates are in hand, which are done; on disk when it can be.

    ``confirm_on_take``: webhook mode, where Telegram is answered ``200`` as soon as an
    update is journaled, so nothing done needs remembering for a redelivery; polling
    confirms with the next ``getUpdates`` (:meth:`confirmed`)."""

    def __init__(self, path: Path | None, *, confirm_on_take: bool = False):
        self.path = path
        self.confirm_on_take = confirm_on_take
        self._fd: int | None = None
        self._size = 0
        self._in_hand: dict[int, dict] = {}  # update_id -> raw update (what a compaction rewrites)
        self._unconfirmed: set[int] = set()  # done, but Telegram may still redeliver them
        self._recent: collections.deque[int] = collections.deque(maxlen=RECENT_IDS)
        self._recent_set: set[int] = set()
        self._confirmed_below = 0

    # ------------------------------------------------------------------ start and stop

    def open(self) -> list[dict]:
        """Open (or create) the file; return the updates a previous run took in and never
        finished, to be answered now (each at most once: see the module docstring)."""
        if self.path is None:
            return []
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            log.warning("intake journal %s cannot be opened (%s): answering without it; updates in flight "
                        "when the process dies are not answered", self.path, exc.strerror or exc)
            return []
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            log.warning("intake journal %s is in use by another CallGuard process: this one answers without "
                        "it; updates in flight when it dies are not answered", self.path)
            return []
        self._fd = fd
        replay = self._recover()
        return replay

    def close(self) -> None:
        """Release the file; empty it first when nothing is left to remember."""
        if self._fd is not None:
            self._maybe_empty()
            os.close(self._fd)
            self._fd = None

    def _recover(self) -> list[dict]:
        with open(self._fd, "rb", closefd=False) as fh:
            fh.seek(0)
            lines = fh.read().splitlines()
        taken: dict[int, dict] = {}
        done: set[int] = set()
        replayed: collections.Counter[int] = collections.Counter()
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:  # the last line of a write cut short (disk full): ignore it
                continue
            if not isinstance(record, dict):
                continue
            if isinstance(record.get("u"), dict) and isinstance(record["u"].get("update_id"), int):
                taken[record["u"]["update_id"]] = record["u"]
            elif isinstance(record.get("d"), int):
                done.add(record["d"])
            elif isinstance(record.get("r"), int):
                replayed[record["r"]] += 1
        open_ids = sorted(set(taken) - done)
        given_up = [uid for uid in open_ids if replayed[uid] >= MAX_REPLAYS]
        if given_up:
            log.error("giving up %d update(s) whose handling was under way at %d crashes in a row: %s",
                      len(given_up), MAX_REPLAYS + 1, given_up[:20])
        replay = [taken[uid] for uid in open_ids if replayed[uid] < MAX_REPLAYS]
        # Start afresh: what is still open, and what Telegram may redeliver (it does not
        # know they are done: they were never confirmed, as far as this journal knows).
        for uid in sorted(done | set(given_up)):
            self._remember(uid)
            self._unconfirmed.add(uid)
        self._rewrite(replay, extra=[{"r": raw["update_id"]} for raw in replay
                                     for _ in range(replayed[raw["update_id"]])])
        for raw in replay:
            self._in_hand[raw["update_id"]] = raw
        if replay:
            log.info("answering %d update(s) taken in before the last stop and never answered", len(replay))
        return replay

    # ------------------------------------------------------------------ the running bot

    def seen(self, update_id: int) -> bool:
        """Whether this update was taken in already (in hand, or done recently)."""
        return update_id in self._in_hand or update_id in self._recent_set

    @property
    def in_hand(self) -> int:
        return len(self._in_hand)

    def take(self, accepted: list[dict], refused: list[int] = ()) -> None:
        """Record a batch: ``accepted`` raw updates are in hand until :meth:`done`;
        ``refused`` ids (dropped by the rate limit) are done at once. One write."""
        lines = []
        for raw in accepted:
            self._in_hand[raw["update_id"]] = raw
            lines.append(_dumps({"u": raw}))
        for uid in refused:
            self._finish(uid)
            lines.append(_dumps({"d": uid}))
        self._append(lines)

    def replaying(self, update_id: int) -> None:
        """The handling of an update replayed after a restart starts now (see the format)."""
        self._append([_dumps({"r": update_id})])

    def done(self, update_id: int) -> None:
        """The update is handled (answered, its report committed): never answer it again."""
        if self._in_hand.pop(update_id, None) is None:
            return
        self._finish(update_id)
        if not self._maybe_empty():
            self._append([_dumps({"d": update_id})])

    def confirmed(self, below: int) -> None:
        """Telegram was told (``getUpdates`` offset) that every update below ``below`` is
        handled: it will not send them again, so they need not be remembered."""
        self._confirmed_below = max(self._confirmed_below, below)
        self._unconfirmed = {uid for uid in self._unconfirmed if uid >= self._confirmed_below}
        self._maybe_empty()

    def _finish(self, update_id: int) -> None:
        self._remember(update_id)
        if not self.confirm_on_take and update_id >= self._confirmed_below:
            self._unconfirmed.add(update_id)

    def _remember(self, update_id: int) -> None:
        if update_id in self._recent_set:
            return
        if len(self._recent) == self._recent.maxlen:
            self._recent_set.discard(self._recent[0])
        self._recent.append(update_id)
        self._recent_set.add(update_id)

    # ------------------------------------------------------------------ the file

    def _append(self, lines: list[str]) -> None:
        if self._fd is None or not lines:
            return
        data = ("\n".join(lines) + "\n").encode()
        try:
            written = os.write(self._fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, "short write")
        except OSError as exc:
            self._disable(exc)
            return
        self._size += written
        if self._size > COMPACT_BYTES:
            self._rewrite(list(self._in_hand.values()))

    def _maybe_empty(self) -> bool:
        """Empty the file when it holds nothing worth keeping; True if it did."""
        if self._fd is None or self._in_hand or self._unconfirmed or self._size == 0:
            return False
        try:
            os.ftruncate(self._fd, 0)
        except OSError as exc:
            self._disable(exc)
            return False
        self._size = 0
        return True

    def _rewrite(self, in_hand: list[dict], extra: list[dict] = ()) -> None:
        """Replace the file's content with what is still needed, atomically (a new file
        renamed over it, so a crash meanwhile leaves the old or the new one whole)."""
        if self._fd is None:
            return
        lines = [_dumps({"u": raw}) for raw in in_hand]
        lines += [_dumps({"d": uid}) for uid in sorted(self._unconfirmed)]
        lines += [_dumps(record) for record in extra]
        data = ("\n".join(lines) + "\n").encode() if lines else b""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.replace(tmp, self.path)
            except BaseException:
                os.close(fd)
                raise
        except OSError as exc:
            self._disable(exc)
            return
        os.close(self._fd)
        self._fd = fd
        self._size = len(data)

    def _disable(self, exc: OSError) -> None:
        """Go on without the file (logged once), leaving it empty if that is still possible:
        a stale journal would make the next start answer updates answered since."""
        log.error("intake journal %s cannot be written (%s): answering without it from now on; updates in "
                  "flight when the process dies are not answered", self.path, exc.strerror or exc)
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass
            os.close(fd)
