"""Shared helpers of the storage tests: a clock, reports, stores that always close."""

from __future__ import annotations

import sqlite3

import pytest

from callguard.storage import Report, SQLiteStore

T0 = 1715342400.0  # 2024-05-10T12:00:00Z
A = "+8613800138000"
B = "+8613900139000"
C = "+12025550123"


class Clock:
    """A controllable clock: tests move ``now`` by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_report(**overrides) -> Report:
    values = dict(
        text="您好，这里是公安局，您的账户涉嫌洗钱",
        lang="zh-Hans",
        numbers=(A,),
        scam=True,
        risk="high",
        category="impersonate_authority",
        rule="police_money_laundering",
        score=92,
        ruleset_version="abc123",
        chat_type="private",
    )
    values.update(overrides)
    return Report(**values)


def raw(path) -> sqlite3.Connection:
    """A plain sqlite3 connection for looking behind the store's back."""
    return sqlite3.connect(path, isolation_level=None, timeout=5)


def old_database(path, version: int, *rows: tuple[str, tuple]) -> None:
    """A database as schema ``version`` left it (its first ``version`` migration
    steps, no later ones), with ``rows`` = (SQL, parameters) written into it:
    what a migration test opens the current store on."""
    from callguard.storage.sqlite.schema import MIGRATIONS

    with raw(path) as conn:
        for step in MIGRATIONS[:version]:
            for statement in step:
                conn.execute(statement)
        for sql, params in rows:
            conn.execute(sql, params)
        conn.execute(f"PRAGMA user_version = {version}")
    conn.close()


async def on_connection(store: SQLiteStore, fn):
    """``fn(conn)`` on the store's own connection, on its database thread."""
    return await store._thread.call(fn)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "callguard.db"


@pytest.fixture
async def open_store():
    """SQLiteStore.open that closes at teardown whatever it opened."""
    opened: list[SQLiteStore] = []

    async def _open(path, **kwargs) -> SQLiteStore:
        s = await SQLiteStore.open(path, **kwargs)
        opened.append(s)
        return s

    yield _open
    for s in opened:
        await s.close()


@pytest.fixture
async def store(open_store, db_path, clock):
    return await open_store(db_path, clock=clock)


@pytest.fixture
async def locked_db(open_store, db_path, clock):
    """A store with a tiny busy_timeout plus a helper that locks the file from outside."""
    s = await open_store(db_path, clock=clock, busy_timeout_ms=20)

    class Lock:
        conn: sqlite3.Connection | None = None

        def hold(self) -> None:
            self.conn = raw(db_path)
            self.conn.execute("BEGIN EXCLUSIVE")

        def release(self) -> None:
            if self.conn is not None:
                self.conn.rollback()
                self.conn.close()
                self.conn = None

    lock = Lock()
    yield s, lock
    lock.release()
