"""Reports as CSV for staff: the columns, phone numbers masked unless asked for, formula-safe cells.

Shared by every backend (they return :meth:`ReportStore.export_rows`) and by the
bot's ``/export`` and the ``callguard export`` command, so both give the same
file.
"""

from __future__ import annotations

import csv
from typing import Iterable, TextIO

from ..numbers import mask_number, mask_numbers_in_text

__all__ = ["EXPORT_COLUMNS", "mask_row", "write_csv"]

EXPORT_COLUMNS = (
    "id", "created_at", "category", "rule", "risk", "score", "scam", "numbers",
    "text", "lang", "chat_type", "source", "money_sent", "feedback",
    "feedback_comment", "ruleset_version", "from_image",
    # Added later: new columns go at the end, so a consumer reading columns by position keeps working.
    "warns_of", "warns_of_category",
)
FREE_TEXT = ("text", "feedback_comment")  # written by users: may quote a number, may start with "="


def mask_row(row: dict, region: str) -> dict:
    """``row`` with its phone numbers masked as /stats shows them.

    The ``numbers`` column becomes masked E.164 tokens (``+86138******00``,
    still one per number); numbers quoted in the free text are masked too,
    recognised as the bot recognises them (``region`` for numbers written
    without a country code)."""
    masked = dict(row)
    if row.get("numbers"):
        masked["numbers"] = " ".join(mask_number(n, sep="") for n in row["numbers"].split())
    for column in FREE_TEXT:
        if row.get(column):
            masked[column] = mask_numbers_in_text(row[column], region)
    return masked


def write_csv(rows: Iterable[dict], out: TextIO) -> int:
    """Write the rows as CSV (header + rows); returns the row count.

    Open ``out`` with ``newline=""``. Booleans become ``true``/``false``,
    missing values an empty cell. Free text written by users (``text``,
    ``feedback_comment``) that starts with ``= + - @`` gets a leading
    apostrophe so a spreadsheet does not run it as a formula.
    """
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    count = 0
    for row in rows:
        writer.writerow({k: _csv_cell(k, v) for k, v in row.items()})
        count += 1
    return count


def _csv_cell(column: str, value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if column in FREE_TEXT and isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
