"""Everything CallGuard remembers, behind one interface.

* ``models``  the values: Report, Preferences (/lang, /region), Stats, day windows, percentages
* ``backend`` what the application needs from a database (ReportStore, StorageError)
* ``keys``    reporter pseudonyms and where their secret lives (never in the database)
* ``writer``  ReportWriter: reports wait in memory while the storage is down
* ``export``  the CSV for staff, phone numbers masked unless asked for
* ``sqlite/`` the SQLite backend (the only one so far; PostgreSQL would sit beside it)
"""

from .backend import ReportStore, StorageError
from .export import EXPORT_COLUMNS, mask_row, write_csv
from .keys import ReporterKeys, default_key_file
from .models import DAY, NO_CATEGORY, NO_RULE, WARNINGS, Preferences, Report, Stats, percentages, ratio_rows
from .sqlite import SQLiteStore
from .writer import ReportWriter

__all__ = [
    "DAY", "EXPORT_COLUMNS", "NO_CATEGORY", "NO_RULE", "WARNINGS", "Preferences", "Report", "ReportStore", "ReportWriter",
    "ReporterKeys", "SQLiteStore", "Stats", "StorageError", "default_key_file", "mask_row", "percentages", "ratio_rows",
    "write_csv",
]
