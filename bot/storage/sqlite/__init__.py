"""The SQLite backend: ``store`` (the ReportStore), ``queries`` (every SQL statement),
``schema`` (tables and migrations), ``thread`` (the connection's own thread),
``relocate`` (a database file deleted or replaced under the running bot)."""

from .store import DEFAULT_BUSY_TIMEOUT_MS, SQLiteStore, is_storage_error

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "SQLiteStore", "is_storage_error"]
